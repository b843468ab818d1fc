/**
 * Several timer events settled for one workflow in one transaction (a restart after the clock passed two deadlines):
 * the row is written once, so the transitions share the version it moves to. The audit chain must still describe the
 * row, and the outbox ids (the effects' idempotency keys) of that write must not be reused by the next one.
 */
import { describe, expect, it } from 'vitest';
import { assign, raise, setup } from 'xstate';
import { createRuntime, defineWorkflow } from '../src/index.js';
import { createManualClock, createMemoryPersistence } from '../src/memory/index.js';

type TickEvent = { type: 'TICK'; n: number } | { type: 'GO' };

const machine = setup({
  types: { context: {} as { ticks: number }, events: {} as TickEvent },
  actions: { note: (_, _params: { n: number }) => {} },
}).createMachine({
  id: 'batched',
  context: { ticks: 0 },
  initial: 'waiting',
  // Two deadlines due at the same moment, like an offer's deadline and another's.
  entry: [
    raise({ type: 'TICK', n: 1 }, { id: 't1', delay: 1_000 }),
    raise({ type: 'TICK', n: 2 }, { id: 't2', delay: 1_000 }),
  ],
  states: {
    waiting: {
      on: {
        TICK: {
          actions: [
            assign({ ticks: ({ context }) => context.ticks + 1 }),
            { type: 'note', params: ({ event }) => ({ n: (event as { n: number }).n }) },
          ],
        },
        GO: { actions: { type: 'note', params: () => ({ n: 3 }) } },
      },
    },
  },
});

function setupBatched() {
  const clock = createManualClock();
  const persistence = createMemoryPersistence();
  const notes: { n: number; key: string }[] = [];
  const runtime = createRuntime({
    persistence,
    clock,
    scheduler: clock,
    workflows: [
      defineWorkflow({
        id: 'batched',
        version: 1,
        machine,
        effects: {
          note: {
            async run(params: { n: number }, effect) {
              notes.push({ n: params.n, key: effect.idempotencyKey });
            },
            onDone: () => null,
            onFailed: () => null,
          },
        },
      }),
    ],
  });
  return { runtime, clock, persistence, notes };
}

describe('transitions settled together', () => {
  it('keeps the audit chain in step with the row and gives every later effect a key of its own', async () => {
    const { runtime, clock, persistence, notes } = setupBatched();
    await runtime.start('batched', { id: 'w1', input: {} });
    clock.advance(1_000);
    const pass = await runtime.runOnce();
    expect(pass.timersFired).toBe(2);

    // Both deadlines were applied in one write: the row moved one version, and the audit says so.
    const after = await runtime.get('w1');
    expect(after?.context).toEqual({ ticks: 2 });
    expect(after?.rowVersion).toBe(2);
    const audit = await runtime.verifyAudit('w1');
    expect(audit.workflow).toEqual([]);
    expect(audit.ok).toBe(true);

    // The next write's effect gets an id (and idempotency key) of its own, not one the batch already used.
    const sent = await runtime.send('w1', { type: 'GO' });
    expect(sent.rowVersion).toBe(3);
    for (let i = 0; i < 5; i++) await runtime.runOnce();
    expect(notes.map((note) => note.n).sort()).toEqual([1, 2, 3]);
    expect(new Set(notes.map((note) => note.key)).size).toBe(3);
    const outbox = await persistence.transaction((tx) => tx.outbox.list({ workflowId: 'w1' }));
    expect(outbox.filter((entry) => entry.kind === 'effect')).toHaveLength(3);
    expect((await runtime.verifyAudit('w1')).ok).toBe(true);
  });
});
