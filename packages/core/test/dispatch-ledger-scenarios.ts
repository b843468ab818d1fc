/**
 * Ledger scenarios every persistence must pass: run on memory here and on PGlite and PostgreSQL by adapter-storage.
 * Each takes a fresh persistence and asserts on outcomes that a lost update or a double effect would change.
 */
import { expect } from 'vitest';
import {
  createLedger,
  type InstitutionInput,
  type Ledger,
  LedgerError,
  type Persistence,
  registerInstitution,
  withCreditCodeCheckChar,
} from '../src/index.js';
import { createManualClock } from '../src/memory/index.js';

let codes = 0;

/** A valid institution profile with a credit code of its own. */
export function institutionInput(id: string, overrides: Partial<InstitutionInput> = {}): InstitutionInput {
  codes += 1;
  const serial = String(codes).padStart(6, '0');
  return {
    id,
    name: `测试融资机构${id}`,
    creditCode: withCreditCodeCheckChar(`91440300MA5${serial}`),
    regions: ['4403'],
    categories: ['credit'],
    capacity: 20,
    ...overrides,
  };
}

/** A ledger over `persistence` with one registered institution per id. */
export async function ledgerWith(persistence: Persistence, ...ids: string[]): Promise<Ledger> {
  const clock = createManualClock();
  for (const id of ids) {
    await persistence.transaction((tx) => registerInstitution(tx, institutionInput(id), clock.now()));
  }
  return createLedger({ persistence, clock });
}

function ledgerCodes(results: PromiseSettledResult<unknown>[]): string[] {
  return results.flatMap((r) => {
    if (r.status === 'fulfilled') return [];
    if (!(r.reason instanceof LedgerError)) throw r.reason;
    return [r.reason.code];
  });
}

/** 50 concurrent freezes of an institution whose position covers 10: exactly 10 succeed, 40 are refused. */
export async function fiftyFreezesForTen(persistence: Persistence): Promise<void> {
  const ledger = await ledgerWith(persistence, 'inst-race');
  await ledger.topUp({ institutionId: 'inst-race', key: 'race-top-up', account: 'deposit', amountFen: 10 * 5_000_00 });
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) =>
      ledger.freeze({
        institutionId: 'inst-race',
        key: `race-freeze-${i}`,
        applicationId: `app-${i}`,
        amountFen: 5_000_00,
      }),
    ),
  );
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
  expect(ledgerCodes(results)).toEqual(Array(40).fill('POSITION_INSUFFICIENT'));
  const balances = await ledger.balances('inst-race');
  expect(balances).toMatchObject({ deposit: 0, frozen: 10 * 5_000_00, movementCount: 11 });
  expect(Object.keys(balances.holds)).toHaveLength(10);
  const verification = await ledger.verify('inst-race');
  expect(verification.problems).toEqual([]);
  expect(verification.ok).toBe(true);
}

/** 20 concurrent freezes under one key: one effect, every caller gets the same movement. */
export async function sameKeyFreezes(persistence: Persistence): Promise<void> {
  const ledger = await ledgerWith(persistence, 'inst-same');
  await ledger.topUp({ institutionId: 'inst-same', key: 'same-top-up', account: 'deposit', amountFen: 1_000_000 });
  const freeze = { institutionId: 'inst-same', key: 'same-freeze', applicationId: 'app-1', amountFen: 300_000 };
  const results = await Promise.all(Array.from({ length: 20 }, () => ledger.freeze(freeze)));
  expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  expect(new Set(results.map((r) => r.movement.id)).size).toBe(1);
  expect(await ledger.balances('inst-same')).toMatchObject({ deposit: 700_000, frozen: 300_000, movementCount: 2 });

  // One key, two contents racing: whichever commits first owns the key; the other content is refused.
  const contested = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) =>
      ledger.freeze({ ...freeze, key: 'contested', applicationId: `app-${2 + (i % 2)}`, amountFen: 100_000 }),
    ),
  );
  const won = contested.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  expect(won).toHaveLength(10);
  expect(new Set(won.map((r) => r.movement.applicationId)).size).toBe(1);
  expect(ledgerCodes(contested)).toEqual(Array(10).fill('IDEMPOTENCY_KEY_REUSED'));
  expect(await ledger.balances('inst-same')).toMatchObject({ deposit: 600_000, frozen: 400_000, movementCount: 3 });
  expect((await ledger.verify('inst-same')).ok).toBe(true);
}

/**
 * One key sent many times at once against a position that covers it exactly once: the retries that read the
 * balances after the first freeze committed must be told it was applied (replayed), not POSITION_INSUFFICIENT.
 */
export async function sameKeyFreezesOnAnExactPosition(persistence: Persistence): Promise<void> {
  const ledger = await ledgerWith(persistence, 'inst-exact');
  await ledger.topUp({ institutionId: 'inst-exact', key: 'exact-top-up', account: 'deposit', amountFen: 300_000 });
  const freeze = { institutionId: 'inst-exact', key: 'exact-freeze', applicationId: 'app-1', amountFen: 300_000 };
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => ledger.freeze(freeze)));
  expect(ledgerCodes(results)).toEqual([]);
  const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  expect(done.filter((r) => !r.replayed)).toHaveLength(1);
  expect(await ledger.balances('inst-exact')).toMatchObject({ deposit: 0, frozen: 300_000, movementCount: 2 });
  expect((await ledger.verify('inst-exact')).ok).toBe(true);
}

/** Many concurrent movements of every kind on two institutions: nothing lost, nothing negative, all verified. */
export async function mixedConcurrentMovements(persistence: Persistence): Promise<void> {
  const ledger = await ledgerWith(persistence, 'inst-a', 'inst-b');
  const ids = ['inst-a', 'inst-b'];
  await Promise.all(
    ids.flatMap((institutionId) =>
      Array.from({ length: 15 }, (_, i) =>
        ledger.topUp({ institutionId, key: `${institutionId}-top-${i}`, account: 'deposit', amountFen: 10_000 }),
      ),
    ),
  );
  await Promise.all(
    ids.flatMap((institutionId) => [
      ...Array.from({ length: 10 }, (_, i) =>
        ledger.freeze({ institutionId, key: `${institutionId}-f-${i}`, applicationId: `app-${i}`, amountFen: 10_000 }),
      ),
      ...Array.from({ length: 5 }, (_, i) =>
        ledger.transfer({
          institutionId,
          key: `${institutionId}-t-${i}`,
          from: 'deposit',
          to: 'cash',
          amountFen: 10_000,
        }),
      ),
    ]),
  );
  await Promise.all(
    ids.flatMap((institutionId) =>
      Array.from({ length: 10 }, (_, i) => {
        const hold = { institutionId, key: `${institutionId}-r-${i}`, applicationId: `app-${i}`, amountFen: 10_000 };
        return i % 3 === 0 ? ledger.consume(hold) : i % 3 === 1 ? ledger.release(hold) : ledger.restore(hold);
      }),
    ),
  );
  for (const institutionId of ids) {
    // 150,000 in; 50,000 to cash; 4 of 10 holds consumed (40,000 out); 6 back to the position.
    expect(await ledger.balances(institutionId)).toMatchObject({
      deposit: 60_000,
      cash: 50_000,
      riskMargin: 0,
      frozen: 0,
      holds: {},
      movementCount: 40,
    });
    expect((await ledger.verify(institutionId)).ok).toBe(true);
    expect((await ledger.applicationMovements('app-3')).map((m) => m.type)).toEqual([
      'freeze',
      'consume',
      'freeze',
      'consume',
    ]);
  }
}
