/**
 * Where text sits on a page: interpret a page's content streams (and the form XObjects they draw) far enough to
 * know each shown glyph's Unicode text and its box in page space. Used to find keywords such as "甲方（盖章）" so
 * a seal or signature can be placed next to them.
 *
 * Supported: simple fonts (1-byte codes; ToUnicode, else WinAnsi/Latin-1; /Widths or standard-14 metrics) and Type0
 * fonts with a ToUnicode CMap (code lengths from its codespace ranges, widths from /W and /DW), text matrices, the
 * CTM, Tc/Tw/Tz/TL/Ts/TJ adjustments. Not supported: Type3 glyph procedures' own matrices, vertical writing.
 */
import { decodePdfLiteralString } from '@sealflow/pdf-toolkit';
import {
  decodePDFRawStream,
  PDFArray,
  PDFDict,
  PDFName,
  PDFNumber,
  PDFRawStream,
  PDFRef,
  StandardFontEmbedder,
  StandardFonts,
  type PDFContext,
  type PDFObject,
  type PDFPageLeaf,
} from './pdf-lib.js';

export interface GlyphBox {
  text: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

type Matrix = [number, number, number, number, number, number];

const IDENTITY: Matrix = [1, 0, 0, 1, 0, 0];

function multiply(m: Matrix, n: Matrix): Matrix {
  return [
    m[0] * n[0] + m[1] * n[2],
    m[0] * n[1] + m[1] * n[3],
    m[2] * n[0] + m[3] * n[2],
    m[2] * n[1] + m[3] * n[3],
    m[4] * n[0] + m[5] * n[2] + n[4],
    m[4] * n[1] + m[5] * n[3] + n[5],
  ];
}

function apply(m: Matrix, x: number, y: number): [number, number] {
  return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
}

// ---------------------------------------------------------------------------------------------------------------
// Content stream tokens

type Operand = number | string | Uint8Array | Operand[] | { name: string } | Record<string, unknown> | null;

const WHITESPACE = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const DELIMITERS = new Set([0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]);

class ContentLexer {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  /** The next operand or operator; operators come back as { op }. `undefined` at the end. */
  next(): Operand | { op: string } | undefined {
    const b = this.b;
    for (;;) {
      while (this.pos < b.length && WHITESPACE.has(b[this.pos]!)) this.pos++;
      if (b[this.pos] !== 0x25) break;
      while (this.pos < b.length && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
    }
    if (this.pos >= b.length) return undefined;
    const c = b[this.pos]!;
    if (c === 0x28) return this.literalString();
    if (c === 0x3c) {
      if (b[this.pos + 1] === 0x3c) {
        this.pos += 2;
        return this.dictionary();
      }
      return this.hexString();
    }
    if (c === 0x5b) {
      this.pos++;
      const items: Operand[] = [];
      for (;;) {
        const t = this.next();
        if (t === undefined || (isOp(t) && t.op === ']')) return items;
        if (!isOp(t)) items.push(t);
      }
    }
    if (c === 0x5d || c === 0x3e || c === 0x7b || c === 0x7d) {
      this.pos += c === 0x3e && b[this.pos + 1] === 0x3e ? 2 : 1;
      return { op: c === 0x5d ? ']' : c === 0x3e ? '>>' : String.fromCharCode(c) };
    }
    if (c === 0x2f) {
      this.pos++;
      return { name: this.regular() };
    }
    const word = this.regular() || String.fromCharCode(b[this.pos++]!);
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(word)) return Number(word);
    if (word === 'true' || word === 'false' || word === 'null') return null;
    if (word === 'BI') {
      this.skipInlineImage();
      return { op: 'BI' };
    }
    return { op: word };
  }

  private regular(): string {
    const start = this.pos;
    while (this.pos < this.b.length && !WHITESPACE.has(this.b[this.pos]!) && !DELIMITERS.has(this.b[this.pos]!))
      this.pos++;
    return String.fromCharCode(...this.b.subarray(start, this.pos));
  }

  private dictionary(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (;;) {
      const key = this.next();
      if (key === undefined || (isOp(key) && key.op === '>>')) return out;
      const value = this.next();
      if (key && typeof key === 'object' && 'name' in key) out[key.name as string] = value;
    }
  }

  private literalString(): Uint8Array {
    const { bytes, end } = decodePdfLiteralString(this.b, this.pos);
    // A content stream cut short still yields the text read so far.
    this.pos = end < 0 ? this.b.length : end;
    return bytes;
  }

