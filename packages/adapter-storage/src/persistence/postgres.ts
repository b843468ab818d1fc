import { AdapterError, type Persistence, ValidationError } from '@sealflow/core';
import pg from 'pg';
import { applyMigrations } from './migrations.js';
import {
  type SqlDriver,
  type SqlExecutor,
  type SqlRow,
  createSqlPersistence,
  driverFailure,
} from './sql-persistence.js';

/** The PostgreSQL connection (a pool you own, or a connection string) and the schema sealflow's tables live in. */
export interface PostgresPersistenceOptions {
  /** A pool the host owns and may share with its own queries; `close()` leaves it open. */
  pool?: pg.Pool;
  /** Used when no `pool` is given: sealflow opens (and on `close()` ends) its own pool. */
  connectionString?: string;
  /** The schema for sealflow's tables; default `public`. Created when missing. Table names are qualified with it. */
  schema?: string;
  /** Connections in sealflow's own pool; default 10. */
  max?: number;
}

/** Persistence on PostgreSQL through node-postgres. */
export async function postgresPersistence(options: PostgresPersistenceOptions): Promise<Persistence> {
  const schema = options.schema ?? 'public';
  const driver = postgresDriver(options.pool ?? ownPool(options), { ownsPool: options.pool === undefined });
  try {
    await applyMigrations(driver, { schema });
  } catch (error) {
    await driver.close();
    throw driverFailure(driver.name, error);
  }
  return createSqlPersistence(driver, { schema });
}

function ownPool(options: PostgresPersistenceOptions): pg.Pool {
  if (options.connectionString === undefined) {
    throw new ValidationError(
      'postgresPersistence needs either `pool` (a pg.Pool you own) or `connectionString` ' +
        '(such as postgres://user@host:5432/db).',
    );
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    // Without a limit a transaction waits forever for an unreachable server; the caller would rather retry.
    connectionTimeoutMillis: 10_000,
  });
  // An idle connection the server dropped is discarded by the pool; without a listener the error would crash the
  // process, and the next transaction simply opens a new connection.
  pool.on('error', () => {});
  return pool;
}

/** One pooled client per transaction, so transactions run in parallel and claims really compete. */
export function postgresDriver(pool: pg.Pool, options: { ownsPool: boolean }): SqlDriver {
  return {
    name: 'postgres',
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(executor(client));
        const commit = await client.query('COMMIT');
        // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK rather than an error.
        if (commit.command === 'ROLLBACK') throw rolledBackOnCommit();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (options.ownsPool) await pool.end();
    },
  };
}

function executor(client: pg.PoolClient): SqlExecutor {
  return {
    async query(sql, params) {
      const result = await client.query<SqlRow>(sql, params === undefined ? undefined : [...params]);
      return { rows: result.rows };
    },
  };
}

function rolledBackOnCommit(): AdapterError {
  return new AdapterError(
    'postgres persistence: the transaction was rolled back instead of committed because a statement inside it ' +
      'failed (a DUPLICATE that was caught, for example). After such an error, end the transaction and start a new one.',
    { retryable: false },
  );
}
