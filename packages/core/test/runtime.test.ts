import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type Persistence,
  SealflowError,
  createRuntime,
  defineWorkflow,
  verifyAuditEntries,
} from '../src/index.js';
import { createManualClock, createMemoryLogger, createMemoryPersistence } from '../src/memory/index.js';
import { paymentWorkflow, scriptedCharge } from './fixtures/payment-workflow.js';

function setupRuntime(options: { outcomes?: Array<'ok' | 'retryable' | 'permanent'>; persistence?: Persistence } = {}) {
  const clock = createManualClock();
  const logger = createMemoryLogger();
  const persistence = options.persistence ?? createMemoryPersistence();
  const charge = scriptedCharge(options.outcomes);
  const runtime = createRuntime({
    persistence,
    clock,
    scheduler: clock,
    logger,
    workflows: [paymentWorkflow(charge.effect)],
  });
  return { runtime, clock, logger, persistence, charge };
}

async function expectError(promise: Promise<unknown>, code: string): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealflowError);
  expect((error as SealflowError).code).toBe(code);
  return error as SealflowError;
}

async function countAudit(persistence: Persistence, id: string) {
  return (await persistence.transaction((tx) => tx.audit.list(id))).length;
}

describe('durable runtime: transitions and effects', () => {
  it('writes the effect to the outbox with the state, runs it with a stable key and feeds the result back', async () => {
    const { runtime, persistence, charge } = setupRuntime();
    const started = await runtime.start('payment', { id: 'p1', input: { amount: 500 } });
    expect(started.stateValue).toBe('charging');
    expect(started.rowVersion).toBe(1);
    const outbox = await persistence.transaction((tx) => tx.outbox.list({ workflowId: 'p1' }));
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ kind: 'effect', type: 'charge', status: 'pending' });
    expect(charge.calls).toHaveLength(0);

    const pass = await runtime.runOnce();
    expect(pass.effectsSucceeded).toBe(1);
    expect(charge.calls).toEqual([{ amount: 500, idempotencyKey: outbox[0]!.id, attempt: 1 }]);
    const after = await runtime.get('p1');
    expect(after?.stateValue).toBe('awaitingConfirmation.quiet');
    expect(after?.context).toMatchObject({ receipt: `R-${outbox[0]!.id}` });
    expect((await persistence.transaction((tx) => tx.outbox.get(outbox[0]!.id)))?.status).toBe('done');

    // Nothing left to do: a second pass must not run the effect again.
    await runtime.runOnce();
    expect(charge.calls).toHaveLength(1);
  });

  it('serialises concurrent events on one workflow so none is lost', async () => {
    const { runtime } = setupRuntime();
    await runtime.start('payment', { id: 'p2', input: { amount: 100 } });
    await runtime.runOnce();
    await Promise.all(Array.from({ length: 25 }, () => runtime.send('p2', { type: 'TOP_UP', amount: 1 })));
    const state = await runtime.get('p2');
    expect(state?.context).toMatchObject({ amount: 125 });
    expect(state?.rowVersion).toBe(2 + 25);
  });

  it('publishes emitted domain events once each, with stable ids', async () => {
    const { runtime } = setupRuntime();
    const seen: { id: string; type: string }[] = [];
    runtime.onEvent((event) => void seen.push({ id: event.id, type: event.type }));
    await runtime.start('payment', { id: 'p3', input: { amount: 1 } });
    await runtime.runOnce();
    await runtime.runOnce();
    await runtime.runOnce();
    expect(seen.map((e) => e.type)).toEqual(['payment.charged']);
    expect(seen[0]!.id).toMatch(/^p3\//);
  });

  it('redelivers a domain event whose handler failed, with the same id', async () => {
    const { runtime, clock } = setupRuntime();
    const ids: string[] = [];
    let fail = true;
    runtime.onEvent((event) => {
      ids.push(event.id);
      if (fail) {
        fail = false;
        throw new Error('subscriber down');
      }
    });
    await runtime.start('payment', { id: 'p3b', input: { amount: 1 } });
    await runtime.runOnce();
    await runtime.runOnce();
    clock.advance(600_000);
    await runtime.runOnce();
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });
});

