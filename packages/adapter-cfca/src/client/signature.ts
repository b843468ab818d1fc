/**
 * The request signature of CFCA 安心签's platform API: a detached CMS (PKCS#7) SignedData over the exact UTF-8 bytes
 * of the `data` form field, RSA PKCS#1 v1.5, no signed attributes, the signer certificate embedded, base64 DER
 * without line breaks.
 *
 * The SignedData is written byte by byte here rather than through an object model, because its one delicate part,
 * the signer's issuer Name, must be the certificate's own bytes: re-encoding a Name is how some PKCS#7 libraries
 * break certificates with Chinese subjects (the server then cannot find the signer). Parsing uses asn1js, and every
 * element read is checked against the CMS grammar, so a malformed structure is reported as such instead of being
 * half-read.
 */
import { createPrivateKey, createPublicKey, KeyObject, sign, verify, X509Certificate } from 'node:crypto';
import { ValidationError } from '@sealflow/core';
import * as asn1js from 'asn1js';

/** The digest of the request signature. SHA-256 is what current CFCA demos use; SHA-1 was accepted in the past. */
export type CfcaDigest = 'sha256' | 'sha1';

/** The platform's signing credentials: its CFCA certificate and the RSA private key that belongs to it. */
export interface CfcaSignerOptions {
  /** The RSA private key: a `KeyObject`, or PEM (PKCS#1 or PKCS#8). An encrypted PEM needs `passphrase`. */
  key: KeyObject | string | Uint8Array;
  /** Passphrase of an encrypted PEM key. */
  passphrase?: string;
  /** The certificate that belongs to `key`: PEM text or DER bytes. */
  certificate: string | Uint8Array;
  /** Default `sha256`. */
  digest?: CfcaDigest;
}

/** Signs request data with one set of credentials; the key and certificate are parsed once. */
export interface CfcaSigner {
  /** The signer certificate as DER. */
  readonly certificate: Uint8Array;
  readonly digest: CfcaDigest;
  /** The base64 DER detached SignedData over the UTF-8 bytes of `data` (or over `data` itself when it is bytes). */
  sign(data: string | Uint8Array): string;
}

/**
 * Why a signature was refused:
 * - `MALFORMED`: not base64, not DER, or not a CMS SignedData with one signer named by issuer and serial number;
 * - `NOT_DETACHED`: the SignedData carries the content itself; CFCA's signature is detached;
 * - `SIGNED_ATTRIBUTES`: the signer has signed attributes; CFCA's signature is directly over the content;
 * - `UNSUPPORTED_ALGORITHM`: a digest other than SHA-1/SHA-256, or a key or signature algorithm other than RSA;
 * - `SIGNER_CERTIFICATE_MISSING`: no certificate was given and the SignedData does not carry the signer's;
 * - `SIGNER_MISMATCH`: the signer is not the expected certificate (another issuer or serial number);
 * - `BAD_SIGNATURE`: the RSA signature does not match the data (tampered data, or another key).
 */
export type CfcaSignatureFailure =
  | 'MALFORMED'
  | 'NOT_DETACHED'
  | 'SIGNED_ATTRIBUTES'
  | 'UNSUPPORTED_ALGORITHM'
  | 'SIGNER_CERTIFICATE_MISSING'
  | 'SIGNER_MISMATCH'
  | 'BAD_SIGNATURE';

/** The outcome of {@link verifyCfcaSignature}. */
export type CfcaSignatureCheck =
  | {
      ok: true;
      digest: CfcaDigest;
      /** DER of the certificate whose key verified the signature. */
      signerCertificate: Uint8Array;
    }
  | { ok: false; reason: CfcaSignatureFailure; message: string };

/** Input of {@link verifyCfcaSignature}. */
export interface VerifyCfcaSignatureInput {
  /** The signed data: the `data` form value as text (its UTF-8 bytes are checked) or the exact bytes. */
  data: string | Uint8Array;
  /** The `signature` form value: base64 DER. */
  signature: string;
  /**
   * The certificate the signature must come from (PEM or DER). Without it, the signer certificate embedded in the
   * SignedData is used, so the check then proves integrity only, not who signed: compare `signerCertificate`.
   */
  certificate?: string | Uint8Array;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRSA: '1.2.840.113549.1.1.5',
  sha256WithRSA: '1.2.840.113549.1.1.11',
} as const;

const DIGEST_BY_OID: Record<string, CfcaDigest> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256' };
// The signature algorithm field is rsaEncryption in CFCA's SDK; the combined OIDs mean the same RSA PKCS#1 v1.5.
const RSA_SIGNATURE_OIDS = new Set<string>([OID.rsaEncryption, OID.sha1WithRSA, OID.sha256WithRSA]);

