import { randomUUID } from 'node:crypto';
import type { EventObject } from 'xstate';
import { toSealflowError } from '../errors.js';
import type { Clock, Scheduler } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { OutboxEntry, Persistence, PersistenceTransaction, TimerRow } from '../ports/persistence.js';
import { maskText } from '../privacy.js';
import { type EffectOutcome, effectAttempts } from './effect-attempt.js';
import type { DomainEventHandler, InternalDelivery, SettleHooks, SettleReport } from './runtime.js';
import type { RetryPolicy, WorkflowDefinition } from './workflow-definition.js';

/**
 * Workers drain what transitions left behind: due timers, claimable effects and undelivered domain events.
 * Every claim is leased, so a worker that dies mid-way only delays its items until the lease runs out; every result
 * is applied in the transaction that completes the claim, so it is applied once even when an effect ran twice.
 *
 * Every effect attempt has a timeout, so one that never returns costs its workflow a retry, not the worker: a
 * started worker keeps claiming new effects while slow ones run, up to `concurrency` claims held at once, and
 * settles results as they arrive (those arriving together share one transaction).
 *
 * Transactions are the cost that counts, so a worker makes few: one pass claims due timers, effects and events in one
 * transaction; the transaction that settles results also claims the next effects (often the very ones those results
 * started) and the waiting events; and a delivered event is marked done in the worker's next transaction rather than
 * its own. None of this loosens a guarantee: every claim is still leased, every result still applied under its
 * claim, and an event whose completion a crash lost is delivered again, as any event may be (at least once, with a
 * stable id).
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

/** What one worker pass processed: timers fired, effects run, events delivered. */
export interface WorkerPass {
  timersFired: number;
  effectsSucceeded: number;
  effectsFailed: number;
  effectsRetried: number;
  effectsDead: number;
  eventsDelivered: number;
}

/** A background worker started by {@link Runtime.startWorker}. */
export interface Worker {
  start(): void;
  /** Finish the current pass, then stop. */
  stop(): Promise<void>;
  runOnce(limit?: number): Promise<WorkerPass>;
}

/** The runtime's handle on a worker it started: how to tell it that this process just queued work. */
export interface RuntimeWorker extends Worker {
  /** Look for work now rather than after the idle wait; false when the worker has no free slot to take it. */
  wake(): boolean;
}

/** Claims taken in one transaction. */
interface Claimed {
  timers: TimerRow[];
  effects: { claimToken: string; entries: OutboxEntry[] };
  events: { claimToken: string; entries: OutboxEntry[] };
}

/** A delivered event whose completion waits for the worker's next transaction. */
interface Delivered {
  id: string;
  claimToken: string;
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

/** Capped exponential backoff with partial jitter: attempt 1 waits about `baseDelayMs`, then doubling. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (1 - policy.jitter + policy.jitter * random()));
}

export function createWorker(deps: WorkerDependencies, options: WorkerOptions): RuntimeWorker {
  const concurrency = options.concurrency ?? 16;
  const pollMs = options.pollMs ?? 250;
  const { persistence, clock, logger } = deps;
  let stopped = true;
  let cancelNext: (() => void) | undefined;
  let current: Promise<void> = Promise.resolve();
  /** Delivered events not yet marked done; the worker's next transaction marks them. */
  let delivered: Delivered[] = [];
  /** Deliveries run one batch after another, so a worker hands its events to the host in the order it claimed them. */
  let delivering: Promise<unknown> = Promise.resolve();

  /** Mark delivered events done in `tx`. One whose claim was lost (its lease ran out) stays, and is delivered again. */
  async function completeIn(tx: PersistenceTransaction, batch: readonly Delivered[], now: number): Promise<void> {
    const byClaim = new Map<string, string[]>();
    for (const d of batch) byClaim.set(d.claimToken, [...(byClaim.get(d.claimToken) ?? []), d.id]);
    for (const [claimToken, ids] of byClaim) await tx.outbox.completeMany(ids, claimToken, now);
  }

