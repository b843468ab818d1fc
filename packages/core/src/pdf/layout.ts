/**
 * Fitting a value into a box: choosing the font size, wrapping lines (CJK by character, Latin by word), aligning,
 * and turning glyphs into content-stream operators. Pure functions over measured glyphs, so the renderer can lay
 * out text without knowing how the font is subset.
 */
import { GlyphMissingError, ValueTooLongError } from './errors.js';
import type { CjkFont } from './font.js';

/** Horizontal alignment of a value in its box. */
export type Alignment = 'left' | 'center' | 'right';

export interface BoxSpec {
  /** The field or blank name, for error messages. */
  name: string;
  width: number;
  height: number;
  /** Inner padding on every side (border width plus breathing room). */
  padding: number;
  /** Font size in points; 0 means "choose the largest size that fits". */
  fontSize: number;
  align: Alignment;
  multiline: boolean;
  /** Comb fields spread `maxLength` characters over equal cells. */
  comb?: { cells: number } | undefined;
  /** May the size go below `fontSize` to make the text fit? */
  shrink: boolean;
  minFontSize: number;
}

export interface PlacedGlyph {
  gid: number;
  char: string;
}

export interface PlacedLine {
  x: number;
  y: number;
  glyphs: PlacedGlyph[];
  /** For comb fields: each glyph's own x. */
  xs?: number[];
}

export interface Layout {
  fontSize: number;
  lines: PlacedLine[];
}

interface MeasuredChar {
  char: string;
  gid: number;
  /** Advance in font units. */
  advance: number;
}

const LINE_GAP = 1.15;
const AUTO_MAX_SIZE = 12;

export function layoutText(font: CjkFont, value: string, box: BoxSpec): Layout {
  const text = box.multiline ? value.replace(/\r\n?/g, '\n') : value.replace(/[\r\n\t]+/g, ' ');
  const chars = measure(font, text, box.name);
  const innerWidth = box.width - 2 * box.padding;
  const innerHeight = box.height - 2 * box.padding;
  const upm = font.unitsPerEm;

  if (box.comb) return layoutComb(font, chars, box);

  const fits = (size: number): MeasuredChar[][] | undefined => {
    const maxUnits = (innerWidth * upm) / size;
    if (!box.multiline) {
      const width = chars.reduce((sum, c) => sum + c.advance, 0);
      return width <= maxUnits + 1e-6 ? [chars] : undefined;
    }
    const lines = wrap(chars, maxUnits);
    if (lines === undefined) return undefined;
    return lines.length * size * LINE_GAP <= innerHeight + 1e-6 || lines.length === 1 ? lines : undefined;
  };

  let size =
    box.fontSize > 0 ? box.fontSize : Math.min(AUTO_MAX_SIZE, Math.max(box.minFontSize, innerHeight / LINE_GAP));
  const canShrink = box.shrink || box.fontSize === 0;
  let lines = fits(size);
  while (lines === undefined && canShrink && size - 0.5 >= box.minFontSize) {
    size -= 0.5;
    lines = fits(size);
  }
  if (lines === undefined) {
    const why = canShrink
      ? `it does not fit even at ${box.minFontSize} pt`
      : `it needs more room than the box has at ${size} pt${box.multiline ? '' : ' on one line'}`;
    throw new ValueTooLongError(box.name, why);
  }
  return { fontSize: size, lines: placeLines(font, lines, size, box) };
}

function measure(font: CjkFont, text: string, field: string): MeasuredChar[] {
  const chars: MeasuredChar[] = [];
  for (const char of text) {
    if (char === '\n') {
      chars.push({ char, gid: -1, advance: 0 });
      continue;
    }
    const glyph = font.glyphFor(char.codePointAt(0)!);
    if (glyph === undefined) throw new GlyphMissingError(field, char);
    chars.push({ char, gid: glyph.gid, advance: glyph.advance });
  }
  return chars;
}

/** CJK ideographs, kana, hangul and full-width punctuation may break anywhere; Latin breaks between words. */
function breaksAnywhere(char: string): boolean {
  const cp = char.codePointAt(0)!;
  return (
    (cp >= 0x2e80 && cp <= 0x9fff) ||
    (cp >= 0xac00 && cp <= 0xd7af) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xffef) ||
    cp >= 0x20000
  );
}

