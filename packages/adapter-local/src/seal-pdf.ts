/**
 * `sealPdf`: adds one PAdES baseline-B signature (with an optional visible seal) as an incremental update.
 *
 * Only the trailer, the cross-reference data and the few objects a signature touches are parsed (catalog, AcroForm,
 * the page tree down to one page, the fields); the update appends a /Sig dictionary, the field/widget, its
 * appearance and the changed page/AcroForm, then /ByteRange is patched in place, the two ranges are hashed without
 * copying, and the CMS is written into the reserved /Contents. Earlier bytes (and so earlier signatures) are untouched.
 */
import { createHash } from 'node:crypto';
import { buildCadesSignature, maxCadesSignatureLength } from './cms.js';
import { type TimestampAuthority, TimestampError } from '@sealflow/core';
import { readCmsSigner } from './cms-reader.js';
import { parseTimestampToken } from './timestamp/rfc3161.js';
import { addUnsignedAttribute, toHex } from './der.js';
import { SealingError, withSealingErrors } from './errors.js';
import { imageXObject } from './images.js';
import { IncrementalUpdate } from './incremental-writer.js';
import { nameSealOperators } from './name-seal.js';
import {
  dict,
  missing,
  name,
  PdfDict,
  type PdfName,
  PdfRaw,
  PdfReader,
  PdfRef,
  PdfStream,
  PdfString,
  type PdfValue,
} from '@sealflow/pdf-toolkit';
import type { SigningIdentity } from './signing-identity.js';

/** id-aa-signatureTimeStampToken (RFC 3161 Appendix A, ETSI EN 319 122-1). */
const SIGNATURE_TIME_STAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';

