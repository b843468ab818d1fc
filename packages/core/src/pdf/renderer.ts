/**
 * The fast renderer: parse a template once, then fill it many times as incremental updates.
 *
 * `prepareTemplate` parses the template with pdf-lib once, records every text field's dictionaries, widgets,
 * default appearance, alignment and flags, and parses the font once. `render` then does only per-document work:
 * lay out each value, subset the font to the glyphs used, write new field values (/V) and appearance streams (/AP),
 * and append those ~80 objects to the untouched template bytes (see incremental-writer.ts). Nothing in a render
 * mutates the prepared template, so renders from one PreparedTemplate never interfere, and the output depends only
 * on the inputs (no dates, no random ids), so identical inputs give identical bytes.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import {
  PDFArray,
  PDFDict,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFRef,
  PDFString,
  PDFTextField,
  type PDFContext,
  type PDFDocument,
  type PDFObject,
  type PDFPageLeaf,
} from './pdf-lib.js';
import { ValidationError } from '../errors.js';
import { PdfUpdateInconsistentError, UnknownFieldError, ValueTooLongError } from './errors.js';
import { CjkFont, defaultCjkFont } from './font.js';
import { appendIncrementalUpdate, type UpdatedObject } from './incremental-writer.js';
import { type Alignment, type BoxSpec, type Layout, layoutText, num, textOperators } from './layout.js';
import { asPdfInvalid, loadCheckedPdf, type LastXref, type PdfSource, readAllBytes } from './load.js';

/** A rectangle in PDF points, from the bottom-left corner of its page. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A blank line in the template with no AcroForm field: text is drawn into the page's content. */
export interface BlankSpec {
  name: string;
  /** 0-based page index. */
  page: number;
  rect: Rect;
  fontSize?: number;
  align?: Alignment;
  multiline?: boolean;
  shrinkToFit?: boolean;
}

/** How values are fitted into their boxes. */
export interface FitOptions {
  /** Let text shrink below the field's size to fit: for every field (`true`) or the named ones. */
  shrinkToFit?: boolean | readonly string[];
  /** The smallest size shrinking may reach before the value counts as too long. Default 6 pt. */
  minFontSize?: number;
}

/** Options of {@link prepareTemplate}. */
export interface PrepareOptions extends FitOptions {
  /** A TrueType (glyf) font to use instead of the bundled Noto Sans SC. */
  font?: Uint8Array;
  blanks?: readonly BlankSpec[];
}

/** Options of one `PreparedTemplate.render` call. */
export type RenderOptions = FitOptions;

/** A fillable place of a prepared template: a form field or a blank, with where it is. */
export interface TemplateFieldInfo {
  name: string;
  kind: 'field' | 'blank';
  multiline: boolean;
  maxLength: number | undefined;
}

/**
 * A parsed PDF template, ready to render many contracts: each `render` appends an incremental update with the
 * values drawn in the embedded CJK font, leaving the template bytes unchanged.
 */
export interface PreparedTemplate {
  /** The template bytes every output starts with. */
  readonly templateBytes: Uint8Array;
  readonly fields: readonly TemplateFieldInfo[];
  /** Fill `values` (field or blank name → text) and return the template plus one incremental update. */
  render(values: Readonly<Record<string, string>>, options?: RenderOptions): Uint8Array;
}

interface PreparedWidget {
  ref: PDFRef;
  dict: PDFDict;
  width: number;
  height: number;
  borderWidth: number;
  background: string | undefined;
  borderColor: string | undefined;
}

interface PreparedField {
  name: string;
  ref: PDFRef;
  dict: PDFDict;
  widgets: PreparedWidget[];
  fontSize: number;
  color: string;
  align: Alignment;
  multiline: boolean;
  comb: boolean;
  maxLength: number | undefined;
  /** The field's new /DA, serialized: the per-document font at the field's size and colour. */
  daText: string;
}

