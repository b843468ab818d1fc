/**
 * How many transactions a started worker spends moving a workflow along: one to claim its first effect, then one per
 * step (the transaction that settles a result also claims the next effect, and the emitted events), with a delivered
 * event marked done by a later transaction — and work started in this process reaches a worker at once, not at the
 * next poll.
 */
import { emit, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { type DomainEvent, type Persistence, createRuntime, defineWorkflow } from '../src/index.js';
import { createMemoryPersistence } from '../src/memory/index.js';

const threeSteps = setup({
  types: { events: {} as { type: 'one.done' } | { type: 'two.done' } | { type: 'three.done' } },
  actions: { one: () => {}, two: () => {}, three: () => {} },
}).createMachine({
  id: 'three-steps',
  initial: 'first',
  states: {
    first: { entry: 'one', on: { 'one.done': 'second' } },
    second: { entry: 'two', on: { 'two.done': 'third' } },
    third: { entry: 'three', on: { 'three.done': 'finished' } },
    finished: { type: 'final', entry: emit({ type: 'steps.finished' }) },
  },
});

function countingPersistence(inner: Persistence): Persistence & { count: number } {
  const counted = {
    name: inner.name,
    count: 0,
    transaction: ((work) => {
      counted.count++;
      return inner.transaction(work);
    }) as Persistence['transaction'],
    close: () => inner.close(),
  };
  return counted;
}

function setupThreeSteps() {
  const persistence = countingPersistence(createMemoryPersistence());
  const ran: string[] = [];
  const step = (name: string) => ({
    async run() {
      ran.push(name);
      return { ok: true };
    },
  });
  const runtime = createRuntime({
    persistence,
    workflows: [
      defineWorkflow({
        id: 'three-steps',
        version: 1,
        machine: threeSteps,
        effects: { one: step('one'), two: step('two'), three: step('three') },
      }),
    ],
  });
  return { persistence, runtime, ran };
}

/** Resolves with the transaction count at the moment the host is handed `steps.finished`. */
function finishedAt(runtime: ReturnType<typeof setupThreeSteps>['runtime'], persistence: { count: number }) {
  return new Promise<{ event: DomainEvent; transactions: number }>((resolve) => {
    runtime.onEvent((event) => {
      if (event.type === 'steps.finished') resolve({ event, transactions: persistence.count });
    });
  });
}

describe('started worker: transactions per step', () => {
  it('claims the first effect in one transaction and settles each step in one, which also claims the next', async () => {
    const { persistence, runtime, ran } = setupThreeSteps();
    const finished = finishedAt(runtime, persistence);
    // A poll far beyond the test's timeout: only the wake-up from start() can get the workflow going.
    const worker = runtime.startWorker({ pollMs: 3_600_000 });
    while (persistence.count === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve)); // the first, empty pass ends
    const before = persistence.count;

    await runtime.start('three-steps', { id: 'w1' });
    const { event, transactions } = await finished;

    expect(ran).toEqual(['one', 'two', 'three']);
    // start + one claim + three settling transactions (the last one also claims the event).
    expect(transactions - before).toBe(5);
    expect((await runtime.get('w1'))?.status).toBe('done');

    await worker.stop();
    const outbox = await persistence.transaction((tx) => tx.outbox.list({ workflowId: 'w1' }));
    expect(outbox.map((entry) => [entry.kind, entry.type, entry.status])).toEqual([
      ['effect', 'one', 'done'],
      ['effect', 'two', 'done'],
      ['effect', 'three', 'done'],
      ['event', 'steps.finished', 'done'],
    ]);
    expect(outbox.at(-1)?.id).toBe(event.id);
  });

  it('runOnce keeps its order — timers, effects, then the events they emitted — in as few transactions', async () => {
    const { persistence, runtime, ran } = setupThreeSteps();
    const delivered: string[] = [];
    runtime.onEvent((event) => void delivered.push(event.type));
    await runtime.start('three-steps', { id: 'w2' });
    const passes = [];
    for (let i = 0; i < 3; i++) passes.push(await runtime.runOnce());
    expect(ran).toEqual(['one', 'two', 'three']);
    expect(passes.map((p) => [p.effectsSucceeded, p.eventsDelivered])).toEqual([
      [1, 0],
      [1, 0],
      [1, 1],
    ]);
    expect(delivered).toEqual(['steps.finished']);
    const outbox = await persistence.transaction((tx) => tx.outbox.list({ workflowId: 'w2', kind: 'event' }));
    expect(outbox.map((entry) => entry.status)).toEqual(['done']);
  });
});
