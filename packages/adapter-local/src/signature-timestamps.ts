/**
 * `readPdfTimestamps`: the RFC 3161 tokens a PDF carries, one per timestamped signature field, as they are embedded.
 *
 * The local signer reports them with each signed document (`SignedDocument.timestamps`), so core keeps each token in
 * the signing record and the evidence; the evidence verifier reads them again from the archived PDF and compares.
 * This only takes the tokens out: whether a token is valid over its signature is `verifyPdfSignatures`'s verdict, and
 * whether its TSA is one to trust is `verifyTimestampToken`'s with the trust anchors.
 */
import type { SignatureTimestamp } from '@sealflow/core';
import { readCmsSigner } from './cms-reader.js';
import { readTlv } from './der.js';
import { withSealingErrors } from './errors.js';
import { parseTimestampToken, TSA_OID } from './timestamp/rfc3161.js';
import { type SignatureReport, verifyPdfSignatures } from './verify.js';

/** A timestamp token embedded in a PDF, with what it says. */
export interface PdfTimestamp {
  /** The signature field it belongs to. */
  field: string;
  /** `signature` (PAdES B-T, over the signature value) or `document` (a document timestamp, over the byte ranges). */
  kind: 'signature' | 'document';
  /** The TimeStampToken's DER. */
  token: Uint8Array;
  /** The TSA's genTime. */
  time: Date;
  /** The TSA certificate's subject, when the token carries it. */
  tsaName: string | undefined;
  /** The token's message imprint: the digest the TSA timestamped. */
  imprint: Uint8Array;
  hashAlgorithm: 'sha256' | 'sha384' | 'sha512';
}

/**
 * The timestamp tokens in `pdf`, in signing order (the order of `verifyPdfSignatures`). A signature without a token is
 * left out; a token that cannot be read is left out too (`verifyPdfSignatures` reports it as a problem). Pass the
 * reports when you already have them. Throws a `SealingError` (PDF_MALFORMED) when the PDF cannot be read.
 */
export function readPdfTimestamps(
  pdf: Uint8Array,
  reports: readonly SignatureReport[] = verifyPdfSignatures(pdf),
): PdfTimestamp[] {
  return withSealingErrors(() => reports.flatMap((report) => tokenOf(pdf, report)));
}

function tokenOf(pdf: Uint8Array, report: SignatureReport): PdfTimestamp[] {
  const [, b = -1, c = -1] = report.byteRange;
  if (b <= 0 || c <= b || c > pdf.length) return [];
  try {
    const bytes = Buffer.from(Buffer.from(pdf.subarray(b + 1, c - 1)).toString('latin1'), 'hex');
    const cms = new Uint8Array(bytes.subarray(0, readTlv(bytes, 0).end));
    const kind = report.subFilter === 'ETSI.RFC3161' ? 'document' : 'signature';
    const token =
      kind === 'document'
        ? cms
        : readCmsSigner(cms).unsignedAttributes.find((a) => a.type === TSA_OID.signatureTimeStampToken)?.value;
    if (!token) return [];
    const parsed = parseTimestampToken(token);
    return [
      {
        field: report.fieldName,
        kind,
        token: new Uint8Array(token),
        time: parsed.genTime,
        tsaName: parsed.tsaName,
        imprint: new Uint8Array(parsed.digest),
        hashAlgorithm: parsed.hashAlgorithm,
      },
    ];
  } catch {
    return [];
  }
}

/** The tokens of `pdf` as the signing-vendor port reports them (`SignedDocument.timestamps`). */
export function signatureTimestamps(
  pdf: Uint8Array,
  reports: readonly SignatureReport[] = verifyPdfSignatures(pdf),
): SignatureTimestamp[] {
  return readPdfTimestamps(pdf, reports).map((t) => ({
    field: t.field,
    kind: t.kind,
    token: Buffer.from(t.token).toString('base64'),
    time: t.time.getTime(),
    tsaName: t.tsaName ?? null,
    imprint: Buffer.from(t.imprint).toString('hex'),
    hashAlgorithm: t.hashAlgorithm,
  }));
}
