/** Reports as PDF (pdfkit): A4 landscape, Chinese text in Noto Sans SC, long tables paginated with their header. */
import PDFDocument from 'pdfkit';
import { bundledFontPath } from './font.js';
import type { Cell, CellKind, ReportColumn, ReportLayout, ReportTable } from './layout.js';
import { formatYuan } from './money.js';
import { chinaDateTime, type DispatchReport, type ExportOptions, layoutOf } from './report.js';

/** Options of {@link toPdf}. */
export interface PdfOptions extends ExportOptions {
  /** The path of a TrueType (.ttf) font with the glyphs the report needs; defaults to the bundled Noto Sans SC. */
  fontPath?: string;
}

const MARGIN = 40;
const BODY_SIZE = 9;
const PADDING = 4;
// Breaking a page a little early keeps pdfkit from breaking it itself, which would not repeat the header.
const PAGE_BREAK_SLACK = 2;
const HEADER_FILL = '#e8eef7';

/**
 * The report as a PDF: A4 landscape, the title and what the report covers, then each table with a header row
 * repeated at the top of every page it runs onto, a bold `合计` totals row, and 第 n 页 / 共 m 页 at the foot of each
 * page. Text is real text in an embedded subset of Noto Sans SC (or `options.fontPath`), so it can be searched and
 * copied. Amounts print as yuan with two decimals and thousands separators, from integer fen.
 */
export async function toPdf(report: DispatchReport, options: PdfOptions = {}): Promise<Uint8Array> {
  const layout = layoutOf(report);
  // Cells are formatted before a page is drawn: a bad amount throws here and no half-written document is returned.
  const formatted = layout.tables.map((table) => formatTable(table));
  const doc = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    margin: MARGIN,
    bufferPages: true,
    info: { Title: layout.title, Creator: 'sealflow', Producer: 'sealflow (pdfkit)' },
  });
  if (options.generatedAt) {
    doc.info.CreationDate = options.generatedAt;
    doc.info.ModDate = options.generatedAt;
  }
  const done = collect(doc);
  // By path, not as bytes: pdfkit caches a font under its path, while bytes would be parsed again for every cell.
  doc.font(options.fontPath ?? bundledFontPath());
  drawHeading(doc, layout, options.generatedAt);
  layout.tables.forEach((table, i) => {
    drawTable(doc, table, formatted[i]!);
  });
  drawPageNumbers(doc);
  doc.end();
  return done;
}

function collect(doc: PDFKit.PDFDocument): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    doc.on('error', reject);
  });
}

function drawHeading(doc: PDFKit.PDFDocument, layout: ReportLayout, generatedAt: Date | undefined): void {
  doc.fontSize(16).text(layout.title, { align: 'center' });
  doc.moveDown(0.3);
  const made = generatedAt ? `　生成时间：${chinaDateTime(generatedAt)}` : '';
  doc.fontSize(10).text(`${layout.subtitle}${made}`, { align: 'center' });
  doc.moveDown(0.8);
}

interface FormattedTable {
  rows: string[][];
  totals: string[] | undefined;
}

function formatTable(table: ReportTable): FormattedTable {
  const format = (cells: Cell[]) => cells.map((cell, i) => formatCell(cell, table.columns[i]!.kind));
  return { rows: table.rows.map(format), totals: table.totals ? format(table.totals) : undefined };
}

/** A cell as printed: yuan with separators, durations as h:mm:ss, rates as percentages with two decimals. */
export function formatCell(cell: Cell, kind: CellKind): string {
  if (cell === null) return '';
  if (typeof cell === 'string') return cell;
  switch (kind) {
    case 'money':
      return formatYuan(cell);
    case 'duration': {
      const seconds = Math.round(cell / 1000);
      const pad = (n: number) => String(n).padStart(2, '0');
      return `${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
    }
    case 'rate':
      return `${(cell * 100).toFixed(2)}%`;
    default:
      return String(cell);
  }
}

function drawTable(doc: PDFKit.PDFDocument, table: ReportTable, cells: FormattedTable): void {
  const contentWidth = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const units = table.columns.reduce((sum, c) => sum + c.width, 0);
  const widths = table.columns.map((c) => (c.width / units) * contentWidth);
  const header = table.columns.map((c) => c.title);
  const rowHeight = (row: string[]) =>
    Math.max(...row.map((text, i) => doc.heightOfString(text || ' ', { width: widths[i]! - 2 * PADDING }))) +
    2 * PADDING;

  doc.fontSize(12);
  ensureRoom(doc, doc.currentLineHeight(true) + rowHeight(header) * 2);
  doc.text(table.name, MARGIN, doc.y);
  doc.moveDown(0.3);
  doc.fontSize(BODY_SIZE);
  let pdfTable = startTable(doc, table.columns, widths);
  const rows = cells.totals ? [...cells.rows, cells.totals] : cells.rows;
  rows.forEach((row, i) => {
    if (doc.y + rowHeight(row) > doc.page.maxY() - PAGE_BREAK_SLACK) {
      pdfTable.end();
      doc.addPage();
      pdfTable = startTable(doc, table.columns, widths);
    }
    const isTotals = cells.totals !== undefined && i === rows.length - 1;
    pdfTable.row(isTotals ? row.map((text) => ({ text, backgroundColor: HEADER_FILL })) : row);
  });
  pdfTable.end();
  doc.moveDown(1);
}

/** A new table at the current position, its header row drawn first. */
function startTable(doc: PDFKit.PDFDocument, columns: ReportColumn[], widths: number[]): PDFKit.Mixins.PDFTableObject {
  const table = doc.table({
    position: { x: MARGIN, y: doc.y },
    columnStyles: widths.map((width, i) => ({ width, ...alignOf(columns[i]!) })),
    defaultStyle: { border: 0.5, borderColor: '#888888', padding: PADDING },
  });
  return table.row(columns.map((c) => ({ text: c.title, type: 'TH', backgroundColor: HEADER_FILL, align: 'center' })));
}

function alignOf(column: ReportColumn): { align: { x: 'left' | 'right'; y: 'center' } } {
  return { align: { x: column.kind === 'text' ? 'left' : 'right', y: 'center' } };
}

function ensureRoom(doc: PDFKit.PDFDocument, height: number): void {
  if (doc.y + height > doc.page.maxY()) doc.addPage();
}

function drawPageNumbers(doc: PDFKit.PDFDocument): void {
  const { start, count } = doc.bufferedPageRange();
  for (let i = start; i < start + count; i++) {
    doc.switchToPage(i);
    // Below the bottom margin: lift it, or pdfkit would start a new page for the footer.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.fontSize(8).text(`第 ${i + 1} 页 / 共 ${count} 页`, MARGIN, doc.page.height - bottom + 12, {
      width: doc.page.width - 2 * MARGIN,
      align: 'center',
      lineBreak: false,
    });
    doc.page.margins.bottom = bottom;
  }
  doc.flushPages();
}
