/**
 * Reads a PDF's cross-reference data and, lazily, the objects asked for.
 *
 * Follows the whole /Prev chain and understands classic xref tables, cross-reference streams (PDF 1.5) and hybrid
 * files (a classic table whose trailer has /XRefStm), including a classic-table update appended to a file that
 * itself used xref and object streams: the shape core's renderer produces. Newer sections win over older ones.
 */
import { inflateSync } from 'node:zlib';
import { malformed, PdfSyntaxError } from './errors.js';
import { DELIM, PdfDict, PdfLexer, PdfName, PdfRef, PdfStream, type PdfValue, WS } from './objects.js';
import { unfilterPngRows } from './png-predictor.js';

type XrefEntry =
  | { type: 'free' }
  | { type: 'offset'; offset: number; gen: number }
  | { type: 'compressed'; stream: number; index: number };

export class PdfReader {
  readonly entries = new Map<number, XrefEntry>();
  /** The newest trailer (for a stream section: its dictionary). */
  trailer!: PdfDict;
  /** Offset of the newest cross-reference section (goes into the next update's /Prev). */
  readonly startxref: number;
  /** Whether the newest section is a cross-reference stream (the update then writes one too). */
  newestIsStream = false;
  /** One past the highest object number in use. */
  size = 0;
  private readonly cache = new Map<number, PdfValue>();
  private readonly objectStreams = new Map<number, { data: Uint8Array; offsets: Map<number, number> }>();

  constructor(readonly bytes: Uint8Array) {
    this.startxref = findStartxref(bytes);
    this.readSections();
  }

  private readSections(): void {
    const seen = new Set<number>();
    let offset: number | undefined = this.startxref;
    let first = true;
    while (offset !== undefined) {
      if (seen.has(offset)) throw malformed('the /Prev chain loops');
      seen.add(offset);
      const lexer = new PdfLexer(this.bytes, offset);
      lexer.skipWhitespace();
      let trailer: PdfDict;
      if (this.startsWith(lexer.pos, 'xref')) {
        trailer = this.readTable(lexer);
        const xrefStm = trailer.get('XRefStm');
        if (typeof xrefStm === 'number') this.readStreamSection(xrefStm);
      } else {
        trailer = this.readStreamSection(offset);
        if (first) this.newestIsStream = true;
      }
      if (first) {
        this.trailer = trailer;
        first = false;
      }
      const size = trailer.get('Size');
      if (typeof size === 'number') this.size = Math.max(this.size, size);
      const prev = trailer.get('Prev');
      offset = typeof prev === 'number' ? prev : undefined;
    }
    if (this.trailer.get('Encrypt') !== undefined) {
      throw new PdfSyntaxError(
        'unsupported',
        'The PDF is encrypted; remove the password protection before sealing (an encrypted contract cannot be sealed as is).',
      );
    }
    for (const num of this.entries.keys()) this.size = Math.max(this.size, num + 1);
  }

