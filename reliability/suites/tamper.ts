/**
 * The tamper suite: every edit someone with write access to the database and the document store can make to a
 * finished signing, each made for real (SQL on PGlite, files on disk for the fs store), and what shows it.
 *
 * For every stored artefact (signed and rendered PDFs, the hashes kept about them, the signing record, its evidence
 * entries, the workflow row and its audit entries, and the signing as a whole) the matrix edits, removes, reorders,
 * re-hashes, cuts the end off and puts back an older copy, then asks every check the SDK offers: `verifyEvidence`,
 * `download`, the verification inside `exportEvidencePackage` and the runtime's `verifyAudit`; after an edit to the
 * approved template's PDF, the next signing made from it. An edit no check
 * reports must be one of {@link OUT_OF_REACH}, each of which `docs/guarantees.md` explains; anything else fails.
 *
 * The host runs as a careful deployment would: evidence keyed by the default key derived from `hashKey`, the
 * runtime's audit chain keyed (`auditKeys`), and, for the rows that say so, an evidence notary holding the head
 * published when the signing completed. The attacker has neither key.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PDFDocument } from 'pdf-lib';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { sealedContractDefinition } from '../../fixtures/signing-templates.js';
import { fsDocumentStore } from '../../packages/adapter-storage/src/fs.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import {
  type AuditEntry,
  type DocumentStore,
  type SigningRecord,
  createRuntime,
  createSigningGateway,
  createSigningService,
  createTemplateService,
  sha256Hex,
  signingWorkflows,
  templateWorkflows,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../../packages/core/src/index.js';
import {
  createMemoryChainNotary,
  createMemoryDocumentStore,
  createMemorySigningVendor,
} from '../../packages/core/src/memory/index.js';
import { canonicalJson, hashAuditEntry, linkAuditEntry } from '../../packages/core/src/runtime/audit-chain.js';
import { evidenceKeyring } from '../../packages/core/src/signing/evidence.js';
import { TEMPLATE_APPROVAL_WORKFLOW } from '../../packages/core/src/templates/approval-workflow.js';
import type { ReliabilityResult, ReliabilityScale, ReliabilitySuite } from '../suite.js';

// ---------------------------------------------------------------------------------------------------------------
// What may go unreported, and why

/**
 * Edits no check inside the database and the document store can report, with the reason. `docs/guarantees.md`
 * lists each under its key; the suite fails on an unreported edit that is not here, and on a key the page lacks.
 */
export const OUT_OF_REACH = {
  'key-holder':
    'Someone who also holds the evidence key (`hashKey` or `evidenceKeys`) can rewrite the chain and re-seal the ' +
    'record’s anchor consistently. Only a head attested before the rewrite shows it.',
  'record-projection':
    'Fields of the signing record outside its sealed anchor (stage, timestamps, failure, the rendered documents) are ' +
    'a convenience copy. The evidence entries are the authoritative account of those facts, and the files are ' +
    'checked against the hashes in the evidence, not in the record.',
  'signing-put-back':
    'A signing put back to a copy of its rows saved earlier (record and evidence together, with or without its ' +
    'workflow row and audit) was validly sealed when it was written. Only a head published outside the database ' +
    '(`evidenceNotary` and `attestEvidence`) shows it.',
  'signing-deleted':
    'A signing deleted whole (record, evidence, workflow row and audit) leaves nothing in the database to contradict ' +
    'it. Only a head published outside the database shows it, or comparing the business numbers the lending system ' +
    'signed with `find()`.',
  'template-rewritten':
    'An approved template version’s PDF replaced together with the hash the store and the version row keep of it ' +
    'changes what contracts rendered afterwards say, and nothing seals the approved hash. Each such signing’s ' +
    'evidence records the template hash it was rendered from, which shows it against a record of the approved hash ' +
    'kept outside the database.',
  'workflow-put-back':
    'A workflow row put back together with its audit entries, both copied earlier, was validly written then; the ' +
    'signing record and its evidence, which are what a signing is judged by, are unchanged.',
} as const;

export type OutOfReachKey = keyof typeof OUT_OF_REACH;

// ---------------------------------------------------------------------------------------------------------------
// The host

const HASH_KEY = 'reliability-tamper-hash-key-0123456789';
const AUDIT_KEYS = { current: 'audit-2026', keys: { 'audit-2026': 'reliability-tamper-audit-key-0123456789' } };

type Row = Record<string, unknown>;

