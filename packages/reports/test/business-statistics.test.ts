import { type SealflowError, ValidationError } from '@sealflow/core';
import { describe, expect, it } from 'vitest';
import { type ApplicationRow, businessStatistics } from '../src/index.js';
import { captured } from './support/captured.js';
import { applications } from './support/rows.js';

const OCTOBER = { from: '2026-10-01', to: '2026-10-31' };

function row(fields: Partial<ApplicationRow>): ApplicationRow {
  return { ...applications(1)[0]!, ...fields };
}

describe('businessStatistics', () => {
  const rows = [
    row({ applicationNo: 'A1', periodDate: '2026-09-30', product: '经营贷', amountFen: 1 }),
    row({ applicationNo: 'A2', periodDate: '2026-10-01', product: '经营贷', status: '已放款', amountFen: 10_00 }),
    row({ applicationNo: 'A3', periodDate: '2026-10-15', product: '消费贷', status: '已放款', amountFen: 20_05 }),
    row({ applicationNo: 'A4', periodDate: '2026-10-31', product: '经营贷', status: '审核中', amountFen: 30_10 }),
    row({ applicationNo: 'A5', periodDate: '2026-11-01', product: '消费贷', amountFen: 7 }),
    row({ applicationNo: 'A6', periodDate: '2026-11-02', product: '车抵贷', amountFen: 9 }),
  ];

  it('groups the period’s applications by product with counts, amounts and totals; both ends of the period count', () => {
    const report = businessStatistics(rows, { period: OCTOBER, groupBy: 'product' });
    expect(report.groups).toEqual([
      { key: '消费贷', label: '消费贷', count: 1, amountFen: 20_05 },
      { key: '经营贷', label: '经营贷', count: 2, amountFen: 40_10 },
    ]);
    expect(report.totals).toEqual({ count: 3, amountFen: 60_15 });
    expect(report.applications.map((a) => a.applicationNo)).toEqual(['A2', 'A3', 'A4']);
  });

  it('groups by status', () => {
    const report = businessStatistics(rows, { period: OCTOBER, groupBy: 'status' });
    expect(report.groups.map((g) => [g.key, g.count, g.amountFen])).toEqual([
      ['审核中', 1, 30_10],
      ['已放款', 2, 30_05],
    ]);
  });

  it('groups by day or by month, chronologically', () => {
    const autumn = { from: '2026-09-01', to: '2026-11-30' };
    const byDay = businessStatistics(rows, { period: autumn, groupBy: 'period' });
    expect(byDay.groups.map((g) => g.key)).toEqual([
      '2026-09-30',
      '2026-10-01',
      '2026-10-15',
      '2026-10-31',
      '2026-11-01',
      '2026-11-02',
    ]);
    const byMonth = businessStatistics(rows, { period: autumn, groupBy: 'period', periodUnit: 'month' });
    expect(byMonth.groups.map((g) => [g.key, g.count, g.amountFen])).toEqual([
      ['2026-09', 1, 1],
      ['2026-10', 3, 60_15],
      ['2026-11', 2, 16],
    ]);
    expect(byMonth.totals).toEqual({ count: 6, amountFen: 60_32 });
  });

  it('adds up every generated application exactly: groups sum to the totals', () => {
    const many = applications(500);
    for (const groupBy of ['product', 'status', 'customerManager', 'period'] as const) {
      const report = businessStatistics(many, { period: OCTOBER, groupBy });
      expect(report.groups.reduce((n, g) => n + g.count, 0)).toBe(500);
      expect(report.groups.reduce((n, g) => n + g.amountFen, 0)).toBe(report.totals.amountFen);
    }
    const expected = many.reduce((n, a) => n + a.amountFen, 0);
    expect(businessStatistics(many, { period: OCTOBER, groupBy: 'status' }).totals.amountFen).toBe(expected);
  });

  it('masks customer managers’ names by default, in groups and in the application list', () => {
    const report = businessStatistics(applications(6), { period: OCTOBER, groupBy: 'customerManager' });
    expect(report.groups.map((g) => g.label)).toEqual(['张**（M001）', '李*（M002）', '欧***（M003）']);
    expect(report.applications.map((a) => a.customerManagerName)).toEqual([
      '张**',
      '李*',
      '欧***',
      '张**',
      '李*',
      '欧***',
    ]);
    const text = JSON.stringify(report);
    for (const name of ['张三丰', '李四', '欧阳娜娜']) expect(text).not.toContain(name);
  });

  it('shows the full names when asked to', () => {
    const report = businessStatistics(applications(3), {
      period: OCTOBER,
      groupBy: 'customerManager',
      showManagerNames: true,
    });
    expect(report.groups.map((g) => g.label)).toEqual(['张三丰（M001）', '李四（M002）', '欧阳娜娜（M003）']);
    expect(report.applications[0]!.customerManagerName).toBe('张三丰');
  });

  it.each([
    ['negative fen', { amountFen: -100 }, 'rows.0.amountFen'],
    ['fractional fen', { amountFen: 12.5 }, 'rows.0.amountFen'],
    ['a date that does not exist', { periodDate: '2026-02-30' }, 'rows.0.periodDate'],
    ['a date in another format', { periodDate: '2026/10/01' }, 'rows.0.periodDate'],
    ['an empty application number', { applicationNo: '' }, 'rows.0.applicationNo'],
  ])('refuses %s with a ValidationError naming the field', (_what, fields, path) => {
    const error = captured(() => businessStatistics([row(fields)], { period: OCTOBER, groupBy: 'product' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as SealflowError).code).toBe('INVALID_INPUT');
    expect((error as SealflowError).details?.paths).toEqual([path]);
  });

  it('refuses an unknown groupBy, a reversed period and a missing period', () => {
    const cases: [unknown, RegExp][] = [
      [{ period: OCTOBER, groupBy: 'institution' }, /options\.groupBy/],
      [
        { period: { from: '2026-10-31', to: '2026-10-01' }, groupBy: 'product' },
        /options\.period: The period must not end/,
      ],
      [{ groupBy: 'product' }, /options\.period/],
      [{ period: OCTOBER, groupBy: 'period', periodUnit: 'week' }, /options\.periodUnit/],
    ];
    for (const [options, message] of cases) {
      const error = captured(() => businessStatistics(rows, options as never));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('refuses an application number given twice', () => {
    const twice = [row({ applicationNo: 'X1' }), row({ applicationNo: 'X1', amountFen: 5 })];
    expect(() => businessStatistics(twice, { period: OCTOBER, groupBy: 'product' })).toThrow(/X1 appears twice/);
  });

  it('refuses one manager id with two names, without printing either name', () => {
    const mixed = [
      row({ applicationNo: 'Y1', customerManagerName: '王小明' }),
      row({ applicationNo: 'Y2', customerManagerName: '王晓明' }),
    ];
    const error = captured(() => businessStatistics(mixed, { period: OCTOBER, groupBy: 'customerManager' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/M001 has two different names/);
    expect(JSON.stringify({ m: (error as Error).message, d: (error as SealflowError).details })).not.toMatch(/王/);
  });

  it('never quotes a bad row’s personal data in the error', () => {
    const error = captured(() =>
      businessStatistics([row({ customerManagerName: '赵钱孙', amountFen: -1 })], {
        period: OCTOBER,
        groupBy: 'product',
      }),
    );
    expect((error as Error).message).not.toContain('赵钱孙');
  });
});
