/**
 * The persistence port: everything sealflow keeps, behind one transactional interface.
 *
 * Implementations: `createMemoryPersistence()` in `@sealflow/core/memory` (the reference and test oracle), and
 * `pglitePersistence()` / `postgresPersistence()` in `@sealflow/adapter-storage`. All of them pass
 * `runPersistenceContract()` from `@sealflow/core/testing`; that suite is the executable form of the rules below.
 *
 * ## Rules every implementation keeps
 * - `transaction(work)` runs `work` atomically: if it throws, nothing it wrote is visible to anyone, ever; if it
 *   returns, everything is. The error `work` threw is re-thrown unchanged.
 * - Reads inside a transaction see that transaction's own writes. Isolation may be READ COMMITTED: every update
 *   that must not be lost is a conditional write (`expectedVersion`, claim tokens), which the stores report by
 *   returning `false` rather than throwing.
 * - Inserting a key that exists throws `ConflictError('DUPLICATE')` — except `outbox.enqueue`, which is idempotent
 *   by design and silently keeps the first entry. A duplicate aborts the surrounding transaction on PostgreSQL, so
 *   callers treat it as the end of that transaction.
 * - Times are integers in epoch milliseconds, taken from the caller (who has the `Clock`), never from the database.
 * - JSON values (`snapshot`, `payload`, `data`, `event`) round-trip exactly as `JSON.parse(JSON.stringify(v))`.
 * - Ids, keys, tags and other text fields never contain U+0000 (PostgreSQL text cannot store it); every store,
 *   the in-memory one included, rejects one with a `ValidationError`. JSON values may contain it.
 * - Claims (`outbox.claim`, `timers.claimDue`) must be safe with many concurrent claimers on one database: an item is
 *   handed to at most one claimer until its lease expires (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
 * - Lists are ordered as documented per method, so results are deterministic.
 * - Batch methods (`getMany`, `updateMany`, `completeMany`, `scheduleMany`, …) mean the single-row method applied
 *   to every entry, in one statement per call on PostgreSQL, so a transaction that settles K workflows costs a
 *   constant number of round trips. An empty batch is valid: it runs no statement and returns `[]`.
 * - Failures of the store itself surface as `AdapterError` (retryable) with the driver's error as `cause`.
 */

export interface Persistence {
  /** A short name for logs and error messages, such as `pglite` or `postgres`. */
  readonly name: string;
  transaction<T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T>;
  /** Release connections. The persistence may not be used afterwards. */
  close(): Promise<void>;
}

/** The stores, bound to one open transaction. Do not keep a reference after the transaction has ended. */
export interface PersistenceTransaction {
  readonly workflows: WorkflowStore;
  readonly outbox: OutboxStore;
  readonly timers: TimerStore;
  readonly audit: AuditStore;
  readonly entities: EntityStore;
}

// ---------------------------------------------------------------------------------------------------------------
// Workflows: one row per running or finished machine instance.

/** Where a workflow stands: running, finished, failed, or stopped by an operator. */
export type WorkflowStatus = 'active' | 'done' | 'error' | 'stopped';

/** A stored workflow instance: its type, status, serialized machine snapshot and optimistic-concurrency version. */
export interface WorkflowRow {
  id: string;
  /** The workflow definition's id, such as `template-approval`. */
  machineId: string;
  /** The definition version that wrote `snapshot`; restoring under another version needs a migration. */
  machineVersion: number;
  status: WorkflowStatus;
  /** The state value as dotted text (`pending.legal`), kept beside the snapshot so it can be queried. */
  stateValue: string;
  /** The persisted XState snapshot, plain JSON. */
  snapshot: unknown;
  /** Starts at 1 on insert and goes up by exactly 1 on every successful update. */
  rowVersion: number;
  createdAt: number;
  updatedAt: number;
}

/** A workflow row as first inserted (the store sets `rowVersion` and `updatedAt`). */
export type NewWorkflowRow = Omit<WorkflowRow, 'rowVersion' | 'updatedAt'>;

/** The fields of a workflow row an update changes. */
export interface WorkflowChange {
  machineVersion: number;
  status: WorkflowStatus;
  stateValue: string;
  snapshot: unknown;
  updatedAt: number;
}

/** Which workflow rows to list. */
export interface WorkflowFilter {
  machineId?: string;
  status?: WorkflowStatus;
  stateValue?: string;
  /** Keyset pagination: only ids greater than this. */
  afterId?: string;
  /** Default 100. */
  limit?: number;
}

