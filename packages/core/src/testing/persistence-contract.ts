import { describe, expect, it } from 'vitest';
import type {
  AuditEntry,
  NewEntityRow,
  NewOutboxEntry,
  NewWorkflowRow,
  OutboxEntry,
  Persistence,
  PersistenceTransaction,
  TimerRow,
  WorkflowChange,
} from '../ports/persistence.js';

/** Options of `runPersistenceContract`. */
export interface PersistenceContractOptions {
  /** Shown in the suite title, such as `pglite`. */
  name: string;
  /** A fresh, empty persistence; every test makes its own and closes it. */
  create: () => Promise<Persistence>;
  /** Why the suite cannot run here (a missing database server); the suite is skipped and the reason printed. */
  skip?: string;
}

/**
 * The executable form of the rules in `ports/persistence.ts`. Call it at the top level of a vitest file:
 *
 * ```ts
 * runPersistenceContract({ name: 'mine', create: () => myPersistence() });
 * ```
 */
export function runPersistenceContract(options: PersistenceContractOptions): void {
  const { name, create, skip } = options;
  if (skip !== undefined) console.warn(`[sealflow] skipping ${name} persistence contract: ${skip}`);
  const suite = skip === undefined ? describe : describe.skip;
  const test = (title: string, body: (persistence: Persistence) => Promise<void>) =>
    it(title, async () => {
      const persistence = await create();
      try {
        await body(persistence);
      } finally {
        await persistence.close();
      }
    });

  suite(`${name} persistence contract`, () => {
    describe('transactions', () => transactionTests(test));
    describe('workflows', () => workflowTests(test));
    describe('outbox', () => outboxTests(test));
    describe('concurrent claims', () => concurrentClaimTests(test));
    describe('timers', () => timerTests(test));
    describe('audit', () => auditTests(test));
    describe('entities', () => entityTests(test));
    describe('JSON values and times', () => jsonTests(test));
    describe('batch operations', () => batchTests(test));
  });
}

type Test = (title: string, body: (persistence: Persistence) => Promise<void>) => void;

const T0 = Date.UTC(2026, 0, 1);

function newWorkflow(id: string, overrides: Partial<NewWorkflowRow> = {}): NewWorkflowRow {
  return {
    id,
    machineId: 'approval',
    machineVersion: 1,
    status: 'active',
    stateValue: 'pending',
    snapshot: { value: 'pending', context: { id } },
    createdAt: T0,
    ...overrides,
  };
}

function workflowChange(overrides: Partial<WorkflowChange> = {}): WorkflowChange {
  return {
    machineVersion: 1,
    status: 'active',
    stateValue: 'pending.legal',
    snapshot: { value: { pending: 'legal' } },
    updatedAt: T0 + 1000,
    ...overrides,
  };
}

function newOutboxEntry(id: string, overrides: Partial<NewOutboxEntry> = {}): NewOutboxEntry {
  return {
    id,
    workflowId: 'wf-1',
    kind: 'effect',
    type: 'sendForSigning',
    payload: { id },
    availableAt: T0,
    createdAt: T0,
    ...overrides,
  };
}

function newTimer(
  workflowId: string,
  timerId: string,
  overrides: Partial<TimerRow> = {},
): Omit<TimerRow, 'leaseUntil'> {
  return {
    workflowId,
    timerId,
    event: { type: `xstate.after.${timerId}` },
    dueAt: T0,
    token: `${workflowId}/${timerId}/1`,
    ...overrides,
  };
}

function auditEntry(streamId: string, seq: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    streamId,
    seq,
    type: 'approved',
    actor: 'user-7',
    data: { seq },
    at: T0 + seq,
    prevHash: String(seq - 1).padStart(64, '0'),
    hash: String(seq).padStart(64, '0'),
    ...overrides,
  };
}

function newEntity(kind: string, id: string, overrides: Partial<NewEntityRow> = {}): NewEntityRow {
  return { kind, id, data: { id }, tags: {}, uniqueKey: null, createdAt: T0, ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

// Matched by name and code, not `instanceof`: a bundled adapter may carry its own copy of the error classes.
async function expectDuplicate(promise: Promise<unknown>): Promise<void> {
  expect(await rejection(promise)).toMatchObject({ name: 'ConflictError', code: 'DUPLICATE' });
}

function read<T>(persistence: Persistence, work: (tx: PersistenceTransaction) => Promise<T>): Promise<T> {
  return persistence.transaction(work);
}

function ids(rows: ReadonlyArray<{ id: string }>): string[] {
  return rows.map((row) => row.id);
}

function transactionTests(test: Test): void {
  test('commits what the work wrote and returns its result', async (p) => {
    const result = await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1'));
      return 'done';
    });
    expect(result).toBe('done');
    expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toMatchObject({ id: 'wf-1', rowVersion: 1 });
  });

  test('reads inside a transaction see its own writes in every store', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1'));
      expect(await tx.workflows.update('wf-1', 1, workflowChange())).toBe(true);
      expect(await tx.workflows.get('wf-1')).toMatchObject({ rowVersion: 2, stateValue: 'pending.legal' });
      await tx.outbox.enqueue([newOutboxEntry('o-1')]);
      expect(ids(await tx.outbox.claim({ kind: 'effect', claimToken: 'c', now: T0, leaseMs: 10, limit: 5 }))).toEqual([
        'o-1',
      ]);
      await tx.timers.schedule(newTimer('wf-1', 't-1'));
      expect(await tx.timers.nextDueAt()).toBe(T0);
      await tx.audit.append(auditEntry('wf-1', 1));
      expect(await tx.audit.last('wf-1')).toMatchObject({ seq: 1 });
      await tx.entities.insert(newEntity('template', 'e-1', { uniqueKey: 'T-1', tags: { status: 'draft' } }));
      expect(await tx.entities.getByUniqueKey('template', 'T-1')).toMatchObject({ id: 'e-1' });
      expect(ids(await tx.entities.find('template', { tags: { status: 'draft' } }))).toEqual(['e-1']);
    });
  });

  test('a throw undoes every write in every store and rethrows the same error', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('seed'));
      await tx.outbox.enqueue([newOutboxEntry('o-seed')]);
      await tx.timers.schedule(newTimer('seed', 't-seed'));
      await tx.audit.append(auditEntry('seed', 1));
      await tx.entities.insert(newEntity('template', 'e-seed', { uniqueKey: 'K-1' }));
    });
    const failure = new Error('work failed');

    const thrown = await rejection(
      p.transaction(async (tx) => {
        await tx.workflows.insert(newWorkflow('wf-new'));
        await tx.workflows.update('seed', 1, workflowChange());
        await tx.outbox.enqueue([newOutboxEntry('o-new')]);
        await tx.outbox.claim({ kind: 'effect', claimToken: 'c', now: T0, leaseMs: 10, limit: 10 });
        await tx.timers.schedule(newTimer('seed', 't-new'));
        await tx.timers.cancel('seed', 't-seed');
        await tx.audit.append(auditEntry('seed', 2));
        await tx.entities.insert(newEntity('template', 'e-new', { uniqueKey: 'K-2' }));
        await tx.entities.update('template', 'e-seed', 1, {
          data: 'changed',
          tags: {},
          uniqueKey: 'K-3',
          updatedAt: T0,
        });
        throw failure;
      }),
    );

    expect(thrown).toBe(failure);
    await read(p, async (tx) => {
      expect(await tx.workflows.get('wf-new')).toBeNull();
      expect(await tx.workflows.get('seed')).toMatchObject({ rowVersion: 1, stateValue: 'pending' });
      expect(await tx.outbox.get('o-new')).toBeNull();
      expect(await tx.outbox.get('o-seed')).toMatchObject({ status: 'pending', attempts: 0, claimToken: null });
      expect((await tx.timers.list()).map((timer) => timer.timerId)).toEqual(['t-seed']);
      expect(await tx.audit.last('seed')).toMatchObject({ seq: 1 });
      expect(await tx.entities.get('template', 'e-new')).toBeNull();
      expect(await tx.entities.get('template', 'e-seed')).toMatchObject({ version: 1, uniqueKey: 'K-1' });
      expect(await tx.entities.getByUniqueKey('template', 'K-1')).toMatchObject({ id: 'e-seed' });
      expect(await tx.entities.getByUniqueKey('template', 'K-3')).toBeNull();
    });
  });

  test('a duplicate ends the transaction with DUPLICATE, keeps none of its writes, and the store stays usable', async (p) => {
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('seed')));

    await expectDuplicate(
      p.transaction(async (tx) => {
        await tx.workflows.insert(newWorkflow('wf-before'));
        await tx.workflows.insert(newWorkflow('seed'));
      }),
    );

    expect(await read(p, (tx) => tx.workflows.get('wf-before'))).toBeNull();
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-after')));
    expect(ids(await read(p, (tx) => tx.workflows.list()))).toEqual(['seed', 'wf-after']);
  });

  test('concurrent conditional updates of one row: exactly one wins', async (p) => {
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-1')));

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        p.transaction((tx) => tx.workflows.update('wf-1', 1, workflowChange({ stateValue: `s${i}` }))),
      ),
    );

    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toMatchObject({ rowVersion: 2, stateValue: `s${winner}` });
  });
}

