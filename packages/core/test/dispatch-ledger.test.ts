/**
 * Institutions and the position ledger on the in-memory persistence: registration, every movement's effect, the
 * refusals that leave the ledger unchanged, idempotency keys, paging, verification, and the concurrency scenarios.
 */
import { describe, expect, it } from 'vitest';
import {
  abandonmentRate,
  ConflictError,
  emptyDispatchStats,
  institutionRepository,
  LedgerError,
  ledgerFreeze,
  listInstitutions,
  meanResponseMs,
  NotFoundError,
  registerInstitution,
  SealflowError,
  successRate,
  ValidationError,
} from '../src/index.js';
import { createMemoryPersistence } from '../src/memory/index.js';
import {
  fiftyFreezesForTen,
  institutionInput,
  ledgerWith,
  mixedConcurrentMovements,
  sameKeyFreezes,
} from './dispatch-ledger-scenarios.js';

async function refusal(promise: Promise<unknown>): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof SealflowError)) throw new Error(`expected a SealflowError, got ${String(error)}`);
  return error;
}

describe('institutions', () => {
  it('registers with empty statistics and zero balances, and updates the profile keeping the counters', async () => {
    const persistence = createMemoryPersistence();
    const ledger = await ledgerWith(persistence, 'inst-1');
    const first = await persistence.transaction((tx) => institutionRepository.get(tx, 'inst-1'));
    expect(first?.record).toMatchObject({ status: 'ACTIVE', openCount: 0, stats: emptyDispatchStats() });
    expect(await ledger.balances('inst-1')).toMatchObject({ deposit: 0, riskMargin: 0, cash: 0, frozen: 0 });

    const counted = { ...first!.record, openCount: 3, stats: { ...emptyDispatchStats(), offered: 7, accepted: 4 } };
    await persistence.transaction((tx) => institutionRepository.update(tx, first!, counted, 2));
    const input = institutionInput('inst-1', { name: '新名称', capacity: 5, status: 'SUSPENDED', sealId: 'seal-1' });
    const updated = await persistence.transaction((tx) => registerInstitution(tx, input, 3));
    expect(updated.record).toMatchObject({ name: '新名称', capacity: 5, status: 'SUSPENDED', openCount: 3 });
    expect(updated.record.stats).toMatchObject({ offered: 7, accepted: 4 });
    expect(await persistence.transaction((tx) => listInstitutions(tx, { status: 'SUSPENDED' }))).toHaveLength(1);
    expect(await persistence.transaction((tx) => listInstitutions(tx, { status: 'ACTIVE' }))).toHaveLength(0);
  });

  it('refuses a bad profile naming the field, and a second institution with the same credit code', async () => {
    const persistence = createMemoryPersistence();
    const register = (input: Parameters<typeof registerInstitution>[1]) =>
      persistence.transaction((tx) => registerInstitution(tx, input, 1));
    const badCode = await refusal(register(institutionInput('inst-x', { creditCode: '91440300MA5000000X' })));
    expect(badCode).toBeInstanceOf(ValidationError);
    expect(badCode.details).toMatchObject({ field: 'creditCode' });
    const noRegions = await refusal(register(institutionInput('inst-x', { regions: [] })));
    expect(noRegions.details).toMatchObject({ field: 'regions' });
    expect(await persistence.transaction((tx) => listInstitutions(tx))).toHaveLength(0);

    const original = institutionInput('inst-a');
    await register(original);
    const copy = await refusal(register({ ...institutionInput('inst-b'), creditCode: original.creditCode }));
    expect(copy).toBeInstanceOf(ConflictError);
    expect(copy.code).toBe('DUPLICATE');
    expect(await persistence.transaction((tx) => listInstitutions(tx))).toHaveLength(1);
  });

  it('derives the rates from the counters', () => {
    const stats = {
      ...emptyDispatchStats(),
      accepted: 8,
      abandoned: 2,
      successes: 6,
      responses: 4,
      responseMsTotal: 10,
    };
    expect(abandonmentRate(stats)).toBe(0.25);
    expect(successRate(stats)).toBe(0.75);
    expect(meanResponseMs(stats)).toBe(2.5);
    expect(abandonmentRate(emptyDispatchStats())).toBe(0);
    expect(successRate(emptyDispatchStats())).toBe(0);
    expect(meanResponseMs(emptyDispatchStats())).toBeNull();
  });
});