describe('durable runtime: timers', () => {
  it('fires delayed transitions from durable timers, once, and cancels them on exit', async () => {
    const { runtime, clock, persistence } = setupRuntime();
    await runtime.start('payment', { id: 't1', input: { amount: 1 } });
    await runtime.runOnce();
    let timers = await persistence.transaction((tx) => tx.timers.list({ workflowId: 't1' }));
    expect(timers.map((t) => t.dueAt - clock.now()).sort((a, b) => a - b)).toEqual([60_000, 3_600_000]);

    clock.advance(59_999);
    expect((await runtime.runOnce()).timersFired).toBe(0);
    clock.advance(1);
    expect((await runtime.runOnce()).timersFired).toBe(1);
    expect((await runtime.runOnce()).timersFired).toBe(0);
    expect((await runtime.get('t1'))?.context).toMatchObject({ reminders: 1 });

    await runtime.send('t1', { type: 'CONFIRM' });
    timers = await persistence.transaction((tx) => tx.timers.list({ workflowId: 't1' }));
    expect(timers).toEqual([]);
    clock.advance(10 * 3_600_000);
    await runtime.runOnce();
    expect((await runtime.get('t1'))?.stateValue).toBe('confirmed');
  });

  it('expires a workflow at its deadline even when a process restarted in between', async () => {
    const { runtime, clock, persistence } = setupRuntime();
    await runtime.start('payment', { id: 't2', input: { amount: 1 } });
    await runtime.runOnce();
    // A new runtime over the same store stands for a restarted host.
    const restarted = createRuntime({ persistence, clock, scheduler: clock, workflows: [paymentWorkflow()] });
    for (let i = 0; i < 60; i++) {
      clock.advance(60_000);
      await restarted.runOnce({ limit: 100 });
    }
    const state = await restarted.get('t2');
    expect(state?.stateValue).toBe('expired');
    expect(state?.status).toBe('done');
    expect(state?.context).toMatchObject({ reminders: 59 });
  });

  it('runs a background worker on the scheduler port', async () => {
    const { runtime, clock } = setupRuntime();
    await runtime.start('payment', { id: 't3', input: { amount: 1 } });
    const worker = runtime.startWorker({ pollMs: 1_000 });
    for (let i = 0; i < 20 && (await runtime.get('t3'))?.stateValue === 'charging'; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(1_000);
    }
    expect((await runtime.get('t3'))?.stateValue).toBe('awaitingConfirmation.quiet');
    await worker.stop();
    await runtime.stop();
  });
});

