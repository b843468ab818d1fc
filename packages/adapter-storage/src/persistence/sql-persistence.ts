import {
  AdapterError,
  type AuditEntry,
  type AuditStore,
  ConflictError,
  type EntityRow,
  type EntityStore,
  type NewOutboxEntry,
  type OutboxEntry,
  type OutboxKind,
  type OutboxStatus,
  type OutboxStore,
  type Persistence,
  type PersistenceTransaction,
  SealflowError,
  type TimerRow,
  type TimerStore,
  ValidationError,
  type WorkflowRow,
  type WorkflowStatus,
  type WorkflowStore,
} from '@sealflow/core';

export type SqlRow = Record<string, unknown>;

/** What the stores need from a driver: statements on one open transaction. */
export interface SqlExecutor {
  /** With `params`, exactly one statement; without, the text may hold several (simple query protocol). */
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: SqlRow[] }>;
}

/** The part that differs between PGlite and node-postgres. */
export interface SqlDriver {
  readonly name: string;
  /** BEGIN, `work`, COMMIT; on a throw, ROLLBACK and rethrow `work`'s error unchanged. */
  transaction<T>(work: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const DEFAULT_LIMIT = 100;
const UNIQUE_VIOLATION = '23505';
const IN_FAILED_TRANSACTION = '25P02';
/** PostgreSQL text and jsonb cannot hold U+0000: text reports an invalid byte sequence, jsonb an untranslatable one. */
const NUL_REFUSED = new Set(['22021', '22P05']);

/** The stores of `ports/persistence.ts` over PostgreSQL SQL that PGlite and node-postgres both run. */
export function createSqlPersistence(driver: SqlDriver, options: { schema: string }): Persistence {
  const tables = tableNames(options.schema);
  return {
    name: driver.name,
    async transaction(work) {
      let thrownByWork = false;
      try {
        return await driver.transaction(async (sql) => {
          try {
            return await work(bindStores(statements(sql, driver.name), tables));
          } catch (error) {
            thrownByWork = true;
            throw error;
          }
        });
      } catch (error) {
        if (thrownByWork) throw error;
        throw driverFailure(driver.name, error);
      }
    },
    close: () => driver.close(),
  };
}

/** Double-quotes a schema name after checking it is a plain identifier, so it can be spliced into SQL. */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new ValidationError(
      `schema: ${JSON.stringify(name)} is not a plain SQL identifier; use letters, digits and _ (at most 63, ` +
        'not starting with a digit), such as "sealflow".',
    );
  }
  return `"${name}"`;
}

type Tables = ReturnType<typeof tableNames>;

function tableNames(schema: string) {
  const qualified = (table: string) => `${quoteIdentifier(schema)}.${table}`;
  return {
    workflows: qualified('sealflow_workflows'),
    outbox: qualified('sealflow_outbox'),
    timers: qualified('sealflow_timers'),
    audit: qualified('sealflow_audit'),
    entities: qualified('sealflow_entities'),
  };
}

interface Statements {
  /** Runs one statement; a unique violation becomes `ConflictError('DUPLICATE', duplicate(error))`. */
  rows(text: string, params: unknown[], duplicate?: (error: unknown) => string): Promise<SqlRow[]>;
}

function statements(sql: SqlExecutor, driverName: string): Statements {
  return {
    async rows(text, params, duplicate) {
      try {
        return (await sql.query(text, params)).rows;
      } catch (error) {
        if (NUL_REFUSED.has(String(sqlState(error)))) {
          throw new ValidationError(
            'A key, tag or other text value contains a NUL character (U+0000), which PostgreSQL text cannot store. ' +
              'Use another separator in ids, unique keys and tags; JSON payloads may contain it.',
            { cause: error },
          );
        }
        if (sqlState(error) !== UNIQUE_VIOLATION) throw driverFailure(driverName, error);
        const message = duplicate?.(error) ?? 'The record already exists.';
        throw new ConflictError('DUPLICATE', message, { cause: error });
      }
    },
  };
}

function bindStores(sql: Statements, tables: Tables): PersistenceTransaction {
  return {
    workflows: workflowStore(sql, tables.workflows),
    outbox: outboxStore(sql, tables.outbox),
    timers: timerStore(sql, tables.timers),
    audit: auditStore(sql, tables.audit),
    entities: entityStore(sql, tables.entities),
  };
}