/** How a workflow row is read (for example, locked for update inside a transaction). */
export interface WorkflowReadOptions {
  /**
   * Lock the rows read until the transaction ends, so no other transaction can update them meanwhile (it waits
   * instead). Default false. PostgreSQL: `FOR UPDATE`; the memory store runs one transaction at a time, so there
   * it changes nothing.
   */
  lock?: boolean;
}

/** One conditional update of `WorkflowStore.updateMany`: the arguments of `update`. */
export interface WorkflowUpdate {
  id: string;
  expectedRowVersion: number;
  change: WorkflowChange;
}

/** Workflow rows: insert, read, list and version-checked update. */
export interface WorkflowStore {
  /** Throws `ConflictError('DUPLICATE')` when the id exists. The stored row has `rowVersion` 1. */
  insert(row: NewWorkflowRow): Promise<void>;
  get(id: string, options?: WorkflowReadOptions): Promise<WorkflowRow | null>;
  /**
   * The rows of those ids that exist, ordered by id; an id given twice yields its row once. With `lock`, the rows
   * are locked in id order, so two transactions locking overlapping batches this way cannot deadlock: lock the rows
   * of a batch with this before `updateMany` when other batches may touch them concurrently.
   */
  getMany(ids: readonly string[], options?: WorkflowReadOptions): Promise<WorkflowRow[]>;
  /**
   * Replace the row's state if and only if its `rowVersion` still equals `expectedRowVersion`; the new
   * `rowVersion` is `expectedRowVersion + 1`. Returns false (and writes nothing) when the version moved on or the
   * row does not exist.
   */
  update(id: string, expectedRowVersion: number, change: WorkflowChange): Promise<boolean>;
  /**
   * `update` for each entry, all checked against the rows as they were before the call: returns the ids that were
   * updated, in no particular order (the others had moved on or do not exist, and are left alone). Throws
   * `ValidationError` (and writes nothing) when an id appears twice. One statement on PostgreSQL.
   */
  updateMany(updates: readonly WorkflowUpdate[]): Promise<string[]>;
  /** Ordered by id. */
  list(filter?: WorkflowFilter): Promise<WorkflowRow[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbox: effects to execute and domain events to publish, written in the same transaction as the state change.

/**
 * `effect`: work a worker executes (vendor call, upload). `event`: a domain event for host subscribers.
 * `webhook`: one delivery of a domain event to one webhook subscriber, claimed only by the webhook relay.
 */
export type OutboxKind = 'effect' | 'event' | 'webhook';

/**
 * `pending` → (claim) → `running` → `done`; or back to `pending` with a later `availableAt` for a retry;
 * or `failed` (a permanent error that was reported to the workflow) or `dead` (retries exhausted, waiting for a
 * person). `requeue` moves `failed`/`dead` back to `pending`.
 */
export type OutboxStatus = 'pending' | 'running' | 'done' | 'failed' | 'dead';

/** An outbox entry: an effect to run or an event to deliver, with its attempts, lease and outcome. */
export interface OutboxEntry {
  /** The idempotency key: derived from workflow, step and action, so a re-run of the same step gets the same id. */
  id: string;
  workflowId: string;
  kind: OutboxKind;
  /** The effect or event name, such as `sendForSigning`. */
  type: string;
  payload: unknown;
  status: OutboxStatus;
  /** How many times the entry has been claimed. */
  attempts: number;
  /** Not claimable before this time. */
  availableAt: number;
  /** Set by `claim`; completion and release must present it. Null when not claimed. */
  claimToken: string | null;
  /** A `running` entry whose lease has passed may be claimed again (its worker is presumed dead). */
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** An outbox entry as first enqueued. */
export type NewOutboxEntry = Pick<OutboxEntry, 'id' | 'workflowId' | 'kind' | 'type' | 'payload' | 'availableAt'> & {
  createdAt: number;
};

/** A worker's request to claim due outbox entries under a lease. */
export interface ClaimRequest {
  kind: OutboxKind;
  /** Unique per claim call; the claimed entries carry it until completed or released. */
  claimToken: string;
  now: number;
  leaseMs: number;
  limit: number;
}

/**
 * How a claimed outbox entry is released when it did not succeed: pending again (retried at `availableAt`), failed or
 * dead.
 */
export interface ReleaseChange {
  status: 'pending' | 'failed' | 'dead';
  /** For `pending`: when the retry may run. */
  availableAt: number;
  error: string | null;
  now: number;
}

/** Which outbox entries to list. */
export interface OutboxFilter {
  workflowId?: string;
  kind?: OutboxKind;
  status?: OutboxStatus;
  /**
   * Keyset pagination in list order: only entries after the entry with this id by (createdAt, id). Empty when that
   * entry does not exist.
   */
  afterId?: string;
  limit?: number;
}

/** The transactional outbox: effects and events written with the state change, claimed and released by workers. */
export interface OutboxStore {
  /** Insert entries; an id that already exists is skipped silently (idempotent enqueue). */
  enqueue(entries: NewOutboxEntry[]): Promise<void>;
  /**
   * Claim up to `limit` entries of `kind` that are `pending` with `availableAt <= now`, or `running` with
   * `leaseUntil < now`. Each claimed entry becomes `running` with `claimToken`, `leaseUntil = now + leaseMs` and
   * `attempts + 1`. Oldest `availableAt` first, then id. Concurrent claimers never receive the same entry.
   */
  claim(request: ClaimRequest): Promise<OutboxEntry[]>;
  /** Mark done if the entry is still claimed with this token; false when the claim was lost. */
  complete(id: string, claimToken: string, now: number): Promise<boolean>;
  /**
   * `complete` for each id with the same token: returns the ids marked done, in no particular order (each once);
   * ids whose claim was lost are left alone.
   */
  completeMany(ids: readonly string[], claimToken: string, now: number): Promise<string[]>;
  /** Release a claimed entry to `pending` (retry), `failed` or `dead`; false when the claim was lost. */
  release(id: string, claimToken: string, change: ReleaseChange): Promise<boolean>;
  /** Move a `failed` or `dead` entry back to `pending`, available at `now`, with `attempts` reset to 0. */
  requeue(id: string, now: number): Promise<boolean>;
  get(id: string): Promise<OutboxEntry | null>;
  /** Ordered by createdAt, then id. */
  list(filter?: OutboxFilter): Promise<OutboxEntry[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Timers: delayed events (`after` transitions), durable across restarts.

/** A timer of a workflow (an xstate delayed event), due at `dueAt`. */
export interface TimerRow {
  workflowId: string;
  /** The machine's id for the delayed event (XState's `sendId`); unique per workflow. */
  timerId: string;
  /** The event to send to the workflow when due. */
  event: unknown;
  dueAt: number;
  /** A fresh token per `schedule`, so firing a timer that was re-scheduled meanwhile is detectable. */
  token: string;
  leaseUntil: number | null;
}

/** A worker's request to claim due timers under a lease. */
export interface TimerClaimRequest {
  now: number;
  leaseMs: number;
  limit: number;
}

/** Names one timer. */
export interface TimerKey {
  workflowId: string;
  timerId: string;
}

/** Durable timers: scheduled with the state change, claimed when due, cancelled when the machine leaves the state. */
export interface TimerStore {
  /** Insert or replace the timer `(workflowId, timerId)`; replacing clears any lease. */
  schedule(timer: Omit<TimerRow, 'leaseUntil'>): Promise<void>;
  /**
   * `schedule` for each timer, in one statement on PostgreSQL. When two entries name the same timer, the last one
   * wins, as with consecutive `schedule` calls.
   */
  scheduleMany(timers: readonly Omit<TimerRow, 'leaseUntil'>[]): Promise<void>;
  /** Remove the timer if present. */
  cancel(workflowId: string, timerId: string): Promise<void>;
  /** `cancel` for each timer; absent ones are skipped. */
  cancelMany(timers: readonly TimerKey[]): Promise<void>;
  /** Remove every timer of the workflow, or of each workflow given (one statement for many finished workflows). */
  cancelAll(workflowIds: string | readonly string[]): Promise<void>;
  /**
   * Lease up to `limit` timers with `dueAt <= now` whose lease is absent or expired, setting
   * `leaseUntil = now + leaseMs`. Earliest `dueAt` first. Concurrent claimers never receive the same timer.
   */
  claimDue(request: TimerClaimRequest): Promise<TimerRow[]>;
  /** Delete the timer if it still carries `token`; false when it was cancelled or re-scheduled. */
  remove(workflowId: string, timerId: string, token: string): Promise<boolean>;
  /**
   * `remove` for each timer: deletes those that still carry their token and returns their keys, in no particular
   * order (each once).
   */
  removeMany(timers: readonly (TimerKey & { token: string })[]): Promise<TimerKey[]>;
  /** Ordered by dueAt, then workflowId, then timerId. */
  list(filter?: { workflowId?: string; limit?: number }): Promise<TimerRow[]>;
  /** The earliest `dueAt` of all timers, or null when there are none. */
  nextDueAt(): Promise<number | null>;
}

// ---------------------------------------------------------------------------------------------------------------
// Audit log: append-only, hash-chained per stream (a stream is usually one workflow or one business object).

/** One entry of a hash-chained audit stream: what happened, who did it, when, and the link to the previous entry. */
export interface AuditEntry {
  streamId: string;
  /** 1, 2, 3 … within the stream, without gaps. */
  seq: number;
  type: string;
  /** Who caused it: an actor id, `system`, or a vendor id. */
  actor: string;
  data: unknown;
  at: number;
  /** `hash` of the previous entry in the stream; 64 zeros for the first. */
  prevHash: string;
  /**
   * The entry's link, over its canonical form including `prevHash`, computed by core and stored verbatim: SHA-256 hex,
   * or `hmac-sha256:<keyId>:<hex>` when the chain is keyed.
   */
  hash: string;
}

/** Append-only audit streams, read back in order for verification. */
export interface AuditStore {
  /** Throws `ConflictError('DUPLICATE')` when `(streamId, seq)` exists. There is no update and no delete. */
  append(entry: AuditEntry): Promise<void>;
  /**
   * `append` for each entry, in one statement on PostgreSQL. Throws `ConflictError('DUPLICATE')` when any
   * `(streamId, seq)` exists or appears twice in `entries`; then none of them is written.
   */
  appendMany(entries: readonly AuditEntry[]): Promise<void>;
  /** The entry with the highest seq in the stream, or null. */
  last(streamId: string): Promise<AuditEntry | null>;
  /** `last` of each stream that has entries, ordered by streamId (each stream once). */
  lastMany(streamIds: readonly string[]): Promise<AuditEntry[]>;
  /** Ordered by seq. */
  list(streamId: string, options?: { fromSeq?: number; limit?: number }): Promise<AuditEntry[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Entities: the storage under core's typed repositories (templates, signing records, institutions, …).
// Stored as JSON with string tags for filtering, so a new repository needs no migration.

/** A stored entity (a record kept by a repository): kind, id, JSON data, tags, optional unique key and version. */
export interface EntityRow {
  /** The repository's name, such as `template-version`. */
  kind: string;
  id: string;
  /** Starts at 1, +1 per update; updates are conditional on it. */
  version: number;
  data: unknown;
  /** Exact-match filter keys. Values are strings; keep personal data out (store keyed hashes instead). */
  tags: Record<string, string>;
  /** Optional second unique key within the kind (a business number, an idempotency key). */
  uniqueKey: string | null;
  createdAt: number;
  updatedAt: number;
}

/** An entity row as first inserted. */
export type NewEntityRow = Omit<EntityRow, 'version' | 'updatedAt'>;

/** The fields of an entity row an update changes. */
export interface EntityChange {
  data: unknown;
  tags: Record<string, string>;
  uniqueKey: string | null;
  updatedAt: number;
}

/** Which entity rows to list from a collection. */
export interface EntityQuery {
  /** Every given tag must match exactly. */
  tags?: Record<string, string>;
  /** Inclusive bounds on updatedAt. */
  updatedFrom?: number;
  updatedTo?: number;
  /** Keyset pagination on id (ascending order) . */
  afterId?: string;
  /** Default 100. */
  limit?: number;
}

/** Entities: insert, read, list and version-checked update of JSON records by collection and key. */
export interface EntityStore {
  /** Throws `ConflictError('DUPLICATE')` when `(kind, id)` or `(kind, uniqueKey)` exists. Stored with version 1. */
  insert(row: NewEntityRow): Promise<void>;
  get(kind: string, id: string): Promise<EntityRow | null>;
  getByUniqueKey(kind: string, uniqueKey: string): Promise<EntityRow | null>;
  /**
   * Replace data and tags if the version still equals `expectedVersion`; false otherwise. Throws
   * `ConflictError('DUPLICATE')` if the new uniqueKey belongs to another row.
   */
  update(kind: string, id: string, expectedVersion: number, change: EntityChange): Promise<boolean>;
  /** Ordered by id. */
  find(kind: string, query?: EntityQuery): Promise<EntityRow[]>;
}
