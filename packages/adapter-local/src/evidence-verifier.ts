/**
 * `verifyEvidencePackage`: checks an exported evidence package (存证包) with nothing but the package itself — no
 * sealflow database, no document store, no network. It is what `sealflow-verify-evidence` runs, so a court, an
 * auditor or a funder can check a signing on their own machine.
 *
 * What it checks, and what each check proves:
 * - **Files.** Every document the evidence names (rendered and signed) is in the package, and its SHA-256 is the one
 *   the evidence recorded: the PDFs are the ones the signing produced.
 * - **Signatures.** `verifyPdfSignatures` on each signed PDF: every signature's digest and CMS signature verify, the
 *   last one covers the whole file, there are as many as the evidence counted, and any revocation data the report
 *   carries does not say revoked.
 * - **Signature timestamps.** Each token the evidence kept (`documents.archived` → `timestamps`) is byte for byte the
 *   token in the PDF's signature, says what the evidence says (time, imprint), and verifies; with trust anchors
 *   (`--tsa-ca`) its TSA must chain to one of them.
 * - **The chain.** Entries numbered from 1 without gaps, each linked to the one before, ending at the exported head
 *   and at the record's anchor. An entry's content is checked by its link when the link is a plain hash or when the
 *   evidence key is given, and — without any key — by a TSA token over it (`evidence.timestamped`): the token's
 *   imprint is the entry's SHA-256, which anyone can recompute. Keyed entries without a token and without the key are
 *   reported as not checked, never as fine.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type AuditEntry,
  type ChainKeyring,
  type ChainKeys,
  EVIDENCE_TIMESTAMPED,
  type EvidenceEntryTimestamp,
  type EvidencePackage,
  evidenceKeyring,
  GENESIS_HASH,
  hashAuditEntry,
  maskName,
  maskText,
  type RecordTimestamp,
  SealflowError,
  TimestampError,
  verifyAuditEntries,
} from '@sealflow/core';
import { readPdfTimestamps } from './signature-timestamps.js';
import { parseTimestampToken } from './timestamp/rfc3161.js';
import { verifyTimestampToken } from './timestamp/verify-token.js';
import { type SignatureReport, type SignatureRevocationReport, verifyPdfSignatures } from './verify.js';

/** An evidence package with its files' bytes, as `exportEvidencePackage` returns it or `readEvidencePackageJson` reads. */
export interface EvidencePackageInput {
  manifest: EvidencePackage['manifest'];
  files: { name: string; bytes: Uint8Array }[];
}

/** Options of {@link verifyEvidencePackage}. */
export interface EvidencePackageVerifyOptions {
  /**
   * Certificates (PEM or DER) of the TSAs, or of the roots above them, to trust. With them every timestamp token must
   * chain to one; without them tokens are checked for integrity only and the report says the TSA was not anchored.
   */
  tsaTrustAnchors?: readonly (Uint8Array | string)[];
  /**
   * The host's evidence keys, for whoever holds them (the lender, an auditor it trusts): with them every entry's keyed
   * link is checked. `hashKey` derives the default key as the signing service does; `evidenceKeys` are the host's own.
   */
  keys?: { hashKey?: string | Uint8Array; evidenceKeys?: ChainKeys };
  /** The instant timestamp certificates must be valid at besides their genTime; default now. */
  now?: () => Date;
}

/** One signature of a signed PDF in the package, as {@link verifyEvidencePackage} saw it. */
export interface PackageSignatureCheck {
  document: string;
  field: string;
  signer: string | undefined;
  valid: boolean;
  /** The TSA's time of the signature's (or document) timestamp, ISO 8601, when it carries one. */
  timestamp: string | undefined;
  /** What the document's DSS says about the signature's chain, as `verifyPdfSignatures` reported it; undefined when none. */
  revocation: SignatureRevocationReport | undefined;
  problems: string[];
}

/** One timestamp token in the package: over a signature (kept in the evidence), or over an evidence entry. */
export interface PackageTimestampCheck {
  /** `signature`/`document` for the tokens of signed PDFs, `entry` for tokens over evidence entries. */
  kind: 'signature' | 'document' | 'entry';
  /** The document and field (`signed/loan-contract.pdf#sealflow_borrower_1`), or `entry <seq>`. */
  subject: string;
  /** The TSA's genTime, ISO 8601; undefined when the token could not be read. */
  time: string | undefined;
  tsaName: string | undefined;
  /** The TSA chains to one of the trust anchors given; false when none were given or it does not. */
  anchored: boolean;
  /** Null when the token holds. */
  problem: string | null;
}