function workflowStore(sql: Statements, table: string): WorkflowStore {
  return {
    async insert(row) {
      await sql.rows(
        `INSERT INTO ${table}
           (id, machine_id, machine_version, status, state_value, snapshot, row_version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6::json, 1, $7, $7)`,
        [row.id, row.machineId, row.machineVersion, row.status, row.stateValue, toJson(row.snapshot), row.createdAt],
        () => `A workflow with id "${row.id}" already exists. Load it instead of inserting it again.`,
      );
    },
    async get(id, options = {}) {
      const [row] = await sql.rows(`SELECT * FROM ${table} WHERE id = $1 ${forUpdate(options.lock)}`, [id]);
      return row ? toWorkflow(row) : null;
    },
    async getMany(ids, options = {}) {
      if (ids.length === 0) return [];
      // Locking in id order means two batches that overlap wait for each other instead of deadlocking.
      const rows = await sql.rows(
        `SELECT * FROM ${table} WHERE id = ANY($1::text[]) ORDER BY id ${forUpdate(options.lock)}`,
        [[...ids]],
      );
      return rows.map(toWorkflow);
    },
    async updateMany(updates) {
      if (updates.length === 0) return [];
      // UPDATE … FROM would update a row matched twice only once, with an arbitrary entry: refuse instead.
      const ids = updates.map((update) => update.id);
      const twice = ids.find((id, i) => ids.indexOf(id) !== i);
      if (twice !== undefined) {
        throw new ValidationError(
          `updateMany: workflow "${twice}" appears twice in one batch; give each workflow at most one update.`,
        );
      }
      const rows = await sql.rows(
        `UPDATE ${table} AS w
         SET machine_version = u.machine_version, status = u.status, state_value = u.state_value,
             snapshot = u.snapshot::json, updated_at = u.updated_at, row_version = w.row_version + 1
         FROM unnest($1::text[], $2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::bigint[])
              AS u(id, expected, machine_version, status, state_value, snapshot, updated_at)
         WHERE w.id = u.id AND w.row_version = u.expected
         RETURNING w.id`,
        [
          ids,
          updates.map((update) => update.expectedRowVersion),
          updates.map((update) => update.change.machineVersion),
          updates.map((update) => update.change.status),
          updates.map((update) => update.change.stateValue),
          updates.map((update) => toJson(update.change.snapshot)),
          updates.map((update) => update.change.updatedAt),
        ],
      );
      return rows.map((row) => String(row.id));
    },
    async update(id, expectedRowVersion, change) {
      const rows = await sql.rows(
        `UPDATE ${table}
         SET machine_version = $3, status = $4, state_value = $5, snapshot = $6::json, updated_at = $7,
             row_version = row_version + 1
         WHERE id = $1 AND row_version = $2
         RETURNING id`,
        [
          id,
          expectedRowVersion,
          change.machineVersion,
          change.status,
          change.stateValue,
          toJson(change.snapshot),
          change.updatedAt,
        ],
      );
      return rows.length > 0;
    },
    async list(filter = {}) {
      const q = new Query()
        .where('machine_id = $?', filter.machineId)
        .where('status = $?', filter.status)
        .where('state_value = $?', filter.stateValue)
        .where('id > $?', filter.afterId);
      const rows = await sql.rows(
        `SELECT * FROM ${table} ${q.conditions} ORDER BY id ${q.limit(filter.limit ?? DEFAULT_LIMIT)}`,
        q.params,
      );
      return rows.map(toWorkflow);
    },
  };
}

