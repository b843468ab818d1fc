/**
 * A token bucket that makes a vendor adapter's callers wait for their turn instead of failing.
 *
 * Neither e签宝 nor CFCA publishes a rate limit for its API, so each client keeps its own pace: one bucket per client
 * instance, shared by every call of that instance, so that a burst of work (many contracts created at once) reaches
 * the vendor spread out rather than answered with rate-limit errors. Time comes from the Clock and Scheduler ports,
 * so tests drive it with a manual clock. Adapters for other vendors use it the same way.
 */
import { SealflowError, ValidationError } from '../errors.js';
import { type Clock, type Scheduler, systemClock, systemScheduler } from '../ports/clock.js';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Calls per second on average; must be positive. */
  qps: number;
  /** How many calls may go at once after a quiet period. Default 1: calls are evenly spaced. */
  burst?: number;
  /** Where "now" comes from; default the system clock. */
  clock?: Clock;
  /** What waits run on; default `setTimeout`. A manual clock is both, for tests. */
  scheduler?: Scheduler;
  /** The vendor whose calls wait here, named in the error of an aborted wait (`{ id: 'esign', name: 'e签宝' }`). */
  vendor?: { id: string; name: string };
}

/** Hands out turns at a steady rate; waits, never refuses. */
export interface RateLimiter {
  /**
   * Resolves when the caller may send its request. Rejects only when `signal` aborts first (with `VENDOR_ABORTED`);
   * the turn it had reserved is then given back if nobody queued after it.
   */
  acquire(signal?: AbortSignal): Promise<void>;
}

/**
 * A token bucket (in its "generic cell rate" form: each caller reserves the next free slot, so turns are first come,
 * first served). `qps` 5 with `burst` 1 lets one call through every 200 ms.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { qps } = options;
  const burst = options.burst ?? 1;
  if (!(Number.isFinite(qps) && qps > 0)) {
    throw new ValidationError(`qps must be a positive number of calls per second, got ${String(qps)}.`);
  }
  if (!(Number.isInteger(burst) && burst >= 1)) {
    throw new ValidationError(`burst must be a whole number of calls of at least 1, got ${String(burst)}.`);
  }
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const interval = 1000 / qps;
  const tolerance = (burst - 1) * interval;
  // The time at which the bucket would be full again if no one else came ("theoretical arrival time").
  let tat = Number.NEGATIVE_INFINITY;
  const aborted = (reason: unknown) =>
    new SealflowError(
      'VENDOR_ABORTED',
      `The ${options.vendor?.name ?? 'vendor'} call was aborted by the caller while waiting for its turn.`,
      { cause: reason, retryable: false, details: options.vendor ? { vendor: options.vendor.id } : {} },
    );

  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(aborted(signal.reason));
      const now = clock.now();
      const start = Math.max(tat, now);
      const allowedAt = start - tolerance;
      tat = start + interval;
      const reserved = tat;
      const wait = allowedAt - now;
      if (wait <= 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          cancel();
          // Give the slot back unless a later caller has already queued behind it.
          if (tat === reserved) tat -= interval;
          reject(aborted(signal?.reason));
        };
        const cancel = scheduler.schedule(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
