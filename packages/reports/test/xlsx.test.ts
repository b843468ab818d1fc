import { type SealflowError, ValidationError } from '@sealflow/core';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BusinessStatisticsReport,
  businessStatistics,
  type DispatchReport,
  regionalRanking,
  toXlsx,
  XLSX_HEADER_ROW,
} from '../src/index.js';
import { rejection } from './support/captured.js';
import { applications, rankingRows } from './support/rows.js';

async function readBack(report: DispatchReport, generatedAt?: Date): Promise<ExcelJS.Workbook> {
  const bytes = await toXlsx(report, generatedAt ? { generatedAt } : {});
  expect(bytes).toBeInstanceOf(Uint8Array);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(Buffer.from(bytes) as unknown as ArrayBuffer);
  return workbook;
}

const values = (sheet: ExcelJS.Worksheet, row: number) => (sheet.getRow(row).values as unknown[]).slice(1);

describe('toXlsx: business statistics', () => {
  let report: BusinessStatisticsReport;
  let workbook: ExcelJS.Workbook;
  beforeAll(async () => {
    report = businessStatistics(applications(40), {
      period: { from: '2026-10-01', to: '2026-10-31' },
      groupBy: 'product',
    });
    workbook = await readBack(report, new Date('2026-11-30T16:30:00Z'));
  });

  it('writes a summary sheet and a detail sheet, each with the title, what it covers and a frozen header', () => {
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['业务统计', '申请明细']);
    const sheet = workbook.getWorksheet('业务统计')!;
    expect(sheet.getCell('A1').value).toBe('业务统计报表');
    // The generation time is printed in China time.
    expect(sheet.getCell('A2').value).toBe(
      '统计期间：2026-10-01 至 2026-10-31　按产品分组　生成时间：2026-12-01 00:30',
    );
    expect(values(sheet, XLSX_HEADER_ROW)).toEqual(['产品', '申请笔数', '金额（元）']);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: XLSX_HEADER_ROW });
    expect(values(workbook.getWorksheet('申请明细')!, XLSX_HEADER_ROW)).toEqual([
      '申请编号',
      '日期',
      '产品',
      '状态',
      '客户经理',
      '金额（元）',
      '机构',
    ]);
  });

  it('writes one row per group with amounts as yuan numbers formatted with two decimals, then the totals', () => {
    const sheet = workbook.getWorksheet('业务统计')!;
    const first = XLSX_HEADER_ROW + 1;
    report.groups.forEach((group, i) => {
      const cells = values(sheet, first + i);
      expect(cells).toEqual([
        group.label,
        group.count,
        Number(`${Math.floor(group.amountFen / 100)}.${String(group.amountFen % 100).padStart(2, '0')}`),
      ]);
      expect(sheet.getRow(first + i).getCell(3).numFmt).toBe('#,##0.00');
      expect(sheet.getRow(first + i).getCell(2).numFmt).toBe('#,##0');
    });
    const totals = sheet.getRow(first + report.groups.length);
    expect(values(sheet, totals.number)).toEqual(['合计', 40, report.totals.amountFen / 100]);
    expect(totals.getCell(3).numFmt).toBe('#,##0.00');
    expect(totals.font?.bold).toBe(true);
    expect(sheet.rowCount).toBe(totals.number);
  });

  it('lists every application with the manager’s name masked', () => {
    const sheet = workbook.getWorksheet('申请明细')!;
    expect(sheet.rowCount).toBe(XLSX_HEADER_ROW + 40 + 1);
    expect(values(sheet, XLSX_HEADER_ROW + 1)).toEqual([
      'SQ202600001',
      '2026-10-01',
      '经营贷',
      '已放款',
      '张**（M001）',
      50_000,
      '某某商业银行上海分行',
    ]);
    const column = sheet.getColumn(5).values.slice(XLSX_HEADER_ROW + 1) as string[];
    expect(column.filter((v) => /张三丰|李四|欧阳娜娜/.test(v ?? ''))).toEqual([]);
    expect(values(sheet, sheet.rowCount)[0]).toBe('合计');
    expect(values(sheet, sheet.rowCount)[5]).toBe(report.totals.amountFen / 100);
  });
});

