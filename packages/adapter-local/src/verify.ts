/**
 * `verifyPdfSignatures`: an independent integrity check of every signature in a PDF, with node:crypto.
 *
 * For each signed signature field: the /ByteRange must start at 0, leave out exactly the /Contents hex string, and
 * end where a revision ends (%%EOF); the digest of the ranges (SHA-256, or SM3 for SM2) must equal the CMS
 * messageDigest; the CMS signature over the signed attributes must verify with the embedded signer certificate, found
 * by its issuer and serial number compared byte for byte. When the document carries a Document Security Store (PAdES
 * B-LT), the revocation data in it is checked for the signer's chain at the signature's trusted time. It does NOT
 * decide whether the chain ends at a root to trust, nor what later revisions changed: that is a validator's job
 * (pdfsig, Acrobat, the EU DSS).
 *
 * The verdict depends on nothing but the bytes, so it is kept per process under the document's SHA-256: a signed
 * document is checked when sealed, again when downloaded, again before archiving, and only the first check of those
 * exact bytes does the work. Different bytes, even one changed, hash differently and are verified afresh.
 */
import { createHash, verify as cryptoVerify, type KeyObject, X509Certificate } from 'node:crypto';
import { TimestampError } from '@sealflow/core';
import { type PdfName, PdfReader, PdfString, type PdfValue } from '@sealflow/pdf-toolkit';
import { readCmsSigner } from './cms-reader.js';
import { readTlv } from './der.js';
import { withSealingErrors } from './errors.js';
import { buildChain, type DssContents, isSelfSigned, readDss } from './revocation/dss.js';
import {
  type CertificateParts,
  checkCrl,
  checkOcspResponse,
  type RevocationAnswer,
  type RevocationStatus,
} from './revocation/revocation-data.js';
import { parseTimestampToken, TSA_OID } from './timestamp/rfc3161.js';
import { verifyTimestampToken } from './timestamp/verify-token.js';

const SIGNATURE_TIME_STAMP_TOKEN = TSA_OID.signatureTimeStampToken;
import { issuerAndSerial } from './signing-identity.js';
import { isSm2Key, sm2KeyOf, sm2Verify } from './sm2.js';

/** The verdict on one signature field of a PDF, as returned by {@link verifyPdfSignatures}. */
export interface SignatureReport {
  fieldName: string;
  /** Signer subject from the embedded certificate ("CN=…,O=…,C=CN"), when found. */
  signer: string | undefined;
  /** The /M entry, as written. */
  signingTime: string | undefined;
  subFilter: string | undefined;
  byteRange: number[];
  /** The ranges cover the whole file: this is the last revision and nothing was appended after it. */
  coversWholeDocument: boolean;
  /** Digest matches and the CMS signature verifies. */
  valid: boolean;
  /** Why `valid` is false (empty when valid). */
  problems: string[];
  /**
   * The signature timestamp (PAdES B-T), when the signature carries one: the time a TSA vouches the signature
   * existed at. Its token is checked (imprint over the signature value, the TSA's signature and certificate); a bad
   * token adds a problem and makes `valid` false. Whether the TSA is one to trust is a validator's call. For a
   * document timestamp (SubFilter ETSI.RFC3161) it is the time of the document as covered by its byte ranges.
   */
  timestamp: SignatureTimestampReport | undefined;
  /**
   * What the document's Document Security Store (PAdES B-LT) says about the signer's certificate chain, judged at
   * the signature's trusted time; undefined when the signer certificate could not be found. A signer (or CA)
   * certificate revoked at or before that time adds a problem and makes `valid` false.
   */
  revocation: SignatureRevocationReport | undefined;
}

/**
 * The verdict on a signature's revocation data:
 * - `good`: every certificate of the chain below its root has an OCSP response or CRL in the DSS saying good.
 * - `revoked-after-signing`: a certificate was revoked, but after the signing time: the signature was made while it
 *   was valid and stays valid (whether that time can be relied on is what a timestamp is for; see `atSource`).
 * - `revoked-before-signing`: a certificate of the chain was revoked at or before the signing time: the signature
 *   is invalid.
 * - `unknown`: a responder answered "unknown" for a certificate of the chain.
 * - `incomplete`: some certificates have revocation data and some have none, or their issuer is not in the document.
 * - `no-data`: the document holds no revocation data for the chain (a B-B or B-T signature).
 */
