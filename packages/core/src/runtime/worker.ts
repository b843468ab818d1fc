import { randomUUID } from 'node:crypto';
import type { EventObject } from 'xstate';
import { toSealflowError } from '../errors.js';
import type { Clock, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { OutboxEntry, Persistence, TimerRow } from '../ports/persistence.js';
import { maskText } from '../privacy.js';
import type { DomainEventHandler, InternalDelivery, SettleHooks, SettleReport } from './runtime.js';
import type { RetryPolicy, SerializedError, WorkflowDefinition } from './workflow-definition.js';

interface EffectOutcome {
  entry: OutboxEntry;
  /** Null when the effect succeeded. */
  failure: SerializedError | null;
  /** What to tell the machine; null for retryable failures and for results the definition chose not to report. */
  event: EventObject | null;
}

/**
 * Workers drain what transitions left behind: due timers, claimable effects and undelivered domain events.
 * Every claim is leased, so a worker that dies mid-way only delays its items until the lease runs out; every result
 * is applied in the transaction that completes the claim, so it is applied once even when an effect ran twice.
 */

export interface WorkerOptions {
  /** How many effects one pass claims and runs at once (default 16). */
  concurrency?: number;
  /** Idle wait between passes that found nothing to do, in ms (default 250). */
  pollMs?: number;
}

export interface WorkerPass {
  timersFired: number;
  effectsSucceeded: number;
  effectsFailed: number;
  effectsRetried: number;
  effectsDead: number;
  eventsDelivered: number;
}

export interface Worker {
  start(): void;
  /** Finish the current pass, then stop. */
  stop(): Promise<void>;
  runOnce(limit?: number): Promise<WorkerPass>;
}

export interface WorkerDependencies {
  persistence: Persistence;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  leaseMs: number;
  retry: RetryPolicy;
  random: () => number;
  definitionOf(workflowId: string, machineId: string): WorkflowDefinition;
  settle<Ref>(deliveries: readonly InternalDelivery<Ref>[], hooks: SettleHooks<Ref>): Promise<SettleReport>;
  eventHandlers: ReadonlySet<DomainEventHandler>;
}

/** Outbox payload of an effect: which machine asked (effect names are per definition) and with what params. */
export interface EffectPayload {
  machine: string;
  params: unknown;
}

/** Capped exponential backoff with partial jitter: attempt 1 waits about `baseDelayMs`, then doubling. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (1 - policy.jitter + policy.jitter * random()));
}

export function createWorker(deps: WorkerDependencies, options: WorkerOptions): Worker {
  const concurrency = options.concurrency ?? 16;
  const pollMs = options.pollMs ?? 250;
  const { persistence, clock, logger } = deps;
  let stopped = true;
  let cancelNext: (() => void) | undefined;
  let current: Promise<void> = Promise.resolve();

  async function fireTimers(limit: number): Promise<number> {
    const due = await persistence.transaction((tx) =>
      tx.timers.claimDue({ now: clock.now(), leaseMs: deps.leaseMs, limit }),
    );
    if (due.length === 0) return 0;
    const key = (t: { workflowId: string; timerId: string }) => `${t.workflowId}\u0000${t.timerId}`;
    const report = await deps.settle<TimerRow>(
      due.map((timer) => ({ workflowId: timer.workflowId, event: timer.event as EventObject, ref: timer })),
      {
        async claim(tx, deliveries) {
          const removed = await tx.timers.removeMany(deliveries.map(({ ref }) => ref));
          const ours = new Set(removed.map(key));
          return deliveries.filter((d) => ours.has(key(d.ref)));
        },
        // The timer stays; its lease runs out and it is tried again once someone has repaired the workflow.
        async reportUnusable(_tx, failures) {
          for (const { delivery, error } of failures) {
            logger.error('timer_workflow_unusable', {
              workflowId: delivery.workflowId,
              timerId: delivery.ref.timerId,
              code: error.code,
              error: error.message,
            });
          }
        },
      },
    );
    return report.applied;
  }

  async function runEffect(entry: OutboxEntry): Promise<EffectOutcome> {
    const { machine, params } = entry.payload as EffectPayload;
    const definition = deps.definitionOf(entry.workflowId, machine);
    const effect = definition.effects[entry.type];
    try {
      if (!effect) throw new Error(`no effect named '${entry.type}' is registered in workflow '${machine}'`);
      const output = await effect.run(params, {
        workflowId: entry.workflowId,
        idempotencyKey: entry.id,
        attempt: entry.attempts,
        clock,
        logger,
      });
      const value = output === undefined ? null : output;
      const done: EventObject = { type: `${entry.type}.done`, output: value } as EventObject;
      const event = effect.onDone ? effect.onDone(value, params) : done;
      return { entry, failure: null, event };
    } catch (thrown) {
      const error = toSealflowError(thrown, `effect ${entry.type}`);
      const failure = { code: error.code, message: maskText(error.message), retryable: error.retryable };
      const event = failure.retryable
        ? null
        : effect?.onFailed
          ? effect.onFailed(failure, params)
          : { type: `${entry.type}.failed`, error: failure };
      return { entry, failure, event };
    }
  }

  /** A retryable failure goes back to the queue with a backoff, or to the dead letters after its last attempt. */
  async function scheduleRetry({ entry, failure }: EffectOutcome, claimToken: string, pass: WorkerPass): Promise<void> {
    const { machine } = entry.payload as EffectPayload;
    const policy = { ...deps.retry, ...deps.definitionOf(entry.workflowId, machine).effects[entry.type]?.retry };
    const now = clock.now();
    const exhausted = entry.attempts >= policy.maxAttempts;
    const availableAt = exhausted ? now : now + retryDelay(policy, entry.attempts, deps.random);
    const error = failure?.message ?? null;
    await persistence.transaction((tx) =>
      tx.outbox.release(entry.id, claimToken, { status: exhausted ? 'dead' : 'pending', availableAt, error, now }),
    );
    if (exhausted) {
      pass.effectsDead++;
      logger.error('effect_dead_lettered', {
        workflowId: entry.workflowId,
        effect: entry.type,
        attempts: entry.attempts,
        error,
      });
    } else {
      pass.effectsRetried++;
      logger.warn('effect_retry_scheduled', {
        workflowId: entry.workflowId,
        effect: entry.type,
        attempt: entry.attempts,
        retryAt: availableAt,
      });
    }
  }

  async function runEffects(limit: number, pass: WorkerPass): Promise<void> {
    const claimToken = randomUUID();
    const claimed = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken, now: clock.now(), leaseMs: deps.leaseMs, limit }),
    );
    if (claimed.length === 0) return;
    const outcomes = await Promise.all(claimed.map(runEffect));
    const toRetry = outcomes.filter((o) => o.failure?.retryable);
    const toSettle = outcomes.filter((o) => !o.failure?.retryable);
    await Promise.all(toRetry.map((o) => scheduleRetry(o, claimToken, pass)));
    if (toSettle.length === 0) return;
    await deps.settle<EffectOutcome>(
      toSettle.map((o) => ({ workflowId: o.entry.workflowId, event: o.event, ref: o })),
      {
        async claim(tx, deliveries, now) {
          const succeeded = deliveries.filter((d) => d.ref.failure === null);
          const completed = new Set(
            await tx.outbox.completeMany(
              succeeded.map((d) => d.ref.entry.id),
              claimToken,
              now,
            ),
          );
          const kept = succeeded.filter((d) => completed.has(d.ref.entry.id));
          for (const d of deliveries) {
            if (d.ref.failure === null) continue;
            const released = await tx.outbox.release(d.ref.entry.id, claimToken, {
              status: 'failed',
              availableAt: now,
              error: d.ref.failure.message,
              now,
            });
            if (released) kept.push(d);
          }
          return kept;
        },
        async reportUnusable(tx, failures, now) {
          for (const { delivery, error } of failures) {
            await tx.outbox.release(delivery.ref.entry.id, claimToken, {
              status: 'dead',
              availableAt: now,
              error: error.message,
              now,
            });
            logger.error('effect_workflow_unusable', {
              workflowId: delivery.workflowId,
              effect: delivery.ref.entry.type,
              code: error.code,
              error: error.message,
            });
          }
        },
      },
    );
    for (const o of toSettle) {
      if (o.failure) {
        pass.effectsFailed++;
        logger.warn('effect_failed', {
          workflowId: o.entry.workflowId,
          effect: o.entry.type,
          code: o.failure.code,
          error: o.failure.message,
        });
      } else pass.effectsSucceeded++;
    }
  }

  async function deliverEvents(limit: number): Promise<number> {
    if (deps.eventHandlers.size === 0) return 0;
    const claimToken = randomUUID();
    const claimed = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'event', claimToken, now: clock.now(), leaseMs: deps.leaseMs, limit }),
    );
    let delivered = 0;
    for (const entry of claimed) {
      const event = {
        id: entry.id,
        workflowId: entry.workflowId,
        type: entry.type,
        payload: entry.payload,
        occurredAt: entry.createdAt,
      };
      try {
        for (const handler of deps.eventHandlers) await handler(event);
        await persistence.transaction((tx) => tx.outbox.complete(entry.id, claimToken, clock.now()));
        delivered++;
      } catch (thrown) {
        const error = toSealflowError(thrown, `event handler for ${entry.type}`);
        const now = clock.now();
        const availableAt = now + retryDelay(deps.retry, entry.attempts, deps.random);
        await persistence.transaction((tx) =>
          tx.outbox.release(entry.id, claimToken, {
            status: 'pending',
            availableAt,
            error: maskText(error.message),
            now,
          }),
        );
        logger.warn('event_delivery_retry', { eventId: entry.id, type: entry.type, error: maskText(error.message) });
      }
    }
    return delivered;
  }

  async function runOnce(limit = concurrency): Promise<WorkerPass> {
    const pass: WorkerPass = {
      timersFired: 0,
      effectsSucceeded: 0,
      effectsFailed: 0,
      effectsRetried: 0,
      effectsDead: 0,
      eventsDelivered: 0,
    };
    pass.timersFired = await fireTimers(limit);
    await runEffects(limit, pass);
    pass.eventsDelivered = await deliverEvents(limit);
    return pass;
  }

  const didWork = (p: WorkerPass) =>
    p.timersFired + p.effectsSucceeded + p.effectsFailed + p.effectsRetried + p.effectsDead + p.eventsDelivered > 0;

  function loop(): void {
    if (stopped) return;
    current = runOnce()
      .catch((error) => {
        logger.error('worker_pass_failed', { error: toSealflowError(error, 'worker').toJSON() });
        return undefined;
      })
      .then((pass) => {
        if (stopped) return;
        cancelNext = deps.scheduler.schedule(loop, pass && didWork(pass) ? 0 : pollMs);
      });
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      cancelNext?.();
      await current;
    },
    runOnce,
  };
}
