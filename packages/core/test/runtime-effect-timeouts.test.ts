import { describe, expect, it } from 'vitest';
import { type EffectDefinition, SealflowError, createRuntime } from '../src/index.js';
import { createManualClock, createMemoryLogger, createMemoryPersistence } from '../src/memory/index.js';
import { paymentWorkflow } from './fixtures/payment-workflow.js';

/**
 * Effects that never return, or return too late. Time is the manual clock: a timeout fires only when a test moves
 * the clock past it, so "still waiting" and "timed out" are both states a test can hold still and look at.
 */

interface Attempt {
  workflowId: string;
  idempotencyKey: string;
  attempt: number;
  signal: AbortSignal;
  /** Ends the attempt with this receipt (only for attempts the script holds). */
  finish(receipt: string): void;
  finished: boolean;
}

/** A charge effect that answers at once, except the attempts `hold` picks, which wait until the test finishes them. */
function controlledCharge(hold: (workflowId: string, attempt: number) => boolean, timeoutMs?: number) {
  const attempts: Attempt[] = [];
  let running = 0;
  let maxRunning = 0;
  const effect: EffectDefinition<{ amount: number }, { receipt: string }> = {
    async run(_params, context) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        let finish!: (receipt: string) => void;
        const answer = new Promise<string>((resolve) => {
          finish = resolve;
        });
        const attempt: Attempt = {
          workflowId: context.workflowId,
          idempotencyKey: context.idempotencyKey,
          attempt: context.attempt,
          signal: context.signal,
          finish: (receipt) => {
            attempt.finished = true;
            finish(receipt);
          },
          finished: false,
        };
        attempts.push(attempt);
        if (!hold(context.workflowId, context.attempt)) attempt.finish(`R-${context.idempotencyKey}`);
        return { receipt: await answer };
      } finally {
        running--;
      }
    },
    retry: { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 10_000, jitter: 0 },
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
  return { effect, attempts, maxRunning: () => maxRunning };
}

function setup(charge: EffectDefinition, options: { leaseMs?: number; effectTimeoutMs?: number } = {}) {
  const clock = createManualClock();
  const logger = createMemoryLogger();
  const persistence = createMemoryPersistence();
  const runtime = createRuntime({
    persistence,
    clock,
    scheduler: clock,
    logger,
    workflows: [paymentWorkflow(charge)],
    ...options,
  });
  return { runtime, clock, logger, persistence };
}

/** Let every promise that can move, move; then run what is due on the clock after `ms`. */
async function tick(clock: ReturnType<typeof createManualClock>, ms: number) {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  clock.advance(ms);
}

const CHARGED = 'awaitingConfirmation.quiet';