/** A rectangle on a PDF page, in PDF points from the page's lower-left corner. */
export interface Rect {
  /** From the page's lower-left corner, in PDF points (1/72 inch). */
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where a signature goes: a new field at a rectangle on a page, or an existing empty signature field by name. */
export type SealField =
  /** A new signature field; `page` is 0-based (like the template fixtures). A 0×0 rect makes an invisible signature. */
  | { name?: string; page: number; rect: Rect }
  /** An empty signature field already in the document (fully qualified name, "parent.child"). */
  | { existingFieldName: string };

/** What the signature shows on the page; with none of these the field is an empty box (the signature still verifies). */
export interface SealAppearance {
  /** The seal picture, PNG (transparency kept) or JPEG, fitted into the field keeping its aspect ratio. */
  image?: Uint8Array;
  /**
   * A person's name seal instead of a picture: a square red seal with `name` drawn in a CJK font (by default the
   * Noto Sans SC that @sealflow/core bundles; `font` takes a TrueType font's bytes). The name is personal data: it is
   * drawn on the page as outlines and never appears in errors.
   */
  nameSeal?: { name: string; font?: Uint8Array };
  /**
   * A caption drawn under the image in Helvetica, e.g. "Signed by Example Co. 2025-11-10". Latin-1 only: Chinese text
   * needs an embedded CJK font, so put it in the seal image instead.
   */
  text?: string;
}

/** One signature for {@link sealPdf}: who signs, where, how it looks, and the descriptive entries of the signature. */
export interface SealOptions {
  identity: SigningIdentity;
  field: SealField;
  appearance?: SealAppearance;
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** Goes into the signature dictionary's /M (PAdES forbids signingTime in the CMS for ETSI.CAdES.detached). */
  signingTime: Date;
  /** /Name of the signature dictionary; defaults to the certificate's common name. */
  signerName?: string;
}

/**
 * A signature with a signature timestamp (PAdES baseline B-T): the TSA's token over the signature value goes into the
 * CMS as the unsigned attribute signature-time-stamp (1.2.840.113549.1.9.16.2.14), so the signature carries a time
 * that the signing machine's clock cannot move.
 */
export interface TimestampedSealOptions extends SealOptions {
  /** The TSA asked for the signature timestamp; its errors (`TimestampError`) fail the seal. */
  timestampAuthority: TimestampAuthority;
}

const BYTE_RANGE_WIDTH = 36; // "0 " + three 10-digit numbers and spaces: fits files up to 9.3 GB

/**
 * Returns `pdf` with one more PAdES baseline-B signature appended as an incremental update, so earlier signatures stay
 * valid. Throws a `SealingError` (PDF_MALFORMED, PDF_UNSUPPORTED, SIGNATURE_FIELD, INVALID_INPUT) for a PDF or an
 * option it cannot seal.
 */
export function sealPdf(pdf: Uint8Array, options: TimestampedSealOptions): Promise<Uint8Array>;
/**
 * With `timestampAuthority` (see {@link TimestampedSealOptions}) the seal is PAdES baseline B-T and the result a
 * promise, since the TSA is asked over the network; a TSA failure rejects with its `TimestampError`.
 */
export function sealPdf(pdf: Uint8Array, options: SealOptions): Uint8Array;
export function sealPdf(
  pdf: Uint8Array,
  options: SealOptions | TimestampedSealOptions,
): Uint8Array | Promise<Uint8Array> {
  if ('timestampAuthority' in options && options.timestampAuthority !== undefined) {
    return sealTimestamped(pdf, options);
  }
  return withSealingErrors(() => {
    const prepared = prepare(pdf, options, 0);
    return fill(prepared, buildCadesSignature(options.identity, prepared.digest));
  });
}

/** Room for a token per TSA: learnt from its last token, since a TSA's tokens hardly vary in size. */
const tokenRoom = new WeakMap<TimestampAuthority, number>();
/** A token with a TSA certificate and one intermediate fits; a larger one makes the seal start over with more room. */
const DEFAULT_TOKEN_ROOM = 8192;

async function sealTimestamped(pdf: Uint8Array, options: TimestampedSealOptions): Promise<Uint8Array> {
  const tsa = options.timestampAuthority;
  for (let attempt = 0; ; attempt++) {
    const room = tokenRoom.get(tsa) ?? DEFAULT_TOKEN_ROOM;
    const prepared = withSealingErrors(() => prepare(pdf, options, room));
    const cms = buildCadesSignature(options.identity, prepared.digest);
    // RFC 3161 Appendix A: the imprint is the hash of the SignerInfo's signature value (the OCTET STRING's content).
    const signatureValue = readCmsSigner(cms).signature;
    const imprint = createHash('sha256').update(signatureValue).digest();
    const token = await tsa.timestamp(imprint, { hashAlgorithm: 'sha256' });
    // A token over anything else would give the signature a timestamp every validator rejects: refuse it here too,
    // whichever TimestampAuthority implementation produced it.
    if (!Buffer.from(parseTimestampToken(token.token).digest).equals(imprint)) {
      throw new TimestampError(
        'TSA_RESPONSE_MISMATCH',
        `The TSA ${tsa.name} returned a token for another digest than the signature's; it was not embedded.`,
        { details: { tsa: tsa.name } },
      );
    }
    const stamped = addUnsignedAttribute(cms, SIGNATURE_TIME_STAMP_TOKEN, token.token);
    const needed = stamped.length - cms.length + 512;
    if (needed > room) tokenRoom.set(tsa, needed);
    if (stamped.length <= prepared.reserved) return fill(prepared, stamped);
    if (attempt > 0) {
      throw new Error(`sealPdf: the timestamped signature (${stamped.length} bytes) outgrew its reserved space`);
    }
  }
}

interface PreparedSeal {
  out: Buffer;
  gapStart: number;
  reserved: number;
  digest: Buffer;
}

function fill(prepared: PreparedSeal, cms: Uint8Array): Uint8Array {
  if (cms.length > prepared.reserved) {
    throw new Error(
      `sealPdf: the signature (${cms.length} bytes) outgrew its reserved space (${prepared.reserved} bytes)`,
    );
  }
  prepared.out.write(toHex(cms), prepared.gapStart + 1, 'latin1');
  return prepared.out;
}

/** Everything up to the digest of the signed byte ranges, with `extraRoom` more bytes of /Contents reserved. */
function prepare(pdf: Uint8Array, options: SealOptions, extraRoom: number): PreparedSeal {
  const { identity } = options;
  if (!(options.signingTime instanceof Date) || Number.isNaN(options.signingTime.getTime())) {
    throw new SealingError('INVALID_INPUT', 'signingTime must be a valid Date.');
  }
  return prepareField(pdf, {
    field: options.field,
    appearance: options.appearance,
    reserved: maxCadesSignatureLength(identity) + extraRoom,
    digestAlgorithm: identity.digestAlgorithm,
    entries: {
      Type: name('Sig'),
      SubFilter: name('ETSI.CAdES.detached'),
      M: new PdfString(Buffer.from(pdfDate(options.signingTime), 'latin1')),
      Name: text(options.signerName ?? identity.commonName),
      Reason: text(options.reason),
      Location: text(options.location),
      ContactInfo: text(options.contactInfo),
    },
  });
}

/** What goes into the signature dictionary besides /Filter, /ByteRange and /Contents, and where its field goes. */
interface FieldSpec {
  field: SealField;
  appearance: SealAppearance | undefined;
  /** Bytes of /Contents to reserve. */
  reserved: number;
  /** The hash of the byte ranges: the signer's digest (SM3 for SM2), SHA-256 otherwise. */
  digestAlgorithm?: 'sha256' | 'sm3';
  entries: Record<string, PdfValue | undefined>;
}

/**
 * Options of {@link addDocumentTimestamp}: the TSA, and optionally the name of the (invisible) field that holds the
 * timestamp.
 */
export interface DocumentTimestampOptions {
  timestampAuthority: TimestampAuthority;
  /** Name of the new invisible field; default `DocTimeStamp1`, `DocTimeStamp2`, … */
  fieldName?: string;
}

/**
 * Appends a document timestamp (`/Type /DocTimeStamp`, `/SubFilter /ETSI.RFC3161`) as its own incremental update:
 * the TSA's token over the SHA-256 of everything but its own /Contents, so the whole document as it stands, earlier
 * signatures included, is proven to have existed at the TSA's time (the building block of PAdES B-LTA). Rejects with
 * the TSA's `TimestampError`, or a `SealingError` for a PDF it cannot update.
 */
export async function addDocumentTimestamp(pdf: Uint8Array, options: DocumentTimestampOptions): Promise<Uint8Array> {
  const tsa = options.timestampAuthority;
  for (let attempt = 0; ; attempt++) {
    const room = tokenRoom.get(tsa) ?? DEFAULT_TOKEN_ROOM;
    const prepared = withSealingErrors(() =>
      prepareField(pdf, {
        field: {
          page: 0,
          rect: { x: 0, y: 0, width: 0, height: 0 },
          name: options.fieldName ?? `DocTimeStamp${countDocTimeStamps(pdf) + 1}`,
        },
        appearance: undefined,
        reserved: room,
        entries: { Type: name('DocTimeStamp'), SubFilter: name('ETSI.RFC3161') },
      }),
    );
    const token = await tsa.timestamp(prepared.digest, { hashAlgorithm: 'sha256' });
    if (!Buffer.from(parseTimestampToken(token.token).digest).equals(prepared.digest)) {
      throw new TimestampError(
        'TSA_RESPONSE_MISMATCH',
        `The TSA ${tsa.name} returned a token for another digest than the document's; it was not embedded.`,
        { details: { tsa: tsa.name } },
      );
    }
    if (token.token.length + 512 > room) tokenRoom.set(tsa, token.token.length + 512);
    if (token.token.length <= prepared.reserved) return fill(prepared, token.token);
    if (attempt > 0) throw new Error('addDocumentTimestamp: the token outgrew its reserved space');
  }
}

function countDocTimeStamps(pdf: Uint8Array): number {
  return Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength).toString('latin1').split('/DocTimeStamp').length - 1;
}

