import { ConflictError, SealflowError, ValidationError } from '../errors.js';
import type {
  AuditEntry,
  AuditStore,
  EntityRow,
  EntityStore,
  OutboxEntry,
  OutboxStore,
  Persistence,
  PersistenceTransaction,
  TimerKey,
  TimerRow,
  TimerStore,
  WorkflowChange,
  WorkflowRow,
  WorkflowStore,
} from '../ports/persistence.js';

/**
 * The reference `Persistence`: plain maps, one transaction at a time, with an undo journal for rollback.
 *
 * JSON fields are kept as JSON text, which gives the `JSON.parse(JSON.stringify(v))` round-trip the contract asks
 * for and means no caller can reach stored state through a returned or passed-in object. Rows are built field by
 * field from the caller's input, never spread from it: extra properties would otherwise be stored (a table would
 * drop them), and rows of one shape keep the scans of claims and lists fast.
 */
export function createMemoryPersistence(): Persistence {
  const db = new MemoryDatabase();
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  return {
    name: 'memory',
    transaction<T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T> {
      if (closed) {
        return Promise.reject(
          new SealflowError('PERSISTENCE_CLOSED', 'The memory persistence was closed; create a new one.'),
        );
      }
      const run = queue.then(() => db.run(work));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      closed = true;
      await queue;
    },
  };
}

type Stored<Row, JsonField extends keyof Row> = Omit<Row, JsonField> & { readonly [K in JsonField]: string };
type StoredWorkflow = Stored<WorkflowRow, 'snapshot'>;
type StoredOutboxEntry = Stored<OutboxEntry, 'payload'>;
type StoredTimer = Stored<TimerRow, 'event'>;
type StoredAuditEntry = Stored<AuditEntry, 'data'>;
type StoredEntity = Stored<EntityRow, 'data'>;

const DEFAULT_LIMIT = 100;

class MemoryDatabase {
  readonly workflows = new Map<string, StoredWorkflow>();
  readonly outbox = new Map<string, StoredOutboxEntry>();
  readonly timers = new Map<string, StoredTimer>();
  /** Stream id → seq → entry. */
  readonly audit = new Map<string, Map<number, StoredAuditEntry>>();
  readonly entities = new Map<string, StoredEntity>();
  /** `(kind, uniqueKey)` → entity id, the second unique index of entities. */
  readonly entityUniqueKeys = new Map<string, string>();

  async run<T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T> {
    const tx = new MemoryTransaction(this);
    try {
      return await work(tx.stores);
    } catch (error) {
      tx.rollback();
      throw error;
    } finally {
      tx.end();
    }
  }
}

/** One open transaction: every write goes through `write`, which records how to undo it. */
class MemoryTransaction {
  private readonly undo: Array<() => void> = [];
  private open = true;
  readonly stores: PersistenceTransaction;

  constructor(readonly db: MemoryDatabase) {
    this.stores = {
      workflows: workflowStore(this),
      outbox: outboxStore(this),
      timers: timerStore(this),
      audit: auditStore(this),
      entities: entityStore(this),
    };
  }

  /** Throws when a store is used after its transaction ended, which would bypass both the lock and the journal. */
  check(): MemoryDatabase {
    if (!this.open) {
      throw new SealflowError(
        'TRANSACTION_CLOSED',
        'A store was used after its transaction ended; use the stores only inside the transaction callback.',
      );
    }
    return this.db;
  }

  write<K, V>(table: Map<K, V>, key: K, value: V | undefined): void {
    if (value !== undefined) refuseNul(value);
    const had = table.has(key);
    const previous = table.get(key);
    this.undo.push(() => (had ? table.set(key, previous as V) : table.delete(key)));
    if (value === undefined) table.delete(key);
    else table.set(key, value);
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
  }

  end(): void {
    this.open = false;
  }
}

