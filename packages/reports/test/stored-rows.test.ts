import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';
import { applicationRepository, type Persistence, type SealflowError, ValidationError } from '@sealflow/core';
import { createMemoryPersistence } from '@sealflow/core/memory';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApplicationRow,
  businessStatistics,
  type InstitutionPerformance,
  readApplicationRows,
  readInstitutionPerformance,
  regionalRanking,
  toPdf,
  toXlsx,
  XLSX_HEADER_ROW,
} from '../src/index.js';
import { rejection } from './support/captured.js';
import { hasTool, pdfText } from './support/pdf-tools.js';
import {
  accept,
  choose,
  cmLi,
  cmWang,
  decline,
  disburse,
  dispatch,
  dispatchServices,
  exhausted,
  failProcessing,
  HOUR,
  open,
  registerInstitutions,
  reject,
  settle,
} from './support/stored-dispatch.js';

const OCTOBER = { from: '2026-10-01', to: '2026-10-31' };
const REGION_NAMES = { '310000': '上海市' };
const PRODUCT_NAMES = { HOUSE: '房抵贷', CREDIT: '信用贷' };
const MANAGERS: Record<string, string> = { 'cm-li': '李建国', 'cm-wang': '王芳' };
const managerName = (id: string) => MANAGERS[id]!;
const poppler = hasTool('pdftotext', 'the checks of the PDF reports read from stored data');

/** A persistence whose transactions are counted. */
function counted(persistence: Persistence) {
  const counter = { transactions: 0 };
  const wrapped: Persistence = {
    name: persistence.name,
    close: () => persistence.close(),
    transaction(work) {
      counter.transactions++;
      return persistence.transaction(work);
    },
  };
  return { persistence: wrapped, counter };
}

/**
 * October 2026 in China time: A1 opened at 01:00 on 1 October (still 30 September in UTC), offered to A, B and C —
 * A accepts after 1 h, B declines after 3 h, C lets it expire — chosen A, disbursed and settled at 290 000 yuan.
 * A2 offered to B (accepts after 30 min) and A (after 90 min), chosen B, which fails at signing; dispatched again to
 * C (accepts after 2 h), disbursed 95 000 yuan. A3 in Shenzhen (440300) offered to A (declines after 4 h) and C
 * (expires): back to review. A4 rejected. One application opened the day before October, one the day after.
 */
async function octoberData(persistence: Persistence) {
  const s = dispatchServices(persistence, Date.UTC(2026, 8, 30, 2));
  await registerInstitutions(s, persistence);
  await open(s, cmLi, { number: 'SQ0930', product: 'HOUSE', amountFen: 1_000_000, region: '310000' });

  s.clock.set(Date.UTC(2026, 8, 30, 17));
  const a1 = await open(s, cmLi, { number: 'SQ1001', product: 'HOUSE', amountFen: 30_000_000, region: '310000' });
  const d1 = await dispatch(s, a1, 1, ['inst-a', 'inst-b', 'inst-c']);
  s.clock.advance(HOUR);
  await accept(s, d1.offerOf('inst-a'), 'inst-a');
  s.clock.advance(2 * HOUR);
  await decline(s, d1.offerOf('inst-b'), 'inst-b');
  s.clock.advance(21 * HOUR);
  await s.drain();
  await choose(s, cmLi, a1, d1.dispatchId, 'inst-a');
  await disburse(s, a1, 'inst-a', 29_000_000);
  await settle(s, cmLi, a1, 29_000_000);

  const a2 = await open(s, cmWang, { number: 'SQ1002', product: 'CREDIT', amountFen: 10_000_000, region: '310000' });
  const d2 = await dispatch(s, a2, 1, ['inst-b', 'inst-a']);
  s.clock.advance(HOUR / 2);
  await accept(s, d2.offerOf('inst-b'), 'inst-b');
  s.clock.advance(HOUR);
  await accept(s, d2.offerOf('inst-a'), 'inst-a');
  await choose(s, cmWang, a2, d2.dispatchId, 'inst-b');
  await failProcessing(s, a2, 'inst-b');
  const d3 = await dispatch(s, a2, 2, ['inst-b', 'inst-c']);
  s.clock.advance(2 * HOUR);
  await accept(s, d3.offerOf('inst-c'), 'inst-c');
  await choose(s, cmWang, a2, d3.dispatchId, 'inst-c');
  await disburse(s, a2, 'inst-c', 9_500_000);

  const a3 = await open(s, cmLi, { number: 'SQ1003', product: 'HOUSE', amountFen: 20_000_000, region: '440300' });
  const d4 = await dispatch(s, a3, 1, ['inst-a', 'inst-c']);
  s.clock.advance(4 * HOUR);
  await decline(s, d4.offerOf('inst-a'), 'inst-a');
  s.clock.advance(20 * HOUR);
  await s.drain();
  await exhausted(s, a3);

  const a4 = await open(s, cmLi, { number: 'SQ1004', product: 'CREDIT', amountFen: 5_000_000, region: '310000' });
  await reject(s, a4);

  s.clock.set(Date.UTC(2026, 9, 31, 16, 30));
  await open(s, cmLi, { number: 'SQ1101', product: 'CREDIT', amountFen: 1_000_000, region: '310000' });
}