  private hexString(): Uint8Array {
    const b = this.b;
    this.pos++;
    let hex = '';
    while (this.pos < b.length && b[this.pos] !== 0x3e) {
      const c = b[this.pos++]!;
      if (!WHITESPACE.has(c)) hex += String.fromCharCode(c);
    }
    this.pos++;
    if (hex.length % 2) hex += '0';
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return out;
  }

  private skipInlineImage(): void {
    const b = this.b;
    while (this.pos < b.length - 2) {
      if (
        b[this.pos] === 0x45 &&
        b[this.pos + 1] === 0x49 &&
        WHITESPACE.has(b[this.pos - 1]!) &&
        (this.pos + 2 >= b.length || WHITESPACE.has(b[this.pos + 2]!))
      ) {
        this.pos += 2;
        return;
      }
      this.pos++;
    }
    this.pos = b.length;
  }
}

function isOp(t: unknown): t is { op: string } {
  return typeof t === 'object' && t !== null && 'op' in t;
}

// ---------------------------------------------------------------------------------------------------------------
// Fonts

interface FontDecoder {
  /** Split shown bytes into codes, each with its Unicode text and width (glyph space, 1/1000 em). */
  decode(bytes: Uint8Array): { code: number; text: string; width: number; bytes: number }[];
  ascent: number;
  descent: number;
}

const WIN_ANSI_HIGH: Record<number, string> = {
  128: '€',
  130: '‚',
  131: 'ƒ',
  132: '„',
  133: '…',
  134: '†',
  135: '‡',
  136: 'ˆ',
  137: '‰',
  138: 'Š',
  139: '‹',
  140: 'Œ',
  142: 'Ž',
  145: '‘',
  146: '’',
  147: '“',
  148: '”',
  149: '•',
  150: '–',
  151: '—',
  152: '˜',
  153: '™',
  154: 'š',
  155: '›',
  156: 'œ',
  158: 'ž',
  159: 'Ÿ',
};

interface CMap {
  map: Map<number, string>;
  /** Code byte lengths allowed, from the codespace ranges: [length, low, high][] */
  ranges: [number, number, number][];
}

function parseToUnicode(bytes: Uint8Array): CMap {
  const text = new TextDecoder('latin1').decode(bytes);
  const map = new Map<number, string>();
  const ranges: [number, number, number][] = [];
  const hexToText = (hex: string) => {
    let s = '';
    for (let i = 0; i + 4 <= hex.length; i += 4) s += String.fromCharCode(Number.parseInt(hex.slice(i, i + 4), 16));
    if (hex.length === 2) s = String.fromCharCode(Number.parseInt(hex, 16));
    return s;
  };
  for (const block of text.matchAll(/begincodespacerange([\s\S]*?)endcodespacerange/g)) {
    for (const m of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>/g)) {
      ranges.push([m[1]!.length / 2, Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16)]);
    }
  }
  for (const block of text.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const m of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>/g))
      map.set(Number.parseInt(m[1]!, 16), hexToText(m[2]!));
  }
  for (const block of text.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const m of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(<[0-9a-fA-F]+>|\[[^\]]*\])/g)) {
      const lo = Number.parseInt(m[1]!, 16);
      const hi = Number.parseInt(m[2]!, 16);
      const target = m[3]!;
      if (target.startsWith('[')) {
        const items = [...target.matchAll(/<([0-9a-fA-F]*)>/g)].map((x) => hexToText(x[1]!));
        items.forEach((t, i) => {
          map.set(lo + i, t);
        });
      } else {
        const base = target.slice(1, -1);
        const prefix = base.slice(0, -4);
        const last = Number.parseInt(base.slice(-4), 16);
        for (let code = lo; code <= hi && code - lo < 65536; code++) {
          map.set(code, hexToText(prefix + (last + code - lo).toString(16).padStart(4, '0')));
        }
      }
    }
  }
  return { map, ranges };
}

function streamBytes(context: PDFContext, obj: PDFObject | undefined): Uint8Array | undefined {
  const stream = obj instanceof PDFRef ? context.lookup(obj) : obj;
  if (!(stream instanceof PDFRawStream)) return undefined;
  return decodePDFRawStream(stream).decode();
}

function numberOf(o: PDFObject | undefined): number | undefined {
  return o instanceof PDFNumber ? o.asNumber() : undefined;
}

