/**
 * The floor every database benchmark is compared with: single-row transactions (`BEGIN; UPDATE … SET n = n + 1;
 * COMMIT`) done directly on the database under test, as many and as concurrent as the suite says.
 */
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export type FloorTransaction = (i: number) => Promise<unknown>;

/** Run `transactions` floor transactions, `concurrency` at a time; returns transactions per second. */
export async function floor(run: FloorTransaction, transactions: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < transactions) await run(next++);
    }),
  );
  return transactions / ((performance.now() - started) / 1000);
}

async function createFloorTable(exec: (sql: string) => Promise<unknown>, table: string, rows: number): Promise<void> {
  await exec(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`);
  await exec(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(0, ${rows - 1}) g`);
}

/** A floor table of `rows` rows in PGlite; its transactions run one at a time, as PGlite's single connection does. */
export async function pgliteFloor(db: PGlite, rows: number): Promise<FloorTransaction> {
  await createFloorTable((sql) => db.exec(sql), 'floor', rows);
  return (i) => db.transaction((tx) => tx.query('UPDATE floor SET n = n + 1 WHERE id = $1', [i % rows]));
}

/** A floor table of `rows` rows in `schema`; each transaction takes its own pooled connection. */
export async function postgresFloor(pool: pg.Pool, schema: string, rows: number): Promise<FloorTransaction> {
  const table = `"${schema}".floor`;
  await createFloorTable((sql) => pool.query(sql), table, rows);
  return async (i) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE ${table} SET n = n + 1 WHERE id = $1`, [i % rows]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
}

/** A pool on the benchmark's PostgreSQL (SEALFLOW_PG_URL or the local server), or null with the reason printed. */
export async function openBenchPool(): Promise<pg.Pool | null> {
  const url = process.env.SEALFLOW_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (error) {
    console.warn(`[bench] skipping PostgreSQL rows: ${(error as Error).message}`);
    await pool.end();
    return null;
  }
}
