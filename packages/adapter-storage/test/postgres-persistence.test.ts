import { randomUUID } from 'node:crypto';
import type { Persistence } from '@sealflow/core';
import { runPersistenceContract } from '@sealflow/core/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../src/index.js';
import { postgresPersistence } from '../src/postgres.js';
import { applyMigrations } from '../src/persistence/migrations.js';
import { postgresDriver } from '../src/persistence/postgres.js';

const url = process.env.SEALFLOW_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const unreachable = await probe(url);
const pool = unreachable === undefined ? new pg.Pool({ connectionString: url, max: 12 }) : undefined;
afterAll(async () => {
  await pool?.end();
});

async function probe(connectionString: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (error) {
    return `no PostgreSQL at ${redacted(connectionString)}: ${error instanceof Error ? error.message : String(error)}`;
  }
  await client.end();
  return undefined;
}

function redacted(connectionString: string): string {
  const parsed = new URL(connectionString);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

const uniqueSchema = () => `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;

async function dropSchema(schema: string): Promise<void> {
  await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

async function freshPersistence(): Promise<Persistence> {
  const schema = uniqueSchema();
  const persistence = await postgresPersistence({ pool, schema });
  return {
    ...persistence,
    async close() {
      await persistence.close();
      await dropSchema(schema);
    },
  };
}

runPersistenceContract({ name: 'postgres', create: freshPersistence, skip: unreachable });

describe.skipIf(unreachable !== undefined)('postgres persistence', () => {
  const workflow = {
    id: 'wf-1',
    machineId: 'approval',
    machineVersion: 1,
    status: 'active',
    stateValue: 'pending',
    snapshot: { value: 'pending' },
    createdAt: Date.UTC(2026, 0, 1),
  } as const;

  it('several processes migrating the same new schema at once all succeed and record each version once', async () => {
    const schema = uniqueSchema();
    try {
      const opened = await Promise.all(Array.from({ length: 4 }, () => postgresPersistence({ pool, schema })));
      const { rows } = await pool!.query(`SELECT version FROM ${schema}.sealflow_migrations ORDER BY version`);
      expect(rows).toEqual(migrations.map((migration) => ({ version: migration.version })));
      await Promise.all(opened.map((persistence) => persistence.close()));
    } finally {
      await dropSchema(schema);
    }
  });

  it('refuses a recorded migration whose SQL was edited', async () => {
    const schema = uniqueSchema();
    try {
      await postgresPersistence({ pool, schema });
      const edited = migrations.map((migration) => ({ ...migration, sql: `${migration.sql}\n-- edited` }));

      const refused = applyMigrations(postgresDriver(pool!, { ownsPool: false }), { schema, migrations: edited });

      await expect(refused).rejects.toMatchObject({ code: 'MIGRATION_CHECKSUM_MISMATCH', name: 'SealflowError' });
      await expect(refused).rejects.toThrow(/never be edited/);
    } finally {
      await dropSchema(schema);
    }
  });

  it('close() leaves a pool passed in open, and ends a pool it opened itself', async () => {
    const schema = uniqueSchema();
    try {
      const onHostPool = await postgresPersistence({ pool, schema });
      await onHostPool.close();
      expect((await pool!.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);

      const onOwnPool = await postgresPersistence({ connectionString: url, schema, max: 2 });
      await onOwnPool.transaction((tx) => tx.workflows.insert(workflow));
      await onOwnPool.close();
      await expect(onOwnPool.transaction((tx) => tx.workflows.get('wf-1'))).rejects.toMatchObject({
        code: 'ADAPTER_FAILURE',
      });
      expect((await pool!.query(`SELECT id FROM ${schema}.sealflow_workflows`)).rows).toEqual([{ id: 'wf-1' }]);
    } finally {
      await dropSchema(schema);
    }
  });

  it('reports a transaction that went on after a failed statement as an AdapterError and keeps nothing', async () => {
    const persistence = await freshPersistence();
    try {
      const result = persistence.transaction(async (tx) => {
        await tx.workflows.insert(workflow);
        await tx.workflows.insert(workflow).catch(() => undefined);
      });
      await expect(result).rejects.toMatchObject({ code: 'ADAPTER_FAILURE' });
      expect(await persistence.transaction((tx) => tx.workflows.get('wf-1'))).toBeNull();
    } finally {
      await persistence.close();
    }
  });

  it('wraps driver failures in AdapterError with the driver error as cause', async () => {
    const persistence = await freshPersistence();
    try {
      const result = persistence.transaction((tx) =>
        tx.workflows.update('wf-1', 1, {
          machineVersion: 1.5,
          status: 'active',
          stateValue: 'x',
          snapshot: null,
          updatedAt: 0,
        }),
      );
      await expect(result).rejects.toMatchObject({
        code: 'ADAPTER_FAILURE',
        retryable: true,
        cause: expect.objectContaining({ code: '22P02' }),
      });
    } finally {
      await persistence.close();
    }
  });
});