export type SignatureRevocationVerdict =
  | 'good'
  | 'revoked-after-signing'
  | 'revoked-before-signing'
  | 'unknown'
  | 'incomplete'
  | 'no-data';

/** What the DSS says about one signature's certificate chain. */
export interface SignatureRevocationReport {
  /** The overall verdict on the chain; see {@link SignatureRevocationVerdict}. */
  verdict: SignatureRevocationVerdict;
  /**
   * The time the status is judged at, ISO 8601 UTC: the signature timestamp's (or document timestamp's) time when
   * there is one, else the signing time the signer claimed in /M.
   */
  at: string | undefined;
  /** Whether `at` comes from a timestamp (trusted) or from /M (the signer's own clock). */
  atSource: 'timestamp' | 'signing-time' | undefined;
  /** One entry per certificate from the signer up, without the self-signed root. */
  chain: CertificateRevocationReport[];
}

/** The revocation status the DSS holds for one certificate. */
export interface CertificateRevocationReport {
  /** "CN=…,O=…,C=…". */
  subject: string;
  /** `none` when the DSS holds no valid answer about it (or its issuer is missing). */
  status: RevocationStatus | 'none';
  /** Where the status comes from. */
  source: 'ocsp' | 'crl' | undefined;
  /** When it was revoked, ISO 8601 UTC (status revoked only). */
  revokedAt: string | undefined;
  /** Revoked at or before the signing time: the signature was made with a revoked certificate. */
  revokedBeforeSigning: boolean;
}

/** The trusted time of a signature, from its signature-time-stamp token. */
export interface SignatureTimestampReport {
  /** The TSA's genTime, ISO 8601 UTC. */
  time: string;
  /** The TSA certificate's subject ("CN=…,O=…,C=…"). */
  tsaName: string | undefined;
  /** The token's serial number, lower-case hex. */
  serialNumber: string;
  /** The TSA policy OID. */
  policy: string;
}

const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
  '1.2.156.10197.1.401': 'sm3',
};

/** Verdicts of the most recently verified documents, by SHA-256: one signing checks its few documents repeatedly. */
const verdicts = new Map<string, readonly SignatureReport[]>();
const VERDICTS_KEPT = 256;

/**
 * Checks the integrity of every signature in `pdf` (byte ranges, digest, CMS signature), one report per signed field.
 * It does not judge trust (chain, revocation): use a validator for that. Verdicts are cached per process by the
 * document's SHA-256, so checking the same bytes again is cheap. Throws a `SealingError` (PDF_MALFORMED,
 * PDF_UNSUPPORTED) when the PDF itself cannot be read.
 */
export function verifyPdfSignatures(pdf: Uint8Array): SignatureReport[] {
  const key = createHash('sha256').update(pdf).digest('base64');
  let reports = verdicts.get(key);
  if (reports) {
    verdicts.delete(key);
  } else {
    reports = withSealingErrors(() => verifyAll(pdf));
    if (verdicts.size >= VERDICTS_KEPT) verdicts.delete(verdicts.keys().next().value!);
  }
  verdicts.set(key, reports);
  // Callers get their own copies: the kept verdict must not change under them.
  return reports.map((r) => ({
    ...r,
    byteRange: [...r.byteRange],
    problems: [...r.problems],
    timestamp: r.timestamp && { ...r.timestamp },
    revocation: r.revocation && { ...r.revocation, chain: r.revocation.chain.map((c) => ({ ...c })) },
  }));
}

