/**
 * Reads exactly what checking a PAdES signature needs out of a CMS SignedData, straight from the DER bytes: the first
 * signer's digest algorithm, signed attributes (as transmitted, since they are what was signed), message digest,
 * issuer + serial number and signature value, and the embedded certificates as their exact DER bytes.
 *
 * A general ASN.1 decoder (asn1js behind @peculiar/asn1-cms) builds an object for every element of the structure,
 * certificates included, and that was most of the time a signing spent verifying; walking the few elements needed
 * with `readTlv` costs microseconds. Every element read is bounds-checked, and a tag that is not the one the CMS
 * grammar puts there is refused, so a malformed structure fails instead of being half-read.
 */
import { readChildren, readTlv, slice, type Tlv } from './der.js';

export interface CmsSignerView {
  /** Dotted OID of the signer's digest algorithm. */
  digestAlgorithm: string;
  /** The signed attributes exactly as transmitted, with their `[0] IMPLICIT` tag. */
  signedAttributes: Uint8Array;
  /** Content of the messageDigest attribute; undefined when there is none. */
  messageDigest: Uint8Array | undefined;
  /** The signer's issuer Name as DER, and serial number as the INTEGER's content bytes. */
  issuerDer: Uint8Array;
  serialNumber: Uint8Array;
  signature: Uint8Array;
  /** The unsigned attributes as (type OID, first value's DER) pairs, such as a signature timestamp token. */
  unsignedAttributes: { type: string; value: Uint8Array }[];
  /** The certificates of the SignedData, each as the exact DER bytes embedded. */
  certificates: Uint8Array[];
}

const SIGNED_DATA = '1.2.840.113549.1.7.2';
const MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const OID = 0x06;
const CONTEXT_0 = 0xa0;
const CONTEXT_1 = 0xa1;

/** Why a CMS could not be read; the message is shown in the signature's report. */
export class CmsFormatError extends Error {}

/** The first SignerInfo of a DER `ContentInfo { signedData }`; throws {@link CmsFormatError} when it has none. */
export function readCmsSigner(cms: Uint8Array): CmsSignerView {
  const contentInfo = expect(cms, readTlv(cms, 0), SEQUENCE, 'ContentInfo');
  const [contentType, explicit] = readChildren(cms, contentInfo);
  if (!contentType || oidOf(cms, expect(cms, contentType, OID, 'contentType')) !== SIGNED_DATA) {
    throw new CmsFormatError('the CMS is not a SignedData');
  }
  const signedDataTlv = explicit ? readChildren(cms, expect(cms, explicit, CONTEXT_0, 'content'))[0] : undefined;
  if (!signedDataTlv) throw new CmsFormatError('the SignedData is missing');
  const elements = readChildren(cms, expect(cms, signedDataTlv, SEQUENCE, 'SignedData'));
  const certificateSet = elements.find((t) => t.tag === CONTEXT_0);
  const certificates = certificateSet
    ? readChildren(cms, certificateSet)
        .filter((t) => t.tag === SEQUENCE)
        .map((t) => slice(cms, t))
    : [];
  const signerInfos = elements.at(-1);
  const first = signerInfos ? readChildren(cms, expect(cms, signerInfos, SET, 'signerInfos'))[0] : undefined;
  if (!first) throw new CmsFormatError('the CMS has no signer');
  return { ...readSignerInfo(cms, expect(cms, first, SEQUENCE, 'SignerInfo')), certificates };
}

/** SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, … } */
function readSignerInfo(cms: Uint8Array, signerInfo: Tlv): Omit<CmsSignerView, 'certificates'> {
  const [version, sid, digestAlgorithm, signedAttrs, _signatureAlgorithm, signature, unsignedAttrs] = readChildren(
    cms,
    signerInfo,
  );
  if (!version || !sid || !digestAlgorithm || !signedAttrs || !signature || signedAttrs.tag !== CONTEXT_0) {
    throw new CmsFormatError('the CMS signer has no signed attributes');
  }
  if (sid.tag !== SEQUENCE) throw new CmsFormatError('the CMS signer is not named by issuer and serial number');
  const [issuer, serial] = readChildren(cms, sid);
  if (!issuer || !serial) throw new CmsFormatError('the signer identifier is truncated');
  const algorithm = readChildren(cms, expect(cms, digestAlgorithm, SEQUENCE, 'digestAlgorithm'))[0];
  if (!algorithm) throw new CmsFormatError('the digest algorithm is missing');
  return {
    digestAlgorithm: oidOf(cms, expect(cms, algorithm, OID, 'digest algorithm')),
    signedAttributes: slice(cms, signedAttrs),
    messageDigest: messageDigestOf(cms, signedAttrs),
    issuerDer: slice(cms, expect(cms, issuer, SEQUENCE, 'issuer')),
    serialNumber: contentOf(cms, expect(cms, serial, INTEGER, 'serialNumber')),
    signature: contentOf(cms, expect(cms, signature, OCTET_STRING, 'signature')),
    unsignedAttributes: unsignedAttrs?.tag === CONTEXT_1 ? attributesOf(cms, unsignedAttrs) : [],
  };
}

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF } — the messageDigest's single OCTET STRING. */
function messageDigestOf(cms: Uint8Array, signedAttrs: Tlv): Uint8Array | undefined {
  for (const attribute of readChildren(cms, signedAttrs)) {
    const [type, values] = readChildren(cms, expect(cms, attribute, SEQUENCE, 'attribute'));
    if (!type || !values || type.tag !== OID || oidOf(cms, type) !== MESSAGE_DIGEST) continue;
    const value = readChildren(cms, expect(cms, values, SET, 'attribute values'))[0];
    return value?.tag === OCTET_STRING ? contentOf(cms, value) : undefined;
  }
  return undefined;
}

function attributesOf(cms: Uint8Array, attrs: Tlv): { type: string; value: Uint8Array }[] {
  return readChildren(cms, attrs).flatMap((attribute) => {
    const [type, values] = readChildren(cms, expect(cms, attribute, SEQUENCE, 'attribute'));
    const value = values ? readChildren(cms, expect(cms, values, SET, 'attribute values'))[0] : undefined;
    return type?.tag === OID && value ? [{ type: oidOf(cms, type), value: slice(cms, value) }] : [];
  });
}

function expect(cms: Uint8Array, tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) {
    throw new CmsFormatError(`${what} has tag 0x${tlv.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  if (tlv.end > cms.length) throw new CmsFormatError(`${what} runs past the end`);
  return tlv;
}

function contentOf(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.contentStart, tlv.end);
}

/** Dotted text of an OBJECT IDENTIFIER's content (base-128 arcs, the first byte holding the first two). */
export function oidOf(bytes: Uint8Array, tlv: Tlv): string {
  const arcs: number[] = [];
  let value = 0;
  for (let p = tlv.contentStart; p < tlv.end; p++) {
    const byte = bytes[p]!;
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    else arcs.push(value);
    value = 0;
  }
  return arcs.join('.');
}
