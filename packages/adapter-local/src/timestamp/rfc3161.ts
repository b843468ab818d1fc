/**
 * RFC 3161 on the wire: the TimeStampReq we send, the TimeStampResp we read, and the TimeStampToken inside it.
 *
 * Requests are built with asn1js; responses and tokens are walked with `readTlv`, the same bounds-checked reader the
 * PDF verifier uses, so the bytes that were signed (the TSTInfo, the signed attributes, the certificates) are checked
 * exactly as transmitted and never re-encoded. Both the HTTP client and the local TSA go through this file.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { TimestampError, type TimestampHashAlgorithm, type TimestampInfo } from '@sealflow/core';
import * as asn1js from 'asn1js';
import { CmsFormatError, type CmsSignerView, oidOf, readCmsSigner } from '../cms-reader.js';
import { encode, readChildren, readTlv, type Tlv, toHex } from '../der.js';

export const TSA_OID = {
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  signatureTimeStampToken: '1.2.840.113549.1.9.16.2.14',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export const HASH_OIDS: Record<TimestampHashAlgorithm, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const HASH_LENGTHS: Record<TimestampHashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };
const ALGORITHM_OF_OID = new Map(Object.entries(HASH_OIDS).map(([name, oid]) => [oid, name as TimestampHashAlgorithm]));
/** Digests a TSA may use for its own signature (SHA-1 still appears in older TSAs' signed attributes). */
export const SIGNER_DIGESTS: Record<string, string> = { ...invert(HASH_OIDS), '1.3.14.3.2.26': 'sha1' };

function invert(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [v, k]));
}

/** Throws INVALID_INPUT unless `digest` is a digest of `hashAlgorithm`'s length. */
export function checkDigest(digest: Uint8Array, hashAlgorithm: TimestampHashAlgorithm): void {
  const length = HASH_LENGTHS[hashAlgorithm];
  if (length === undefined) {
    throw new TimestampError(
      'INVALID_INPUT',
      `hashAlgorithm must be sha256, sha384 or sha512, not "${hashAlgorithm}".`,
    );
  }
  if (!(digest instanceof Uint8Array) || digest.length !== length) {
    throw new TimestampError(
      'INVALID_INPUT',
      `A ${hashAlgorithm} digest is ${length} bytes; got ${digest instanceof Uint8Array ? digest.length : typeof digest}. Pass the digest of the data, not the data.`,
    );
  }
}

// ------------------------------------------------------------------------------------------------- the request

export interface TimestampQuery {
  der: Uint8Array;
  /** Lower-case hex of the nonce sent, if any. */
  nonce: string | undefined;
}

export interface TimestampQueryOptions {
  hashAlgorithm: TimestampHashAlgorithm;
  /** Send a random 64-bit nonce (default true): a replayed or mixed-up answer then cannot pass. */
  nonce?: boolean;
  /** Ask the TSA to put its certificate in the token (default true): verifying needs it. */
  certReq?: boolean;
  /** Ask for a particular TSA policy (dotted OID). */
  policy?: string;
}

/** TimeStampReq ::= SEQUENCE { version 1, messageImprint, reqPolicy OPTIONAL, nonce OPTIONAL, certReq DEFAULT FALSE } */
export function encodeTimestampQuery(digest: Uint8Array, options: TimestampQueryOptions): TimestampQuery {
  checkDigest(digest, options.hashAlgorithm);
  let nonce: Uint8Array | undefined;
  if (options.nonce !== false) {
    nonce = randomBytes(8);
    nonce[0] = (nonce[0]! & 0x7f) | 0x40; // positive and minimal: the INTEGER's content is exactly these bytes
  }
  const fields: asn1js.BaseBlock[] = [new asn1js.Integer({ value: 1 }), messageImprint(options.hashAlgorithm, digest)];
  if (options.policy) fields.push(new asn1js.ObjectIdentifier({ value: options.policy }));
  if (nonce) fields.push(new asn1js.Integer({ valueHex: nonce }));
  if (options.certReq !== false) fields.push(new asn1js.Boolean({ value: true }));
  return { der: encode(new asn1js.Sequence({ value: fields })), nonce: nonce ? toHex(nonce) : undefined };
}

export function messageImprint(hashAlgorithm: TimestampHashAlgorithm, digest: Uint8Array): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: HASH_OIDS[hashAlgorithm] }), new asn1js.Null()],
      }),
      new asn1js.OctetString({ valueHex: digest }),
    ],
  });
}

