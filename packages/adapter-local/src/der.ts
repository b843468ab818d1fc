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