describe('durable runtime: retries and dead letters', () => {
  it('retries retryable failures with capped exponential backoff', async () => {
    const { runtime, clock, charge } = setupRuntime({ outcomes: ['retryable', 'retryable'] });
    await runtime.start('payment', { id: 'r1', input: { amount: 9 } });
    expect((await runtime.runOnce()).effectsRetried).toBe(1);
    clock.advance(999);
    expect((await runtime.runOnce()).effectsRetried).toBe(0);
    clock.advance(1);
    expect((await runtime.runOnce()).effectsRetried).toBe(1);
    clock.advance(1_999);
    await runtime.runOnce();
    expect(charge.calls).toHaveLength(2);
    clock.advance(1);
    expect((await runtime.runOnce()).effectsSucceeded).toBe(1);
    expect(charge.calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(new Set(charge.calls.map((c) => c.idempotencyKey)).size).toBe(1);
    expect((await runtime.get('r1'))?.stateValue).toBe('awaitingConfirmation.quiet');
  });

  it('dead-letters an effect after its attempts, and a person can retry it', async () => {
    const { runtime, clock, logger } = setupRuntime({ outcomes: ['retryable', 'retryable', 'retryable'] });
    await runtime.start('payment', { id: 'r2', input: { amount: 9 } });
    for (let i = 0; i < 3; i++) {
      await runtime.runOnce();
      clock.advance(60_000);
    }
    const dead = await runtime.deadLetters.list();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      workflowId: 'r2',
      type: 'charge',
      attempts: 3,
      lastError: expect.stringContaining('bank'),
    });
    expect(logger.records.some((r) => r.message === 'effect_dead_lettered')).toBe(true);
    expect((await runtime.get('r2'))?.stateValue).toBe('charging');

    await runtime.deadLetters.retry(dead[0]!.id);
    expect(await runtime.deadLetters.list()).toHaveLength(0);
    await runtime.runOnce();
    expect((await runtime.get('r2'))?.stateValue).toBe('awaitingConfirmation.quiet');
    await expectError(runtime.deadLetters.retry(dead[0]!.id), 'INVALID_INPUT');
    await expectError(runtime.deadLetters.retry('nope'), 'NOT_FOUND');
  });

  it('feeds a permanent failure back to the machine without retrying', async () => {
    const { runtime, charge } = setupRuntime({ outcomes: ['permanent'] });
    await runtime.start('payment', { id: 'r3', input: { amount: 9 } });
    expect((await runtime.runOnce()).effectsFailed).toBe(1);
    const state = await runtime.get('r3');
    expect(state?.stateValue).toBe('failed');
    expect(state?.context).toMatchObject({ error: 'CARD_DECLINED' });
    expect(charge.calls).toHaveLength(1);
  });

  it('applies a result once when a lease expired and a second worker ran the same effect', async () => {
    const { runtime, clock, persistence, charge } = setupRuntime();
    await runtime.start('payment', { id: 'r4', input: { amount: 9 } });
    // A worker that claims and then dies: its lease is all that is left of it.
    const ghost = await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken: 'ghost', now: clock.now(), leaseMs: 60_000, limit: 10 }),
    );
    expect(ghost).toHaveLength(1);
    expect((await runtime.runOnce()).effectsSucceeded).toBe(0);
    clock.advance(60_001);
    expect((await runtime.runOnce()).effectsSucceeded).toBe(1);
    expect(await persistence.transaction((tx) => tx.outbox.complete(ghost[0]!.id, 'ghost', clock.now()))).toBe(false);
    expect(charge.calls.map((c) => c.attempt)).toEqual([2]);
    expect((await runtime.get('r4'))?.rowVersion).toBe(2);
  });
});