function outboxStore(sql: Statements, table: string): OutboxStore {
  const changed = async (text: string, params: unknown[]) => (await sql.rows(text, params)).length > 0;
  return {
    async enqueue(entries) {
      if (entries.length === 0) return;
      // Array parameters cost more to encode than they save for one row, the common case of a start.
      if (entries.length === 1) {
        const [entry] = entries as [NewOutboxEntry];
        await sql.rows(
          `INSERT INTO ${table}
             (id, workflow_id, kind, type, payload, status, attempts, available_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5::json, 'pending', 0, $6, $7, $7)
           ON CONFLICT (id) DO NOTHING`,
          [
            entry.id,
            entry.workflowId,
            entry.kind,
            entry.type,
            toJson(entry.payload),
            entry.availableAt,
            entry.createdAt,
          ],
        );
        return;
      }
      // One statement for the whole batch; ORDER BY the input position so the first of two equal ids wins.
      await sql.rows(
        `INSERT INTO ${table}
           (id, workflow_id, kind, type, payload, status, attempts, available_at, created_at, updated_at)
         SELECT e.id, e.workflow_id, e.kind, e.type, e.payload::json, 'pending', 0, e.available_at, e.created_at,
                e.created_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
              WITH ORDINALITY AS e(id, workflow_id, kind, type, payload, available_at, created_at, position)
         ORDER BY e.position
         ON CONFLICT (id) DO NOTHING`,
        [
          entries.map((entry) => entry.id),
          entries.map((entry) => entry.workflowId),
          entries.map((entry) => entry.kind),
          entries.map((entry) => entry.type),
          entries.map((entry) => toJson(entry.payload)),
          entries.map((entry) => entry.availableAt),
          entries.map((entry) => entry.createdAt),
        ],
      );
    },
    async claim({ kind, claimToken, now, leaseMs, limit }) {
      // SKIP LOCKED lets parallel claimers pass over rows another claimer is taking instead of waiting for them.
      const rows = await sql.rows(
        `WITH claimed AS (
           UPDATE ${table}
           SET status = 'running', claim_token = $2, lease_until = $4, attempts = attempts + 1, updated_at = $3
           WHERE id IN (
             SELECT id FROM ${table}
             WHERE kind = $1
               AND ((status = 'pending' AND available_at <= $3) OR (status = 'running' AND lease_until < $3))
             ORDER BY available_at, id
             LIMIT $5
             FOR UPDATE SKIP LOCKED
           )
           RETURNING *
         )
         SELECT * FROM claimed ORDER BY available_at, id`,
        [kind, claimToken, now, now + leaseMs, Math.max(limit, 0)],
      );
      return rows.map(toOutboxEntry);
    },
    complete(id, claimToken, now) {
      return changed(
        `UPDATE ${table} SET status = 'done', claim_token = NULL, lease_until = NULL, updated_at = $3
         WHERE id = $1 AND claim_token = $2 AND status = 'running'
         RETURNING id`,
        [id, claimToken, now],
      );
    },
    async completeMany(ids, claimToken, now) {
      if (ids.length === 0) return [];
      const rows = await sql.rows(
        `UPDATE ${table} SET status = 'done', claim_token = NULL, lease_until = NULL, updated_at = $3
         WHERE id = ANY($1::text[]) AND claim_token = $2 AND status = 'running'
         RETURNING id`,
        [[...ids], claimToken, now],
      );
      return rows.map((row) => String(row.id));
    },
    release(id, claimToken, change) {
      return changed(
        `UPDATE ${table}
         SET status = $3, available_at = $4, last_error = $5, claim_token = NULL, lease_until = NULL, updated_at = $6
         WHERE id = $1 AND claim_token = $2 AND status = 'running'
         RETURNING id`,
        [id, claimToken, change.status, change.availableAt, change.error, change.now],
      );
    },
    requeue(id, now) {
      return changed(
        `UPDATE ${table} SET status = 'pending', available_at = $2, attempts = 0, updated_at = $2
         WHERE id = $1 AND status IN ('failed', 'dead')
         RETURNING id`,
        [id, now],
      );
    },
    async get(id) {
      const [row] = await sql.rows(`SELECT * FROM ${table} WHERE id = $1`, [id]);
      return row ? toOutboxEntry(row) : null;
    },
    async list(filter = {}) {
      const q = new Query()
        .where('workflow_id = $?', filter.workflowId)
        .where('kind = $?', filter.kind)
        .where('status = $?', filter.status)
        .where(`(created_at, id) > (SELECT created_at, id FROM ${table} WHERE id = $?)`, filter.afterId);
      const rows = await sql.rows(
        `SELECT * FROM ${table} ${q.conditions} ORDER BY created_at, id ${q.limit(filter.limit)}`,
        q.params,
      );
      return rows.map(toOutboxEntry);
    },
  };
}