  private startsWith(pos: number, s: string): boolean {
    for (let i = 0; i < s.length; i++) if (this.bytes[pos + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  private add(num: number, entry: XrefEntry): void {
    if (!this.entries.has(num)) this.entries.set(num, entry);
  }

  private readTable(lexer: PdfLexer): PdfDict {
    lexer.expectKeyword('xref');
    for (;;) {
      const t = lexer.token();
      if (t === 'trailer') break;
      const start = Number(t);
      const count = Number(lexer.token());
      if (!Number.isInteger(start) || !Number.isInteger(count)) throw malformed('bad xref subsection header');
      for (let i = 0; i < count; i++) {
        const offset = Number(lexer.token());
        const gen = Number(lexer.token());
        const kind = lexer.token();
        if (kind === 'n' && offset > 0) this.add(start + i, { type: 'offset', offset, gen });
        else if (kind === 'f' || kind === 'n') this.add(start + i, { type: 'free' });
        else throw malformed(`bad xref entry for object ${start + i}`);
      }
    }
    const trailer = new PdfLexer(this.bytes, lexer.pos).value();
    if (!(trailer instanceof PdfDict)) throw malformed('trailer is not a dictionary');
    return trailer;
  }

  private readStreamSection(offset: number): PdfDict {
    const { value } = new PdfLexer(this.bytes, offset).indirectObject();
    if (!(value instanceof PdfStream) || (value.dict.get('Type') as PdfName | undefined)?.name !== 'XRef') {
      throw malformed(`no cross-reference table or stream at byte ${offset} (startxref or /Prev is wrong)`);
    }
    const d = value.dict;
    const data = decodeStream(value);
    const w = (d.get('W') as number[] | undefined) ?? [];
    const [w0 = 1, w1 = 0, w2 = 0] = w;
    const size = d.get('Size') as number;
    const index = (d.get('Index') as number[] | undefined) ?? [0, size];
    const rowLen = w0 + w1 + w2;
    let p = 0;
    const field = (width: number) => {
      let v = 0;
      for (let i = 0; i < width; i++) v = v * 256 + data[p++]!;
      return v;
    };
    for (let s = 0; s + 1 < index.length; s += 2) {
      const start = index[s]!;
      const count = index[s + 1]!;
      for (let i = 0; i < count; i++) {
        if (p + rowLen > data.length) throw malformed('cross-reference stream is truncated');
        const type = w0 === 0 ? 1 : field(w0);
        const a = field(w1);
        const b = field(w2);
        if (type === 0) this.add(start + i, { type: 'free' });
        else if (type === 1) this.add(start + i, { type: 'offset', offset: a, gen: b });
        else if (type === 2) this.add(start + i, { type: 'compressed', stream: a, index: b });
      }
    }
    return d;
  }

  /** The object with this number (null when free or missing, as the spec says). */
  getObject(num: number): PdfValue {
    if (this.cache.has(num)) return this.cache.get(num)!;
    const entry = this.entries.get(num);
    let value: PdfValue = null;
    if (entry?.type === 'offset') {
      const lexer = new PdfLexer(this.bytes, entry.offset, (ref) => {
        const v = this.resolve(ref);
        return typeof v === 'number' ? v : undefined;
      });
      const obj = lexer.indirectObject();
      if (obj.num !== num) throw malformed(`xref entry for object ${num} points at object ${obj.num}`);
      value = obj.value;
    } else if (entry?.type === 'compressed') {
      const stream = this.objectStream(entry.stream);
      const at = stream.offsets.get(num);
      if (at === undefined) throw malformed(`object ${num} is not in object stream ${entry.stream}`);
      value = new PdfLexer(stream.data, at).value();
    }
    this.cache.set(num, value);
    return value;
  }

  private objectStream(num: number): { data: Uint8Array; offsets: Map<number, number> } {
    let s = this.objectStreams.get(num);
    if (!s) {
      const stream = this.getObject(num);
      if (!(stream instanceof PdfStream)) throw malformed(`object stream ${num} is missing`);
      const data = decodeStream(stream);
      const n = stream.dict.get('N') as number;
      const first = stream.dict.get('First') as number;
      const header = new PdfLexer(data, 0);
      const offsets = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const objNum = Number(header.token());
        const rel = Number(header.token());
        offsets.set(objNum, first + rel);
      }
      s = { data, offsets };
      this.objectStreams.set(num, s);
    }
    return s;
  }

  resolve(v: PdfValue | undefined): PdfValue | undefined {
    return v instanceof PdfRef ? this.getObject(v.num) : v;
  }

  dict(v: PdfValue | undefined): PdfDict | undefined {
    const r = this.resolve(v);
    return r instanceof PdfDict ? r : r instanceof PdfStream ? r.dict : undefined;
  }

  array(v: PdfValue | undefined): PdfValue[] | undefined {
    const r = this.resolve(v);
    return Array.isArray(r) ? r : undefined;
  }

  /**
   * A page-tree node's /Type, /Count and whether it has /Kids, read without parsing the rest of its dictionary.
   * Walking to page n passes over n earlier pages, and a page dictionary often carries a large inline /Resources
   * (dozens of font entries): fully parsing those was most of the cost of sealing the last page. Returns undefined
   * (the caller then parses the object fully) for anything unusual: a missing or non-dictionary object, an escaped
   * key, an indirect /Count or /Type, or bytes the scan does not understand.
   */
  pageTreeNode(v: PdfValue | undefined): PageTreeNode | undefined {
    const found = this.peek(v, PAGE_TREE_KEYS);
    if (!found) return undefined;
    const [bytes, at] = found;
    const node: PageTreeNode = { type: undefined, count: undefined, hasKids: at[2] !== undefined };
    if (at[0] !== undefined) {
      const type = new PdfLexer(bytes, at[0]).value();
      if (!(type instanceof PdfName)) return undefined; // indirect or odd /Type
      node.type = type.name;
    }
    if (at[1] !== undefined) {
      const count = new PdfLexer(bytes, at[1]).value();
      if (typeof count !== 'number' || !Number.isInteger(count)) return undefined; // `5 0 R`: indirect /Count
      node.count = count;
    }
    return node;
  }

  /**
   * One top-level entry of a dictionary object, parsed without parsing the rest of the dictionary (a field's /T
   * needs neither its /V nor its appearance entries). `missing` when the key is absent; undefined when the object
   * cannot be scanned (the caller then parses it fully).
   */
  peekEntry(v: PdfValue | undefined, key: string): PdfValue | typeof missing | undefined {
    const found = this.peek(v, [key]);
    if (!found) return undefined;
    const [bytes, at] = found;
    if (at[0] === undefined) return missing;
    return new PdfLexer(bytes, at[0], (ref) => {
      const n = this.resolve(ref);
      return typeof n === 'number' ? n : undefined;
    }).value();
  }

  /** Where the values of `keys` start in the (unparsed) dictionary object `v`, and the bytes they are in. */
  private peek(v: PdfValue | undefined, keys: readonly string[]): [Uint8Array, (number | undefined)[]] | undefined {
    if (!(v instanceof PdfRef) || this.cache.has(v.num)) return undefined;
    const entry = this.entries.get(v.num);
    if (entry?.type === 'offset') {
      const lexer = new PdfLexer(this.bytes, entry.offset);
      const num = Number(lexer.token());
      lexer.token(); // generation
      if (num !== v.num || lexer.token() !== 'obj') return undefined;
      const at = scanTopLevel(this.bytes, lexer.pos, keys);
      return at && [this.bytes, at];
    }
    if (entry?.type === 'compressed') {
      const stream = this.objectStream(entry.stream);
      const start = stream.offsets.get(v.num);
      const at = start === undefined ? undefined : scanTopLevel(stream.data, start, keys);
      return at && [stream.data, at];
    }
    return undefined;
  }
}

/** What `peekEntry` returns for a key the dictionary does not have. */
export const missing: unique symbol = Symbol('missing');

const PAGE_TREE_KEYS = ['Type', 'Count', 'Kids'] as const;

export interface PageTreeNode {
  type: string | undefined;
  count: number | undefined;
  hasKids: boolean;
}

// Plain functions over (bytes, position) with table look-ups: the scan runs over every byte of the pages before the
// sealed one, so it must not allocate or call through closures.

function skipWs(b: Uint8Array, p: number): number {
  for (;;) {
    const c = b[p];
    if (c === undefined) return p;
    if (WS[c]) p++;
    else if (c === 0x25 /* % */) while (p < b.length && b[p] !== 0x0a && b[p] !== 0x0d) p++;
    else return p;
  }
}

function skipBare(b: Uint8Array, p: number): number {
  while (p < b.length && !WS[b[p]!] && !DELIM[b[p]!]) p++;
  return p;
}

/** Past one value of any kind; -1 when the bytes end or make no sense. */
function skipValue(b: Uint8Array, p: number): number {
  p = skipWs(b, p);
  const c = b[p];
  if (c === undefined) return -1;
  if (c === 0x2f /* / */) return skipBare(b, p + 1);
  if (c === 0x28 /* ( */) {
    let depth = 0;
    while (p < b.length) {
      const d = b[p++];
      if (d === 0x5c /* \ */) p++;
      else if (d === 0x28) depth++;
      else if (d === 0x29 && --depth === 0) return p;
    }
    return -1;
  }
  if (c === 0x3c /* < */ && b[p + 1] !== 0x3c) {
    const end = b.indexOf(0x3e, p);
    return end < 0 ? -1 : end + 1;
  }
  if (c === 0x3c || c === 0x5b /* [ */) {
    const isDict = c === 0x3c;
    p += isDict ? 2 : 1;
    for (;;) {
      p = skipWs(b, p);
      if (p >= b.length) return -1;
      if (isDict ? b[p] === 0x3e && b[p + 1] === 0x3e : b[p] === 0x5d) return p + (isDict ? 2 : 1);
      p = skipValue(b, p);
      if (p < 0) return -1;
    }
  }
  if (DELIM[c]) return -1;
  return skipBare(b, p); // a number, `R`, true, false or null: references are just three of these in a row
}

/** Whether bytes [start, end) spell `key`. */
function keyIs(b: Uint8Array, start: number, end: number, key: string): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (b[start + i] !== key.charCodeAt(i)) return false;
  return true;
}

/**
 * Scans the top level of the dictionary at `start` for `keys`, skipping every other value unparsed. Returns where
 * each key's value starts (undefined: absent), or undefined when this is not a plain dictionary or a key is escaped.
 */
function scanTopLevel(b: Uint8Array, start: number, keys: readonly string[]): (number | undefined)[] | undefined {
  let p = skipWs(b, start);
  if (b[p] !== 0x3c || b[p + 1] !== 0x3c) return undefined;
  p += 2;
  const at: (number | undefined)[] = keys.map(() => undefined);
  for (;;) {
    p = skipWs(b, p);
    if (p >= b.length) return undefined;
    if (b[p] === 0x3e && b[p + 1] === 0x3e) return at;
    if (b[p] !== 0x2f) {
      // Between keys only the numbers, `R`s and other tokens of the previous value can appear.
      p = skipValue(b, p);
      if (p < 0) return undefined;
      continue;
    }
    const keyStart = p + 1;
    p = skipBare(b, keyStart);
    for (let k = keyStart; k < p; k++) if (b[k] === 0x23 /* # */) return undefined;
    const i = keys.findIndex((k) => keyIs(b, keyStart, p, k));
    p = skipWs(b, p);
    if (i >= 0) at[i] = p;
    p = skipValue(b, p);
    if (p < 0) return undefined;
  }
}

/**
 * Recently decoded xref and object streams, keyed by their exact encoded bytes. Every document rendered from one
 * template carries the template's streams unchanged, so sealing a batch would inflate the same bytes each time; a
 * hit is only taken after a full byte comparison (no hashing, so no collisions). Entries are shared and read-only.
 */
const decodedCache: { encoded: Uint8Array; predictor: number; columns: number; decoded: Uint8Array }[] = [];
const DECODED_CACHE_ENTRIES = 16;
const DECODED_CACHE_MAX_BYTES = 1 << 20;

/** Decode a stream with no filter or FlateDecode (with PNG predictors): all xref and object streams use these. */
export function decodeStream(stream: PdfStream): Uint8Array {
  const params = stream.dict.get('DecodeParms');
  const p = (Array.isArray(params) ? params[0] : params) as PdfDict | undefined;
  const predictor = p instanceof PdfDict ? ((p.get('Predictor') as number | undefined) ?? 0) : 0;
  const columns = p instanceof PdfDict ? ((p.get('Columns') as number | undefined) ?? 1) : 1;
  const encoded = stream.data;
  const hit = decodedCache.findIndex(
    (e) =>
      e.encoded.length === encoded.length &&
      e.predictor === predictor &&
      e.columns === columns &&
      Buffer.compare(e.encoded, encoded) === 0,
  );
  if (hit >= 0) {
    const entry = decodedCache[hit]!;
    if (hit > 0) decodedCache.unshift(...decodedCache.splice(hit, 1));
    return entry.decoded;
  }
  const decoded = decodeStreamUncached(stream, predictor, columns);
  if (decoded.length <= DECODED_CACHE_MAX_BYTES && isFlateOnly(stream)) {
    decodedCache.unshift({ encoded: encoded.slice(), predictor, columns, decoded });
    if (decodedCache.length > DECODED_CACHE_ENTRIES) decodedCache.pop();
  }
  return decoded;
}

function isFlateOnly(stream: PdfStream): boolean {
  const filter = stream.dict.get('Filter');
  return filter instanceof PdfName && filter.name === 'FlateDecode';
}

function decodeStreamUncached(stream: PdfStream, predictor: number, columns: number): Uint8Array {
  const filter = stream.dict.get('Filter');
  const filters = Array.isArray(filter) ? filter : filter ? [filter] : [];
  let data: Uint8Array = stream.data;
  for (const f of filters) {
    if (!(f instanceof PdfName) || f.name !== 'FlateDecode') {
      throw new PdfSyntaxError('unsupported', 'A cross-reference or object stream uses an unsupported filter.');
    }
    try {
      data = inflateSync(data);
    } catch (cause) {
      throw new PdfSyntaxError('malformed', 'A compressed stream in the PDF is corrupt.', { cause });
    }
  }
  // Rows of `columns` one-byte samples (the /Colors 1, /BitsPerComponent 8 defaults every xref stream uses).
  if (predictor >= 10) data = unfilterPngRows(data, Math.floor(data.length / (columns + 1)), columns, 1);
  else if (predictor > 1) throw new PdfSyntaxError('unsupported', 'TIFF predictors are not supported.');
  return data;
}

function findStartxref(bytes: Uint8Array): number {
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const at = tail.lastIndexOf('startxref', bytes.length, 'latin1');
  if (at < 0) throw malformed('no "startxref" (is this a PDF, and is it complete?)');
  const lexer = new PdfLexer(bytes, at + 9);
  const offset = Number(lexer.token());
  if (!Number.isInteger(offset) || offset <= 0 || offset >= bytes.length)
    throw malformed('startxref offset is invalid');
  return offset;
}