interface PreparedBlank extends Required<Omit<BlankSpec, 'shrinkToFit'>> {
  shrinkToFit: boolean;
  pageRef: PDFRef;
  pageDict: PDFPageLeaf;
}

/**
 * zlib settings for the per-document streams. TrueType glyph data barely compresses (21 KB → 15.8 KB at level 6);
 * level 1 with the larger hash table is ~30% faster for ~2% more bytes (0.31 vs 0.45 ms for the font subset).
 */
const FAST_DEFLATE = { level: 1, memLevel: 9 } as const;

/**
 * The resource name of the per-document font, in /DR, in the pages with blanks and in every appearance stream. A
 * template may already use it (it may itself be a rendered contract), so each template gets a name none of its pages
 * or its /DR use: taking over a name would redraw the earlier text with this document's glyph numbering.
 */
const FONT_NAME = 'SfCJK';

/** Host fonts parsed once per byte array: every template a process prepares shares the same parsed font. */
const parsedFonts = new WeakMap<Uint8Array, CjkFont>();

/** The parsed form of a host-supplied font; throws a ValidationError when the bytes are not a usable TrueType font. */
export function parsedFont(bytes: Uint8Array): CjkFont {
  let font = parsedFonts.get(bytes);
  if (!font) {
    font = CjkFont.parse(bytes);
    parsedFonts.set(bytes, font);
  }
  return font;
}

/** Parse and check a PDF template once, for rendering many contracts from it (see {@link PreparedTemplate}). */
export async function prepareTemplate(source: PdfSource, options: PrepareOptions = {}): Promise<PreparedTemplate> {
  const bytes = await readAllBytes(source);
  const { doc, lastXref } = await loadCheckedPdf(bytes);
  const font = options.font ? parsedFont(options.font) : defaultCjkFont();
  let fontName: string;
  let fields: Map<string, PreparedField>;
  let blanks: Map<string, PreparedBlank>;
  try {
    fontName = unusedFontName(doc);
    fields = collectTextFields(doc, fontName);
    blanks = collectBlanks(doc, options.blanks ?? [], fields);
  } catch (error) {
    // pdf-lib throws untyped errors on objects of the wrong type (a /CropBox that is not an array, …).
    throw asPdfInvalid(error);
  }
  // Renders number their new objects from the template's /Size; an object created in memory while preparing would
  // take the same number as the first of them.
  if (doc.context.largestObjectNumber >= lastXref.size) {
    throw new PdfUpdateInconsistentError(doc.context.largestObjectNumber, 'changed-template');
  }
  return new Template(bytes.slice(), doc, lastXref, font, fontName, fields, blanks, options);
}

function unusedFontName(doc: PDFDocument): string {
  const used = new Set<string>();
  const addFonts = (resources: PDFDict | undefined) => {
    const fonts = resources?.lookupMaybe(PDFName.of('Font'), PDFDict);
    for (const key of fonts?.keys() ?? []) used.add(key.decodeText());
  };
  addFonts(doc.catalog.getAcroForm()?.dict.lookupMaybe(PDFName.of('DR'), PDFDict));
  for (const page of doc.getPages()) addFonts(page.node.Resources());
  let name = FONT_NAME;
  for (let i = 2; used.has(name); i++) name = `${FONT_NAME}${i}`;
  return name;
}

