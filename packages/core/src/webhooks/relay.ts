import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError, toSealflowError } from '../errors.js';
import { type Scheduler, systemScheduler } from '../ports/clock.js';
import type { NewOutboxEntry, OutboxEntry } from '../ports/persistence.js';
import { maskText } from '../privacy.js';
import type { DomainEvent, Runtime } from '../runtime/runtime.js';
import { retryDelay } from '../runtime/worker.js';
import type { RetryPolicy } from '../runtime/workflow-definition.js';
import { type AttemptOutcome, attemptDelivery } from './delivery.js';
import { type LoopOptions, deliveryLoop } from './loop.js';
import { type WebhookSubscriber, resolveSubscribers } from './subscribers.js';

/**
 * The webhook relay: pushes the runtime's domain events to HTTP endpoints, signed, at least once.
 *
 * It rides on the runtime's own durable machinery. Its `runtime.onEvent` handler writes one outbox entry of kind
 * `webhook` per (event, subscriber) — id `webhook/<subscriber>/<event id>`, and `enqueue` keeps the first entry
 * of an id — so an event the runtime redelivers after a crash records nothing twice, and the event is marked
 * delivered only after its webhook deliveries are stored. The relay then claims those entries under a lease like a
 * worker claims effects: a relay that dies mid-request leaves its claim to expire and another relay (or the same
 * one after a restart) sends it again, with the same event id, for the receiver to deduplicate.
 *
 * Each subscriber's deliveries are separate entries, so a slow or failing endpoint delays and dead-letters only its
 * own. Outcomes: 2xx delivered; 5xx, 408, 429, timeouts and network errors retried with capped exponential
 * backoff and jitter; any other 4xx (and a redirect) dead-lettered at once; retries exhausted → dead-lettered.
 * A person lists dead letters with their last error and replays them.
 */

export interface WebhookRelayOptions {
  /** Supplies the persistence, clock and logger, and the domain events (`onEvent`). */
  runtime: Runtime;
  subscribers: readonly WebhookSubscriber[];
  /** Backoff between attempts; default {@link DEFAULT_WEBHOOK_RETRY}. */
  retry?: Partial<RetryPolicy>;
  /**
   * How long a claimed delivery belongs to this relay before another may send it (default 60 s). Longer than every
   * subscriber's `timeoutMs`, or a second relay re-sends deliveries the first is still waiting on.
   */
  leaseMs?: number;
  /** Times request timeouts and the background loop (default: the system's timers). */
  scheduler?: Scheduler;
  /** The HTTP client (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Random source for the jitter; tests pass a fixed one. */
  random?: () => number;
}

/**
 * 12 attempts: waits of 10 s, 20 s, 40 s … doubling to a 1-hour cap, each shortened by up to half at random, so a
 * delivery gives up 1.7 to 3.4 hours after its first attempt — enough to ride out a deploy or a short outage.
 */
export const DEFAULT_WEBHOOK_RETRY: RetryPolicy = {
  maxAttempts: 12,
  baseDelayMs: 10_000,
  maxDelayMs: 3_600_000,
  jitter: 0.5,
};

/** A delivery that gave up and waits for a person. */
export interface WebhookDeadLetter {
  /** Pass it to `replay`. */
  id: string;
  subscriberId: string;
  eventId: string;
  eventType: string;
  workflowId: string;
  /** Attempts made before it was dead-lettered. */
  attempts: number;
  /** Why the last attempt failed: a status, a timeout, a network error; never a body. */
  lastError: string | null;
  /** When the event was recorded for delivery, and when the delivery was given up, epoch ms. */
  createdAt: number;
  deadAt: number;
}

/** What one relay pass did: deliveries sent, retried and dead-lettered. */
export interface WebhookPass {
  delivered: number;
  retried: number;
  dead: number;
}

/**
 * The webhook relay: sends recorded domain events to subscribers, in the background or one pass at a time, with dead
 * letters.
 */