function timerStore(sql: Statements, table: string): TimerStore {
  const order = 'ORDER BY due_at, workflow_id, timer_id';
  return {
    async schedule(timer) {
      await sql.rows(
        `INSERT INTO ${table} (workflow_id, timer_id, event, due_at, token, lease_until)
         VALUES ($1, $2, $3::json, $4, $5, NULL)
         ON CONFLICT (workflow_id, timer_id)
         DO UPDATE SET event = excluded.event, due_at = excluded.due_at, token = excluded.token, lease_until = NULL`,
        [timer.workflowId, timer.timerId, toJson(timer.event), timer.dueAt, timer.token],
      );
    },
    async scheduleMany(timers) {
      if (timers.length === 0) return;
      // ON CONFLICT cannot touch one row twice in a statement: keep the last entry per timer, as schedule calls would.
      const last = new Map(timers.map((timer) => [JSON.stringify([timer.workflowId, timer.timerId]), timer]));
      const batch = [...last.values()];
      await sql.rows(
        `INSERT INTO ${table} (workflow_id, timer_id, event, due_at, token, lease_until)
         SELECT t.workflow_id, t.timer_id, t.event::json, t.due_at, t.token, NULL
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
              AS t(workflow_id, timer_id, event, due_at, token)
         ON CONFLICT (workflow_id, timer_id)
         DO UPDATE SET event = excluded.event, due_at = excluded.due_at, token = excluded.token, lease_until = NULL`,
        [
          batch.map((timer) => timer.workflowId),
          batch.map((timer) => timer.timerId),
          batch.map((timer) => toJson(timer.event)),
          batch.map((timer) => timer.dueAt),
          batch.map((timer) => timer.token),
        ],
      );
    },
    async cancel(workflowId, timerId) {
      await sql.rows(`DELETE FROM ${table} WHERE workflow_id = $1 AND timer_id = $2`, [workflowId, timerId]);
    },
    async cancelMany(timers) {
      if (timers.length === 0) return;
      await sql.rows(
        `DELETE FROM ${table} AS t
         USING unnest($1::text[], $2::text[]) AS c(workflow_id, timer_id)
         WHERE t.workflow_id = c.workflow_id AND t.timer_id = c.timer_id`,
        [timers.map((timer) => timer.workflowId), timers.map((timer) => timer.timerId)],
      );
    },
    async cancelAll(workflowIds) {
      const ids = typeof workflowIds === 'string' ? [workflowIds] : [...workflowIds];
      if (ids.length === 0) return;
      await sql.rows(`DELETE FROM ${table} WHERE workflow_id = ANY($1::text[])`, [ids]);
    },
    async claimDue({ now, leaseMs, limit }) {
      const rows = await sql.rows(
        `WITH claimed AS (
           UPDATE ${table} SET lease_until = $2
           WHERE (workflow_id, timer_id) IN (
             SELECT workflow_id, timer_id FROM ${table}
             WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
             ${order}
             LIMIT $3
             FOR UPDATE SKIP LOCKED
           )
           RETURNING *
         )
         SELECT * FROM claimed ${order}`,
        [now, now + leaseMs, Math.max(limit, 0)],
      );
      return rows.map(toTimer);
    },
    async remove(workflowId, timerId, token) {
      const rows = await sql.rows(
        `DELETE FROM ${table} WHERE workflow_id = $1 AND timer_id = $2 AND token = $3 RETURNING timer_id`,
        [workflowId, timerId, token],
      );
      return rows.length > 0;
    },
    async removeMany(timers) {
      if (timers.length === 0) return [];
      // A row matched by several entries is still deleted, and returned, once.
      const rows = await sql.rows(
        `DELETE FROM ${table} AS t
         USING unnest($1::text[], $2::text[], $3::text[]) AS r(workflow_id, timer_id, token)
         WHERE t.workflow_id = r.workflow_id AND t.timer_id = r.timer_id AND t.token = r.token
         RETURNING t.workflow_id, t.timer_id`,
        [
          timers.map((timer) => timer.workflowId),
          timers.map((timer) => timer.timerId),
          timers.map((timer) => timer.token),
        ],
      );
      return rows.map((row) => ({ workflowId: String(row.workflow_id), timerId: String(row.timer_id) }));
    },
    async list(filter = {}) {
      const q = new Query().where('workflow_id = $?', filter.workflowId);
      const rows = await sql.rows(`SELECT * FROM ${table} ${q.conditions} ${order} ${q.limit(filter.limit)}`, q.params);
      return rows.map(toTimer);
    },
    async nextDueAt() {
      const [row] = await sql.rows(`SELECT min(due_at) AS due_at FROM ${table}`, []);
      return nullableNumber(row?.due_at);
    },
  };
}