describe('movements', () => {
  it('moves money as each movement says and records the balances after it', async () => {
    const ledger = await ledgerWith(createMemoryPersistence(), 'inst-1');
    const id = { institutionId: 'inst-1' };
    await ledger.topUp({ ...id, key: 'k1', account: 'deposit', amountFen: 100_000 });
    await ledger.topUp({ ...id, key: 'k2', account: 'cash', amountFen: 5_000 });
    await ledger.transfer({ ...id, key: 'k3', from: 'deposit', to: 'riskMargin', amountFen: 20_000 });
    await ledger.freeze({ ...id, key: 'k4', applicationId: 'app-1', amountFen: 30_000 });
    await ledger.freeze({ ...id, key: 'k5', applicationId: 'app-2', amountFen: 10_000 });
    await ledger.release({ ...id, key: 'k6', applicationId: 'app-2', amountFen: 10_000 });
    await ledger.consume({ ...id, key: 'k7', applicationId: 'app-1', amountFen: 12_000 });
    const last = await ledger.restore({ ...id, key: 'k8', applicationId: 'app-1', amountFen: 18_000, actorId: 'u1' });
    expect(last.movement).toMatchObject({ seq: 8, type: 'restore', from: 'frozen', to: 'deposit', actorId: 'u1' });
    expect(last.movement.after).toEqual({ deposit: 68_000, riskMargin: 20_000, cash: 5_000, frozen: 0 });
    expect(await ledger.balances('inst-1')).toMatchObject({ holds: {}, movementCount: 8 });
    const page1 = await ledger.movements('inst-1', { limit: 5 });
    expect(page1.movements.map((m) => m.key)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    const page2 = await ledger.movements('inst-1', { afterSeq: page1.nextAfterSeq!, limit: 5 });
    expect(page2.movements.map((m) => m.key)).toEqual(['k6', 'k7', 'k8']);
    expect(page2.nextAfterSeq).toBeNull();
    expect((await ledger.applicationMovements('app-1')).map((m) => m.type)).toEqual(['freeze', 'consume', 'restore']);
    expect((await ledger.verify('inst-1')).ok).toBe(true);
  });

  it('refuses what would go below zero with a typed error and leaves the ledger as it was', async () => {
    const ledger = await ledgerWith(createMemoryPersistence(), 'inst-1');
    const id = { institutionId: 'inst-1' };
    await ledger.topUp({ ...id, key: 'top', account: 'deposit', amountFen: 50_000 });
    await ledger.freeze({ ...id, key: 'f1', applicationId: 'app-1', amountFen: 40_000 });
    const before = await ledger.balances('inst-1');

    const tooMuch = await refusal(ledger.freeze({ ...id, key: 'f2', applicationId: 'app-2', amountFen: 10_001 }));
    expect(tooMuch).toBeInstanceOf(LedgerError);
    expect(tooMuch.code).toBe('POSITION_INSUFFICIENT');
    expect(tooMuch.details).toMatchObject({ availableFen: 10_000, requestedFen: 10_001 });
    expect(tooMuch.message).toContain('100.00 yuan');
    const fromCash = await refusal(ledger.transfer({ ...id, key: 't1', from: 'cash', to: 'deposit', amountFen: 1 }));
    expect(fromCash.code).toBe('BALANCE_INSUFFICIENT');
    const otherHold = await refusal(ledger.release({ ...id, key: 'r1', applicationId: 'app-2', amountFen: 1 }));
    expect(otherHold.code).toBe('FROZEN_INSUFFICIENT');
    const overHold = await refusal(ledger.restore({ ...id, key: 'r2', applicationId: 'app-1', amountFen: 40_001 }));
    expect(overHold.code).toBe('FROZEN_INSUFFICIENT');

    expect(await ledger.balances('inst-1')).toEqual(before);
    expect((await ledger.movements('inst-1')).movements).toHaveLength(2);
    // A refused key was never used: it may carry the movement once the position allows it.
    await ledger.topUp({ ...id, key: 'top-2', account: 'deposit', amountFen: 1 });
    expect((await ledger.freeze({ ...id, key: 'f2', applicationId: 'app-2', amountFen: 10_001 })).replayed).toBe(false);
  });

  it('refuses malformed amounts, accounts and ids with the field named, writing nothing', async () => {
    const ledger = await ledgerWith(createMemoryPersistence(), 'inst-1');
    const id = { institutionId: 'inst-1', key: 'k' };
    const cases: [Promise<unknown>, string][] = [
      [ledger.topUp({ ...id, account: 'deposit', amountFen: 0 }), 'amountFen'],
      [ledger.topUp({ ...id, account: 'deposit', amountFen: -5 }), 'amountFen'],
      [ledger.topUp({ ...id, account: 'deposit', amountFen: 1.5 }), 'amountFen'],
      [ledger.topUp({ ...id, account: 'deposit', amountFen: 2 ** 53 }), 'amountFen'],
      [ledger.topUp({ ...id, account: 'frozen' as 'cash', amountFen: 1 }), 'account'],
      [ledger.topUp({ ...id, key: '', account: 'cash', amountFen: 1 }), 'key'],
      [ledger.transfer({ ...id, from: 'cash', to: 'cash', amountFen: 1 }), 'to'],
      [ledger.freeze({ ...id, applicationId: 'bad id', amountFen: 1 }), 'applicationId'],
    ];
    for (const [call, field] of cases) {
      const error = await refusal(call);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.details).toMatchObject({ field });
    }
    const unknown = await refusal(ledger.topUp({ institutionId: 'nobody', key: 'k', account: 'cash', amountFen: 1 }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(await ledger.balances('inst-1')).toMatchObject({ cash: 0, movementCount: 0 });
  });

  it('answers a repeated key with the first result and refuses the key for any other movement', async () => {
    const ledger = await ledgerWith(createMemoryPersistence(), 'inst-1', 'inst-2');
    const topUp = { institutionId: 'inst-1', key: 'pay-1', account: 'deposit' as const, amountFen: 9_900 };
    const first = await ledger.topUp(topUp);
    const again = await ledger.topUp({ ...topUp, actorId: 'someone-else' });
    expect(again).toEqual({ movement: first.movement, replayed: true });
    expect(await ledger.balances('inst-1')).toMatchObject({ deposit: 9_900, movementCount: 1 });
    for (const other of [
      ledger.topUp({ ...topUp, amountFen: 9_901 }),
      ledger.topUp({ ...topUp, account: 'cash' }),
      ledger.topUp({ ...topUp, institutionId: 'inst-2' }),
      ledger.freeze({ institutionId: 'inst-1', key: 'pay-1', applicationId: 'app-1', amountFen: 9_900 }),
    ]) {
      expect((await refusal(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    }
    expect(await ledger.balances('inst-1')).toMatchObject({ deposit: 9_900, movementCount: 1 });
    expect(await ledger.balances('inst-2')).toMatchObject({ deposit: 0, movementCount: 0 });
  });

  it('writes nothing when the caller’s transaction fails after the freeze', async () => {
    const persistence = createMemoryPersistence();
    const ledger = await ledgerWith(persistence, 'inst-1');
    await ledger.topUp({ institutionId: 'inst-1', key: 'top', account: 'deposit', amountFen: 1_000 });
    const freeze = { institutionId: 'inst-1', key: 'f', applicationId: 'app-1', amountFen: 1_000 };
    const failed = persistence.transaction(async (tx) => {
      await ledgerFreeze(tx, freeze, 5);
      throw new Error('the workflow transition failed');
    });
    await expect(failed).rejects.toThrow('the workflow transition failed');
    expect(await ledger.balances('inst-1')).toMatchObject({ deposit: 1_000, frozen: 0, movementCount: 1 });
    expect((await ledger.freeze(freeze)).replayed).toBe(false);
  });

  it('reports balances that no longer match their entries', async () => {
    const persistence = createMemoryPersistence();
    const ledger = await ledgerWith(persistence, 'inst-1');
    await ledger.topUp({ institutionId: 'inst-1', key: 'top', account: 'deposit', amountFen: 1_000 });
    await persistence.transaction(async (tx) => {
      const row = (await tx.entities.get('ledger-balances', 'inst-1'))!;
      const data = { ...(row.data as object), deposit: 2_000 };
      await tx.entities.update(row.kind, row.id, row.version, { data, tags: row.tags, uniqueKey: null, updatedAt: 9 });
    });
    const verification = await ledger.verify('inst-1');
    expect(verification.ok).toBe(false);
    expect(verification.recomputed.deposit).toBe(1_000);
    expect(verification.problems).toEqual(['The deposit balance is 2000 fen, but its entries add up to 1000 fen.']);
  });
});

describe('concurrency on memory', () => {
  it('50 concurrent freezes against a position for 10: exactly 10 succeed', () =>
    fiftyFreezesForTen(createMemoryPersistence()));
  it('concurrent freezes under one key have one effect', () => sameKeyFreezes(createMemoryPersistence()));
  it('concurrent movements of every kind add up', () => mixedConcurrentMovements(createMemoryPersistence()));
});
