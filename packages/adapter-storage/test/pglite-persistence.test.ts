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
});
