import { randomUUID } from 'node:crypto';
import type { EventObject } from 'xstate';
import { toSealflowError } from '../errors.js';
import type { Clock, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { OutboxEntry, Persistence, PersistenceTransaction } from '../ports/persistence.js';
import { maskText } from '../privacy.js';
import type { DomainEventHandler } from './runtime.js';
import type { RetryPolicy, SerializedError, WorkflowDefinition } from './workflow-definition.js';

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
  deliverInternal(
    workflowId: string,
    event: EventObject,
    claim: (tx: PersistenceTransaction) => Promise<boolean>,
  ): Promise<unknown>;
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
    let fired = 0;
    for (const timer of due) {
      try {
        let removed = false;
        await deps.deliverInternal(timer.workflowId, timer.event as EventObject, async (tx) => {
          removed = await tx.timers.remove(timer.workflowId, timer.timerId, timer.token);
          return removed;
        });
        if (removed) fired++;
      } catch (error) {
        logger.error('timer_delivery_failed', {
          workflowId: timer.workflowId,
          timerId: timer.timerId,
          error: toSealflowError(error, 'timer').toJSON(),
        });
      }
    }
    return fired;
  }

  async function runEffect(entry: OutboxEntry, claimToken: string, pass: WorkerPass): Promise<void> {
    const { machine, params } = entry.payload as EffectPayload;
    const definition = deps.definitionOf(entry.workflowId, machine);
    const effect = definition.effects[entry.type];
    const policy = { ...deps.retry, ...effect?.retry };
    let outcome: { ok: true; output: unknown } | { ok: false; error: SerializedError };
    try {
      if (!effect) throw new Error(`no effect named '${entry.type}' is registered in workflow '${machine}'`);
      const output = await effect.run(params, {
        workflowId: entry.workflowId,
        idempotencyKey: entry.id,
        attempt: entry.attempts,
        clock,
        logger,
      });
      outcome = { ok: true, output: output === undefined ? null : output };
    } catch (thrown) {
      const error = toSealflowError(thrown, `effect ${entry.type}`);
      outcome = {
        ok: false,
        error: { code: error.code, message: maskText(error.message), retryable: error.retryable },
      };
    }
    const now = clock.now();
    if (outcome.ok) {
      const event = effect?.onDone
        ? effect.onDone(outcome.output, params)
        : { type: `${entry.type}.done`, output: outcome.output };
      await settle(entry, event, (tx) => tx.outbox.complete(entry.id, claimToken, now));
      pass.effectsSucceeded++;
      return;
    }
    const { error } = outcome;
    if (!error.retryable) {
      const event = effect?.onFailed ? effect.onFailed(error, params) : { type: `${entry.type}.failed`, error };
      await settle(entry, event, (tx) =>
        tx.outbox.release(entry.id, claimToken, { status: 'failed', availableAt: now, error: error.message, now }),
      );
      pass.effectsFailed++;
      logger.warn('effect_failed', {
        workflowId: entry.workflowId,
        effect: entry.type,
        code: error.code,
        error: error.message,
      });
      return;
    }
    const exhausted = entry.attempts >= policy.maxAttempts;
    const availableAt = exhausted ? now : now + retryDelay(policy, entry.attempts, deps.random);
    await persistence.transaction((tx) =>
      tx.outbox.release(entry.id, claimToken, {
        status: exhausted ? 'dead' : 'pending',
        availableAt,
        error: error.message,
        now,
      }),
    );
    if (exhausted) {
      pass.effectsDead++;
      logger.error('effect_dead_lettered', {
        workflowId: entry.workflowId,
        effect: entry.type,
        attempts: entry.attempts,
        error: error.message,
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

  /** Complete the claim and apply the result event together; without an event, just complete the claim. */
  async function settle(
    entry: OutboxEntry,
    event: EventObject | null,
    claim: (tx: PersistenceTransaction) => Promise<boolean>,
  ) {
    if (event) await deps.deliverInternal(entry.workflowId, event, claim);
    else await persistence.transaction(claim);
  }

  async function runEffects(limit: number, pass: WorkerPass): Promise<void> {
    const claimToken = randomUUID();
    const claimed = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken, now: clock.now(), leaseMs: deps.leaseMs, limit }),
    );
    await Promise.all(
      claimed.map((entry) =>
        runEffect(entry, claimToken, pass).catch((error) =>
          logger.error('effect_settle_failed', {
            workflowId: entry.workflowId,
            effect: entry.type,
            error: toSealflowError(error, 'effect').toJSON(),
          }),
        ),
      ),
    );
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