function auditStore(sql: Statements, table: string): AuditStore {
  const store: AuditStore = {
    async append(entry) {
      await sql.rows(
        `INSERT INTO ${table} (stream_id, seq, type, actor, data, at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8)`,
        [entry.streamId, entry.seq, entry.type, entry.actor, toJson(entry.data), entry.at, entry.prevHash, entry.hash],
        () =>
          `Audit stream "${entry.streamId}" already has an entry with seq ${entry.seq}: another writer appended ` +
          'first. Reload the last entry of the stream and append after it.',
      );
    },
    async appendMany(entries) {
      if (entries.length === 0) return;
      if (entries.length === 1) return store.append(entries[0]!);
      // One statement: a duplicate, in the table or within the batch, fails it whole.
      await sql.rows(
        `INSERT INTO ${table} (stream_id, seq, type, actor, data, at, prev_hash, hash)
         SELECT e.stream_id, e.seq, e.type, e.actor, e.data::json, e.at, e.prev_hash, e.hash
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                     $8::text[]) AS e(stream_id, seq, type, actor, data, at, prev_hash, hash)`,
        [
          entries.map((entry) => entry.streamId),
          entries.map((entry) => entry.seq),
          entries.map((entry) => entry.type),
          entries.map((entry) => entry.actor),
          entries.map((entry) => toJson(entry.data)),
          entries.map((entry) => entry.at),
          entries.map((entry) => entry.prevHash),
          entries.map((entry) => entry.hash),
        ],
        (error) =>
          `An audit entry of this batch already exists (${detailOf(error) ?? 'same stream and seq'}): another ` +
          'writer appended first, or the batch holds one (streamId, seq) twice. Reload the last entries of the ' +
          'streams and append after them.',
      );
    },
    async last(streamId) {
      const [row] = await sql.rows(`SELECT * FROM ${table} WHERE stream_id = $1 ORDER BY seq DESC LIMIT 1`, [streamId]);
      return row ? toAuditEntry(row) : null;
    },
    async lastMany(streamIds) {
      if (streamIds.length === 0) return [];
      // Per stream, one backward step on the primary key (stream_id, seq), however long the stream is.
      const rows = await sql.rows(
        `SELECT a.* FROM (SELECT DISTINCT unnest($1::text[]) AS stream_id) AS s
         CROSS JOIN LATERAL (
           SELECT * FROM ${table} WHERE stream_id = s.stream_id ORDER BY seq DESC LIMIT 1
         ) AS a
         ORDER BY a.stream_id`,
        [[...streamIds]],
      );
      return rows.map(toAuditEntry);
    },
    async list(streamId, options = {}) {
      const q = new Query().where('stream_id = $?', streamId).where('seq >= $?', options.fromSeq);
      const rows = await sql.rows(
        `SELECT * FROM ${table} ${q.conditions} ORDER BY seq ${q.limit(options.limit)}`,
        q.params,
      );
      return rows.map(toAuditEntry);
    },
  };
  return store;
}

function entityStore(sql: Statements, table: string): EntityStore {
  const duplicate = (kind: string, id: string) => (error: unknown) =>
    constraintOf(error) === 'sealflow_entities_unique_key'
      ? `Another ${kind} entity already uses this uniqueKey. Load that entity instead of creating a second one.`
      : `A ${kind} entity with id "${id}" already exists. Load it instead of inserting it again.`;
  return {
    async insert(row) {
      await sql.rows(
        `INSERT INTO ${table} (kind, id, version, data, tags, unique_key, created_at, updated_at)
         VALUES ($1, $2, 1, $3::json, $4::jsonb, $5, $6, $6)`,
        [row.kind, row.id, toJson(row.data), JSON.stringify(row.tags), row.uniqueKey, row.createdAt],
        duplicate(row.kind, row.id),
      );
    },
    async get(kind, id) {
      const [row] = await sql.rows(`SELECT * FROM ${table} WHERE kind = $1 AND id = $2`, [kind, id]);
      return row ? toEntity(row) : null;
    },
    async getByUniqueKey(kind, uniqueKey) {
      const [row] = await sql.rows(`SELECT * FROM ${table} WHERE kind = $1 AND unique_key = $2`, [kind, uniqueKey]);
      return row ? toEntity(row) : null;
    },
    async update(kind, id, expectedVersion, change) {
      const rows = await sql.rows(
        `UPDATE ${table}
         SET data = $4::json, tags = $5::jsonb, unique_key = $6, updated_at = $7, version = version + 1
         WHERE kind = $1 AND id = $2 AND version = $3
         RETURNING id`,
        [
          kind,
          id,
          expectedVersion,
          toJson(change.data),
          JSON.stringify(change.tags),
          change.uniqueKey,
          change.updatedAt,
        ],
        duplicate(kind, id),
      );
      return rows.length > 0;
    },
    async find(kind, query = {}) {
      const q = new Query()
        .where('kind = $?', kind)
        .where('tags @> $?::jsonb', query.tags && JSON.stringify(query.tags))
        .where('updated_at >= $?', query.updatedFrom)
        .where('updated_at <= $?', query.updatedTo)
        .where('id > $?', query.afterId);
      const rows = await sql.rows(
        `SELECT * FROM ${table} ${q.conditions} ORDER BY id ${q.limit(query.limit ?? DEFAULT_LIMIT)}`,
        q.params,
      );
      return rows.map(toEntity);
    },
  };
}

