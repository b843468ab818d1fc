/**
 * 存证: the evidence of each signing attempt, as an append-only, hash-chained audit stream `evidence:<recordId>`.
 *
 * Entries are written in the same transaction as the workflow transition they describe (the signing workflow's
 * `onTransition`), so evidence can neither run ahead of nor fall behind what happened. They hold the consent as the host
 * passed it, the identity check, template versions and hashes, rendered and signed document hashes and file ids, the
 * vendor flow, actors and times — personal data only masked or as a keyed hash.
 *
 * The chain is keyed: each link is an HMAC-SHA256 under a host key the database never holds (`evidenceKeys`, by
 * default a key derived from `hashKey`), so an entry edited and re-hashed by someone with database access does not
 * verify. Its length and head are anchored in the signing record, sealed with the same key together with the
 * record's status and signed-document hashes, so removing the last entries — or editing the record's hashes — shows.
 *
 * `verifyEvidence` re-checks the chain, the record's anchor and every file the evidence names against the hash
 * recorded when it was rendered or archived. `archivedDocuments` (behind `download`) hands out signed PDFs only when
 * all of that holds. `exportEvidencePackage` bundles it all.
 *
 * Trusted time: the signature timestamps a vendor reports (`SignedDocument.timestamps`) are kept with the archived
 * documents. With a host `timestampAuthority`, `timestampEvidence` has an RFC 3161 TSA timestamp every entry of a
 * finished signing: each token is over the entry's plain SHA-256 (`hashAuditEntry`, which covers its content and the
 * link before it), so anyone can recompute what was timestamped without the evidence key, and the tokens go into the
 * chain as an `evidence.timestamped` entry.
 */
import { NotFoundError, SealflowError } from '../errors.js';
import type { ChainAttestation, ChainNotary } from '../ports/chain-notary.js';
import type { DocumentStore } from '../ports/document-store.js';
import { sha256Hex } from '../ports/document-store.js';
import type { AuditEntry, Persistence, PersistenceTransaction } from '../ports/persistence.js';
import type { TimestampAuthority } from '../ports/timestamp-authority.js';
import {
  type AuditInput,
  type AuditProblem,
  type ChainKeyring,
  type ChainKeys,
  GENESIS_HASH,
  appendAuditBatch,
  canonicalJson,
  chainKeyring,
  deriveChainKey,
  hashAuditEntry,
  verifyAuditEntries,
} from '../runtime/audit-chain.js';
import { type EvidenceAnchor, type SigningRecord, signingRecordRepository } from './records.js';
import type { SigningContext } from './signing-machine.js';

export function evidenceStreamId(recordId: string): string {
  return `evidence:${recordId}`;
}

