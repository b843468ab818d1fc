import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { SealflowError, ValidationError } from '../errors.js';
import type { AuditEntry, PersistenceTransaction } from '../ports/persistence.js';

/**
 * The audit log is hash-chained per stream: each entry's hash covers its content and the previous entry's hash, so
 * an edited, removed or reordered entry breaks every hash after it. Streams are per workflow (or business object),
 * not global, so unrelated workflows never contend for one chain head.
 *
 * A plain SHA-256 chain only proves that nobody changed an entry *without re-hashing what follows*: anyone who can
 * write the table can also run the same hash. With a host key (`ChainKeys`) each link is instead an HMAC-SHA256 under
 * a secret the database never holds, written as `hmac-sha256:<keyId>:<hex>` in the entry's `hash`, so the key id
 * travels with every entry and keys can be rotated: new entries use the current key, old ones verify with theirs.
 */

/** The `prevHash` of a chain's first entry: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Host secrets that key a chain. New entries use `current`; keep every id that ever keyed an entry in `keys`. */
export interface ChainKeys {
  current: string;
  /** Key id → secret of at least 16 bytes (32 random bytes recommended). Ids: 1–32 of `A–Z a–z 0–9 . _ -`. */
  keys: Readonly<Record<string, string | Uint8Array>>;
}

/** Validated keys, ready to MAC. Secrets stay inside; only ids are readable. */
export interface ChainKeyring {
  readonly currentId: string;
  has(keyId: string): boolean;
  /** `hmac-sha256:<currentId>:<hex>` over `purpose` and `text`. */
  seal(purpose: string, text: string): string;
  /** Whether `seal` is a valid seal of `text`; throws CHAIN_KEY_MISSING when its key id is not configured. */
  opens(seal: string, purpose: string, text: string): boolean;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,32}$/;
const KEYED_LINK = /^hmac-sha256:([A-Za-z0-9._-]{1,32}):([0-9a-f]{64})$/;

/** The key id a keyed link or seal names, or null for a plain SHA-256 hash. */
export function chainKeyIdOf(link: string): string | null {
  return KEYED_LINK.exec(link)?.[1] ?? null;
}

/** A key id that a chain or seal names but the host did not configure: a configuration problem, not tampering. */
export class ChainKeyMissingError extends SealflowError {
  constructor(keyId: string, where: string) {
    super(
      'CHAIN_KEY_MISSING',
      `${where} is keyed with key id "${keyId}", which is not configured. Add that key to the chain keys ` +
        '(keep every retired key for verification), or, if no such key ever existed, treat the entry as forged.',
      { details: { keyId } },
    );
  }
}

/**
 * Check `keys` and build a keyring. `extra` adds keys under ids of their own (a default derived from another host
 * secret), which `keys` may not reuse for a different secret.
 */
export function chainKeyring(
  keys: ChainKeys,
  options: { field?: string; extra?: Readonly<Record<string, Uint8Array>> } = {},
): ChainKeyring {
  const field = options.field ?? 'chainKeys';
  const secrets = new Map<string, Buffer>(Object.entries(options.extra ?? {}).map(([id, k]) => [id, Buffer.from(k)]));
  const problems: string[] = [];
  for (const [id, secret] of Object.entries(keys.keys ?? {})) {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret ?? []);
    if (!KEY_ID.test(id)) problems.push(`key id "${id}" must be 1–32 of A–Z a–z 0–9 . _ -`);
    else if (bytes.length < 16) problems.push(`keys.${id} must be a secret of at least 16 bytes`);
    else if (secrets.has(id)) problems.push(`key id "${id}" is reserved`);
    else secrets.set(id, bytes);
  }
  if (!secrets.has(keys.current) && !Object.hasOwn(keys.keys ?? {}, keys.current)) {
    problems.push(`current key "${keys.current}" is not among the keys`);
  }
  if (problems.length > 0) {
    throw new ValidationError(`${field} is invalid: ${problems.join('; ')}.`, { details: { field, problems } });
  }
  const current = keys.current;
  const mac = (keyId: string, purpose: string, text: string) =>
    createHmac('sha256', secrets.get(keyId)!).update(`${purpose}\n${text}`).digest('hex');
  return {
    currentId: current,
    has: (keyId) => secrets.has(keyId),
    seal: (purpose, text) => `hmac-sha256:${current}:${mac(current, purpose, text)}`,
    opens(seal, purpose, text) {
      const match = KEYED_LINK.exec(seal);
      if (!match) return false;
      const [, keyId, hex] = match as unknown as [string, string, string];
      if (!secrets.has(keyId)) throw new ChainKeyMissingError(keyId, 'A seal');
      return mac(keyId, purpose, text) === hex;
    },
  };
}