/** What a TSA needs from a request: the imprint, nonce, certReq and policy. Throws CmsFormatError when malformed. */
export interface ParsedQuery {
  hashAlgorithm: TimestampHashAlgorithm;
  digest: Uint8Array;
  nonce: Uint8Array | undefined;
  certReq: boolean;
  policy: string | undefined;
}

export function parseTimestampQuery(der: Uint8Array): ParsedQuery {
  const [version, imprint, ...rest] = readChildren(der, expect(der, readTlv(der, 0), SEQUENCE, 'TimeStampReq'));
  if (!version || !imprint) throw new CmsFormatError('the TimeStampReq is truncated');
  const { hashAlgorithm, digest } = readImprint(der, imprint);
  let nonce: Uint8Array | undefined;
  let certReq = false;
  let policy: string | undefined;
  for (const field of rest) {
    if (field.tag === OID) policy = oidOf(der, field);
    else if (field.tag === INTEGER) nonce = content(der, field);
    else if (field.tag === BOOLEAN) certReq = der[field.contentStart] !== 0;
  }
  return { hashAlgorithm, digest, nonce, certReq, policy };
}

// ------------------------------------------------------------------------------------------------ the response

const PKI_STATUS = [
  'granted',
  'grantedWithMods',
  'rejection',
  'waiting',
  'revocationWarning',
  'revocationNotification',
];
const FAIL_INFO: Record<number, string> = {
  0: 'badAlg',
  2: 'badRequest',
  5: 'badDataFormat',
  14: 'timeNotAvailable',
  15: 'unacceptedPolicy',
  16: 'unacceptedExtension',
  17: 'addInfoNotAvailable',
  25: 'systemFailure',
};

/** TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }; returns the token's DER. */
export function readTimestampResponse(der: Uint8Array, tsaName: string): Uint8Array {
  try {
    const [statusInfo, token] = readChildren(der, expect(der, readTlv(der, 0), SEQUENCE, 'TimeStampResp'));
    if (!statusInfo) throw new CmsFormatError('the status is missing');
    const [status, ...more] = readChildren(der, expect(der, statusInfo, SEQUENCE, 'PKIStatusInfo'));
    if (!status) throw new CmsFormatError('the status is missing');
    const code = Number(bigIntOf(content(der, expect(der, status, INTEGER, 'status'))));
    if (code !== 0 && code !== 1) {
      const texts = more
        .filter((t) => t.tag === SEQUENCE)
        .flatMap((t) => readChildren(der, t).map((s) => Buffer.from(content(der, s)).toString('utf8')));
      const bits = more.find((t) => t.tag === BIT_STRING);
      const failInfo = bits ? bitNames(content(der, bits)) : [];
      const why = [texts.join('; '), failInfo.join(', ')].filter(Boolean).join(' — ');
      throw new TimestampError(
        'TSA_REJECTED',
        `The TSA ${tsaName} refused the request (${PKI_STATUS[code] ?? `status ${code}`}${why ? `: ${why}` : ''}). Check the hash algorithm and policy it accepts.`,
        { details: { tsa: tsaName, status: PKI_STATUS[code] ?? code, failInfo, statusText: texts } },
      );
    }
    if (!token) throw new CmsFormatError('the TSA granted the request but sent no token');
    return der.slice(token.start, token.end);
  } catch (error) {
    if (error instanceof TimestampError) throw error;
    throw new TimestampError(
      'TSA_RESPONSE_MALFORMED',
      `The TSA ${tsaName} answered with something that is not an RFC 3161 TimeStampResp (${describe(error)}); check that the URL is the TSA's endpoint.`,
      { cause: error, details: { tsa: tsaName } },
    );
  }
}

function bitNames(bitString: Uint8Array): string[] {
  const names: string[] = [];
  // The first content byte counts unused bits; bit 0 is the high bit of the next byte.
  for (let i = 1; i < bitString.length; i++) {
    for (let b = 0; b < 8; b++) {
      if (bitString[i]! & (0x80 >> b)) names.push(FAIL_INFO[(i - 1) * 8 + b] ?? `bit${(i - 1) * 8 + b}`);
    }
  }
  return names;
}

// --------------------------------------------------------------------------------------------------- the token

