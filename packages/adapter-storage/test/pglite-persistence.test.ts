import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Persistence } from '@sealflow/core';
import { runPersistenceContract } from '@sealflow/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../src/index.js';
import { pglitePersistence } from '../src/pglite.js';
import { applyMigrations } from '../src/persistence/migrations.js';
import { pgliteDriver } from '../src/persistence/pglite.js';

// Starting PGlite takes seconds, so the tests share one instance and give every persistence its own schema.
let db: PGlite;
beforeAll(async () => {
  db = await PGlite.create();
});
afterAll(() => db.close());

let schemaCount = 0;
async function freshPersistence(): Promise<Persistence> {
  const schema = `t_${++schemaCount}`;
  const persistence = await pglitePersistence({ db, schema });
  return {
    ...persistence,
    async close() {
      await persistence.close();
      await db.exec(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

runPersistenceContract({ name: 'pglite', create: freshPersistence });

describe('pglite persistence', () => {
  const workflow = {
    id: 'wf-1',
    machineId: 'approval',
    machineVersion: 1,
    status: 'active',
    stateValue: 'pending',
    snapshot: { value: 'pending' },
    createdAt: Date.UTC(2026, 0, 1),
  } as const;

  it('creates a dataDir whose parent directories do not exist yet', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sealflow-pglite-'));
    try {
      const persistence = await pglitePersistence({ dataDir: join(root, 'missing', 'parent', 'db') });
      await persistence.transaction((tx) => tx.workflows.insert(workflow));
      expect(await persistence.transaction((tx) => tx.workflows.get('wf-1'))).toMatchObject({ id: 'wf-1' });
      await persistence.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reopening a dataDir keeps the data and does not apply the migrations again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sealflow-pglite-'));
    try {
      const first = await pglitePersistence({ dataDir });
      await first.transaction((tx) => tx.workflows.insert(workflow));
      await first.close();

      const onDisk = await PGlite.create({ dataDir });
      const recorded = async () =>
        (await onDisk.query('SELECT version, checksum, applied_at FROM sealflow_migrations')).rows;
      const before = await recorded();
      const reopened = await pglitePersistence({ db: onDisk });
      expect(await reopened.transaction((tx) => tx.workflows.get('wf-1'))).toMatchObject({ id: 'wf-1', rowVersion: 1 });
      expect(await recorded()).toEqual(before);
      expect(before).toHaveLength(migrations.length);
      await reopened.close();
      await onDisk.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('several persistences migrating the same schema at once all succeed and record each version once', async () => {
    const opened = await Promise.all([1, 2, 3].map(() => pglitePersistence({ db, schema: 'm_parallel' })));

    const { rows } = await db.query('SELECT version FROM m_parallel.sealflow_migrations ORDER BY version');
    expect(rows).toEqual(migrations.map((migration) => ({ version: migration.version })));
    await Promise.all(opened.map((persistence) => persistence.close()));
  });

  it('refuses a recorded migration whose SQL was edited, and applies new ones on top', async () => {
    await pglitePersistence({ db, schema: 'm_history' });
    const driver = pgliteDriver(db, { ownsDatabase: false });
    const edited = migrations.map((migration) => ({ ...migration, sql: `${migration.sql}\n-- edited` }));

    const refused = applyMigrations(driver, { schema: 'm_history', migrations: edited });
    await expect(refused).rejects.toMatchObject({ code: 'MIGRATION_CHECKSUM_MISMATCH', name: 'SealflowError' });
    await expect(refused).rejects.toThrow(/never be edited/);

    const next = { version: migrations.length + 1, name: 'extra', sql: 'CREATE TABLE extra (x integer)' };
    await applyMigrations(driver, { schema: 'm_history', migrations: [...migrations, next] });
    expect((await db.query('SELECT count(*)::int AS n FROM m_history.extra')).rows).toEqual([{ n: 0 }]);
  });

  it('reports a transaction that went on after a failed statement as an AdapterError and keeps nothing', async () => {
    const persistence = await freshPersistence();
    try {
      const result = persistence.transaction(async (tx) => {
        await tx.workflows.insert(workflow);
        await tx.workflows.insert(workflow).catch(() => undefined);
      });
      await expect(result).rejects.toMatchObject({ code: 'ADAPTER_FAILURE', cause: expect.anything() });
      expect(await persistence.transaction((tx) => tx.workflows.get('wf-1'))).toBeNull();
    } finally {
      await persistence.close();
    }
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(pglitePersistence({ db, schema: 'x"; DROP TABLE y; --' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
  // PGlite has no autovacuum worker: without these, dead row versions and stale planner statistics pile up.
  describe('maintenance', () => {
    const vacuumCounts = async (schema: string) =>
      (
        await db.query<{ relname: string; vacuum_count: number }>(
          'SELECT relname, vacuum_count::int FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname',
          [schema],
        )
      ).rows;
    let inserted = 0;
    const insertWorkflows = async (persistence: Persistence, count: number) => {
      for (let i = 0; i < count; i++) {
        await persistence.transaction((tx) => tx.workflows.insert({ ...workflow, id: `wf-${++inserted}` }));
      }
    };

    it('vacuums and analyses every sealflow table after each `vacuumEvery` transactions, and close() waits for it', async () => {
      const persistence = await pglitePersistence({ db, schema: 'm_vacuum', vacuumEvery: 3 });
      await insertWorkflows(persistence, 2);
      expect((await vacuumCounts('m_vacuum')).every((table) => table.vacuum_count === 0)).toBe(true);

      await insertWorkflows(persistence, 1);
      await persistence.close();
      const counts = await vacuumCounts('m_vacuum');
      expect(counts.map((table) => table.relname)).toEqual(
        expect.arrayContaining(['sealflow_entities', 'sealflow_outbox', 'sealflow_timers', 'sealflow_workflows']),
      );
      expect(counts.every((table) => table.vacuum_count === 1)).toBe(true);
    });

    it('leaves maintenance to the host with vacuumEvery: false', async () => {
      const persistence = await pglitePersistence({ db, schema: 'm_no_vacuum', vacuumEvery: false });
      await insertWorkflows(persistence, 5);
      await persistence.close();
      expect((await vacuumCounts('m_no_vacuum')).every((table) => table.vacuum_count === 0)).toBe(true);
    });

    it('refuses a vacuumEvery that is not a positive whole number, naming it', async () => {
      for (const vacuumEvery of [0, -1, 2.5, Number.NaN]) {
        await expect(pglitePersistence({ db, schema: 'm_bad_vacuum', vacuumEvery })).rejects.toMatchObject({
          code: 'ADAPTER_FAILURE',
          message: expect.stringContaining('vacuumEvery'),
        });
      }
    });

    it('keeps the tags index without a pending list, so tag lookups never read unsorted entries', async () => {
      await pglitePersistence({ db, schema: 'm_tags' });
      const { rows } = await db.query<{ reloptions: string[] | null }>(
        "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'm_tags' AND c.relname = 'sealflow_entities_tags'",
      );
      expect(rows).toEqual([{ reloptions: ['fastupdate=off'] }]);
    });
  });
});