function workflowTests(test: Test): void {
  test('insert stores rowVersion 1 and updatedAt = createdAt; get of an unknown id is null', async (p) => {
    const row = newWorkflow('wf-1', { machineVersion: 3, status: 'done', stateValue: 'approved' });
    await p.transaction((tx) => tx.workflows.insert(row));

    await read(p, async (tx) => {
      expect(await tx.workflows.get('wf-1')).toEqual({ ...row, rowVersion: 1, updatedAt: row.createdAt });
      expect(await tx.workflows.get('wf-2')).toBeNull();
    });
  });

  test('insert of an existing id throws DUPLICATE', async (p) => {
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-1')));
    await expectDuplicate(p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-1', { machineId: 'other' }))));
    expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toMatchObject({ machineId: 'approval' });
  });

  test('update replaces the state when the version matches; rowVersion goes up by exactly 1', async (p) => {
    const row = newWorkflow('wf-1');
    await p.transaction((tx) => tx.workflows.insert(row));
    const first = workflowChange({ machineVersion: 2, status: 'active', updatedAt: T0 + 10 });
    const second = workflowChange({ status: 'done', stateValue: 'approved', snapshot: ['end'], updatedAt: T0 + 20 });

    await p.transaction(async (tx) => {
      expect(await tx.workflows.update('wf-1', 1, first)).toBe(true);
      expect(await tx.workflows.update('wf-1', 2, second)).toBe(true);
    });

    expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toEqual({
      id: 'wf-1',
      machineId: row.machineId,
      createdAt: row.createdAt,
      ...second,
      rowVersion: 3,
    });
  });

  test('update with a stale version or an unknown id returns false and writes nothing', async (p) => {
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-1')));

    await p.transaction(async (tx) => {
      expect(await tx.workflows.update('wf-1', 1, workflowChange())).toBe(true);
      expect(await tx.workflows.update('wf-1', 1, workflowChange({ stateValue: 'stale' }))).toBe(false);
      expect(await tx.workflows.update('wf-1', 3, workflowChange({ stateValue: 'ahead' }))).toBe(false);
      expect(await tx.workflows.update('wf-2', 1, workflowChange())).toBe(false);
    });

    expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toMatchObject({
      rowVersion: 2,
      stateValue: 'pending.legal',
    });
    expect(await read(p, (tx) => tx.workflows.get('wf-2'))).toBeNull();
  });

  test('list orders by id and filters by machineId, status and stateValue', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('c', { machineId: 'approval', status: 'active', stateValue: 'legal' }));
      await tx.workflows.insert(newWorkflow('a', { machineId: 'approval', status: 'done', stateValue: 'approved' }));
      await tx.workflows.insert(newWorkflow('d', { machineId: 'signing', status: 'active', stateValue: 'legal' }));
      await tx.workflows.insert(newWorkflow('b', { machineId: 'approval', status: 'active', stateValue: 'finance' }));
    });

    await read(p, async (tx) => {
      expect(ids(await tx.workflows.list())).toEqual(['a', 'b', 'c', 'd']);
      expect(ids(await tx.workflows.list({ machineId: 'approval' }))).toEqual(['a', 'b', 'c']);
      expect(ids(await tx.workflows.list({ status: 'active' }))).toEqual(['b', 'c', 'd']);
      expect(ids(await tx.workflows.list({ stateValue: 'legal' }))).toEqual(['c', 'd']);
      expect(ids(await tx.workflows.list({ machineId: 'approval', status: 'active', stateValue: 'legal' }))).toEqual([
        'c',
      ]);
      expect(await tx.workflows.list({ machineId: 'none' })).toEqual([]);
    });
  });

  test('list pages with afterId and limit, 100 rows by default', async (p) => {
    const all = Array.from({ length: 105 }, (_, i) => `wf-${String(i).padStart(3, '0')}`);
    await p.transaction(async (tx) => {
      for (const id of [...all].reverse()) await tx.workflows.insert(newWorkflow(id));
    });

    await read(p, async (tx) => {
      expect(ids(await tx.workflows.list())).toEqual(all.slice(0, 100));
      expect(ids(await tx.workflows.list({ afterId: 'wf-099' }))).toEqual(all.slice(100));
      expect(ids(await tx.workflows.list({ afterId: 'wf-010', limit: 3 }))).toEqual(['wf-011', 'wf-012', 'wf-013']);
      expect(ids(await tx.workflows.list({ afterId: 'wf-0105' }))).toEqual(all.slice(11, 111));
    });
  });
}