  /**
   * Run `work` in a transaction that also marks the delivered events done. If the transaction fails they wait for
   * the next one; if the process dies first, their leases run out and they are delivered again.
   */
  async function transactionWithCompletions<T>(work: (tx: PersistenceTransaction, now: number) => Promise<T>) {
    const batch = delivered;
    delivered = [];
    try {
      return await persistence.transaction(async (tx) => {
        const now = clock.now();
        await completeIn(tx, batch, now);
        return work(tx, now);
      });
    } catch (error) {
      delivered = [...batch, ...delivered];
      throw error;
    }
  }

  async function claimIn(
    tx: PersistenceTransaction,
    limits: { timers: number; effects: number; events: number },
    now: number,
  ): Promise<Claimed> {
    const claim = async (kind: 'effect' | 'event', limit: number) => {
      const claimToken = randomUUID();
      const entries = limit > 0 ? await tx.outbox.claim({ kind, claimToken, now, leaseMs: deps.leaseMs, limit }) : [];
      return { claimToken, entries };
    };
    const timers =
      limits.timers > 0 ? await tx.timers.claimDue({ now, leaseMs: deps.leaseMs, limit: limits.timers }) : [];
    const effects = await claim('effect', limits.effects);
    const events = await claim('event', deps.eventHandlers.size > 0 ? limits.events : 0);
    return { timers, effects, events };
  }

  /** Due timers, effects and events, claimed in one transaction. */
  const claimPass = (limits: { timers: number; effects: number; events: number }) =>
    transactionWithCompletions((tx, now) => claimIn(tx, limits, now));

