/**
 * The gateway's request limit and its distance from the caller: what a load test needs to see whether a client keeps
 * to a vendor's QPS. A token bucket per app, filled by the emulator's clock, so a test with a manual clock decides
 * exactly when a request is too early.
 */

/** A QPS limit per app, as a gateway enforces it. */
export interface EsignRateLimit {
  /** Requests per second each app may make on average; must be positive. */
  qps: number;
  /**
   * How many requests an app may make at once after a quiet period (the bucket's size). Default `qps`: one second's
   * worth, so a client that spaces its calls evenly at `qps` is never refused, whatever the network does to single
   * requests.
   */
  burst?: number;
}

/** What the gateway let through and refused, counted over the emulator's life (or since `reset`). */
export interface EsignTraffic {
  /** API calls that passed the signature check (uploads and downloads to the storage URLs are not API calls). */
  requests: number;
  /** Of those, the ones refused with HTTP 429 by the rate limit. */
  rateLimited: number;
  /** Counts again from zero. */
  reset(): void;
}

/** One bucket per app; refused requests take no token. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(
    private readonly limit: EsignRateLimit,
    private readonly now: () => number,
  ) {
    if (!(Number.isFinite(limit.qps) && limit.qps > 0)) {
      throw new RangeError(`rateLimit.qps must be a positive number of requests per second, got ${String(limit.qps)}.`);
    }
    this.burst = limit.burst ?? limit.qps;
    if (!(Number.isFinite(this.burst) && this.burst >= 1)) {
      throw new RangeError(`rateLimit.burst must be at least 1 request, got ${String(limit.burst)}.`);
    }
  }

  /** Takes a token for `appId`'s request; false when the bucket is empty (the request is to be refused). */
  take(appId: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(appId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.limit.qps) / 1000);
    bucket.at = now;
    this.buckets.set(appId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export class TrafficCounter implements EsignTraffic {
  requests = 0;
  rateLimited = 0;
  reset(): void {
    this.requests = 0;
    this.rateLimited = 0;
  }
}