function outboxTests(test: Test): void {
  const claim = (p: Persistence, now: number, claimToken = `claim-${now}`, limit = 10, leaseMs = 1000) =>
    p.transaction((tx) => tx.outbox.claim({ kind: 'effect', claimToken, now, leaseMs, limit }));
  const get = (p: Persistence, id: string) => read(p, (tx) => tx.outbox.get(id));

  test('enqueue stores pending entries with no attempts and no claim; get of an unknown id is null', async (p) => {
    const entry = newOutboxEntry('o-1', { kind: 'event', availableAt: T0 + 5, createdAt: T0 + 1 });
    await p.transaction((tx) => tx.outbox.enqueue([entry]));

    expect(await get(p, 'o-1')).toEqual({
      ...entry,
      status: 'pending',
      attempts: 0,
      claimToken: null,
      leaseUntil: null,
      lastError: null,
      updatedAt: entry.createdAt,
    } satisfies OutboxEntry);
    expect(await get(p, 'o-2')).toBeNull();
  });

  test('enqueue is idempotent: an existing id keeps its first entry, even within one batch', async (p) => {
    await p.transaction((tx) => tx.outbox.enqueue([newOutboxEntry('o-1', { payload: 'first' })]));
    await claim(p, T0, 'c-1');

    await p.transaction(async (tx) => {
      await tx.outbox.enqueue([
        newOutboxEntry('o-1', { payload: 'second' }),
        newOutboxEntry('o-2', { payload: 'first' }),
        newOutboxEntry('o-2', { payload: 'second' }),
      ]);
      await tx.outbox.enqueue([]);
    });

    expect(await get(p, 'o-1')).toMatchObject({ payload: 'first', status: 'running', claimToken: 'c-1', attempts: 1 });
    expect(await get(p, 'o-2')).toMatchObject({ payload: 'first', status: 'pending' });
  });

  test('claim takes available pending entries of its kind, oldest availableAt then id first, up to limit', async (p) => {
    await p.transaction((tx) =>
      tx.outbox.enqueue([
        newOutboxEntry('c', { availableAt: T0 }),
        newOutboxEntry('a', { availableAt: T0 }),
        newOutboxEntry('b', { availableAt: T0 - 10 }),
        newOutboxEntry('later', { availableAt: T0 + 1 }),
        newOutboxEntry('event', { kind: 'event', availableAt: T0 - 100 }),
        newOutboxEntry('webhook', { kind: 'webhook', availableAt: T0 - 200 }),
      ]),
    );

    const first = await claim(p, T0, 'c-1', 2, 500);
    expect(ids(first)).toEqual(['b', 'a']);
    expect(first[0]).toMatchObject({ status: 'running', claimToken: 'c-1', leaseUntil: T0 + 500, attempts: 1 });
    expect(first[0]?.updatedAt).toBe(T0);
    expect(ids(await claim(p, T0, 'c-2', 2))).toEqual(['c']);
    expect(await claim(p, T0, 'c-3', 2)).toEqual([]);
    expect(await get(p, 'a')).toMatchObject({ status: 'running', claimToken: 'c-1', leaseUntil: T0 + 500 });
    expect(
      ids(
        await p.transaction((tx) => tx.outbox.claim({ kind: 'event', claimToken: 'e', now: T0, leaseMs: 1, limit: 5 })),
      ),
    ).toEqual(['event']);
    const webhooks = await p.transaction((tx) =>
      tx.outbox.claim({ kind: 'webhook', claimToken: 'w', now: T0, leaseMs: 1, limit: 5 }),
    );
    expect(webhooks.map((entry) => [entry.id, entry.kind])).toEqual([['webhook', 'webhook']]);
  });

  test('an entry becomes claimable exactly at availableAt', async (p) => {
    await p.transaction((tx) => tx.outbox.enqueue([newOutboxEntry('o-1', { availableAt: T0 + 1000 })]));

    expect(await claim(p, T0 + 999)).toEqual([]);
    expect(ids(await claim(p, T0 + 1000))).toEqual(['o-1']);
  });

  test('a running entry is claimed again only after its lease has passed, counting attempts', async (p) => {
    await p.transaction((tx) => tx.outbox.enqueue([newOutboxEntry('o-1')]));
    await claim(p, T0, 'c-1', 10, 1000);

    expect(await claim(p, T0 + 1000, 'c-2')).toEqual([]);
    const reclaimed = await claim(p, T0 + 1001, 'c-3', 10, 1000);
    expect(reclaimed).toEqual([
      expect.objectContaining({ id: 'o-1', claimToken: 'c-3', attempts: 2, leaseUntil: T0 + 2001 }),
    ]);
    await p.transaction(async (tx) => {
      expect(await tx.outbox.complete('o-1', 'c-1', T0 + 1002)).toBe(false);
      expect(await tx.outbox.release('o-1', 'c-1', { status: 'dead', availableAt: T0, error: 'x', now: T0 })).toBe(
        false,
      );
      expect(await tx.outbox.complete('o-1', 'c-3', T0 + 1002)).toBe(true);
    });
  });

  test('complete marks the entry done and clears the claim, only for the current token', async (p) => {
    await p.transaction((tx) => tx.outbox.enqueue([newOutboxEntry('o-1'), newOutboxEntry('o-2')]));
    await claim(p, T0, 'c-1');

    await p.transaction(async (tx) => {
      expect(await tx.outbox.complete('o-1', 'wrong', T0 + 5)).toBe(false);
      expect(await tx.outbox.complete('o-1', 'c-1', T0 + 5)).toBe(true);
      expect(await tx.outbox.complete('o-1', 'c-1', T0 + 6)).toBe(false);
      expect(await tx.outbox.complete('missing', 'c-1', T0 + 6)).toBe(false);
    });

    expect(await get(p, 'o-1')).toMatchObject({
      status: 'done',
      claimToken: null,
      leaseUntil: null,
      attempts: 1,
      updatedAt: T0 + 5,
    });
    expect(await get(p, 'o-2')).toMatchObject({ status: 'running', claimToken: 'c-1' });
    expect(await claim(p, T0 + 1_000_000)).toEqual([expect.objectContaining({ id: 'o-2' })]);
  });

  test('release returns an entry for a retry at availableAt, or marks it failed or dead', async (p) => {
    await p.transaction((tx) => tx.outbox.enqueue(['o-1', 'o-2', 'o-3'].map((id) => newOutboxEntry(id))));
    await claim(p, T0, 'c-1');

    await p.transaction(async (tx) => {
      const retry = { status: 'pending', availableAt: T0 + 5000, error: 'timeout', now: T0 + 10 } as const;
      expect(await tx.outbox.release('o-1', 'wrong', retry)).toBe(false);
      expect(await tx.outbox.release('o-1', 'c-1', retry)).toBe(true);
      expect(await tx.outbox.release('o-1', 'c-1', retry)).toBe(false);
      expect(await tx.outbox.release('o-2', 'c-1', { ...retry, status: 'failed', error: 'rejected' })).toBe(true);
      expect(await tx.outbox.release('o-3', 'c-1', { ...retry, status: 'dead', error: null })).toBe(true);
    });

    expect(await get(p, 'o-1')).toMatchObject({
      status: 'pending',
      availableAt: T0 + 5000,
      lastError: 'timeout',
      claimToken: null,
      leaseUntil: null,
      attempts: 1,
      updatedAt: T0 + 10,
    });
    expect(await get(p, 'o-2')).toMatchObject({ status: 'failed', lastError: 'rejected', claimToken: null });
    expect(await get(p, 'o-3')).toMatchObject({ status: 'dead', lastError: null, claimToken: null });
    expect(await claim(p, T0 + 4999)).toEqual([]);
    expect(await claim(p, T0 + 5000)).toEqual([expect.objectContaining({ id: 'o-1', attempts: 2 })]);
  });

  test('requeue moves failed and dead entries back to pending at now with attempts reset', async (p) => {
    const all = ['a-done', 'b-failed', 'c-dead', 'd-running', 'e-pending'];
    await p.transaction((tx) => tx.outbox.enqueue(all.map((id) => newOutboxEntry(id))));
    await claim(p, T0, 'c-1');
    await p.transaction(async (tx) => {
      await tx.outbox.complete('a-done', 'c-1', T0);
      await tx.outbox.release('b-failed', 'c-1', { status: 'failed', availableAt: T0, error: 'no', now: T0 });
      await tx.outbox.release('c-dead', 'c-1', { status: 'dead', availableAt: T0, error: 'gone', now: T0 });
      await tx.outbox.release('e-pending', 'c-1', { status: 'pending', availableAt: T0, error: 'retry', now: T0 });
    });

    await p.transaction(async (tx) => {
      for (const id of ['a-done', 'd-running', 'e-pending', 'missing']) {
        expect(await tx.outbox.requeue(id, T0 + 50)).toBe(false);
      }
      expect(await tx.outbox.requeue('b-failed', T0 + 50)).toBe(true);
      expect(await tx.outbox.requeue('c-dead', T0 + 60)).toBe(true);
    });

    expect(await get(p, 'b-failed')).toMatchObject({ status: 'pending', attempts: 0, availableAt: T0 + 50 });
    expect(await get(p, 'c-dead')).toMatchObject({ status: 'pending', attempts: 0, availableAt: T0 + 60 });
    expect(await get(p, 'd-running')).toMatchObject({ status: 'running', attempts: 1 });
    expect(await get(p, 'e-pending')).toMatchObject({ status: 'pending', attempts: 1 });
    expect(ids(await claim(p, T0 + 100, 'c-2'))).toEqual(['e-pending', 'b-failed', 'c-dead']);
  });

  test('list orders by createdAt then id, filters by workflowId, kind and status, and pages in that order', async (p) => {
    await p.transaction((tx) =>
      tx.outbox.enqueue([
        newOutboxEntry('z', { createdAt: T0 + 1, workflowId: 'wf-1' }),
        newOutboxEntry('y', { createdAt: T0 + 2, workflowId: 'wf-2', kind: 'event' }),
        newOutboxEntry('b', { createdAt: T0 + 2, workflowId: 'wf-1' }),
        newOutboxEntry('a', { createdAt: T0 + 3, workflowId: 'wf-2', availableAt: T0 + 99 }),
      ]),
    );
    await claim(p, T0);

    await read(p, async (tx) => {
      expect(ids(await tx.outbox.list())).toEqual(['z', 'b', 'y', 'a']);
      expect(ids(await tx.outbox.list({ workflowId: 'wf-2' }))).toEqual(['y', 'a']);
      expect(ids(await tx.outbox.list({ kind: 'event' }))).toEqual(['y']);
      expect(ids(await tx.outbox.list({ status: 'running' }))).toEqual(['z', 'b']);
      expect(ids(await tx.outbox.list({ status: 'pending', kind: 'effect' }))).toEqual(['a']);
      expect(ids(await tx.outbox.list({ limit: 2 }))).toEqual(['z', 'b']);
      expect(ids(await tx.outbox.list({ afterId: 'b', limit: 1 }))).toEqual(['y']);
      expect(ids(await tx.outbox.list({ afterId: 'y' }))).toEqual(['a']);
      expect(await tx.outbox.list({ afterId: 'missing' })).toEqual([]);
    });
  });
}

