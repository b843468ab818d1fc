/**
 * The FEP's request limit and its distance from the caller: what a load test needs to see whether a client keeps to
 * a vendor's QPS. A token bucket per platform, filled by the emulator's clock, so a test with a manual clock decides
 * exactly when a request is too early. The bucket is core's `GatewayRateLimiter`, the same in every emulator; which
 * calls count, and how a refusal looks, is the handlers' business.
 */
import { GatewayRateLimiter, TrafficCounter as CountingTraffic } from '@sealflow/core/memory';

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

/** One bucket per platform, keyed by its platId; refused calls take no token. */
export class RateLimiter extends GatewayRateLimiter {
  constructor(limit: CfcaRateLimit, now: () => number) {
    super(limit, now, 'call');
  }
}

export class TrafficCounter extends CountingTraffic implements CfcaTraffic {}
