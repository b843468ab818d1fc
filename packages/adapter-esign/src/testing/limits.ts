/**
 * The gateway's request limit and its distance from the caller: what a load test needs to see whether a client keeps
 * to a vendor's QPS. A token bucket per app, filled by the emulator's clock, so a test with a manual clock decides
 * exactly when a request is too early. The bucket is core's `GatewayRateLimiter`, the same in every emulator; which
 * calls count, and how a refusal looks, is the handlers' business.
 */
import { GatewayRateLimiter, TrafficCounter as CountingTraffic } from '@sealflow/core/memory';

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

/** One bucket per app, keyed by its appId; refused requests take no token. */
export class RateLimiter extends GatewayRateLimiter {
  constructor(limit: EsignRateLimit, now: () => number) {
    super(limit, now, 'request');
  }
}

export class TrafficCounter extends CountingTraffic implements EsignTraffic {}