/** A 32-byte key derived from another host secret under `label`, so the two uses cannot stand in for each other. */
export function deriveChainKey(secret: string | Uint8Array, label: string): Uint8Array {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  return new Uint8Array(hkdfSync('sha256', bytes, 'sealflow-chain', label, 32));
}

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

const ENTRY_PURPOSE = 'sealflow-audit-entry/1';

function entryText(entry: Omit<AuditEntry, 'hash'>): string {
  const { streamId, seq, type, actor, data, at, prevHash } = entry;
  return canonicalJson({ streamId, seq, type, actor, data, at, prevHash });
}

/** The plain (unkeyed) link: SHA-256 of the entry's canonical form. Anyone can compute it. */
export function hashAuditEntry(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(entryText(entry)).digest('hex');
}

/** The entry's link: keyed with the keyring's current key when there is one, else the plain hash. */
export function linkAuditEntry(entry: Omit<AuditEntry, 'hash'>, keyring?: ChainKeyring): string {
  return keyring ? keyring.seal(ENTRY_PURPOSE, entryText(entry)) : hashAuditEntry(entry);
}

/** Append to the stream's chain inside the caller's transaction. */
export async function appendAudit(
  tx: PersistenceTransaction,
  streamId: string,
  input: AuditInput,
  keyring?: ChainKeyring,
): Promise<AuditEntry> {
  const [entry] = await appendAuditBatch(tx, [{ streamId, input }], new Set(), keyring);
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
  /** Keys the new entries' links; without it they are plain hashes. */
  keyring?: ChainKeyring,
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
    const entry: AuditEntry = { ...partial, hash: linkAuditEntry(partial, keyring) };
    heads.set(streamId, { seq: entry.seq, hash: entry.hash });
    return entry;
  });
  await tx.audit.appendMany(entries);
  return entries;
}

/** One problem found in an audit chain: a broken link, a wrong hash or key, or an entry that cannot be checked. */
export type AuditProblem =
  | { seq: number; kind: 'hash-mismatch' }
  | { seq: number; kind: 'broken-link' }
  | { seq: number; kind: 'gap'; expectedSeq: number }
  /** A plain hash where the chain is keyed: anyone with write access could have re-hashed it. */
  | { seq: number; kind: 'unkeyed' };

/** The result of verifying an audit chain: whether it holds, and every problem found. */
export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: AuditProblem[];
}

/**
 * Check a stream's entries in order: consecutive seqs from 1, each linked to its predecessor, each link correct.
 * With a keyring every entry must be keyed or pinned: a plain entry followed later by a valid keyed one is covered by
 * that entry's link (chains begun before keys were configured), any other plain entry is reported `unkeyed`. A keyed
 * entry whose key id is not configured throws CHAIN_KEY_MISSING. Only the entries given are checked: whether the tail is complete is for the
 * caller's anchor to say.
 */
export function verifyAuditEntries(entries: readonly AuditEntry[], keyring?: ChainKeyring): AuditVerification {
  const problems: AuditProblem[] = [];
  let prevHash = GENESIS_HASH;
  const lastKeyed = entries.findLastIndex((e) => chainKeyIdOf(e.hash) !== null);
  entries.forEach((entry, index) => {
    const expectedSeq = index + 1;
    if (entry.seq !== expectedSeq) problems.push({ seq: entry.seq, kind: 'gap', expectedSeq });
    if (entry.prevHash !== prevHash) problems.push({ seq: entry.seq, kind: 'broken-link' });
    const keyId = chainKeyIdOf(entry.hash);
    if (keyId !== null) {
      if (!keyring?.has(keyId)) throw new ChainKeyMissingError(keyId, `Audit entry ${entry.seq} of ${entry.streamId}`);
      if (!keyring.opens(entry.hash, ENTRY_PURPOSE, entryText(entry))) {
        problems.push({ seq: entry.seq, kind: 'hash-mismatch' });
      }
    } else if (hashAuditEntry(entry) !== entry.hash) {
      problems.push({ seq: entry.seq, kind: 'hash-mismatch' });
    } else if (keyring && index > lastKeyed) {
      problems.push({ seq: entry.seq, kind: 'unkeyed' });
    }
    prevHash = entry.hash;
  });
  return { ok: problems.length === 0, entries: entries.length, problems };
}