function collectTextFields(doc: PDFDocument, fontName: string): Map<string, PreparedField> {
  const out = new Map<string, PreparedField>();
  // Ghostscript, Word and WPS exports have no AcroForm, and pdf-lib's getForm() would create one in memory: an
  // object the file does not have, which renders would then write under a number they also give to the font.
  const acroForm = doc.catalog.getAcroForm();
  if (!acroForm) return out;
  const acroDa = acroForm.dict.lookupMaybe(PDFName.of('DA'), PDFString, PDFHexString)?.decodeText();
  for (const field of doc.getForm().getFields()) {
    if (!(field instanceof PDFTextField)) continue;
    const acro = field.acroField;
    const da = parseDefaultAppearance(acro.getDefaultAppearance() ?? acroDa ?? '');
    const quadding = acro.getQuadding() ?? 0;
    const kids = acro.dict.lookupMaybe(PDFName.of('Kids'), PDFArray);
    const widgetRefs: PDFRef[] = [];
    if (kids) {
      for (let i = 0; i < kids.size(); i++) {
        const kid = kids.get(i);
        if (kid instanceof PDFRef) widgetRefs.push(kid);
      }
    } else {
      widgetRefs.push(field.ref);
    }
    out.set(field.getName(), {
      name: field.getName(),
      ref: field.ref,
      dict: acro.dict,
      widgets: widgetRefs.map((ref) => prepareWidget(doc.context, ref)),
      fontSize: da.fontSize,
      color: da.color,
      align: quadding === 1 ? 'center' : quadding === 2 ? 'right' : 'left',
      multiline: field.isMultiline(),
      comb: field.isCombed(),
      maxLength: field.getMaxLength(),
      daText: PDFString.of(`/${fontName} ${num(da.fontSize)} Tf ${da.color}`).toString(),
    });
  }
  return out;
}

function prepareWidget(context: PDFContext, ref: PDFRef): PreparedWidget {
  const dict = context.lookup(ref, PDFDict);
  const rect = dict.lookup(PDFName.of('Rect'), PDFArray).asRectangle();
  const mk = dict.lookupMaybe(PDFName.of('MK'), PDFDict);
  const bs = dict.lookupMaybe(PDFName.of('BS'), PDFDict);
  const borderColor = colorOperator(mk?.lookupMaybe(PDFName.of('BC'), PDFArray), 'stroke');
  const width = bs?.lookupMaybe(PDFName.of('W'), PDFNumber)?.asNumber() ?? (borderColor ? 1 : 0);
  return {
    ref,
    dict,
    width: Math.abs(rect.width),
    height: Math.abs(rect.height),
    borderWidth: width,
    background: colorOperator(mk?.lookupMaybe(PDFName.of('BG'), PDFArray), 'fill'),
    borderColor,
  };
}

function colorOperator(array: PDFArray | undefined, use: 'fill' | 'stroke'): string | undefined {
  if (!array || array.size() === 0) return undefined;
  const parts = array.asArray().map((o) => (o instanceof PDFNumber ? num(o.asNumber()) : '0'));
  const op = parts.length === 1 ? 'g' : parts.length === 3 ? 'rg' : parts.length === 4 ? 'k' : undefined;
  if (!op) return undefined;
  return `${parts.join(' ')} ${use === 'stroke' ? op.toUpperCase() : op}`;
}

/** '/Helv 0 Tf 0 g' → size 0 (auto) and the colour operator. */
function parseDefaultAppearance(da: string): { fontSize: number; color: string } {
  const size = /\/[^\s/]+\s+(-?[\d.]+)\s+Tf/.exec(da);
  const color = /((?:-?[\d.]+\s+){1,4})(g|rg|k)\b/.exec(da);
  return { fontSize: size ? Math.abs(Number(size[1])) : 0, color: color ? `${color[1]!.trim()} ${color[2]}` : '0 g' };
}

