/**
 * The CJK font, parsed once and subset per document.
 *
 * pdf-lib re-parses the font on every `embedFont` and shapes text with full OpenType layout; for contract values
 * (Chinese, digits, Latin) one glyph per code point is right, and the parse is the biggest per-document cost
 * (measured by `pnpm bench render`). So: fontkit parses the font once and answers cmap look-ups (cached per code point), and a small
 * hand-written TrueType subsetter copies the used glyphs' `glyf` bytes (cached per glyph) into a new font with only
 * the tables a PDF viewer needs. TrueType outlines only: CFF fonts are refused (a CFF subsetter is a
 * project of its own).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type fontkit from '@pdf-lib/fontkit';
import { ValidationError } from '../errors.js';

/**
 * The default font: Noto Sans SC Regular (SIL OFL 1.1) from @sealflow/font-noto-sans-sc, a package holding just that
 * one TTF. Resolved, not imported, so a host that always passes its own font never reads the 10.5 MB file.
 */
export const DEFAULT_FONT_MODULE = '@sealflow/font-noto-sans-sc/NotoSansSC-Regular.ttf';

let defaultFont: CjkFont | undefined;

let fontkitModule: typeof fontkit | undefined;

/**
 * fontkit, required on the first font parse rather than imported: its 1.5 MB bundle is the largest single cost of
 * importing core (over half a second of CPU through Node's ESM-to-CommonJS bridge), and a host that only runs
 * workflows, or renders nothing until its first signing, should not pay it at start-up.
 */
function loadFontkit(): typeof fontkit {
  fontkitModule ??= createRequire(import.meta.url)('@pdf-lib/fontkit') as typeof fontkit;
  return fontkitModule;
}

/** The bundled font, read and parsed on first use and then shared by every template. */
export function defaultCjkFont(): CjkFont {
  if (defaultFont === undefined) {
    const path = createRequire(import.meta.url).resolve(DEFAULT_FONT_MODULE);
    defaultFont = CjkFont.parse(new Uint8Array(readFileSync(path)));
  }
  return defaultFont;
}

interface TableRecord {
  offset: number;
  length: number;
}

/** A glyph's outline bytes, plus where its component glyph ids sit when it is a composite glyph. */
interface GlyphData {
  bytes: Uint8Array;
  components: { gid: number; at: number }[];
}

/** A glyph of a {@link CjkFont}: its id and advance width. */
export interface GlyphInfo {
  gid: number;
  /** Advance width in font units. */
  advance: number;
}

const REQUIRED_TABLES = ['head', 'hhea', 'maxp', 'loca', 'glyf', 'hmtx'] as const;
const COPIED_TABLES = ['cvt ', 'fpgm', 'prep'] as const;

/**
 * A parsed TrueType CJK font: glyph lookup and metrics for layout, and subsetting so a rendered contract embeds only
 * the glyphs it uses.
 */