/**
 * Prepare a signer from the platform's key and certificate. Throws `ValidationError` when the key is not RSA, the
 * certificate cannot be read, or the two do not belong together (the server would refuse every request).
 */
export function createCfcaSigner(options: CfcaSignerOptions): CfcaSigner {
  const digest = options.digest ?? 'sha256';
  if (digest !== 'sha256' && digest !== 'sha1') {
    throw new ValidationError(`signer.digest must be "sha256" or "sha1", got "${String(digest)}".`);
  }
  const certificate = readCertificate(options.certificate, 'signer.certificate');
  let privateKey: KeyObject;
  try {
    privateKey =
      options.key instanceof KeyObject
        ? options.key
        : createPrivateKey({
            key: typeof options.key === 'string' ? options.key : Buffer.from(options.key),
            passphrase: options.passphrase,
          });
  } catch (cause) {
    throw new ValidationError(
      'signer.key is not a readable private key. Pass the PEM of the RSA key of the CFCA certificate (with ' +
        'passphrase if it is encrypted), or a KeyObject.',
      { cause },
    );
  }
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new ValidationError(
      `signer.key must be an RSA private key, got ${privateKey.type} ${String(privateKey.asymmetricKeyType)}. ` +
        'CFCA request signatures are RSA; SM2 is not used for them.',
    );
  }
  const publicOfKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const publicOfCert = certificate.x509.publicKey.export({ type: 'spki', format: 'der' });
  if (!publicOfKey.equals(publicOfCert)) {
    throw new ValidationError(
      'signer.key does not belong to signer.certificate. Take both from the same keystore entry (the platform ' +
        'certificate CFCA issued for this platId).',
    );
  }

  // Everything but the content digest's signature is the same for every request: build it once.
  const digestAlgorithm = der(0x30, oid(OID[digest]), NULL);
  const signatureAlgorithm = der(0x30, oid(OID.rsaEncryption), NULL);
  const version = der(0x02, Uint8Array.of(1));
  const issuerAndSerial = der(0x30, certificate.issuer, certificate.serial);
  const encapContentInfo = der(0x30, oid(OID.data));
  const certificates = der(0xa0, certificate.der);

  return {
    certificate: certificate.der,
    digest,
    sign(data) {
      const content = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      const signature = sign(digest, content, privateKey);
      const signerInfo = der(0x30, version, issuerAndSerial, digestAlgorithm, signatureAlgorithm, der(0x04, signature));
      const signedData = der(
        0x30,
        version,
        der(0x31, digestAlgorithm),
        encapContentInfo,
        certificates,
        der(0x31, signerInfo),
      );
      const contentInfo = der(0x30, oid(OID.signedData), der(0xa0, signedData));
      return Buffer.from(contentInfo).toString('base64');
    },
  };
}

/** One-off signing; prefer {@link createCfcaSigner} when signing more than once with the same credentials. */
export function signCfcaData(data: string | Uint8Array, signer: CfcaSignerOptions): string {
  return createCfcaSigner(signer).sign(data);
}

/**
 * Check a CFCA request signature: the SignedData shape CFCA uses (detached, no signed attributes, RSA), the signer
 * (the given certificate, else the embedded one), and the RSA signature over the data. Never throws; a refusal says
 * why in `reason` and `message`.
 */
export function verifyCfcaSignature(input: VerifyCfcaSignatureInput): CfcaSignatureCheck {
  const fail = (reason: CfcaSignatureFailure, message: string): CfcaSignatureCheck => ({ ok: false, reason, message });
  let parsed: ParsedSignature;
  try {
    parsed = parseSignature(input.signature);
  } catch (error) {
    if (error instanceof Refusal) return fail(error.reason, error.message);
    return fail('MALFORMED', `The signature could not be read: ${(error as Error).message}`);
  }

  let signer: ParsedCertificate;
  if (input.certificate !== undefined) {
    try {
      signer = readCertificate(input.certificate, 'certificate');
    } catch (error) {
      return fail('SIGNER_MISMATCH', (error as Error).message);
    }
    if (!sameBytes(signer.issuer, parsed.issuer) || !sameBytes(signer.serial, parsed.serial)) {
      return fail(
        'SIGNER_MISMATCH',
        'The signature names another signer certificate (issuer or serial number differ) than the expected one.',
      );
    }
  } else {
    const embedded = parsed.certificates
      .map((bytes) => {
        try {
          return readCertificate(bytes, 'embedded certificate');
        } catch {
          return undefined;
        }
      })
      .find((c) => c && sameBytes(c.issuer, parsed.issuer) && sameBytes(c.serial, parsed.serial));
    if (!embedded) {
      return fail('SIGNER_CERTIFICATE_MISSING', 'The SignedData does not carry the certificate of its signer.');
    }
    signer = embedded;
  }

  let publicKey: KeyObject;
  try {
    // X509Certificate parses the key only when asked: a damaged key inside a readable certificate throws here.
    publicKey = signer.x509.publicKey;
  } catch (error) {
    return fail('MALFORMED', `The signer certificate's public key could not be read: ${(error as Error).message}`);
  }
  if (publicKey.asymmetricKeyType !== 'rsa') {
    return fail('UNSUPPORTED_ALGORITHM', `The signer key is ${String(publicKey.asymmetricKeyType)}, not RSA.`);
  }
  const content = typeof input.data === 'string' ? Buffer.from(input.data, 'utf8') : input.data;
  let valid: boolean;
  try {
    valid = verify(parsed.digest, content, publicKey, parsed.signature);
  } catch {
    valid = false;
  }
  if (!valid) {
    return fail(
      'BAD_SIGNATURE',
      'The RSA signature does not match the data: the data was changed after signing, or signed with another key.',
    );
  }
  return { ok: true, digest: parsed.digest, signerCertificate: signer.der };
}