/** Greedy line breaking; undefined when a single character is wider than the line. */
function wrap(chars: MeasuredChar[], maxUnits: number): MeasuredChar[][] | undefined {
  // Tokens: a CJK character, a run of Latin non-space characters (a word), a run of spaces, or a newline.
  const tokens: MeasuredChar[][] = [];
  for (const c of chars) {
    const last = tokens[tokens.length - 1];
    const lastChar = last?.[last.length - 1];
    const isSpace = c.char === ' ';
    const joins =
      last !== undefined &&
      lastChar !== undefined &&
      c.char !== '\n' &&
      lastChar.char !== '\n' &&
      !breaksAnywhere(c.char) &&
      !breaksAnywhere(lastChar.char) &&
      (lastChar.char === ' ') === isSpace;
    if (joins) last.push(c);
    else tokens.push([c]);
  }
  const lines: MeasuredChar[][] = [];
  let line: MeasuredChar[] = [];
  let width = 0;
  const widthOf = (t: MeasuredChar[]) => t.reduce((s, c) => s + c.advance, 0);
  const flush = () => {
    while (line.length > 0 && line[line.length - 1]!.char === ' ') line.pop();
    lines.push(line);
    line = [];
    width = 0;
  };
  for (const token of tokens) {
    if (token[0]!.char === '\n') {
      flush();
      continue;
    }
    const w = widthOf(token);
    if (width + w <= maxUnits + 1e-6) {
      line.push(...token);
      width += w;
      continue;
    }
    if (token[0]!.char === ' ') {
      flush();
      continue;
    }
    if (line.length > 0) flush();
    if (w <= maxUnits + 1e-6) {
      line.push(...token);
      width = w;
      continue;
    }
    // A word longer than the line is broken by character.
    for (const c of token) {
      if (c.advance > maxUnits + 1e-6) return undefined;
      if (width + c.advance > maxUnits + 1e-6) flush();
      line.push(c);
      width += c.advance;
    }
  }
  flush();
  return lines;
}

function placeLines(font: CjkFont, lines: MeasuredChar[][], size: number, box: BoxSpec): PlacedLine[] {
  const upm = font.unitsPerEm;
  const innerWidth = box.width - 2 * box.padding;
  const lineHeight = size * LINE_GAP;
  const textHeight = ((font.ascent - font.descent) / upm) * size;
  const firstBaseline = box.multiline
    ? box.height - box.padding - (font.ascent / upm) * size
    : (box.height - textHeight) / 2 - (font.descent / upm) * size;
  return lines.map((line, i) => {
    const width = (line.reduce((s, c) => s + c.advance, 0) / upm) * size;
    const free = innerWidth - width;
    const x = box.padding + (box.align === 'center' ? free / 2 : box.align === 'right' ? free : 0);
    return { x, y: firstBaseline - i * lineHeight, glyphs: line.map((c) => ({ gid: c.gid, char: c.char })) };
  });
}

function layoutComb(font: CjkFont, chars: MeasuredChar[], box: BoxSpec): Layout {
  const cells = box.comb!.cells;
  if (chars.length > cells) throw new ValueTooLongError(box.name, `the field holds ${cells} characters`);
  const upm = font.unitsPerEm;
  const cellWidth = box.width / cells;
  const size = box.fontSize > 0 ? box.fontSize : Math.min(AUTO_MAX_SIZE, (box.height - 2 * box.padding) / LINE_GAP);
  const textHeight = ((font.ascent - font.descent) / upm) * size;
  const y = (box.height - textHeight) / 2 - (font.descent / upm) * size;
  const xs = chars.map((c, i) => i * cellWidth + (cellWidth - (c.advance / upm) * size) / 2);
  return { fontSize: size, lines: [{ x: 0, y, glyphs: chars.map((c) => ({ gid: c.gid, char: c.char })), xs }] };
}

/** Content-stream operators that show a layout with `fontName`; `encode` maps a glyph to its 4-hex-digit code. */
export function textOperators(
  layout: Layout,
  fontName: string,
  color: string,
  encode: (g: PlacedGlyph) => string,
  origin = { x: 0, y: 0 },
): string {
  let ops = `BT\n/${fontName} ${num(layout.fontSize)} Tf\n${color}\n`;
  for (const line of layout.lines) {
    if (line.glyphs.length === 0) continue;
    if (line.xs) {
      line.glyphs.forEach((g, i) => {
        ops += `1 0 0 1 ${num(origin.x + line.xs![i]!)} ${num(origin.y + line.y)} Tm <${encode(g)}> Tj\n`;
      });
      continue;
    }
    let hex = '';
    for (const g of line.glyphs) hex += encode(g);
    ops += `1 0 0 1 ${num(origin.x + line.x)} ${num(origin.y + line.y)} Tm <${hex}> Tj\n`;
  }
  return `${ops}ET\n`;
}

/** Numbers for content streams: at most 3 decimals, no exponent, no "-0". */
export function num(n: number): string {
  const r = Math.round(n * 1000) / 1000;
  return Object.is(r, -0) ? '0' : String(r);
}
