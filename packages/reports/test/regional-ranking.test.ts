import { type SealflowError, ValidationError } from '@sealflow/core';
import { describe, expect, it } from 'vitest';
import { type InstitutionPerformance, RANKING_CRITERIA, regionalRanking } from '../src/index.js';
import { captured } from './support/captured.js';
import { institution } from './support/rows.js';

const ids = (rows: { institutionId: string }[]) => rows.map((r) => r.institutionId);

/** Four institutions of one region, each best at exactly one criterion. */
const shanghai: InstitutionPerformance[] = [
  institution('上海市', 'A', { amountFen: 9_000_000, meanResponseMs: 5_000, successes: 3, abandonmentRate: 0.3 }),
  institution('上海市', 'B', { amountFen: 2_000_000, meanResponseMs: 1_000, successes: 2, abandonmentRate: 0.2 }),
  institution('上海市', 'C', { amountFen: 3_000_000, meanResponseMs: 4_000, successes: 9, abandonmentRate: 0.25 }),
  institution('上海市', 'D', { amountFen: 1_000_000, meanResponseMs: 3_000, successes: 1, abandonmentRate: 0.01 }),
];

describe('regionalRanking', () => {
  it.each([
    ['amount', ['A', 'C', 'B', 'D']],
    ['speed', ['B', 'D', 'C', 'A']],
    ['successes', ['C', 'A', 'B', 'D']],
    ['abandonment', ['D', 'B', 'C', 'A']],
  ] as const)('orders by %s, best first, and numbers 1…n', (by, expected) => {
    const [region] = regionalRanking(shanghai, { by }).regions;
    expect(ids(region!.institutions)).toEqual(expected);
    expect(region!.institutions.map((i) => i.rank)).toEqual([1, 2, 3, 4]);
  });

  it('overall sums each institution’s positions under the four criteria; the lowest sum ranks first', () => {
    const [region] = regionalRanking(shanghai, { by: 'overall' }).regions;
    // A: 1+4+2+4 = 11, B: 3+1+3+2 = 9, C: 2+3+1+3 = 9, D: 4+2+4+1 = 11.
    const scores = Object.fromEntries(region!.institutions.map((i) => [i.institutionId, i.overallScore]));
    expect(scores).toEqual({ A: 11, B: 9, C: 9, D: 11 });
    // B and C tie on 9: amount breaks it (C handled more); A and D tie on 11: A handled more.
    expect(ids(region!.institutions)).toEqual(['C', 'B', 'A', 'D']);
  });

  it('gives equal institutions the same competition rank inside the overall score', () => {
    const rows = [
      institution('北京市', 'X', { amountFen: 500 }),
      institution('北京市', 'Y', { amountFen: 500 }),
      institution('北京市', 'Z', { amountFen: 100 }),
    ];
    const [region] = regionalRanking(rows, { by: 'overall' }).regions;
    // Amount ranks 1, 1, 3; every other criterion is equal (1, 1, 1).
    expect(region!.institutions.map((i) => [i.institutionId, i.overallScore])).toEqual([
      ['X', 4],
      ['Y', 4],
      ['Z', 6],
    ]);
  });

  it('breaks ties by the other criteria, then by institution id, whatever the input order', () => {
    const rows = [
      institution('广东省', 'K2', { amountFen: 800, successes: 5 }),
      institution('广东省', 'K1', { amountFen: 800, successes: 5 }),
      institution('广东省', 'K3', { amountFen: 800, successes: 7 }),
      institution('广东省', 'K0', { amountFen: 800, successes: 5, meanResponseMs: 10 }),
    ];
    const expected = ['K3', 'K0', 'K1', 'K2'];
    for (const by of RANKING_CRITERIA) {
      const orders = [rows, [...rows].reverse(), [rows[2]!, rows[0]!, rows[3]!, rows[1]!]].map((input) =>
        ids(regionalRanking(input, { by }).regions[0]!.institutions),
      );
      expect(new Set(orders.map((o) => o.join()))).toEqual(new Set([orders[0]!.join()]));
      if (by === 'amount') expect(orders[0]).toEqual(expected);
    }
  });

  it('ranks each region on its own, regions in code-point order, with totals over all rows', () => {
    const report = regionalRanking(
      [
        institution('上海市', 'S1', { amountFen: 100, successes: 1 }),
        institution('北京市', 'B1', { amountFen: 50, successes: 2 }),
        institution('上海市', 'S2', { amountFen: 300, successes: 3 }),
        institution('北京市', 'S1', { amountFen: 7, successes: 4 }),
      ],
      { by: 'amount' },
    );
    expect(report.regions.map((r) => r.region)).toEqual(['上海市', '北京市']);
    expect(report.regions.map((r) => ids(r.institutions))).toEqual([
      ['S2', 'S1'],
      ['B1', 'S1'],
    ]);
    expect(report.regions[1]!.institutions.map((i) => i.rank)).toEqual([1, 2]);
    expect(report.totals).toEqual({ institutions: 4, amountFen: 457, successes: 10 });
  });

  it('ranks an institution without answers (no mean response time) after every one with a mean, on speed', () => {
    const rows = [
      institution('上海市', 'SILENT', { meanResponseMs: null }),
      institution('上海市', 'SLOW', { meanResponseMs: 90_000_000 }),
      institution('上海市', 'FAST', { meanResponseMs: 1_000 }),
    ];
    const [region] = regionalRanking(rows, { by: 'speed' }).regions;
    expect(ids(region!.institutions)).toEqual(['FAST', 'SLOW', 'SILENT']);
    expect(region!.institutions[2]!.meanResponseMs).toBeNull();
  });

  it('refuses an institution listed twice in one region', () => {
    const rows = [institution('上海市', 'A'), institution('上海市', 'A', { amountFen: 1 })];
    expect(() => regionalRanking(rows, { by: 'amount' })).toThrow(ValidationError);
    expect(() => regionalRanking(rows, { by: 'amount' })).toThrow(/A appears twice in region 上海市/);
  });

  it.each([
    ['negative fen', { amountFen: -1 }, 'rows.0.amountFen'],
    ['fractional fen', { amountFen: 100.5 }, 'rows.0.amountFen'],
    ['an abandonment rate above 100%', { abandonmentRate: 1.5 }, 'rows.0.abandonmentRate'],
    ['a negative response time', { meanResponseMs: -3 }, 'rows.0.meanResponseMs'],
    ['fractional successes', { successes: 1.5 }, 'rows.0.successes'],
    ['an empty name', { institutionName: ' ' }, 'rows.0.institutionName'],
  ])('refuses %s with a ValidationError naming the field', (_what, fields, path) => {
    const error = captured(() => regionalRanking([institution('上海市', 'A', fields)], { by: 'amount' }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as SealflowError).code).toBe('INVALID_INPUT');
    expect((error as SealflowError).details?.paths).toEqual([path]);
  });

  it('refuses an unknown criterion', () => {
    const error = captured(() => regionalRanking(shanghai, { by: 'fastest' as never }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/^Invalid by:/);
  });
});
