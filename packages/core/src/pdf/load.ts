/**
 * Reading PDF bytes safely: gather them from any source, tell apart the ways a file can be unusable (not a PDF,
 * truncated, encrypted, empty) before pdf-lib sees it, and find the last cross-reference section, which an incremental
 * update has to point back to.
 */
import { PDFDocument } from 'pdf-lib';
import { PdfInvalidError } from './errors.js';

export type PdfSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export async function readAllBytes(source: PdfSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const chunks: Uint8Array[] = [];
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } else {
    for await (const chunk of source as AsyncIterable<Uint8Array>) chunks.push(chunk);
  }
  return concatBytes(chunks);
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** Where the last cross-reference section starts, what kind it is, and the trailer's /Size. */
export interface LastXref {
  offset: number;
  kind: 'table' | 'stream';
  /** One more than the highest object number in use: the first number an update may assign. */
  size: number;
}

const latin1 = new TextDecoder('latin1');

/** Checks that need only the bytes: header, %%EOF, a startxref that points at a cross-reference section, /Encrypt. */
export function checkPdfBytes(bytes: Uint8Array): LastXref {
  const head = latin1.decode(bytes.subarray(0, Math.min(1024, bytes.length)));
  if (!head.includes('%PDF-')) throw new PdfInvalidError('not-pdf');
  const tail = latin1.decode(bytes.subarray(Math.max(0, bytes.length - 1024)));
  const eof = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail);
  if (!eof) throw new PdfInvalidError('truncated', { detail: 'no startxref … %%EOF at the end of the file' });
  const offset = Number(eof[1]);
  if (offset >= bytes.length) throw new PdfInvalidError('truncated', { detail: 'startxref points past the end' });
  const section = latin1.decode(bytes.subarray(offset, Math.min(bytes.length, offset + 8192)));
  let kind: LastXref['kind'];
  let trailer: string;
  if (section.startsWith('xref')) {
    kind = 'table';
    const t = section.indexOf('trailer');
    if (t < 0) throw new PdfInvalidError('truncated', { detail: 'the xref table has no trailer' });
    trailer = section.slice(t);
  } else if (
    /^\d+\s+\d+\s+obj\b/.test(section) &&
    /\/Type\s*\/XRef\b/.test(section.slice(0, section.indexOf('stream')))
  ) {
    kind = 'stream';
    trailer = section.slice(0, section.indexOf('stream'));
  } else {
    throw new PdfInvalidError('truncated', { detail: 'startxref does not point at a cross-reference section' });
  }
  if (/\/Encrypt\b/.test(trailer)) throw new PdfInvalidError('encrypted');
  const size = /\/Size\s+(\d+)/.exec(trailer);
  if (!size) throw new PdfInvalidError('truncated', { detail: 'the trailer has no /Size' });
  return { offset, kind, size: Number(size[1]) };
}

/** Parse with pdf-lib after the byte checks, turning its failures into `PdfInvalidError`s. */
export async function loadCheckedPdf(bytes: Uint8Array): Promise<{ doc: PDFDocument; lastXref: LastXref }> {
  const lastXref = checkPdfBytes(bytes);
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(bytes, { ignoreEncryption: true, updateMetadata: false, throwOnInvalidObject: true });
  } catch (error) {
    throw new PdfInvalidError('truncated', { cause: error, detail: 'pdf-lib could not parse it' });
  }
  if (doc.context.trailerInfo.Encrypt !== undefined) throw new PdfInvalidError('encrypted');
  if (doc.getPageCount() === 0) throw new PdfInvalidError('no-pages');
  lastXref.size = Math.max(lastXref.size, doc.context.largestObjectNumber + 1);
  return { doc, lastXref };
}
