import { createHash } from 'node:crypto';
import type { AuditEntry, PersistenceTransaction } from '../ports/persistence.js';

/**
 * The audit log is hash-chained per stream: each entry's hash covers its content and the previous entry's hash, so
 * an edited, removed or reordered entry breaks every hash after it. Streams are per workflow (or business object),
 * not global, so unrelated workflows never contend for one chain head.
 */

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  type: string;
  actor: string;
  data: unknown;
  at: number;
}

/** JSON with object keys sorted, so the same content always hashes the same however it was stored. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function hashAuditEntry(entry: Omit<AuditEntry, 'hash'>): string {
  const { streamId, seq, type, actor, data, at, prevHash } = entry;
  return createHash('sha256').update(canonicalJson({ streamId, seq, type, actor, data, at, prevHash })).digest('hex');
}

/** Append to the stream's chain inside the caller's transaction. */
export async function appendAudit(
  tx: PersistenceTransaction,
  streamId: string,
  input: AuditInput,
): Promise<AuditEntry> {
  const [entry] = await appendAuditBatch(tx, [{ streamId, input }]);
  return entry!;
}

/**
 * Append several entries, possibly to several streams, in order, with one read of the chain heads and one write.
 * Entries for the same stream are chained to each other in the order given.
 */
export async function appendAuditBatch(
  tx: PersistenceTransaction,
  items: readonly { streamId: string; input: AuditInput }[],
  /** Streams the caller knows are new (a workflow being created): their head need not be read. */
  newStreams: ReadonlySet<string> = new Set(),
): Promise<AuditEntry[]> {
  const heads = new Map<string, { seq: number; hash: string }>();
  const existing = [...new Set(items.map((i) => i.streamId))].filter((id) => !newStreams.has(id));
  for (const last of existing.length > 0 ? await tx.audit.lastMany(existing) : []) {
    heads.set(last.streamId, { seq: last.seq, hash: last.hash });
  }
  const entries = items.map(({ streamId, input }) => {
    const head = heads.get(streamId) ?? { seq: 0, hash: GENESIS_HASH };
    // JSON round trip first: the hash must cover exactly what the store will hand back.
    const data = JSON.parse(JSON.stringify(input.data ?? null));
    const partial = { streamId, seq: head.seq + 1, ...input, data, prevHash: head.hash };
    const entry: AuditEntry = { ...partial, hash: hashAuditEntry(partial) };
    heads.set(streamId, { seq: entry.seq, hash: entry.hash });
    return entry;
  });
  await tx.audit.appendMany(entries);
  return entries;
}

export type AuditProblem =
  | { seq: number; kind: 'hash-mismatch' }
  | { seq: number; kind: 'broken-link' }
  | { seq: number; kind: 'gap'; expectedSeq: number };

export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: AuditProblem[];
}

/** Check a stream's entries in order: consecutive seqs from 1, each linked to its predecessor, each hash correct. */
export function verifyAuditEntries(entries: readonly AuditEntry[]): AuditVerification {
  const problems: AuditProblem[] = [];
  let prevHash = GENESIS_HASH;
  entries.forEach((entry, index) => {
    const expectedSeq = index + 1;
    if (entry.seq !== expectedSeq) problems.push({ seq: entry.seq, kind: 'gap', expectedSeq });
    if (entry.prevHash !== prevHash) problems.push({ seq: entry.seq, kind: 'broken-link' });
    if (hashAuditEntry(entry) !== entry.hash) problems.push({ seq: entry.seq, kind: 'hash-mismatch' });
    prevHash = entry.hash;
  });
  return { ok: problems.length === 0, entries: entries.length, problems };
}
