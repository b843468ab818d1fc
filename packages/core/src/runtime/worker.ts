import { randomUUID } from 'node:crypto';
import type { EventObject } from 'xstate';
import { TimeoutError, toSealflowError } from '../errors.js';
import type { Clock, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { OutboxEntry, Persistence, TimerRow } from '../ports/persistence.js';
import { maskText } from '../privacy.js';
import type { DomainEventHandler, InternalDelivery, SettleHooks, SettleReport } from './runtime.js';
import type { EffectDefinition, RetryPolicy, SerializedError, WorkflowDefinition } from './workflow-definition.js';

interface EffectOutcome {
  entry: OutboxEntry;
  /** The claim under which the effect ran; its result is applied only while that claim is still held. */
  claimToken: string;
  /** Null when the effect succeeded. */
  failure: SerializedError | null;
  /** What to tell the machine; null for retryable failures and for results the definition chose not to report. */
  event: EventObject | null;
}

/**
 * Workers drain what transitions left behind: due timers, claimable effects and undelivered domain events.
 * Every claim is leased, so a worker that dies mid-way only delays its items until the lease runs out; every result
 * is applied in the transaction that completes the claim, so it is applied once even when an effect ran twice.
 *
 * Every effect attempt has a timeout, so one that never returns costs its workflow a retry, not the worker: a
 * started worker keeps claiming new effects while slow ones run, up to `concurrency` claims held at once, and
 * settles results as they arrive (those arriving together share one transaction).
 */

export interface WorkerOptions {
  /**
   * How many effects a worker holds at once, from claim until its result is settled (default 16). A started
   * worker claims more as soon as one finishes; `runOnce` claims up to its `limit` and waits for all of them.
   */
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
  /** Timeout of an effect attempt that sets none itself. */
  effectTimeoutMs: number;
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

  /** The effect an outbox entry names; undefined when its workflow type or effect is not registered here. */
  function effectOf(entry: OutboxEntry): EffectDefinition | undefined {
    const { machine } = entry.payload as EffectPayload;
    try {
      return deps.definitionOf(entry.workflowId, machine).effects[entry.type];
    } catch {
      return undefined;
    }
  }

  /**
   * One attempt of an effect, raced against its timeout on the scheduler port. At the timeout the attempt is
   * abandoned, not stopped (a promise cannot be cancelled): its signal is aborted, and whatever it returns later is
   * dropped here, because the outcome was already decided.
   */
  async function runEffect(entry: OutboxEntry, claimToken: string): Promise<EffectOutcome> {
    const { machine, params } = entry.payload as EffectPayload;
    const effect = effectOf(entry);
    const timeoutMs = effect?.timeoutMs ?? deps.effectTimeoutMs;
    const abort = new AbortController();
    let cancelTimeout = () => {};
    const timedOut = new Promise<never>((_, reject) => {
      cancelTimeout = deps.scheduler.schedule(() => {
        const error = new TimeoutError(
          'EFFECT_TIMEOUT',
          `Effect ${entry.type} of workflow ${entry.workflowId} did not finish within ${timeoutMs} ms (attempt ` +
            `${entry.attempts}); it will be retried with the same idempotency key. If it needs longer, raise its ` +
            'timeoutMs (and leaseMs above it); if it hangs, make it honour context.signal.',
          { details: { workflowId: entry.workflowId, effect: entry.type, attempt: entry.attempts, timeoutMs } },
        );
        // Rejected before the abort, so the race is decided by the timeout even if the effect rejects at once.
        reject(error);
        abort.abort(error);
      }, timeoutMs);
    });
    try {
      if (!effect) throw new Error(`no effect named '${entry.type}' is registered in workflow '${machine}'`);
      const running = (async () =>
        effect.run(params, {
          workflowId: entry.workflowId,
          idempotencyKey: entry.id,
          attempt: entry.attempts,
          clock,
          logger,
          signal: abort.signal,
        }))();
      const output = await Promise.race([running, timedOut]);
      const value = output === undefined ? null : output;
      const done: EventObject = { type: `${entry.type}.done`, output: value } as EventObject;
      const event = effect.onDone ? effect.onDone(value, params) : done;
      return { entry, claimToken, failure: null, event };
    } catch (thrown) {
      const error = toSealflowError(thrown, `effect ${entry.type}`);
      if (abort.signal.aborted && thrown === abort.signal.reason) {
        logger.warn('effect_timed_out', {
          workflowId: entry.workflowId,
          effect: entry.type,
          attempt: entry.attempts,
          timeoutMs,
        });
      }
      const failure = { code: error.code, message: maskText(error.message), retryable: error.retryable };
      const event = failure.retryable
        ? null
        : effect?.onFailed
          ? effect.onFailed(failure, params)
          : { type: `${entry.type}.failed`, error: failure };
      return { entry, claimToken, failure, event };
    } finally {
      cancelTimeout();
    }
  }

  /** A retryable failure goes back to the queue with a backoff, or to the dead letters after its last attempt. */
  async function scheduleRetry({ entry, failure, claimToken }: EffectOutcome, pass: WorkerPass): Promise<void> {
    const policy = { ...deps.retry, ...effectOf(entry)?.retry };
    const now = clock.now();
    const exhausted = entry.attempts >= policy.maxAttempts;
    const availableAt = exhausted ? now : now + retryDelay(policy, entry.attempts, deps.random);
    const error = failure?.message ?? null;
    const released = await persistence.transaction((tx) =>
      tx.outbox.release(entry.id, claimToken, { status: exhausted ? 'dead' : 'pending', availableAt, error, now }),
    );
    // The lease ran out and another worker has the effect now: its attempt decides, not this one.
    if (!released) return;
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

  async function claimEffects(limit: number): Promise<{ claimToken: string; claimed: OutboxEntry[] }> {
    const claimToken = randomUUID();
    const claimed = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken, now: clock.now(), leaseMs: deps.leaseMs, limit }),
    );
    return { claimToken, claimed };
  }

  /**
   * Apply finished attempts: retryable failures are rescheduled one by one, everything else is settled in one
   * transaction. Outcomes may come from different claims; each is completed under its own claim token, so a result
   * whose claim was lost (lease expired, effect re-claimed) is dropped.
   */
  async function settleOutcomes(outcomes: readonly EffectOutcome[], pass: WorkerPass): Promise<void> {
    const toRetry = outcomes.filter((o) => o.failure?.retryable);
    const toSettle = outcomes.filter((o) => !o.failure?.retryable);
    await Promise.all(toRetry.map((o) => scheduleRetry(o, pass)));
    if (toSettle.length === 0) return;
    await deps.settle<EffectOutcome>(
      toSettle.map((o) => ({ workflowId: o.entry.workflowId, event: o.event, ref: o })),
      {
        async claim(tx, deliveries, now) {
          const succeeded = deliveries.filter((d) => d.ref.failure === null);
          const byClaim = new Map<string, string[]>();
          for (const d of succeeded)
            byClaim.set(d.ref.claimToken, [...(byClaim.get(d.ref.claimToken) ?? []), d.ref.entry.id]);
          const completed = new Set<string>();
          for (const [claimToken, ids] of byClaim) {
            for (const id of await tx.outbox.completeMany(ids, claimToken, now)) completed.add(id);
          }
          const kept = succeeded.filter((d) => completed.has(d.ref.entry.id));
          for (const d of deliveries) {
            if (d.ref.failure === null) continue;
            const released = await tx.outbox.release(d.ref.entry.id, d.ref.claimToken, {
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
            await tx.outbox.release(delivery.ref.entry.id, delivery.ref.claimToken, {
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

  /** `runOnce`: claim a batch, wait for all of it (each attempt bounded by its timeout), settle it together. */
  async function runEffects(limit: number, pass: WorkerPass): Promise<void> {
    const { claimToken, claimed } = await claimEffects(limit);
    if (claimed.length === 0) return;
    await settleOutcomes(await Promise.all(claimed.map((entry) => runEffect(entry, claimToken))), pass);
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
    const pass = emptyPass();
    pass.timersFired = await fireTimers(limit);
    await runEffects(limit, pass);
    pass.eventsDelivered = await deliverEvents(limit);
    return pass;
  }

  // --- the started worker: effects run beside the passes, never more than `concurrency` claims at once ----------

  /** Claims taken and not yet settled. */
  let held = 0;
  /** Attempts running or waiting to be settled, for `stop()` to drain. */
  const inFlight = new Set<Promise<void>>();
  const finished: EffectOutcome[] = [];
  let settling: Promise<void> | undefined;
  let passRunning = false;
  let passAgain = false;

  /** Settle whatever has finished, in batches: results that finish while a batch is settling form the next one. */
  function settleFinished(): Promise<void> {
    settling ??= (async () => {
      try {
        while (finished.length > 0) {
          const batch = finished.splice(0);
          try {
            await settleOutcomes(batch, emptyPass());
          } catch (error) {
            // The claims stay as they are; their leases run out and the effects are tried again.
            logger.error('worker_settle_failed', { error: toSealflowError(error, 'worker').toJSON() });
          }
          held -= batch.length;
          wake();
        }
      } finally {
        settling = undefined;
      }
    })();
    return settling;
  }

  function launch(entry: OutboxEntry, claimToken: string): void {
    const attempt: Promise<void> = runEffect(entry, claimToken)
      .then(
        (outcome) => {
          finished.push(outcome);
          return settleFinished();
        },
        (error) => {
          // Nothing to settle (a definition's onDone or onFailed threw): the claim's lease runs out instead.
          held--;
          logger.error('worker_effect_failed', { error: toSealflowError(error, 'worker').toJSON() });
          wake();
        },
      )
      .finally(() => inFlight.delete(attempt));
    inFlight.add(attempt);
  }

  /** One background pass: timers, as many effects as there are free slots (started, not awaited), events. */
  async function backgroundPass(): Promise<boolean> {
    const timersFired = await fireTimers(concurrency);
    let claimedCount = 0;
    const free = concurrency - held;
    if (free > 0 && !stopped) {
      const { claimToken, claimed } = await claimEffects(free);
      held += claimed.length;
      claimedCount = claimed.length;
      for (const entry of claimed) launch(entry, claimToken);
    }
    const eventsDelivered = await deliverEvents(concurrency);
    return timersFired + claimedCount + eventsDelivered > 0;
  }

  function loop(): void {
    cancelNext = undefined;
    if (stopped) return;
    passRunning = true;
    current = backgroundPass()
      .catch((error) => {
        logger.error('worker_pass_failed', { error: toSealflowError(error, 'worker').toJSON() });
        return false;
      })
      .then((didWork) => {
        passRunning = false;
        const again = passAgain;
        passAgain = false;
        if (stopped) return;
        cancelNext = deps.scheduler.schedule(loop, didWork || again ? 0 : pollMs);
      });
  }

  /** A slot came free or new work was settled into the outbox: look again now rather than after the idle wait. */
  function wake(): void {
    if (stopped) return;
    if (passRunning) {
      passAgain = true;
      return;
    }
    cancelNext?.();
    cancelNext = deps.scheduler.schedule(loop, 0);
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
      cancelNext = undefined;
      await current;
      // Drain: every running attempt ends by its timeout at the latest, and is settled before stop() returns.
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    runOnce,
  };
}

function emptyPass(): WorkerPass {
  return {
    timersFired: 0,
    effectsSucceeded: 0,
    effectsFailed: 0,
    effectsRetried: 0,
    effectsDead: 0,
    eventsDelivered: 0,
  };
}
