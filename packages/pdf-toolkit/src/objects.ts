/**
 * A minimal PDF object model, parser and serializer: just enough to read the trailer, cross-reference data and the
 * handful of objects a seal touches, and to write the few objects an incremental update appends. Parsing only what
 * is needed (instead of a full `PDFDocument.load`) is what keeps a seal around a millisecond.
 */
import { malformed } from './errors.js';
import { decodePdfLiteralString } from './literal-string.js';

export class PdfName {
  private static readonly cache = new Map<string, PdfName>();
  private constructor(readonly name: string) {}
  static of(name: string): PdfName {
    let n = PdfName.cache.get(name);
    if (!n) {
      n = new PdfName(name);
      PdfName.cache.set(name, n);
    }
    return n;
  }
}

export class PdfRef {
  constructor(
    readonly num: number,
    readonly gen: number,
  ) {}
}

/** A string as its bytes; `hex` only chooses the written form. */
export class PdfString {
  constructor(
    readonly bytes: Uint8Array,
    readonly hex = false,
  ) {}
  /** A text string: PDFDocEncoding-safe ASCII as is, anything else as UTF-16BE with a BOM. */
  static text(s: string): PdfString {
    if (/^[\x20-\x7e]*$/.test(s)) return new PdfString(Buffer.from(s, 'latin1'));
    return new PdfString(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(s, 'utf16le').swap16()]), true);
  }
  /** Decode a text string (UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding approximated as Latin-1). */
  toText(): string {
    const b = this.bytes;
    if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return Buffer.from(b.subarray(3)).toString('utf8');
    return Buffer.from(b).toString('latin1');
  }
}

/** Bytes written verbatim; `onWrite` learns the absolute offset they land at (for /ByteRange and /Contents). */
export class PdfRaw {
  constructor(
    readonly bytes: Uint8Array,
    readonly onWrite?: (offset: number) => void,
  ) {}
}

export class PdfDict {
  constructor(readonly map: Map<string, PdfValue> = new Map()) {}
  get(key: string): PdfValue | undefined {
    return this.map.get(key);
  }
  set(key: string, value: PdfValue): this {
    this.map.set(key, value);
    return this;
  }
  clone(): PdfDict {
    return new PdfDict(new Map(this.map));
  }
}

export class PdfStream {
  /** `data` is the encoded stream content; /Length is written from it. */
  constructor(
    readonly dict: PdfDict,
    readonly data: Uint8Array,
  ) {}
}

export type PdfValue =
  | null
  | boolean
  | number
  | PdfName
  | PdfString
  | PdfRef
  | PdfRaw
  | PdfValue[]
  | PdfDict
  | PdfStream;

export const name = PdfName.of;
export function dict(entries: Record<string, PdfValue | undefined>): PdfDict {
  const d = new PdfDict();
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) d.set(k, v);
  return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Lexing and parsing

/** PDF white-space characters (ISO 32000-1 §7.2.2), as a byte look-up table: 1 = white space. */
export const WS = new Uint8Array(256);
for (const c of [0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]) WS[c] = 1;
/** PDF delimiter characters, as a byte look-up table: 1 = delimiter. */
export const DELIM = new Uint8Array(256);
for (const c of '()<>[]{}/%') DELIM[c.charCodeAt(0)] = 1;

/**
 * `bytes[start, end)` as a Latin-1 string. Tokens are short: building them char by char avoids the Buffer view and
 * native call per token that dominated parsing time; long runs still go through Buffer.
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return '';
  if (n > 32) return Buffer.from(bytes.buffer, bytes.byteOffset + start, n).toString('latin1');
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Resolves /Length references while parsing a stream. */
export type LengthResolver = (ref: PdfRef) => number | undefined;