function collectBlanks(
  doc: PDFDocument,
  specs: readonly BlankSpec[],
  fields: Map<string, PreparedField>,
): Map<string, PreparedBlank> {
  const out = new Map<string, PreparedBlank>();
  const pages = doc.getPages();
  for (const spec of specs) {
    if (fields.has(spec.name) || out.has(spec.name)) {
      throw new ValidationError(
        `Blank "${spec.name}" has the same name as another field or blank: give it its own name.`,
      );
    }
    const page = pages[spec.page];
    if (!page)
      throw new ValidationError(
        `Blank "${spec.name}" is on page index ${spec.page}, but the template has ${pages.length} pages.`,
      );
    const { x, y, width, height } = spec.rect;
    if (![x, y, width, height].every(Number.isFinite) || width <= 0 || height <= 0) {
      throw new ValidationError(`Blank "${spec.name}" needs a rect with finite x, y and a positive width and height.`);
    }
    // Viewers show only the crop box: a value drawn outside it is invisible, yet the contract would still be signed.
    const box = page.getCropBox();
    const slack = 0.01;
    if (
      x < box.x - slack ||
      y < box.y - slack ||
      x + width > box.x + box.width + slack ||
      y + height > box.y + box.height + slack
    ) {
      throw new ValidationError(
        `Blank "${spec.name}" (x ${num(x)}, y ${num(y)}, ${num(width)} × ${num(height)}) is not inside the visible area of page index ${spec.page} (x ${num(box.x)}–${num(box.x + box.width)}, y ${num(box.y)}–${num(box.y + box.height)}), so its value would not be shown: place it within the page (PDF points, origin bottom-left).`,
        { details: { blank: spec.name, page: spec.page } },
      );
    }
    out.set(spec.name, {
      name: spec.name,
      page: spec.page,
      rect: { x, y, width, height },
      fontSize: spec.fontSize ?? 10,
      align: spec.align ?? 'left',
      multiline: spec.multiline ?? false,
      shrinkToFit: spec.shrinkToFit ?? false,
      pageRef: page.ref,
      pageDict: page.node,
    });
  }
  return out;
}

/** The per-document font: glyphs get consecutive ids in order of first use. */
class DocumentFont {
  readonly newIds = new Map<number, number>();
  readonly order: number[] = [];
  readonly unicode = new Map<number, string>();

  encode(gid: number, char: string): string {
    let id = this.newIds.get(gid);
    if (id === undefined) {
      id = this.order.length + 1; // 0 is .notdef
      this.newIds.set(gid, id);
      this.order.push(gid);
      this.unicode.set(id, char);
    }
    return id.toString(16).padStart(4, '0');
  }
}

class Template implements PreparedTemplate {
  readonly fields: readonly TemplateFieldInfo[];
  private readonly acroFormRef: PDFRef | undefined;
  private readonly acroFormDict: PDFDict | undefined;
  /** Serialized entries of the template dicts that renders rewrite (they never change: renders only patch copies). */
  private readonly serializedEntries = new WeakMap<PDFDict, readonly (readonly [string, string])[]>();

  constructor(
    readonly templateBytes: Uint8Array,
    private readonly doc: PDFDocument,
    private readonly lastXref: LastXref,
    private readonly font: CjkFont,
    private readonly fontName: string,
    private readonly textFields: Map<string, PreparedField>,
    private readonly blanks: Map<string, PreparedBlank>,
    private readonly defaults: FitOptions,
  ) {
    this.fields = [
      ...[...textFields.values()].map((f) => ({
        name: f.name,
        kind: 'field' as const,
        multiline: f.multiline,
        maxLength: f.maxLength,
      })),
      ...[...blanks.values()].map((b) => ({
        name: b.name,
        kind: 'blank' as const,
        multiline: b.multiline,
        maxLength: undefined,
      })),
    ];
    const acroRef = doc.catalog.get(PDFName.of('AcroForm'));
    this.acroFormRef = acroRef instanceof PDFRef ? acroRef : undefined;
    this.acroFormDict = doc.catalog.lookupMaybe(PDFName.of('AcroForm'), PDFDict);
  }

