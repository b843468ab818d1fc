/** Reports as Excel workbooks (exceljs): one sheet per table, Chinese titles, exact yuan amounts and a totals row. */
import { ValidationError } from '@sealflow/core';
import ExcelJS from 'exceljs';
import type { Cell, CellKind, ReportTable } from './layout.js';
import { MAX_SPREADSHEET_FEN, yuanNumber } from './money.js';
import { chinaDateTime, type DispatchReport, type ExportOptions, layoutOf } from './report.js';

/** Number formats of the numeric column kinds: yuan with two decimals, durations as hours:minutes:seconds. */
export const XLSX_NUMBER_FORMATS: Readonly<Record<Exclude<CellKind, 'text'>, string>> = {
  integer: '#,##0',
  money: '#,##0.00',
  duration: '[h]:mm:ss',
  rate: '0.00%',
};

const MS_PER_DAY = 86_400_000;

/**
 * The report as an `.xlsx` workbook: per table a sheet with the report's title, a header row of Chinese column
 * titles (frozen, so it stays in view), one row per entry and a `合计` totals row. Amounts are numbers of yuan
 * formatted `#,##0.00`, converted from integer fen through their exact decimal text; totals are added up in fen,
 * not by a spreadsheet formula, so they are exact too. Throws `ValidationError` for an amount that is negative,
 * fractional, or beyond the 15 significant digits a spreadsheet keeps.
 */
export async function toXlsx(report: DispatchReport, options: ExportOptions = {}): Promise<Uint8Array> {
  const layout = layoutOf(report);
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'sealflow';
  if (options.generatedAt) {
    workbook.created = options.generatedAt;
    workbook.modified = options.generatedAt;
  }
  const subtitle = options.generatedAt
    ? `${layout.subtitle}　生成时间：${chinaDateTime(options.generatedAt)}`
    : layout.subtitle;
  for (const table of layout.tables) addSheet(workbook, table, layout.title, subtitle);
  return new Uint8Array(await workbook.xlsx.writeBuffer());
}

/** Rows 1–2 carry the title and subtitle, row 3 the header; entries start on row 4. */
export const XLSX_HEADER_ROW = 3;

function addSheet(workbook: ExcelJS.Workbook, table: ReportTable, title: string, subtitle: string): void {
  const sheet = workbook.addWorksheet(table.name, { views: [{ state: 'frozen', ySplit: XLSX_HEADER_ROW }] });
  sheet.columns = table.columns.map((c) => ({ width: c.width }));
  sheet.addRow([title]).font = { bold: true, size: 14 };
  sheet.addRow([subtitle]);
  const header = sheet.addRow(table.columns.map((c) => c.title));
  header.font = { bold: true };
  header.eachCell((cell) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE8EEF7' } };
    cell.alignment = { horizontal: 'center' };
  });
  for (const row of table.rows) addEntryRow(sheet, table, row);
  if (table.totals) addEntryRow(sheet, table, table.totals).font = { bold: true };
}

function addEntryRow(sheet: ExcelJS.Worksheet, table: ReportTable, cells: Cell[]): ExcelJS.Row {
  const row = sheet.addRow(cells.map((cell, i) => cellValue(cell, table.columns[i]!.kind)));
  table.columns.forEach((column, i) => {
    if (column.kind !== 'text') row.getCell(i + 1).numFmt = XLSX_NUMBER_FORMATS[column.kind];
  });
  return row;
}

function cellValue(cell: Cell, kind: CellKind): ExcelJS.CellValue {
  if (cell === null) return null;
  if (kind === 'text' || typeof cell === 'string') return String(cell);
  switch (kind) {
    case 'money':
      if (cell > MAX_SPREADSHEET_FEN) {
        throw new ValidationError(
          'An amount is beyond the 15 significant digits a spreadsheet keeps exactly: export a smaller period or region.',
          { details: { kind: 'money' } },
        );
      }
      return yuanNumber(cell);
    case 'duration':
      // Whole seconds: a mean response time is read in hours and minutes, and a day fraction of a ms is noise.
      return (Math.round(cell / 1000) * 1000) / MS_PER_DAY;
    default:
      return cell;
  }
}