function workflowStore(tx: MemoryTransaction): WorkflowStore {
  const read = (row: StoredWorkflow): WorkflowRow => ({ ...row, snapshot: fromJson(row.snapshot) });
  const applyUpdate = (
    id: string,
    expectedRowVersion: number,
    change: WorkflowChange,
    workflows = tx.check().workflows,
  ): boolean => {
    const row = workflows.get(id);
    if (!row || row.rowVersion !== expectedRowVersion) return false;
    tx.write(workflows, id, {
      ...row,
      machineVersion: change.machineVersion,
      status: change.status,
      stateValue: change.stateValue,
      snapshot: toJson(change.snapshot),
      rowVersion: expectedRowVersion + 1,
      updatedAt: change.updatedAt,
    });
    return true;
  };
  return {
    async insert(row) {
      const { workflows } = tx.check();
      if (workflows.has(row.id)) throw duplicate(`A workflow with id "${row.id}" already exists.`);
      tx.write(workflows, row.id, {
        id: row.id,
        machineId: row.machineId,
        machineVersion: row.machineVersion,
        status: row.status,
        stateValue: row.stateValue,
        snapshot: toJson(row.snapshot),
        rowVersion: 1,
        createdAt: row.createdAt,
        updatedAt: row.createdAt,
      });
    },
    // Transactions run one at a time, so every row a transaction reads is already as good as locked.
    async get(id) {
      const row = tx.check().workflows.get(id);
      return row ? read(row) : null;
    },
    async getMany(ids) {
      const { workflows } = tx.check();
      const rows: StoredWorkflow[] = [];
      for (const id of new Set(ids)) {
        const row = workflows.get(id);
        if (row) rows.push(row);
      }
      return rows.sort(byId).map(read);
    },
    async update(id, expectedRowVersion, change) {
      return applyUpdate(id, expectedRowVersion, change);
    },
    async updateMany(updates) {
      const { workflows } = tx.check();
      const seen = new Set<string>();
      for (const { id } of updates) {
        if (seen.has(id)) {
          throw new ValidationError(
            `updateMany: workflow "${id}" appears twice in one batch; give each workflow at most one update.`,
          );
        }
        seen.add(id);
      }
      // Distinct ids, so checking as we go sees the rows as they were before the call, as one SQL statement does.
      return updates
        .filter(({ id, expectedRowVersion, change }) => applyUpdate(id, expectedRowVersion, change, workflows))
        .map(({ id }) => id);
    },
    async list(filter = {}) {
      const rows = firstInOrder(
        tx.check().workflows.values(),
        (row) =>
          matches(row.machineId, filter.machineId) &&
          matches(row.status, filter.status) &&
          matches(row.stateValue, filter.stateValue) &&
          isAfter(row.id, filter.afterId),
        byId,
        filter.limit ?? DEFAULT_LIMIT,
      );
      return rows.map(read);
    },
  };
}

function outboxStore(tx: MemoryTransaction): OutboxStore {
  const read = (entry: StoredOutboxEntry): OutboxEntry => ({ ...entry, payload: fromJson(entry.payload) });
  const listOrder = (a: StoredOutboxEntry, b: StoredOutboxEntry) =>
    a.createdAt - b.createdAt || compareText(a.id, b.id);
  const claimed = (id: string, claimToken: string): StoredOutboxEntry | undefined => {
    const entry = tx.check().outbox.get(id);
    return entry?.status === 'running' && entry.claimToken === claimToken ? entry : undefined;
  };
  const completeOne = (id: string, claimToken: string, now: number): boolean => {
    const entry = claimed(id, claimToken);
    if (!entry) return false;
    tx.write(tx.db.outbox, id, { ...entry, status: 'done', claimToken: null, leaseUntil: null, updatedAt: now });
    return true;
  };
  return {
    async enqueue(entries) {
      const { outbox } = tx.check();
      for (const entry of entries) {
        if (outbox.has(entry.id)) continue;
        tx.write(outbox, entry.id, {
          id: entry.id,
          workflowId: entry.workflowId,
          kind: entry.kind,
          type: entry.type,
          payload: toJson(entry.payload),
          availableAt: entry.availableAt,
          createdAt: entry.createdAt,
          status: 'pending',
          attempts: 0,
          claimToken: null,
          leaseUntil: null,
          lastError: null,
          updatedAt: entry.createdAt,
        });
      }
    },
    async claim({ kind, claimToken, now, leaseMs, limit }) {
      const { outbox } = tx.check();
      const due = firstInOrder(
        outbox.values(),
        (entry) =>
          entry.kind === kind &&
          ((entry.status === 'pending' && entry.availableAt <= now) ||
            (entry.status === 'running' && entry.leaseUntil !== null && entry.leaseUntil < now)),
        (a, b) => a.availableAt - b.availableAt || compareText(a.id, b.id),
        limit,
      );
      return due.map((entry) => {
        const next: StoredOutboxEntry = {
          ...entry,
          status: 'running',
          claimToken,
          leaseUntil: now + leaseMs,
          attempts: entry.attempts + 1,
          updatedAt: now,
        };
        tx.write(outbox, entry.id, next);
        return read(next);
      });
    },
    async complete(id, claimToken, now) {
      return completeOne(id, claimToken, now);
    },
    async completeMany(ids, claimToken, now) {
      tx.check();
      return [...new Set(ids)].filter((id) => completeOne(id, claimToken, now));
    },
    async release(id, claimToken, change) {
      const entry = claimed(id, claimToken);
      if (!entry) return false;
      tx.write(tx.db.outbox, id, {
        ...entry,
        status: change.status,
        availableAt: change.availableAt,
        lastError: change.error,
        claimToken: null,
        leaseUntil: null,
        updatedAt: change.now,
      });
      return true;
    },
    async requeue(id, now) {
      const { outbox } = tx.check();
      const entry = outbox.get(id);
      if (entry?.status !== 'failed' && entry?.status !== 'dead') return false;
      tx.write(outbox, id, { ...entry, status: 'pending', availableAt: now, attempts: 0, updatedAt: now });
      return true;
    },
    async get(id) {
      const entry = tx.check().outbox.get(id);
      return entry ? read(entry) : null;
    },
    async list(filter = {}) {
      const { outbox } = tx.check();
      const after = filter.afterId === undefined ? undefined : outbox.get(filter.afterId);
      if (filter.afterId !== undefined && !after) return [];
      const entries = firstInOrder(
        outbox.values(),
        (entry) =>
          matches(entry.workflowId, filter.workflowId) &&
          matches(entry.kind, filter.kind) &&
          matches(entry.status, filter.status) &&
          (after === undefined || listOrder(entry, after) > 0),
        listOrder,
        filter.limit,
      );
      return entries.map(read);
    },
  };
}