function fontDecoder(context: PDFContext, font: PDFDict): FontDecoder {
  const subtype = font.lookupMaybe(PDFName.of('Subtype'), PDFName)?.asString();
  const toUnicodeBytes = streamBytes(context, font.get(PDFName.of('ToUnicode')));
  const cmap = toUnicodeBytes ? parseToUnicode(toUnicodeBytes) : undefined;
  if (subtype === '/Type0') {
    const descendant = font.lookupMaybe(PDFName.of('DescendantFonts'), PDFArray)?.lookup(0, PDFDict);
    const widths = new Map<number, number>();
    const dw = numberOf(descendant?.lookup(PDFName.of('DW'))) ?? 1000;
    const w = descendant?.lookupMaybe(PDFName.of('W'), PDFArray);
    if (w) {
      const items = w.asArray().map((o) => context.lookup(o));
      for (let i = 0; i < items.length; ) {
        const first = numberOf(items[i]) ?? 0;
        const next = items[i + 1];
        if (next instanceof PDFArray) {
          next.asArray().forEach((v, k) => {
            widths.set(first + k, numberOf(context.lookup(v)) ?? dw);
          });
          i += 2;
        } else {
          const last = numberOf(next) ?? first;
          const width = numberOf(items[i + 2]) ?? dw;
          for (let c = first; c <= last; c++) widths.set(c, width);
          i += 3;
        }
      }
    }
    const metrics = descriptorMetrics(descendant?.lookupMaybe(PDFName.of('FontDescriptor'), PDFDict));
    const ranges = cmap && cmap.ranges.length > 0 ? cmap.ranges : [[2, 0, 0xffff] as [number, number, number]];
    return {
      ...metrics,
      decode(bytes) {
        const out: { code: number; text: string; width: number; bytes: number }[] = [];
        for (let i = 0; i < bytes.length; ) {
          let length = 2;
          for (const [len, lo, hi] of ranges) {
            let code = 0;
            for (let k = 0; k < len; k++) code = code * 256 + (bytes[i + k] ?? 0);
            if (code >= lo && code <= hi) {
              length = len;
              break;
            }
          }
          let code = 0;
          for (let k = 0; k < length; k++) code = code * 256 + (bytes[i + k] ?? 0);
          // With Identity-H the code is the CID; other CMaps would need their own CID mapping.
          out.push({ code, text: cmap?.map.get(code) ?? '', width: widths.get(code) ?? dw, bytes: length });
          i += length;
        }
        return out;
      },
    };
  }
  const firstChar = numberOf(font.lookup(PDFName.of('FirstChar'))) ?? 0;
  const widthArray = font
    .lookupMaybe(PDFName.of('Widths'), PDFArray)
    ?.asArray()
    .map((o) => numberOf(context.lookup(o)) ?? 0);
  const baseFont = font.lookupMaybe(PDFName.of('BaseFont'), PDFName)?.asString().slice(1) ?? '';
  const standard = (Object.values(StandardFonts) as string[]).includes(baseFont)
    ? StandardFontEmbedder.for(baseFont as unknown as Parameters<typeof StandardFontEmbedder.for>[0])
    : undefined;
  const metrics = descriptorMetrics(font.lookupMaybe(PDFName.of('FontDescriptor'), PDFDict));
  return {
    ...metrics,
    decode(bytes) {
      return Array.from(bytes, (code) => {
        const text = cmap?.map.get(code) ?? WIN_ANSI_HIGH[code] ?? String.fromCharCode(code);
        let width = widthArray?.[code - firstChar];
        if (width === undefined && standard) width = safeStandardWidth(standard, text);
        return { code, text, width: width ?? 500, bytes: 1 };
      });
    },
  };
}

function safeStandardWidth(font: StandardFontEmbedder, text: string): number | undefined {
  try {
    return font.widthOfTextAtSize(text, 1000);
  } catch {
    return undefined;
  }
}

function descriptorMetrics(descriptor: PDFDict | undefined): { ascent: number; descent: number } {
  const ascent = numberOf(descriptor?.lookup(PDFName.of('Ascent')));
  const descent = numberOf(descriptor?.lookup(PDFName.of('Descent')));
  return { ascent: ascent && ascent > 0 ? ascent : 800, descent: descent && descent < 0 ? descent : -200 };
}

// ---------------------------------------------------------------------------------------------------------------
// The interpreter

interface TextState {
  font: FontDecoder | undefined;
  size: number;
  charSpacing: number;
  wordSpacing: number;
  scale: number;
  leading: number;
  rise: number;
}