  render(values: Readonly<Record<string, string>>, options: RenderOptions = {}): Uint8Array {
    const fit = { ...this.defaults, ...options };
    const context = this.doc.context;
    const known = () => this.fields.map((f) => f.name);
    for (const [name, value] of Object.entries(values)) {
      if (!this.textFields.has(name) && !this.blanks.has(name)) throw new UnknownFieldError(name, known());
      if (typeof value !== 'string')
        throw new ValidationError(`The value for "${name}" must be a string (got ${typeof value}).`);
    }

    let next = this.lastXref.size;
    const allocate = () => PDFRef.of(next++, 0);
    const fontRefs = {
      type0: allocate(),
      cidFont: allocate(),
      descriptor: allocate(),
      file: allocate(),
      toUnicode: allocate(),
    };
    const docFont = new DocumentFont();
    const objects: (UpdatedObject | DictPatch)[] = [];
    const patches = new Map<PDFRef, DictPatch>();
    /** The template dict `ref` as rewritten by this render: entries to replace or add, as serialized values. */
    const patchOf = (ref: PDFRef, dict: PDFDict) => {
      let patch = patches.get(ref);
      if (!patch) {
        patch = new DictPatch(ref, dict);
        patches.set(ref, patch);
        objects.push(patch);
      }
      return patch.overrides;
    };

    for (const field of this.textFields.values()) {
      const value = values[field.name];
      if (value === undefined) continue;
      const shrink = allowsShrink(fit.shrinkToFit, field.name);
      if (field.maxLength !== undefined && Array.from(value).length > field.maxLength) {
        throw new ValueTooLongError(field.name, `the field holds at most ${field.maxLength} characters`);
      }
      const fieldPatch = patchOf(field.ref, field.dict);
      fieldPatch.set('/V', PDFHexString.fromText(value).toString());
      fieldPatch.set('/DA', field.daText);
      for (const widget of field.widgets) {
        const box: BoxSpec = {
          name: field.name,
          width: widget.width,
          height: widget.height,
          padding: widget.borderWidth + 2,
          fontSize: field.fontSize,
          align: field.align,
          multiline: field.multiline,
          comb: field.comb && field.maxLength ? { cells: field.maxLength } : undefined,
          shrink,
          minFontSize: fit.minFontSize ?? 6,
        };
        const layout = layoutText(this.font, value, box);
        const apRef = allocate();
        objects.push(this.appearanceStream(apRef, widget, layout, docFont, fontRefs.type0, field.color));
        patchOf(widget.ref, widget.dict).set('/AP', `<< /N ${apRef.toString()} >>`);
      }
    }

    this.drawBlanks(values, fit, docFont, fontRefs.type0, allocate, objects, patchOf);

    if (this.acroFormRef && this.acroFormDict) {
      const dr = this.acroFormDict.lookupMaybe(PDFName.of('DR'), PDFDict)?.clone(context) ?? context.obj({});
      const fonts = dr.lookupMaybe(PDFName.of('Font'), PDFDict)?.clone(context) ?? context.obj({});
      fonts.set(PDFName.of(this.fontName), fontRefs.type0);
      dr.set(PDFName.of('Font'), fonts);
      patchOf(this.acroFormRef, this.acroFormDict).set('/DR', dr.toString());
    }

    objects.push(...this.fontObjects(docFont, fontRefs));
    // A rewritten dict must be one the template has; new objects are numbered from its /Size (the writer checks
    // that no number is used twice).
    for (const ref of patches.keys()) {
      if (ref.objectNumber >= this.lastXref.size) {
        throw new PdfUpdateInconsistentError(ref.objectNumber, 'not-in-template');
      }
    }
    const trailer = context.trailerInfo;
    return appendIncrementalUpdate(
      this.templateBytes,
      this.lastXref,
      objects.map((o) => (o instanceof DictPatch ? { ref: o.ref, text: this.patchedText(o) } : o)),
      { Root: trailer.Root!, Info: trailer.Info, ID: trailer.ID },
      next,
    );
  }

  /** A patched dict as text: the template entries (serialized once per dict) not overridden, then the overrides. */
  private patchedText(patch: DictPatch): string {
    let entries = this.serializedEntries.get(patch.dict);
    if (!entries) {
      entries = patch.dict.entries().map(([k, v]) => [k.toString(), v.toString()] as const);
      this.serializedEntries.set(patch.dict, entries);
    }
    let text = '<<\n';
    for (const [k, v] of entries) if (!patch.overrides.has(k)) text += `${k} ${v}\n`;
    for (const [k, v] of patch.overrides) text += `${k} ${v}\n`;
    return `${text}>>`;
  }

