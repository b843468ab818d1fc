/**
 * GB/T 38540-2020 (安全电子签章密码技术规范) electronic seal structures, version 4: `SES_Seal` (电子印章, the seal a
 * seal maker issues: picture, properties, the certificates allowed to use it, signed by the maker) and `SES_Signature`
 * (电子签章, one use of that seal over a document hash, signed by the user). Both are DER, signed SM2-with-SM3.
 *
 * The ASN.1, as the standard gives it (version 4):
 * ```
 * SES_Seal ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING, signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
 * SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
 *                             picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
 * SES_Header ::= SEQUENCE { ID IA5String ("ES"), version INTEGER (4), Vid IA5String }
 * SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER (1: certificates),
 *                                   certList SEQUENCE OF OCTET STRING, createDate GeneralizedTime,
 *                                   validStart GeneralizedTime, validEnd GeneralizedTime }
 * SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING, width INTEGER, height INTEGER }  -- mm
 * SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OBJECT IDENTIFIER,
 *                              signature BIT STRING, timeStamp [0] BIT STRING OPTIONAL }
 * TBS_Sign ::= SEQUENCE { version INTEGER (4), eseal SES_Seal, timeInfo GeneralizedTime, dataHash BIT STRING,
 *                         propertyInfo IA5String, extDatas ExtensionDatas OPTIONAL }
 * ```
 * What is signed: the DER SEQUENCE { info, cert, algorithm } — for the seal { eSealInfo, cert, signAlgID }, for the
 * signature { toSign, cert, signatureAlgID } — as the standard describes the signed data and as the Java OFD library
 * ofdrw builds it. Some verifiers in the field sign the info alone; such structures do not verify here.
 *
 * Not here: certDigestList (certListType 2), extension data (built without; read and kept as raw DER), the optional
 * timeStamp (read, not checked), and the placement of an SES_Signature in a document (GB/T 33190 defines it for OFD;
 * no standard defines it for PDF). Certificate chains and revocation are a validator's job, as for PAdES.
 */
