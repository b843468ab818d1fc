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