const row = (
  region: string,
  institutionId: string,
  institutionName: string,
  fields: Pick<InstitutionPerformance, 'amountFen' | 'meanResponseMs' | 'successes' | 'abandonmentRate'>,
): InstitutionPerformance => ({ region, institutionId, institutionName, ...fields });

const EXPECTED_PERFORMANCE = [
  row('440300', 'inst-a', '甲银行上海分行', {
    amountFen: 0,
    meanResponseMs: 4 * HOUR,
    successes: 0,
    abandonmentRate: 0,
  }),
  row('440300', 'inst-c', '丙消费金融有限公司', {
    amountFen: 0,
    meanResponseMs: null,
    successes: 0,
    abandonmentRate: 0,
  }),
  // A1 answered after 1 h, A2 after 1.5 h; A1 disbursed 29 000 000 fen.
  row('上海市', 'inst-a', '甲银行上海分行', {
    amountFen: 29_000_000,
    meanResponseMs: 1.25 * HOUR,
    successes: 1,
    abandonmentRate: 0,
  }),
  // Declined A1 after 3 h, accepted A2 after 30 min and abandoned it.
  row('上海市', 'inst-b', '乙小额贷款有限公司', {
    amountFen: 0,
    meanResponseMs: 1.75 * HOUR,
    successes: 0,
    abandonmentRate: 1,
  }),
  // A1 expired (no answer); A2 accepted after 2 h and disbursed.
  row('上海市', 'inst-c', '丙消费金融有限公司', {
    amountFen: 9_500_000,
    meanResponseMs: 2 * HOUR,
    successes: 1,
    abandonmentRate: 0,
  }),
];

const backends: { name: string; open: () => Promise<Persistence> }[] = [
  { name: 'memory', open: async () => createMemoryPersistence() },
  { name: 'PGlite', open: () => pglitePersistence() },
];