function concurrentClaimTests(test: Test): void {
  async function drain<T>(claimers: number, claimOnce: (claimer: number, round: number) => Promise<T[]>): Promise<T[]> {
    const claimed: T[] = [];
    await Promise.all(
      Array.from({ length: claimers }, async (_, claimer) => {
        for (let round = 0; ; round++) {
          const batch = await claimOnce(claimer, round);
          if (batch.length === 0) return;
          claimed.push(...batch);
        }
      }),
    );
    return claimed;
  }

  test('parallel outbox claimers never receive the same entry and together drain the queue', async (p) => {
    const all = Array.from({ length: 200 }, (_, i) => `o-${String(i).padStart(3, '0')}`);
    await p.transaction((tx) => tx.outbox.enqueue(all.map((id, i) => newOutboxEntry(id, { availableAt: T0 - i }))));

    const claimed = await drain(8, (claimer, round) =>
      p.transaction((tx) =>
        tx.outbox.claim({ kind: 'effect', claimToken: `c-${claimer}-${round}`, now: T0, leaseMs: 60_000, limit: 10 }),
      ),
    );

    const claimedIds = ids(claimed);
    expect(new Set(claimedIds).size).toBe(claimedIds.length);
    expect([...claimedIds].sort()).toEqual(all);
    expect(claimed.every((entry) => entry.attempts === 1)).toBe(true);
  });

  test('parallel timer claimers never receive the same timer and together take every due one', async (p) => {
    const all = Array.from({ length: 120 }, (_, i) => `t-${String(i).padStart(3, '0')}`);
    await p.transaction(async (tx) => {
      for (const [i, timerId] of all.entries()) await tx.timers.schedule(newTimer('wf-1', timerId, { dueAt: T0 - i }));
    });

    const claimed = await drain(6, () =>
      p.transaction((tx) => tx.timers.claimDue({ now: T0, leaseMs: 60_000, limit: 7 })),
    );

    const claimedIds = claimed.map((timer) => timer.timerId);
    expect(new Set(claimedIds).size).toBe(claimedIds.length);
    expect([...claimedIds].sort()).toEqual(all);
  });
}

function timerTests(test: Test): void {
  const list = (p: Persistence, filter?: { workflowId?: string; limit?: number }) =>
    read(p, (tx) => tx.timers.list(filter));
  const keys = (timers: TimerRow[]) => timers.map((timer) => `${timer.workflowId}/${timer.timerId}`);

  test('schedule stores the timer without a lease; list orders by dueAt, workflowId, timerId', async (p) => {
    await p.transaction(async (tx) => {
      await tx.timers.schedule(newTimer('wf-b', 't-1', { dueAt: T0 }));
      await tx.timers.schedule(newTimer('wf-a', 't-2', { dueAt: T0 }));
      await tx.timers.schedule(newTimer('wf-a', 't-1', { dueAt: T0 }));
      await tx.timers.schedule(newTimer('wf-c', 't-1', { dueAt: T0 - 1 }));
    });

    const timers = await list(p);
    expect(keys(timers)).toEqual(['wf-c/t-1', 'wf-a/t-1', 'wf-a/t-2', 'wf-b/t-1']);
    expect(timers[1]).toEqual({ ...newTimer('wf-a', 't-1'), leaseUntil: null });
    expect(keys(await list(p, { workflowId: 'wf-a' }))).toEqual(['wf-a/t-1', 'wf-a/t-2']);
    expect(keys(await list(p, { limit: 2 }))).toEqual(['wf-c/t-1', 'wf-a/t-1']);
  });

  test('schedule replaces the timer of the same workflow and id, with a new token, and clears its lease', async (p) => {
    await p.transaction((tx) => tx.timers.schedule(newTimer('wf-1', 't-1')));
    await p.transaction((tx) => tx.timers.claimDue({ now: T0, leaseMs: 1000, limit: 10 }));
    const replacement = newTimer('wf-1', 't-1', { dueAt: T0 + 50, token: 'second', event: { type: 'again' } });

    await p.transaction((tx) => tx.timers.schedule(replacement));

    expect(await list(p)).toEqual([{ ...replacement, leaseUntil: null }]);
    expect(await p.transaction((tx) => tx.timers.claimDue({ now: T0 + 50, leaseMs: 1000, limit: 10 }))).toEqual([
      { ...replacement, leaseUntil: T0 + 1050 },
    ]);
  });

  test('cancel removes one timer and cancelAll every timer of a workflow', async (p) => {
    await p.transaction(async (tx) => {
      for (const [workflowId, timerId] of [
        ['wf-1', 't-1'],
        ['wf-1', 't-2'],
        ['wf-1', 't-3'],
        ['wf-2', 't-1'],
      ] as const) {
        await tx.timers.schedule(newTimer(workflowId, timerId));
      }
    });

    await p.transaction(async (tx) => {
      await tx.timers.cancel('wf-1', 't-2');
      await tx.timers.cancel('wf-1', 'missing');
    });
    expect(keys(await list(p))).toEqual(['wf-1/t-1', 'wf-1/t-3', 'wf-2/t-1']);

    await p.transaction((tx) => tx.timers.cancelAll('wf-1'));
    expect(keys(await list(p))).toEqual(['wf-2/t-1']);

    await p.transaction(async (tx) => {
      await tx.timers.schedule(newTimer('wf-3', 't-1'));
      await tx.timers.schedule(newTimer('wf-4', 't-1'));
      await tx.timers.cancelAll([]);
      await tx.timers.cancelAll(['wf-2', 'wf-3', 'missing']);
    });
    expect(keys(await list(p))).toEqual(['wf-4/t-1']);
  });

  test('claimDue leases due timers earliest first and skips leased ones until the lease has passed', async (p) => {
    await p.transaction(async (tx) => {
      await tx.timers.schedule(newTimer('wf-1', 'b', { dueAt: T0 + 10 }));
      await tx.timers.schedule(newTimer('wf-1', 'a', { dueAt: T0 }));
      await tx.timers.schedule(newTimer('wf-1', 'c', { dueAt: T0 + 20 }));
      await tx.timers.schedule(newTimer('wf-1', 'future', { dueAt: T0 + 10_000 }));
    });
    const claimDue = (now: number, limit = 10) =>
      p.transaction(async (tx) => (await tx.timers.claimDue({ now, leaseMs: 500, limit })).map((t) => t.timerId));

    const first = await p.transaction((tx) => tx.timers.claimDue({ now: T0 + 20, leaseMs: 500, limit: 2 }));
    expect(first).toEqual([
      { ...newTimer('wf-1', 'a', { dueAt: T0 }), leaseUntil: T0 + 520 },
      { ...newTimer('wf-1', 'b', { dueAt: T0 + 10 }), leaseUntil: T0 + 520 },
    ]);
    expect(await claimDue(T0 + 20)).toEqual(['c']);
    expect(await claimDue(T0 + 20)).toEqual([]);
    expect(await claimDue(T0 + 520)).toEqual([]);
    expect(await claimDue(T0 + 521)).toEqual(['a', 'b', 'c']);
    expect((await list(p)).find((timer) => timer.timerId === 'future')?.leaseUntil).toBeNull();
  });

  test('remove deletes the timer only while it still carries the token', async (p) => {
    await p.transaction((tx) => tx.timers.schedule(newTimer('wf-1', 't-1', { token: 'first' })));
    await p.transaction((tx) => tx.timers.schedule(newTimer('wf-1', 't-1', { token: 'second' })));

    await p.transaction(async (tx) => {
      expect(await tx.timers.remove('wf-1', 't-1', 'first')).toBe(false);
      expect(await tx.timers.remove('wf-2', 't-1', 'second')).toBe(false);
    });
    expect(keys(await list(p))).toEqual(['wf-1/t-1']);

    await p.transaction(async (tx) => {
      expect(await tx.timers.remove('wf-1', 't-1', 'second')).toBe(true);
      expect(await tx.timers.remove('wf-1', 't-1', 'second')).toBe(false);
    });
    expect(await list(p)).toEqual([]);
  });

  test('nextDueAt is the earliest dueAt of all timers, leased or not, or null without timers', async (p) => {
    expect(await read(p, (tx) => tx.timers.nextDueAt())).toBeNull();
    await p.transaction(async (tx) => {
      await tx.timers.schedule(newTimer('wf-1', 't-1', { dueAt: T0 + 300 }));
      await tx.timers.schedule(newTimer('wf-2', 't-1', { dueAt: T0 + 100 }));
      await tx.timers.claimDue({ now: T0 + 100, leaseMs: 1000, limit: 10 });
    });

    expect(await read(p, (tx) => tx.timers.nextDueAt())).toBe(T0 + 100);
    await p.transaction((tx) => tx.timers.cancel('wf-2', 't-1'));
    expect(await read(p, (tx) => tx.timers.nextDueAt())).toBe(T0 + 300);
  });
}

