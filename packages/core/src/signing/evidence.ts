/**
 * 存证: the evidence of each signing attempt, as an append-only, hash-chained audit stream `evidence:<recordId>`.
 *
 * Entries are written in the same transaction as the workflow transition they describe (the signing workflow's
 * `onTransition`), so evidence can neither run ahead of nor fall behind what happened. They hold the consent as the host
 * passed it, the identity check, template versions and hashes, rendered and signed document hashes and file ids, the
 * vendor flow, actors and times — personal data only masked or as a keyed hash.
 *
 * `verifyEvidence` re-checks the chain (an edited, removed or reordered entry breaks it) and every file the evidence
 * names against the hash recorded when it was rendered or archived. `exportEvidencePackage` bundles it all.
 */
import { NotFoundError } from '../errors.js';
import type { DocumentStore } from '../ports/document-store.js';
import { sha256Hex } from '../ports/document-store.js';
import type { AuditEntry, Persistence, PersistenceTransaction } from '../ports/persistence.js';
import { type AuditInput, type AuditProblem, appendAuditBatch, verifyAuditEntries } from '../runtime/audit-chain.js';
import type { SigningRecord } from './records.js';
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
  if ((previous?.vendor.flowId ?? null) === null && next.vendor.flowId !== null) {
    add('vendor.flow-started', next.vendor.id, { vendorId: next.vendor.id, flowId: next.vendor.flowId });
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

export async function appendEvidence(
  tx: PersistenceTransaction,
  recordId: string,
  entries: readonly AuditInput[],
): Promise<void> {
  if (entries.length === 0) return;
  await appendAuditBatch(
    tx,
    entries.map((input) => ({ streamId: evidenceStreamId(recordId), input })),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Verification and export

export interface EvidenceDependencies {
  persistence: Persistence;
  documents: DocumentStore;
  now: () => number;
}

export interface EvidenceFileCheck {
  kind: 'rendered' | 'signed';
  documentKey: string;
  fileId: string;
  expectedSha256: string;
  /** Null when the file could not be read. */
  actualSha256: string | null;
  problem: 'missing' | 'corrupted' | 'replaced' | null;
}

export interface EvidenceVerification {
  ok: boolean;
  recordId: string;
  entries: number;
  /** Hash of the last entry: publish or timestamp it to pin the whole chain. */
  chainHead: string | null;
  chain: AuditProblem[];
  files: EvidenceFileCheck[];
  /** One readable line per problem. */
  problems: string[];
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

async function loadEntries(persistence: Persistence, recordId: string): Promise<AuditEntry[]> {
  const entries = await persistence.transaction((tx) => tx.audit.list(evidenceStreamId(recordId)));
  if (entries.length === 0) {
    throw new NotFoundError(`There is no evidence for signing record ${recordId}.`, { details: { recordId } });
  }
  return entries;
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
  entries: AuditEntry[],
): Promise<{ verification: EvidenceVerification; files: { ref: EvidenceFileRef; bytes: Uint8Array | null }[] }> {
  const chain = verifyAuditEntries(entries);
  const files = [];
  for (const ref of fileRefs(entries)) {
    const { check, bytes } = await readFile(deps.documents, ref);
    files.push({ ref, check, bytes });
  }
  const problems = [
    ...chain.problems.map((p) =>
      p.kind === 'gap'
        ? `entry ${p.seq}: expected seq ${p.expectedSeq} (an entry was removed or reordered)`
        : p.kind === 'broken-link'
          ? `entry ${p.seq}: does not follow the entry before it (removed or reordered)`
          : `entry ${p.seq}: its content does not match its hash (edited)`,
    ),
    ...files
      .filter((f) => f.check.problem !== null)
      .map((f) => `${f.ref.kind} ${f.ref.documentKey} (${f.ref.fileId}): ${f.check.problem}`),
  ];
  return {
    verification: {
      ok: problems.length === 0,
      recordId,
      entries: entries.length,
      chainHead: entries.at(-1)?.hash ?? null,
      chain: chain.problems,
      files: files.map((f) => f.check),
      problems,
    },
    files: files.map(({ ref, bytes }) => ({ ref, bytes })),
  };
}

/** Find any edited, removed or reordered evidence entry, and any evidenced file whose bytes changed. */
export async function verifyEvidence(deps: EvidenceDependencies, recordId: string): Promise<EvidenceVerification> {
  return (await verifyLoaded(deps, recordId, await loadEntries(deps.persistence, recordId))).verification;
}

export interface EvidencePackage {
  manifest: {
    format: 'sealflow-evidence/1';
    recordId: string;
    exportedAt: number;
    chainHead: string | null;
    verification: EvidenceVerification;
    entries: AuditEntry[];
    files: { name: string; kind: 'rendered' | 'signed'; documentKey: string; fileId: string; sha256: string }[];
  };
  /** The PDFs whose bytes still match the evidence (a file that does not is listed in `verification`, not shipped). */
  files: { name: string; bytes: Uint8Array }[];
}

/** One signing's evidence as a package: a JSON manifest (entries, hashes, chain head, verification) and the PDFs. */
export async function exportEvidencePackage(deps: EvidenceDependencies, recordId: string): Promise<EvidencePackage> {
  const entries = await loadEntries(deps.persistence, recordId);
  const { verification, files } = await verifyLoaded(deps, recordId, entries);
  const named = files.map(({ ref, bytes }) => ({ name: `${ref.kind}/${ref.documentKey}.pdf`, ref, bytes }));
  return {
    manifest: {
      format: 'sealflow-evidence/1',
      recordId,
      exportedAt: deps.now(),
      chainHead: verification.chainHead,
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