describe.each(backends)('report rows read from stored dispatch data ($name)', (backend) => {
  let persistence: Persistence;
  beforeAll(async () => {
    persistence = await backend.open();
    await octoberData(persistence);
  });
  afterAll(() => persistence.close());

  it('gives one performance row per region and institution, in one transaction', async () => {
    const { persistence: watched, counter } = counted(persistence);
    const rows = await readInstitutionPerformance(watched, { period: OCTOBER, regionNames: REGION_NAMES });
    expect(rows).toEqual(EXPECTED_PERFORMANCE);
    expect(counter.transactions).toBe(1);
  });

  it('counts the days in the time zone given: in UTC, A1 was opened in September', async () => {
    const rows = await readInstitutionPerformance(persistence, {
      period: OCTOBER,
      regionNames: REGION_NAMES,
      timeZone: 'UTC',
    });
    // A1 and its offers (17:00 UTC on 30 September) leave October; A2's answer after 1.5 h is what remains.
    expect(rows.find((r) => r.region === '上海市' && r.institutionId === 'inst-a')).toMatchObject({
      amountFen: 0,
      successes: 0,
      meanResponseMs: 1.5 * HOUR,
    });
  });

  it('reports codes given the same name as one region', async () => {
    const rows = await readInstitutionPerformance(persistence, {
      period: OCTOBER,
      regionNames: { '310000': '华东华南', '440300': '华东华南' },
    });
    expect(rows.map((r) => r.institutionId)).toEqual(['inst-a', 'inst-b', 'inst-c']);
    // inst-a answered after 1 h, 1.5 h and 4 h.
    expect(rows[0]).toMatchObject({ meanResponseMs: (6.5 * HOUR) / 3, successes: 1 });
  });

  it('gives one application row per application opened in the period, in China time', async () => {
    const { persistence: watched, counter } = counted(persistence);
    const asked: string[] = [];
    const rows = await readApplicationRows(watched, {
      period: OCTOBER,
      productNames: PRODUCT_NAMES,
      managerName: async (id) => {
        asked.push(id);
        return managerName(id);
      },
    });
    expect(counter.transactions).toBe(1);
    expect(asked.sort()).toEqual(['cm-li', 'cm-wang']);
    expect(rows.map((r) => r.applicationNo)).toEqual(['SQ1001', 'SQ1002', 'SQ1003', 'SQ1004']);
    expect(rows[0]).toEqual({
      applicationNo: 'SQ1001',
      periodDate: '2026-10-01',
      product: '房抵贷',
      status: '已结算',
      customerManagerId: 'cm-li',
      customerManagerName: '李建国',
      amountFen: 29_000_000,
      institution: '甲银行上海分行',
    } satisfies ApplicationRow);
    expect(
      rows.slice(1).map(({ product, status, customerManagerName, amountFen, institution }) => ({
        product,
        status,
        customerManagerName,
        amountFen,
        institution,
      })),
    ).toEqual([
      {
        product: '信用贷',
        status: '结算中',
        customerManagerName: '王芳',
        amountFen: 9_500_000,
        institution: '丙消费金融有限公司',
      },
      {
        product: '房抵贷',
        status: '贷审中',
        customerManagerName: '李建国',
        amountFen: 20_000_000,
        institution: undefined,
      },
      {
        product: '信用贷',
        status: '已驳回',
        customerManagerName: '李建国',
        amountFen: 5_000_000,
        institution: undefined,
      },
    ]);
    for (const r of rows) expect(r.periodDate >= '2026-10-01' && r.periodDate <= '2026-10-31').toBe(true);
  });

  it('prints codes and overridden statuses as told', async () => {
    const rows = await readApplicationRows(persistence, {
      period: OCTOBER,
      statusNames: { rejected: '拒绝' },
      managerName,
    });
    expect(rows.map((r) => `${r.product} ${r.status}`)).toEqual([
      'HOUSE 已结算',
      'CREDIT 结算中',
      'HOUSE 贷审中',
      'CREDIT 拒绝',
    ]);
  });

  it('exports both reports to XLSX and PDF from the rows read', async () => {
    const ranking = regionalRanking(
      await readInstitutionPerformance(persistence, { period: OCTOBER, regionNames: REGION_NAMES }),
      { by: 'speed' },
    );
    expect(ranking.regions.map((r) => r.institutions.map((i) => i.institutionId))).toEqual([
      ['inst-a', 'inst-c'],
      ['inst-a', 'inst-b', 'inst-c'],
    ]);
    const statistics = businessStatistics(
      await readApplicationRows(persistence, { period: OCTOBER, productNames: PRODUCT_NAMES, managerName }),
      { period: OCTOBER, groupBy: 'product' },
    );
    expect(statistics.groups).toEqual([
      { key: '信用贷', label: '信用贷', count: 2, amountFen: 14_500_000 },
      { key: '房抵贷', label: '房抵贷', count: 2, amountFen: 49_000_000 },
    ]);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(Buffer.from(await toXlsx(ranking)) as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0]!;
    const cells = (n: number) => (sheet.getRow(n).values as unknown[]).slice(1);
    // The institution without answers has an empty response time.
    expect(cells(XLSX_HEADER_ROW + 2).slice(0, 5)).toEqual(['440300', 2, '丙消费金融有限公司', 0, undefined]);
    expect(cells(XLSX_HEADER_ROW + 3).slice(0, 4)).toEqual(['上海市', 1, '甲银行上海分行', 290_000]);
    const detail = new ExcelJS.Workbook();
    await detail.xlsx.load(Buffer.from(await toXlsx(statistics)) as unknown as ArrayBuffer);
    expect((detail.getWorksheet('申请明细')!.getRow(XLSX_HEADER_ROW + 1).values as unknown[]).slice(1)).toEqual([
      'SQ1001',
      '2026-10-01',
      '房抵贷',
      '已结算',
      '李**（cm-li）',
      290_000,
      '甲银行上海分行',
    ]);

    const dir = mkdtempSync(path.join(tmpdir(), 'sealflow-stored-rows-'));
    const rankingPdf = path.join(dir, 'ranking.pdf');
    const statisticsPdf = path.join(dir, 'statistics.pdf');
    writeFileSync(rankingPdf, await toPdf(ranking));
    writeFileSync(statisticsPdf, await toPdf(statistics));
    if (!poppler) return;
    expect(pdfText(rankingPdf)).toContain('乙小额贷款有限公司');
    expect(pdfText(statisticsPdf)).toContain('SQ1004');
  });
});

