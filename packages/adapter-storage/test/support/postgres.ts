import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Persistence } from '@sealflow/core';
import { pglitePersistence } from '../../src/pglite.js';
import { postgresPersistence } from '../../src/postgres.js';

/**
 * The PostgreSQL suites run against a real server: SEALFLOW_PG_URL, or the local one every developer machine and CI
 * have. Without one they are skipped, and the reason is printed, never passed silently.
 */
export async function probePostgres(): Promise<{ url: string; skip?: string }> {
  const url = process.env.SEALFLOW_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { url };
  } catch (error) {
    const skip = `no PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//')}: ${(error as Error).message}`;
    console.warn(`[sealflow] skipping PostgreSQL tests: ${skip}`);
    return { url, skip };
  } finally {
    await client.end().catch(() => {});
  }
}

/** One persistence backend a SQL suite runs on: PGlite in memory, or PostgreSQL in a schema of its own. */
export interface PersistenceBackend {
  name: 'PGlite' | 'PostgreSQL';
  /** Why the backend is skipped (printed by `probePostgres`), or undefined when it runs. */
  skip: string | undefined;
  open(): Promise<Persistence>;
  /** Drops what `open` created that outlives the persistence (the PostgreSQL schema). */
  cleanup(): Promise<void>;
}

/**
 * PGlite and PostgreSQL, for suites that run the same tests on both. The PostgreSQL schema is `<prefix>_<random>`,
 * so parallel test files never share tables; `cleanup` drops it.
 */
export async function persistenceBackends(prefix: string): Promise<PersistenceBackend[]> {
  const { url, skip } = await probePostgres();
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  return [
    { name: 'PGlite', skip: undefined, open: () => pglitePersistence(), cleanup: async () => {} },
    {
      name: 'PostgreSQL',
      skip,
      open: () => postgresPersistence({ connectionString: url, schema }),
      async cleanup() {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    },
  ];
}
