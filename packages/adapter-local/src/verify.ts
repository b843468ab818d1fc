/**
 * `verifyPdfSignatures`: an independent integrity check of every signature in a PDF, with node:crypto.
 *
 * For each signed signature field: the /ByteRange must start at 0, leave out exactly the /Contents hex string, and
 * end where a revision ends (%%EOF); the digest of the ranges (SHA-256, or SM3 for SM2) must equal the CMS
 * messageDigest; the CMS signature over the signed attributes must verify with the embedded signer certificate, found
 * by its issuer and serial number compared byte for byte. It does NOT check the certificate chain, revocation or what later revisions changed:
 * that is a validator's job (pdfsig, Acrobat, the EU DSS).
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
  }));
}

function verifyAll(pdf: Uint8Array): SignatureReport[] {
  const reader = new PdfReader(pdf);
  const catalog = reader.dict(reader.trailer.get('Root'));
  const acro = reader.dict(catalog?.get('AcroForm'));
  const reports: SignatureReport[] = [];
  const visit = (items: PdfValue[], prefix: string, inheritedFt: string | undefined, depth: number) => {
    for (const item of items) {
      const d = reader.dict(item);
      if (!d || depth > 32) continue;
      const t = reader.resolve(d.get('T'));
      const partial = t instanceof PdfString ? t.toText() : undefined;
      const full = partial === undefined ? prefix : prefix ? `${prefix}.${partial}` : partial;
      const ft = (d.get('FT') as PdfName | undefined)?.name ?? inheritedFt;
      const v = reader.dict(d.get('V'));
      if (ft === 'Sig' && v && partial !== undefined) reports.push(verifyOne(pdf, full, reader, d.get('V')));
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
    const certificate = signer.certificates.find((cert) => {
      const { issuerDer, serialNumberDer } = issuerAndSerial(cert);
      const serialContent = serialNumberDer.subarray(readTlv(serialNumberDer, 0).contentStart);
      return Buffer.from(signer.issuerDer).equals(issuerDer) && Buffer.from(signer.serialNumber).equals(serialContent);
    });
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