/** Every glyph shown on a page, in content order, with its text and its box in page space. */
export function pageGlyphs(context: PDFContext, page: PDFPageLeaf): GlyphBox[] {
  const out: GlyphBox[] = [];
  const contents = page.Contents();
  const streams = contents instanceof PDFArray ? contents.asArray() : contents ? [contents] : [];
  const chunks = streams.map(
    (s) => streamBytes(context, s instanceof PDFRef ? s : (s as PDFObject)) ?? new Uint8Array(),
  );
  // Content streams of one page are one sequence of operators; a space keeps tokens from gluing across streams.
  const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length + 1, 0));
  let at = 0;
  for (const c of chunks) {
    joined.set(c, at);
    at += c.length;
    joined[at++] = 0x20;
  }
  const fonts = new Map<PDFDict, FontDecoder>();
  interpret(context, joined, page.Resources(), IDENTITY, out, fonts, 0);
  return out;
}

function interpret(
  context: PDFContext,
  content: Uint8Array,
  resources: PDFDict | undefined,
  baseCtm: Matrix,
  out: GlyphBox[],
  fonts: Map<PDFDict, FontDecoder>,
  depth: number,
): void {
  const lexer = new ContentLexer(content);
  const stack: { ctm: Matrix; text: TextState }[] = [];
  let ctm = baseCtm;
  let ts: TextState = { font: undefined, size: 0, charSpacing: 0, wordSpacing: 0, scale: 1, leading: 0, rise: 0 };
  let tm: Matrix = IDENTITY;
  let tlm: Matrix = IDENTITY;
  let operands: Operand[] = [];
  const n = (i: number) => (typeof operands[i] === 'number' ? (operands[i] as number) : 0);

  const show = (bytes: Uint8Array) => {
    if (!ts.font) return;
    for (const g of ts.font.decode(bytes)) {
      const wordSpace = g.bytes === 1 && g.code === 32 ? ts.wordSpacing : 0;
      const advance = ((g.width / 1000) * ts.size + ts.charSpacing + wordSpace) * ts.scale;
      const trm = multiply([ts.size * ts.scale, 0, 0, ts.size, 0, ts.rise], multiply(tm, ctm));
      const glyphWidth = g.width / 1000;
      const corners = [
        apply(trm, 0, ts.font.descent / 1000),
        apply(trm, glyphWidth, ts.font.descent / 1000),
        apply(trm, 0, ts.font.ascent / 1000),
        apply(trm, glyphWidth, ts.font.ascent / 1000),
      ];
      const xs = corners.map((c) => c[0]);
      const ys = corners.map((c) => c[1]);
      const x = Math.min(...xs);
      const y = Math.min(...ys);
      out.push({ text: g.text, x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y });
      tm = multiply([1, 0, 0, 1, advance, 0], tm);
    }
  };

  for (;;) {
    const token = lexer.next();
    if (token === undefined) break;
    if (!isOp(token)) {
      operands.push(token);
      continue;
    }
    switch (token.op) {
      case 'q':
        stack.push({ ctm, text: { ...ts } });
        break;
      case 'Q': {
        const saved = stack.pop();
        if (saved) {
          ctm = saved.ctm;
          ts = saved.text;
        }
        break;
      }
      case 'cm':
        ctm = multiply([n(0), n(1), n(2), n(3), n(4), n(5)], ctm);
        break;
      case 'BT':
        tm = IDENTITY;
        tlm = IDENTITY;
        break;
      case 'Tf': {
        const name = operands[0];
        const dict =
          name && typeof name === 'object' && 'name' in name
            ? fontDict(context, resources, name.name as string)
            : undefined;
        if (dict) {
          let decoder = fonts.get(dict);
          if (!decoder) {
            decoder = fontDecoder(context, dict);
            fonts.set(dict, decoder);
          }
          ts.font = decoder;
        }
        ts.size = n(1);
        break;
      }
      case 'Tc':
        ts.charSpacing = n(0);
        break;
      case 'Tw':
        ts.wordSpacing = n(0);
        break;
      case 'Tz':
        ts.scale = n(0) / 100;
        break;
      case 'TL':
        ts.leading = n(0);
        break;
      case 'Ts':
        ts.rise = n(0);
        break;
      case 'Td':
        tlm = multiply([1, 0, 0, 1, n(0), n(1)], tlm);
        tm = tlm;
        break;
      case 'TD':
        ts.leading = -n(1);
        tlm = multiply([1, 0, 0, 1, n(0), n(1)], tlm);
        tm = tlm;
        break;
      case 'Tm':
        tlm = [n(0), n(1), n(2), n(3), n(4), n(5)];
        tm = tlm;
        break;
      case 'T*':
        tlm = multiply([1, 0, 0, 1, 0, -ts.leading], tlm);
        tm = tlm;
        break;
      case 'Tj':
        if (operands[0] instanceof Uint8Array) show(operands[0]);
        break;
      case "'":
      case '"':
        if (token.op === '"') {
          ts.wordSpacing = n(0);
          ts.charSpacing = n(1);
        }
        tlm = multiply([1, 0, 0, 1, 0, -ts.leading], tlm);
        tm = tlm;
        if (operands[operands.length - 1] instanceof Uint8Array) show(operands[operands.length - 1] as Uint8Array);
        break;
      case 'TJ':
        if (Array.isArray(operands[0])) {
          for (const item of operands[0]) {
            if (item instanceof Uint8Array) show(item);
            else if (typeof item === 'number') tm = multiply([1, 0, 0, 1, (-item / 1000) * ts.size * ts.scale, 0], tm);
          }
        }
        break;
      case 'Do': {
        const name = operands[0];
        if (depth < 8 && name && typeof name === 'object' && 'name' in name) {
          drawForm(context, resources, name.name as string, ctm, out, fonts, depth);
        }
        break;
      }
    }
    operands = [];
  }
}