async function openHost(store: 'fs' | 'memory') {
  const db = await PGlite.create();
  const persistence = await pglitePersistence({ db });
  const root = mkdtempSync(join(tmpdir(), 'sealflow-tamper-'));
  const memory = createMemoryDocumentStore();
  // The memory store keeps its bookkeeping next to the bytes; someone who can rewrite both is this wrapper.
  const swapped = new Map<string, Uint8Array>();
  const inner: DocumentStore = store === 'fs' ? fsDocumentStore({ root }) : memory;
  const documents: DocumentStore = {
    name: inner.name,
    put: (input) => inner.put(input),
    head: (id) => inner.head(id),
    delete: (id) => inner.delete(id),
    async get(fileId) {
      const got = await inner.get(fileId);
      const bytes = swapped.get(fileId);
      return bytes ? { ...got, bytes } : got;
    },
  };
  const identity = { refuse: false };
  const environment = {
    vendors: { memory: createSigningGateway(createMemorySigningVendor()) },
    documents,
    hashKey: HASH_KEY,
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
        sealId: 'seal',
      },
    },
  };
  const runtime = createRuntime({
    persistence,
    auditKeys: AUDIT_KEYS,
    workflows: [...templateWorkflows(), ...signingWorkflows(environment)],
  });
  const templates = createTemplateService({
    runtime,
    documents,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
  });
  const signingOptions = {
    ...environment,
    runtime,
    templates,
    identityVerifier: {
      check: async () =>
        identity.refuse ? { verified: false } : { verified: true, method: 'three-element', verifiedAt: 1 },
    },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
  };
  const notary = createMemoryChainNotary();
  const signing = createSigningService(signingOptions);
  const notarised = createSigningService({ ...signingOptions, evidenceNotary: notary });
  const draft = await templates.importTemplate(
    { id: 'alice', roles: ['template-editor'] },
    {
      code: 'LOAN_CONTRACT_V',
      name: '借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)),
      definition: sealedContractDefinition(['platform']),
    },
  );
  await templates.submit({ id: 'alice', roles: ['template-editor'] }, draft.id);
  await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);

  const query = async (text: string, params?: unknown[]) => (await db.query<Row>(text, params)).rows;
  return {
    store,
    root,
    memory,
    swapped,
    identity,
    runtime,
    signing,
    notarised,
    versionId: draft.id,
    query,
    async close() {
      await runtime.stop();
      await persistence.close();
      await db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

type Host = Awaited<ReturnType<typeof openHost>>;

/** The rows of one signing, as `row_to_json` text so they go back exactly as they were. */
interface SavedRows {
  record: string[];
  evidence: string[];
  workflow: string[];
  audit: string[];
}

const TABLES = {
  record: { table: 'sealflow_entities', where: `kind = 'signing-record' AND id = $1`, id: (id: string) => id },
  evidence: { table: 'sealflow_audit', where: 'stream_id = $1', id: (id: string) => `evidence:${id}` },
  workflow: { table: 'sealflow_workflows', where: 'id = $1', id: (id: string) => id },
  audit: { table: 'sealflow_audit', where: 'stream_id = $1', id: (id: string) => id },
} as const;
type Part = keyof typeof TABLES;

async function saveRows(h: Host, recordId: string): Promise<SavedRows> {
  const saved = {} as SavedRows;
  for (const part of Object.keys(TABLES) as Part[]) {
    const { table, where, id } = TABLES[part];
    const rows = await h.query(`SELECT row_to_json(t)::text AS row FROM ${table} t WHERE ${where}`, [id(recordId)]);
    saved[part] = rows.map((r) => r.row as string);
  }
  return saved;
}

/** Delete these parts of a signing; with `rows`, write those back in their place. */
async function replaceRows(h: Host, recordId: string, parts: readonly Part[], rows?: SavedRows) {
  for (const part of parts) {
    const { table, where, id } = TABLES[part];
    await h.query(`DELETE FROM ${table} WHERE ${where}`, [id(recordId)]);
    for (const row of rows?.[part] ?? []) {
      await h.query(`INSERT INTO ${table} SELECT * FROM json_populate_record(null::${table}, $1::json)`, [row]);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One signing and what the attacker can reach of it

interface Signing {
  h: Host;
  record: SigningRecord;
  /** Rows saved while the signing was under way, as an attacker who planned ahead would keep them. */
  early: SavedRows;
  /** The signed PDF's bytes as archived. */
  signedBytes: Uint8Array | null;
}

let businessNumbers = 0;

/** Ask for a signing and drive it until it completes or fails (or gives up): its id and its rows saved early on. */
async function signAndDrain(h: Host, fail: boolean): Promise<{ recordId: string; early: SavedRows }> {
  h.identity.refuse = fail;
  businessNumbers += 1;
  const request = {
    businessNo: `LN-TAMPER-${h.store}-${businessNumbers}`,
    scene: 'LOAN_CONTRACT',
    borrower: { name: '欧阳娜娜', idNumber: withIdNumberCheckChar('31010119900307002'), mobile: '13912345678' },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: {
      at: 1_780_000_000_000,
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [h.versionId],
    },
    actor: { id: 'lending-system' },
  };
  let recordId: string;
  try {
    recordId = (await h.signing.sign(request)).id;
  } catch (error) {
    const refused = (error as { recordId?: string }).recordId;
    if (!fail || !refused) throw error;
    recordId = refused;
  }
  const early = await saveRows(h, recordId);
  for (let i = 0; i < 30; i++) {
    const status = (await h.signing.get(recordId))!.status;
    if (status === 'COMPLETED' || status === 'FAILED') break;
    await h.runtime.runOnce({ limit: 50 });
  }
  return { recordId, early };
}

async function newSigning(h: Host, options: { fail?: boolean; attest?: boolean } = {}): Promise<Signing> {
  const { recordId, early } = await signAndDrain(h, options.fail === true);
  const record = (await h.signing.get(recordId))!;
  const want = options.fail ? 'FAILED' : 'COMPLETED';
  if (record.status !== want) throw new Error(`the tamper suite's signing ended ${record.status}, not ${want}`);
  if (options.attest) await h.notarised.attestEvidence(recordId);
  const clean = await observe({ h, record, early, signedBytes: null }, options.attest === true);
  if (clean.detectedBy.length > 0) {
    throw new Error(`the untouched signing does not verify: ${clean.findings.join('; ')}`);
  }
  const signedBytes = options.fail ? null : (await h.signing.download(recordId))[0]!.bytes;
  return { h, record, early, signedBytes };
}

async function evidenceEntries(s: Signing, stream = `evidence:${s.record.id}`): Promise<AuditEntry[]> {
  const rows = await s.h.query(
    'SELECT stream_id, seq::int AS seq, type, actor, data::text AS data, at::float8 AS at, prev_hash, hash ' +
      'FROM sealflow_audit WHERE stream_id = $1 ORDER BY seq',
    [stream],
  );
  return rows.map((r) => ({
    streamId: r.stream_id as string,
    seq: r.seq as number,
    type: r.type as string,
    actor: r.actor as string,
    data: JSON.parse(r.data as string),
    at: r.at as number,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  }));
}

/** Write entries over the stream's rows (same primary keys), as an UPDATE per row would. */
async function writeEntries(s: Signing, stream: string, entries: readonly AuditEntry[]) {
  await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1', [stream]);
  for (const e of entries) {
    await s.h.query(
      'INSERT INTO sealflow_audit (stream_id, seq, type, actor, data, at, prev_hash, hash) ' +
        'VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8)',
      [stream, e.seq, e.type, e.actor, JSON.stringify(e.data), e.at, e.prevHash, e.hash],
    );
  }
}

/**
 * Rewrite the chain from entry 1 and re-seal the record's anchor with the host's own evidence key, as someone who
 * stole `hashKey` could. The anchor's sealed text is rebuilt here the way `evidence.ts` builds it: if that format
 * changes, this row starts to be detected and its expectation fails, which is the prompt to update it.
 */
async function rewriteWithKey(s: Signing) {
  const keyring = evidenceKeyring({ hashKey: HASH_KEY });
  const stream = `evidence:${s.record.id}`;
  const forged: AuditEntry[] = [];
  for (const entry of await evidenceEntries(s)) {
    const data = entry.seq === 1 ? editData(entry).data : entry.data;
    const partial = { ...entry, data, prevHash: forged.at(-1)?.hash ?? entry.prevHash };
    forged.push({ ...partial, hash: linkAuditEntry(partial, keyring) });
  }
  await writeEntries(s, stream, forged);
  const head = forged.at(-1)!.hash;
  const signed = s.record.signed.map((d) => ({ documentKey: d.documentKey, fileId: d.fileId, sha256: d.sha256 }));
  const text = canonicalJson({ recordId: s.record.id, status: s.record.status, signed, entries: forged.length, head });
  const seal = keyring.seal('sealflow-evidence-anchor/1', text);
  await editRecord(s, (data) => ({ ...data, evidence: { entries: forged.length, head, seal } }));
}

/** Recompute links with the SDK's public hash from `fromSeq` on (to `toSeq`), as an editor without the key can. */
function rehash(entries: readonly AuditEntry[], fromSeq: number, toSeq = Number.POSITIVE_INFINITY): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const entry of entries) {
    if (entry.seq < fromSeq || entry.seq > toSeq) {
      out.push(entry);
      continue;
    }
    const partial = { ...entry, prevHash: entry.seq === fromSeq ? entry.prevHash : out.at(-1)!.hash };
    out.push({ ...partial, hash: hashAuditEntry(partial) });
  }
  return out;
}

const editData = (entry: AuditEntry): AuditEntry => ({
  ...entry,
  data: { ...(entry.data as object), tampered: '198.51.100.1' },
});

async function editRecord(s: Signing, change: (data: Row) => Row) {
  const [row] = await s.h.query(
    `SELECT data::text AS data FROM sealflow_entities WHERE kind = 'signing-record' AND id = $1`,
    [s.record.id],
  );
  const data = change(JSON.parse(row!.data as string) as Row);
  await s.h.query(`UPDATE sealflow_entities SET data = $2::json WHERE kind = 'signing-record' AND id = $1`, [
    s.record.id,
    JSON.stringify(data),
  ]);
}

function signedFile(s: Signing) {
  const signed = s.record.signed[0]!;
  return { fileId: signed.fileId, sha256: signed.sha256 };
}
function renderedFile(s: Signing) {
  const rendered = s.record.rendered[0]!;
  return { fileId: rendered.fileId, sha256: rendered.sha256 };
}

/** The fs store's two files for a document. */
function fsPaths(s: { h: Host }, fileId: string) {
  const dir = join(s.h.root, fileId.slice(4, 6));
  return { bin: join(dir, `${fileId}.bin`), json: join(dir, `${fileId}.json`) };
}

/** Put `bytes` in place of an fs document; with `rehashed`, rewrite its descriptor's SHA-256 and size to match. */
function writeFsDocument(s: { h: Host }, fileId: string, bytes: Uint8Array, rehashed: boolean) {
  const paths = fsPaths(s, fileId);
  writeFileSync(paths.bin, bytes);
  if (rehashed) {
    const descriptor = JSON.parse(readFileSync(paths.json, 'utf8'));
    writeFileSync(paths.json, JSON.stringify({ ...descriptor, sha256: sha256Hex(bytes), size: bytes.length }));
  }
}

/** The approved template version's PDF in the document store. */
async function templateFileId(s: { h: Host }): Promise<string> {
  const [row] = await s.h.query(
    `SELECT data->'pdf'->>'fileId' AS file FROM sealflow_entities WHERE kind = 'template-version' AND id = $1`,
    [s.h.versionId],
  );
  return row!.file as string;
}

/** The template re-saved with a changed subject: a valid PDF with the same fields and other bytes, as an edit is. */
async function withClause(bytes: Uint8Array): Promise<Uint8Array> {
  const pdf = await PDFDocument.load(bytes);
  pdf.setSubject('年化利率 36%');
  return pdf.save({ useObjectStreams: false });
}

const flipped = (bytes: Uint8Array, at = 100) => {
  const copy = new Uint8Array(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
};

async function fsBytes(s: { h: Host }, fileId: string) {
  return new Uint8Array(readFileSync(fsPaths(s, fileId).bin));
}

// ---------------------------------------------------------------------------------------------------------------
// The checks, asked after every edit

/** What every check said after an edit. */
export interface Observation {
  /** Checks that reported the edit: `verifyEvidence`, `download`, `export`, `verifyAudit`. */
  detectedBy: string[];
  /** What each reporting check said, such as `verifyEvidence: record anchor-forged` or `download: EVIDENCE_TAMPERED`. */
  findings: string[];
  /** Refusals that report nothing, such as `download refused: SIGNING_NOT_COMPLETED`. */
  refusals: string[];
  /** `download` handed out bytes that are not the archived signed PDF: never acceptable. */
  servedAltered: boolean;
}

/** After an edit to the template: what the first signing made from it, and the approval's own audit, say. */
async function observeTemplate(h: Host): Promise<Observation> {
  const detectedBy: string[] = [];
  const findings: string[] = [];
  const found = (check: string, what: string[]) => {
    if (what.length === 0) return;
    if (!detectedBy.includes(check)) detectedBy.push(check);
    findings.push(...what.map((w) => `${check}: ${w}`));
  };
  try {
    const { recordId } = await signAndDrain(h, false);
    const next = (await h.signing.get(recordId))!;
    if (next.status === 'FAILED') found('sign', [`FAILED ${next.failure?.code}`]);
    else if (next.status !== 'COMPLETED') found('sign', [`stuck ${next.status}`]);
  } catch (error) {
    found('sign', [errorCode(error)]);
  }
  const approval = await h.runtime.verifyAudit(`${TEMPLATE_APPROVAL_WORKFLOW}:${h.versionId}`);
  found('verifyAudit', [
    ...new Set(approval.problems.map((p) => `approval chain ${p.kind}`)),
    ...approval.workflow.map((p) => `approval workflow ${p.kind}`),
  ]);
  return { detectedBy, findings, refusals: [], servedAltered: false };
}

/** Codes with which `download` says the stored data no longer matches its evidence. */
const TAMPER_CODES = new Set(['EVIDENCE_TAMPERED', 'ARCHIVED_DOCUMENT_MISMATCH', 'DOCUMENT_INTEGRITY']);

function errorCode(error: unknown): string {
  return (error as { code?: string }).code ?? `untyped ${(error as Error).name}`;
}

async function observe(s: Signing, notarised: boolean): Promise<Observation> {
  const service = notarised ? s.h.notarised : s.h.signing;
  const id = s.record.id;
  const detectedBy: string[] = [];
  const findings: string[] = [];
  const refusals: string[] = [];
  let servedAltered = false;
  const found = (check: string, what: string[]) => {
    if (what.length === 0) return;
    if (!detectedBy.includes(check)) detectedBy.push(check);
    findings.push(...what.map((w) => `${check}: ${w}`));
  };

  try {
    const v = await service.verifyEvidence(id);
    found('verifyEvidence', [
      ...[...new Set(v.chain.map((p) => p.kind))].map((k) => `chain ${k}`),
      ...v.record.map((p) => `record ${p.kind}`),
      ...v.files.filter((f) => f.problem !== null).map((f) => `${f.kind} file ${f.problem}`),
    ]);
    if (!v.ok && findings.length === 0) found('verifyEvidence', ['not ok']);
  } catch (error) {
    // Nothing found at all is what a signing that never existed looks like: not a report.
    if (errorCode(error) !== 'NOT_FOUND') found('verifyEvidence', [errorCode(error)]);
  }

  if (s.record.status === 'COMPLETED') {
    try {
      const [document] = await service.download(id);
      if (!document || !s.signedBytes || sha256Hex(document.bytes) !== sha256Hex(s.signedBytes)) servedAltered = true;
    } catch (error) {
      // Only these say the stored data was changed; another refusal (SIGNING_NOT_COMPLETED for a record put back to
      // an earlier state, NOT_FOUND for a gone record or file) hands nothing out but reports nothing either.
      const code = errorCode(error);
      if (TAMPER_CODES.has(code)) found('download', [code]);
      else refusals.push(`download refused: ${code}`);
    }
  }

  try {
    const exported = await service.exportEvidencePackage(id);
    if (!exported.manifest.verification.ok) found('export', ['verification not ok']);
  } catch (error) {
    if (errorCode(error) !== 'NOT_FOUND') found('export', [errorCode(error)]);
  }

  try {
    const a = await s.h.runtime.verifyAudit(id);
    found('verifyAudit', [
      ...[...new Set(a.problems.map((p) => p.kind))].map((k) => `chain ${k}`),
      ...a.workflow.map((p) => `workflow ${p.kind}`),
    ]);
    if (!a.ok && a.problems.length === 0 && a.workflow.length === 0) found('verifyAudit', ['not ok']);
  } catch (error) {
    found('verifyAudit', [errorCode(error)]);
  }
  return { detectedBy, findings, refusals, servedAltered };
}

// ---------------------------------------------------------------------------------------------------------------
// The matrix

/** One edit of one artefact, and what must show it (or why nothing can). */
export interface TamperCase {
  artefact: string;
  edit: string;
  /** The host's document store for this row; fs unless it says memory. */
  store?: 'fs' | 'memory';
  /** Start from a FAILED signing instead of a COMPLETED one. */
  failed?: boolean;
  /** The evidence head was published to a notary when the signing finished, and the checks consult it. */
  notarised?: boolean;
  /** The edit; a template row gets only `h` (there is no signing yet). */
  apply(s: Signing): Promise<void>;
  /** Exactly the findings expected (see {@link Observation.findings}), in the order the checks report them. */
  expected: string[];
  /**
   * The edit is to the approved template, on a host of its own before it made any signing (a running host keeps the
   * template it parsed): the first signing made from it and the template approval's audit are asked instead.
   */
  template?: boolean;
  /** Set when nothing can report this edit; `expected` is then empty. */
  outOfReach?: OutOfReachKey;
}

const EVIDENCE_TAMPERED = 'download: EVIDENCE_TAMPERED';
const EXPORT = 'export: verification not ok';

export const TAMPER_CASES: readonly TamperCase[] = [
  // PDFs in the fs document store: the bytes, and the descriptor that records their hash.
  {
    artefact: 'signed PDF (fs store)',
    edit: 'edited (one byte changed)',
    async apply(s) {
      const { fileId } = signedFile(s);
      writeFsDocument(s, fileId, flipped(await fsBytes(s, fileId)), false);
    },
    expected: ['verifyEvidence: signed file corrupted', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (fs store)',
    edit: 'edited and re-hashed (descriptor’s SHA-256 and size rewritten)',
    async apply(s) {
      const { fileId } = signedFile(s);
      writeFsDocument(s, fileId, flipped(await fsBytes(s, fileId)), true);
    },
    expected: ['verifyEvidence: signed file replaced', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (fs store)',
    edit: 'truncated (end cut off) and re-hashed',
    async apply(s) {
      const { fileId } = signedFile(s);
      const bytes = await fsBytes(s, fileId);
      writeFsDocument(s, fileId, bytes.subarray(0, bytes.length - 1024), true);
    },
    expected: ['verifyEvidence: signed file replaced', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (fs store)',
    edit: 'removed (bytes deleted, descriptor left)',
    async apply(s) {
      unlinkSync(fsPaths(s, signedFile(s).fileId).bin);
    },
    expected: ['verifyEvidence: signed file corrupted', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (fs store)',
    edit: 'removed with its descriptor',
    async apply(s) {
      const paths = fsPaths(s, signedFile(s).fileId);
      unlinkSync(paths.bin);
      unlinkSync(paths.json);
    },
    // download refuses too (NOT_FOUND), which names the missing file rather than the tampering.
    expected: ['verifyEvidence: signed file missing', EXPORT],
  },
  {
    artefact: 'signed PDF (fs store)',
    edit: 'older copy put back (the unsigned rendered PDF, re-hashed)',
    async apply(s) {
      writeFsDocument(s, signedFile(s).fileId, await fsBytes(s, renderedFile(s).fileId), true);
    },
    expected: ['verifyEvidence: signed file replaced', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'rendered PDF (fs store)',
    edit: 'edited (one byte changed)',
    async apply(s) {
      const { fileId } = renderedFile(s);
      writeFsDocument(s, fileId, flipped(await fsBytes(s, fileId)), false);
    },
    expected: ['verifyEvidence: rendered file corrupted', EXPORT],
  },
  {
    artefact: 'rendered PDF (fs store)',
    edit: 'edited and re-hashed',
    async apply(s) {
      const { fileId } = renderedFile(s);
      writeFsDocument(s, fileId, flipped(await fsBytes(s, fileId)), true);
    },
    expected: ['verifyEvidence: rendered file replaced', EXPORT],
  },
  {
    artefact: 'rendered PDF (fs store)',
    edit: 'truncated and re-hashed',
    async apply(s) {
      const { fileId } = renderedFile(s);
      const bytes = await fsBytes(s, fileId);
      writeFsDocument(s, fileId, bytes.subarray(0, bytes.length - 1024), true);
    },
    expected: ['verifyEvidence: rendered file replaced', EXPORT],
  },
  {
    artefact: 'rendered PDF (fs store)',
    edit: 'removed with its descriptor',
    async apply(s) {
      const paths = fsPaths(s, renderedFile(s).fileId);
      unlinkSync(paths.bin);
      unlinkSync(paths.json);
    },
    expected: ['verifyEvidence: rendered file missing', EXPORT],
  },

  // PDFs in the memory store.
  {
    artefact: 'signed PDF (memory store)',
    store: 'memory',
    edit: 'edited (one bit flipped)',
    async apply(s) {
      await s.h.memory.corrupt(signedFile(s).fileId);
    },
    expected: ['verifyEvidence: signed file corrupted', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (memory store)',
    store: 'memory',
    edit: 'edited with its bookkeeping (the store sees nothing)',
    async apply(s) {
      s.h.swapped.set(signedFile(s).fileId, flipped(s.signedBytes!));
    },
    expected: ['verifyEvidence: signed file replaced', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (memory store)',
    store: 'memory',
    edit: 'older copy put back (the unsigned rendered PDF, with bookkeeping)',
    async apply(s) {
      s.h.swapped.set(signedFile(s).fileId, (await s.h.memory.get(renderedFile(s).fileId)).bytes);
    },
    expected: ['verifyEvidence: signed file replaced', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'signed PDF (memory store)',
    store: 'memory',
    edit: 'removed',
    async apply(s) {
      await s.h.memory.delete(signedFile(s).fileId);
    },
    // download refuses too (NOT_FOUND), which names the missing file rather than the tampering.
    expected: ['verifyEvidence: signed file missing', EXPORT],
  },

  // Hashes kept about the PDFs, outside the bytes.
  {
    artefact: 'stored hash: fs descriptor',
    edit: 'SHA-256 rewritten (bytes untouched)',
    async apply(s) {
      const paths = fsPaths(s, signedFile(s).fileId);
      const descriptor = JSON.parse(readFileSync(paths.json, 'utf8'));
      writeFileSync(paths.json, JSON.stringify({ ...descriptor, sha256: 'f'.repeat(64) }));
    },
    expected: ['verifyEvidence: signed file corrupted', 'download: ARCHIVED_DOCUMENT_MISMATCH', EXPORT],
  },
  {
    artefact: 'stored hash: record’s signed document',
    edit: 'rewritten to a forged PDF’s hash, with the PDF replaced and re-hashed',
    async apply(s) {
      const { fileId, sha256 } = signedFile(s);
      const forged = flipped(await fsBytes(s, fileId));
      writeFsDocument(s, fileId, forged, true);
      await editRecord(s, (data) => JSON.parse(JSON.stringify(data).replaceAll(sha256, sha256Hex(forged))));
    },
    expected: [
      'verifyEvidence: record anchor-forged',
      'verifyEvidence: record signed-documents-differ',
      'verifyEvidence: signed file replaced',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'stored hash: record’s rendered document',
    edit: 'rewritten',
    async apply(s) {
      await editRecord(s, (data) => ({
        ...data,
        rendered: (data.rendered as Row[]).map((d) => ({ ...d, sha256: 'e'.repeat(64) })),
      }));
    },
    expected: [],
    outOfReach: 'record-projection',
  },
  {
    artefact: 'stored hash: evidence’s archived document',
    edit: 'rewritten to a forged PDF’s hash, chain re-hashed, PDF replaced and re-hashed',
    async apply(s) {
      const { fileId, sha256 } = signedFile(s);
      const forged = flipped(await fsBytes(s, fileId));
      writeFsDocument(s, fileId, forged, true);
      const entries = await evidenceEntries(s);
      const edited = entries.map((e) =>
        e.type === 'documents.archived'
          ? { ...e, data: JSON.parse(JSON.stringify(e.data).replaceAll(sha256, sha256Hex(forged))) }
          : e,
      );
      const from = edited.find((e) => e.type === 'documents.archived')!.seq;
      await writeEntries(s, `evidence:${s.record.id}`, rehash(edited, from));
    },
    expected: [
      'verifyEvidence: chain unkeyed',
      'verifyEvidence: record head-mismatch',
      'verifyEvidence: record signed-documents-differ',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },

  // The signing record row.
  {
    artefact: 'signing record',
    edit: 'edited: status COMPLETED → FAILED',
    async apply(s) {
      await editRecord(s, (data) => ({ ...data, status: 'FAILED' }));
    },
    expected: ['verifyEvidence: record anchor-forged', 'verifyEvidence: record terminal-entry-missing', EXPORT],
  },
  {
    artefact: 'signing record',
    failed: true,
    edit: 'edited: status FAILED → COMPLETED',
    async apply(s) {
      await editRecord(s, (data) => ({ ...data, status: 'COMPLETED' }));
    },
    expected: ['verifyEvidence: record anchor-forged', 'verifyEvidence: record terminal-entry-missing', EXPORT],
  },
  {
    artefact: 'signing record',
    edit: 'edited: signed document pointed at the unsigned rendered PDF',
    async apply(s) {
      const rendered = renderedFile(s);
      await editRecord(s, (data) => ({
        ...data,
        signed: (data.signed as Row[]).map((d) => ({ ...d, fileId: rendered.fileId, sha256: rendered.sha256 })),
      }));
    },
    expected: [
      'verifyEvidence: record anchor-forged',
      'verifyEvidence: record signed-documents-differ',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'signing record',
    edit: 'edited outside the seal (stage, time)',
    async apply(s) {
      await editRecord(s, (data) => ({ ...data, stage: 'rendering', updatedAt: 1 }));
    },
    expected: [],
    outOfReach: 'record-projection',
  },
  {
    artefact: 'signing record',
    edit: 're-hashed: anchor moved to the chain with its last entry cut, seal kept',
    async apply(s) {
      const entries = await evidenceEntries(s);
      await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [
        `evidence:${s.record.id}`,
        entries.length,
      ]);
      await editRecord(s, (data) => ({
        ...data,
        evidence: { ...(data.evidence as Row), entries: entries.length - 1, head: entries.at(-2)!.hash },
      }));
    },
    expected: [
      'verifyEvidence: record anchor-forged',
      'verifyEvidence: record terminal-entry-missing',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'signing record',
    edit: 'anchor removed',
    async apply(s) {
      await editRecord(s, (data) => ({ ...data, evidence: null }));
    },
    expected: ['verifyEvidence: record anchor-missing', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'signing record',
    edit: 'removed (row deleted, evidence left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record']);
    },
    expected: ['verifyEvidence: record record-missing', EXPORT],
  },
  {
    artefact: 'signing record',
    edit: 'older copy put back (evidence left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record'], s.early);
    },
    expected: ['verifyEvidence: record extended', EXPORT],
  },

  // Entries of the evidence chain `evidence:<recordId>`.
  {
    artefact: 'evidence entry',
    edit: 'edited (consent data changed, hash left)',
    async apply(s) {
      const entries = await evidenceEntries(s);
      await writeEntries(s, `evidence:${s.record.id}`, [editData(entries[0]!), ...entries.slice(1)]);
    },
    expected: ['verifyEvidence: chain hash-mismatch', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'edited and its own hash recomputed',
    async apply(s) {
      const entries = await evidenceEntries(s);
      await writeEntries(s, `evidence:${s.record.id}`, rehash([editData(entries[0]!), ...entries.slice(1)], 1, 1));
    },
    // The next entry's keyed link pins the one before it, so only the broken link shows.
    expected: ['verifyEvidence: chain broken-link', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'edited and re-hashed under a made-up keyed link',
    async apply(s) {
      const entries = await evidenceEntries(s);
      const [first, ...rest] = entries;
      const edited = editData(first!);
      const keyId = first!.hash.split(':')[1];
      await writeEntries(s, `evidence:${s.record.id}`, [
        { ...edited, hash: `hmac-sha256:${keyId}:${hashAuditEntry(edited)}` },
        ...rest,
      ]);
    },
    expected: ['verifyEvidence: chain hash-mismatch', 'verifyEvidence: chain broken-link', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'edited and the whole chain re-hashed',
    async apply(s) {
      const entries = await evidenceEntries(s);
      await writeEntries(s, `evidence:${s.record.id}`, rehash([editData(entries[0]!), ...entries.slice(1)], 1));
    },
    expected: ['verifyEvidence: chain unkeyed', 'verifyEvidence: record head-mismatch', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'edited, chain re-hashed and the record’s anchor moved to it',
    async apply(s) {
      const entries = await evidenceEntries(s);
      const forged = rehash([editData(entries[0]!), ...entries.slice(1)], 1);
      await writeEntries(s, `evidence:${s.record.id}`, forged);
      await editRecord(s, (data) => ({ ...data, evidence: { ...(data.evidence as Row), head: forged.at(-1)!.hash } }));
    },
    expected: ['verifyEvidence: chain unkeyed', 'verifyEvidence: record anchor-forged', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'removed (one in the middle)',
    async apply(s) {
      await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = 2', [`evidence:${s.record.id}`]);
    },
    expected: [
      'verifyEvidence: chain gap',
      'verifyEvidence: chain broken-link',
      'verifyEvidence: record truncated',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'evidence entry',
    edit: 'reordered (two entries swapped)',
    async apply(s) {
      const entries = await evidenceEntries(s);
      const swapped = entries.map((e) =>
        e.seq === 2 ? { ...entries[2]!, seq: 2 } : e.seq === 3 ? { ...entries[1]!, seq: 3 } : e,
      );
      await writeEntries(s, `evidence:${s.record.id}`, swapped);
    },
    expected: ['verifyEvidence: chain broken-link', 'verifyEvidence: chain hash-mismatch', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'truncated (last entry cut)',
    async apply(s) {
      const entries = await evidenceEntries(s);
      await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [
        `evidence:${s.record.id}`,
        entries.length,
      ]);
    },
    expected: [
      'verifyEvidence: record truncated',
      'verifyEvidence: record terminal-entry-missing',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'evidence entry',
    edit: 'truncated to nothing (the whole chain deleted, record left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['evidence']);
    },
    expected: [
      'verifyEvidence: record truncated',
      'verifyEvidence: record terminal-entry-missing',
      'verifyEvidence: record signed-documents-differ',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },
  {
    artefact: 'evidence entry',
    edit: 'one appended with the public hash',
    async apply(s) {
      const entries = await evidenceEntries(s);
      const last = entries.at(-1)!;
      const partial = { ...last, seq: last.seq + 1, type: 'signing.completed', prevHash: last.hash };
      await writeEntries(s, `evidence:${s.record.id}`, [...entries, { ...partial, hash: hashAuditEntry(partial) }]);
    },
    expected: ['verifyEvidence: chain unkeyed', 'verifyEvidence: record extended', EVIDENCE_TAMPERED, EXPORT],
  },
  {
    artefact: 'evidence entry',
    edit: 'older copy of the chain put back (record left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['evidence'], s.early);
    },
    expected: [
      'verifyEvidence: record truncated',
      'verifyEvidence: record terminal-entry-missing',
      'verifyEvidence: record signed-documents-differ',
      EVIDENCE_TAMPERED,
      EXPORT,
    ],
  },

  // The workflow's audit chain (stream id = the record id) and its row.
  {
    artefact: 'workflow audit entry',
    edit: 'edited (hash left)',
    async apply(s) {
      const entries = await evidenceEntries(s, s.record.id);
      await writeEntries(s, s.record.id, [editData(entries[0]!), ...entries.slice(1)]);
    },
    expected: ['verifyAudit: chain hash-mismatch'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'edited and its own hash recomputed',
    async apply(s) {
      const entries = await evidenceEntries(s, s.record.id);
      await writeEntries(s, s.record.id, rehash([editData(entries[0]!), ...entries.slice(1)], 1, 1));
    },
    expected: ['verifyAudit: chain broken-link'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'edited and the whole chain re-hashed',
    async apply(s) {
      const entries = await evidenceEntries(s, s.record.id);
      await writeEntries(s, s.record.id, rehash([editData(entries[0]!), ...entries.slice(1)], 1));
    },
    expected: ['verifyAudit: chain unkeyed'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'removed (one in the middle)',
    async apply(s) {
      await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = 2', [s.record.id]);
    },
    expected: ['verifyAudit: chain gap', 'verifyAudit: chain broken-link'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'reordered (two entries swapped)',
    async apply(s) {
      const entries = await evidenceEntries(s, s.record.id);
      const swapped = entries.map((e) =>
        e.seq === 2 ? { ...entries[2]!, seq: 2 } : e.seq === 3 ? { ...entries[1]!, seq: 3 } : e,
      );
      await writeEntries(s, s.record.id, swapped);
    },
    expected: ['verifyAudit: chain broken-link', 'verifyAudit: chain hash-mismatch'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'truncated (last entry cut)',
    async apply(s) {
      const entries = await evidenceEntries(s, s.record.id);
      await s.h.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [s.record.id, entries.length]);
    },
    expected: ['verifyAudit: workflow truncated'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'truncated to nothing (the whole chain deleted, row left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['audit']);
    },
    expected: ['verifyAudit: workflow truncated'],
  },
  {
    artefact: 'workflow audit entry',
    edit: 'older copy of the chain put back (row left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['audit'], s.early);
    },
    expected: ['verifyAudit: workflow truncated'],
  },
  {
    artefact: 'workflow row',
    edit: 'edited (state changed without a transition)',
    async apply(s) {
      await s.h.query(`UPDATE sealflow_workflows SET state_value = 'rendering' WHERE id = $1`, [s.record.id]);
    },
    expected: ['verifyAudit: workflow row-mismatch'],
  },
  {
    artefact: 'workflow row',
    edit: 'removed (audit left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['workflow']);
    },
    expected: ['verifyAudit: workflow workflow-missing'],
  },
  {
    artefact: 'workflow row',
    edit: 'older copy put back (audit left)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['workflow'], s.early);
    },
    expected: ['verifyAudit: workflow row-rolled-back'],
  },
  {
    artefact: 'workflow row',
    edit: 'older copy put back with its audit',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['workflow', 'audit'], s.early);
    },
    expected: [],
    outOfReach: 'workflow-put-back',
  },

  // Someone who holds the evidence key as well.
  {
    artefact: 'evidence entry',
    edit: 'edited, chain re-linked and anchor re-sealed with the stolen evidence key',
    async apply(s) {
      await rewriteWithKey(s);
    },
    expected: [],
    outOfReach: 'key-holder',
  },
  {
    artefact: 'evidence entry',
    notarised: true,
    edit: 'edited, chain re-linked and anchor re-sealed with the stolen evidence key, head attested to a notary',
    async apply(s) {
      await rewriteWithKey(s);
    },
    expected: ['verifyEvidence: record attested-head-missing', EVIDENCE_TAMPERED, EXPORT],
  },

  // The approved template's PDF, from which every later contract is rendered.
  {
    artefact: 'template PDF (fs store)',
    template: true,
    edit: 'edited (one byte changed)',
    async apply(s) {
      const fileId = await templateFileId(s);
      writeFsDocument(s, fileId, flipped(await fsBytes(s, fileId)), false);
    },
    expected: ['sign: FAILED DOCUMENT_INTEGRITY'],
  },
  {
    artefact: 'template PDF (fs store)',
    template: true,
    edit: 'edited and re-hashed (re-saved with other content, descriptor rewritten)',
    async apply(s) {
      const fileId = await templateFileId(s);
      writeFsDocument(s, fileId, await withClause(await fsBytes(s, fileId)), true);
    },
    expected: ['sign: FAILED TEMPLATE_PDF_CHANGED'],
  },
  {
    artefact: 'template PDF (fs store)',
    template: true,
    edit: 'edited and re-hashed, the version’s recorded hash rewritten too',
    async apply(s) {
      const fileId = await templateFileId(s);
      const original = sha256Hex(await fsBytes(s, fileId));
      const forged = await withClause(await fsBytes(s, fileId));
      writeFsDocument(s, fileId, forged, true);
      await s.h.query(
        `UPDATE sealflow_entities SET data = replace(data::text, $2, $3)::json WHERE kind = 'template-version' AND id = $1`,
        [s.h.versionId, original, sha256Hex(forged)],
      );
    },
    expected: [],
    outOfReach: 'template-rewritten',
  },
  {
    artefact: 'template PDF (fs store)',
    template: true,
    edit: 'removed with its descriptor',
    async apply(s) {
      const paths = fsPaths(s, await templateFileId(s));
      unlinkSync(paths.bin);
      unlinkSync(paths.json);
    },
    expected: ['sign: FAILED NOT_FOUND'],
  },

  // The signing as a whole.
  {
    artefact: 'whole signing',
    edit: 'deleted (record, evidence, workflow row, audit)',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record', 'evidence', 'workflow', 'audit']);
    },
    expected: [],
    outOfReach: 'signing-deleted',
  },
  {
    artefact: 'whole signing',
    notarised: true,
    edit: 'deleted, head attested to a notary',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record', 'evidence', 'workflow', 'audit']);
    },
    expected: ['verifyEvidence: record record-missing', 'verifyEvidence: record attested-head-missing', EXPORT],
  },
  {
    artefact: 'whole signing',
    edit: 'older copy of record and evidence put back',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record', 'evidence'], s.early);
    },
    expected: [],
    outOfReach: 'signing-put-back',
  },
  {
    artefact: 'whole signing',
    edit: 'older copy of every row put back',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record', 'evidence', 'workflow', 'audit'], s.early);
    },
    expected: [],
    outOfReach: 'signing-put-back',
  },
  {
    artefact: 'whole signing',
    notarised: true,
    edit: 'older copy of every row put back, head attested to a notary',
    async apply(s) {
      await replaceRows(s.h, s.record.id, ['record', 'evidence', 'workflow', 'audit'], s.early);
    },
    expected: ['verifyEvidence: record attested-head-missing', EXPORT],
  },
];

/** One row of the table: the case, what the checks said, and the verdict. */
export interface TamperRow {
  artefact: string;
  edit: string;
  observation: Observation;
  /** `detected`, `out of reach` (documented), or `UNDETECTED` (a failure). */
  verdict: 'detected' | 'out of reach' | 'UNDETECTED';
  outOfReach?: OutOfReachKey;
  expected: string[];
}

/** Hosts opened on demand (one per document store), each running cases on fresh signings. */
export function tamperSession() {
  const hosts = new Map<'fs' | 'memory', Promise<Host>>();
  return {
    /** Make the case's edit on a fresh signing and report what showed it. */
    async run(c: TamperCase): Promise<TamperRow> {
      const store = c.store ?? 'fs';
      let opening = c.template ? undefined : hosts.get(store);
      if (!opening) {
        opening = openHost(store);
        // A changed template would change every later row, so its host serves one row.
        if (!c.template) hosts.set(store, opening);
      }
      const h = await opening;
      try {
        h.swapped.clear();
        let observation: Observation;
        if (c.template) {
          await c.apply({ h } as Signing);
          observation = await observeTemplate(h);
        } else {
          const s = await newSigning(h, { fail: c.failed, attest: c.notarised });
          await c.apply(s);
          observation = await observe(s, c.notarised === true);
        }
        const verdict =
          observation.servedAltered || (observation.detectedBy.length === 0 && !c.outOfReach)
            ? 'UNDETECTED'
            : observation.detectedBy.length > 0
              ? 'detected'
              : 'out of reach';
        return {
          artefact: c.artefact,
          edit: c.edit,
          observation,
          verdict,
          outOfReach: c.outOfReach,
          expected: c.expected,
        };
      } finally {
        if (c.template) await h.close();
      }
    },
    async close() {
      for (const opening of hosts.values()) await (await opening).close();
      hosts.clear();
    },
  };
}

/** Make every edit of the matrix, each on a fresh signing, and report what showed it. */
export async function runTamperMatrix(cases: readonly TamperCase[] = TAMPER_CASES): Promise<TamperRow[]> {
  const session = tamperSession();
  try {
    const rows: TamperRow[] = [];
    for (const c of cases) rows.push(await session.run(c));
    return rows;
  } finally {
    await session.close();
  }
}

/** The table as Markdown: artefact, edit, which checks reported it, and what they said (or why nothing can). */
export function tamperTable(rows: readonly TamperRow[]): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const lines = ['| Artefact | Edit | Detected by | Code |', '| --- | --- | --- | --- |'];
  for (const row of rows) {
    const by =
      row.verdict === 'detected'
        ? row.observation.detectedBy.join(', ')
        : row.verdict === 'out of reach'
          ? '—'
          : '**UNDETECTED**';
    const code =
      row.verdict === 'out of reach'
        ? `out of reach: \`${row.outOfReach}\``
        : row.observation.findings.map((f) => f.replace(/^[^:]+: /, '')).join('; ');
    const refused = row.observation.refusals.length > 0 ? ` (${row.observation.refusals.join('; ')})` : '';
    lines.push(`| ${cell(row.artefact)} | ${cell(row.edit)} | ${by} | ${cell(code + refused)} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The suite, as `pnpm reliability tamper` runs it

const DESCRIPTION = `
Someone with write access to the database and the document store, but without the host's keys, edits a finished
signing in every way the storage allows, for real: SQL on PGlite, files on disk for the fs document store, the
memory store's bytes. The artefacts are the signed and rendered PDFs (fs and memory stores), the hashes kept about
them (the fs store's descriptor, the signing record, the evidence), the signing record, its evidence entries, the
workflow row and its audit entries, and the signing as a whole. Each is edited, removed, reordered, re-hashed
(its own hash recomputed, or the whole chain), cut off at the end and put back to an older copy saved while the
signing was under way. Every row starts from a fresh signing.

After each edit the suite asks every check: \`verifyEvidence\`, \`download\`, the verification inside
\`exportEvidencePackage\` and the runtime's \`verifyAudit\`. The approved template's PDF is edited too, on a host that
has not used it yet; there the next signing made from it (\`sign\`) and the approval's audit are asked. The host runs
as a careful deployment would: evidence keyed with the default key derived from \`hashKey\`, \`auditKeys\` on the
runtime, and for the rows that say so an evidence notary holding the head attested when the signing finished. An edit
no check reports fails the suite unless it is one of the edits out of reach that
[guarantees.md](guarantees.md#out-of-reach-of-any-check-inside-the-database) explains; so does \`download\` handing
out any bytes but the archived ones. The table below is the matrix as last run: each row is the artefact and edit,
then which checks reported it and what they said, or why nothing can. A refusal that reports nothing, such as
\`download\` answering \`SIGNING_NOT_COMPLETED\` for a record put back, is in brackets. The same matrix, with exactly
these findings asserted row by row, is \`packages/adapter-storage/test/tamper-matrix.test.ts\`. The reduced run makes
the first edit of each artefact only.`;

/** The last run's table; the runner writes the description as the section's body, so the table rides in it. */
let lastTable = '';

const suite: ReliabilitySuite = {
  name: 'tamper',
  title: 'Tampering with stored signings',
  get description() {
    return lastTable ? `${DESCRIPTION}\n\n${lastTable}` : DESCRIPTION;
  },
  async run(scale: ReliabilityScale): Promise<ReliabilityResult> {
    const started = Date.now();
    // The reduced run makes the first edit of each artefact; the whole matrix also runs in `pnpm test`.
    const cases =
      scale === 'ci'
        ? TAMPER_CASES.filter((c, i) => TAMPER_CASES.findIndex((o) => o.artefact === c.artefact) === i)
        : TAMPER_CASES;
    const rows = await runTamperMatrix(cases);
    lastTable = tamperTable(rows);
    const documented = readFileSync(new URL('../../docs/guarantees.md', import.meta.url), 'utf8');
    const findings = [
      ...rows
        .filter((r) => r.verdict === 'UNDETECTED')
        .map((r) =>
          r.observation.servedAltered
            ? `${r.artefact}, ${r.edit}: download handed out bytes that are not the archived signed PDF`
            : `${r.artefact}, ${r.edit}: no check reported it, and it is not a documented edit out of reach`,
        ),
      ...[...new Set(rows.flatMap((r) => (r.verdict === 'out of reach' ? [r.outOfReach!] : [])))]
        .filter((key) => !documented.includes(`\`${key}\``))
        .map((key) => `out of reach \`${key}\` is not explained in docs/guarantees.md`),
    ];
    const count = (verdict: TamperRow['verdict']) => rows.filter((r) => r.verdict === verdict).length;
    return {
      passed: findings.length === 0,
      findings,
      figures: [
        { label: 'Edits made (each on a fresh signing)', value: rows.length },
        { label: 'Reported by at least one check', value: count('detected') },
        { label: 'Out of reach, documented', value: count('out of reach') },
        { label: 'Undetected', value: count('UNDETECTED') },
        { label: 'Wall time', value: `${((Date.now() - started) / 1000).toFixed(1)} s` },
      ],
    };
  },
};
export default suite;