function prepareField(pdf: Uint8Array, options: FieldSpec): PreparedSeal {
  const reader = new PdfReader(pdf);
  const update = new IncrementalUpdate(reader);
  const rootRef = reader.trailer.get('Root');
  const catalog = reader.dict(rootRef);
  if (!(rootRef instanceof PdfRef) || !catalog)
    throw new SealingError('PDF_MALFORMED', 'The PDF has no document catalog (/Root).');
  refuseIfCertifiedNoChanges(reader, catalog);

  // --- the /Sig dictionary with fixed-size placeholders
  const { reserved, entries } = options;
  let contentsOffset = -1;
  let byteRangeOffset = -1;
  const sigRef = update.allocate();
  const sig = dict({
    Type: entries.Type,
    Filter: name('Adobe.PPKLite'),
    SubFilter: entries.SubFilter,
    ByteRange: new PdfRaw(Buffer.from(`[${' '.repeat(BYTE_RANGE_WIDTH)}]`, 'latin1'), (o) => {
      byteRangeOffset = o + 1;
    }),
    Contents: new PdfRaw(Buffer.from(`<${'0'.repeat(reserved * 2)}>`, 'latin1'), (o) => {
      contentsOffset = o;
    }),
    M: entries.M,
    Name: entries.Name,
    Reason: entries.Reason,
    Location: entries.Location,
    ContactInfo: entries.ContactInfo,
  });
  update.set(sigRef, sig);

  // --- the field and its widget
  const acro = acroForm(reader, catalog);
  if ('existingFieldName' in options.field) {
    const found = findField(reader, acro.fields, options.field.existingFieldName);
    if (!found) {
      throw new SealingError(
        'SIGNATURE_FIELD',
        `There is no field named "${options.field.existingFieldName}" in the document; pass { page, rect } to create one.`,
      );
    }
    if (found.fieldType !== 'Sig')
      throw new SealingError('SIGNATURE_FIELD', `Field "${options.field.existingFieldName}" is not a signature field.`);
    if (found.dict.get('V') !== undefined) {
      throw new SealingError(
        'SIGNATURE_FIELD',
        `Signature field "${options.field.existingFieldName}" is already signed; create a new field for another signature.`,
      );
    }
    const field = found.dict.clone().set('V', sigRef);
    const kids = reader.array(field.get('Kids'));
    const widgetRef = kids?.[0] instanceof PdfRef ? kids[0] : found.ref;
    const widget = widgetRef === found.ref ? field : reader.dict(widgetRef)?.clone();
    if (!widget) throw new SealingError('PDF_MALFORMED', 'The signature field has no widget annotation.');
    const r = (reader.resolve(widget.get('Rect')) as number[] | undefined) ?? [0, 0, 0, 0];
    const rect = normalizeRect(r);
    widget.set('AP', dict({ N: appearanceStream(update, rect.width, rect.height, options.appearance) }));
    update.set(found.ref, field);
    if (widget !== field) update.set(widgetRef, widget);
  } else {
    const { page, rect } = options.field;
    checkRect(rect);
    const pageInfo = findPage(reader, catalog, page);
    const existing = collectTopLevelNames(reader, acro.fields);
    const fieldName = options.field.name ?? nextName(existing);
    if (existing.has(fieldName)) {
      throw new SealingError(
        'SIGNATURE_FIELD',
        `A field named "${fieldName}" already exists; pass { existingFieldName: "${fieldName}" } to sign it, or choose another name.`,
      );
    }
    const widgetRef = update.allocate();
    const widget = dict({
      Type: name('Annot'),
      Subtype: name('Widget'),
      FT: name('Sig'),
      T: PdfString.text(fieldName),
      V: sigRef,
      F: rect.width === 0 || rect.height === 0 ? 132 : 4, // print; hidden+locked for invisible signatures
      P: pageInfo.ref,
      Rect: [rect.x, rect.y, rect.x + rect.width, rect.y + rect.height],
      AP: dict({ N: appearanceStream(update, rect.width, rect.height, options.appearance) }),
    });
    update.set(widgetRef, widget);

    // Page /Annots: a direct array lives in the page dict, an indirect one is rewritten as its own object.
    const annots = pageInfo.dict.get('Annots');
    if (annots instanceof PdfRef) {
      update.set(annots, [...(reader.array(annots) ?? []), widgetRef]);
    } else {
      update.set(
        pageInfo.ref,
        pageInfo.dict.clone().set('Annots', [...((annots as PdfValue[] | undefined) ?? []), widgetRef]),
      );
    }
    acro.addField(update, widgetRef);
  }
  acro.commit(update, rootRef, catalog);

  // --- write, patch /ByteRange, hash, sign, fill /Contents
  const chunks = update.write();
  const out = Buffer.concat([pdf, ...chunks]);
  if (contentsOffset < 0 || byteRangeOffset < 0) throw new Error('sealPdf: placeholders were not written');
  const gapStart = contentsOffset;
  const gapEnd = contentsOffset + reserved * 2 + 2;
  const byteRange = `0 ${gapStart} ${gapEnd} ${out.length - gapEnd}`;
  out.write(byteRange.padEnd(BYTE_RANGE_WIDTH, ' '), byteRangeOffset, 'latin1');
  const digest = createHash(options.digestAlgorithm ?? 'sha256')
    .update(out.subarray(0, gapStart))
    .update(out.subarray(gapEnd))
    .digest();
  return { out, gapStart, reserved, digest };
}