function forUpdate(lock: boolean | undefined): string {
  return lock === true ? 'FOR UPDATE' : '';
}

/** Builds a WHERE clause from optional filters; `$?` in a condition stands for its bound parameter. */
class Query {
  readonly params: unknown[] = [];
  private readonly clauses: string[] = [];

  where(condition: string, value: unknown): this {
    if (value !== undefined) this.clauses.push(condition.replaceAll('$?', this.bind(value)));
    return this;
  }

  get conditions(): string {
    return this.clauses.length === 0 ? '' : `WHERE ${this.clauses.join(' AND ')}`;
  }

  limit(value: number | undefined): string {
    return value === undefined ? '' : `LIMIT ${this.bind(value)}`;
  }

  private bind(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

// Drivers return bigint columns as strings (pg) or numbers (PGlite); times stay below 2^53, so Number is exact.
function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

// `undefined` has no JSON text; it is stored as JSON null, as the memory oracle does.
function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function toWorkflow(row: SqlRow): WorkflowRow {
  return {
    id: String(row.id),
    machineId: String(row.machine_id),
    machineVersion: Number(row.machine_version),
    status: row.status as WorkflowStatus,
    stateValue: String(row.state_value),
    snapshot: row.snapshot,
    rowVersion: Number(row.row_version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toOutboxEntry(row: SqlRow): OutboxEntry {
  return {
    id: String(row.id),
    workflowId: String(row.workflow_id),
    kind: row.kind as OutboxKind,
    type: String(row.type),
    payload: row.payload,
    status: row.status as OutboxStatus,
    attempts: Number(row.attempts),
    availableAt: Number(row.available_at),
    claimToken: (row.claim_token as string | null) ?? null,
    leaseUntil: nullableNumber(row.lease_until),
    lastError: (row.last_error as string | null) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toTimer(row: SqlRow): TimerRow {
  return {
    workflowId: String(row.workflow_id),
    timerId: String(row.timer_id),
    event: row.event,
    dueAt: Number(row.due_at),
    token: String(row.token),
    leaseUntil: nullableNumber(row.lease_until),
  };
}

function toAuditEntry(row: SqlRow): AuditEntry {
  return {
    streamId: String(row.stream_id),
    seq: Number(row.seq),
    type: String(row.type),
    actor: String(row.actor),
    data: row.data,
    at: Number(row.at),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

function toEntity(row: SqlRow): EntityRow {
  return {
    kind: String(row.kind),
    id: String(row.id),
    version: Number(row.version),
    data: row.data,
    tags: row.tags as Record<string, string>,
    uniqueKey: (row.unique_key as string | null) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** PostgreSQL's DETAIL of an error, such as `Key (stream_id, seq)=(wf-1, 1) already exists.` */
function detailOf(error: unknown): string | undefined {
  const detail = (error as { detail?: unknown } | null)?.detail;
  return typeof detail === 'string' ? detail : undefined;
}

function constraintOf(error: unknown): string | undefined {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

/** Wraps a driver error as a retryable `AdapterError` whose message says what to check; ours pass through. */
export function driverFailure(driverName: string, error: unknown): SealflowError {
  if (error instanceof SealflowError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const inFailedTransaction = sqlState(error) === IN_FAILED_TRANSACTION;
  const advice = inFailedTransaction
    ? 'An earlier statement in this transaction failed (a DUPLICATE, for example), which ends the transaction ' +
      'on PostgreSQL: stop using it after such an error and start a new one.'
    : 'Check that the database is reachable and that its sealflow schema is migrated; the cause has the details.';
  // Repeating the same work in a new transaction fails the same way when it already failed inside one.
  return new AdapterError(`${driverName} persistence failed: ${detail}. ${advice}`, {
    cause: error,
    retryable: !inFailedTransaction,
  });
}
