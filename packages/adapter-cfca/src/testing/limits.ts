/**
 * The FEP's request limit and its distance from the caller: what a load test needs to see whether a client keeps to
 * a vendor's QPS. A token bucket per platform, filled by the emulator's clock, so a test with a manual clock decides
 * exactly when a request is too early.
 */

/** A QPS limit per platform (platId), as 安心签 applies the one agreed for a platform. */
export interface CfcaRateLimit {
  /** Calls per second each platform may make on average; must be positive. */
  qps: number;
  /**
   * How many calls a platform may make at once after a quiet period (the bucket's size). Default `qps`: one second's
   * worth, so a client that spaces its calls evenly at `qps` is never refused.
   */
  burst?: number;
}

/** What the FEP let through and refused, counted over the emulator's life (or since `reset`). */
export interface CfcaTraffic {
  /** Transactions and downloads of a registered platform. */
  requests: number;
  /** Of those, the ones refused by the rate limit. */
  rateLimited: number;
  /** Counts again from zero. */
  reset(): void;
}

/** One bucket per platform; refused calls take no token. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(
    private readonly limit: CfcaRateLimit,
    private readonly now: () => number,
  ) {
    if (!(Number.isFinite(limit.qps) && limit.qps > 0)) {
      throw new RangeError(`rateLimit.qps must be a positive number of calls per second, got ${String(limit.qps)}.`);
    }
    this.burst = limit.burst ?? limit.qps;
    if (!(Number.isFinite(this.burst) && this.burst >= 1)) {
      throw new RangeError(`rateLimit.burst must be at least 1 call, got ${String(limit.burst)}.`);
    }
  }

  /** Takes a token for `platId`'s call; false when the bucket is empty (the call is to be refused). */
  take(platId: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(platId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.limit.qps) / 1000);
    bucket.at = now;
    this.buckets.set(platId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export class TrafficCounter implements CfcaTraffic {
  requests = 0;
  rateLimited = 0;
  reset(): void {
    this.requests = 0;
    this.rateLimited = 0;
  }
}