export interface WebhookRelay {
  /** Send what is due once (up to `limit` deliveries, default 16, in parallel); for tests and cron hosts. */
  runOnce(options?: { limit?: number }): Promise<WebhookPass>;
  /**
   * Keep sending in the background until `stop()`: up to `concurrency` deliveries in flight (default 16), a new one
   * claimed as soon as one finishes; the store is polled every `pollMs` (default 1 000) while there is nothing due.
   */
  start(options?: LoopOptions): void;
  /** Stop the background loop and wait for the deliveries in flight. Events keep being recorded for delivery meanwhile. */
  stop(): Promise<void>;
  /** Dead-lettered deliveries, oldest first; page with `afterId`. */
  deadLetters(filter?: { workflowId?: string; afterId?: string; limit?: number }): Promise<WebhookDeadLetter[]>;
  /** Queue a dead-lettered delivery again, due now, with its attempts reset. */
  replay(id: string): Promise<void>;
  /** Stop recording new events for delivery (and the loop). Recorded deliveries stay in the store. */
  close(): Promise<void>;
}

/** What a webhook outbox entry stores: the subscriber's id, not its URL or secret, and the event to send. */
interface DeliveryPayload {
  subscriberId: string;
  event: DomainEvent;
}

/**
 * Create a relay that records domain events for each subscriber in the outbox and POSTs them, signed with HMAC-SHA256,
 * retrying until delivered or dead-lettered.
 */