function auditTests(test: Test): void {
  test('append stores entries verbatim; last is the highest seq of the stream, or null', async (p) => {
    expect(await read(p, (tx) => tx.audit.last('wf-1'))).toBeNull();
    await p.transaction(async (tx) => {
      for (const seq of [1, 2, 3]) await tx.audit.append(auditEntry('wf-1', seq));
      await tx.audit.append(auditEntry('wf-2', 9));
    });

    await read(p, async (tx) => {
      expect(await tx.audit.last('wf-1')).toEqual(auditEntry('wf-1', 3));
      expect(await tx.audit.last('wf-2')).toEqual(auditEntry('wf-2', 9));
      expect(await tx.audit.last('wf-3')).toBeNull();
    });
  });

  test('append of an existing (streamId, seq) throws DUPLICATE; the same seq in another stream is fine', async (p) => {
    await p.transaction((tx) => tx.audit.append(auditEntry('wf-1', 1)));

    await expectDuplicate(p.transaction((tx) => tx.audit.append(auditEntry('wf-1', 1, { type: 'other' }))));
    await p.transaction((tx) => tx.audit.append(auditEntry('wf-2', 1)));

    expect(await read(p, (tx) => tx.audit.list('wf-1'))).toEqual([auditEntry('wf-1', 1)]);
  });

  test('list orders by seq from fromSeq (inclusive) up to limit, within one stream', async (p) => {
    await p.transaction(async (tx) => {
      for (const seq of [1, 2, 3, 4, 5]) await tx.audit.append(auditEntry('wf-1', seq));
      await tx.audit.append(auditEntry('wf-2', 1));
    });
    const seqs = (entries: AuditEntry[]) => entries.map((entry) => entry.seq);

    await read(p, async (tx) => {
      expect(seqs(await tx.audit.list('wf-1'))).toEqual([1, 2, 3, 4, 5]);
      expect(seqs(await tx.audit.list('wf-1', { fromSeq: 3 }))).toEqual([3, 4, 5]);
      expect(seqs(await tx.audit.list('wf-1', { fromSeq: 2, limit: 2 }))).toEqual([2, 3]);
      expect(seqs(await tx.audit.list('wf-1', { limit: 1 }))).toEqual([1]);
      expect(await tx.audit.list('wf-3')).toEqual([]);
    });
  });
}

