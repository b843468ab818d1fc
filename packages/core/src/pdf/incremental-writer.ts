/**
 * Appends an incremental update (PDF 32000-1 §7.5.6) to untouched template bytes: the changed and new objects, a
 * cross-reference section for just those objects, and a trailer whose /Prev points at the template's last section.
 * The template is never re-serialized, so its bytes (and any signature over them) stay valid and the cost of a
 * render depends on what changed, not on the template's size.
 *
 * The cross-reference section and trailer come from the PDF toolkit (the sealer ends its updates the same way); this
 * file serializes pdf-lib objects.
 */
import { xrefSection } from '@sealflow/pdf-toolkit';
import type { PDFObject } from 'pdf-lib';
import { PDFName, PDFNumber, PDFRawStream, PDFRef } from './pdf-lib.js';
import { PdfUpdateInconsistentError } from './errors.js';
import type { LastXref } from './load.js';

export type UpdatedObject =
  | { ref: PDFRef; object: PDFObject }
  /**
   * Already serialized: `text` is the object's value (a stream's dictionary, /Length included), `data` a stream's
   * contents. The renderer writes its per-document objects this way instead of building pdf-lib objects for them.
   */
  | { ref: PDFRef; text: string; data?: Uint8Array };

export interface TrailerEntries {
  Root: PDFObject;
  Info?: PDFObject | undefined;
  ID?: PDFObject | undefined;
}

export function appendIncrementalUpdate(
  template: Uint8Array,
  lastXref: LastXref,
  objects: readonly UpdatedObject[],
  trailer: TrailerEntries,
  nextObjectNumber: number,
): Uint8Array {
  assertUniqueObjectNumbers(objects, nextObjectNumber);
  const lastByte = template[template.length - 1];
  const separator = lastByte === 0x0a || lastByte === 0x0d ? '' : '\n';
  // Each object as text (one toString walk; pdf-lib's sizeInBytes + copyBytesInto walk every dict twice and copy
  // stream bytes one by one) plus, for streams, the raw contents copied in one go. Same bytes as copyBytesInto.
  const texts: string[] = [];
  const datas: (Uint8Array | undefined)[] = [];
  let size = template.length + separator.length;
  const offsets: number[] = [];
  for (const o of objects) {
    offsets.push(size);
    const head = `${o.ref.objectNumber} ${o.ref.generationNumber} obj\n`;
    if ('text' in o) {
      const text = o.data ? `${head}${o.text}\nstream\n` : `${head}${o.text}\nendobj\n`;
      texts.push(text);
      datas.push(o.data);
      size += text.length + (o.data ? o.data.length + STREAM_FOOTER.length : 0);
      continue;
    }
    const object = o.object;
    if (object instanceof PDFRawStream) {
      object.dict.set(PDFName.Length, PDFNumber.of(object.contents.length));
      const text = `${head}${object.dict.toString()}\nstream\n`;
      texts.push(text);
      datas.push(object.contents);
      size += text.length + object.contents.length + STREAM_FOOTER.length;
    } else {
      const text = `${head}${object.toString()}\nendobj\n`;
      texts.push(text);
      datas.push(undefined);
      size += text.length;
    }
  }
  const tail = xrefSection({
    kind: lastXref.kind,
    entries: objects.map((o, i) => ({ num: o.ref.objectNumber, gen: o.ref.generationNumber, offset: offsets[i]! })),
    trailer: trailerEntries(trailer),
    prev: lastXref.offset,
    size: nextObjectNumber,
    at: size,
  });
  size += tail.length;

  const out = new Uint8Array(size);
  out.set(template, 0);
  let at = template.length;
  if (separator) out[at++] = 0x0a;
  for (let i = 0; i < texts.length; i++) {
    at = writeLatin1(out, at, texts[i]!);
    const data = datas[i];
    if (data) {
      out.set(data, at);
      at = writeLatin1(out, at + data.length, STREAM_FOOTER);
    }
  }
  out.set(tail, at);
  return out;
}

/**
 * An update lists each object once, below its /Size. A number listed twice leaves each reader to pick one of the
 * copies (poppler took a dictionary that was meant to be a font, and the values vanished while signatures still
 * verified), so the writer refuses rather than emit it. One Set over the ~80 objects of a render: microseconds.
 */
function assertUniqueObjectNumbers(objects: readonly UpdatedObject[], nextObjectNumber: number): void {
  const seen = new Set<number>();
  for (const o of objects) {
    const n = o.ref.objectNumber;
    if (seen.has(n)) throw new PdfUpdateInconsistentError(n, 'duplicate');
    if (n < 1 || n >= nextObjectNumber) throw new PdfUpdateInconsistentError(n, 'out-of-range');
    seen.add(n);
  }
}

const STREAM_FOOTER = '\nendstream\nendobj\n';

/** Latin-1 code units as bytes, like pdf-lib's copyStringIntoBuffer. */
function writeLatin1(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
  return at;
}

function trailerEntries(trailer: TrailerEntries): string {
  let body = `/Root ${trailer.Root.toString()}`;
  if (trailer.Info) body += ` /Info ${trailer.Info.toString()}`;
  if (trailer.ID) body += ` /ID ${trailer.ID.toString()}`;
  return body;
}

/** `PDFRef.of` with a number that cannot collide with the template's objects. */
export function newRef(objectNumber: number): PDFRef {
  return PDFRef.of(objectNumber, 0);
}