export class PdfLexer {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    private readonly resolveLength?: LengthResolver,
  ) {
    this.pos = pos;
  }

  skipWhitespace(): void {
    const b = this.bytes;
    for (;;) {
      const c = b[this.pos];
      if (c === undefined) return;
      if (WS[c]) this.pos++;
      else if (c === 0x25 /* % */) {
        while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
      } else return;
    }
  }

  /** A bare keyword or number token (no delimiters). */
  token(): string {
    this.skipWhitespace();
    const start = this.pos;
    const b = this.bytes;
    while (this.pos < b.length && !WS[b[this.pos]!] && !DELIM[b[this.pos]!]) this.pos++;
    return latin1(b, start, this.pos);
  }

  expectKeyword(keyword: string): void {
    const t = this.token();
    if (t !== keyword) throw malformed(`expected "${keyword}" at byte ${this.pos}, found "${t.slice(0, 20)}"`);
  }

  /** `num gen obj <value> endobj` at the current position. */
  indirectObject(): { num: number; gen: number; value: PdfValue } {
    const num = Number(this.token());
    const gen = Number(this.token());
    this.expectKeyword('obj');
    if (!Number.isInteger(num) || !Number.isInteger(gen)) throw malformed(`no object header at byte ${this.pos}`);
    return { num, gen, value: this.value() };
  }

  value(): PdfValue {
    this.skipWhitespace();
    const b = this.bytes;
    const c = b[this.pos];
    switch (c) {
      case undefined:
        throw malformed('unexpected end of file');
      case 0x2f /* / */:
        return this.name();
      case 0x28 /* ( */:
        return this.literalString();
      case 0x3c /* < */:
        if (b[this.pos + 1] === 0x3c) return this.dictOrStream();
        return this.hexString();
      case 0x5b /* [ */:
        {
          this.pos++;
          const arr: PdfValue[] = [];
          for (;;) {
            this.skipWhitespace();
            if (b[this.pos] === 0x5d) {
              this.pos++;
              return arr;
            }
            if (this.pos >= b.length) throw malformed('unterminated array');
            arr.push(this.value());
          }
        }
      default: {
        if (c >= 0x30 && c <= 0x39) {
          const r = this.integerOrRef();
          if (r !== undefined) return r;
        }
        const t = this.token();
        if (t === 'true') return true;
        if (t === 'false') return false;
        if (t === 'null') return null;
        const n = Number(t);
        if (t === '' || Number.isNaN(n)) throw malformed(`unexpected token "${t.slice(0, 20)}" at byte ${this.pos}`);
        // `num gen R` is a reference: look ahead without consuming when it is not.
        if (Number.isInteger(n) && n >= 0) {
          const save = this.pos;
          const gen = this.token();
          if (/^\d+$/.test(gen)) {
            const r = this.token();
            if (r === 'R') return new PdfRef(n, Number(gen));
          }
          this.pos = save;
        }
        return n;
      }
    }
  }

  /**
   * An unsigned integer or a `num gen R` reference read straight from the bytes (most values in the objects a seal
   * reads are these); undefined, with the position unchanged, for anything else (reals, keywords), left to value().
   */
  private integerOrRef(): number | PdfRef | undefined {
    const b = this.bytes;
    const start = this.pos;
    const n = this.digits();
    if (n === undefined) {
      this.pos = start;
      return undefined;
    }
    const afterNum = this.pos;
    this.skipWhitespace();
    const genStart = this.pos;
    const gen = this.digits();
    if (gen !== undefined && this.pos > genStart) {
      this.skipWhitespace();
      if (b[this.pos] === 0x52 /* R */) {
        const next = b[this.pos + 1];
        if (next === undefined || WS[next] || DELIM[next]) {
          this.pos++;
          return new PdfRef(n, gen);
        }
      }
    }
    this.pos = afterNum;
    return n;
  }

  /** A run of decimal digits ending at a delimiter/whitespace, as a safe integer; undefined otherwise. */
  private digits(): number | undefined {
    const b = this.bytes;
    let p = this.pos;
    let v = 0;
    while (p < b.length && b[p]! >= 0x30 && b[p]! <= 0x39) v = v * 10 + (b[p++]! - 0x30);
    const end = b[p];
    if (p === this.pos || p - this.pos > 15 || (end !== undefined && !WS[end] && !DELIM[end])) return undefined;
    this.pos = p;
    return v;
  }

  private name(): PdfName {
    const b = this.bytes;
    this.pos++;
    const start = this.pos;
    while (this.pos < b.length && !WS[b[this.pos]!] && !DELIM[b[this.pos]!]) this.pos++;
    let raw = latin1(b, start, this.pos);
    if (raw.includes('#'))
      raw = raw.replace(/#([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return PdfName.of(raw);
  }

  private literalString(): PdfString {
    const { bytes, end } = decodePdfLiteralString(this.bytes, this.pos);
    if (end < 0) throw malformed('unterminated string');
    this.pos = end;
    return new PdfString(bytes);
  }

  private hexString(): PdfString {
    const b = this.bytes;
    const end = b.indexOf(0x3e, this.pos);
    if (end < 0) throw malformed('unterminated hex string');
    let hex = Buffer.from(b.subarray(this.pos + 1, end))
      .toString('latin1')
      .replace(/[^0-9a-fA-F]/g, '');
    if (hex.length % 2) hex += '0';
    this.pos = end + 1;
    return new PdfString(new Uint8Array(Buffer.from(hex, 'hex')), true);
  }

  private dictOrStream(): PdfDict | PdfStream {
    const b = this.bytes;
    this.pos += 2;
    const d = new PdfDict();
    for (;;) {
      this.skipWhitespace();
      if (b[this.pos] === 0x3e && b[this.pos + 1] === 0x3e) {
        this.pos += 2;
        break;
      }
      if (b[this.pos] !== 0x2f) throw malformed(`expected a name key in dictionary at byte ${this.pos}`);
      const key = this.name().name;
      d.set(key, this.value());
    }
    const save = this.pos;
    if (this.token() !== 'stream') {
      this.pos = save;
      return d;
    }
    // The keyword is followed by CRLF or LF (a lone CR is tolerated).
    if (b[this.pos] === 0x0d) this.pos++;
    if (b[this.pos] === 0x0a) this.pos++;
    const start = this.pos;
    let length = d.get('Length');
    if (length instanceof PdfRef) length = this.resolveLength?.(length);
    let end = typeof length === 'number' ? start + length : -1;
    if (end < 0 || end > b.length || !this.endstreamAt(end)) {
      // Wrong or unresolvable /Length: fall back to searching for the keyword, as every viewer does.
      end = Buffer.from(b.buffer, b.byteOffset, b.length).indexOf('endstream', start, 'latin1');
      if (end < 0) throw malformed('stream without endstream');
      while (end > start && (b[end - 1] === 0x0a || b[end - 1] === 0x0d)) end--;
    }
    this.pos = end;
    this.expectKeyword('endstream');
    return new PdfStream(d, b.subarray(start, end));
  }

  private endstreamAt(end: number): boolean {
    const save = this.pos;
    this.pos = end;
    const ok = this.token() === 'endstream';
    this.pos = save;
    return ok;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Serializing

const HEX = '0123456789abcdef';

export class PdfWriter {
  private readonly chunks: Uint8Array[] = [];
  private parts: string[] = [];
  /** Absolute offset of the next byte written (the writer starts at `base`). */
  offset: number;

  constructor(base: number) {
    this.offset = base;
  }

  text(s: string): void {
    this.parts.push(s);
    this.offset += s.length; // callers only pass Latin-1/ASCII
  }

  bytes(b: Uint8Array): void {
    this.flushText();
    this.chunks.push(b);
    this.offset += b.length;
  }

  private flushText(): void {
    if (this.parts.length) {
      this.chunks.push(Buffer.from(this.parts.join(''), 'latin1'));
      this.parts = [];
    }
  }

  finish(): Uint8Array[] {
    this.flushText();
    return this.chunks;
  }

  object(num: number, gen: number, value: PdfValue): void {
    this.text(`${num} ${gen} obj\n`);
    this.value(value);
    this.text('\nendobj\n');
  }

  value(v: PdfValue): void {
    if (v === null) this.text('null');
    else if (typeof v === 'boolean') this.text(v ? 'true' : 'false');
    else if (typeof v === 'number') this.text(formatNumber(v));
    else if (v instanceof PdfName) this.text(formatName(v.name));
    else if (v instanceof PdfRef) this.text(`${v.num} ${v.gen} R`);
    else if (v instanceof PdfString) this.text(formatString(v));
    else if (v instanceof PdfRaw) {
      v.onWrite?.(this.offset);
      this.bytes(v.bytes);
    } else if (Array.isArray(v)) {
      this.text('[');
      v.forEach((item, i) => {
        if (i) this.text(' ');
        this.value(item);
      });
      this.text(']');
    } else if (v instanceof PdfDict) {
      this.dict(v);
    } else {
      v.dict.set('Length', v.data.length);
      this.dict(v.dict);
      this.text('\nstream\n');
      this.bytes(v.data);
      this.text('\nendstream');
    }
  }

  private dict(d: PdfDict): void {
    this.text('<<');
    for (const [k, val] of d.map) {
      this.text(formatName(k));
      this.text(' ');
      this.value(val);
    }
    this.text('>>');
  }
}

/** One value as PDF text (no `PdfRaw` callbacks are expected here: trailer entries, small dictionaries). */
export function serialize(value: PdfValue): string {
  const w = new PdfWriter(0);
  w.value(value);
  return w
    .finish()
    .map((chunk) => latin1(chunk, 0, chunk.length))
    .join('');
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const s = n.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

function formatName(n: string): string {
  let out = '/';
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x23 || DELIM[c]) out += `#${HEX[c >> 4]}${HEX[c & 15]}`;
    else out += n[i];
  }
  return out;
}

function formatString(s: PdfString): string {
  const b = s.bytes;
  if (s.hex) {
    let out = '<';
    for (const c of b) out += HEX[c >> 4]! + HEX[c & 15]!;
    return `${out}>`;
  }
  let out = '(';
  for (const c of b) {
    if (c === 0x28 || c === 0x29 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else out += String.fromCharCode(c);
  }
  return `${out})`;
}