  private appearanceStream(
    ref: PDFRef,
    widget: PreparedWidget,
    layout: Layout,
    docFont: DocumentFont,
    fontRef: PDFRef,
    color: string,
  ): UpdatedObject {
    const w = num(widget.width);
    const h = num(widget.height);
    const bw = widget.borderWidth;
    let ops = '/Tx BMC\nq\n';
    if (widget.background) ops += `${widget.background}\n0 0 ${w} ${h} re f\n`;
    if (widget.borderColor && bw > 0) {
      ops += `${widget.borderColor}\n${num(bw)} w\n${num(bw / 2)} ${num(bw / 2)} ${num(widget.width - bw)} ${num(widget.height - bw)} re S\n`;
    }
    ops += `${num(bw)} ${num(bw)} ${num(widget.width - 2 * bw)} ${num(widget.height - 2 * bw)} re W n\n`;
    ops += textOperators(layout, this.fontName, color, (g) => docFont.encode(g.gid, g.char));
    ops += 'Q\nEMC\n';
    return stream(
      ref,
      `/Type /XObject /Subtype /Form /BBox [ 0 0 ${w} ${h} ] /Resources << /Font << /${this.fontName} ${fontRef.toString()} >> >>`,
      latin1Bytes(ops),
    );
  }

  private drawBlanks(
    values: Readonly<Record<string, string>>,
    fit: FitOptions,
    docFont: DocumentFont,
    fontRef: PDFRef,
    allocate: () => PDFRef,
    objects: (UpdatedObject | DictPatch)[],
    patchOf: (ref: PDFRef, dict: PDFDict) => Map<string, string>,
  ): void {
    const context = this.doc.context;
    const byPage = new Map<PDFRef, PreparedBlank[]>();
    for (const blank of this.blanks.values()) {
      if (values[blank.name] === undefined) continue;
      const list = byPage.get(blank.pageRef) ?? [];
      list.push(blank);
      byPage.set(blank.pageRef, list);
    }
    for (const [pageRef, blanks] of byPage) {
      const page = blanks[0]!.pageDict;
      // Wrap the existing content in q … Q so its graphics state cannot leak into the drawn values.
      let ops = 'Q\nq\n';
      for (const blank of blanks) {
        const layout = layoutText(this.font, values[blank.name]!, {
          name: blank.name,
          width: blank.rect.width,
          height: blank.rect.height,
          padding: 1,
          fontSize: blank.fontSize,
          align: blank.align,
          multiline: blank.multiline,
          shrink: blank.shrinkToFit || allowsShrink(fit.shrinkToFit, blank.name),
          minFontSize: fit.minFontSize ?? 6,
        });
        ops += textOperators(layout, this.fontName, '0 g', (g) => docFont.encode(g.gid, g.char), blank.rect);
      }
      ops += 'Q\n';
      const pushRef = allocate();
      const drawRef = allocate();
      objects.push(stream(pushRef, '', latin1Bytes('q\n')));
      objects.push(stream(drawRef, '', latin1Bytes(ops)));
      const pagePatch = patchOf(pageRef, page);
      const existing = page.get(PDFName.of('Contents'));
      const contents: PDFObject[] = [pushRef];
      const resolved = existing ? context.lookup(existing) : undefined;
      if (resolved instanceof PDFArray) contents.push(...resolved.asArray());
      else if (existing) contents.push(existing);
      contents.push(drawRef);
      pagePatch.set('/Contents', context.obj(contents).toString());
      const resources = page.Resources()?.clone(context) ?? context.obj({});
      const fonts = resources.lookupMaybe(PDFName.of('Font'), PDFDict)?.clone(context) ?? context.obj({});
      fonts.set(PDFName.of(this.fontName), fontRef);
      resources.set(PDFName.of('Font'), fonts);
      pagePatch.set('/Resources', resources.toString());
    }
  }

