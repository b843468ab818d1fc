/**
 * `verifyPdfSignatures`: an independent integrity check of every signature in a PDF, with node:crypto.
 *
 * For each signed signature field: the /ByteRange must start at 0, leave out exactly the /Contents hex string, and
 * end where a revision ends (%%EOF); the SHA-256 of the ranges must equal the CMS messageDigest; the CMS signature
 * over the signed attributes must verify with the embedded signer certificate, found by its issuer and serial number
 * compared byte for byte. It does NOT check the certificate chain, revocation or what later revisions changed:
 * that is a validator's job (pdfsig, Acrobat, the EU DSS).
 */
import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { ContentInfo, SignedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { readChildren, readTlv, slice, type Tlv } from './der.js';
import { type PdfName, PdfString, type PdfValue } from './pdf-objects.js';
import { PdfReader } from './pdf-reader.js';
import { issuerAndSerial } from './signing-identity.js';

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
}

const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
};
const MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

export function verifyPdfSignatures(pdf: Uint8Array): SignatureReport[] {
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

  try {
    const contentInfo = AsnConvert.parse(cms, ContentInfo);
    const signedData = AsnConvert.parse(contentInfo.content, SignedData);
    const si = signedData.signerInfos[0];
    const signedAttrsRaw = rawSignedAttributes(cms);
    if (!si || !signedAttrsRaw || !si.signedAttrs) {
      problems.push('the CMS has no signer or no signed attributes');
      return report;
    }
    const digestName = DIGESTS[si.digestAlgorithm.algorithm];
    if (!digestName) {
      problems.push(`unsupported digest algorithm ${si.digestAlgorithm.algorithm}`);
      return report;
    }
    const digest = createHash(digestName).update(pdf.subarray(0, b)).update(pdf.subarray(c, end)).digest();
    const mdAttr = si.signedAttrs.find((attr) => attr.attrType === MESSAGE_DIGEST);
    const mdBlock = mdAttr?.attrValues[0] ? asn1js.fromBER(mdAttr.attrValues[0]).result : undefined;
    const md = mdBlock instanceof asn1js.OctetString ? Buffer.from(mdBlock.valueBlock.valueHexView) : undefined;
    if (!md?.equals(digest)) problems.push('the document digest does not match: the signed bytes were changed');

    // Find the signer certificate by issuer + serial, comparing DER bytes (this is where forge's output fails).
    const sid = si.sid.issuerAndSerialNumber;
    const sidIssuer = sid ? Buffer.from(AsnConvert.serialize(sid.issuer)) : undefined;
    const sidSerial = sid ? Buffer.from(sid.serialNumber) : undefined;
    const signer = rawCertificates(cms).find((cert) => {
      const { issuerDer, serialNumberDer } = issuerAndSerial(cert);
      const serialContent = serialNumberDer.subarray(readTlv(serialNumberDer, 0).contentStart);
      return sidIssuer?.equals(issuerDer) && sidSerial?.equals(serialContent);
    });
    if (!signer) {
      problems.push('signer certificate not found in the CMS (issuer/serial do not match any embedded certificate)');
      return report;
    }
    const x509 = new X509Certificate(signer);
    report.signer = x509.subject.split('\n').reverse().join(',');
    const signedAttrs = Buffer.from(signedAttrsRaw);
    signedAttrs[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
    const ok = cryptoVerify(
      digestName,
      signedAttrs,
      { key: x509.publicKey, dsaEncoding: 'der' },
      Buffer.from(si.signature.buffer),
    );
    if (!ok) problems.push('the CMS signature does not verify with the signer certificate');
  } catch (error) {
    problems.push(`the CMS could not be parsed (${error instanceof Error ? error.message : String(error)})`);
  }
  report.valid = problems.length === 0;
  return report;
}

function signedDataElements(cms: Uint8Array): Tlv[] {
  const explicit = readChildren(cms, readTlv(cms, 0))[1];
  const signedData = explicit ? readChildren(cms, explicit)[0] : undefined;
  return signedData ? readChildren(cms, signedData) : [];
}

/** The first SignerInfo's signed attributes exactly as transmitted (they are what was signed). */
function rawSignedAttributes(cms: Uint8Array): Uint8Array | undefined {
  const signerInfos = signedDataElements(cms).at(-1);
  const first = signerInfos ? readChildren(cms, signerInfos)[0] : undefined;
  const attrs = first ? readChildren(cms, first).find((t) => t.tag === 0xa0) : undefined;
  return attrs ? slice(cms, attrs) : undefined;
}

/** The certificates of a SignedData as the exact DER bytes embedded. */
function rawCertificates(cms: Uint8Array): Uint8Array[] {
  const certSet = signedDataElements(cms).find((t) => t.tag === 0xa0);
  return certSet
    ? readChildren(cms, certSet)
        .filter((t) => t.tag === 0x30)
        .map((t) => slice(cms, t))
    : [];
}
