/**
 * Two small DER helpers that the ASN.1 libraries do not give us.
 *
 * - `readTlv` slices a DER element out of a buffer WITHOUT decoding it, so we can copy the certificate's issuer Name
 *   and serial number byte for byte (re-encoding them is exactly how node-forge breaks Chinese DNs).
 * - `RawDer` is an asn1js block that writes given bytes verbatim, so a certificate or Name can sit inside a structure
 *   built with asn1js without ever being decoded and re-encoded.
 */
import * as asn1js from 'asn1js';
import { SealingError } from './errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte in the buffer given to `readTlv`. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

/** Reads one DER element (single-byte tags only: all CMS/X.509 tags we walk are below 31). */
export function readTlv(bytes: Uint8Array, offset: number): Tlv {
  const tag = bytes[offset];
  let p = offset + 1;
  const first = bytes[p++];
  if (tag === undefined || first === undefined) throw malformed('element runs past the end');
  let length = first;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw malformed('indefinite or oversized length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[p++] ?? 0);
  }
  const end = p + length;
  if (end > bytes.length) throw malformed('element runs past the end');
  return { tag, start: offset, contentStart: p, end };
}

/** The children of a constructed element. */
export function readChildren(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const child = readTlv(bytes, p);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function slice(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.start, tlv.end);
}

function malformed(why: string): SealingError {
  return new SealingError('CERTIFICATE_INVALID', `The certificate or signature is not valid DER (${why}).`);
}

/** An asn1js block whose encoding is the given bytes, untouched. */
export class RawDer extends asn1js.BaseBlock {
  readonly raw: ArrayBuffer;
  constructor(bytes: Uint8Array) {
    super();
    this.raw = bytes.slice().buffer;
  }
  override toBER(_sizeOnly?: boolean, writer?: { write(buf: ArrayBuffer): void }): ArrayBuffer {
    if (writer) {
      writer.write(this.raw);
      return new ArrayBuffer(0);
    }
    return this.raw;
  }
}

/** Serialize an asn1js tree to bytes. */
export function encode(block: asn1js.BaseBlock): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Tag + DER length + content. */
function wrap(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = tag;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/**
 * The CMS ContentInfo `cms` with one unsigned attribute `type` = SET { value } added to its first SignerInfo, which
 * must have none yet. Only the lengths of the enclosing elements change: every signed byte is kept as it was.
 */
export function addUnsignedAttribute(cms: Uint8Array, type: string, value: Uint8Array): Uint8Array {
  const contentInfo = readTlv(cms, 0);
  const [contentType, explicit] = readChildren(cms, contentInfo);
  const signedData = explicit ? readChildren(cms, explicit)[0] : undefined;
  if (!contentType || !explicit || !signedData) throw malformed('the CMS has no SignedData');
  const signerInfos = readChildren(cms, signedData).at(-1);
  const signerInfo = signerInfos ? readChildren(cms, signerInfos)[0] : undefined;
  if (!signerInfos || !signerInfo || signerInfos.tag !== 0x31) throw malformed('the CMS has no SignerInfo');
  if (readChildren(cms, signerInfo).some((t) => t.tag === 0xa1)) throw malformed('the signer has unsigned attributes');
  const attribute = encode(
    new asn1js.Sequence({
      value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Set({ value: [new RawDer(value)] })],
    }),
  );
  const newSignerInfo = wrap(
    0x30,
    concat(cms.subarray(signerInfo.contentStart, signerInfo.end), wrap(0xa1, attribute)),
  );
  const newSignerInfos = wrap(
    0x31,
    concat(
      cms.subarray(signerInfos.contentStart, signerInfo.start),
      newSignerInfo,
      cms.subarray(signerInfo.end, signerInfos.end),
    ),
  );
  const newSignedData = wrap(0x30, concat(cms.subarray(signedData.contentStart, signerInfos.start), newSignerInfos));
  return wrap(0x30, concat(slice(cms, contentType), wrap(explicit.tag, newSignedData)));
}
