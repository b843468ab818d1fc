import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLedger, type Persistence, registerInstitution, systemClock } from '@sealflow/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fiftyFreezesForTen,
  institutionInput,
  mixedConcurrentMovements,
  sameKeyFreezes,
  sameKeyFreezesOnAnExactPosition,
} from '../../core/test/dispatch-ledger-scenarios.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';

/**
 * The position ledger on real SQL: concurrent freezes race through real transactions (PostgreSQL runs them in
 * parallel on a pool), and an institution still never freezes more than its position, one key still has one effect,
 * and the balances still equal their entries. Last, two processes race on one schema.
 */
const { url, skip: noPostgres } = await probePostgres();
const schema = `ledger_${randomBytes(4).toString('hex')}`;

async function dropSchema(name: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await pool.end();
}

const backends = [
  { name: 'PGlite', skip: undefined, open: () => pglitePersistence() },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    open: () => postgresPersistence({ connectionString: url, schema: `${schema}_${randomBytes(2).toString('hex')}` }),
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`position ledger on ${backend.name}`, () => {
    const opened: Persistence[] = [];
    const open = async () => {
      const persistence = await backend.open();
      opened.push(persistence);
      return persistence;
    };
    afterAll(async () => {
      for (const persistence of opened) await persistence.close();
      if (backend.name === 'PostgreSQL') {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        const { rows } = await pool.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE '${schema}\\_%'`);
        await pool.end();
        for (const row of rows) await dropSchema(row.nspname);
      }
    });

    it('50 concurrent freezes against a position for 10: exactly 10 succeed', async () =>
      fiftyFreezesForTen(await open()));
    it('concurrent freezes under one key have one effect', async () => sameKeyFreezes(await open()));
    it('one key sent 100 times at once on a position covering it once: applied once, replayed for the rest', async () =>
      sameKeyFreezesOnAnExactPosition(await open()));
    it('concurrent movements of every kind add up', async () => mixedConcurrentMovements(await open()));
  });
}

describe.skipIf(noPostgres !== undefined)('position ledger: two processes on one PostgreSQL schema', () => {
  const shared = `${schema}_two`;
  let persistence: Persistence;

  beforeAll(async () => {
    persistence = await postgresPersistence({ connectionString: url, schema: shared });
    await persistence.transaction((tx) => registerInstitution(tx, institutionInput('inst-two'), 0));
    await createLedger({ persistence, clock: systemClock }).topUp({
      institutionId: 'inst-two',
      key: 'two-top-up',
      account: 'deposit',
      amountFen: 10 * 1_000,
    });
  });

  afterAll(async () => {
    await persistence?.close();
    await dropSchema(shared);
  });

  it('freezes no more than the position covers across processes, once per key', async () => {
    const script = fileURLToPath(new URL('./support/ledger-instance.ts', import.meta.url));
    const run = (name: string) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--conditions=@sealflow/source', script, url, shared, name, '25'],
        { timeout: 120_000 },
      ).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1)!) as string[]);
    const [first, second] = await Promise.all([run('p1'), run('p2')]);
    const outcomes = [...first, ...second];
    expect(outcomes.filter((o) => !['applied', 'replayed', 'POSITION_INSUFFICIENT'].includes(o))).toEqual([]);
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(10);

    const ledger = createLedger({ persistence, clock: systemClock });
    expect(await ledger.balances('inst-two')).toMatchObject({ deposit: 0, frozen: 10_000, movementCount: 11 });
    const verification = await ledger.verify('inst-two');
    expect(verification.problems).toEqual([]);
    // A shared key answered "replayed" in one process was applied by the other, never twice.
    for (let i = 0; i < 5; i++) {
      const sharedOutcomes = [first[25 + i], second[25 + i]];
      expect(sharedOutcomes.filter((o) => o === 'applied').length).toBeLessThanOrEqual(1);
      if (sharedOutcomes.includes('replayed')) expect(sharedOutcomes).toContain('applied');
    }
  });
});
