/**
 * What a template contains, for the upload screen and for validating a template definition against its PDF:
 * a content hash, pages and their sizes, form fields with their boxes, and where given keywords are printed.
 */
import { createHash } from 'node:crypto';
import {
  type PDFAcroField,
  PDFArray,
  PDFButton,
  PDFCheckBox,
  PDFDict,
  PDFDropdown,
  PDFName,
  PDFOptionList,
  PDFRadioGroup,
  PDFRef,
  PDFSignature,
  PDFTextField,
  type PDFDocument,
  type PDFField,
} from './pdf-lib.js';
import { PdfInvalidError } from './errors.js';
import { asPdfInvalid, loadCheckedPdf, type PdfSource, readAllBytes } from './load.js';
import { findKeywords, pageGlyphs } from './text-positions.js';

/** The kind of an AcroForm field found by {@link inspectPdf}. */
export type PdfFieldType = 'text' | 'checkbox' | 'radio' | 'dropdown' | 'listbox' | 'button' | 'signature' | 'unknown';

/** A rectangle in PDF points, from the bottom-left corner of its page. */
export interface PdfRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An AcroForm field of an inspected PDF: its name, type and where its widgets are. */
export interface PdfFieldInfo {
  name: string;
  type: PdfFieldType;
  /** 0-based page index of this widget; -1 when the widget is on no page. */
  page: number;
  rect: PdfRect;
  maxLength?: number;
  multiline?: boolean;
}

/** Where a searched keyword was found on a page. */
export interface KeywordHit extends PdfRect {
  keyword: string;
  page: number;
}

/** What {@link inspectPdf} found: pages, form fields and keyword positions. */
export interface PdfInspection {
  sha256: string;
  byteLength: number;
  pageCount: number;
  /** Each page's MediaBox in PDF points: its size, and its lower-left corner `x`, `y` (usually 0, 0). */
  pages: { index: number; width: number; height: number; x: number; y: number }[];
  /** One entry per widget: a field shown in two places appears twice. */
  fields: PdfFieldInfo[];
  keywordHits: KeywordHit[];
}

/** Options of {@link inspectPdf}. */
export interface InspectOptions {
  keywords?: readonly string[];
}

/**
 * Read a PDF template without changing it: page sizes, AcroForm fields and where given keywords appear, so a template
 * definition can place values and seals. Refuses a damaged or encrypted PDF with `PdfInvalidError`.
 */
export async function inspectPdf(source: PdfSource, options: InspectOptions = {}): Promise<PdfInspection> {
  const bytes = await readAllBytes(source);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { doc } = await loadCheckedPdf(bytes);
  try {
    return describe(doc, sha256, bytes.byteLength, options.keywords ?? []);
  } catch (error) {
    throw asPdfInvalid(error);
  }
}

function describe(doc: PDFDocument, sha256: string, byteLength: number, keywords: readonly string[]): PdfInspection {
  const pages = doc.getPages();
  return {
    sha256,
    byteLength,
    pageCount: pages.length,
    pages: pages.map((p, index) => {
      const { x, y, width, height } = p.getMediaBox();
      return { index, width, height, x, y };
    }),
    fields: listFields(doc),
    keywordHits:
      keywords.length === 0
        ? []
        : pages.flatMap((p, page) =>
            findKeywords(pageGlyphs(doc.context, p.node), keywords).map((h) => ({ ...h, page })),
          ),
  };
}

function fieldType(field: PDFField): PdfFieldType {
  if (field instanceof PDFTextField) return 'text';
  if (field instanceof PDFCheckBox) return 'checkbox';
  if (field instanceof PDFRadioGroup) return 'radio';
  if (field instanceof PDFDropdown) return 'dropdown';
  if (field instanceof PDFOptionList) return 'listbox';
  if (field instanceof PDFSignature) return 'signature';
  if (field instanceof PDFButton) return 'button';
  return 'unknown';
}

function listFields(doc: PDFDocument): PdfFieldInfo[] {
  const pageOfRef = new Map<string, number>();
  const pageOfAnnot = new Map<string, number>();
  doc.getPages().forEach((page, index) => {
    pageOfRef.set(page.ref.toString(), index);
    const annots = page.node.lookupMaybe(PDFName.of('Annots'), PDFArray);
    for (const a of annots?.asArray() ?? []) if (a instanceof PDFRef) pageOfAnnot.set(a.toString(), index);
  });
  const out: PdfFieldInfo[] = [];
  let form: ReturnType<PDFDocument['getForm']>;
  try {
    form = doc.getForm();
  } catch {
    return out;
  }
  for (const field of form.getFields()) {
    for (let node: PDFAcroField | undefined = field.acroField; node; node = node.getParent()) {
      if (!node.getPartialName()) throw new PdfInvalidError('damaged', { detail: 'a form field has no name (/T)' });
    }
    const type = fieldType(field);
    const kids = field.acroField.dict.lookupMaybe(PDFName.of('Kids'), PDFArray);
    const widgetRefs = kids ? kids.asArray().filter((k): k is PDFRef => k instanceof PDFRef) : [field.ref];
    for (const ref of widgetRefs) {
      const dict = doc.context.lookup(ref);
      if (!(dict instanceof PDFDict)) continue;
      const rect = dict.lookupMaybe(PDFName.of('Rect'), PDFArray)?.asRectangle();
      if (!rect) continue;
      const p = dict.get(PDFName.of('P'));
      const page =
        pageOfAnnot.get(ref.toString()) ?? (p instanceof PDFRef ? pageOfRef.get(p.toString()) : undefined) ?? -1;
      const info: PdfFieldInfo = {
        name: field.getName(),
        type,
        page,
        rect: {
          x: Math.min(rect.x, rect.x + rect.width),
          y: Math.min(rect.y, rect.y + rect.height),
          width: Math.abs(rect.width),
          height: Math.abs(rect.height),
        },
      };
      if (field instanceof PDFTextField) {
        const maxLength = field.getMaxLength();
        if (maxLength !== undefined) info.maxLength = maxLength;
        info.multiline = field.isMultiline();
      }
      out.push(info);
    }
  }
  return out;
}