// -----------------------------------------------------------------------------------------------------------------

function text(s: string | undefined): PdfString | undefined {
  return s === undefined ? undefined : PdfString.text(s);
}

/** D:YYYYMMDDHHmmSS+00'00' in UTC. */
function pdfDate(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `D:${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+00'00'`;
}

function checkRect(r: Rect): void {
  const ok = [r.x, r.y, r.width, r.height].every((n) => Number.isFinite(n)) && r.width >= 0 && r.height >= 0;
  if (!ok)
    throw new SealingError(
      'INVALID_INPUT',
      'field.rect needs finite x, y and non-negative width and height (PDF points).',
    );
}

function normalizeRect(r: number[]): Rect {
  const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = r;
  return { x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) };
}

function refuseIfCertifiedNoChanges(reader: PdfReader, catalog: PdfDict): void {
  const docMdp = reader.dict(reader.dict(catalog.get('Perms'))?.get('DocMDP'));
  for (const ref of reader.array(docMdp?.get('Reference')) ?? []) {
    const p = reader.dict(reader.dict(ref)?.get('TransformParams'))?.get('P');
    if (p === 1) {
      throw new SealingError(
        'PDF_UNSUPPORTED',
        'The document is certified with "no changes allowed" (DocMDP P=1); any further signature would invalidate it.',
      );
    }
  }
}