/** What {@link verifyEvidencePackage} found: the verdict, every problem in words, and what it could not check. */
export interface EvidencePackageReport {
  /** True when nothing failed. What was not checked is in `notChecked`, and does not make it false. */
  ok: boolean;
  recordId: string;
  entries: number;
  chainHead: string | null;
  /** Documents the evidence names, with the SHA-256 recorded and whether the package's file matched. */
  files: { name: string; kind: 'rendered' | 'signed'; sha256: string; present: boolean; matches: boolean }[];
  signatures: PackageSignatureCheck[];
  timestamps: PackageTimestampCheck[];
  /** Entries whose content was checked, by which means. */
  chainContent: { byLink: number[]; byTimestamp: number[]; unchecked: number[] };
  /** One line per failed check. */
  problems: string[];
  /** What could not be checked with what was given, and how to check it. */
  notChecked: string[];
}

/** The stable code of {@link EvidencePackageError}: the input is not an evidence package this verifier can read. */
export type EvidencePackageErrorCode = 'EVIDENCE_PACKAGE_MALFORMED';

/** The package cannot be read at all (not JSON, wrong format, files that are not base64). */
export class EvidencePackageError extends SealflowError {
  declare readonly code: EvidencePackageErrorCode;
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('EVIDENCE_PACKAGE_MALFORMED', message, options);
  }
}

/**
 * Reads the JSON of `evidencePackageJson` (`@sealflow/core`): `{ format, manifest, files: [{ name, base64 }] }`.
 * Throws {@link EvidencePackageError} when it is not one.
 */
export function readEvidencePackageJson(text: string): EvidencePackageInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EvidencePackageError(
      'The evidence package is not JSON. Pass the file written from evidencePackageJson(exportEvidencePackage(…)).',
      { cause: error },
    );
  }
  const value = parsed as { format?: unknown; manifest?: unknown; files?: unknown };
  const manifest = value?.manifest as EvidencePackage['manifest'] | undefined;
  if (
    value?.format !== 'sealflow-evidence-package/1' ||
    manifest?.format !== 'sealflow-evidence/1' ||
    !Array.isArray(manifest.entries) ||
    !Array.isArray(value.files)
  ) {
    throw new EvidencePackageError(
      'This is not a sealflow evidence package (format sealflow-evidence-package/1 with a sealflow-evidence/1 manifest).',
    );
  }
  const files = (value.files as { name?: unknown; base64?: unknown }[]).map((f, i) => {
    if (typeof f?.name !== 'string' || typeof f.base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(f.base64)) {
      throw new EvidencePackageError(`files[${i}] of the evidence package needs a name and base64 bytes.`, {
        details: { index: i },
      });
    }
    return { name: f.name, bytes: new Uint8Array(Buffer.from(f.base64, 'base64')) };
  });
  return { manifest, files };
}

interface EvidencedFile {
  kind: 'rendered' | 'signed';
  documentKey: string;
  sha256: string;
  signatures?: number | null;
  timestamps?: RecordTimestamp[];
}

function evidencedFiles(entries: readonly AuditEntry[]): EvidencedFile[] {
  const out: EvidencedFile[] = [];
  for (const entry of entries) {
    const kind =
      entry.type === 'documents.rendered' ? 'rendered' : entry.type === 'documents.archived' ? 'signed' : null;
    if (!kind) continue;
    for (const d of (entry.data as { documents?: EvidencedFile[] } | null)?.documents ?? []) out.push({ ...d, kind });
  }
  return out;
}

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Checks an evidence package offline (see the module comment for what each check proves) and reports every problem;
 * it throws only for options it cannot use (a trust anchor that is not a certificate: `INVALID_INPUT`).
 */
