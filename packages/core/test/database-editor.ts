/**
 * What a database editor changed, applied to what the database hands back (exactly as a changed row would be):
 * audit streams and entities as they now read. Used by the tests of what evidence shows.
 */
import type { AuditEntry, EntityRow, Persistence } from '../src/index.js';

export function databaseEditor() {
  const edits: {
    audit: ((streamId: string, entries: AuditEntry[]) => AuditEntry[]) | null;
    entity: ((row: EntityRow) => EntityRow | null) | null;
  } = { audit: null, entity: null };
  const wrap = (inner: Persistence): Persistence => ({
    name: inner.name,
    close: () => inner.close(),
    transaction: (work) =>
      inner.transaction((tx) => {
        const stream = async (streamId: string) => {
          const entries = await tx.audit.list(streamId);
          return edits.audit ? edits.audit(streamId, entries) : entries;
        };
        return work({
          ...tx,
          audit: {
            ...tx.audit,
            async list(streamId, options) {
              const entries = await stream(streamId);
              const from = options?.fromSeq ?? 1;
              return entries.filter((e) => e.seq >= from).slice(0, options?.limit ?? entries.length);
            },
            last: async (streamId) => (await stream(streamId)).at(-1) ?? null,
            async lastMany(streamIds) {
              const lasts = await Promise.all(streamIds.map(async (id) => (await stream(id)).at(-1)));
              return lasts.filter((e): e is AuditEntry => e !== undefined);
            },
          },
          entities: {
            ...tx.entities,
            async get(kind, id) {
              const row = await tx.entities.get(kind, id);
              return row && edits.entity ? edits.entity(row) : row;
            },
          },
        });
      }),
  });
  return { edits, wrap };
}