function entityTests(test: Test): void {
  const change = (overrides: Partial<NewEntityRow & { updatedAt: number }> = {}) => ({
    data: { changed: true },
    tags: { status: 'published' },
    uniqueKey: null,
    updatedAt: T0 + 100,
    ...overrides,
  });

  test('a NUL character in a key or tag is refused with INVALID_INPUT and nothing is written; JSON may hold one', async (p) => {
    for (const row of [
      newEntity('template', 'e-nul', { uniqueKey: 'a\u0000b' }),
      newEntity('template', 'e-nul', { tags: { status: 'x\u0000y' } }),
    ]) {
      const attempt = p.transaction((tx) => tx.entities.insert(row));
      await expect(attempt).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('NUL') });
    }
    expect(await p.transaction((tx) => tx.entities.get('template', 'e-nul'))).toBeNull();
    await p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-json', { data: { text: 'a\u0000b' } })));
    expect((await p.transaction((tx) => tx.entities.get('template', 'e-json')))?.data).toEqual({ text: 'a\u0000b' });
  });

  test('insert stores version 1; get and getByUniqueKey find it; unknown keys give null', async (p) => {
    const row = newEntity('template', 'e-1', { tags: { status: 'draft', owner: 'o-1' }, uniqueKey: 'T-100' });
    await p.transaction((tx) => tx.entities.insert(row));

    await read(p, async (tx) => {
      const stored = { ...row, version: 1, updatedAt: row.createdAt };
      expect(await tx.entities.get('template', 'e-1')).toEqual(stored);
      expect(await tx.entities.getByUniqueKey('template', 'T-100')).toEqual(stored);
      expect(await tx.entities.get('template', 'e-2')).toBeNull();
      expect(await tx.entities.get('institution', 'e-1')).toBeNull();
      expect(await tx.entities.getByUniqueKey('template', 'T-101')).toBeNull();
      expect(await tx.entities.getByUniqueKey('institution', 'T-100')).toBeNull();
    });
  });

  test('insert of an existing (kind, id) throws DUPLICATE; the same id in another kind is fine', async (p) => {
    await p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-1')));

    await expectDuplicate(p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-1', { data: 'again' }))));
    await p.transaction((tx) => tx.entities.insert(newEntity('institution', 'e-1')));

    expect(await read(p, (tx) => tx.entities.get('template', 'e-1'))).toMatchObject({ data: { id: 'e-1' } });
  });

  test('insert of a uniqueKey taken in the kind throws DUPLICATE; other kinds and null keys never conflict', async (p) => {
    await p.transaction(async (tx) => {
      await tx.entities.insert(newEntity('template', 'e-1', { uniqueKey: 'K' }));
      await tx.entities.insert(newEntity('template', 'e-2'));
      await tx.entities.insert(newEntity('template', 'e-3'));
      await tx.entities.insert(newEntity('institution', 'e-1', { uniqueKey: 'K' }));
    });

    await expectDuplicate(p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-4', { uniqueKey: 'K' }))));

    expect(await read(p, (tx) => tx.entities.get('template', 'e-4'))).toBeNull();
    expect(await read(p, (tx) => tx.entities.getByUniqueKey('template', 'K'))).toMatchObject({ id: 'e-1' });
  });

  test('update replaces data, tags and uniqueKey when the version matches; version goes up by 1', async (p) => {
    await p.transaction((tx) =>
      tx.entities.insert(newEntity('template', 'e-1', { uniqueKey: 'old', tags: { a: '1' } })),
    );

    await p.transaction(async (tx) => {
      expect(await tx.entities.update('template', 'e-1', 1, change({ uniqueKey: 'new' }))).toBe(true);
    });

    await read(p, async (tx) => {
      const expected = {
        kind: 'template',
        id: 'e-1',
        version: 2,
        data: { changed: true },
        tags: { status: 'published' },
        uniqueKey: 'new',
        createdAt: T0,
        updatedAt: T0 + 100,
      };
      expect(await tx.entities.get('template', 'e-1')).toEqual(expected);
      expect(await tx.entities.getByUniqueKey('template', 'new')).toEqual(expected);
      expect(await tx.entities.getByUniqueKey('template', 'old')).toBeNull();
    });
    await p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-2', { uniqueKey: 'old' })));
    await p.transaction(async (tx) => {
      expect(await tx.entities.update('template', 'e-1', 2, change({ uniqueKey: null }))).toBe(true);
      expect(await tx.entities.update('template', 'e-2', 1, change({ uniqueKey: 'new' }))).toBe(true);
    });
    expect(await read(p, (tx) => tx.entities.getByUniqueKey('template', 'new'))).toMatchObject({ id: 'e-2' });
  });

  test('update with a stale version or an unknown id returns false and writes nothing', async (p) => {
    await p.transaction((tx) => tx.entities.insert(newEntity('template', 'e-1')));

    await p.transaction(async (tx) => {
      expect(await tx.entities.update('template', 'e-1', 2, change())).toBe(false);
      expect(await tx.entities.update('template', 'e-2', 1, change())).toBe(false);
      expect(await tx.entities.update('institution', 'e-1', 1, change())).toBe(false);
    });

    expect(await read(p, (tx) => tx.entities.get('template', 'e-1'))).toMatchObject({
      version: 1,
      data: { id: 'e-1' },
    });
  });

  test('update to a uniqueKey that belongs to another row throws DUPLICATE and changes nothing', async (p) => {
    await p.transaction(async (tx) => {
      await tx.entities.insert(newEntity('template', 'e-1', { uniqueKey: 'K-1' }));
      await tx.entities.insert(newEntity('template', 'e-2', { uniqueKey: 'K-2' }));
    });

    await expectDuplicate(
      p.transaction((tx) => tx.entities.update('template', 'e-2', 1, change({ uniqueKey: 'K-1' }))),
    );

    await read(p, async (tx) => {
      expect(await tx.entities.get('template', 'e-2')).toMatchObject({ version: 1, uniqueKey: 'K-2' });
      expect(await tx.entities.getByUniqueKey('template', 'K-1')).toMatchObject({ id: 'e-1' });
      expect(await tx.entities.getByUniqueKey('template', 'K-2')).toMatchObject({ id: 'e-2' });
    });
  });

  test('find returns rows of the kind whose tags include every given tag, ordered by id', async (p) => {
    await p.transaction(async (tx) => {
      await tx.entities.insert(newEntity('template', 'c', { tags: { status: 'draft', owner: 'o-1' } }));
      await tx.entities.insert(newEntity('template', 'a', { tags: { status: 'draft', owner: 'o-2', 机构: '中文' } }));
      await tx.entities.insert(newEntity('template', 'b', { tags: { status: 'published', owner: 'o-1' } }));
      await tx.entities.insert(newEntity('template', 'd', { tags: {} }));
      await tx.entities.insert(newEntity('institution', 'a', { tags: { status: 'draft' } }));
    });
    const find = (tags?: Record<string, string>) =>
      read(p, async (tx) => ids(await tx.entities.find('template', { tags })));

    expect(await find()).toEqual(['a', 'b', 'c', 'd']);
    expect(await find({})).toEqual(['a', 'b', 'c', 'd']);
    expect(await find({ status: 'draft' })).toEqual(['a', 'c']);
    expect(await find({ status: 'draft', owner: 'o-1' })).toEqual(['c']);
    expect(await find({ status: 'published', owner: 'o-2' })).toEqual([]);
    expect(await find({ 机构: '中文' })).toEqual(['a']);
    expect(await find({ status: 'Draft' })).toEqual([]);
  });

  test('find bounds updatedAt inclusively', async (p) => {
    await p.transaction(async (tx) => {
      for (const [i, id] of ['e-0', 'e-1', 'e-2', 'e-3'].entries()) {
        await tx.entities.insert(newEntity('template', id, { createdAt: T0 + i * 10 }));
      }
      await tx.entities.update('template', 'e-0', 1, change({ updatedAt: T0 + 25 }));
    });
    const find = (updatedFrom?: number, updatedTo?: number) =>
      read(p, async (tx) => ids(await tx.entities.find('template', { updatedFrom, updatedTo })));

    expect(await find(T0 + 10, T0 + 20)).toEqual(['e-1', 'e-2']);
    expect(await find(T0 + 20)).toEqual(['e-0', 'e-2', 'e-3']);
    expect(await find(undefined, T0 + 10)).toEqual(['e-1']);
    expect(await find(T0 + 25, T0 + 25)).toEqual(['e-0']);
  });

  test('find pages with afterId and limit, 100 rows by default', async (p) => {
    const all = Array.from({ length: 103 }, (_, i) => `e-${String(i).padStart(3, '0')}`);
    await p.transaction(async (tx) => {
      for (const id of [...all].reverse()) await tx.entities.insert(newEntity('template', id, { tags: { x: 'y' } }));
    });

    await read(p, async (tx) => {
      expect(ids(await tx.entities.find('template'))).toEqual(all.slice(0, 100));
      expect(ids(await tx.entities.find('template', { afterId: 'e-099' }))).toEqual(all.slice(100));
      expect(ids(await tx.entities.find('template', { afterId: 'e-050', limit: 2, tags: { x: 'y' } }))).toEqual([
        'e-051',
        'e-052',
      ]);
    });
  });
}

function jsonTests(test: Test): void {
  const value = {
    text: '中文 · emoji 😀 · quote " backslash \\ · newline \n · nul \u0000 end',
    numbers: [0, -0, 1.5, -2, 1e21, 1e-7, 0.1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 5e-324],
    nested: { deep: [[{ x: null, y: [true, false] }]], empty: {}, emptyList: [] },
    zKeyBeforeA: { z: 1, a: 2, m: { '2': 'b', '1': 'a' } },
    dropped: undefined,
    date: new Date(T0),
  };
  const expected = JSON.parse(JSON.stringify(value));

  test('every JSON field round-trips exactly as JSON.parse(JSON.stringify(value))', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1', { snapshot: value }));
      await tx.outbox.enqueue([newOutboxEntry('o-1', { payload: value })]);
      await tx.timers.schedule(newTimer('wf-1', 't-1', { event: value }));
      await tx.audit.append(auditEntry('wf-1', 1, { data: value }));
      await tx.entities.insert(newEntity('template', 'e-1', { data: value }));
    });

    const stored = await read(p, async (tx) => [
      (await tx.workflows.get('wf-1'))?.snapshot,
      (await tx.outbox.get('o-1'))?.payload,
      (await tx.timers.list())[0]?.event,
      (await tx.audit.last('wf-1'))?.data,
      (await tx.entities.get('template', 'e-1'))?.data,
    ]);
    for (const json of stored) {
      expect(json).toStrictEqual(expected);
      expect(JSON.stringify(json)).toBe(JSON.stringify(value));
    }
  });

  test('top-level scalars, arrays and null round-trip; undefined becomes null', async (p) => {
    const values: unknown[] = ['text', 42, -0.5, true, false, null, [1, 'two'], undefined];
    await p.transaction(async (tx) => {
      for (const [i, snapshot] of values.entries()) await tx.workflows.insert(newWorkflow(`wf-${i}`, { snapshot }));
    });

    const rows = await read(p, (tx) => tx.workflows.list());
    expect(rows.map((row) => row.snapshot)).toStrictEqual(['text', 42, -0.5, true, false, null, [1, 'two'], null]);
  });

  test('returned rows are copies: changing them or the inserted input leaves the stored state alone', async (p) => {
    const snapshot = { context: { items: ['a'] } };
    const tags = { status: 'draft' };
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1', { snapshot }));
      await tx.entities.insert(newEntity('template', 'e-1', { tags, data: snapshot }));
    });
    snapshot.context.items.push('mutated input');
    tags.status = 'mutated input';

    await p.transaction(async (tx) => {
      const row = await tx.workflows.get('wf-1');
      (row!.snapshot as typeof snapshot).context.items.push('mutated output');
      const entity = await tx.entities.get('template', 'e-1');
      if (entity) entity.tags.status = 'mutated output';
    });

    await read(p, async (tx) => {
      expect((await tx.workflows.get('wf-1'))?.snapshot).toEqual({ context: { items: ['a'] } });
      expect(await tx.entities.get('template', 'e-1')).toMatchObject({
        tags: { status: 'draft' },
        data: { context: { items: ['a'] } },
      });
      expect(ids(await tx.entities.find('template', { tags: { status: 'draft' } }))).toEqual(['e-1']);
    });
  });

  test('times are epoch-millisecond numbers, kept exactly, up to Number.MAX_SAFE_INTEGER', async (p) => {
    const far = Number.MAX_SAFE_INTEGER;
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1', { createdAt: far }));
      await tx.outbox.enqueue([newOutboxEntry('o-1', { availableAt: far - 1, createdAt: 0 })]);
      await tx.timers.schedule(newTimer('wf-1', 't-1', { dueAt: far }));
      await tx.audit.append(auditEntry('wf-1', 1, { at: far }));
    });

    await read(p, async (tx) => {
      expect(await tx.workflows.get('wf-1')).toMatchObject({ createdAt: far, updatedAt: far });
      expect(await tx.outbox.get('o-1')).toMatchObject({ availableAt: far - 1, createdAt: 0, updatedAt: 0 });
      expect(await tx.timers.nextDueAt()).toBe(far);
      expect((await tx.audit.last('wf-1'))?.at).toBe(far);
      expect(typeof (await tx.timers.nextDueAt())).toBe('number');
    });
  });
}