function timerStore(tx: MemoryTransaction): TimerStore {
  const read = (timer: StoredTimer): TimerRow => ({ ...timer, event: fromJson(timer.event) });
  const dueOrder = (a: StoredTimer, b: StoredTimer) =>
    a.dueAt - b.dueAt || compareText(a.workflowId, b.workflowId) || compareText(a.timerId, b.timerId);
  const removeOne = (workflowId: string, timerId: string, token: string): boolean => {
    const { timers } = tx.check();
    const timerKey = key(workflowId, timerId);
    if (timers.get(timerKey)?.token !== token) return false;
    tx.write(timers, timerKey, undefined);
    return true;
  };
  const scheduleOne = (timer: Omit<TimerRow, 'leaseUntil'>) =>
    tx.write(tx.check().timers, key(timer.workflowId, timer.timerId), {
      workflowId: timer.workflowId,
      timerId: timer.timerId,
      event: toJson(timer.event),
      dueAt: timer.dueAt,
      token: timer.token,
      leaseUntil: null,
    });
  const cancelOne = ({ workflowId, timerId }: TimerKey) =>
    tx.write(tx.check().timers, key(workflowId, timerId), undefined);
  return {
    async schedule(timer) {
      scheduleOne(timer);
    },
    async scheduleMany(timers) {
      tx.check();
      for (const timer of timers) scheduleOne(timer);
    },
    async cancel(workflowId, timerId) {
      cancelOne({ workflowId, timerId });
    },
    async cancelMany(timers) {
      tx.check();
      for (const timer of timers) cancelOne(timer);
    },
    async cancelAll(workflowIds) {
      const { timers } = tx.check();
      const ids = new Set(typeof workflowIds === 'string' ? [workflowIds] : workflowIds);
      for (const [timerKey, timer] of timers) if (ids.has(timer.workflowId)) tx.write(timers, timerKey, undefined);
    },
    async claimDue({ now, leaseMs, limit }) {
      const { timers } = tx.check();
      const due = firstInOrder(
        timers.values(),
        (timer) => timer.dueAt <= now && (timer.leaseUntil === null || timer.leaseUntil < now),
        dueOrder,
        limit,
      );
      return due.map((timer) => {
        const leased: StoredTimer = { ...timer, leaseUntil: now + leaseMs };
        tx.write(timers, key(timer.workflowId, timer.timerId), leased);
        return read(leased);
      });
    },
    async remove(workflowId, timerId, token) {
      return removeOne(workflowId, timerId, token);
    },
    async removeMany(timers) {
      tx.check();
      return timers
        .filter(({ workflowId, timerId, token }) => removeOne(workflowId, timerId, token))
        .map(({ workflowId, timerId }) => ({ workflowId, timerId }));
    },
    async list(filter = {}) {
      const timers = firstInOrder(
        tx.check().timers.values(),
        (timer) => matches(timer.workflowId, filter.workflowId),
        dueOrder,
        filter.limit,
      );
      return timers.map(read);
    },
    async nextDueAt() {
      let earliest: number | null = null;
      for (const timer of tx.check().timers.values())
        if (earliest === null || timer.dueAt < earliest) earliest = timer.dueAt;
      return earliest;
    },
  };
}

