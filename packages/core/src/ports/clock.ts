/**
 * Time and scheduling as ports.
 *
 * Nothing in core reads `Date.now()` or calls `setTimeout` directly: signing deadlines, 24-hour offer windows and
 * retry backoff must be testable without waiting, and a host may want its own time source. Tests use
 * `createManualClock()` from `@sealflow/core/memory`, which implements both ports and advances only when told.
 */

/** Wall-clock time in milliseconds since the Unix epoch. */
export interface Clock {
  /** Must be non-decreasing across calls within one process. */
  now(): number;
}

/** A cancellable one-shot callback; what `setTimeout` is to the real world. */
export interface Scheduler {
  /**
   * Run `task` once, no earlier than `delayMs` from now (by this scheduler's own clock).
   * Returns a function that cancels the task if it has not started; calling it twice is harmless.
   * Tasks scheduled for the same instant run in the order they were scheduled.
   */
  schedule(task: () => void, delayMs: number): () => void;
}

/** The {@link Clock} of the machine: `Date.now()`. */
export const systemClock: Clock = { now: () => Date.now() };

/** The {@link Scheduler} of the machine: `setTimeout`. */
export const systemScheduler: Scheduler = {
  schedule(task, delayMs) {
    const handle = setTimeout(task, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
};

/** How {@link withinTimeLimit} bounds a piece of work. */
export interface TimeLimit {
  /** How long the work may take, in ms. */
  timeoutMs: number;
  /** What the timeout runs on. */
  scheduler: Scheduler;
  /** The error the work fails with when its time is up; its signal is aborted with the same error. */
  timeoutError: () => Error;
  /** The caller's signal: when it aborts, the work is given up at once, failing with `abortError(reason)`. */
  signal?: AbortSignal;
  /** Default: the abort's own reason. */
  abortError?: (reason: unknown) => Error;
}

/**
 * Runs `work` with a signal that is aborted at the timeout or when the caller's signal aborts, and settles at that
 * moment even if the work ignores its signal: a promise cannot be cancelled, so work that finishes later is abandoned
 * and its outcome dropped. The timeout's error is raised before the signal is aborted, so the work's reaction to the
 * abort (an HTTP client's "canceled", say) never replaces it.
 */
export async function withinTimeLimit<T>(limit: TimeLimit, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal: caller, scheduler, timeoutMs } = limit;
  const abortError = limit.abortError ?? ((reason: unknown) => reason as Error);
  if (caller?.aborted) throw abortError(caller.reason);
  const own = new AbortController();
  const signal = caller ? AbortSignal.any([caller, own.signal]) : own.signal;
  let stopWaiting = () => {};
  const givenUp = new Promise<never>((_, reject) => {
    const onCallerAbort = () => reject(abortError(caller?.reason));
    caller?.addEventListener('abort', onCallerAbort, { once: true });
    const cancelTimeout = scheduler.schedule(() => {
      const error = limit.timeoutError();
      reject(error);
      own.abort(error);
    }, timeoutMs);
    stopWaiting = () => {
      cancelTimeout();
      caller?.removeEventListener('abort', onCallerAbort);
    };
  });
  try {
    return await Promise.race([(async () => work(signal))(), givenUp]);
  } finally {
    stopWaiting();
  }
}