function findPage(reader: PdfReader, catalog: PdfDict, index: number): { ref: PdfRef; dict: PdfDict } {
  if (!Number.isInteger(index) || index < 0)
    throw new SealingError('INVALID_INPUT', 'field.page is a 0-based page index.');
  let node = catalog.get('Pages');
  let remaining = index;
  for (let depth = 0; depth < 64; depth++) {
    const d = reader.dict(node);
    if (!d) break;
    const kids = reader.array(d.get('Kids')) ?? [];
    let next: PdfValue | undefined;
    for (const kid of kids) {
      // Pages before the wanted one are only counted: peek at /Type, /Kids and /Count without parsing their
      // (often large) dictionaries; fall back to a full parse when the peek cannot tell.
      const peek = reader.pageTreeNode(kid);
      let isPage: boolean;
      let count: number;
      if (peek) {
        isPage = peek.type === 'Page' || !peek.hasKids;
        count = isPage ? 1 : (peek.count ?? 0);
      } else {
        const kd = reader.dict(kid);
        if (!kd) continue;
        isPage = (kd.get('Type') as PdfName | undefined)?.name === 'Page' || kd.get('Kids') === undefined;
        count = isPage ? 1 : ((reader.resolve(kd.get('Count')) as number | undefined) ?? 0);
      }
      if (remaining < count) {
        if (isPage) {
          if (!(kid instanceof PdfRef)) throw new SealingError('PDF_MALFORMED', 'A page is not an indirect object.');
          const kd = reader.dict(kid);
          if (!kd) throw new SealingError('PDF_MALFORMED', 'A page object is missing.');
          return { ref: kid, dict: kd };
        }
        next = kid;
        break;
      }
      remaining -= count;
    }
    if (next === undefined) break;
    node = next;
  }
  throw new SealingError('INVALID_INPUT', `field.page ${index} does not exist in this document (pages are 0-based).`);
}

