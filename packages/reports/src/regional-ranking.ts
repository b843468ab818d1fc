/**
 * The regional ranking of institutions (区域排名): within each region, the funding institutions ordered by one of the
 * criteria a dispatch platform publishes — overall, loan amount handled, speed, successes, abandonment rate.
 */
import { fenSchema, ValidationError } from '@sealflow/core';
import { z } from 'zod';
import { addFen, byCodePoint, parseOrThrow } from './validate.js';

/** What a regional ranking orders by: `overall` combines the four others (see {@link regionalRanking}). */
export const RANKING_CRITERIA = ['overall', 'amount', 'speed', 'successes', 'abandonment'] as const;

/** One of {@link RANKING_CRITERIA}. */
export type RankingCriterion = (typeof RANKING_CRITERIA)[number];

/** One institution's dispatch performance in one region over the period the host measured. */
export interface InstitutionPerformance {
  /** The region (区域) as the platform names it, e.g. `上海市`. */
  region: string;
  /** The institution's stable id; breaks ties that every criterion leaves equal. */
  institutionId: string;
  /** The institution's name as printed in the report. */
  institutionName: string;
  /** Loan amount handled (放款金额), integer fen. */
  amountFen: number;
  /**
   * Speed: mean time from dispatch to the institution's answer, in milliseconds; `null` when it answered nothing in
   * the period (ranked after every institution that did, and printed empty).
   */
  meanResponseMs: number | null;
  /** Loans that went through to disbursement (成功笔数). */
  successes: number;
  /** Abandonment rate (弃单率) between 0 and 1: accepted applications the institution later gave up. */
  abandonmentRate: number;
}

/** Validates an {@link InstitutionPerformance} row. */
export const institutionPerformanceSchema = z.object({
  region: z.string().trim().min(1, 'A region is required.'),
  institutionId: z.string().trim().min(1, 'An institution id is required.'),
  institutionName: z.string().trim().min(1, 'An institution name is required.'),
  amountFen: fenSchema,
  meanResponseMs: z.number().nonnegative('A mean response time must not be negative.').nullable(),
  successes: z.number().int('Successes are a whole number.').nonnegative('Successes must not be negative.'),
  abandonmentRate: z
    .number()
    .min(0, 'An abandonment rate is at least 0.')
    .max(1, 'An abandonment rate is at most 1 (100%).'),
}) satisfies z.ZodType<InstitutionPerformance>;

/** An institution with its place in its region. */
export interface RankedInstitution extends InstitutionPerformance {
  /** 1 for the best in the region, numbered without gaps in the reported order. */
  rank: number;
  /**
   * The sum of the institution's positions under amount, speed, successes and abandonment within its region (lower is
   * better); the key of the `overall` ranking, reported whatever the criterion.
   */
  overallScore: number;
}

/** The institutions of one region, best first. */
export interface RegionRanking {
  /** The region's name, as given in the rows. */
  region: string;
  /** Best first, `rank` 1…n. */
  institutions: RankedInstitution[];
}

/** A regional ranking, ready for {@link toXlsx} or {@link toPdf}. */
export interface RegionalRankingReport {
  /** Tells the writers which report this is. */
  kind: 'regionalRanking';
  /** The criterion the institutions are ordered by. */
  by: RankingCriterion;
  /** Regions in code-point order of their names. */
  regions: RegionRanking[];
  /** Over every row: institution-region rows, the amount handled and the successes. */
  totals: { institutions: number; amountFen: number; successes: number };
}

/** Options of {@link regionalRanking}. */
export interface RegionalRankingOptions {
  /** The criterion: `overall`, `amount`, `speed`, `successes` or `abandonment`. */
  by: RankingCriterion;
}

type Compare = (a: InstitutionPerformance, b: InstitutionPerformance) => number;