import { createHash, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { encode, RawDer, readChildren, readTlv, slice, type Tlv } from './der.js';
import { SealingError } from './errors.js';
import type { SigningIdentity } from './signing-identity.js';
import { isSm2Key, SM_OID, sm2KeyOf, sm2Sign, sm2Verify } from './sm2.js';

/** The picture of an electronic seal: its format as GB/T 38540 names it, the bytes, and the printed size in mm. */
export interface SesPicture {
  /** The image format, as the standard spells it. */
  type: 'PNG' | 'JPG' | 'BMP' | 'GIF' | 'SVG' | 'OFD';
  /** The image file's bytes. */
  data: Uint8Array;
  /** Printed width in millimetres (a round company seal is 42). */
  widthMm: number;
  /** Printed height in millimetres. */
  heightMm: number;
}

/** What an electronic seal (SES_Seal) says, as given to {@link buildSesSeal} and read by {@link parseSesSeal}. */
export interface SesSealInfo {
  /** The seal's identifier (esID), unique within the seal maker's system, ASCII. */
  esId: string;
  /** The maker's vendor id (Vid), ASCII. */
  vendorId: string;
  /** Seal type: 1 organisation seal (单位印章), 2 personal seal (个人印章). */
  type: number;
  /** The seal's name, e.g. '某某消费金融股份有限公司合同专用章'. */
  name: string;
  /** The DER certificates allowed to sign with this seal (certListType 1). */
  certificates: Uint8Array[];
  /** When the seal was made (createDate). */
  createDate: Date;
  /** Start of the seal's validity; a signature made before it is refused. */
  validStart: Date;
  /** End of the seal's validity; a signature made after it is refused. */
  validEnd: Date;
  /** The seal picture a reader draws where the seal is used. */
  picture: SesPicture;
}

/** A parsed SES_Seal: its information, the maker's certificate, and the exact bytes that were signed. */
export interface ParsedSesSeal {
  /** The seal's information (SES_SealInfo). */
  info: SesSealInfo;
  /** The seal maker's (制章者) certificate, DER. */
  makerCertificate: Uint8Array;
  /** Dotted OID of the maker's signature algorithm (1.2.156.10197.1.501 for SM2-with-SM3). */
  signatureAlgorithm: string;
  /** The maker's signature value: DER SEQUENCE { r, s }. */
  signature: Uint8Array;
  /** extDatas of the SES_SealInfo as raw DER, when present. */
  extensions: Uint8Array | undefined;
  /** DER SEQUENCE { eSealInfo, cert, signAlgID }: what the maker signed. */
  signedData: Uint8Array;
}

/** A parsed SES_Signature (one use of a seal on a document). */
export interface ParsedSesSignature {
  /** The embedded seal, parsed. */
  seal: ParsedSesSeal;
  /** The SES_Seal DER as embedded. */
  sealDer: Uint8Array;
  /** The signing time (timeInfo). */
  timeInfo: Date;
  /** The document hash the signer signed (SM3 for an SM2 signer). */
  dataHash: Uint8Array;
  /** What the hash is of, free text (e.g. the document's name or the signed byte ranges). */
  propertyInfo: string;
  /** The signer's (签章者) certificate, DER. */
  signerCertificate: Uint8Array;
  /** Dotted OID of the signer's signature algorithm (1.2.156.10197.1.501 for SM2-with-SM3). */
  signatureAlgorithm: string;
  /** The signer's signature value: DER SEQUENCE { r, s }. */
  signature: Uint8Array;
  /** The optional timeStamp over the signature, as its content bytes; not checked here. */
  timeStamp: Uint8Array | undefined;
  /** DER SEQUENCE { toSign, cert, signatureAlgID }: what the signer signed. */
  signedData: Uint8Array;
}

/** The verdict on an SES_Seal or SES_Signature: `valid` when `problems` is empty. */
export interface SesVerification {
  /** True when every check passed. */
  valid: boolean;
  /** What failed, one sentence each; empty when valid. */
  problems: string[];
}

const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
const ia5 = (value: string) => {
  if (!/^[\x20-\x7e]*$/.test(value)) throw invalid(`"${value}" must be printable ASCII (an IA5String).`);
  return new asn1js.IA5String({ value });
};
const int = (value: number) => new asn1js.Integer({ value });
const octets = (bytes: Uint8Array) => new asn1js.OctetString({ valueHex: bytes });
const bits = (bytes: Uint8Array) => new asn1js.BitString({ valueHex: bytes, unusedBits: 0 });
const oid = (value: string) => new asn1js.ObjectIdentifier({ value });

function invalid(message: string): SealingError {
  return new SealingError('INVALID_INPUT', `GB/T 38540: ${message}`);
}

function generalizedTime(d: Date): RawDer {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw invalid('a date is not a valid Date.');
  const text = `${d.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
  return new RawDer(Uint8Array.from([0x18, text.length, ...Buffer.from(text, 'latin1')]));
}

function sm2Identity(identity: SigningIdentity, who: string): void {
  if (identity.keyType !== 'sm2' || !identity.sm2Key) {
    throw invalid(
      `the ${who} must be an SM2 identity (GB/T 38540 seals are signed SM2-with-SM3); got ${identity.keyType}.`,
    );
  }
}

/** SEQUENCE { body, OCTET STRING cert, OID }: the bytes GB/T 38540 signs. */
function toBeSigned(body: Uint8Array, certificate: Uint8Array, algorithm: string): Uint8Array {
  return encode(seq(new RawDer(body), octets(certificate), oid(algorithm)));
}

/**
 * Builds and signs an electronic seal (SES_Seal, version 4) with the seal maker's SM2 identity. Throws a
 * `SealingError` INVALID_INPUT when the maker is not SM2, a text is not ASCII where the standard says IA5String, or
 * the validity period is empty.
 */
export function buildSesSeal(info: SesSealInfo, maker: SigningIdentity): Uint8Array {
  sm2Identity(maker, 'seal maker');
  if (info.certificates.length === 0) throw invalid('a seal needs at least one certificate allowed to use it.');
  if (!(info.validEnd > info.validStart)) throw invalid('validEnd must be after validStart.');
  const { picture } = info;
  if (!Number.isInteger(picture.widthMm) || !Number.isInteger(picture.heightMm) || picture.widthMm <= 0) {
    throw invalid('the picture width and height are whole millimetres above 0.');
  }
  const sealInfo = encode(
    seq(
      seq(ia5('ES'), int(4), ia5(info.vendorId)),
      ia5(info.esId),
      seq(
        int(info.type),
        new asn1js.Utf8String({ value: info.name }),
        int(1),
        seq(...info.certificates.map(octets)),
        generalizedTime(info.createDate),
        generalizedTime(info.validStart),
        generalizedTime(info.validEnd),
      ),
      seq(ia5(picture.type), octets(picture.data), int(picture.widthMm), int(picture.heightMm)),
    ),
  );
  const signature = sm2Sign(maker.sm2Key!, toBeSigned(sealInfo, maker.certificate, SM_OID.sm2WithSm3));
  return encode(seq(new RawDer(sealInfo), octets(maker.certificate), oid(SM_OID.sm2WithSm3), bits(signature)));
}

/** What {@link buildSesSignature} signs: the seal, the document's hash and what that hash covers. */
export interface SesSignatureInput {
  /** The SES_Seal DER, as {@link buildSesSeal} or the seal maker issued it. */
  seal: Uint8Array;
  /** SM3 of the signed document content (32 bytes). */
  dataHash: Uint8Array;
  /** What the hash covers, ASCII (e.g. a file name or "bytes 0-1234"). */
  propertyInfo: string;
  /** The signing time (timeInfo). Pass it in; it is part of what is signed. */
  time: Date;
}

/**
 * Builds and signs an electronic signature (SES_Signature, version 4) with the signer's SM2 identity, whose
 * certificate must be one of the seal's. Throws a `SealingError` INVALID_INPUT when it is not, or the seal cannot be
 * read.
 */
export function buildSesSignature(input: SesSignatureInput, signer: SigningIdentity): Uint8Array {
  sm2Identity(signer, 'signer');
  const seal = parseSesSeal(input.seal);
  if (!seal.info.certificates.some((c) => Buffer.from(c).equals(signer.certificate))) {
    throw invalid(`the signer's certificate is not among the certificates of seal "${seal.info.esId}".`);
  }
  if (input.dataHash.length !== 32) throw invalid('dataHash must be an SM3 digest (32 bytes).');
  const toSign = encode(
    seq(int(4), new RawDer(input.seal), generalizedTime(input.time), bits(input.dataHash), ia5(input.propertyInfo)),
  );
  const signature = sm2Sign(signer.sm2Key!, toBeSigned(toSign, signer.certificate, SM_OID.sm2WithSm3));
  return encode(seq(new RawDer(toSign), octets(signer.certificate), oid(SM_OID.sm2WithSm3), bits(signature)));
}