function fontDict(context: PDFContext, resources: PDFDict | undefined, name: string): PDFDict | undefined {
  const fonts = resources?.lookupMaybe(PDFName.of('Font'), PDFDict);
  const font = fonts?.get(PDFName.of(name));
  const resolved = font ? context.lookup(font) : undefined;
  return resolved instanceof PDFDict ? resolved : undefined;
}

function drawForm(
  context: PDFContext,
  resources: PDFDict | undefined,
  name: string,
  ctm: Matrix,
  out: GlyphBox[],
  fonts: Map<PDFDict, FontDecoder>,
  depth: number,
): void {
  const xobjects = resources?.lookupMaybe(PDFName.of('XObject'), PDFDict);
  const ref = xobjects?.get(PDFName.of(name));
  const stream = ref ? context.lookup(ref) : undefined;
  if (!(stream instanceof PDFRawStream)) return;
  if (stream.dict.lookupMaybe(PDFName.of('Subtype'), PDFName)?.asString() !== '/Form') return;
  const matrix = stream.dict
    .lookupMaybe(PDFName.of('Matrix'), PDFArray)
    ?.asArray()
    .map((o) => numberOf(o) ?? 0);
  const m: Matrix = matrix && matrix.length === 6 ? (matrix as Matrix) : IDENTITY;
  const own = stream.dict.lookupMaybe(PDFName.of('Resources'), PDFDict) ?? resources;
  interpret(context, decodePDFRawStream(stream).decode(), own, multiply(m, ctm), out, fonts, depth + 1);
}

/** Every occurrence of each keyword on a page: the union box of the glyphs it spans (text joined across runs). */
export function findKeywords(
  glyphs: GlyphBox[],
  keywords: readonly string[],
): { keyword: string; x: number; y: number; width: number; height: number }[] {
  let text = '';
  const owner: number[] = [];
  glyphs.forEach((g, i) => {
    for (let k = 0; k < g.text.length; k++) owner.push(i);
    text += g.text;
  });
  const hits: { keyword: string; x: number; y: number; width: number; height: number }[] = [];
  for (const keyword of keywords) {
    if (!keyword) continue;
    for (let at = text.indexOf(keyword); at >= 0; at = text.indexOf(keyword, at + keyword.length)) {
      const first = owner[at]!;
      const last = owner[at + keyword.length - 1]!;
      let x0 = Number.POSITIVE_INFINITY;
      let y0 = Number.POSITIVE_INFINITY;
      let x1 = Number.NEGATIVE_INFINITY;
      let y1 = Number.NEGATIVE_INFINITY;
      for (let i = first; i <= last; i++) {
        const g = glyphs[i]!;
        x0 = Math.min(x0, g.x);
        y0 = Math.min(y0, g.y);
        x1 = Math.max(x1, g.x + g.width);
        y1 = Math.max(y1, g.y + g.height);
      }
      hits.push({ keyword, x: round2(x0), y: round2(y0), width: round2(x1 - x0), height: round2(y1 - y0) });
    }
  }
  return hits;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