// Each criterion as "better first": more amount and successes, faster answers, fewer abandoned applications.
const CRITERIA: Record<Exclude<RankingCriterion, 'overall'>, Compare> = {
  amount: (a, b) => b.amountFen - a.amountFen,
  speed: (a, b) => fasterFirst(a.meanResponseMs, b.meanResponseMs),
  successes: (a, b) => b.successes - a.successes,
  abandonment: (a, b) => a.abandonmentRate - b.abandonmentRate,
};
/** An institution that answered nothing cannot be called fast: it comes after every one with a mean. */
function fasterFirst(a: number | null, b: number | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a - b;
}

const TIE_BREAK_ORDER = ['amount', 'successes', 'speed', 'abandonment'] as const;

/**
 * Order and number the institutions of each region by `by`.
 *
 * - `amount`: most loan amount handled first; `speed`: shortest mean response first, institutions without answers
 *   last; `successes`: most first; `abandonment`: lowest abandonment rate first.
 * - `overall`: within the region, each institution's competition rank (1, 2, 2, 4 …) under each of those four is
 *   summed; the lowest sum comes first. Whole numbers only, so the order never depends on float rounding.
 * - Ties are broken by the other criteria (amount, successes, speed, abandonment, in that order) and finally by
 *   `institutionId` in code-point order, so the same rows always give the same ranking, whatever their input order.
 *
 * Pure: no clock, no I/O. Throws `ValidationError` for a bad row (negative or fractional fen, a rate outside 0–1, …),
 * for the same institution twice in one region, or for an unknown criterion.
 */
export function regionalRanking(
  rows: readonly InstitutionPerformance[],
  options: RegionalRankingOptions,
): RegionalRankingReport {
  const by = parseOrThrow(z.enum(RANKING_CRITERIA), options?.by, 'by');
  const valid = parseOrThrow(z.array(institutionPerformanceSchema), rows, 'rows');
  const byRegion = groupByRegion(valid);
  const regions = [...byRegion.keys()].sort(byCodePoint).map((region) => ({
    region,
    institutions: rankRegion(byRegion.get(region)!, by),
  }));
  let amountFen = 0;
  let successes = 0;
  for (const row of valid) {
    amountFen = addFen(amountFen, row.amountFen, 'amount handled');
    successes += row.successes;
  }
  return { kind: 'regionalRanking', by, regions, totals: { institutions: valid.length, amountFen, successes } };
}

function groupByRegion(rows: InstitutionPerformance[]): Map<string, InstitutionPerformance[]> {
  const regions = new Map<string, InstitutionPerformance[]>();
  for (const row of rows) {
    const members = regions.get(row.region) ?? [];
    if (members.some((m) => m.institutionId === row.institutionId)) {
      throw new ValidationError(
        `Institution ${row.institutionId} appears twice in region ${row.region}: pass one row per institution and region.`,
        { details: { institutionId: row.institutionId, region: row.region } },
      );
    }
    members.push(row);
    regions.set(row.region, members);
  }
  return regions;
}

function rankRegion(rows: InstitutionPerformance[], by: RankingCriterion): RankedInstitution[] {
  const scores = overallScores(rows);
  const tieBreak = (a: InstitutionPerformance, b: InstitutionPerformance): number => {
    for (const criterion of TIE_BREAK_ORDER) {
      const d = CRITERIA[criterion](a, b);
      if (d !== 0) return d;
    }
    return byCodePoint(a.institutionId, b.institutionId);
  };
  const primary: Compare = by === 'overall' ? (a, b) => scores.get(a)! - scores.get(b)! : CRITERIA[by];
  return [...rows]
    .sort((a, b) => primary(a, b) || tieBreak(a, b))
    .map((row, i) => ({ ...row, rank: i + 1, overallScore: scores.get(row)! }));
}

/** Sum of competition ranks under each criterion: an institution equal to others shares their rank. */
function overallScores(rows: InstitutionPerformance[]): Map<InstitutionPerformance, number> {
  const scores = new Map<InstitutionPerformance, number>(rows.map((r) => [r, 0]));
  for (const criterion of TIE_BREAK_ORDER) {
    const compare = CRITERIA[criterion];
    for (const row of rows) {
      const better = rows.filter((other) => compare(other, row) < 0).length;
      scores.set(row, scores.get(row)! + better + 1);
    }
  }
  return scores;
}