describe('report rows read from stored data: many applications and bad options', () => {
  it('reads 10 050 applications a page at a time in one transaction', async () => {
    const memory = createMemoryPersistence();
    await octoberData(memory);
    const settled = await memory.transaction(async (tx) => (await applicationRepository.get(tx, 'app:SQ1001'))!);
    await memory.transaction(async (tx) => {
      for (let i = 0; i < 10_050; i++) {
        const number = `BULK${String(i).padStart(6, '0')}`;
        const record = { ...settled.record, applicationId: `app:${number}`, applicationNumber: number };
        await applicationRepository.insert(tx, record, settled.updatedAt);
      }
    });
    const { persistence, counter } = counted(memory);
    const rows = await readApplicationRows(persistence, { period: OCTOBER, managerName });
    expect(rows).toHaveLength(10_054);
    const performance = await readInstitutionPerformance(persistence, { period: OCTOBER, regionNames: REGION_NAMES });
    expect(performance.find((r) => r.region === '上海市' && r.institutionId === 'inst-a')).toMatchObject({
      successes: 10_051,
      amountFen: 10_051 * 29_000_000,
    });
    expect(counter.transactions).toBe(2);
  });

  it('refuses a bad period, an unknown time zone and a manager without a name, naming no person', async () => {
    const memory = createMemoryPersistence();
    const bad = [
      rejection(readInstitutionPerformance(memory, { period: { from: '2026-10-31', to: '2026-10-01' } })),
      rejection(readInstitutionPerformance(memory, { period: OCTOBER, timeZone: 'Mars/Olympus' })),
      rejection(readApplicationRows(memory, { period: { from: '2026-02-30', to: '2026-03-01' }, managerName })),
      rejection(readApplicationRows(memory, { period: OCTOBER, productNames: { HOUSE: ' ' }, managerName })),
    ];
    for (const error of await Promise.all(bad)) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as SealflowError).code).toBe('INVALID_INPUT');
    }
    await octoberData(memory);
    const error = await rejection(
      readApplicationRows(memory, { period: OCTOBER, managerName: (id) => (id === 'cm-wang' ? '' : '李建国') }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('cm-wang');
    expect((error as Error).message).not.toContain('李建国');
  });
});