function verifyAll(pdf: Uint8Array): SignatureReport[] {
  const reader = new PdfReader(pdf);
  const catalog = reader.dict(reader.trailer.get('Root'));
  const acro = reader.dict(catalog?.get('AcroForm'));
  const reports: SignatureReport[] = [];
  const dss = readDss(reader, catalog);
  const visit = (items: PdfValue[], prefix: string, inheritedFt: string | undefined, depth: number) => {
    for (const item of items) {
      const d = reader.dict(item);
      if (!d || depth > 32) continue;
      const t = reader.resolve(d.get('T'));
      const partial = t instanceof PdfString ? t.toText() : undefined;
      const full = partial === undefined ? prefix : prefix ? `${prefix}.${partial}` : partial;
      const ft = (d.get('FT') as PdfName | undefined)?.name ?? inheritedFt;
      const v = reader.dict(d.get('V'));
      if (ft === 'Sig' && v && partial !== undefined) reports.push(verifyOne(pdf, full, reader, d.get('V'), dss));
      const kids = reader.array(d.get('Kids'));
      if (kids) visit(kids, full, ft, depth + 1);
    }
  };
  visit(reader.array(acro?.get('Fields')) ?? [], '', undefined, 0);
  return reports.sort(
    (a, b) => (a.byteRange[3] ?? 0) + (a.byteRange[2] ?? 0) - ((b.byteRange[3] ?? 0) + (b.byteRange[2] ?? 0)),
  );
}

