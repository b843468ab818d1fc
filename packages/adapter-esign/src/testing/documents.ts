/**
 * The PDF work of the emulator: reading pages and fields, filling templates, finding keywords and sealing. Filling
 * and inspection are core's (the renderer the SDK fills contracts with); sealing is the local signer's `sealPdf`, so
 * a signed document from the emulator is a real PAdES PDF that pdfsig and openssl verify.
 */
import { sealPdf, type SigningIdentity } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { inspectPdf, type PdfInspection, type PreparedTemplate, prepareTemplate } from '@sealflow/core';

export function looksLikePdf(bytes: Uint8Array): boolean {
  return bytes.length > 5 && Buffer.from(bytes.subarray(0, 5)).toString('latin1') === '%PDF-';
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

export interface SealPlacement {
  /** 0-based page. */
  page: number;
  /** Centre of the seal, PDF points from the page's lower-left corner. */
  centreX: number;
  centreY: number;
  width: number;
  height: number;
}

export function sealDocument(
  pdf: Uint8Array,
  input: {
    identity: SigningIdentity;
    fieldName: string;
    placement: SealPlacement | undefined;
    appearance: { image: Uint8Array } | { nameSeal: { name: string } } | undefined;
    reason: string;
    signingTime: Date;
  },
): Uint8Array {
  const { placement } = input;
  const rect = placement
    ? {
        x: placement.centreX - placement.width / 2,
        y: placement.centreY - placement.height / 2,
        width: placement.width,
        height: placement.height,
      }
    : { x: 0, y: 0, width: 0, height: 0 };
  return sealPdf(pdf, {
    identity: input.identity,
    field: { name: input.fieldName, page: placement?.page ?? 0, rect },
    ...(placement && input.appearance ? { appearance: input.appearance } : {}),
    reason: input.reason,
    signingTime: input.signingTime,
  });
}