describe('durable runtime: bad input leaves nothing half-written', () => {
  async function prepared() {
    const ctx = setupRuntime();
    await ctx.runtime.start('payment', {
      id: 'b1',
      input: { amount: 1, customer: { name: '张三', idNumber: '110101199003074514' } },
    });
    await ctx.runtime.runOnce();
    const before = await ctx.runtime.get('b1');
    const audit = await countAudit(ctx.persistence, 'b1');
    const unchanged = async () => {
      expect(await ctx.runtime.get('b1')).toEqual(before);
      expect(await countAudit(ctx.persistence, 'b1')).toBe(audit);
    };
    return { ...ctx, before: before!, unchanged };
  }

  it('rejects an unknown event, naming the events the machine knows', async () => {
    const { runtime, unchanged } = await prepared();
    const error = await expectError(runtime.send('b1', { type: 'REFUND' }), 'UNKNOWN_EVENT');
    expect(error.message).toContain('CONFIRM');
    await unchanged();
  });

  it('rejects an event the current state does not accept, naming what it accepts', async () => {
    const { runtime, unchanged } = await prepared();
    const error = await expectError(runtime.send('b1', { type: 'TOP_UP', amount: -5 }), 'EVENT_NOT_ACCEPTED');
    expect(error.message).toMatch(/awaitingConfirmation\.quiet/);
    await unchanged();
  });

  it('rejects an event for a finished workflow', async () => {
    const { runtime, persistence } = await prepared();
    await runtime.send('b1', { type: 'CANCEL' });
    const audit = await countAudit(persistence, 'b1');
    const error = await expectError(runtime.send('b1', { type: 'CONFIRM' }), 'WORKFLOW_FINISHED');
    expect(error.message).toContain('cancelled');
    expect(await countAudit(persistence, 'b1')).toBe(audit);
  });

  it('reports a version conflict when the caller pinned a stale version', async () => {
    const { runtime, before, persistence } = await prepared();
    await runtime.send('b1', { type: 'TOP_UP', amount: 1 }, { expectedVersion: before.rowVersion });
    const audit = await countAudit(persistence, 'b1');
    const error = await expectError(
      runtime.send('b1', { type: 'TOP_UP', amount: 1 }, { expectedVersion: before.rowVersion }),
      'VERSION_CONFLICT',
    );
    expect(error.retryable).toBe(true);
    expect((await runtime.get('b1'))?.context).toMatchObject({ amount: 2 });
    expect(await countAudit(persistence, 'b1')).toBe(audit);
  });

  it('refuses a corrupt snapshot with a typed error and changes nothing', async () => {
    const { runtime, persistence, before } = await prepared();
    await persistence.transaction(async (tx) => {
      const row = (await tx.workflows.get('b1'))!;
      await tx.workflows.update('b1', row.rowVersion, {
        ...row,
        snapshot: { value: 'nowhere', status: 'active', context: {} },
      });
    });
    const broken = await runtime.get('b1');
    const error = await expectError(runtime.send('b1', { type: 'CONFIRM' }), 'CORRUPT_SNAPSHOT');
    expect(error.message).toContain('b1');
    expect(await runtime.get('b1')).toEqual(broken);
    expect(broken?.rowVersion).toBe(before.rowVersion + 1);
    await persistence.transaction(async (tx) => {
      const row = (await tx.workflows.get('b1'))!;
      await tx.workflows.update('b1', row.rowVersion, { ...row, snapshot: 'garbage' });
    });
    await expectError(runtime.send('b1', { type: 'CONFIRM' }), 'CORRUPT_SNAPSHOT');
  });

  it('refuses to restore another machine version without a migration, and uses one when registered', async () => {
    const { persistence, clock } = await prepared();
    const v2 = createRuntime({ persistence, clock, scheduler: clock, workflows: [paymentWorkflow(undefined, 2)] });
    const error = await expectError(v2.send('b1', { type: 'CONFIRM' }), 'MIGRATION_MISSING');
    expect(error.message).toContain('migrations: { 1:');
    expect((await v2.get('b1'))?.stateValue).toBe('awaitingConfirmation.quiet');

    const migrated = createRuntime({
      persistence,
      clock,
      scheduler: clock,
      workflows: [
        paymentWorkflow(undefined, 2, {
          1: (s: { context: object }) => ({ ...s, context: { ...s.context, amount: 1000 } }),
        }),
      ],
    });
    const state = await migrated.send('b1', { type: 'TOP_UP', amount: 1 });
    expect(state.context).toMatchObject({ amount: 1001 });
    expect(state.machineVersion).toBe(2);
    // And a v1 process must now refuse the v2 row rather than misread it.
    const old = createRuntime({ persistence, clock, scheduler: clock, workflows: [paymentWorkflow(undefined, 1)] });
    await expectError(old.send('b1', { type: 'CONFIRM' }), 'MIGRATION_MISSING');
  });

  it('rejects duplicates, unknown types and malformed events at the boundary', async () => {
    const { runtime, persistence } = await prepared();
    await expectError(runtime.start('payment', { id: 'b1', input: { amount: 3 } }), 'DUPLICATE');
    expect(
      (await runtime.start('payment', { id: 'b1', input: { amount: 3 }, ifExists: 'return' })).context,
    ).toMatchObject({
      amount: 1,
    });
    await expectError(runtime.start('refund', { id: 'x' }), 'UNKNOWN_WORKFLOW_TYPE');
    await expectError(runtime.send('missing', { type: 'CONFIRM' }), 'NOT_FOUND');
    await expectError(runtime.send('b1', {} as never), 'INVALID_INPUT');
    expect(await persistence.transaction((tx) => tx.workflows.list())).toHaveLength(1);
  });

  it('keeps personal data out of the audit log and logs', async () => {
    const { persistence, logger } = await prepared();
    const audit = await persistence.transaction((tx) => tx.audit.list('b1'));
    const text = JSON.stringify(audit) + logger.text();
    expect(text).not.toContain('110101199003074514');
    expect(text).not.toContain('张三');
    expect(text).toContain('110101********4514');
  });
});

