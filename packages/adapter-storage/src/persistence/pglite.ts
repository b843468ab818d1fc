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
  /**
   * PGlite runs PostgreSQL without its autovacuum worker, so on its own it never removes dead row versions or
   * refreshes the planner's statistics, and a long-running process slows down and grows as its tables fill. The
   * persistence therefore runs `VACUUM (ANALYZE)` on sealflow's tables after every `vacuumEvery` transactions
   * (default 5,000; it takes tens of milliseconds, during which other queries wait, as they do for any
   * transaction on PGlite's single connection). `false` leaves maintenance to the host.
   */
  vacuumEvery?: number | false;
}

const DEFAULT_VACUUM_EVERY = 5_000;

/** Persistence on PGlite (PostgreSQL compiled to WebAssembly): embedded, in memory or in `dataDir`. */
export async function pglitePersistence(options: PglitePersistenceOptions = {}): Promise<Persistence> {
  const schema = options.schema ?? 'public';
  const db = options.db ?? (await openPglite(options.dataDir));
  const vacuumEvery = options.vacuumEvery ?? DEFAULT_VACUUM_EVERY;
  if (vacuumEvery !== false && (!Number.isInteger(vacuumEvery) || vacuumEvery < 1)) {
    throw new AdapterError(
      `vacuumEvery is ${String(vacuumEvery)}: give a whole number of transactions (at least 1), or false to leave ` +
        'VACUUM to the host.',
    );
  }
  const base = pgliteDriver(db, { ownsDatabase: options.db === undefined });
  const driver = vacuumEvery === false ? base : withPeriodicVacuum(base, db, schema, vacuumEvery);
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

/**
 * Vacuums sealflow's tables in `schema` once every `every` transactions, after the transaction that reaches the count
 * has returned, so a slow or failed VACUUM never delays or fails the caller's committed work. A failure is reported as
 * a process warning and tried again after the next `every` transactions; `close()` waits for a VACUUM under way.
 */
function withPeriodicVacuum(driver: SqlDriver, db: PGlite, schema: string, every: number): SqlDriver {
  let sinceVacuum = 0;
  let running: Promise<void> | null = null;
  const vacuum = async () => {
    const { rows } = await db.query<{ name: string }>(
      "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables " +
        "WHERE schemaname = $1 AND tablename LIKE 'sealflow\\_%'",
      [schema],
    );
    // VACUUM cannot run inside a transaction block, so it goes straight to the database, not through the driver.
    if (rows.length > 0) await db.exec(`VACUUM (ANALYZE) ${rows.map((row) => row.name).join(', ')}`);
  };
  return {
    name: driver.name,
    async transaction(work) {
      try {
        return await driver.transaction(work);
      } finally {
        if (++sinceVacuum >= every && running === null && !db.closed) {
          sinceVacuum = 0;
          running = vacuum()
            .catch((error: unknown) => {
              process.emitWarning(
                `sealflow: VACUUM of the PGlite schema "${schema}" failed and is retried after ${every} more ` +
                  `transactions: ${error instanceof Error ? error.message : String(error)}`,
                { code: 'SEALFLOW_PGLITE_VACUUM' },
              );
            })
            .finally(() => {
              running = null;
            });
        }
      }
    },
    async close() {
      await running;
      await driver.close();
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