export class CjkFont {
  readonly unitsPerEm: number;
  /** Typographic ascender and descender (font units), used to place text vertically. */
  readonly ascent: number;
  readonly descent: number;
  readonly bbox: readonly [number, number, number, number];
  readonly postScriptName: string;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly tables: Map<string, TableRecord>;
  private readonly fontkitFont: fontkit.Font;
  private readonly locaLong: boolean;
  private readonly numGlyphs: number;
  private readonly numberOfHMetrics: number;
  private readonly glyphsByCodePoint = new Map<number, GlyphInfo | null>();
  private readonly glyphData = new Map<number, GlyphData>();
  private readonly outlines = new Map<number, GlyphOutline>();

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = this.view.getUint32(0);
    if (version !== 0x00010000 && version !== 0x74727565) {
      throw new ValidationError(
        'The font must be a TrueType-outline .ttf (CFF/OTF, WOFF and TTC collections are not supported): pass e.g. Noto Sans SC TTF.',
      );
    }
    this.tables = readTableDirectory(this.view);
    for (const tag of REQUIRED_TABLES) {
      if (!this.tables.has(tag))
        throw new ValidationError(`The font has no '${tag}' table: pass a TrueType-outline .ttf.`);
    }
    const head = this.table('head');
    this.unitsPerEm = this.view.getUint16(head.offset + 18);
    this.bbox = [
      this.view.getInt16(head.offset + 36),
      this.view.getInt16(head.offset + 38),
      this.view.getInt16(head.offset + 40),
      this.view.getInt16(head.offset + 42),
    ];
    this.locaLong = this.view.getInt16(head.offset + 50) === 1;
    this.numGlyphs = this.view.getUint16(this.table('maxp').offset + 4);
    this.numberOfHMetrics = this.view.getUint16(this.table('hhea').offset + 34);
    const os2 = this.tables.get('OS/2');
    const hhea = this.table('hhea');
    this.ascent = os2 ? this.view.getInt16(os2.offset + 68) : this.view.getInt16(hhea.offset + 4);
    this.descent = os2 ? this.view.getInt16(os2.offset + 70) : this.view.getInt16(hhea.offset + 6);
    this.fontkitFont = loadFontkit().create(bytes);
    this.postScriptName = (this.fontkitFont.postscriptName || 'CJKFont').replace(/[^A-Za-z0-9-]/g, '');
  }

  static parse(bytes: Uint8Array): CjkFont {
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < 12) {
      throw new ValidationError('The font must be the bytes of a TrueType .ttf file.');
    }
    return new CjkFont(bytes);
  }

  /** The glyph for a code point, or undefined when the font lacks it. Cached: the cmap is read once per character. */
  glyphFor(codePoint: number): GlyphInfo | undefined {
    let info = this.glyphsByCodePoint.get(codePoint);
    if (info === undefined) {
      const gid = this.fontkitFont.glyphForCodePoint(codePoint)?.id ?? 0;
      info = gid === 0 ? null : { gid, advance: this.advanceOf(gid) };
      this.glyphsByCodePoint.set(codePoint, info);
    }
    return info ?? undefined;
  }

  /**
   * The glyph for `codePoint` as a shape: PDF path-construction operators (m, l, c, h) in font units, y up, origin on
   * the baseline, and the bounding box of its points. Undefined when the font lacks the glyph. For marks drawn as
   * outlines rather than text, such as a name seal: nothing to embed, and the drawn name is not extractable text.
   */
  glyphOutline(codePoint: number): GlyphOutline | undefined {
    let outline = this.outlines.get(codePoint);
    if (outline === undefined) {
      const glyph = this.glyphFor(codePoint);
      if (!glyph) return undefined;
      const recorder = new OutlineRecorder();
      const draw = this.fontkitFont.getGlyph(glyph.gid).path.toFunction() as (target: OutlineRecorder) => void;
      draw(recorder);
      outline = recorder.finish();
      // Cached per code point: the same names are sealed on every contract of a borrower.
      this.outlines.set(codePoint, outline);
    }
    return outline;
  }

  advanceOf(gid: number): number {
    const hmtx = this.table('hmtx').offset;
    const i = Math.min(gid, this.numberOfHMetrics - 1);
    return this.view.getUint16(hmtx + i * 4);
  }

  private leftSideBearingOf(gid: number): number {
    const hmtx = this.table('hmtx').offset;
    if (gid < this.numberOfHMetrics) return this.view.getInt16(hmtx + gid * 4 + 2);
    return this.view.getInt16(hmtx + this.numberOfHMetrics * 4 + (gid - this.numberOfHMetrics) * 2);
  }

  private table(tag: string): TableRecord {
    return this.tables.get(tag)!;
  }

  private glyphBytes(gid: number): GlyphData {
    let data = this.glyphData.get(gid);
    if (data === undefined) {
      if (gid >= this.numGlyphs) throw new ValidationError(`Glyph ${gid} is outside the font.`);
      const loca = this.table('loca').offset;
      const start = this.locaLong ? this.view.getUint32(loca + gid * 4) : this.view.getUint16(loca + gid * 2) * 2;
      const end = this.locaLong ? this.view.getUint32(loca + gid * 4 + 4) : this.view.getUint16(loca + gid * 2 + 2) * 2;
      const glyf = this.table('glyf').offset;
      const bytes = this.bytes.subarray(glyf + start, glyf + end);
      data = { bytes, components: bytes.length > 0 ? compositeComponents(bytes) : [] };
      this.glyphData.set(gid, data);
    }
    return data;
  }

  /**
   * A standalone TrueType font holding `gids` (glyph 0, .notdef, is added first) renumbered 0…n-1 in that order,
   * plus any glyphs their composites refer to (appended after). Returns the font bytes and the old→new id map.
   */
  subset(gids: readonly number[]): { bytes: Uint8Array; newIds: Map<number, number>; order: number[] } {
    const order: number[] = [0];
    const newIds = new Map<number, number>([[0, 0]]);
    const add = (gid: number) => {
      let id = newIds.get(gid);
      if (id === undefined) {
        id = order.length;
        order.push(gid);
        newIds.set(gid, id);
      }
      return id;
    };
    for (const gid of gids) add(gid);
    // Composite glyphs pull in their components; the loop sees glyphs appended while it runs.
    const glyphs: Uint8Array[] = [];
    for (let i = 0; i < order.length; i++) {
      const data = this.glyphBytes(order[i]!);
      if (data.components.length === 0) {
        glyphs.push(data.bytes);
        continue;
      }
      const copy = data.bytes.slice();
      const view = new DataView(copy.buffer);
      for (const c of data.components) view.setUint16(c.at, add(c.gid));
      glyphs.push(copy);
    }
    return { bytes: this.writeFont(order, glyphs), newIds, order };
  }

  private writeFont(order: number[], glyphs: Uint8Array[]): Uint8Array {
    const n = order.length;
    let glyfLength = 0;
    for (const g of glyphs) glyfLength += align4(g.length);
    const glyf = new Uint8Array(glyfLength);
    const loca = new Uint8Array((n + 1) * 4);
    const locaView = new DataView(loca.buffer);
    let at = 0;
    glyphs.forEach((g, i) => {
      locaView.setUint32(i * 4, at);
      glyf.set(g, at);
      at += align4(g.length);
    });
    locaView.setUint32(n * 4, at);
    const hmtx = new Uint8Array(n * 4);
    const hmtxView = new DataView(hmtx.buffer);
    order.forEach((gid, i) => {
      hmtxView.setUint16(i * 4, this.advanceOf(gid));
      hmtxView.setInt16(i * 4 + 2, this.leftSideBearingOf(gid));
    });
    const head = this.copyTable('head');
    const headView = new DataView(head.buffer);
    headView.setUint32(8, 0); // checkSumAdjustment, filled in below
    headView.setInt16(50, 1); // long loca offsets
    const hhea = this.copyTable('hhea');
    new DataView(hhea.buffer).setUint16(34, n);
    const maxp = this.copyTable('maxp');
    new DataView(maxp.buffer).setUint16(4, n);
    const tables: [string, Uint8Array][] = [
      ['glyf', glyf],
      ['head', head],
      ['hhea', hhea],
      ['hmtx', hmtx],
      ['loca', loca],
      ['maxp', maxp],
    ];
    for (const tag of COPIED_TABLES) if (this.tables.has(tag)) tables.push([tag, this.copyTable(tag)]);
    tables.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const font = assembleSfnt(tables);
    const headOffset = new DataView(font.buffer).getUint32(12 + tables.findIndex(([t]) => t === 'head') * 16 + 8);
    new DataView(font.buffer).setUint32(headOffset + 8, (0xb1b0afba - checksum(font)) >>> 0);
    return font;
  }

  private copyTable(tag: string): Uint8Array {
    const t = this.table(tag);
    return this.bytes.slice(t.offset, t.offset + t.length);
  }
}

