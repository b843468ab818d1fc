import type { z } from 'zod';
import { ConflictError, SnapshotError } from './errors.js';
import type { EntityQuery, EntityRow, PersistenceTransaction } from './ports/persistence.js';

/**
 * Typed repositories over the persistence port's entity store.
 *
 * A repository names a kind of record, its zod schema (the single source of its type), the tags it can be filtered
 * by and an optional business-unique key. Stored data is parsed with the schema on the way out, so a row written by
 * hand or by an older release that no longer fits is reported, not silently trusted.
 */

export interface RepositoryDefinition<S extends z.ZodType> {
  kind: string;
  schema: S;
  id: (record: z.output<S>) => string;
  /** Exact-match filter keys. Never put personal data here; store a keyed hash instead. */
  tags?: (record: z.output<S>) => Record<string, string | undefined>;
  uniqueKey?: (record: z.output<S>) => string | null;
  /** Named in conflict messages: "template version", "signing record". */
  label: string;
}

/** A record read from a repository, with the version to pass back when updating it. */
export interface Stored<T> {
  record: T;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** Typed, zod-validated access to one collection of the persistence port's entity store. */
export interface Repository<T> {
  readonly kind: string;
  insert(tx: PersistenceTransaction, record: T, now: number): Promise<Stored<T>>;
  get(tx: PersistenceTransaction, id: string): Promise<Stored<T> | null>;
  getByUniqueKey(tx: PersistenceTransaction, key: string): Promise<Stored<T> | null>;
  /** Replace `previous` with `record` if nobody changed it since it was read; throws VERSION_CONFLICT otherwise. */
  update(tx: PersistenceTransaction, previous: Stored<T>, record: T, now: number): Promise<Stored<T>>;
  find(tx: PersistenceTransaction, query?: EntityQuery): Promise<Stored<T>[]>;
}

/** Define a repository: records of one collection, validated by a zod schema on every write and read. */
export function defineRepository<S extends z.ZodType>(definition: RepositoryDefinition<S>): Repository<z.output<S>> {
  type T = z.output<S>;
  const tagsOf = (record: T): Record<string, string> => {
    const tags: Record<string, string> = {};
    for (const [key, value] of Object.entries(definition.tags?.(record) ?? {}))
      if (value !== undefined) tags[key] = value;
    return tags;
  };
  const revive = (row: EntityRow): Stored<T> => {
    const parsed = definition.schema.safeParse(row.data);
    if (!parsed.success) {
      throw new SnapshotError(
        'CORRUPT_SNAPSHOT',
        `The stored ${definition.label} ${row.id} no longer matches its schema (${parsed.error.issues[0]?.path.join('.')}: ` +
          `${parsed.error.issues[0]?.message}). Restore it from a backup or migrate it.`,
      );
    }
    return { record: parsed.data, version: row.version, createdAt: row.createdAt, updatedAt: row.updatedAt };
  };
  return {
    kind: definition.kind,
    async insert(tx, record, now) {
      const data = JSON.parse(JSON.stringify(definition.schema.parse(record)));
      await tx.entities.insert({
        kind: definition.kind,
        id: definition.id(record),
        data,
        tags: tagsOf(record),
        uniqueKey: definition.uniqueKey?.(record) ?? null,
        createdAt: now,
      });
      return { record: data, version: 1, createdAt: now, updatedAt: now };
    },
    async get(tx, id) {
      const row = await tx.entities.get(definition.kind, id);
      return row ? revive(row) : null;
    },
    async getByUniqueKey(tx, key) {
      const row = await tx.entities.getByUniqueKey(definition.kind, key);
      return row ? revive(row) : null;
    },
    async update(tx, previous, record, now) {
      const expectedVersion = previous.version;
      const data = JSON.parse(JSON.stringify(definition.schema.parse(record)));
      const id = definition.id(record);
      const ok = await tx.entities.update(definition.kind, id, expectedVersion, {
        data,
        tags: tagsOf(record),
        uniqueKey: definition.uniqueKey?.(record) ?? null,
        updatedAt: now,
      });
      if (!ok) {
        throw new ConflictError(
          'VERSION_CONFLICT',
          `The ${definition.label} ${id} was changed by someone else since version ${expectedVersion}. Reload it and try again.`,
          { retryable: true },
        );
      }
      return { record: data, version: expectedVersion + 1, createdAt: previous.createdAt, updatedAt: now };
    },
    async find(tx, query) {
      return (await tx.entities.find(definition.kind, query)).map(revive);
    },
  };
}
