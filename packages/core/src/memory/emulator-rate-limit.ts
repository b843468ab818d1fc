/**
 * The request limit a vendor emulator enforces on its callers: what a load test needs to see whether a client keeps
 * to a vendor's QPS. A token bucket per caller (an app, a platform), filled by the emulator's clock, so a test with a
 * manual clock decides exactly when a request is too early. Unlike the SDK's own `createRateLimiter`, which makes a
 * client wait, this one refuses: it stands on the vendor's side of the wire.
 */

/** A QPS limit per caller, as a vendor's gateway enforces it. */
export interface GatewayRateLimit {
  /** Requests per second each caller may make on average; must be positive. */
  qps: number;
  /**
   * How many requests a caller may make at once after a quiet period (the bucket's size). Default `qps`: one
   * second's worth, so a client that spaces its calls evenly at `qps` is never refused.
   */
  burst?: number;
}

/** One bucket per caller; refused requests take no token, so a client that backs off is not punished twice. */
export class GatewayRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  /**
   * @param limit - the limit; a `qps` that is not positive or a `burst` under 1 is refused with a RangeError.
   * @param now - the emulator's clock, in milliseconds.
   * @param unit - what the vendor calls one request (`request`, `call`), for the RangeError's wording.
   */
  constructor(
    private readonly limit: GatewayRateLimit,
    private readonly now: () => number,
    unit = 'request',
  ) {
    if (!(Number.isFinite(limit.qps) && limit.qps > 0)) {
      throw new RangeError(`rateLimit.qps must be a positive number of ${unit}s per second, got ${String(limit.qps)}.`);
    }
    this.burst = limit.burst ?? limit.qps;
    if (!(Number.isFinite(this.burst) && this.burst >= 1)) {
      throw new RangeError(`rateLimit.burst must be at least 1 ${unit}, got ${String(limit.burst)}.`);
    }
  }

  /** Takes a token for `caller`'s request; false when the bucket is empty (the request is to be refused). */
  take(caller: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(caller) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.limit.qps) / 1000);
    bucket.at = now;
    this.buckets.set(caller, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

/**
 * What an emulator let through and refused. Plain counters the emulator's handlers bump, so that what counts as a
 * request (an API call, a download) stays the vendor's decision.
 */
export class TrafficCounter {
  /** Requests that reached the limit (let through or refused). */
  requests = 0;
  /** Of those, the ones refused by the rate limit. */
  rateLimited = 0;
  /** Counts again from zero. */
  reset(): void {
    this.requests = 0;
    this.rateLimited = 0;
  }
}