describe('durable runtime: audit chain', () => {
  it('records every step in a hash chain that verifies, and detects edits, removals and reordering', async () => {
    const { runtime, persistence } = setupRuntime();
    await runtime.start('payment', { id: 'a1', input: { amount: 1 } });
    await runtime.runOnce();
    await runtime.send('a1', { type: 'TOP_UP', amount: 2 });
    await runtime.send('a1', { type: 'CONFIRM' });
    expect(await runtime.verifyAudit('a1')).toMatchObject({ ok: true, entries: 4, problems: [], workflow: [] });

    const entries = await persistence.transaction((tx) => tx.audit.list('a1'));
    const edited: AuditEntry[] = entries.map((e) =>
      e.seq === 3 ? { ...e, data: { event: { type: 'TOP_UP', amount: 2000 } } } : e,
    );
    expect(verifyAuditEntries(edited).problems).toEqual([{ seq: 3, kind: 'hash-mismatch' }]);
    const removed = entries.filter((e) => e.seq !== 2);
    expect(verifyAuditEntries(removed).ok).toBe(false);
    const reordered = [entries[0]!, entries[2]!, entries[1]!, entries[3]!];
    expect(verifyAuditEntries(reordered).problems.map((p) => p.kind)).toContain('broken-link');
  });
});

describe('durable runtime: transition hook', () => {
  it('runs onTransition inside every saved change — start, send and settled results — and a throw aborts it', async () => {
    const clock = createManualClock();
    const persistence = createMemoryPersistence();
    const seen: string[] = [];
    let failOn: string | null = null;
    const base = paymentWorkflow();
    const workflow = defineWorkflow({
      id: base.id,
      version: base.version,
      machine: base.machine,
      effects: { ...base.effects },
      async onTransition(tx, state) {
        if (state.stateValue === failOn) throw new Error('record store refused');
        await tx.entities.insert({
          kind: 'hook-log',
          id: `${state.id}@${state.rowVersion}`,
          data: { state: state.stateValue },
          tags: {},
          uniqueKey: null,
          createdAt: clock.now(),
        });
        seen.push(`${state.rowVersion}:${state.stateValue}`);
      },
    });
    const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: [workflow] });
    await runtime.start('payment', { id: 'h1', input: { amount: 1 } });
    await runtime.runOnce();
    await runtime.send('h1', { type: 'TOP_UP', amount: 1 });
    expect(seen).toEqual(['1:charging', '2:awaitingConfirmation.quiet', '3:awaitingConfirmation.quiet']);

    failOn = 'confirmed';
    await expect(runtime.send('h1', { type: 'CONFIRM' })).rejects.toThrow('record store refused');
    expect((await runtime.get('h1'))?.stateValue).toBe('awaitingConfirmation.quiet');
    const logged = await persistence.transaction((tx) => tx.entities.find('hook-log'));
    expect(logged).toHaveLength(3);
  });
});