function auditStore(tx: MemoryTransaction): AuditStore {
  const read = (entry: StoredAuditEntry): AuditEntry => ({ ...entry, data: fromJson(entry.data) });
  const exists = (entry: AuditEntry) => tx.check().audit.get(entry.streamId)?.has(entry.seq) === true;
  const taken = (entry: AuditEntry) =>
    duplicate(`Audit stream "${entry.streamId}" already has an entry with seq ${entry.seq}.`);
  const appendOne = (entry: AuditEntry) => {
    const { audit } = tx.check();
    let entries = audit.get(entry.streamId);
    if (!entries) {
      entries = new Map();
      tx.write(audit, entry.streamId, entries);
    }
    tx.write(entries, entry.seq, {
      streamId: entry.streamId,
      seq: entry.seq,
      type: entry.type,
      actor: entry.actor,
      data: toJson(entry.data),
      at: entry.at,
      prevHash: entry.prevHash,
      hash: entry.hash,
    });
  };
  const lastOf = (streamId: string): StoredAuditEntry | undefined => {
    let latest: StoredAuditEntry | undefined;
    for (const entry of tx.check().audit.get(streamId)?.values() ?? []) {
      if (!latest || entry.seq > latest.seq) latest = entry;
    }
    return latest;
  };
  return {
    async append(entry) {
      if (exists(entry)) throw taken(entry);
      appendOne(entry);
    },
    async appendMany(entries) {
      // Check the whole batch first, so a duplicate leaves nothing of it behind, as the one SQL statement does.
      const inBatch = new Set<string>();
      for (const entry of entries) {
        const entryKey = key(entry.streamId, String(entry.seq));
        if (exists(entry) || inBatch.has(entryKey)) throw taken(entry);
        inBatch.add(entryKey);
      }
      for (const entry of entries) appendOne(entry);
    },
    async last(streamId) {
      const latest = lastOf(streamId);
      return latest ? read(latest) : null;
    },
    async lastMany(streamIds) {
      tx.check();
      const latest: StoredAuditEntry[] = [];
      for (const streamId of new Set(streamIds)) {
        const entry = lastOf(streamId);
        if (entry) latest.push(entry);
      }
      return latest.sort((a, b) => compareText(a.streamId, b.streamId)).map(read);
    },
    async list(streamId, options = {}) {
      const fromSeq = options.fromSeq ?? Number.NEGATIVE_INFINITY;
      const entries = firstInOrder(
        tx.check().audit.get(streamId)?.values() ?? [],
        (entry) => entry.seq >= fromSeq,
        (a, b) => a.seq - b.seq,
        options.limit,
      );
      return entries.map(read);
    },
  };
}

