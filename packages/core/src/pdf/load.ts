/**
 * Reading PDF bytes safely: gather them from any source, tell apart the ways a file can be unusable (not a PDF,
 * truncated, encrypted, empty) before pdf-lib sees it, and find the last cross-reference section, which an incremental
 * update has to point back to.
 */
import {
  PDFArray,
  PDFDict,
  PDFDocument,
  PDFName,
  type PDFObject,
  PDFPageLeaf,
  PDFPageTree,
  PDFRef,
} from './pdf-lib.js';
import { SealflowError, ValidationError } from '../errors.js';
import { PdfInvalidError } from './errors.js';

/** A PDF as bytes, a web stream or an async iterable of chunks (for example a Node.js readable stream). */
export type PdfSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export async function readAllBytes(source: PdfSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  const chunks: Uint8Array[] = [];
  // Callers from plain JavaScript pass text, an ArrayBuffer or a Blob here; say so instead of failing inside a loop.
  const notBytes = (what: unknown) =>
    new ValidationError(
      `A PDF must be given as bytes (a Uint8Array or Buffer), a ReadableStream or an async iterable of Uint8Array ` +
        `chunks; got ${describeValue(what)}. Read the file as bytes (for an ArrayBuffer: new Uint8Array(buffer)).`,
    );
  if (source === null || typeof source !== 'object') throw notBytes(source);
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) throw notBytes(value);
      chunks.push(value);
    }
  } else if (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      if (!(chunk instanceof Uint8Array)) throw notBytes(chunk);
      chunks.push(chunk);
    }
  } else {
    throw notBytes(source);
  }
  return concatBytes(chunks);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  return `a ${Object.prototype.toString.call(value).slice(8, -1)}`;
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

/**
 * Whether bytes received from elsewhere (a vendor's download, a document store) are a whole PDF: `%PDF-` at the start
 * and `%%EOF` in the last 1024 bytes, where readers look for it (trailing line ends and padding are allowed). A body
 * cut off on the way would otherwise be archived as a signed contract and fail every later check for good; fetched
 * again, it usually comes whole. This is a cheap completeness test, not a parse: use `inspectPdf` for that.
 */
export function isWholePdf(bytes: Uint8Array): boolean {
  if (bytes.length < 5 || latin1.decode(bytes.subarray(0, 5)) !== '%PDF-') return false;
  return latin1.decode(bytes.subarray(Math.max(0, bytes.length - 1024))).includes('%%EOF');
}

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
    // A table has 20 bytes per object, so the trailer of a file with a few thousand objects lies far past the
    // window read above: search the bytes themselves from the table on.
    const t = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('trailer', offset, 'latin1');
    if (t < 0) throw new PdfInvalidError('truncated', { detail: 'the xref table has no trailer' });
    trailer = latin1.decode(bytes.subarray(t, Math.min(bytes.length, t + 8192)));
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
  try {
    if (doc.context.trailerInfo.Encrypt !== undefined) throw new PdfInvalidError('encrypted');
    checkStructure(doc);
    if (doc.getPageCount() === 0) throw new PdfInvalidError('no-pages');
  } catch (error) {
    throw asPdfInvalid(error);
  }
  lastXref.size = Math.max(lastXref.size, doc.context.largestObjectNumber + 1);
  return { doc, lastXref };
}

/** Whatever pdf-lib throws on a damaged file becomes a `PdfInvalidError` ('damaged'); sealflow's own errors pass. */
export function asPdfInvalid(error: unknown): SealflowError {
  if (error instanceof SealflowError) return error;
  return new PdfInvalidError('damaged', { cause: error, detail: 'an object has an unexpected type or is missing' });
}

/** Limits of the structure walk; a real contract template is far inside them. */
const MAX_TREE_DEPTH = 32;
const MAX_PAGES = 5_000;
const MAX_FIELDS = 10_000;

const damaged = (detail: string) => new PdfInvalidError('damaged', { detail });