// --- certificates ---------------------------------------------------------------------------------------------

interface ParsedCertificate {
  der: Uint8Array;
  x509: X509Certificate;
  /** The issuer Name exactly as encoded in the certificate. */
  issuer: Uint8Array;
  /** The serialNumber INTEGER (tag, length and content) exactly as encoded in the certificate. */
  serial: Uint8Array;
}

function readCertificate(input: string | Uint8Array, what: string): ParsedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(typeof input === 'string' ? input : Buffer.from(input));
  } catch (cause) {
    throw new ValidationError(`${what} is not a readable X.509 certificate (PEM text or DER bytes).`, { cause });
  }
  const bytes = new Uint8Array(x509.raw);
  const certificate = fromDer(bytes);
  const tbs = children(certificate, 0x30, 'Certificate')[0];
  if (!tbs) throw new ValidationError(`${what} has no TBSCertificate.`);
  const fields = children(tbs, 0x30, 'TBSCertificate');
  // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, … }
  const offset = fields[0] && tagOf(fields[0]) === 0xa0 ? 1 : 0;
  const serial = fields[offset];
  const issuer = fields[offset + 2];
  if (!serial || !issuer || tagOf(serial) !== 0x02 || tagOf(issuer) !== 0x30) {
    throw new ValidationError(`${what} has no serial number or issuer where X.509 puts them.`);
  }
  return { der: bytes, x509, issuer: rawOf(issuer), serial: rawOf(serial) };
}

// --- parsing a SignedData --------------------------------------------------------------------------------------

interface ParsedSignature {
  digest: CfcaDigest;
  issuer: Uint8Array;
  serial: Uint8Array;
  signature: Uint8Array;
  certificates: Uint8Array[];
}

class Refusal extends Error {
  constructor(
    readonly reason: CfcaSignatureFailure,
    message: string,
  ) {
    super(message);
  }
}

const malformed = (message: string) => new Refusal('MALFORMED', `The signature is not a CMS SignedData: ${message}.`);