describe('effect timeouts: a stuck effect does not stop the worker', () => {
  it('finishes 20 workflows while one effect hangs, holding at most `concurrency` effects at once', async () => {
    const charge = controlledCharge((id, attempt) => id === 'stuck' && attempt === 1);
    const { runtime, clock } = setup(charge.effect);
    await runtime.start('payment', { id: 'stuck', input: { amount: 1 } });
    const ids = Array.from({ length: 20 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    for (const id of ids) await runtime.start('payment', { id, input: { amount: 10 } });

    // Two workers on one store, so claims are contended as they would be between instances.
    const workers = [runtime.startWorker({ concurrency: 3, pollMs: 50 }), runtime.startWorker({ concurrency: 3 })];
    const charged = async () => (await runtime.list({ stateValue: CHARGED })).length;
    // Far less clock time than the default timeout (30 s): nothing here is rescued by a timeout.
    for (let step = 0; step < 200 && (await charged()) < 20; step++) await tick(clock, 10);
    expect(clock.now() - Date.UTC(2026, 0, 1)).toBeLessThan(30_000);

    expect(await charged()).toBe(20);
    const stuck = charge.attempts.filter((a) => a.workflowId === 'stuck');
    expect(stuck).toHaveLength(1);
    expect(stuck[0]!.finished).toBe(false);
    expect(stuck[0]!.signal.aborted).toBe(false);
    expect((await runtime.get('stuck'))?.stateValue).toBe('charging');
    // Each result applied once: one transition per workflow after its start.
    for (const id of ids) expect((await runtime.get(id))?.rowVersion).toBe(2);
    expect(charge.maxRunning()).toBeLessThanOrEqual(6);

    stuck[0]!.finish('R-stuck');
    await Promise.all(workers.map((w) => w.stop()));
    expect((await runtime.get('stuck'))?.stateValue).toBe(CHARGED);
  });

  it('never holds more than `concurrency` effects, and claims the next one as soon as a slot frees', async () => {
    const charge = controlledCharge(() => true);
    const { runtime, clock } = setup(charge.effect);
    for (let i = 0; i < 10; i++) await runtime.start('payment', { id: `c${i}`, input: { amount: 1 } });
    const worker = runtime.startWorker({ concurrency: 3, pollMs: 100 });
    for (let step = 0; step < 20; step++) await tick(clock, 10);
    expect(charge.attempts).toHaveLength(3);

    charge.attempts[0]!.finish('R-first');
    for (let step = 0; step < 20; step++) await tick(clock, 10);
    expect(charge.attempts).toHaveLength(4);
    expect(charge.maxRunning()).toBe(3);
    expect((await runtime.list({ stateValue: CHARGED })).length).toBe(1);

    for (const attempt of charge.attempts) if (!attempt.finished) attempt.finish('R');
    await worker.stop();
    expect((await runtime.list({ stateValue: CHARGED })).length).toBe(4);
  });
});

describe('effect timeouts: retry and late results', () => {
  it('times out an attempt, aborts its signal, retries with the same key, and drops the late result', async () => {
    const charge = controlledCharge((_, attempt) => attempt === 1, 5_000);
    const { runtime, clock, logger, persistence } = setup(charge.effect);
    await runtime.start('payment', { id: 't1', input: { amount: 7 } });

    const pass = runtime.runOnce();
    await tick(clock, 4_999);
    expect(charge.attempts[0]!.signal.aborted).toBe(false);
    await tick(clock, 1);
    expect(await pass).toMatchObject({ effectsRetried: 1, effectsSucceeded: 0 });
    const first = charge.attempts[0]!;
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(SealflowError);
    expect(first.signal.reason).toMatchObject({ code: 'EFFECT_TIMEOUT', retryable: true });
    const [entry] = await persistence.transaction((tx) => tx.outbox.list({ workflowId: 't1' }));
    expect(entry).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringContaining('5000 ms') });
    expect(logger.records.some((r) => r.message === 'effect_timed_out')).toBe(true);

    clock.advance(1_000);
    expect((await runtime.runOnce()).effectsSucceeded).toBe(1);
    expect(charge.attempts.map((a) => [a.idempotencyKey, a.attempt])).toEqual([
      [entry!.id, 1],
      [entry!.id, 2],
    ]);
    const settled = await runtime.get('t1');
    expect(settled).toMatchObject({ stateValue: CHARGED, context: { receipt: `R-${entry!.id}` } });
    const auditBefore = (await persistence.transaction((tx) => tx.audit.list('t1'))).length;

    // The first attempt answers at last, with a different receipt: nobody is listening any more.
    first.finish('R-late');
    await tick(clock, 0);
    await runtime.runOnce();
    const after = await runtime.get('t1');
    expect(after).toMatchObject({ rowVersion: settled!.rowVersion, context: { receipt: `R-${entry!.id}` } });
    expect((await persistence.transaction((tx) => tx.audit.list('t1'))).length).toBe(auditBefore);
    expect((await persistence.transaction((tx) => tx.outbox.get(entry!.id)))?.status).toBe('done');
  });

  it('a started worker keeps going after a timeout and the retry completes the workflow', async () => {
    const charge = controlledCharge((id, attempt) => id === 'slow' && attempt === 1);
    const { runtime, clock } = setup(charge.effect, { effectTimeoutMs: 2_000 });
    await runtime.start('payment', { id: 'slow', input: { amount: 1 } });
    const worker = runtime.startWorker({ concurrency: 2, pollMs: 100 });
    for (let step = 0; step < 40 && (await runtime.get('slow'))?.stateValue !== CHARGED; step++) {
      await tick(clock, 100);
    }
    expect((await runtime.get('slow'))?.stateValue).toBe(CHARGED);
    expect(charge.attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(new Set(charge.attempts.map((a) => a.idempotencyKey)).size).toBe(1);
    charge.attempts[0]!.finish('R-late');
    await worker.stop();
    expect((await runtime.get('slow'))?.rowVersion).toBe(2);
  });

  it('stop() waits for effects in flight and settles them', async () => {
    const charge = controlledCharge(() => true);
    const { runtime, clock } = setup(charge.effect);
    await runtime.start('payment', { id: 's1', input: { amount: 1 } });
    const worker = runtime.startWorker({ pollMs: 100 });
    for (let step = 0; step < 10 && charge.attempts.length === 0; step++) await tick(clock, 10);
    let stopped = false;
    const stopping = worker.stop().then(() => {
      stopped = true;
    });
    await tick(clock, 0);
    expect(stopped).toBe(false);
    charge.attempts[0]!.finish('R-drained');
    await stopping;
    expect((await runtime.get('s1'))?.context).toMatchObject({ receipt: 'R-drained' });
  });
});

describe('effect timeouts: configuration', () => {
  it('refuses a timeout that does not end before the lease, naming the effect', () => {
    const charge = controlledCharge(() => false, 60_000);
    const error = (() => {
      try {
        setup(charge.effect);
      } catch (e) {
        return e as SealflowError;
      }
      throw new Error('expected createRuntime to refuse');
    })();
    expect(error).toBeInstanceOf(SealflowError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain("effect 'charge' of workflow 'payment'");
    expect(error.message).toContain('leaseMs');
    expect(() => setup(controlledCharge(() => false).effect, { leaseMs: 1_000, effectTimeoutMs: 1_000 })).toThrow(
      /effectTimeoutMs \(1000 ms\) is not shorter than leaseMs/,
    );
    expect(() => setup(controlledCharge(() => false).effect, { effectTimeoutMs: 0 })).toThrow(/positive/);
  });

  it('derives the default timeout from a short lease', async () => {
    const charge = controlledCharge((_, attempt) => attempt === 1);
    const { runtime, clock } = setup(charge.effect, { leaseMs: 4_000 });
    await runtime.start('payment', { id: 'd1', input: { amount: 1 } });
    const pass = runtime.runOnce();
    await tick(clock, 1_999);
    expect(charge.attempts[0]!.signal.aborted).toBe(false);
    await tick(clock, 1);
    expect((await pass).effectsRetried).toBe(1);
    expect(charge.attempts[0]!.signal.reason).toMatchObject({ details: { timeoutMs: 2_000 } });
  });
});