function verifyOne(
  pdf: Uint8Array,
  fieldName: string,
  reader: PdfReader,
  sigValue: PdfValue | undefined,
  dss: DssContents,
): SignatureReport {
  const sig = reader.dict(sigValue)!;
  const problems: string[] = [];
  const byteRange = ((reader.resolve(sig.get('ByteRange')) as number[] | undefined) ?? []).map(Number);
  const m = reader.resolve(sig.get('M'));
  const subFilter = (sig.get('SubFilter') as PdfName | undefined)?.name;
  const report: SignatureReport = {
    fieldName,
    signer: undefined,
    signingTime: m instanceof PdfString ? m.toText() : undefined,
    subFilter,
    byteRange,
    coversWholeDocument: false,
    valid: false,
    problems,
    timestamp: undefined,
    revocation: undefined,
  };

  const [a = -1, b = -1, c = -1, d = -1] = byteRange;
  const end = c + d;
  if (byteRange.length !== 4 || a !== 0 || b <= 0 || c <= b || d < 0 || end > pdf.length) {
    problems.push('ByteRange is malformed or points outside the file');
    return report;
  }
  if (pdf[b] !== 0x3c || pdf[c - 1] !== 0x3e) problems.push('ByteRange gap is not exactly the /Contents string');
  const tail = Buffer.from(pdf.subarray(Math.max(0, end - 16), end)).toString('latin1');
  if (!/%%EOF\s*$/.test(tail)) problems.push('ByteRange does not end at the end of a revision (%%EOF)');
  const rest = Buffer.from(pdf.subarray(end)).toString('latin1');
  report.coversWholeDocument = /^\s*$/.test(rest);

  let cms: Uint8Array;
  try {
    const hex = Buffer.from(pdf.subarray(b + 1, c - 1)).toString('latin1');
    const bytes = Buffer.from(hex, 'hex');
    cms = bytes.subarray(0, readTlv(bytes, 0).end); // drop the zero padding
  } catch {
    problems.push('/Contents does not hold a DER CMS structure');
    return report;
  }

  if (subFilter === 'ETSI.RFC3161') {
    verifyDocumentTimestamp(pdf, cms, [b, c, end], report);
    const tsa = report.timestamp ? readCmsSigner(cms) : undefined;
    const tsaCert = tsa && findSigner(tsa);
    if (tsa && tsaCert) report.revocation = checkRevocation(tsaCert, tsa.certificates, dss, report);
    report.valid = problems.length === 0;
    return report;
  }

  try {
    const signer = readCmsSigner(cms);
    const digestName = DIGESTS[signer.digestAlgorithm];
    if (!digestName) {
      problems.push(`unsupported digest algorithm ${signer.digestAlgorithm}`);
      return report;
    }
    const digest = createHash(digestName).update(pdf.subarray(0, b)).update(pdf.subarray(c, end)).digest();
    if (!signer.messageDigest || !Buffer.from(signer.messageDigest).equals(digest)) {
      problems.push('the document digest does not match: the signed bytes were changed');
    }

    // Find the signer certificate by issuer + serial, comparing DER bytes (this is where forge's output fails).
    const certificate = findSigner(signer);
    if (!certificate) {
      problems.push('signer certificate not found in the CMS (issuer/serial do not match any embedded certificate)');
      return report;
    }
    const { subject, publicKey } = certificateKey(certificate);
    report.signer = subject;
    const signedAttrs = Buffer.from(signer.signedAttributes);
    signedAttrs[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    // SM2 (国密) signatures carry the signer's Z value, which node:crypto cannot include: checked by sm2.ts.
    const ok = isSm2Key(publicKey)
      ? digestName === 'sm3' && sm2Verify(sm2KeyOf(publicKey).publicPoint, signedAttrs, signer.signature)
      : cryptoVerify(digestName, signedAttrs, { key: publicKey, dsaEncoding: 'der' }, signer.signature);
    if (!ok) problems.push('the CMS signature does not verify with the signer certificate');
    const token = signer.unsignedAttributes.find((a) => a.type === SIGNATURE_TIME_STAMP_TOKEN)?.value;
    if (token) report.timestamp = checkTimestamp(token, signer.signature, problems);
    report.revocation = checkRevocation(certificate, signer.certificates, dss, report);
  } catch (error) {
    problems.push(`the CMS could not be parsed (${error instanceof Error ? error.message : String(error)})`);
  }
  report.valid = problems.length === 0;
  return report;
}

/**
 * A document timestamp: /Contents is the TSA's token itself, and its imprint must be the digest of the byte ranges.
 * The TSA is the "signer" of the field.
 */
function verifyDocumentTimestamp(
  pdf: Uint8Array,
  token: Uint8Array,
  [b, c, end]: [number, number, number],
  report: SignatureReport,
): void {
  try {
    const { hashAlgorithm } = parseTimestampToken(token);
    const digest = createHash(hashAlgorithm).update(pdf.subarray(0, b)).update(pdf.subarray(c, end)).digest();
    const verified = verifyTimestampToken(token, digest);
    report.signer = verified.tsaName;
    report.timestamp = {
      time: verified.genTime.toISOString(),
      tsaName: verified.tsaName,
      serialNumber: verified.serialNumber,
      policy: verified.policy,
    };
  } catch (error) {
    const code = error instanceof TimestampError ? ` [${error.code}]` : '';
    const why = error instanceof Error ? error.message : String(error);
    report.problems.push(`the document timestamp is not valid${code}: ${why}`);
  }
}

/** The token's time, or undefined with a problem added when it is not a valid timestamp of `signatureValue`. */
function checkTimestamp(
  token: Uint8Array,
  signatureValue: Uint8Array,
  problems: string[],
): SignatureTimestampReport | undefined {
  try {
    const { hashAlgorithm } = parseTimestampToken(token);
    const imprint = createHash(hashAlgorithm).update(signatureValue).digest();
    const verified = verifyTimestampToken(token, imprint);
    return {
      time: verified.genTime.toISOString(),
      tsaName: verified.tsaName,
      serialNumber: verified.serialNumber,
      policy: verified.policy,
    };
  } catch (error) {
    const code = error instanceof TimestampError ? ` [${error.code}]` : '';
    problems.push(
      `the signature timestamp is not valid${code}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return undefined;
  }
}

function findSigner(signer: ReturnType<typeof readCmsSigner>): Uint8Array | undefined {
  return signer.certificates.find((cert) => {
    const { issuerDer, serialNumberDer } = issuerAndSerial(cert);
    const serialContent = serialNumberDer.subarray(readTlv(serialNumberDer, 0).contentStart);
    return Buffer.from(signer.issuerDer).equals(issuerDer) && Buffer.from(signer.serialNumber).equals(serialContent);
  });
}

/**
 * The DSS's word on the chain of `leaf` at the report's trusted time. Each certificate's issuer comes from the
 * signature's own certificates or the DSS's; an OCSP response is preferred to a CRL, and only answers that verify
 * (signature by the issuer or its delegated responder, this very certificate) count. Their nextUpdate is not held
 * against them: what matters is what they said about the signing time, not whether they are still current.
 */
function checkRevocation(
  leaf: Uint8Array,
  embedded: readonly Uint8Array[],
  dss: DssContents,
  report: SignatureReport,
): SignatureRevocationReport {
  const trusted = report.timestamp?.time;
  const claimed = report.signingTime ? parsePdfDate(report.signingTime) : undefined;
  const at = trusted ? new Date(trusted) : claimed;
  const result: SignatureRevocationReport = {
    verdict: 'no-data',
    at: at?.toISOString(),
    atSource: trusted ? 'timestamp' : claimed ? 'signing-time' : undefined,
    chain: [],
  };
  // Most documents have no DSS: do not parse their chains for nothing (every seal is verified).
  if (!dss.ocsps.length && !dss.crls.length) return result;
  let chain: CertificateParts[];
  try {
    chain = buildChain(leaf, [...embedded, ...dss.certs]);
  } catch {
    return result;
  }
  let missingIssuer = false;
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (isSelfSigned(cert)) break;
    const issuer = chain[i + 1];
    const answer = issuer ? findAnswer(cert, issuer, dss) : undefined;
    if (!issuer) missingIssuer = true;
    const revokedBeforeSigning =
      answer?.status === 'revoked' && !!answer.revokedAt && (!at || answer.revokedAt.getTime() <= at.getTime());
    result.chain.push({
      subject: cert.subject,
      status: answer?.status ?? 'none',
      source: answer?.kind,
      revokedAt: answer?.revokedAt?.toISOString(),
      revokedBeforeSigning,
    });
  }
  const statuses = result.chain.map((c) => c.status);
  if (result.chain.some((c) => c.revokedBeforeSigning)) {
    result.verdict = 'revoked-before-signing';
    const c = result.chain.find((x) => x.revokedBeforeSigning)!;
    report.problems.push(
      `[CERTIFICATE_REVOKED] the certificate ${c.subject} was revoked at ${c.revokedAt}, before the signature was made (${result.at ?? 'no signing time'}${result.atSource === 'timestamp' ? ', per its timestamp' : ''})`,
    );
  } else if (statuses.includes('unknown')) result.verdict = 'unknown';
  else if (statuses.length && statuses.every((s) => s === 'none') && !missingIssuer) result.verdict = 'no-data';
  else if (statuses.includes('none') || missingIssuer || statuses.length === 0) result.verdict = 'incomplete';
  else result.verdict = statuses.includes('revoked') ? 'revoked-after-signing' : 'good';
  return result;
}

function findAnswer(cert: CertificateParts, issuer: CertificateParts, dss: DssContents): RevocationAnswer | undefined {
  for (const der of dss.ocsps) {
    try {
      return checkOcspResponse(der, cert, issuer);
    } catch {
      // Not about this certificate, or not valid: it proves nothing here.
    }
  }
  for (const der of dss.crls) {
    try {
      return checkCrl(der, cert, issuer);
    } catch {
      // Another issuer's CRL, or not valid.
    }
  }
  return undefined;
}

/** D:YYYYMMDDHHmmSS+hh'mm' (the parts after the year optional) as a Date; undefined when it is not one. */
function parsePdfDate(text: string): Date | undefined {
  const m = /^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([Zz+-])(\d{2})?'?(\d{2})?'?)?/.exec(text);
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', sign, oh = '00', om = '00'] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const offset = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === '-' ? -1 : sign === '+' ? 1 : 0);
  const date = new Date(utc - offset);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Parsed signer certificates: the same few seals sign every document, and parsing one costs more than the check. */
const certificateKeys = new Map<string, { subject: string; publicKey: KeyObject }>();
const CERTIFICATE_KEYS_KEPT = 64;

function certificateKey(der: Uint8Array): { subject: string; publicKey: KeyObject } {
  const id = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  let entry = certificateKeys.get(id);
  if (!entry) {
    const x509 = new X509Certificate(der);
    entry = { subject: x509.subject.split('\n').reverse().join(','), publicKey: x509.publicKey };
    if (certificateKeys.size >= CERTIFICATE_KEYS_KEPT) certificateKeys.delete(certificateKeys.keys().next().value!);
    certificateKeys.set(id, entry);
  }
  return entry;
}