  private fontObjects(
    docFont: DocumentFont,
    refs: { type0: PDFRef; cidFont: PDFRef; descriptor: PDFRef; file: PDFRef; toUnicode: PDFRef },
  ): UpdatedObject[] {
    const font = this.font;
    const subset = font.subset(docFont.order);
    const scale = 1000 / font.unitsPerEm;
    const widths = subset.order.map((gid) => Math.round(font.advanceOf(gid) * scale));
    // A subset tag derived from the glyphs keeps the output deterministic and distinct per glyph set.
    const digest = createHash('sha256').update(Uint32Array.from(subset.order)).digest();
    const tag = Array.from(digest.subarray(0, 6), (b) => String.fromCharCode(65 + (b % 26))).join('');
    // postScriptName is reduced to [A-Za-z0-9-], so the name needs no escaping.
    const baseName = `/${tag}+${font.postScriptName}`;
    const bbox = font.bbox.map((v) => Math.round(v * scale)).join(' ');
    const ascent = Math.round(font.ascent * scale);
    const descent = Math.round(font.descent * scale);
    const descriptor = `<< /Type /FontDescriptor /FontName ${baseName} /Flags 4 /FontBBox [ ${bbox} ] /ItalicAngle 0 /Ascent ${ascent} /Descent ${descent} /CapHeight ${ascent} /StemV 80 /FontFile2 ${refs.file.toString()} >>`;
    const cidFont = `<< /Type /Font /Subtype /CIDFontType2 /BaseFont ${baseName} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor ${refs.descriptor.toString()} /W [ 0 [ ${widths.join(' ')} ] ] /CIDToGIDMap /Identity >>`;
    const type0 = `<< /Type /Font /Subtype /Type0 /BaseFont ${baseName} /Encoding /Identity-H /DescendantFonts [ ${refs.cidFont.toString()} ] /ToUnicode ${refs.toUnicode.toString()} >>`;
    return [
      { ref: refs.type0, text: type0 },
      { ref: refs.cidFont, text: cidFont },
      { ref: refs.descriptor, text: descriptor },
      stream(
        refs.file,
        `/Filter /FlateDecode /Length1 ${subset.bytes.length}`,
        deflateSync(subset.bytes, FAST_DEFLATE),
      ),
      stream(
        refs.toUnicode,
        '/Filter /FlateDecode',
        deflateSync(latin1Bytes(toUnicodeCMap(docFont.unicode)), FAST_DEFLATE),
      ),
    ];
  }
}

/** A template dictionary rewritten by one render: the original plus overridden or added entries (serialized). */
class DictPatch {
  readonly overrides = new Map<string, string>();
  constructor(
    readonly ref: PDFRef,
    readonly dict: PDFDict,
  ) {}
}

/** A stream object written as text: `entries` are the dictionary's entries other than /Length. */
function stream(ref: PDFRef, entries: string, data: Uint8Array): UpdatedObject {
  return { ref, text: `<< ${entries} /Length ${data.length} >>`, data };
}

function allowsShrink(option: FitOptions['shrinkToFit'], name: string): boolean {
  return option === true || (Array.isArray(option) && option.includes(name));
}

function toUnicodeCMap(unicode: Map<number, string>): string {
  const entries = [...unicode.entries()].sort(([a], [b]) => a - b);
  let body = '';
  for (let i = 0; i < entries.length; i += 100) {
    const chunk = entries.slice(i, i + 100);
    body += `${chunk.length} beginbfchar\n`;
    for (const [cid, text] of chunk) body += `<${cid.toString(16).padStart(4, '0')}> <${utf16Hex(text)}>\n`;
    body += 'endbfchar\n';
  }
  return `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
${body}endcmap
CMapName currentdict /CMap defineresource pop
end
end
`;
}

function utf16Hex(text: string): string {
  let hex = '';
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).padStart(4, '0');
  return hex;
}

function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
