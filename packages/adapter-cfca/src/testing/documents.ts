/**
 * The PDF work of the emulator: reading pages, fields and keywords, filling templates, sealing, and zipping a batch
 * download. Filling and inspection are core's (the renderer the SDK fills contracts with); sealing is the local
 * signer's `sealPdf`, so a signed contract from the emulator is a real PAdES PDF that pdfsig and openssl verify.
 */
import { crc32 } from 'node:zlib';
import { sealPdf, type SigningIdentity } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { inspectPdf, type PdfInspection, type PreparedTemplate, prepareTemplate } from '@sealflow/core';

export function looksLikePdf(bytes: Uint8Array): boolean {
  return bytes.length > 5 && Buffer.from(bytes.subarray(0, 5)).toString('latin1') === '%PDF-';
}

export function looksLikePng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && Buffer.from(bytes.subarray(0, 8)).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
}

export async function inspect(bytes: Uint8Array, keywords: string[] = []): Promise<PdfInspection> {
  return inspectPdf(bytes, { keywords });
}

export async function prepare(bytes: Uint8Array): Promise<PreparedTemplate> {
  return prepareTemplate(bytes);
}

/** A certificate and picture to seal with; made on first use because key generation is the slow part. */
export class LazyIdentity {
  private identity: SigningIdentity | undefined;
  private picture: Uint8Array | undefined;

  constructor(
    private readonly commonName: string,
    private readonly organization: string | undefined,
  ) {}

  get signingIdentity(): SigningIdentity {
    this.identity ??= createTestSigningIdentity({
      commonName: this.commonName,
      ...(this.organization ? { organization: this.organization } : {}),
      keyType: 'ec',
    });
    return this.identity;
  }

  get image(): Uint8Array {
    this.picture ??= createSealImage({ size: 240 });
    return this.picture;
  }
}

/** Where a signature goes: an empty signature field of the PDF, or a new field at a rectangle. */
export type SealTarget =
  | { existingFieldName: string }
  /** 0-based page; rectangle in PDF points from the page's lower-left corner. */
  | { name: string; page: number; rect: { x: number; y: number; width: number; height: number } };

export function sealDocument(
  pdf: Uint8Array,
  input: {
    identity: SigningIdentity;
    target: SealTarget;
    appearance: { image: Uint8Array } | { nameSeal: { name: string } };
    reason: string;
    signingTime: Date;
  },
): Uint8Array {
  return sealPdf(pdf, {
    identity: input.identity,
    field: input.target,
    appearance: input.appearance,
    reason: input.reason,
    signingTime: input.signingTime,
  });
}

/** A ZIP archive of stored (uncompressed) entries: what the batch download answers with. */
export function zip(entries: { name: string; bytes: Uint8Array }[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.bytes);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, directory, end]));
}