describe('toXlsx: money', () => {
  const statistics = (amounts: number[]) =>
    businessStatistics(
      amounts.map((amountFen, i) => ({ ...applications(1)[0]!, applicationNo: `N${i}`, amountFen })),
      { period: { from: '2026-10-01', to: '2026-10-31' }, groupBy: 'product' },
    );

  it('turns fen into yuan exactly: the stored number reads back as the exact decimal amount', async () => {
    // 0.1 + 0.2 in yuan is 0.30000000000000004 in floats; in fen it is 10 + 20 = 30, written as 0.3.
    const amounts = [10, 20, 1, 99, 123_456_789_012_345, 7];
    const sheet = (await readBack(statistics(amounts))).getWorksheet('申请明细')!;
    const written = amounts.map((_, i) => sheet.getRow(XLSX_HEADER_ROW + 1 + i).getCell(6).value);
    expect(written).toEqual([0.1, 0.2, 0.01, 0.99, 1_234_567_890_123.45, 0.07]);
    const total = sheet.getRow(sheet.rowCount).getCell(6).value as number;
    expect(String(total)).toBe('1234567890124.82');
  });

  it('refuses an amount a spreadsheet cannot hold exactly, rather than rounding it', async () => {
    const error = await rejection(toXlsx(statistics([10 ** 15])));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as SealflowError).message).toMatch(/15 significant digits/);
  });

  it('refuses a hand-built report with negative or fractional fen', async () => {
    const good = statistics([100]);
    for (const amountFen of [-1, 1.5]) {
      const bad = { ...good, groups: [{ ...good.groups[0]!, amountFen }] };
      const error = await rejection(toXlsx(bad));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as SealflowError).code).toBe('INVALID_INPUT');
    }
  });

  it('refuses something that is not a report', async () => {
    const error = await rejection(toXlsx({ kind: 'balanceSheet' } as never));
    expect(error).toBeInstanceOf(ValidationError);
  });
});

describe('toXlsx: a period without applications', () => {
  it('still writes the headers and a zero totals row', async () => {
    const empty = businessStatistics(applications(5), {
      period: { from: '2027-01-01', to: '2027-01-31' },
      groupBy: 'status',
    });
    expect(empty.totals).toEqual({ count: 0, amountFen: 0 });
    const sheet = (await readBack(empty)).getWorksheet('业务统计')!;
    expect(values(sheet, XLSX_HEADER_ROW)).toEqual(['状态', '申请笔数', '金额（元）']);
    expect(values(sheet, XLSX_HEADER_ROW + 1)).toEqual(['合计', 0, 0]);
  });
});

describe('toXlsx: regional ranking', () => {
  it('writes ranks, durations as h:mm:ss and rates as percentages, with totals of amount and successes', async () => {
    const report = regionalRanking(rankingRows(), { by: 'amount' });
    const sheet = (await readBack(report)).getWorksheet('区域排名')!;
    expect(sheet.getCell('A1').value).toBe('机构区域排名');
    expect(sheet.getCell('A2').value).toBe('排序方式：放款金额　机构数：3');
    expect(values(sheet, XLSX_HEADER_ROW)).toEqual([
      '区域',
      '排名',
      '机构名称',
      '放款金额（元）',
      '平均响应时长',
      '成功笔数',
      '弃单率',
    ]);
    const first = sheet.getRow(XLSX_HEADER_ROW + 1);
    expect(values(sheet, first.number)).toEqual(['上海市', 1, '甲银行', 12_345.67, expect.any(Date), 4, 0.125]);
    expect([4, 5, 7].map((c) => first.getCell(c).numFmt)).toEqual(['#,##0.00', '[h]:mm:ss', '0.00%']);
    // A duration is a fraction of a day, which exceljs reads back as a time after Excel's day zero: 1.5 hours here,
    // and 90.5 s shown to the second (91 s) in the next row.
    expect(msAfterDayZero(first.getCell(5).value)).toBe(5_400_000);
    expect(msAfterDayZero(sheet.getRow(XLSX_HEADER_ROW + 2).getCell(5).value)).toBe(91_000);
    expect(values(sheet, XLSX_HEADER_ROW + 3).slice(0, 3)).toEqual(['北京市', 1, '丙信托']);
    expect(values(sheet, XLSX_HEADER_ROW + 4)).toEqual(['合计', undefined, undefined, 12_346.67, undefined, 5]);
  });
});

function msAfterDayZero(value: ExcelJS.CellValue): number {
  return (value as Date).getTime() - Date.UTC(1899, 11, 30);
}