/** A glyph's outline as PDF path operators, with its bounding box (for drawing text as shapes, e.g. a name seal). */
export interface GlyphOutline {
  /** Path-construction operators, ready to be filled (nonzero winding, as TrueType outlines are drawn). */
  operators: string;
  /** [xMin, yMin, xMax, yMax] of the outline's points, in font units; all zero for an empty glyph. */
  bbox: [number, number, number, number];
}

/** Records fontkit's canvas-style path calls as PDF operators; quadratic curves become the equivalent cubics. */
class OutlineRecorder {
  private readonly ops: string[] = [];
  private x = 0;
  private y = 0;
  private readonly box = [Infinity, Infinity, -Infinity, -Infinity];

  moveTo(x: number, y: number): void {
    this.ops.push(`${n(x)} ${n(y)} m`);
    this.at(x, y);
  }
  lineTo(x: number, y: number): void {
    this.ops.push(`${n(x)} ${n(y)} l`);
    this.at(x, y);
  }
  quadraticCurveTo(cx: number, cy: number, x: number, y: number): void {
    const c1x = this.x + ((cx - this.x) * 2) / 3;
    const c1y = this.y + ((cy - this.y) * 2) / 3;
    this.bezierCurveTo(c1x, c1y, x + ((cx - x) * 2) / 3, y + ((cy - y) * 2) / 3, x, y);
  }
  bezierCurveTo(c1x: number, c1y: number, c2x: number, c2y: number, x: number, y: number): void {
    this.ops.push(`${n(c1x)} ${n(c1y)} ${n(c2x)} ${n(c2y)} ${n(x)} ${n(y)} c`);
    this.at(x, y);
  }
  closePath(): void {
    this.ops.push('h');
  }