function entityStore(tx: MemoryTransaction): EntityStore {
  const read = (row: StoredEntity): EntityRow => ({ ...row, data: fromJson(row.data), tags: { ...row.tags } });
  const claimUniqueKey = (kind: string, id: string, uniqueKey: string | null) => {
    if (uniqueKey === null) return;
    const owner = tx.db.entityUniqueKeys.get(key(kind, uniqueKey));
    if (owner !== undefined && owner !== id) {
      throw duplicate(`Another ${kind} entity already uses this uniqueKey.`);
    }
    tx.write(tx.db.entityUniqueKeys, key(kind, uniqueKey), id);
  };
  return {
    async insert(row) {
      const { entities } = tx.check();
      if (entities.has(key(row.kind, row.id))) throw duplicate(`A ${row.kind} entity with id "${row.id}" exists.`);
      claimUniqueKey(row.kind, row.id, row.uniqueKey);
      tx.write(entities, key(row.kind, row.id), {
        kind: row.kind,
        id: row.id,
        version: 1,
        data: toJson(row.data),
        tags: { ...row.tags },
        uniqueKey: row.uniqueKey,
        createdAt: row.createdAt,
        updatedAt: row.createdAt,
      });
    },
    async get(kind, id) {
      const row = tx.check().entities.get(key(kind, id));
      return row ? read(row) : null;
    },
    async getByUniqueKey(kind, uniqueKey) {
      const { entities, entityUniqueKeys } = tx.check();
      const id = entityUniqueKeys.get(key(kind, uniqueKey));
      const row = id === undefined ? undefined : entities.get(key(kind, id));
      return row ? read(row) : null;
    },
    async update(kind, id, expectedVersion, change) {
      const { entities, entityUniqueKeys } = tx.check();
      const row = entities.get(key(kind, id));
      if (!row || row.version !== expectedVersion) return false;
      if (row.uniqueKey !== change.uniqueKey) {
        claimUniqueKey(kind, id, change.uniqueKey);
        if (row.uniqueKey !== null) tx.write(entityUniqueKeys, key(kind, row.uniqueKey), undefined);
      }
      tx.write(entities, key(kind, id), {
        ...row,
        data: toJson(change.data),
        tags: { ...change.tags },
        uniqueKey: change.uniqueKey,
        updatedAt: change.updatedAt,
        version: expectedVersion + 1,
      });
      return true;
    },
    async find(kind, query = {}) {
      const tags = Object.entries(query.tags ?? {});
      const rows = firstInOrder(
        tx.check().entities.values(),
        (row) =>
          row.kind === kind &&
          tags.every(([name, value]) => row.tags[name] === value) &&
          row.updatedAt >= (query.updatedFrom ?? Number.NEGATIVE_INFINITY) &&
          row.updatedAt <= (query.updatedTo ?? Number.POSITIVE_INFINITY) &&
          isAfter(row.id, query.afterId),
        byId,
        query.limit ?? DEFAULT_LIMIT,
      );
      return rows.map(read);
    },
  };
}

function duplicate(message: string): ConflictError {
  return new ConflictError('DUPLICATE', `${message} Load the existing record instead of inserting it again.`);
}

function key(...parts: string[]): string {
  return JSON.stringify(parts);
}

// `undefined` serializes to nothing; SQL stores it as JSON null, so the oracle does too.
function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

function fromJson(text: string): unknown {
  return JSON.parse(text);
}

function matches<T>(value: T, wanted: T | undefined): boolean {
  return wanted === undefined || value === wanted;
}

function byId(a: { id: string }, b: { id: string }): number {
  return compareText(a.id, b.id);
}

function isAfter(id: string, afterId: string | undefined): boolean {
  return afterId === undefined || compareText(id, afterId) > 0;
}

/**
 * Code point order, which is what PostgreSQL's `COLLATE "C"` (UTF-8 byte order) gives. UTF-16 units already sort
 * that way, except that surrogates (U+D800–DFFF, halves of code points above U+FFFF) must come after U+E000–FFFF.
 */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return inCodePointOrder(x) - inCodePointOrder(y);
  }
  return a.length - b.length;
}

function inCodePointOrder(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/** The first `limit` kept items in `order`, without sorting all of them: claims and pages take a few of many. */
function firstInOrder<T>(
  items: Iterable<T>,
  keep: (item: T) => boolean,
  order: (a: T, b: T) => number,
  limit: number | undefined,
): T[] {
  if (limit === undefined) return [...items].filter(keep).sort(order);
  const first: T[] = [];
  if (limit <= 0) return first;
  for (const item of items) {
    if (!keep(item) || (first.length === limit && order(item, first[limit - 1]!) >= 0)) continue;
    let low = 0;
    let high = first.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order(first[middle]!, item) <= 0) low = middle + 1;
      else high = middle;
    }
    first.splice(low, 0, item);
    if (first.length > limit) first.pop();
  }
  return first;
}

/**
 * PostgreSQL text cannot hold U+0000, so the SQL stores refuse it; the reference store refuses it too, so code that
 * passes here passes there. JSON values are kept as JSON text, where a NUL is escaped and therefore allowed.
 */
function refuseNul(row: unknown): void {
  if (row === null || typeof row !== 'object') return;
  for (const [field, value] of Object.entries(row)) {
    const texts =
      typeof value === 'string'
        ? [value]
        : value && typeof value === 'object' && !Array.isArray(value)
          ? Object.values(value)
          : [];
    if (texts.some((text) => typeof text === 'string' && text.includes('\u0000'))) {
      throw new ValidationError(
        `${field} contains a NUL character (U+0000), which PostgreSQL text cannot store. ` +
          'Use another separator in ids, unique keys and tags; JSON payloads may contain it.',
      );
    }
  }
}