/** A token taken apart: what it says, plus what verifying it needs. */
export interface ParsedToken extends TimestampInfo {
  /** The imprint's digest. */
  digest: Uint8Array;
  /** The DER of the TSTInfo, exactly as signed. */
  tstInfo: Uint8Array;
  signer: CmsSignerView;
  /** The signer's certificate from the token, when embedded. */
  signerCertificate: Uint8Array | undefined;
}

/** Reads a DER TimeStampToken. Throws TIMESTAMP_MALFORMED (the message says which element is wrong). */
export function parseTimestampToken(token: Uint8Array): ParsedToken {
  try {
    const signer = readCmsSigner(token);
    const tstInfo = encapsulatedTstInfo(token);
    const info = readTstInfo(tstInfo);
    const signerCertificate = signer.certificates.find((cert) => namesSigner(cert, signer));
    const tsaName = signerCertificate ? subjectOf(signerCertificate) : undefined;
    return { ...info, tstInfo, signer, signerCertificate, tsaName };
  } catch (error) {
    if (error instanceof TimestampError) throw error;
    throw new TimestampError(
      'TIMESTAMP_MALFORMED',
      `The timestamp token cannot be read (${describe(error)}); it must be the DER TimeStampToken from the TSA's answer.`,
      { cause: error },
    );
  }
}

/** ContentInfo → [0] SignedData → encapContentInfo { id-ct-TSTInfo, [0] OCTET STRING } → the TSTInfo's DER. */
function encapsulatedTstInfo(token: Uint8Array): Uint8Array {
  const [, explicit] = readChildren(token, readTlv(token, 0));
  const signedData = explicit ? readChildren(token, explicit)[0] : undefined;
  if (!signedData) throw new CmsFormatError('the SignedData is missing');
  const encap = readChildren(token, signedData)[2];
  if (!encap) throw new CmsFormatError('the encapsulated content is missing');
  const [type, wrapper] = readChildren(token, expect(token, encap, SEQUENCE, 'encapContentInfo'));
  if (!type || oidOf(token, expect(token, type, OID, 'eContentType')) !== TSA_OID.tstInfo) {
    throw new CmsFormatError('the signed content is not a TSTInfo');
  }
  const octets = wrapper ? readChildren(token, expect(token, wrapper, CONTEXT_0, 'eContent'))[0] : undefined;
  if (!octets) throw new CmsFormatError('the TSTInfo is missing');
  return token.slice(octets.contentStart, expect(token, octets, OCTET_STRING, 'eContent').end);
}

/**
 * TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, accuracy OPTIONAL,
 *   ordering DEFAULT FALSE, nonce OPTIONAL, tsa [0] OPTIONAL, extensions [1] OPTIONAL }
 */
function readTstInfo(der: Uint8Array): Omit<TimestampInfo, 'tsaName'> & { digest: Uint8Array } {
  const [version, policy, imprint, serial, genTime, ...rest] = readChildren(
    der,
    expect(der, readTlv(der, 0), SEQUENCE, 'TSTInfo'),
  );
  if (!version || !policy || !imprint || !serial || !genTime) throw new CmsFormatError('the TSTInfo is truncated');
  const { hashAlgorithm, digest } = readImprint(der, imprint);
  let accuracyMs: number | undefined;
  let nonce: string | undefined;
  for (const field of rest) {
    if (field.tag === SEQUENCE) accuracyMs = readAccuracy(der, field);
    else if (field.tag === INTEGER) nonce = toHex(content(der, field));
  }
  return {
    policy: oidOf(der, expect(der, policy, OID, 'policy')),
    hashAlgorithm,
    digest,
    serialNumber: toHex(content(der, expect(der, serial, INTEGER, 'serialNumber'))),
    genTime: generalizedTime(Buffer.from(content(der, expect(der, genTime, GENERALIZED_TIME, 'genTime'))).toString()),
    accuracyMs,
    nonce,
  };
}

function readImprint(der: Uint8Array, imprint: Tlv): { hashAlgorithm: TimestampHashAlgorithm; digest: Uint8Array } {
  const [algorithm, hashed] = readChildren(der, expect(der, imprint, SEQUENCE, 'messageImprint'));
  const oidTlv = algorithm ? readChildren(der, expect(der, algorithm, SEQUENCE, 'hashAlgorithm'))[0] : undefined;
  if (!oidTlv || !hashed) throw new CmsFormatError('the message imprint is truncated');
  const oid = oidOf(der, expect(der, oidTlv, OID, 'hashAlgorithm'));
  const hashAlgorithm = ALGORITHM_OF_OID.get(oid);
  if (!hashAlgorithm) throw new CmsFormatError(`the imprint uses an unsupported hash algorithm (${oid})`);
  return { hashAlgorithm, digest: content(der, expect(der, hashed, OCTET_STRING, 'hashedMessage')) };
}

/** Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL } */
function readAccuracy(der: Uint8Array, accuracy: Tlv): number {
  let ms = 0;
  for (const part of readChildren(der, accuracy)) {
    const value = Number(bigIntOf(content(der, part)));
    if (part.tag === INTEGER) ms += value * 1000;
    else if (part.tag === 0x80) ms += value;
    else if (part.tag === 0x81) ms += value / 1000;
  }
  return ms;
}

/** "YYYYMMDDHHMMSS[.fff]Z" (RFC 3161 requires UTC and no trailing zeros in the fraction). */
function generalizedTime(text: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(text);
  if (!m) throw new CmsFormatError(`genTime "${text}" is not a UTC GeneralizedTime`);
  const [, y, mo, d, h, mi, s, fraction] = m;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms));
}

/** Whether `cert` is the one the SignerInfo names by issuer and serial number (compared as DER bytes). */
export function namesSigner(cert: Uint8Array, signer: CmsSignerView): boolean {
  try {
    const [tbs] = readChildren(cert, readTlv(cert, 0));
    if (!tbs) return false;
    const fields = readChildren(cert, tbs);
    const offset = fields[0]?.tag === CONTEXT_0 ? 1 : 0; // [0] version is optional
    const serial = fields[offset];
    const issuer = fields[offset + 2];
    if (!serial || !issuer) return false;
    return (
      Buffer.from(content(cert, serial)).equals(signer.serialNumber) &&
      Buffer.from(cert.subarray(issuer.start, issuer.end)).equals(signer.issuerDer)
    );
  } catch {
    return false;
  }
}

/**
 * The certificate hash in the ESS signing-certificate attribute (v2: its hashAlgorithm, default SHA-256; v1: SHA-1),
 * or undefined when the token has neither attribute.
 */
export function essCertificateHash(signer: CmsSignerView): { algorithm: string; hash: Uint8Array } | undefined {
  const attrs = signer.signedAttributes;
  for (const attribute of readChildren(attrs, readTlv(attrs, 0))) {
    const [type, values] = readChildren(attrs, attribute);
    if (!type || !values || type.tag !== OID) continue;
    const oid = oidOf(attrs, type);
    if (oid !== TSA_OID.signingCertificate && oid !== TSA_OID.signingCertificateV2) continue;
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), … }
    const signingCertificate = readChildren(attrs, values)[0];
    const certs = signingCertificate ? readChildren(attrs, signingCertificate)[0] : undefined;
    const first = certs ? readChildren(attrs, certs)[0] : undefined;
    if (!first) return undefined;
    const [a, b] = readChildren(attrs, first);
    if (oid === TSA_OID.signingCertificate) return a ? { algorithm: 'sha1', hash: content(attrs, a) } : undefined;
    if (a?.tag === OCTET_STRING) return { algorithm: 'sha256', hash: content(attrs, a) };
    const algorithmOid = a ? readChildren(attrs, a)[0] : undefined;
    const algorithm = algorithmOid ? SIGNER_DIGESTS[oidOf(attrs, algorithmOid)] : undefined;
    return algorithm && b ? { algorithm, hash: content(attrs, b) } : undefined;
  }
  return undefined;
}

export function sha(algorithm: string, bytes: Uint8Array): Buffer {
  return createHash(algorithm).update(bytes).digest();
}

/** "CN=…,O=…,C=…" from a certificate, as the PDF report shows signers. */
export function subjectOf(cert: Uint8Array): string | undefined {
  try {
    return new X509Certificate(cert).subject.split('\n').reverse().join(',');
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------------ helpers

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BOOLEAN = 0x01;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const GENERALIZED_TIME = 0x18;
const CONTEXT_0 = 0xa0;

function expect(der: Uint8Array, tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) {
    throw new CmsFormatError(`${what} has tag 0x${tlv.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  if (tlv.end > der.length) throw new CmsFormatError(`${what} runs past the end`);
  return tlv;
}

function content(der: Uint8Array, tlv: Tlv): Uint8Array {
  return der.subarray(tlv.contentStart, tlv.end);
}

function bigIntOf(bytes: Uint8Array): bigint {
  return bytes.length ? BigInt(`0x${toHex(bytes)}`) : 0n;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