interface AcroFormHandle {
  fields: PdfValue[];
  addField(update: IncrementalUpdate, ref: PdfRef): void;
  commit(update: IncrementalUpdate, rootRef: PdfRef, catalog: PdfDict): void;
}

/** AcroForm may be indirect, direct in the catalog, or missing; /Fields may be indirect too. */
function acroForm(reader: PdfReader, catalog: PdfDict): AcroFormHandle {
  const acroValue = catalog.get('AcroForm');
  const acro = reader.dict(acroValue)?.clone() ?? new PdfDict();
  const fieldsValue = acro.get('Fields');
  const fields = [...(reader.array(fieldsValue) ?? [])];
  let added = false;
  return {
    fields,
    addField(_update, ref) {
      fields.push(ref);
      added = true;
    },
    commit(update, rootRef) {
      if (added) {
        if (fieldsValue instanceof PdfRef) update.set(fieldsValue, fields);
        else acro.set('Fields', fields);
      }
      acro.set('SigFlags', 3); // SignaturesExist | AppendOnly
      if (acroValue instanceof PdfRef) {
        update.set(acroValue, acro);
      } else {
        const ref = update.allocate();
        update.set(ref, acro);
        update.set(rootRef, catalog.clone().set('AcroForm', ref));
      }
    },
  };
}

interface FoundField {
  ref: PdfRef;
  dict: PdfDict;
  fieldType: string | undefined;
}

