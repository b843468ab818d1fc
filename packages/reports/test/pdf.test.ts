import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type SealflowError, ValidationError } from '@sealflow/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { businessStatistics, regionalRanking, toPdf } from '../src/index.js';
import { rejection } from './support/captured.js';
import { hasTool, pdfFonts, pdfPageCount, pdfText, qpdfCheck } from './support/pdf-tools.js';
import { applications, institution, rankingRows } from './support/rows.js';

const poppler = hasTool('pdftotext', 'the checks of the PDF reports’ text') && hasTool('pdffonts', 'the font check');
const qpdf = hasTool('qpdf', 'qpdf --check of the PDF reports');
const dir = mkdtempSync(path.join(tmpdir(), 'sealflow-reports-'));

async function written(name: string, bytes: Promise<Uint8Array>): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, await bytes);
  return file;
}

describe('toPdf: business statistics over many pages', () => {
  const rows = applications(150);
  const report = businessStatistics(rows, {
    period: { from: '2026-10-01', to: '2026-10-31' },
    groupBy: 'customerManager',
  });
  let file: string;
  beforeAll(async () => {
    file = await written('statistics.pdf', toPdf(report, { generatedAt: new Date('2026-11-30T16:30:00Z') }));
  });

  it('starts with the PDF header', async () => {
    const bytes = await toPdf(report);
    expect(Buffer.from(bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
  });

  it.skipIf(!poppler)('has the Chinese title, column titles, a group row and the totals on page 1', () => {
    const page1 = pdfText(file, 1);
    for (const text of [
      '业务统计报表',
      '统计期间：2026-10-01至2026-10-31',
      '生成时间：2026-12-0100:30',
      '客户经理',
      '申请笔数',
      '金额（元）',
    ]) {
      expect(page1).toContain(text);
    }
    const manager = report.groups[0]!;
    expect(manager.label).toBe('张**（M001）');
    expect(page1).toContain(`张**（M001）${manager.count}`);
    expect(page1).toContain(`合计150${formatted(report.totals.amountFen)}`);
    expect(page1).toContain('第1页/共');
  });

  it.skipIf(!poppler)('paginates the application list, repeating its header on every page and losing no row', () => {
    const pages = pdfPageCount(file);
    expect(pages).toBeGreaterThan(3);
    const header = '申请编号日期产品状态客户经理金额（元）机构';
    const texts = Array.from({ length: pages }, (_, i) => pdfText(file, i + 1));
    texts.forEach((text, i) => {
      expect(text, `page ${i + 1}`).toContain(header);
      expect(text, `page ${i + 1}`).toContain(`第${i + 1}页/共${pages}页`);
    });
    const all = texts.join('');
    for (const application of report.applications) {
      expect(all.split(application.applicationNo).length - 1, application.applicationNo).toBe(1);
    }
    const first = report.applications[0]!;
    expect(all).toContain(
      `${first.applicationNo}${first.periodDate}${first.product}${first.status}张**（M001）${formatted(first.amountFen)}`,
    );
    // The detail's totals row closes the last page.
    expect(texts.at(-1)).toContain(`合计${formatted(report.totals.amountFen)}`);
  });

  it.skipIf(!poppler)('never prints a manager’s full name, and embeds a subset of Noto Sans SC', () => {
    const all = pdfText(file);
    for (const name of ['张三丰', '李四', '欧阳娜娜']) expect(all).not.toContain(name);
    expect(pdfFonts(file)).toMatch(/\+NotoSansSC-Regular\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
  });

  it.skipIf(!qpdf)('passes qpdf --check', () => {
    expect(qpdfCheck(file)).toContain('No syntax or stream encoding errors found');
  });
});

describe('toPdf: regional ranking', () => {
  const report = regionalRanking(rankingRows(), { by: 'speed' });
  let file: string;
  beforeAll(async () => {
    file = await written('ranking.pdf', toPdf(report));
  });

  it.skipIf(!poppler)('has the title, the criterion, each ranked row and the totals', () => {
    const text = pdfText(file);
    expect(text).toContain('机构区域排名');
    expect(text).toContain('排序方式：响应速度机构数：3');
    expect(text).toContain('区域排名机构名称放款金额（元）平均响应时长成功笔数弃单率');
    expect(text).toContain('上海市1乙小贷0.990:01:3110.00%');
    expect(text).toContain('上海市2甲银行12,345.671:30:00412.50%');
    expect(text).toContain('北京市1丙信托0.011:00:00010.00%');
    expect(text).toContain('合计12,346.675');
  });

  it.skipIf(!qpdf)('passes qpdf --check', () => {
    expect(qpdfCheck(file)).toContain('No syntax or stream encoding errors found');
  });
});

describe('toPdf: rows that wrap', () => {
  it.skipIf(!poppler)('breaks pages between rows of several lines, the header repeated on each page', async () => {
    const rows = Array.from({ length: 60 }, (_, i) =>
      institution('浙江省', `Z${String(i).padStart(2, '0')}`, {
        institutionName: `第${i}号${'某某某融资担保有限责任公司'.repeat(1 + (i % 4))}`,
        amountFen: 1_000 * (60 - i),
      }),
    );
    const file = await written('wrapping.pdf', toPdf(regionalRanking(rows, { by: 'amount' })));
    const pages = pdfPageCount(file);
    expect(pages).toBeGreaterThan(2);
    const texts = Array.from({ length: pages }, (_, i) => pdfText(file, i + 1));
    for (const text of texts) expect(text).toContain('区域排名机构名称放款金额（元）平均响应时长成功笔数弃单率');
    // Every institution's rank, name start and amount appear once, in order, never split over two pages.
    const all = texts.join('|');
    let at = 0;
    rows.forEach((_, i) => {
      const next = all.indexOf(`浙江省${i + 1}第${i}号`, at);
      expect(next, `row ${i + 1}`).toBeGreaterThan(at - 1);
      at = next;
    });
    if (qpdf) expect(qpdfCheck(file)).toContain('No syntax or stream encoding errors found');
  });
});

describe('toPdf: a period without applications', () => {
  it.skipIf(!poppler)('still draws both tables’ headers and zero totals on one page', async () => {
    const empty = businessStatistics(applications(5), {
      period: { from: '2027-01-01', to: '2027-01-31' },
      groupBy: 'period',
    });
    const file = await written('empty.pdf', toPdf(empty));
    expect(pdfPageCount(file)).toBe(1);
    const text = pdfText(file);
    expect(text).toContain('日期申请笔数金额（元）合计00.00');
    expect(text).toContain('申请编号日期产品状态客户经理金额（元）机构合计0.00');
  });
});

describe('toPdf: bad input', () => {
  it('refuses negative or fractional fen in a hand-built report before drawing anything', async () => {
    const good = regionalRanking([institution('上海市', 'A')], { by: 'amount' });
    for (const amountFen of [-5, 0.5]) {
      const bad = { ...good, totals: { ...good.totals, amountFen } };
      const error = await rejection(toPdf(bad));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as SealflowError).code).toBe('INVALID_INPUT');
    }
  });

  it('refuses something that is not a report', async () => {
    expect(await rejection(toPdf({ kind: 'ledger' } as never))).toBeInstanceOf(ValidationError);
  });
});

/** Yuan with separators, as the PDF prints it, computed independently of the package's formatter. */
function formatted(fen: number): string {
  const yuan = BigInt(fen) / 100n;
  const rest = String(fen % 100).padStart(2, '0');
  return `${yuan.toLocaleString('en-US')}.${rest}`;
}