// --- reading ----------------------------------------------------------------------------------------------------

class Reader {
  constructor(readonly der: Uint8Array) {}
  children(tlv: Tlv, tag: number, what: string, min: number): Tlv[] {
    this.expect(tlv, tag, what);
    const kids = readChildren(this.der, tlv);
    if (kids.length < min) throw invalid(`${what} has ${kids.length} elements, expected at least ${min}.`);
    return kids;
  }
  expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
    if (!tlv || tlv.tag !== tag) throw invalid(`${what} is missing or has the wrong type.`);
    return tlv;
  }
  content(tlv: Tlv | undefined, tag: number, what: string): Uint8Array {
    const t = this.expect(tlv, tag, what);
    return this.der.subarray(t.contentStart, t.end);
  }
  text(tlv: Tlv | undefined, tag: number, what: string): string {
    return Buffer.from(this.content(tlv, tag, what)).toString(tag === 0x0c ? 'utf8' : 'latin1');
  }
  int(tlv: Tlv | undefined, what: string): number {
    const bytes = this.content(tlv, 0x02, what);
    if (bytes.length > 6) throw invalid(`${what} is too large.`);
    return bytes.reduce((n, b) => n * 256 + b, 0);
  }
  time(tlv: Tlv | undefined, what: string): Date {
    const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(this.text(tlv, 0x18, what));
    if (!m) throw invalid(`${what} is not a UTC GeneralizedTime.`);
    return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  oid(tlv: Tlv | undefined, what: string): string {
    const content = this.content(tlv, 0x06, what);
    const arcs: number[] = [];
    let value = 0;
    for (const byte of content) {
      value = value * 128 + (byte & 0x7f);
      if (byte & 0x80) continue;
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
    return arcs.join('.');
  }
  bits(tlv: Tlv | undefined, what: string): Uint8Array {
    const content = this.content(tlv, 0x03, what);
    if (content[0] !== 0) throw invalid(`${what} is not a whole number of bytes.`);
    return content.subarray(1);
  }
}

function top(der: Uint8Array, what: string): Tlv {
  const tlv = (() => {
    try {
      return readTlv(der, 0);
    } catch {
      throw invalid(`the ${what} is not DER.`);
    }
  })();
  if (tlv.end !== der.length) throw invalid(`the ${what} has bytes after its end.`);
  return tlv;
}

function readSeal(r: Reader, sealTlv: Tlv): ParsedSesSeal {
  const [infoTlv, certTlv, algTlv, valueTlv] = r.children(sealTlv, 0x30, 'SES_Seal', 4);
  const [header, esId, property, picture, ext] = r.children(infoTlv!, 0x30, 'SES_SealInfo', 4);
  const [id, version, vid] = r.children(header!, 0x30, 'SES_Header', 3);
  if (r.text(id, 0x16, 'SES_Header.ID') !== 'ES') throw invalid('SES_Header.ID is not "ES".');
  const v = r.int(version, 'SES_Header.version');
  if (v !== 4) throw invalid(`SES_Header.version is ${v}; only version 4 (GB/T 38540-2020) is read here.`);
  const [type, name, listType, list, created, start, end] = r.children(property!, 0x30, 'SES_ESPropertyInfo', 7);
  if (r.int(listType, 'certListType') !== 1) throw invalid('certListType 2 (certificate digests) is not supported.');
  const [picType, picData, width, height] = r.children(picture!, 0x30, 'SES_ESPictrueInfo', 4);
  const cert = r.expect(certTlv, 0x04, 'SES_Seal.cert');
  const alg = r.expect(algTlv, 0x06, 'SES_Seal.signAlgID');
  return {
    info: {
      esId: r.text(esId, 0x16, 'esID'),
      vendorId: r.text(vid, 0x16, 'SES_Header.Vid'),
      type: r.int(type, 'property.type'),
      name: r.text(name, 0x0c, 'property.name'),
      certificates: r
        .children(list!, 0x30, 'certList', 1)
        .map((t) => new Uint8Array(r.content(t, 0x04, 'certList entry'))),
      createDate: r.time(created, 'createDate'),
      validStart: r.time(start, 'validStart'),
      validEnd: r.time(end, 'validEnd'),
      picture: {
        type: r.text(picType, 0x16, 'picture.type') as SesPicture['type'],
        data: new Uint8Array(r.content(picData, 0x04, 'picture.data')),
        widthMm: r.int(width, 'picture.width'),
        heightMm: r.int(height, 'picture.height'),
      },
    },
    makerCertificate: new Uint8Array(r.content(cert, 0x04, 'SES_Seal.cert')),
    signatureAlgorithm: r.oid(alg, 'SES_Seal.signAlgID'),
    signature: new Uint8Array(r.bits(valueTlv, 'SES_Seal.signedValue')),
    extensions: ext?.tag === 0x30 ? new Uint8Array(slice(r.der, ext)) : undefined,
    signedData: encode(
      seq(new RawDer(slice(r.der, infoTlv!)), new RawDer(slice(r.der, cert)), new RawDer(slice(r.der, alg))),
    ),
  };
}

/** Reads an SES_Seal (version 4). Throws a `SealingError` INVALID_INPUT, naming the element, when it is malformed. */
export function parseSesSeal(der: Uint8Array): ParsedSesSeal {
  return readSeal(new Reader(der), top(der, 'SES_Seal'));
}

/** Reads an SES_Signature (version 4). Throws a `SealingError` INVALID_INPUT, naming the element, when malformed. */
export function parseSesSignature(der: Uint8Array): ParsedSesSignature {
  const r = new Reader(der);
  const [toSign, certTlv, algTlv, valueTlv, stamp] = r.children(top(der, 'SES_Signature'), 0x30, 'SES_Signature', 4);
  const [version, sealTlv, time, hash, property] = r.children(toSign!, 0x30, 'TBS_Sign', 5);
  const v = r.int(version, 'TBS_Sign.version');
  if (v !== 4) throw invalid(`TBS_Sign.version is ${v}; only version 4 (GB/T 38540-2020) is read here.`);
  const cert = r.expect(certTlv, 0x04, 'SES_Signature.cert');
  const alg = r.expect(algTlv, 0x06, 'SES_Signature.signatureAlgID');
  return {
    seal: readSeal(r, r.expect(sealTlv, 0x30, 'TBS_Sign.eseal')),
    sealDer: new Uint8Array(slice(der, sealTlv!)),
    timeInfo: r.time(time, 'TBS_Sign.timeInfo'),
    dataHash: new Uint8Array(r.bits(hash, 'TBS_Sign.dataHash')),
    propertyInfo: r.text(property, 0x16, 'TBS_Sign.propertyInfo'),
    signerCertificate: new Uint8Array(r.content(cert, 0x04, 'SES_Signature.cert')),
    signatureAlgorithm: r.oid(alg, 'SES_Signature.signatureAlgID'),
    signature: new Uint8Array(r.bits(valueTlv, 'SES_Signature.signature')),
    timeStamp: stamp?.tag === 0xa0 ? new Uint8Array(der.subarray(stamp.contentStart, stamp.end)) : undefined,
    signedData: encode(seq(new RawDer(slice(der, toSign!)), new RawDer(slice(der, cert)), new RawDer(slice(der, alg)))),
  };
}

/** The SM2 verdict of `signature` over `data` by the key of `certificate`; a problem string or undefined. */
function checkSm2(certificate: Uint8Array, algorithm: string, data: Uint8Array, signature: Uint8Array, who: string) {
  if (algorithm !== SM_OID.sm2WithSm3) return `the ${who} signature algorithm ${algorithm} is not SM2-with-SM3`;
  let publicKey: X509Certificate['publicKey'];
  try {
    publicKey = new X509Certificate(certificate).publicKey;
  } catch {
    return `the ${who} certificate is not a readable X.509 certificate`;
  }
  if (!isSm2Key(publicKey)) return `the ${who} certificate does not hold an SM2 key`;
  return sm2Verify(sm2KeyOf(publicKey).publicPoint, data, signature)
    ? undefined
    : `the ${who} signature does not verify with the ${who} certificate`;
}

/**
 * Checks an SES_Seal: the maker's SM2 signature over { eSealInfo, cert, signAlgID }, and that `at` (default now) is
 * inside the seal's validity. Malformed DER throws (see {@link parseSesSeal}); a failed check is a problem.
 */
export function verifySesSeal(der: Uint8Array, at: Date = new Date()): SesVerification {
  const seal = parseSesSeal(der);
  const problems: string[] = [];
  const bad = checkSm2(seal.makerCertificate, seal.signatureAlgorithm, seal.signedData, seal.signature, 'seal maker');
  if (bad) problems.push(bad);
  if (at < seal.info.validStart || at > seal.info.validEnd) {
    problems.push(
      `the seal is valid from ${seal.info.validStart.toISOString()} to ${seal.info.validEnd.toISOString()}, not at ${at.toISOString()}`,
    );
  }
  return { valid: problems.length === 0, problems };
}

/**
 * Checks an SES_Signature over `content` (the signed bytes; their SM3 must equal dataHash): the signer's SM2
 * signature, that the signer's certificate is one of the seal's, the seal itself (maker's signature), and that the
 * signing time is inside the seal's validity. Trust in the certificates is not judged.
 */
export function verifySesSignature(der: Uint8Array, content: Uint8Array): SesVerification {
  const parsed = parseSesSignature(der);
  const problems: string[] = [];
  const bad = checkSm2(
    parsed.signerCertificate,
    parsed.signatureAlgorithm,
    parsed.signedData,
    parsed.signature,
    'signer',
  );
  if (bad) problems.push(bad);
  if (!parsed.seal.info.certificates.some((c) => Buffer.from(c).equals(parsed.signerCertificate))) {
    problems.push('the signer certificate is not among the certificates allowed to use the seal');
  }
  problems.push(...verifySesSeal(parsed.sealDer, parsed.timeInfo).problems);
  if (!createHash('sm3').update(content).digest().equals(parsed.dataHash)) {
    problems.push('dataHash is not the SM3 of the content: the content was changed');
  }
  return { valid: problems.length === 0, problems };
}