/**
 * pdf-lib walks the page tree and the form's field tree recursively and trusts their types: a /Kids that points back
 * to its parent overflows the stack, a /Pages that is not a page tree throws a TypeError. Walk both iteratively first,
 * with cycle and depth limits, so every later pdf-lib call sees a sound structure.
 */
export function checkStructure(doc: PDFDocument): void {
  const { context } = doc;
  const catalog = context.lookup(context.trailerInfo.Root);
  if (!(catalog instanceof PDFDict)) throw damaged('the trailer names no document catalog (/Root)');

  const root = context.lookup(catalog.get(PDFName.of('Pages')));
  if (!(root instanceof PDFPageTree)) throw damaged('the catalog has no page tree (/Pages)');
  const seen = new Set<PDFObject>([root]);
  const nodes: { node: PDFPageTree; depth: number }[] = [{ node: root, depth: 0 }];
  let pages = 0;
  while (nodes.length > 0) {
    const { node, depth } = nodes.pop()!;
    if (depth > MAX_TREE_DEPTH) throw damaged(`the page tree is nested deeper than ${MAX_TREE_DEPTH} levels`);
    const kids = context.lookup(node.get(PDFName.of('Kids')));
    if (!(kids instanceof PDFArray)) throw damaged('a node of the page tree has no /Kids array');
    for (const entry of kids.asArray()) {
      const kid = context.lookup(entry);
      if (seen.has(kid as PDFObject)) throw damaged('the page tree refers back to one of its own nodes');
      if (kid instanceof PDFPageTree) {
        seen.add(kid);
        nodes.push({ node: kid, depth: depth + 1 });
      } else if (kid instanceof PDFPageLeaf) {
        seen.add(kid);
        if (++pages > MAX_PAGES) throw damaged(`the page tree lists more than ${MAX_PAGES} pages`);
      } else {
        throw damaged('the page tree lists something that is not a page');
      }
    }
  }

  const acroForm = context.lookup(catalog.get(PDFName.of('AcroForm')));
  if (acroForm === undefined) return;
  if (!(acroForm instanceof PDFDict)) throw damaged('the form (/AcroForm) is not a dictionary');
  const fields = context.lookup(acroForm.get(PDFName.of('Fields')));
  if (fields === undefined) return;
  if (!(fields instanceof PDFArray)) throw damaged('the form has no /Fields array');
  const visited = new Set<PDFObject>();
  const pending: { entry: PDFObject; depth: number }[] = fields.asArray().map((entry) => ({ entry, depth: 0 }));
  while (pending.length > 0) {
    const { entry, depth } = pending.pop()!;
    const field = context.lookup(entry);
    if (!(entry instanceof PDFRef) || !(field instanceof PDFDict)) continue; // pdf-lib skips these as well
    if (visited.has(field)) throw damaged('a form field is its own ancestor or listed twice');
    visited.add(field);
    if (visited.size > MAX_FIELDS) throw damaged(`the form has more than ${MAX_FIELDS} fields and widgets`);
    if (depth > MAX_TREE_DEPTH) throw damaged(`form fields are nested deeper than ${MAX_TREE_DEPTH} levels`);
    checkParentChain(doc, field);
    const kids = context.lookup(field.get(PDFName.of('Kids')));
    if (kids instanceof PDFArray) for (const kid of kids.asArray()) pending.push({ entry: kid, depth: depth + 1 });
  }
}

/** pdf-lib names a field by following /Parent recursively: the chain must end, and soon. */
function checkParentChain(doc: PDFDocument, field: PDFDict): void {
  const chain = new Set<PDFObject>([field]);
  for (let node = field; ; ) {
    const parent = doc.context.lookup(node.get(PDFName.of('Parent')));
    if (!(parent instanceof PDFDict)) return;
    if (chain.has(parent)) throw damaged('a form field is its own /Parent');
    if (chain.size > MAX_TREE_DEPTH) throw damaged(`form fields are nested deeper than ${MAX_TREE_DEPTH} levels`);
    chain.add(parent);
    node = parent;
  }
}