  async function fireTimers(due: readonly TimerRow[]): Promise<number> {
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
  const { effectOf, runEffect } = effectAttempts(deps);

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

  /**
   * Apply finished attempts: retryable failures are rescheduled one by one, everything else is settled in one
   * transaction, which `alsoInTransaction` may use for more (the next claims). Outcomes may come from different
   * claims; each is completed under its own claim token, so a result whose claim was lost (lease expired, effect
   * re-claimed) is dropped. Returns whether the settling transaction ran.
   */
  async function settleOutcomes(
    outcomes: readonly EffectOutcome[],
    pass: WorkerPass,
    alsoInTransaction?: SettleHooks<EffectOutcome>['alsoInTransaction'],
  ): Promise<boolean> {
    const toRetry = outcomes.filter((o) => o.failure?.retryable);
    const toSettle = outcomes.filter((o) => !o.failure?.retryable);
    await Promise.all(toRetry.map((o) => scheduleRetry(o, pass)));
    if (toSettle.length === 0) return false;
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
        ...(alsoInTransaction ? { alsoInTransaction } : {}),
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
    return true;
  }

  /** Hand claimed events to the host's handlers, batch after batch; returns how many were delivered. */
  function deliverEvents(batch: Claimed['events']): Promise<number> {
    if (batch.entries.length === 0) return Promise.resolve(0);
    const run = delivering.then(() => deliverInOrder(batch));
    delivering = run.catch(() => {});
    return run;
  }

  async function deliverInOrder({ claimToken, entries }: Claimed['events']): Promise<number> {
    let count = 0;
    for (const entry of entries) {
      const event = {
        id: entry.id,
        workflowId: entry.workflowId,
        type: entry.type,
        payload: entry.payload,
        occurredAt: entry.createdAt,
      };
      try {
        for (const handler of deps.eventHandlers) await handler(event);
        delivered.push({ id: entry.id, claimToken });
        count++;
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
    return count;
  }

  /** Mark what was delivered done now, in a transaction of its own (nothing else is coming to carry it). */
  async function flushDelivered(): Promise<void> {
    await delivering;
    if (delivered.length > 0) await transactionWithCompletions(async () => undefined);
  }

  /**
   * `runOnce`: claim due timers and a batch of effects together, fire the timers, run the effects (each bounded by
   * its timeout) and settle them together, claiming the waiting events in the same transaction; then deliver them.
   */
  async function runOnce(limit = concurrency): Promise<WorkerPass> {
    const pass = emptyPass();
    const claimed = await claimPass({ timers: limit, effects: limit, events: 0 });
    const work = claimed.effects.entries.map((entry) => [entry, claimed.effects.claimToken] as const);
    pass.timersFired = await fireTimers(claimed.timers);
    // A fired timer may have queued an effect: this pass runs it, as it would have had timers fired first.
    if (pass.timersFired > 0 && work.length < limit) {
      const { effects } = await claimPass({ timers: 0, effects: limit - work.length, events: 0 });
      work.push(...effects.entries.map((entry) => [entry, effects.claimToken] as const));
    }
    let events: Claimed['events'] | undefined;
    if (work.length > 0) {
      const outcomes = await Promise.all(work.map(([entry, claimToken]) => runEffect(entry, claimToken)));
      await settleOutcomes(outcomes, pass, async (tx, now) => {
        events = (await claimIn(tx, { timers: 0, effects: 0, events: limit }, now)).events;
      });
    }
    if (!events && deps.eventHandlers.size > 0) {
      events = (await claimPass({ timers: 0, effects: 0, events: limit })).events;
    }
    pass.eventsDelivered = events ? await deliverEvents(events) : 0;
    await flushDelivered();
    return pass;
  }

  // --- the started worker: effects run beside the passes, never more than `concurrency` claims at once ----------

  /** Claims taken (or slots reserved for a claim under way) and not yet settled. */
  let held = 0;
  /** Attempts running or waiting to be settled, for `stop()` to drain. */
  const inFlight = new Set<Promise<void>>();
  const finished: EffectOutcome[] = [];
  let settling: Promise<void> | undefined;
  let passRunning = false;
  let passAgain = false;

  /**
   * Settle whatever has finished, in batches: results that finish while a batch is settling form the next one. The
   * settling transaction also claims as many effects as the batch frees slots (often the steps its results just
   * queued), and the events its transitions emitted; so a workflow moves from step to step in one transaction each.
   */
  function settleFinished(): Promise<void> {
    settling ??= (async () => {
      try {
        while (finished.length > 0) await settleBatch(finished.splice(0));
      } finally {
        settling = undefined;
      }
    })();
    return settling;
  }

  async function settleBatch(batch: EffectOutcome[]): Promise<void> {
    // Every slot free once the batch is settled is reserved now, so a pass running meanwhile does not take it too.
    const slots = stopped ? 0 : Math.max(0, concurrency - held) + batch.length;
    held += slots - batch.length;
    let claimed: Claimed | undefined;
    try {
      const completions = delivered;
      delivered = [];
      try {
        await settleOutcomes(batch, emptyPass(), async (tx, now, queued) => {
          await completeIn(tx, completions, now);
          const events = stopped || queued.events === 0 ? 0 : concurrency;
          claimed = await claimIn(tx, { timers: 0, effects: slots, events }, now);
        });
      } finally {
        // Not carried by a settling transaction (it failed, or only retries were scheduled): keep them for the next.
        if (!claimed) delivered = [...completions, ...delivered];
      }
    } catch (error) {
      // The claims stay as they are; their leases run out and the effects are tried again.
      logger.error('worker_settle_failed', { error: toSealflowError(error, 'worker').toJSON() });
    }
    held -= slots;
    const effects = claimed?.effects;
    if (effects) {
      held += effects.entries.length;
      for (const entry of effects.entries) launch(entry, effects.claimToken);
    }
    if (claimed) void deliverEvents(claimed.events).catch(logDeliveryFailure);
    wake();
  }

  function logDeliveryFailure(error: unknown): void {
    logger.error('worker_event_delivery_failed', { error: toSealflowError(error, 'worker').toJSON() });
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

  /** One background pass: one claiming transaction, then timers fired, effects started (not awaited), events delivered. */
  async function backgroundPass(): Promise<boolean> {
    const free = stopped ? 0 : Math.max(0, concurrency - held);
    const carried = delivered.length;
    held += free;
    let claimed: Claimed;
    try {
      claimed = await claimPass({ timers: concurrency, effects: free, events: concurrency });
    } finally {
      held -= free;
    }
    const { effects } = claimed;
    held += effects.entries.length;
    for (const entry of effects.entries) launch(entry, effects.claimToken);
    const timersFired = await fireTimers(claimed.timers);
    const eventsDelivered = await deliverEvents(claimed.events);
    // Events just delivered are marked done by the next pass, which comes at once.
    return timersFired + effects.entries.length + eventsDelivered + carried > 0;
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

  /** A slot came free or new work was queued: look again now rather than after the idle wait. */
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
      await flushDelivered().catch(logDeliveryFailure);
    },
    runOnce,
    wake() {
      if (stopped || held >= concurrency) return false;
      wake();
      return true;
    },
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