function parseSignature(signature: string): ParsedSignature {
  const text = signature.replace(/\s+/g, '');
  if (text === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw malformed('it is not base64');
  }
  const contentInfo = fromDer(new Uint8Array(Buffer.from(text, 'base64')));
  const [contentType, explicit] = children(contentInfo, 0x30, 'ContentInfo');
  if (!contentType || oidText(contentType) !== OID.signedData || !explicit || tagOf(explicit) !== 0xa0) {
    throw malformed('the content type is not signedData');
  }
  const signedData = children(explicit, 0xa0, 'content')[0];
  if (!signedData) throw malformed('the SignedData is missing');
  const elements = children(signedData, 0x30, 'SignedData');
  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, [0] certificates OPT, [1] crls OPT,
  //                           signerInfos SET }
  const encap = elements[2];
  if (!encap || tagOf(encap) !== 0x30) throw malformed('the encapsulated content info is missing');
  if (children(encap, 0x30, 'EncapsulatedContentInfo').length > 1) {
    throw new Refusal(
      'NOT_DETACHED',
      'The SignedData carries the content; CFCA request signatures are detached (the data goes in its own field).',
    );
  }
  const certificateSet = elements.slice(3).find((e) => tagOf(e) === 0xa0);
  const certificates = certificateSet
    ? children(certificateSet, 0xa0, 'certificates')
        .filter((c) => tagOf(c) === 0x30)
        .map(rawOf)
    : [];
  const signerInfos = elements.at(-1);
  if (!signerInfos || tagOf(signerInfos) !== 0x31 || elements.length < 4) throw malformed('signerInfos is missing');
  const infos = children(signerInfos, 0x31, 'signerInfos');
  if (infos.length !== 1) throw malformed(`it has ${infos.length} signers instead of one`);

  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs OPT, signatureAlgorithm, signature, … }
  const fields = children(infos[0]!, 0x30, 'SignerInfo');
  const [_version, sid, digestAlgorithm, fourth] = fields;
  if (!sid || !digestAlgorithm || !fourth) throw malformed('the SignerInfo is truncated');
  if (tagOf(fourth) === 0xa0) {
    throw new Refusal(
      'SIGNED_ATTRIBUTES',
      'The signer has signed attributes; CFCA request signatures are over the data itself, without attributes.',
    );
  }
  const [signatureAlgorithm, signatureValue] = fields.slice(3);
  if (tagOf(sid) !== 0x30) throw malformed('the signer is not named by issuer and serial number');
  const [issuer, serial] = children(sid, 0x30, 'IssuerAndSerialNumber');
  if (!issuer || !serial || tagOf(issuer) !== 0x30 || tagOf(serial) !== 0x02) {
    throw malformed('the signer identifier is incomplete');
  }
  const digestOid = algorithmOid(digestAlgorithm, 'digestAlgorithm');
  const digest = DIGEST_BY_OID[digestOid];
  if (!digest) throw new Refusal('UNSUPPORTED_ALGORITHM', `The digest algorithm ${digestOid} is not SHA-1 or SHA-256.`);
  if (!signatureAlgorithm || !signatureValue || tagOf(signatureValue) !== 0x04) {
    throw malformed('the signature value is missing');
  }
  const signatureOid = algorithmOid(signatureAlgorithm, 'signatureAlgorithm');
  if (!RSA_SIGNATURE_OIDS.has(signatureOid)) {
    throw new Refusal('UNSUPPORTED_ALGORITHM', `The signature algorithm ${signatureOid} is not RSA PKCS#1 v1.5.`);
  }
  return {
    digest,
    issuer: rawOf(issuer),
    serial: rawOf(serial),
    signature: new Uint8Array((signatureValue as asn1js.OctetString).valueBlock.valueHexView),
    certificates,
  };
}

function algorithmOid(block: asn1js.AsnType, what: string): string {
  const algorithm = children(block, 0x30, what)[0];
  if (!algorithm || tagOf(algorithm) !== 0x06) throw malformed(`${what} has no algorithm`);
  return oidText(algorithm);
}

// --- asn1js helpers --------------------------------------------------------------------------------------------

function fromDer(bytes: Uint8Array): asn1js.AsnType {
  const result = asn1js.fromBER(bytes);
  if (result.offset === -1 || result.offset !== bytes.length) {
    throw malformed(result.offset === -1 ? result.result.error || 'it is not DER' : 'bytes follow the structure');
  }
  return result.result;
}

/** The identifier octet of a block (class, constructed bit and low tag number; CMS tags are all below 31). */
function tagOf(block: asn1js.AsnType): number {
  const id = block.idBlock;
  return (id.tagClass - 1) * 0x40 + (id.isConstructed ? 0x20 : 0) + id.tagNumber;
}

function children(block: asn1js.AsnType, tag: number, what: string): asn1js.AsnType[] {
  if (tagOf(block) !== tag) throw malformed(`${what} has tag 0x${tagOf(block).toString(16)}`);
  const value = (block.valueBlock as { value?: unknown }).value;
  return Array.isArray(value) ? (value as asn1js.AsnType[]) : [];
}

function oidText(block: asn1js.AsnType): string {
  return block instanceof asn1js.ObjectIdentifier ? block.valueBlock.toString() : '';
}

/** The exact bytes a block was decoded from. */
function rawOf(block: asn1js.AsnType): Uint8Array {
  return new Uint8Array(block.valueBeforeDecodeView);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// --- DER writing -------------------------------------------------------------------------------------------------

const NULL = Uint8Array.of(0x05, 0x00);

/** One DER element: tag, definite length, then the concatenated contents. */
function der(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((n, c) => n + c.length, 0);
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let n = length; n > 0; n = Math.floor(n / 256)) lengthBytes.unshift(n % 256);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  const out = new Uint8Array(1 + lengthBytes.length + length);
  out[0] = tag;
  out.set(lengthBytes, 1);
  let p = 1 + lengthBytes.length;
  for (const c of contents) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function oid(dotted: string): Uint8Array {
  return new Uint8Array(new asn1js.ObjectIdentifier({ value: dotted }).toBER(false));
}