/** What the evidence says happened between two versions of a record (`previous` null when the attempt starts). */
export function evidenceEntries(
  previous: SigningRecord | null,
  next: SigningRecord,
  context: SigningContext,
  at: number,
): AuditInput[] {
  const entries: AuditInput[] = [];
  const add = (type: string, actor: string, data: unknown) => entries.push({ type, actor, data, at });
  if (previous === null) {
    add('signing.requested', next.requestedBy, {
      recordId: next.id,
      businessNo: next.businessNo,
      scene: next.scene,
      funding: next.funding,
      funderId: next.funderId,
      attempt: next.attempt,
      previousAttemptId: next.previousAttemptId,
      customer: next.customer,
      consent: context.consent,
      identityCheck: context.identityCheck,
      templates: next.templates,
      vendorId: next.vendor.id,
      requestedAt: context.requestedAt,
    });
  }
  if ((previous?.rendered.length ?? 0) === 0 && next.rendered.length > 0) {
    add('documents.rendered', 'system', { documents: next.rendered });
  }
  const left = next.vendorAttempts.filter((a) => a.outcome === 'unavailable');
  for (const attempt of left.slice(previous?.vendorAttempts.filter((a) => a.outcome === 'unavailable').length ?? 0)) {
    // Which vendor the signing left and why: the record shows where the signed contract came from.
    add('vendor.failed-over', attempt.vendorId, {
      fromVendorId: attempt.vendorId,
      code: attempt.code,
      confirmedAt: attempt.at,
      toVendorId: next.vendor.id === attempt.vendorId ? null : next.vendor.id,
    });
  }
  if ((previous?.vendor.flowId ?? null) === null && next.vendor.flowId !== null) {
    add('vendor.flow-started', next.vendor.id, { vendorId: next.vendor.id, flowId: next.vendor.flowId });
  }
  const sealed = next.sealsUsed.filter((s) => !previous?.sealsUsed.some((p) => p.role === s.role));
  if (sealed.length > 0) {
    // Which seal and certificate each organisation signed with, as the vendor reported it.
    add('vendor.sealed', next.vendor.id, { vendorId: next.vendor.id, flowId: next.vendor.flowId, seals: sealed });
  }
  if (previous?.status !== 'AWAITING_FUNDER' && next.status === 'AWAITING_FUNDER') {
    add('signing.awaiting-funder', 'system', { funderId: next.funderId });
  }
  if ((previous?.funderSignature ?? null) === null && next.funderSignature !== null) {
    add('funder.signing', next.funderSignature.actorId, next.funderSignature);
  }
  if (previous?.status !== 'COMPLETED' && next.status === 'COMPLETED') {
    add('documents.archived', 'system', {
      vendorId: next.vendor.id,
      flowId: next.vendor.flowId,
      documents: next.signed,
    });
    add('signing.completed', 'system', { recordId: next.id });
  }
  if (previous?.status !== 'FAILED' && next.status === 'FAILED') {
    add('signing.failed', 'system', {
      failure: next.failure,
      // What the vendor returned, when verification refused it: the hashes are evidence too.
      returned: (context.fetched ?? []).map((d) => ({
        documentKey: d.key,
        sha256: d.sha256,
        extendsRendered: d.extendsRendered,
        signatures: d.signatures,
      })),
    });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------------------------
// Keys and the record's anchor

/** The key id of the default evidence key, derived from `hashKey`; it stays valid after `evidenceKeys` is set. */
export const DEFAULT_EVIDENCE_KEY_ID = 'hashkey';

/** The evidence keyring: the host's `evidenceKeys`, plus the key derived from `hashKey` under `hashkey`. */
export function evidenceKeyring(options: {
  hashKey: string | Uint8Array;
  evidenceKeys?: ChainKeys | undefined;
}): ChainKeyring {
  return chainKeyring(options.evidenceKeys ?? { current: DEFAULT_EVIDENCE_KEY_ID, keys: {} }, {
    field: 'evidenceKeys',
    extra: { [DEFAULT_EVIDENCE_KEY_ID]: deriveChainKey(options.hashKey, 'sealflow-evidence-chain-v1') },
  });
}

const ANCHOR_PURPOSE = 'sealflow-evidence-anchor/1';

/** What the anchor's seal covers: the chain's length and head, and the record facts that download relies on. */
function anchorText(record: SigningRecord, entries: number, head: string): string {
  return canonicalJson({
    recordId: record.id,
    status: record.status,
    signed: record.signed.map((d) => ({ documentKey: d.documentKey, fileId: d.fileId, sha256: d.sha256 })),
    entries,
    head,
  });
}

/**
 * Append what `evidenceEntries` found and return the record's new anchor. Call it with the record about to be
 * written, in the same transaction: the anchor must move with every entry, or the verifier reports a truncation.
 */
export async function appendEvidence(
  tx: PersistenceTransaction,
  keyring: ChainKeyring,
  record: SigningRecord,
  entries: readonly AuditInput[],
  previous: EvidenceAnchor | null,
): Promise<EvidenceAnchor> {
  const streamId = evidenceStreamId(record.id);
  let head: { seq: number; hash: string };
  if (entries.length > 0) {
    const appended = await appendAuditBatch(
      tx,
      entries.map((input) => ({ streamId, input })),
      new Set(),
      keyring,
    );
    const last = appended.at(-1)!;
    head = { seq: last.seq, hash: last.hash };
  } else if (previous) {
    head = { seq: previous.entries, hash: previous.head };
  } else {
    const last = await tx.audit.last(streamId);
    head = last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
  }
  return {
    entries: head.seq,
    head: head.hash,
    seal: keyring.seal(ANCHOR_PURPOSE, anchorText(record, head.seq, head.hash)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Verification and export

/**
 * What the evidence functions need: persistence, the document store, the time, the evidence keyring and an optional
 * notary.
 */
export interface EvidenceDependencies {
  persistence: Persistence;
  documents: DocumentStore;
  now: () => number;
  keyring: ChainKeyring;
  /** Where heads are published outside the database; when set, the latest attested head must still be there. */
  notary?: ChainNotary | undefined;
  /**
   * The TSA `timestampEvidence` asks for tokens over entries; when set, `verifyEvidence` also checks every entry
   * token with its `verify` (offline, against its trust anchors).
   */
  timestampAuthority?: TimestampAuthority | undefined;
}

/**
 * What is wrong between the evidence chain and its signing record:
 * - `record-missing`: evidence whose record is gone;
 * - `anchor-missing`: a record without an anchor (written before anchors existed, or stripped);
 * - `anchor-forged`: the anchor's seal does not match the record and the anchored length and head (record edited);
 * - `truncated` / `extended`: fewer or more entries than the record anchored (the last ones removed, or added);
 * - `head-mismatch`: as many entries as anchored, but the last one is not the anchored one (replaced);
 * - `terminal-entry-missing`: a COMPLETED or FAILED record without the entry that says so;
 * - `signed-documents-differ`: the record's signed documents are not the ones the evidence archived;
 * - `attested-head-missing`: the chain no longer holds the head the notary attested (the record and its evidence were
 *   deleted, or put back to an earlier copy).
 */
export type EvidenceRecordProblem =
  | { kind: 'record-missing' | 'anchor-missing' | 'anchor-forged' | 'head-mismatch' }
  | { kind: 'truncated' | 'extended'; anchored: number; found: number }
  | { kind: 'terminal-entry-missing'; status: string; entryType: string }
  | { kind: 'signed-documents-differ' }
  | { kind: 'attested-head-missing'; attested: number; found: number; notary: string };

/** The check of one archived file: the SHA-256 the evidence recorded against the bytes in the store. */
export interface EvidenceFileCheck {
  kind: 'rendered' | 'signed';
  documentKey: string;
  fileId: string;
  expectedSha256: string;
  /** Null when the file could not be read. */
  actualSha256: string | null;
  problem: 'missing' | 'corrupted' | 'replaced' | null;
}

/** The result of verifying a signing record's evidence chain and archived files. */
export interface EvidenceVerification {
  ok: boolean;
  recordId: string;
  entries: number;
  /** Link of the last entry: publish or timestamp it to pin the whole chain. */
  chainHead: string | null;
  chain: AuditProblem[];
  /** Whether the signing record agrees with the chain (its sealed anchor, status and documents). */
  record: EvidenceRecordProblem[];
  files: EvidenceFileCheck[];
  /** Every TSA token over an evidence entry (`evidence.timestamped` entries), checked. */
  timestamps: EvidenceTimestampCheck[];
  /** One readable line per problem. */
  problems: string[];
}

/**
 * The check of one TSA token over an evidence entry: `problem` is null when the token is over the entry's digest as it
 * is now (and, with a `timestampAuthority`, verifies with it); `entry-changed` when the entry no longer hashes to the
 * timestamped digest, `entry-missing` when there is no entry at that seq, `token-invalid` when the TSA's `verify`
 * refused it (`detail` says why).
 */
export interface EvidenceTimestampCheck {
  seq: number;
  /** The TSA's time, epoch ms. */
  time: number;
  /** The timestamp authority's name. */
  authority: string;
  problem: 'entry-changed' | 'entry-missing' | 'token-invalid' | null;
  detail?: string;
}

/** The type of the entry that carries TSA tokens over earlier entries of the same chain. */
export const EVIDENCE_TIMESTAMPED = 'evidence.timestamped';

/**
 * A TSA token over one evidence entry, as kept in an `evidence.timestamped` entry. `digest` is `hashAuditEntry(entry)`:
 * the SHA-256 of the entry's canonical form (stream, seq, type, actor, data, time and the previous link), which anyone
 * can recompute from the exported entries.
 */
export interface EvidenceEntryTimestamp {
  seq: number;
  /** What the TSA timestamped: SHA-256 hex of the entry's canonical form. */
  digest: string;
  /** The TimeStampToken's DER, base64. */
  token: string;
  /** The TSA's genTime, epoch ms. */
  time: number;
  /** The timestamp authority's name (`TimestampAuthority.name`). */
  authority: string;
  /** The TSA certificate's subject, when the token carries it. */
  tsaName: string | null;
}

function entryTimestamps(entries: readonly AuditEntry[]): EvidenceEntryTimestamp[] {
  return entries
    .filter((e) => e.type === EVIDENCE_TIMESTAMPED)
    .flatMap((e) => (e.data as { timestamps?: EvidenceEntryTimestamp[] } | null)?.timestamps ?? []);
}

async function checkEntryTimestamps(
  tsa: TimestampAuthority | undefined,
  entries: readonly AuditEntry[],
): Promise<EvidenceTimestampCheck[]> {
  const checks: EvidenceTimestampCheck[] = [];
  for (const t of entryTimestamps(entries)) {
    const base = { seq: t.seq, time: t.time, authority: t.authority };
    const entry = entries.find((e) => e.seq === t.seq);
    if (!entry) {
      checks.push({ ...base, problem: 'entry-missing' });
      continue;
    }
    if (hashAuditEntry(entry) !== t.digest) {
      checks.push({ ...base, problem: 'entry-changed' });
      continue;
    }
    if (tsa) {
      try {
        await tsa.verify(Buffer.from(t.token, 'base64'), Buffer.from(t.digest, 'hex'));
      } catch (error) {
        const code = (error as { code?: string }).code;
        checks.push({ ...base, problem: 'token-invalid', detail: code ?? 'unreadable' });
        continue;
      }
    }
    checks.push({ ...base, problem: null });
  }
  return checks;
}

function describeTimestampCheck(check: EvidenceTimestampCheck): string {
  switch (check.problem) {
    case 'entry-missing':
      return `timestamp: entry ${check.seq} was timestamped by ${check.authority} but is not in the chain (removed)`;
    case 'entry-changed':
      return `timestamp: entry ${check.seq} no longer matches the digest ${check.authority} timestamped (edited)`;
    default:
      return `timestamp: the token of ${check.authority} over entry ${check.seq} does not verify (${check.detail})`;
  }
}

interface EvidenceFileRef {
  kind: 'rendered' | 'signed';
  documentKey: string;
  fileId: string;
  sha256: string;
}

function fileRefs(entries: readonly AuditEntry[]): EvidenceFileRef[] {
  const refs: EvidenceFileRef[] = [];
  for (const entry of entries) {
    const kind =
      entry.type === 'documents.rendered' ? 'rendered' : entry.type === 'documents.archived' ? 'signed' : null;
    if (!kind) continue;
    const documents = (entry.data as { documents?: { documentKey: string; fileId: string; sha256: string }[] })
      .documents;
    for (const d of documents ?? [])
      refs.push({ kind, documentKey: d.documentKey, fileId: d.fileId, sha256: d.sha256 });
  }
  return refs;
}

interface LoadedEvidence {
  record: SigningRecord | null;
  entries: AuditEntry[];
  /** The notary's latest head of this chain, when a notary is configured and has one. */
  attestation: ChainAttestation | null;
}

/** The record and its chain, read together so they are one consistent view, and the notary's latest head. */
async function loadEvidence(
  deps: Pick<EvidenceDependencies, 'persistence' | 'notary'>,
  recordId: string,
): Promise<LoadedEvidence> {
  const stored = await deps.persistence.transaction(async (tx) => ({
    record: (await signingRecordRepository.get(tx, recordId))?.record ?? null,
    entries: await tx.audit.list(evidenceStreamId(recordId)),
  }));
  const attestation = (await deps.notary?.latest(evidenceStreamId(recordId))) ?? null;
  if (stored.entries.length === 0 && stored.record === null && attestation === null) {
    throw new NotFoundError(`There is no evidence for signing record ${recordId}.`, { details: { recordId } });
  }
  return { ...stored, attestation };
}

const TERMINAL_ENTRY: Partial<Record<SigningRecord['status'], string>> = {
  COMPLETED: 'signing.completed',
  FAILED: 'signing.failed',
};

interface ArchivedRef {
  documentKey: string;
  fileName: string;
  fileId: string;
  sha256: string;
}

function archivedRefs(entries: readonly AuditEntry[]): ArchivedRef[] {
  const archived = entries.findLast((e) => e.type === 'documents.archived');
  return ((archived?.data as { documents?: ArchivedRef[] } | undefined)?.documents ?? []).map((d) => ({
    documentKey: d.documentKey,
    fileName: d.fileName,
    fileId: d.fileId,
    sha256: d.sha256,
  }));
}

/** The record's side of the check: its sealed anchor against the chain, and its facts against the entries. */
function recordProblems(keyring: ChainKeyring, loaded: LoadedEvidence): EvidenceRecordProblem[] {
  const { record, entries, attestation } = loaded;
  const problems: EvidenceRecordProblem[] = [];
  if (attestation && entries[attestation.entries - 1]?.hash !== attestation.head) {
    problems.push({
      kind: 'attested-head-missing',
      attested: attestation.entries,
      found: entries.length,
      notary: attestation.notary,
    });
  }
  if (record === null) return [{ kind: 'record-missing' }, ...problems];
  const anchor = record.evidence;
  if (anchor === null) {
    problems.push({ kind: 'anchor-missing' });
  } else {
    if (!keyring.opens(anchor.seal, ANCHOR_PURPOSE, anchorText(record, anchor.entries, anchor.head))) {
      problems.push({ kind: 'anchor-forged' });
    }
    const found = entries.length;
    if (found < anchor.entries) problems.push({ kind: 'truncated', anchored: anchor.entries, found });
    else if (found > anchor.entries) problems.push({ kind: 'extended', anchored: anchor.entries, found });
    else if ((entries.at(-1)?.hash ?? GENESIS_HASH) !== anchor.head) problems.push({ kind: 'head-mismatch' });
  }
  const terminal = TERMINAL_ENTRY[record.status];
  if (terminal && !entries.some((e) => e.type === terminal)) {
    problems.push({ kind: 'terminal-entry-missing', status: record.status, entryType: terminal });
  }
  if (record.status === 'COMPLETED') {
    const archived = canonicalJson(archivedRefs(entries).map(({ fileName: _, ...ref }) => ref));
    const signed = canonicalJson(
      record.signed.map((d) => ({ documentKey: d.documentKey, fileId: d.fileId, sha256: d.sha256 })),
    );
    if (archived !== signed) problems.push({ kind: 'signed-documents-differ' });
  }
  return problems;
}

function describeRecordProblem(problem: EvidenceRecordProblem): string {
  switch (problem.kind) {
    case 'record-missing':
      return 'record: the signing record is missing (deleted?) while its evidence remains';
    case 'anchor-missing':
      return 'record: it carries no evidence anchor, so removed tail entries could not be noticed';
    case 'anchor-forged':
      return 'record: its evidence anchor does not match its seal (the record or the anchor was edited)';
    case 'truncated':
      return `record: anchors ${problem.anchored} evidence entries but ${problem.found} remain (the last ones were removed)`;
    case 'extended':
      return `record: anchors ${problem.anchored} evidence entries but ${problem.found} exist (entries were added)`;
    case 'head-mismatch':
      return 'record: the last evidence entry is not the one the record anchored (replaced)';
    case 'terminal-entry-missing':
      return `record: it is ${problem.status} but the evidence has no ${problem.entryType} entry`;
    case 'signed-documents-differ':
      return 'record: its signed documents differ from those the evidence archived';
    case 'attested-head-missing':
      return `record: notary ${problem.notary} attested ${problem.attested} entries, but the chain (${problem.found}) no longer holds that head (deleted or put back to an earlier copy)`;
  }
}

function describeChainProblem(p: AuditProblem): string {
  switch (p.kind) {
    case 'gap':
      return `entry ${p.seq}: expected seq ${p.expectedSeq} (an entry was removed or reordered)`;
    case 'broken-link':
      return `entry ${p.seq}: does not follow the entry before it (removed or reordered)`;
    case 'unkeyed':
      return `entry ${p.seq}: carries a plain hash instead of a keyed one (written before keys, or re-hashed)`;
    default:
      return `entry ${p.seq}: its content does not match its hash (edited)`;
  }
}

/** The chain and the record, without reading any file: what must hold before a document may be handed out. */
function chainAndRecordProblems(keyring: ChainKeyring, loaded: LoadedEvidence) {
  const chain = verifyAuditEntries(loaded.entries, keyring).problems;
  const record = recordProblems(keyring, loaded);
  return { chain, record, lines: [...chain.map(describeChainProblem), ...record.map(describeRecordProblem)] };
}

async function readFile(
  documents: DocumentStore,
  ref: EvidenceFileRef,
): Promise<{ check: EvidenceFileCheck; bytes: Uint8Array | null }> {
  const base = { kind: ref.kind, documentKey: ref.documentKey, fileId: ref.fileId, expectedSha256: ref.sha256 };
  try {
    const { bytes } = await documents.get(ref.fileId);
    const actual = sha256Hex(bytes);
    return {
      check: { ...base, actualSha256: actual, problem: actual === ref.sha256 ? null : 'replaced' },
      bytes: actual === ref.sha256 ? bytes : null,
    };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return {
      check: { ...base, actualSha256: null, problem: code === 'NOT_FOUND' ? 'missing' : 'corrupted' },
      bytes: null,
    };
  }
}

async function verifyLoaded(
  deps: EvidenceDependencies,
  recordId: string,
  loaded: LoadedEvidence,
): Promise<{ verification: EvidenceVerification; files: { ref: EvidenceFileRef; bytes: Uint8Array | null }[] }> {
  const { entries } = loaded;
  const checked = chainAndRecordProblems(deps.keyring, loaded);
  const files = [];
  for (const ref of fileRefs(entries)) {
    const { check, bytes } = await readFile(deps.documents, ref);
    files.push({ ref, check, bytes });
  }
  const timestamps = await checkEntryTimestamps(deps.timestampAuthority, entries);
  const problems = [
    ...checked.lines,
    ...files
      .filter((f) => f.check.problem !== null)
      .map((f) => `${f.ref.kind} ${f.ref.documentKey} (${f.ref.fileId}): ${f.check.problem}`),
    ...timestamps.filter((t) => t.problem !== null).map(describeTimestampCheck),
  ];
  return {
    verification: {
      ok: problems.length === 0,
      recordId,
      entries: entries.length,
      chainHead: entries.at(-1)?.hash ?? null,
      chain: checked.chain,
      record: checked.record,
      files: files.map((f) => f.check),
      timestamps,
      problems,
    },
    files: files.map(({ ref, bytes }) => ({ ref, bytes })),
  };
}

/**
 * Find any edited, removed, reordered or re-hashed evidence entry, any removed tail, a record that disagrees with its
 * evidence, and any evidenced file whose bytes changed.
 */
export async function verifyEvidence(deps: EvidenceDependencies, recordId: string): Promise<EvidenceVerification> {
  return (await verifyLoaded(deps, recordId, await loadEvidence(deps, recordId))).verification;
}

/** The evidence of a signing does not verify: nothing it vouches for may be handed out. */
export class EvidenceTamperedError extends SealflowError {
  constructor(recordId: string, problems: readonly string[]) {
    super(
      'EVIDENCE_TAMPERED',
      `The evidence of signing ${recordId} does not verify (${problems.join('; ')}), so its documents are not handed ` +
        'out. Run verifyEvidence for the details, restore the database from a backup and find out who changed it.',
      { details: { recordId, problems: [...problems] } },
    );
  }
}

/** An archived document of a signing record: its key, file name, file id, recorded SHA-256 and bytes. */
export interface EvidencedDocument {
  documentKey: string;
  fileName: string;
  fileId: string;
  sha256: string;
  bytes: Uint8Array;
}

/**
 * The signed PDFs as the evidence archived them, read now: refused with EVIDENCE_TAMPERED unless the chain and the
 * record's sealed anchor verify, and with ARCHIVED_DOCUMENT_MISMATCH when a file's bytes no longer match the hash
 * in the evidence — whatever the record row says.
 */
export async function archivedDocuments(deps: EvidenceDependencies, recordId: string): Promise<EvidencedDocument[]> {
  const loaded = await loadEvidence(deps, recordId);
  const { lines } = chainAndRecordProblems(deps.keyring, loaded);
  if (lines.length > 0) throw new EvidenceTamperedError(recordId, lines);
  const out: EvidencedDocument[] = [];
  for (const ref of archivedRefs(loaded.entries)) {
    const mismatch = (cause?: unknown) =>
      new SealflowError(
        'ARCHIVED_DOCUMENT_MISMATCH',
        `The archived ${ref.documentKey} of signing ${recordId} (file ${ref.fileId}) no longer matches the hash its evidence recorded when it was archived. Do not hand it out; restore it from a backup and check the evidence.`,
        { cause, details: { recordId, documentKey: ref.documentKey, fileId: ref.fileId } },
      );
    let bytes: Uint8Array;
    try {
      ({ bytes } = await deps.documents.get(ref.fileId));
    } catch (error) {
      if (error instanceof SealflowError && error.code === 'DOCUMENT_INTEGRITY') throw mismatch(error);
      throw error;
    }
    if (sha256Hex(bytes) !== ref.sha256) throw mismatch();
    out.push({ ...ref, bytes });
  }
  return out;
}

/** Everything needed to prove a signing to a third party: the record, the evidence chain and the archived files. */
export interface EvidencePackage {
  manifest: {
    format: 'sealflow-evidence/1';
    recordId: string;
    exportedAt: number;
    chainHead: string | null;
    /** The record's sealed anchor (length, head, seal), null when the record or its anchor is missing. */
    anchor: EvidenceAnchor | null;
    /** The notary's latest attested head with its token, when a notary is configured and has one. */
    attestation: ChainAttestation | null;
    verification: EvidenceVerification;
    entries: AuditEntry[];
    files: { name: string; kind: 'rendered' | 'signed'; documentKey: string; fileId: string; sha256: string }[];
  };
  /** The PDFs whose bytes still match the evidence (a file that does not is listed in `verification`, not shipped). */
  files: { name: string; bytes: Uint8Array }[];
}

/** One signing's evidence as a package: a JSON manifest (entries, hashes, chain head, verification) and the PDFs. */
export async function exportEvidencePackage(deps: EvidenceDependencies, recordId: string): Promise<EvidencePackage> {
  const loaded = await loadEvidence(deps, recordId);
  const { entries } = loaded;
  const { verification, files } = await verifyLoaded(deps, recordId, loaded);
  const named = files.map(({ ref, bytes }) => ({ name: `${ref.kind}/${ref.documentKey}.pdf`, ref, bytes }));
  return {
    manifest: {
      format: 'sealflow-evidence/1',
      recordId,
      exportedAt: deps.now(),
      chainHead: verification.chainHead,
      anchor: loaded.record?.evidence ?? null,
      attestation: loaded.attestation,
      verification,
      entries,
      files: named.map(({ name, ref }) => ({
        name,
        kind: ref.kind,
        documentKey: ref.documentKey,
        fileId: ref.fileId,
        sha256: ref.sha256,
      })),
    },
    files: named.flatMap(({ name, bytes }) => (bytes ? [{ name, bytes }] : [])),
  };
}

/**
 * An evidence package as one JSON document, for handing to a third party and for `sealflow-verify-evidence`
 * (`@sealflow/adapter-local`): `{ "format": "sealflow-evidence-package/1", "manifest": …, "files": [{ "name",
 * "sha256", "base64" }] }`.
 */
export function evidencePackageJson(pkg: EvidencePackage): string {
  return JSON.stringify(
    {
      format: 'sealflow-evidence-package/1',
      manifest: pkg.manifest,
      files: pkg.files.map((f) => ({
        name: f.name,
        sha256: sha256Hex(f.bytes),
        base64: Buffer.from(f.bytes).toString('base64'),
      })),
    },
    null,
    2,
  );
}

/**
 * Publish the chain's current head to the notary, after checking that the chain and the record verify (a tampered
 * chain is not attested: EVIDENCE_TAMPERED). Call it when a signing completes or fails, or for every record
 * periodically; each attestation pins everything up to it.
 */
export async function attestEvidence(deps: EvidenceDependencies, recordId: string): Promise<ChainAttestation> {
  if (!deps.notary) {
    throw new SealflowError(
      'NOTARY_NOT_CONFIGURED',
      'No evidence notary is configured: pass evidenceNotary (a ChainNotary) to the signing service to attest heads.',
    );
  }
  const loaded = await loadEvidence(deps, recordId);
  const { lines } = chainAndRecordProblems(deps.keyring, loaded);
  if (lines.length > 0) throw new EvidenceTamperedError(recordId, lines);
  const last = loaded.entries.at(-1);
  if (!last) throw new NotFoundError(`There is no evidence for signing record ${recordId}.`, { details: { recordId } });
  return deps.notary.attest({ streamId: evidenceStreamId(recordId), entries: last.seq, head: last.hash });
}

/** What `timestampEvidence` did: the tokens it added (empty when every entry already had one) and the record's anchor. */
export interface EvidenceTimestamping {
  timestamps: EvidenceEntryTimestamp[];
  anchor: EvidenceAnchor | null;
}

/**
 * Have the host's `timestampAuthority` timestamp every entry of a finished signing's evidence that has no token yet,
 * and append the tokens as one `evidence.timestamped` entry (re-anchoring the record in the same transaction).
 *
 * Each request is over `hashAuditEntry(entry)`, a pure function of the stored entry: a call retried after a crash
 * asks for exactly the same digests, and a call when every entry has its token changes nothing. Only finished
 * (COMPLETED or FAILED) signings are timestamped, since a running one still gets entries from its workflow
 * (`EVIDENCE_NOT_FINISHED`); a tampered chain is not timestamped (`EVIDENCE_TAMPERED`); TSA failures are its
 * `TimestampError`s, retryable when the TSA is unavailable.
 */
export async function timestampEvidence(
  deps: EvidenceDependencies,
  recordId: string,
  actor: string,
): Promise<EvidenceTimestamping> {
  const tsa = deps.timestampAuthority;
  if (!tsa) {
    throw new SealflowError(
      'TIMESTAMP_AUTHORITY_NOT_CONFIGURED',
      'No evidence timestamp authority is configured: pass evidenceTimestampAuthority (a TimestampAuthority, such as ' +
        "adapter-local's httpTimestampAuthority) to timestamp evidence entries.",
    );
  }
  const loaded = await loadEvidence(deps, recordId);
  const { lines } = chainAndRecordProblems(deps.keyring, loaded);
  if (lines.length > 0) throw new EvidenceTamperedError(recordId, lines);
  const status = loaded.record?.status;
  if (status !== 'COMPLETED' && status !== 'FAILED') {
    throw new SealflowError(
      'EVIDENCE_NOT_FINISHED',
      `Signing ${recordId} is ${status ?? 'unknown'}: its evidence is timestamped once it is COMPLETED or FAILED. ` +
        'Call timestampEvidence again when it has finished.',
      { details: { recordId, status: status ?? null } },
    );
  }
  const pending = untimestamped(loaded.entries);
  if (pending.length === 0) return { timestamps: [], anchor: loaded.record?.evidence ?? null };
  // The TSA round trips happen outside any transaction; the entries they cover never change (append-only).
  const timestamps: EvidenceEntryTimestamp[] = [];
  for (const entry of pending) {
    const digest = hashAuditEntry(entry);
    const token = await tsa.timestamp(Buffer.from(digest, 'hex'), { hashAlgorithm: 'sha256' });
    timestamps.push({
      seq: entry.seq,
      digest,
      token: Buffer.from(token.token).toString('base64'),
      time: token.genTime.getTime(),
      authority: tsa.name,
      tsaName: token.tsaName ?? null,
    });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await appendTimestamps(deps, recordId, actor, timestamps);
    } catch (error) {
      const raced = error instanceof SealflowError && ['DUPLICATE', 'VERSION_CONFLICT'].includes(error.code);
      if (!raced || attempt >= 5) throw error;
    }
  }
}

/** Entries that are not themselves token carriers and have no token yet. */
function untimestamped(entries: readonly AuditEntry[]): AuditEntry[] {
  const stamped = new Set(entryTimestamps(entries).map((t) => t.seq));
  return entries.filter((e) => e.type !== EVIDENCE_TIMESTAMPED && !stamped.has(e.seq));
}

async function appendTimestamps(
  deps: EvidenceDependencies,
  recordId: string,
  actor: string,
  timestamps: readonly EvidenceEntryTimestamp[],
): Promise<EvidenceTimestamping> {
  return deps.persistence.transaction(async (tx) => {
    const stored = await signingRecordRepository.get(tx, recordId);
    if (!stored) throw new NotFoundError(`There is no signing record ${recordId}.`, { details: { recordId } });
    const entries = await tx.audit.list(evidenceStreamId(recordId));
    // A concurrent call may have added some of these already: keep only tokens still missing, over unchanged entries.
    const missing = new Set(untimestamped(entries).map((e) => e.seq));
    const fresh = timestamps.filter(
      (t) => missing.has(t.seq) && hashAuditEntry(entries.find((e) => e.seq === t.seq)!) === t.digest,
    );
    if (fresh.length === 0) return { timestamps: [], anchor: stored.record.evidence };
    const now = deps.now();
    const input: AuditInput = { type: EVIDENCE_TIMESTAMPED, actor, data: { timestamps: fresh }, at: now };
    const evidence = await appendEvidence(tx, deps.keyring, stored.record, [input], stored.record.evidence);
    await signingRecordRepository.update(tx, stored, { ...stored.record, evidence }, now);
    return { timestamps: fresh, anchor: evidence };
  });
}

/**
 * Bring the evidence of a record written by a release without keyed chains under the key: after checking that the
 * plain chain and the record agree, append a keyed `evidence.adopted` entry, whose link pins every plain entry
 * before it, and anchor the record. The plain part keeps the protection it had until now; from here on the record
 * is protected like any other. Records still in progress adopt themselves at their next transition; finished ones
 * need this once. Idempotent: an anchored record is returned as it is.
 */
export async function adoptEvidence(
  deps: EvidenceDependencies,
  recordId: string,
  actor: string,
): Promise<EvidenceAnchor> {
  // Concurrent adoptions (or a transition) race for the next entry; the loser reads the winner's anchor next time.
  for (let attempt = 1; ; attempt++) {
    try {
      return await adoptOnce(deps, recordId, actor);
    } catch (error) {
      const raced = error instanceof SealflowError && ['DUPLICATE', 'VERSION_CONFLICT'].includes(error.code);
      if (!raced || attempt >= 5) throw error;
    }
  }
}

async function adoptOnce(deps: EvidenceDependencies, recordId: string, actor: string): Promise<EvidenceAnchor> {
  return deps.persistence.transaction(async (tx) => {
    const stored = await signingRecordRepository.get(tx, recordId);
    if (!stored) throw new NotFoundError(`There is no signing record ${recordId}.`, { details: { recordId } });
    if (stored.record.evidence !== null) return stored.record.evidence;
    const loaded = {
      record: stored.record,
      entries: await tx.audit.list(evidenceStreamId(recordId)),
      attestation: null,
    };
    const chain = verifyAuditEntries(loaded.entries, deps.keyring).problems.filter((p) => p.kind !== 'unkeyed');
    const record = recordProblems(deps.keyring, loaded).filter((p) => p.kind !== 'anchor-missing');
    const lines = [...chain.map(describeChainProblem), ...record.map(describeRecordProblem)];
    if (lines.length > 0) throw new EvidenceTamperedError(recordId, lines);
    const now = deps.now();
    const adopted: AuditInput = {
      type: 'evidence.adopted',
      actor,
      data: { plainEntries: loaded.entries.length, plainHead: loaded.entries.at(-1)?.hash ?? null },
      at: now,
    };
    const evidence = await appendEvidence(tx, deps.keyring, stored.record, [adopted], null);
    await signingRecordRepository.update(tx, stored, { ...stored.record, evidence }, now);
    return evidence;
  });
}