export function verifyEvidencePackage(
  pkg: EvidencePackageInput,
  options: EvidencePackageVerifyOptions = {},
): EvidencePackageReport {
  const { manifest } = pkg;
  const entries = manifest.entries;
  const problems: string[] = [];
  const notChecked: string[] = [];
  const trust = {
    ...(options.tsaTrustAnchors?.length ? { trustAnchors: options.tsaTrustAnchors } : {}),
    ...(options.now ? { now: options.now } : {}),
  };
  const anchored = (options.tsaTrustAnchors?.length ?? 0) > 0;
  if (!anchored) {
    notChecked.push('timestamp authorities: no trust anchors given, tokens checked for integrity only (--tsa-ca)');
  }

  // The chain's shape: numbering, links, head and anchor.
  let prev = GENESIS_HASH;
  entries.forEach((entry, i) => {
    if (entry.seq !== i + 1) problems.push(`chain: entry ${entry.seq} is at position ${i + 1} (removed or reordered)`);
    if (entry.prevHash !== prev) problems.push(`chain: entry ${entry.seq} does not follow the entry before it`);
    prev = entry.hash;
  });
  const head = entries.at(-1)?.hash ?? null;
  if (head !== manifest.chainHead) problems.push('chain: the last entry is not the exported chain head');
  if (manifest.anchor) {
    if (manifest.anchor.entries !== entries.length) {
      problems.push(`chain: the record anchored ${manifest.anchor.entries} entries, the package has ${entries.length}`);
    } else if (manifest.anchor.head !== (head ?? GENESIS_HASH)) {
      problems.push('chain: the last entry is not the one the record anchored');
    }
  } else {
    notChecked.push('record anchor: the package has none (the record or its anchor was missing at export)');
  }
  if (!manifest.verification?.ok) {
    problems.push(
      `export: the evidence did not verify when it was exported (${(manifest.verification?.problems ?? []).join('; ') || 'no verification'})`,
    );
  }

  // Entry content: by link (plain hash, or keyed with the key), else by a TSA token over the entry.
  const timestamps: PackageTimestampCheck[] = [];
  const byLink = new Set<number>();
  const byTimestamp = new Set<number>();
  const keyring = keyringOf(options.keys);
  for (const entry of entries) {
    const keyed = entry.hash.startsWith('hmac-sha256:');
    if (!keyed) {
      if (hashAuditEntry(entry) === entry.hash) byLink.add(entry.seq);
      else problems.push(`chain: entry ${entry.seq} does not match its hash (edited)`);
    }
  }
  if (keyring) {
    try {
      const found = verifyAuditEntries(entries, keyring).problems;
      for (const p of found) {
        if (p.kind === 'hash-mismatch' && p.seq > 0 && entries[p.seq - 1]?.hash.startsWith('hmac-sha256:')) {
          problems.push(`chain: entry ${p.seq} does not match its keyed link (edited)`);
        }
      }
      for (const entry of entries) {
        if (!found.some((p) => p.seq === entry.seq && p.kind === 'hash-mismatch')) byLink.add(entry.seq);
      }
    } catch (error) {
      problems.push(`chain: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  for (const t of entries
    .filter((e) => e.type === EVIDENCE_TIMESTAMPED)
    .flatMap((e) => (e.data as { timestamps?: EvidenceEntryTimestamp[] } | null)?.timestamps ?? [])) {
    const entry = entries.find((e) => e.seq === t.seq);
    const check = checkToken('entry', `entry ${t.seq}`, Buffer.from(t.token, 'base64'), t.digest, trust, anchored);
    if (!check.problem && !entry) check.problem = 'the timestamped entry is not in the chain (removed)';
    if (!check.problem && entry && hashAuditEntry(entry) !== t.digest) {
      check.problem = 'the entry no longer matches the digest the TSA timestamped (edited)';
    }
    if (!check.problem && check.time !== new Date(t.time).toISOString()) {
      check.problem = `the evidence says ${new Date(t.time).toISOString()}, the token ${check.time}`;
    }
    if (!check.problem) byTimestamp.add(t.seq);
    timestamps.push(check);
  }
  const unchecked = entries
    .filter((e) => !byLink.has(e.seq) && !byTimestamp.has(e.seq) && e.type !== EVIDENCE_TIMESTAMPED)
    .map((e) => e.seq);
  if (unchecked.length > 0) {
    notChecked.push(
      `chain content: entries ${unchecked.join(', ')} have keyed links and no TSA token; their content is checked ` +
        'only with the evidence key (--hash-key-file or --evidence-keys-file)',
    );
  }

  // Files: present and as recorded.
  const files = evidencedFiles(entries).map((d) => {
    const name = `${d.kind}/${d.documentKey}.pdf`;
    const file = pkg.files.find((f) => f.name === name);
    const matches = file !== undefined && sha256Hex(file.bytes) === d.sha256;
    if (!file) problems.push(`files: ${name} is not in the package`);
    else if (!matches) problems.push(`files: ${name} is not the file the evidence recorded (SHA-256 differs)`);
    return { name, kind: d.kind, sha256: d.sha256, present: file !== undefined, matches, evidenced: d, file };
  });

  // Signed PDFs: signatures, revocation, and the timestamps the evidence kept.
  const signatures: PackageSignatureCheck[] = [];
  for (const f of files.filter((x) => x.kind === 'signed' && x.file)) {
    let reports: SignatureReport[];
    try {
      reports = verifyPdfSignatures(f.file!.bytes);
    } catch (error) {
      problems.push(`signatures: ${f.name} cannot be read (${error instanceof Error ? error.message : String(error)})`);
      continue;
    }
    if (reports.length === 0) problems.push(`signatures: ${f.name} carries no signature`);
    if (reports.length > 0 && !reports.some((r) => r.coversWholeDocument)) {
      problems.push(`signatures: no signature of ${f.name} covers the whole file (bytes were appended)`);
    }
    const valid = reports.filter((r) => r.valid).length;
    const counted = f.evidenced.signatures;
    if (typeof counted === 'number' && valid !== counted) {
      problems.push(`signatures: ${f.name} has ${valid} valid signatures, the evidence counted ${counted}`);
    }
    for (const r of reports) {
      const revocation = r.revocation?.verdict === 'no-data' ? undefined : r.revocation;
      const check: PackageSignatureCheck = {
        document: f.name,
        field: r.fieldName,
        signer: r.signer,
        valid: r.valid,
        timestamp: r.timestamp?.time,
        revocation,
        problems: [...r.problems],
      };
      if (!r.valid) problems.push(`signatures: ${f.name}#${r.fieldName}: ${r.problems.join('; ') || 'invalid'}`);
      if (saysRevoked(revocation)) problems.push(`revocation: ${f.name}#${r.fieldName}: the certificate is revoked`);
      signatures.push(check);
    }
    if (!reports.some((r) => r.revocation && r.revocation.verdict !== 'no-data')) {
      notChecked.push(`revocation: ${f.name} carries no revocation data the verifier reports`);
    }
    const embedded = readPdfTimestamps(f.file!.bytes, reports);
    for (const kept of f.evidenced.timestamps ?? []) {
      const subject = `${f.name}#${kept.field}`;
      const inPdf = embedded.find((t) => t.field === kept.field && t.kind === kept.kind);
      const check = checkToken(kept.kind, subject, Buffer.from(kept.token, 'base64'), kept.imprint, trust, anchored);
      if (!check.problem && !inPdf) check.problem = 'the PDF has no such timestamp';
      if (!check.problem && inPdf && !Buffer.from(inPdf.token).equals(Buffer.from(kept.token, 'base64'))) {
        check.problem = 'the token in the evidence is not the token in the PDF (swapped)';
      }
      if (!check.problem && check.time !== new Date(kept.time).toISOString()) {
        check.problem = `the evidence says ${new Date(kept.time).toISOString()}, the token ${check.time}`;
      }
      timestamps.push(check);
    }
    for (const t of embedded) {
      if (!(f.evidenced.timestamps ?? []).some((k) => k.field === t.field && k.kind === t.kind)) {
        const check = checkToken(
          t.kind,
          `${f.name}#${t.field}`,
          t.token,
          Buffer.from(t.imprint).toString('hex'),
          trust,
          anchored,
        );
        timestamps.push(check);
        notChecked.push(`timestamps: ${f.name}#${t.field} is in the PDF but the evidence did not keep its token`);
      }
    }
  }
  for (const t of timestamps) {
    if (t.problem) problems.push(`timestamps: ${t.subject}: ${t.problem}`);
  }

  return {
    ok: problems.length === 0,
    recordId: manifest.recordId,
    entries: entries.length,
    chainHead: head,
    files: files.map(({ name, kind, sha256, present, matches }) => ({ name, kind, sha256, present, matches })),
    signatures,
    timestamps,
    chainContent: {
      byLink: [...byLink].sort((a, b) => a - b),
      byTimestamp: [...byTimestamp].sort((a, b) => a - b),
      unchecked,
    },
    problems,
    notChecked,
  };
}

function keyringOf(keys: EvidencePackageVerifyOptions['keys']): ChainKeyring | undefined {
  if (!keys?.hashKey && !keys?.evidenceKeys) return undefined;
  // Without hashKey the default key's id still has to exist in the ring: a random one, which opens nothing.
  return evidenceKeyring({
    hashKey: keys.hashKey ?? randomBytes(32),
    evidenceKeys: keys.evidenceKeys,
  });
}

/** Whether revocation data as a verifier reported it says the certificate is revoked. */
function saysRevoked(revocation: unknown): boolean {
  if (revocation === null || typeof revocation !== 'object') return false;
  // A revocation after the signing time leaves the signature valid; only one before it (or at it) counts.
  return (revocation as { verdict?: unknown }).verdict === 'revoked-before-signing';
}

/** A token checked over `imprintHex`: integrity, imprint, certificate, and the anchors when given. */
function checkToken(
  kind: PackageTimestampCheck['kind'],
  subject: string,
  token: Uint8Array,
  imprintHex: string,
  trust: { trustAnchors?: readonly (Uint8Array | string)[]; now?: () => Date },
  anchored: boolean,
): PackageTimestampCheck {
  let time: string | undefined;
  let tsaName: string | undefined;
  try {
    const parsed = parseTimestampToken(token);
    time = parsed.genTime.toISOString();
    tsaName = parsed.tsaName;
    const verified = verifyTimestampToken(token, Buffer.from(imprintHex, 'hex'), trust);
    return { kind, subject, time, tsaName: verified.tsaName, anchored: anchored && verified.anchored, problem: null };
  } catch (error) {
    const code = error instanceof TimestampError ? `${error.code}: ` : '';
    const why = error instanceof Error ? error.message : String(error);
    return { kind, subject, time, tsaName, anchored: false, problem: `${code}${why}` };
  }
}

/** The parts of a certificate subject that can name or identify a person. */
const PERSONAL_RDNS = new Set(['CN', 'SERIALNUMBER', '2.5.4.5', 'GN', 'GIVENNAME', 'SN', 'SURNAME', 'PSEUDONYM']);

/**
 * A certificate subject ("CN=…,O=…,C=CN") with the parts that can name a person masked: the common name, serial
 * number and given or family names keep their first character (an ID number, often the serial number of a Chinese
 * person certificate, is masked as everywhere else); ID numbers and mobiles anywhere in the subject are masked too. Organisation, unit and country stay readable.
 */
export function maskCertificateSubject(subject: string): string {
  const masked = subject.split(/,(?=\s*[A-Za-z0-9.]+=)/).map((part) => {
    const at = part.indexOf('=');
    if (at < 0) return part;
    const type = part.slice(0, at).trim().toUpperCase();
    if (!PERSONAL_RDNS.has(type)) return part;
    const value = part.slice(at + 1);
    // An ID number keeps the shape maskText gives it everywhere else (region and last four digits).
    const asText = maskText(value);
    return `${part.slice(0, at + 1)}${asText !== value ? asText : maskName(value)}`;
  });
  return maskText(masked.join(','));
}

/** Options of {@link formatEvidenceReport}. */
export interface EvidenceReportFormatOptions {
  /**
   * Print signers' certificate subjects in full. Off by default: a person's certificate names the person (and often
   * carries the ID number), and a report's text ends up in tickets and logs. Subjects are then masked with
   * {@link maskCertificateSubject}.
   */
  showSignerNames?: boolean;
}

/**
 * The report as text for a person: the verdict first, then each area, then what was not checked. Signers'
 * certificate subjects are masked unless `showSignerNames` is set.
 */
export function formatEvidenceReport(report: EvidencePackageReport, options: EvidenceReportFormatOptions = {}): string {
  const signerOf = (signer: string | undefined) =>
    signer === undefined ? 'unknown' : options.showSignerNames ? signer : maskCertificateSubject(signer);
  const lines: string[] = [];
  lines.push(
    `${report.ok ? 'VALID' : 'NOT VALID'}: evidence of signing ${report.recordId} (${report.entries} entries, head ${report.chainHead ?? '-'})`,
  );
  lines.push('', 'Documents:');
  for (const f of report.files) {
    lines.push(`  ${f.matches ? 'ok  ' : 'FAIL'} ${f.name} sha256 ${f.sha256}${f.present ? '' : ' (missing)'}`);
  }
  lines.push('', 'Signatures:');
  for (const s of report.signatures) {
    const at = s.timestamp ? `, TSA time ${s.timestamp}` : '';
    lines.push(`  ${s.valid ? 'ok  ' : 'FAIL'} ${s.document}#${s.field} by ${signerOf(s.signer)}${at}`);
  }
  lines.push('', 'Timestamps:');
  for (const t of report.timestamps) {
    const who = `${t.tsaName ?? 'unknown TSA'}${t.anchored ? ' (trusted)' : ''}`;
    const what = t.kind === 'entry' ? t.subject : `${t.kind} ${t.subject}`;
    lines.push(`  ${t.problem ? 'FAIL' : 'ok  '} ${what} at ${t.time ?? '?'} by ${who}`);
  }
  const c = report.chainContent;
  lines.push(
    '',
    `Chain: content of ${c.byLink.length} entries checked by link, ${c.byTimestamp.length} by TSA token, ${c.unchecked.length} not checked`,
  );
  if (report.problems.length > 0) lines.push('', 'Problems:', ...report.problems.map((p) => `  - ${p}`));
  if (report.notChecked.length > 0) lines.push('', 'Not checked:', ...report.notChecked.map((p) => `  - ${p}`));
  return `${lines.join('\n')}\n`;
}
