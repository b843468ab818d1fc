/**
 * Appends an incremental update (PDF 32000-1 §7.5.6) to untouched template bytes: the changed and new objects, a
 * cross-reference section for just those objects, and a trailer whose /Prev points at the template's last section.
 * The template is never re-serialized, so its bytes (and any signature over them) stay valid and the cost of a
 * render depends on what changed, not on the template's size.
 *
 * The new section has the same kind as the template's last one: a classic table after a table, a cross-reference
 * stream after a stream, because readers that follow /Prev expect one kind of chain.
 */
import type { PDFObject } from 'pdf-lib';
import { PDFName, PDFNumber, PDFRawStream, PDFRef } from 'pdf-lib';
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

const encoder = new TextEncoder();

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
  const xrefOffset = size;
  const entries = objects.map((o, i) => ({
    num: o.ref.objectNumber,
    gen: o.ref.generationNumber,
    offset: offsets[i]!,
  }));
  const tail =
    lastXref.kind === 'table'
      ? classicXref(entries, trailer, lastXref.offset, nextObjectNumber, xrefOffset)
      : xrefStream(entries, trailer, lastXref.offset, nextObjectNumber, xrefOffset);
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

interface XrefEntry {
  num: number;
  gen: number;
  offset: number;
}

/** Consecutive object numbers grouped into subsections: [[first, entries…], …]. */
function subsections(entries: XrefEntry[]): XrefEntry[][] {
  const sorted = [...entries].sort((a, b) => a.num - b.num);
  const groups: XrefEntry[][] = [];
  for (const e of sorted) {
    const current = groups[groups.length - 1];
    const last = current?.[current.length - 1];
    if (current && last && last.num + 1 === e.num) current.push(e);
    else groups.push([e]);
  }
  return groups;
}

function trailerBody(trailer: TrailerEntries, prev: number, size: number): string {
  let body = `/Size ${size} /Root ${trailer.Root.toString()}`;
  if (trailer.Info) body += ` /Info ${trailer.Info.toString()}`;
  if (trailer.ID) body += ` /ID ${trailer.ID.toString()}`;
  return `${body} /Prev ${prev}`;
}

function classicXref(
  entries: XrefEntry[],
  trailer: TrailerEntries,
  prev: number,
  size: number,
  at: number,
): Uint8Array {
  let text = 'xref\n';
  for (const group of subsections(entries)) {
    text += `${group[0]!.num} ${group.length}\n`;
    for (const e of group) text += `${String(e.offset).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n \n`;
  }
  text += `trailer\n<< ${trailerBody(trailer, prev, size)} >>\nstartxref\n${at}\n%%EOF\n`;
  return encoder.encode(text);
}

function xrefStream(entries: XrefEntry[], trailer: TrailerEntries, prev: number, size: number, at: number): Uint8Array {
  // The stream lists itself too, so it takes the next free number and /Size grows by one.
  const self = { num: size, gen: 0, offset: at };
  const groups = subsections([...entries, self]);
  const data = new Uint8Array((entries.length + 1) * 7);
  const view = new DataView(data.buffer);
  let i = 0;
  for (const group of groups) {
    for (const e of group) {
      view.setUint8(i * 7, 1);
      view.setUint32(i * 7 + 1, e.offset);
      view.setUint16(i * 7 + 5, e.gen);
      i++;
    }
  }
  const index = groups.map((g) => `${g[0]!.num} ${g.length}`).join(' ');
  const head = encoder.encode(
    `${size} 0 obj\n<< /Type /XRef ${trailerBody(trailer, prev, size + 1)} /Index [${index}] /W [1 4 2] /Length ${data.length} >>\nstream\n`,
  );
  const foot = encoder.encode(`\nendstream\nendobj\nstartxref\n${at}\n%%EOF\n`);
  const out = new Uint8Array(head.length + data.length + foot.length);
  out.set(head, 0);
  out.set(data, head.length);
  out.set(foot, head.length + data.length);
  return out;
}

/** `PDFRef.of` with a number that cannot collide with the template's objects. */
export function newRef(objectNumber: number): PDFRef {
  return PDFRef.of(objectNumber, 0);
}
