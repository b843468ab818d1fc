import { createHash } from 'node:crypto';
import { SealflowError } from '@sealflow/core';
import { type SqlDriver, quoteIdentifier } from './sql-persistence.js';

/**
 * One step of the database schema history, applied once per schema in `version` order. Exposed so hosts can review
 * the SQL or apply it with their own migration tooling.
 */
export interface Migration {
  /** 1, 2, 3 …; applied in this order, each exactly once per schema. */
  readonly version: number;
  readonly name: string;
  /** Runs with `search_path` set to the target schema, so table names stay unqualified. */
  readonly sql: string;
}

/**
 * The schema history. Released entries are never edited (their checksum is recorded when applied): a change is a
 * new entry at the end.
 *
 * Text keys use `COLLATE "C"` so `ORDER BY id` is code point order on every server, whatever the database locale.
 * Times are `bigint` epoch milliseconds from the caller's clock. Opaque documents (`snapshot`, `payload`, `event`,
 * `data`) are `json`, which keeps the text exactly as written; `jsonb` would reorder keys and rejects `\u0000`.
 * Only `tags`, which is queried with `@>`, is `jsonb`.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE sealflow_workflows (
  id              text COLLATE "C" PRIMARY KEY,
  machine_id      text NOT NULL,
  machine_version integer NOT NULL,
  status          text NOT NULL CHECK (status IN ('active', 'done', 'error', 'stopped')),
  state_value     text NOT NULL,
  snapshot        json NOT NULL,
  row_version     integer NOT NULL,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL
);
CREATE INDEX sealflow_workflows_machine ON sealflow_workflows (machine_id, status, id);

CREATE TABLE sealflow_outbox (
  id           text COLLATE "C" PRIMARY KEY,
  workflow_id  text COLLATE "C" NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('effect', 'event')),
  type         text NOT NULL,
  payload      json NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'dead')),
  attempts     integer NOT NULL,
  available_at bigint NOT NULL,
  claim_token  text,
  lease_until  bigint,
  last_error   text,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL
);
CREATE INDEX sealflow_outbox_claim ON sealflow_outbox (kind, status, available_at, id);
CREATE INDEX sealflow_outbox_workflow ON sealflow_outbox (workflow_id, created_at, id);
CREATE INDEX sealflow_outbox_created ON sealflow_outbox (created_at, id);

CREATE TABLE sealflow_timers (
  workflow_id text COLLATE "C" NOT NULL,
  timer_id    text COLLATE "C" NOT NULL,
  event       json NOT NULL,
  due_at      bigint NOT NULL,
  token       text NOT NULL,
  lease_until bigint,
  PRIMARY KEY (workflow_id, timer_id)
);
CREATE INDEX sealflow_timers_due ON sealflow_timers (due_at, workflow_id, timer_id);

CREATE TABLE sealflow_audit (
  stream_id text COLLATE "C" NOT NULL,
  seq       bigint NOT NULL,
  type      text NOT NULL,
  actor     text NOT NULL,
  data      json NOT NULL,
  at        bigint NOT NULL,
  prev_hash text NOT NULL,
  hash      text NOT NULL,
  PRIMARY KEY (stream_id, seq)
);

CREATE TABLE sealflow_entities (
  kind       text COLLATE "C" NOT NULL,
  id         text COLLATE "C" NOT NULL,
  version    integer NOT NULL,
  data       json NOT NULL,
  tags       jsonb NOT NULL,
  unique_key text COLLATE "C",
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX sealflow_entities_unique_key ON sealflow_entities (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX sealflow_entities_tags ON sealflow_entities USING gin (tags jsonb_path_ops);
CREATE INDEX sealflow_entities_updated ON sealflow_entities (kind, updated_at);
`,
  },
  {
    version: 2,
    name: 'outbox-webhook-kind',
    // Webhook deliveries are outbox entries of their own kind, so only the webhook relay claims them.
    sql: `
ALTER TABLE sealflow_outbox DROP CONSTRAINT sealflow_outbox_kind_check;
ALTER TABLE sealflow_outbox ADD CONSTRAINT sealflow_outbox_kind_check CHECK (kind IN ('effect', 'event', 'webhook'));
`,
  },
  {
    version: 3,
    name: 'entities-tags-without-pending-list',
    // With fastupdate, new GIN entries wait in an unsorted pending list that every `tags @>` query reads in full
    // until a VACUUM merges it; entity tags are rewritten on every update, so the list grows as fast as the work
    // and lookups slow down with it. Without it each write pays a little more and each lookup stays an index probe.
    sql: `
ALTER INDEX sealflow_entities_tags SET (fastupdate = off);
SELECT gin_clean_pending_list('sealflow_entities_tags'::regclass);
`,
  },
];

export interface ApplyMigrationsOptions {
  /** The schema that holds sealflow's tables; created when missing. */
  schema: string;
  /** Defaults to `migrations`; tests pass edited lists. */
  migrations?: readonly Migration[];
}

/**
 * Bring `schema` up to date, in one transaction. Safe to run from many processes at once: an advisory lock per
 * schema makes later starters wait and then find nothing to do. Versions recorded in the database but unknown to
 * this code are left alone, so an older release keeps running during a rolling deploy of a newer one.
 */
export async function applyMigrations(driver: SqlDriver, options: ApplyMigrationsOptions): Promise<void> {
  const schema = quoteIdentifier(options.schema);
  const wanted = options.migrations ?? migrations;
  await driver.transaction(async (sql) => {
    await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sealflow_migrations:${options.schema}`]);
    await sql.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await sql.query(`SET LOCAL search_path TO ${schema}`);
    await sql.query(
      `CREATE TABLE IF NOT EXISTS sealflow_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const { rows } = await sql.query('SELECT version, checksum FROM sealflow_migrations');
    const applied = new Map(rows.map((row) => [Number(row.version), String(row.checksum)]));
    for (const migration of [...wanted].sort((a, b) => a.version - b.version)) {
      const checksum = checksumOf(migration);
      const recorded = applied.get(migration.version);
      if (recorded === checksum) continue;
      if (recorded !== undefined) throw checksumMismatch(options.schema, migration, recorded, checksum);
      await sql.query(migration.sql);
      await sql.query('INSERT INTO sealflow_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        checksum,
      ]);
    }
  });
}

function checksumOf(migration: Migration): string {
  return createHash('sha256').update(migration.sql).digest('hex');
}

function checksumMismatch(schema: string, migration: Migration, recorded: string, expected: string): SealflowError {
  return new SealflowError(
    'MIGRATION_CHECKSUM_MISMATCH',
    `Migration ${migration.version} (${migration.name}) in schema "${schema}" was applied from different SQL than ` +
      'this release ships. Released migrations must never be edited: restore the original SQL and put the change ' +
      'in a new migration. If the database was changed by hand on purpose, update the checksum in ' +
      `${schema}.sealflow_migrations to ${expected}.`,
    { details: { schema, version: migration.version, recordedChecksum: recorded, expectedChecksum: expected } },
  );
}