  finish(): GlyphOutline {
    const [x0, y0, x1, y1] = this.box as [number, number, number, number];
    const bbox: GlyphOutline['bbox'] = Number.isFinite(x0) ? [x0, y0, x1, y1] : [0, 0, 0, 0];
    return { operators: this.ops.join('\n'), bbox };
  }

  private at(x: number, y: number): void {
    this.x = x;
    this.y = y;
    this.box[0] = Math.min(this.box[0]!, x);
    this.box[1] = Math.min(this.box[1]!, y);
    this.box[2] = Math.max(this.box[2]!, x);
    this.box[3] = Math.max(this.box[3]!, y);
  }
}

/** Font units with at most two decimals (quadratic-to-cubic control points are fractional). */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function readTableDirectory(view: DataView): Map<string, TableRecord> {
  const numTables = view.getUint16(4);
  const tables = new Map<string, TableRecord>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    const tag = String.fromCharCode(
      view.getUint8(rec),
      view.getUint8(rec + 1),
      view.getUint8(rec + 2),
      view.getUint8(rec + 3),
    );
    tables.set(tag, { offset: view.getUint32(rec + 8), length: view.getUint32(rec + 12) });
  }
  return tables;
}

const ARG_1_AND_2_ARE_WORDS = 0x0001;
const WE_HAVE_A_SCALE = 0x0008;
const MORE_COMPONENTS = 0x0020;
const WE_HAVE_AN_X_AND_Y_SCALE = 0x0040;
const WE_HAVE_A_TWO_BY_TWO = 0x0080;

/** Component glyph ids of a composite glyph (numberOfContours < 0) and the byte offsets where they are stored. */
function compositeComponents(glyph: Uint8Array): { gid: number; at: number }[] {
  const view = new DataView(glyph.buffer, glyph.byteOffset, glyph.byteLength);
  if (view.getInt16(0) >= 0) return [];
  const components: { gid: number; at: number }[] = [];
  let pos = 10;
  for (;;) {
    const flags = view.getUint16(pos);
    components.push({ gid: view.getUint16(pos + 2), at: pos + 2 });
    pos += 4 + (flags & ARG_1_AND_2_ARE_WORDS ? 4 : 2);
    if (flags & WE_HAVE_A_SCALE) pos += 2;
    else if (flags & WE_HAVE_AN_X_AND_Y_SCALE) pos += 4;
    else if (flags & WE_HAVE_A_TWO_BY_TWO) pos += 8;
    if (!(flags & MORE_COMPONENTS)) return components;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function checksum(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sum = 0;
  const whole = bytes.length & ~3;
  for (let i = 0; i < whole; i += 4) sum = (sum + view.getUint32(i)) >>> 0;
  if (whole < bytes.length) {
    let last = 0;
    for (let i = whole; i < whole + 4; i++) last = (last << 8) | (i < bytes.length ? bytes[i]! : 0);
    sum = (sum + (last >>> 0)) >>> 0;
  }
  return sum;
}

function assembleSfnt(tables: [string, Uint8Array][]): Uint8Array {
  const numTables = tables.length;
  let size = 12 + numTables * 16;
  for (const [, data] of tables) size += align4(data.length);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const entrySelector = Math.floor(Math.log2(numTables));
  const searchRange = 2 ** entrySelector * 16;
  view.setUint32(0, 0x00010000);
  view.setUint16(4, numTables);
  view.setUint16(6, searchRange);
  view.setUint16(8, entrySelector);
  view.setUint16(10, numTables * 16 - searchRange);
  let offset = 12 + numTables * 16;
  tables.forEach(([tag, data], i) => {
    const rec = 12 + i * 16;
    for (let k = 0; k < 4; k++) view.setUint8(rec + k, tag.charCodeAt(k));
    view.setUint32(rec + 4, checksum(data));
    view.setUint32(rec + 8, offset);
    view.setUint32(rec + 12, data.length);
    out.set(data, offset);
    offset += align4(data.length);
  });
  return out;
}