export function createWebhookRelay(options: WebhookRelayOptions): WebhookRelay {
  const { runtime } = options;
  const { persistence, clock, logger } = runtime;
  const leaseMs = options.leaseMs ?? 60_000;
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new ValidationError(`webhooks: leaseMs must be a positive number of milliseconds, got ${String(leaseMs)}.`);
  }
  const subscribers = resolveSubscribers(options.subscribers, leaseMs);
  const retry = checkRetry({ ...DEFAULT_WEBHOOK_RETRY, ...options.retry });
  const scheduler = options.scheduler ?? systemScheduler;
  const random = options.random ?? Math.random;
  const send = options.fetch ?? globalThis.fetch;

  /** Runs inside the runtime's event delivery: storing the deliveries is what acknowledges the event. */
  async function record(event: DomainEvent): Promise<void> {
    const now = clock.now();
    const entries: NewOutboxEntry[] = [];
    for (const subscriber of subscribers.values()) {
      if (!subscriber.accepts(event)) continue;
      const payload: DeliveryPayload = { subscriberId: subscriber.id, event };
      entries.push({
        id: `webhook/${subscriber.id}/${event.id}`,
        workflowId: event.workflowId,
        kind: 'webhook',
        type: event.type,
        payload,
        availableAt: now,
        createdAt: now,
      });
    }
    if (entries.length === 0) return;
    await persistence.transaction((tx) => tx.outbox.enqueue(entries));
    loop.wake();
  }
  const unsubscribe = runtime.onEvent(record);

  async function deliver(entry: OutboxEntry, claimToken: string, pass: WebhookPass): Promise<void> {
    const { subscriberId, event } = entry.payload as DeliveryPayload;
    const subscriber = subscribers.get(subscriberId);
    const outcome: AttemptOutcome = subscriber
      ? await attemptDelivery({ subscriber, event, attempt: entry.attempts, now: clock.now(), scheduler, fetch: send })
      : {
          kind: 'reject',
          status: 0,
          error: `subscriber "${subscriberId}" is no longer configured; add it back to the relay, then replay`,
        };
    await settle(entry, claimToken, outcome, subscriberId, pass);
  }

  async function settle(
    entry: OutboxEntry,
    claimToken: string,
    outcome: AttemptOutcome,
    subscriberId: string,
    pass: WebhookPass,
  ): Promise<void> {
    const now = clock.now();
    const facts = {
      deliveryId: entry.id,
      subscriberId,
      eventType: entry.type,
      attempt: entry.attempts,
    };
    if (outcome.kind === 'delivered') {
      const done = await persistence.transaction((tx) => tx.outbox.complete(entry.id, claimToken, now));
      if (done) pass.delivered++;
      logger.info('webhook_delivered', { ...facts, status: outcome.status });
      return;
    }
    const exhausted = outcome.kind === 'retry' && entry.attempts >= retry.maxAttempts;
    const dead = outcome.kind === 'reject' || exhausted;
    const error = maskText(
      exhausted
        ? `${outcome.error}; gave up after ${entry.attempts} attempts, replay it once the receiver is back`
        : outcome.error,
    );
    const backoff = retryDelay(retry, entry.attempts, random);
    const delay =
      outcome.kind === 'retry' && outcome.retryAfterMs !== undefined
        ? Math.max(backoff, Math.min(outcome.retryAfterMs, retry.maxDelayMs))
        : backoff;
    const availableAt = dead ? now : now + delay;
    const released = await persistence.transaction((tx) =>
      tx.outbox.release(entry.id, claimToken, { status: dead ? 'dead' : 'pending', availableAt, error, now }),
    );
    // The lease ran out and another relay holds the delivery now: its attempt decides.
    if (!released) return;
    if (dead) {
      pass.dead++;
      logger.error('webhook_dead_lettered', { ...facts, error });
    } else {
      pass.retried++;
      logger.warn('webhook_retry_scheduled', { ...facts, error, retryAt: availableAt });
    }
  }

  async function claim(limit: number): Promise<{ claimToken: string; claimed: OutboxEntry[] }> {
    const claimToken = randomUUID();
    const claimed = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'webhook', claimToken, now: clock.now(), leaseMs, limit }),
    );
    return { claimToken, claimed };
  }

  async function runOnce(runOptions: { limit?: number } = {}): Promise<WebhookPass> {
    const pass: WebhookPass = { delivered: 0, retried: 0, dead: 0 };
    const { claimToken, claimed } = await claim(runOptions.limit ?? 16);
    // Every attempt runs to its end even if another one's bookkeeping fails; a delivery left unsettled is sent
    // again when its lease runs out.
    const results = await Promise.allSettled(claimed.map((entry) => deliver(entry, claimToken, pass)));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return pass;
  }

  const loop = deliveryLoop(
    {
      claim,
      deliver: (entry, claimToken) => deliver(entry, claimToken, { delivered: 0, retried: 0, dead: 0 }),
      onError: (error) =>
        logger.error('webhook_relay_failed', { error: toSealflowError(error, 'webhook relay').toJSON() }),
    },
    scheduler,
  );

  return {
    runOnce,
    start: loop.start,
    stop: loop.stop,
    async deadLetters(filter = {}) {
      const entries = await persistence.transaction((tx) =>
        tx.outbox.list({ ...filter, kind: 'webhook', status: 'dead' }),
      );
      return entries.map(deadLetterOf);
    },
    async replay(id) {
      const requeued = await persistence.transaction(async (tx) => {
        const entry = await tx.outbox.get(id);
        if (entry?.kind !== 'webhook') {
          throw new NotFoundError(`There is no webhook delivery ${id}. List relay.deadLetters() to find ids.`);
        }
        if (entry.status !== 'dead') {
          throw new ValidationError(
            `Webhook delivery ${id} is ${entry.status}, not dead; only dead-lettered deliveries can be replayed.`,
          );
        }
        return tx.outbox.requeue(id, clock.now());
      });
      if (!requeued) {
        throw new ConflictError(
          'VERSION_CONFLICT',
          `Webhook delivery ${id} changed while it was being replayed; list it again.`,
        );
      }
      logger.info('webhook_replayed', { deliveryId: id });
      loop.wake();
    },
    async close() {
      unsubscribe();
      await loop.stop();
    },
  };
}

function deadLetterOf(entry: OutboxEntry): WebhookDeadLetter {
  const { subscriberId, event } = entry.payload as DeliveryPayload;
  return {
    id: entry.id,
    subscriberId,
    eventId: event.id,
    eventType: entry.type,
    workflowId: entry.workflowId,
    attempts: entry.attempts,
    lastError: entry.lastError,
    createdAt: entry.createdAt,
    deadAt: entry.updatedAt,
  };
}

function checkRetry(policy: RetryPolicy): RetryPolicy {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1)
    problems.push('maxAttempts must be an integer ≥ 1');
  if (!(policy.baseDelayMs >= 0)) problems.push('baseDelayMs must be ≥ 0');
  if (!(policy.maxDelayMs >= policy.baseDelayMs)) problems.push('maxDelayMs must be ≥ baseDelayMs');
  if (!(policy.jitter >= 0 && policy.jitter <= 1)) problems.push('jitter must be between 0 and 1');
  if (problems.length > 0) throw new ValidationError(`webhooks: invalid retry policy: ${problems.join('; ')}.`);
  return policy;
}
