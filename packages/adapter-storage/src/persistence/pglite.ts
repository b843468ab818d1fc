import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { AdapterError, type Persistence } from '@sealflow/core';
import { applyMigrations } from './migrations.js';
import {
  type SqlDriver,
  type SqlExecutor,
  type SqlRow,
  createSqlPersistence,
  driverFailure,
} from './sql-persistence.js';

/** Where the embedded PGlite database lives (a directory, memory, or an instance you own) and its schema. */
export interface PglitePersistenceOptions {
  /**
   * Where PGlite keeps its files; created (with its missing parents) when absent. Without it (and without `db`)
   * the database lives in memory.
   */
  dataDir?: string;
  /**
   * An open PGlite the host already uses. `close()` leaves it open: the host owns it. Also lets tests put many
   * schemas in one instance, since starting PGlite takes seconds.
   */
  db?: PGlite;
  /** The schema for sealflow's tables; default `public`. Created when missing. */
  schema?: string;
}

/** Persistence on PGlite (PostgreSQL compiled to WebAssembly): embedded, in memory or in `dataDir`. */
export async function pglitePersistence(options: PglitePersistenceOptions = {}): Promise<Persistence> {
  const schema = options.schema ?? 'public';
  const db = options.db ?? (await openPglite(options.dataDir));
  const driver = pgliteDriver(db, { ownsDatabase: options.db === undefined });
  try {
    await applyMigrations(driver, { schema });
  } catch (error) {
    await driver.close();
    throw driverFailure(driver.name, error);
  }
  return createSqlPersistence(driver, { schema });
}

/**
 * PGlite has one connection; its `transaction()` already runs one transaction at a time (and holds other queries
 * back meanwhile), which is the serialization a single connection needs.
 */
export function pgliteDriver(db: PGlite, options: { ownsDatabase: boolean }): SqlDriver {
  return {
    name: 'pglite',
    transaction: (work) => db.transaction((tx) => work(executor(tx))),
    async close() {
      if (options.ownsDatabase && !db.closed) await db.close();
    },
  };
}

function executor(tx: Transaction): SqlExecutor {
  return {
    async query(sql, params) {
      if (params !== undefined) return tx.query<SqlRow>(sql, [...params]);
      // `query` uses the extended protocol, which takes one statement; migrations hold several.
      const results = await tx.exec(sql);
      return { rows: (results.at(-1)?.rows ?? []) as SqlRow[] };
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  try {
    // PGlite creates the last directory only, so a fresh `./.sealflow/db` would fail without its parent.
    if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
    return await PGlite.create(dataDir === undefined ? {} : { dataDir });
  } catch (error) {
    const where = dataDir === undefined ? 'in memory' : `in ${dataDir}`;
    throw new AdapterError(
      `Could not open PGlite ${where}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Check that the directory is writable and that no other process has it open.',
      { cause: error },
    );
  }
}