function batchTests(test: Test): void {
  const timerKeys = (timers: ReadonlyArray<{ workflowId: string; timerId: string }>) =>
    timers.map((timer) => `${timer.workflowId}/${timer.timerId}`);
  const sorted = (values: string[]) => [...values].sort();

  test('every batch method takes an empty batch and returns []', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1'));
      expect(await tx.workflows.getMany([])).toEqual([]);
      expect(await tx.workflows.getMany([], { lock: true })).toEqual([]);
      expect(await tx.workflows.updateMany([])).toEqual([]);
      expect(await tx.outbox.completeMany([], 'c', T0)).toEqual([]);
      await tx.timers.scheduleMany([]);
      await tx.timers.cancelMany([]);
      expect(await tx.timers.removeMany([])).toEqual([]);
      await tx.audit.appendMany([]);
      expect(await tx.audit.lastMany([])).toEqual([]);
      // The transaction is still usable after them.
      expect(await tx.workflows.get('wf-1')).toMatchObject({ rowVersion: 1 });
    });
    expect(ids(await read(p, (tx) => tx.workflows.list()))).toEqual(['wf-1']);
  });

  test('getMany returns the rows that exist, ordered by id, each once; lock changes no result', async (p) => {
    await p.transaction(async (tx) => {
      for (const id of ['c', 'a', 'b', 'é']) await tx.workflows.insert(newWorkflow(id));
    });

    await p.transaction(async (tx) => {
      const expected = await tx.workflows.list();
      expect(ids(expected)).toEqual(['a', 'b', 'c', 'é']);
      expect(await tx.workflows.getMany(['é', 'c', 'missing', 'a', 'c'])).toEqual([
        expected[0],
        expected[2],
        expected[3],
      ]);
      expect(await tx.workflows.getMany(['b', 'a'], { lock: true })).toEqual(expected.slice(0, 2));
      expect(await tx.workflows.getMany(['missing'])).toEqual([]);
      expect(await tx.workflows.get('b', { lock: true })).toEqual(expected[1]);
      expect(await tx.workflows.get('missing', { lock: true })).toBeNull();
    });
  });

  test('updateMany applies the updates whose version matches and returns their ids', async (p) => {
    await p.transaction(async (tx) => {
      for (const id of ['wf-1', 'wf-2', 'wf-3', 'wf-4']) await tx.workflows.insert(newWorkflow(id));
      await tx.workflows.update('wf-3', 1, workflowChange());
    });
    const change = (i: number) =>
      workflowChange({
        machineVersion: 2,
        status: i % 2 === 0 ? 'done' : 'active',
        stateValue: `s${i}`,
        snapshot: { value: `s${i}`, list: [i, null, { nested: 'ü' }] },
        updatedAt: T0 + 100 + i,
      });

    const updated = await p.transaction((tx) =>
      tx.workflows.updateMany([
        { id: 'wf-2', expectedRowVersion: 1, change: change(2) },
        { id: 'wf-3', expectedRowVersion: 1, change: change(3) },
        { id: 'missing', expectedRowVersion: 1, change: change(5) },
        { id: 'wf-1', expectedRowVersion: 1, change: change(1) },
        { id: 'wf-4', expectedRowVersion: 2, change: change(4) },
      ]),
    );

    expect(sorted(updated)).toEqual(['wf-1', 'wf-2']);
    const rows = await read(p, (tx) => tx.workflows.list());
    expect(rows).toEqual([
      { id: 'wf-1', machineId: 'approval', createdAt: T0, ...change(1), rowVersion: 2 },
      { id: 'wf-2', machineId: 'approval', createdAt: T0, ...change(2), rowVersion: 2 },
      { ...newWorkflow('wf-3'), ...workflowChange(), rowVersion: 2 },
      { ...newWorkflow('wf-4'), rowVersion: 1, updatedAt: T0 },
    ]);
    expect(ids(rows)).toEqual(['wf-1', 'wf-2', 'wf-3', 'wf-4']);
    expect(await read(p, (tx) => tx.workflows.get('missing'))).toBeNull();
  });

  test('updateMany sees the transaction own writes, and refuses an id given twice, writing nothing', async (p) => {
    await p.transaction((tx) => tx.workflows.insert(newWorkflow('wf-1')));

    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-2'));
      expect(await tx.workflows.update('wf-1', 1, workflowChange())).toBe(true);
      const updated = await tx.workflows.updateMany([
        { id: 'wf-1', expectedRowVersion: 2, change: workflowChange({ stateValue: 'second' }) },
        { id: 'wf-2', expectedRowVersion: 1, change: workflowChange({ stateValue: 'first' }) },
      ]);
      expect(sorted(updated)).toEqual(['wf-1', 'wf-2']);
      expect(await tx.workflows.getMany(['wf-1', 'wf-2'])).toMatchObject([
        { rowVersion: 3, stateValue: 'second' },
        { rowVersion: 2, stateValue: 'first' },
      ]);
    });

    const refused = await rejection(
      p.transaction((tx) =>
        tx.workflows.updateMany([
          { id: 'wf-2', expectedRowVersion: 2, change: workflowChange({ stateValue: 'x' }) },
          { id: 'wf-1', expectedRowVersion: 3, change: workflowChange({ stateValue: 'x' }) },
          { id: 'wf-2', expectedRowVersion: 3, change: workflowChange({ stateValue: 'y' }) },
        ]),
      ),
    );
    expect(refused).toMatchObject({ name: 'ValidationError', code: 'INVALID_INPUT' });
    expect(await read(p, (tx) => tx.workflows.getMany(['wf-1', 'wf-2']))).toMatchObject([
      { rowVersion: 3, stateValue: 'second' },
      { rowVersion: 2, stateValue: 'first' },
    ]);
  });

  for (const [how, lock] of [
    ['getMany', (tx: PersistenceTransaction) => tx.workflows.getMany(['wf-0', 'wf-1'], { lock: true })],
    ['get', (tx: PersistenceTransaction) => tx.workflows.get('wf-1', { lock: true })],
  ] as const) {
    test(`${how} with lock holds the row: a concurrent update waits for the locking transaction`, async (p) => {
      await p.transaction(async (tx) => {
        await tx.workflows.insert(newWorkflow('wf-0'));
        await tx.workflows.insert(newWorkflow('wf-1'));
      });
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked = () => {};
      const isLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });

      const a = p.transaction(async (tx) => {
        await lock(tx);
        locked();
        await held;
        return tx.workflows.update('wf-1', 1, workflowChange({ stateValue: 'by-a' }));
      });
      try {
        await isLocked;
        let bSettled = false;
        const b = p
          .transaction((tx) => tx.workflows.update('wf-1', 1, workflowChange({ stateValue: 'by-b' })))
          .finally(() => {
            bSettled = true;
          });
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(bSettled).toBe(false);
        release();
        expect(await a).toBe(true);
        // B ran after A committed, so its expected version is stale.
        expect(await b).toBe(false);
      } finally {
        release();
        await a.catch(() => undefined);
      }
      expect(await read(p, (tx) => tx.workflows.get('wf-1'))).toMatchObject({ rowVersion: 2, stateValue: 'by-a' });
    });
  }

  test('completeMany marks done the entries still claimed with the token and returns their ids', async (p) => {
    await p.transaction((tx) =>
      tx.outbox.enqueue(
        ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'].map((id, i) => newOutboxEntry(id, { availableAt: T0 + i })),
      ),
    );
    await p.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken: 'A', now: T0 + 2, leaseMs: 1000, limit: 3 }),
    );
    await p.transaction((tx) =>
      tx.outbox.claim({ kind: 'effect', claimToken: 'B', now: T0 + 3, leaseMs: 1000, limit: 1 }),
    );
    await p.transaction(async (tx) => {
      expect(await tx.outbox.complete('o-3', 'A', T0 + 4)).toBe(true);
    });

    const completed = await p.transaction((tx) =>
      tx.outbox.completeMany(['o-2', 'o-3', 'o-4', 'o-5', 'missing', 'o-1', 'o-2'], 'A', T0 + 50),
    );

    expect(sorted(completed)).toEqual(['o-1', 'o-2']);
    const entries = await read(p, (tx) => tx.outbox.list());
    expect(entries.map((entry) => [entry.id, entry.status, entry.claimToken, entry.updatedAt])).toEqual([
      ['o-1', 'done', null, T0 + 50],
      ['o-2', 'done', null, T0 + 50],
      ['o-3', 'done', null, T0 + 4],
      ['o-4', 'running', 'B', T0 + 3],
      ['o-5', 'pending', null, T0],
    ]);
    expect(entries[0]).toMatchObject({ leaseUntil: null, attempts: 1 });
  });

  test('scheduleMany inserts or replaces timers, clearing leases; of two entries for one timer the last wins', async (p) => {
    await p.transaction(async (tx) => {
      await tx.timers.schedule(newTimer('wf-1', 't-1', { token: 'old' }));
      await tx.timers.schedule(newTimer('wf-2', 't-1', { token: 'kept', dueAt: T0 + 5 }));
      await tx.timers.claimDue({ now: T0 + 10, leaseMs: 1000, limit: 10 });
    });
    const replacement = newTimer('wf-1', 't-1', { token: 'new', dueAt: T0 + 20, event: { type: 'again', n: [1] } });
    const fresh = newTimer('wf-3', 't-9', { dueAt: T0 + 30 });

    await p.transaction((tx) =>
      tx.timers.scheduleMany([
        newTimer('wf-3', 't-2', { token: 'first', dueAt: T0 + 40 }),
        replacement,
        fresh,
        newTimer('wf-3', 't-2', { token: 'last', dueAt: T0 + 50 }),
      ]),
    );

    expect(await read(p, (tx) => tx.timers.list())).toEqual([
      { ...newTimer('wf-2', 't-1', { token: 'kept', dueAt: T0 + 5 }), leaseUntil: T0 + 1010 },
      { ...replacement, leaseUntil: null },
      { ...fresh, leaseUntil: null },
      { ...newTimer('wf-3', 't-2', { token: 'last', dueAt: T0 + 50 }), leaseUntil: null },
    ]);
  });

  test('cancelMany removes the named timers and skips absent ones', async (p) => {
    await p.transaction((tx) =>
      tx.timers.scheduleMany([newTimer('wf-1', 't-1'), newTimer('wf-1', 't-2'), newTimer('wf-2', 't-1')]),
    );

    await p.transaction((tx) =>
      tx.timers.cancelMany([
        { workflowId: 'wf-1', timerId: 't-2' },
        { workflowId: 'wf-2', timerId: 't-2' },
        { workflowId: 'wf-3', timerId: 't-1' },
        { workflowId: 'wf-2', timerId: 't-1' },
        { workflowId: 'wf-2', timerId: 't-1' },
      ]),
    );

    expect(timerKeys(await read(p, (tx) => tx.timers.list()))).toEqual(['wf-1/t-1']);
  });

  test('removeMany deletes the timers that still carry their token and returns exactly those', async (p) => {
    await p.transaction((tx) =>
      tx.timers.scheduleMany([
        newTimer('wf-1', 't-1', { token: 'a' }),
        newTimer('wf-1', 't-2', { token: 'b' }),
        newTimer('wf-2', 't-1', { token: 'c' }),
        newTimer('wf-2', 't-2', { token: 'd' }),
      ]),
    );

    const removed = await p.transaction((tx) =>
      tx.timers.removeMany([
        { workflowId: 'wf-1', timerId: 't-1', token: 'a' },
        { workflowId: 'wf-1', timerId: 't-2', token: 'stale' },
        { workflowId: 'wf-2', timerId: 't-1', token: 'c' },
        { workflowId: 'wf-2', timerId: 't-1', token: 'c' },
        { workflowId: 'wf-3', timerId: 't-1', token: 'a' },
        { workflowId: 'wf-2', timerId: 't-2', token: 'a' },
      ]),
    );

    expect(sorted(timerKeys(removed))).toEqual(['wf-1/t-1', 'wf-2/t-1']);
    expect(removed.every((timer) => Object.keys(timer).sort().join() === 'timerId,workflowId')).toBe(true);
    expect(timerKeys(await read(p, (tx) => tx.timers.list()))).toEqual(['wf-1/t-2', 'wf-2/t-2']);
  });

  test('appendMany stores the entries verbatim; lastMany gives the last entry of each stream, by streamId', async (p) => {
    await p.transaction((tx) => tx.audit.append(auditEntry('s-b', 1)));
    const batch = [
      auditEntry('s-b', 2),
      auditEntry('s-a', 1, { data: { list: [1, 'ü', null] } }),
      auditEntry('s-b', 3),
    ];

    await p.transaction((tx) => tx.audit.appendMany(batch));

    await read(p, async (tx) => {
      expect(await tx.audit.list('s-b')).toEqual([auditEntry('s-b', 1), batch[0], batch[2]]);
      expect(await tx.audit.list('s-a')).toEqual([batch[1]]);
      expect(await tx.audit.lastMany(['s-b', 'missing', 's-a', 's-b'])).toEqual([batch[1], batch[2]]);
      expect(await tx.audit.lastMany(['missing'])).toEqual([]);
    });
    await p.transaction(async (tx) => {
      await tx.audit.appendMany([auditEntry('s-c', 1), auditEntry('s-a', 2)]);
      expect(await tx.audit.lastMany(['s-c', 's-a'])).toEqual([auditEntry('s-a', 2), auditEntry('s-c', 1)]);
    });
  });

  test('appendMany with a (streamId, seq) that exists or repeats throws DUPLICATE and writes nothing of it', async (p) => {
    await p.transaction((tx) => tx.audit.append(auditEntry('s-1', 1)));

    await expectDuplicate(
      p.transaction((tx) =>
        tx.audit.appendMany([auditEntry('s-2', 1), auditEntry('s-1', 2), auditEntry('s-1', 1, { type: 'other' })]),
      ),
    );
    await expectDuplicate(
      p.transaction((tx) => tx.audit.appendMany([auditEntry('s-3', 1), auditEntry('s-3', 2), auditEntry('s-3', 1)])),
    );

    await read(p, async (tx) => {
      expect(await tx.audit.list('s-1')).toEqual([auditEntry('s-1', 1)]);
      expect(await tx.audit.list('s-2')).toEqual([]);
      expect(await tx.audit.list('s-3')).toEqual([]);
      expect(await tx.audit.lastMany(['s-1', 's-2', 's-3'])).toEqual([auditEntry('s-1', 1)]);
    });
  });

  test('a throw undoes every batch write', async (p) => {
    await p.transaction(async (tx) => {
      await tx.workflows.insert(newWorkflow('wf-1'));
      await tx.outbox.enqueue([newOutboxEntry('o-1')]);
      await tx.outbox.claim({ kind: 'effect', claimToken: 'c', now: T0, leaseMs: 1000, limit: 1 });
      await tx.timers.scheduleMany([newTimer('wf-1', 't-1'), newTimer('wf-1', 't-2')]);
      await tx.audit.append(auditEntry('wf-1', 1));
    });
    const failure = new Error('work failed');

    const thrown = await rejection(
      p.transaction(async (tx) => {
        expect(
          await tx.workflows.updateMany([{ id: 'wf-1', expectedRowVersion: 1, change: workflowChange() }]),
        ).toEqual(['wf-1']);
        expect(await tx.outbox.completeMany(['o-1'], 'c', T0 + 1)).toEqual(['o-1']);
        await tx.timers.scheduleMany([newTimer('wf-1', 't-1', { token: 'new' }), newTimer('wf-1', 't-3')]);
        await tx.timers.cancelMany([{ workflowId: 'wf-1', timerId: 't-2' }]);
        expect(await tx.timers.removeMany([{ workflowId: 'wf-1', timerId: 't-3', token: 'wf-1/t-3/1' }])).toEqual([
          { workflowId: 'wf-1', timerId: 't-3' },
        ]);
        await tx.audit.appendMany([auditEntry('wf-1', 2), auditEntry('wf-2', 1)]);
        throw failure;
      }),
    );

    expect(thrown).toBe(failure);
    await read(p, async (tx) => {
      expect(await tx.workflows.get('wf-1')).toMatchObject({ rowVersion: 1, stateValue: 'pending' });
      expect(await tx.outbox.get('o-1')).toMatchObject({ status: 'running', claimToken: 'c' });
      expect(await tx.timers.list()).toEqual([
        { ...newTimer('wf-1', 't-1'), leaseUntil: null },
        { ...newTimer('wf-1', 't-2'), leaseUntil: null },
      ]);
      expect(await tx.audit.lastMany(['wf-1', 'wf-2'])).toEqual([auditEntry('wf-1', 1)]);
    });
  });
}