function findField(reader: PdfReader, fields: PdfValue[], fullName: string): FoundField | undefined {
  const walk = (
    items: PdfValue[],
    prefix: string,
    inheritedFt: string | undefined,
    depth: number,
  ): FoundField | undefined => {
    if (depth > 32) return undefined;
    for (const item of items) {
      const d = reader.dict(item);
      if (!d || !(item instanceof PdfRef)) continue;
      const t = reader.resolve(d.get('T'));
      const partial = t instanceof PdfString ? t.toText() : undefined;
      const full = partial === undefined ? prefix : prefix ? `${prefix}.${partial}` : partial;
      const ft = (d.get('FT') as PdfName | undefined)?.name ?? inheritedFt;
      if (partial !== undefined && full === fullName) return { ref: item, dict: d, fieldType: ft };
      const kids = reader.array(d.get('Kids'));
      if (kids && partial !== undefined) {
        const hit = walk(kids, full, ft, depth + 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  return walk(fields, '', undefined, 0);
}

function collectTopLevelNames(reader: PdfReader, fields: PdfValue[]): Set<string> {
  const names = new Set<string>();
  for (const f of fields) {
    // Only /T is needed: peek at it rather than parse each field's whole dictionary (values, appearances).
    const peeked = reader.peekEntry(f, 'T');
    const t = reader.resolve(peeked === undefined ? reader.dict(f)?.get('T') : peeked === missing ? undefined : peeked);
    if (t instanceof PdfString) names.add(t.toText());
  }
  return names;
}

function nextName(existing: Set<string>): string {
  for (let i = 1; ; i++) if (!existing.has(`Signature${i}`)) return `Signature${i}`;
}

/** The widget's normal appearance: the seal image or name seal fitted into the box, and an optional caption below. */
function appearanceStream(
  update: IncrementalUpdate,
  width: number,
  height: number,
  appearance?: SealAppearance,
): PdfRef {
  const ops: string[] = [];
  const xobjects = new PdfDict();
  const fonts = new PdfDict();
  let captionHeight = 0;
  if (appearance?.text && width > 0 && height > 0) {
    const lines = appearance.text.split('\n');
    if (!lines.every((l) => /^[\x20-\x7e\xa0-\xff]*$/.test(l))) {
      throw new SealingError(
        'INVALID_INPUT',
        'appearance.text can only hold Latin-1 characters (it is drawn in Helvetica); draw Chinese text into the seal image instead.',
      );
    }
    const size = Math.max(4, Math.min(10, (height * 0.3) / lines.length));
    captionHeight = size * 1.2 * lines.length + 2;
    fonts.set(
      'Helv',
      dict({
        Type: name('Font'),
        Subtype: name('Type1'),
        BaseFont: name('Helvetica'),
        Encoding: name('WinAnsiEncoding'),
      }),
    );
    ops.push('BT', `/Helv ${fmt(size)} Tf`, '0 g');
    lines.forEach((line, i) => {
      const y = captionHeight - 2 - size * 1.2 * (i + 1) + size * 0.25;
      ops.push(`1 0 0 1 2 ${fmt(y)} Tm`, `${latin1Literal(line)} Tj`);
    });
    ops.push('ET');
  }
  if (appearance?.image && appearance.nameSeal) {
    throw new SealingError('INVALID_INPUT', 'appearance takes an image or a nameSeal, not both.');
  }
  if (appearance?.nameSeal && width > 0 && height > 0) {
    const seal = nameSealOperators(appearance.nameSeal.name, width, height - captionHeight, appearance.nameSeal.font);
    ops.unshift('q', `1 0 0 1 0 ${fmt(captionHeight)} cm`, seal, 'Q');
  }
  if (appearance?.image && width > 0 && height > 0) {
    const img = imageXObject(appearance.image);
    const imageRef = update.allocate();
    if (img.smask) {
      const smaskRef = update.allocate();
      update.set(smaskRef, img.smask);
      img.image.dict.set('SMask', smaskRef);
    }
    update.set(imageRef, img.image);
    xobjects.set('Seal', imageRef);
    const boxH = height - captionHeight;
    const scale = Math.min(width / img.width, boxH / img.height);
    const w = img.width * scale;
    const h = img.height * scale;
    ops.unshift(
      'q',
      `${fmt(w)} 0 0 ${fmt(h)} ${fmt((width - w) / 2)} ${fmt(captionHeight + (boxH - h) / 2)} cm`,
      '/Seal Do',
      'Q',
    );
  }
  const resources = new PdfDict();
  if (xobjects.map.size) resources.set('XObject', xobjects);
  if (fonts.map.size) resources.set('Font', fonts);
  const ref = update.allocate();
  update.set(
    ref,
    new PdfStream(
      dict({ Type: name('XObject'), Subtype: name('Form'), BBox: [0, 0, width, height], Resources: resources }),
      Buffer.from(ops.join('\n'), 'latin1'),
    ),
  );
  return ref;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}

function latin1Literal(s: string): string {
  return `(${s.replace(/[\\()]/g, '\\$&')})`;
}
