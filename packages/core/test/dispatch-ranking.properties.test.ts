/**
 * Properties of `rankInstitutions` over generated pools: explanations add up to the score, the order does not
 * depend on the input order, a limited ranking is the head of the full one, and the order agrees with the
 * comparison it documents. Pools repeat a few profiles under different ids, so equal scores, and so the tie-break, are common.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RANKING_TERMS, type RankingCandidate, type RankingWeights, rankInstitutions } from '../src/index.js';
import { APPLICATION, shuffled } from './dispatch-ranking-fixtures.js';

const count = (max: number) => fc.integer({ min: 0, max });

const candidateData = fc.record({
  status: fc.constantFrom('ACTIVE', 'ACTIVE', 'ACTIVE', 'SUSPENDED' as const),
  inRegion: fc.boolean(),
  capacity: fc.integer({ min: 0, max: 4 }),
  openApplications: count(4),
  positionFen: fc.constantFrom(0, APPLICATION.amountFen, 2 * APPLICATION.amountFen, 10 ** 12),
  accepted: count(4),
  abandoned: count(4),
  successes: count(4),
  amountFen: fc.constantFrom(0, 1_000, 10 ** 9, 10 ** 13),
  responses: count(3),
  complaintsFounded: fc.constantFrom(0, 0, 0, 1, 3),
  meanResponseMs: fc.constantFrom(0, 60_000, 7_200_000, 10 ** 9),
});

// A few profiles repeated under different ids, so whole groups of candidates tie on score and open applications.
const rowsWithTies = fc
  .array(candidateData, { minLength: 1, maxLength: 8 })
  .chain((profiles) => fc.array(fc.constantFrom(...profiles), { maxLength: 120 }));

const pool = rowsWithTies.map((rows) =>
  rows.map(
    (row, i): RankingCandidate => ({
      id: `inst-${i}`,
      status: row.status as RankingCandidate['status'],
      regions: row.inRegion ? [APPLICATION.region] : ['999999'],
      categories: [APPLICATION.category],
      capacity: row.capacity,
      openApplications: row.openApplications,
      positionFen: row.positionFen,
      stats: {
        offered: row.responses + 1,
        accepted: row.accepted,
        declined: 0,
        expired: 0,
        abandoned: row.abandoned,
        successes: row.successes,
        failures: 0,
        amountFen: row.amountFen,
        responseMsTotal: row.meanResponseMs * row.responses,
        responses: row.responses,
        complaintsFounded: row.complaintsFounded,
      },
    }),
  ),
);

const weights = fc
  .tuple(...RANKING_TERMS.map(() => fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1000, noNaN: true }))))
  .filter((values) => values.some((v) => v > 0))
  .map((values) => Object.fromEntries(RANKING_TERMS.map((term, t) => [term, values[t]!])) as RankingWeights);

describe('rankInstitutions properties', () => {
  it('every explanation adds up to exactly its score, with normalised terms in [0, 1]', () => {
    fc.assert(
      fc.property(pool, weights, (candidates, w) => {
        for (const ranked of rankInstitutions(APPLICATION, candidates, { weights: w }).ranked) {
          const explanation = ranked.explain();
          expect(explanation.id).toBe(ranked.id);
          expect(explanation.terms.map((t) => t.term)).toEqual([...RANKING_TERMS]);
          const sum = explanation.terms.reduce((total, t) => total + t.contribution, 0);
          expect(sum).toBe(ranked.score);
          expect(explanation.score).toBe(ranked.score);
          for (const t of explanation.terms) {
            expect(t.normalised).toBeGreaterThanOrEqual(0);
            expect(t.normalised).toBeLessThanOrEqual(1);
            expect(t.weight).toBe(w[t.term]);
            expect(t.contribution).toBe(t.share * t.normalised);
          }
          expect(explanation.terms.reduce((total, t) => total + t.share, 0)).toBeCloseTo(1, 12);
          expect(ranked.score).toBeGreaterThanOrEqual(0);
          expect(ranked.score).toBeLessThanOrEqual(1 + 1e-12);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('shuffling the candidates changes nothing, and a limited ranking is the head of the full one', () => {
    fc.assert(
      fc.property(pool, fc.integer(), fc.integer({ min: 1, max: 80 }), (candidates, seed, limit) => {
        const full = rankInstitutions(APPLICATION, candidates).ranked.map((r) => [r.id, r.score]);
        const again = rankInstitutions(APPLICATION, shuffled(candidates, seed)).ranked.map((r) => [r.id, r.score]);
        expect(again).toEqual(full);
        const head = rankInstitutions(APPLICATION, shuffled(candidates, seed + 1), { limit }).ranked;
        expect(head.map((r) => [r.id, r.score])).toEqual(full.slice(0, limit));
      }),
      { numRuns: 300 },
    );
  });

  it('among institutions without complaints, the order follows the score without the complaints term', () => {
    fc.assert(
      fc.property(pool, (candidates) => {
        const clean = candidates.filter((c) => c.stats.complaintsFounded === 0);
        const without = new Map(
          rankInstitutions(APPLICATION, clean, { weights: { complaints: 0 } }).ranked.map((r) => [r.id, r.score]),
        );
        const ranked = rankInstitutions(APPLICATION, clean).ranked;
        expect(ranked.map((r) => r.id).sort()).toEqual([...without.keys()].sort());
        for (let i = 1; i < ranked.length; i++) {
          // Scores equal but for rounding may swap; any real difference keeps its order.
          expect(without.get(ranked[i - 1]!.id)!).toBeGreaterThanOrEqual(without.get(ranked[i]!.id)! - 1e-12);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('orders by score descending, then fewer open applications, then id', () => {
    fc.assert(
      fc.property(pool, (candidates) => {
        const { ranked, rejected, eligible } = rankInstitutions(APPLICATION, candidates);
        expect(ranked.length + rejected.length).toBe(candidates.length);
        expect(eligible).toBe(ranked.length);
        for (let i = 1; i < ranked.length; i++) {
          const [a, b] = [ranked[i - 1]!, ranked[i]!];
          const key = (r: typeof a) => [-r.score, r.candidate.openApplications] as const;
          const [ka, kb] = [key(a), key(b)];
          const inOrder = ka[0] < kb[0] || (ka[0] === kb[0] && (ka[1] < kb[1] || (ka[1] === kb[1] && a.id < b.id)));
          expect(inOrder).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
