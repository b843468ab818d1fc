import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RANKING_WEIGHTS,
  RANKING_NEUTRAL_PRIOR,
  RANKING_REJECTION_REASONS,
  RANKING_TERMS,
  type RankingCandidate,
  type RankingRejectionReason,
  type RankingTerm,
  type RankingWeights,
  rankInstitutions,
  ValidationError,
} from '../src/index.js';
import { APPLICATION, deepFreeze, institution, newcomer } from './dispatch-ranking-fixtures.js';

const ids = (result: ReturnType<typeof rankInstitutions>) => result.ranked.map((r) => r.id);

/** Weights that count only `term`. */
function only(term: RankingTerm): RankingWeights {
  return Object.fromEntries(RANKING_TERMS.map((t) => [t, t === term ? 1 : 0])) as RankingWeights;
}

describe('rankInstitutions: filters', () => {
  const cases: [RankingRejectionReason, RankingCandidate][] = [
    ['NOT_ACTIVE', institution('x', { status: 'SUSPENDED' })],
    ['REGION_NOT_SERVED', institution('x', { regions: ['110000'] })],
    ['CATEGORY_NOT_HANDLED', institution('x', { categories: ['mortgage'] })],
    ['NO_FREE_CAPACITY', institution('x', { capacity: 4, openApplications: 4 })],
    ['NO_FREE_CAPACITY', institution('x', { capacity: 0, openApplications: 0 })],
    ['POSITION_TOO_LOW', institution('x', { positionFen: APPLICATION.amountFen - 1 })],
  ];
  it.each(cases)('leaves out a candidate with reason %s and keeps the eligible one', (reason, failing) => {
    const result = rankInstitutions(APPLICATION, [institution('ok'), failing]);
    expect(ids(result)).toEqual(['ok']);
    expect(result.rejected).toEqual([{ id: 'x', reason }]);
    expect(result.eligible).toBe(1);
    expect(RANKING_REJECTION_REASONS[reason]).toMatch(/institution/);
  });

  it('excludes ids given as an array or a Set (already offered in an earlier round)', () => {
    const pool = [institution('a'), institution('b'), institution('c')];
    for (const excluded of [['b'], new Set(['b'])]) {
      const result = rankInstitutions(APPLICATION, pool, { excluded });
      expect(ids(result).sort()).toEqual(['a', 'c']);
      expect(result.rejected).toEqual([{ id: 'b', reason: 'EXCLUDED' }]);
    }
  });

  it('keeps candidates exactly at the limits: one free slot, position equal to the amount', () => {
    const result = rankInstitutions(APPLICATION, [
      institution('last-slot', { capacity: 5, openApplications: 4 }),
      institution('exact-position', { positionFen: APPLICATION.amountFen }),
    ]);
    expect(ids(result).sort()).toEqual(['exact-position', 'last-slot']);
    expect(result.rejected).toEqual([]);
  });

  it('reports the first failing filter, in the documented order, and rejections in input order', () => {
    const result = rankInstitutions(
      APPLICATION,
      [
        institution('z', { status: 'SUSPENDED', regions: [], positionFen: 0 }),
        institution('y', { regions: ['110000'], categories: [], capacity: 0 }),
        institution('w', { categories: [], capacity: 0, positionFen: 0 }),
        institution('v', { capacity: 1, openApplications: 3, positionFen: 0 }),
        institution('u', { regions: [] }),
      ],
      { excluded: ['u'] },
    );
    expect(result.rejected).toEqual([
      { id: 'z', reason: 'NOT_ACTIVE' },
      { id: 'y', reason: 'REGION_NOT_SERVED' },
      { id: 'w', reason: 'CATEGORY_NOT_HANDLED' },
      { id: 'v', reason: 'NO_FREE_CAPACITY' },
      { id: 'u', reason: 'EXCLUDED' },
    ]);
    expect(result.ranked).toEqual([]);
    expect(result.eligible).toBe(0);
  });

  it('serves a region by code prefix (province covers its districts) and a category exactly', () => {
    const district = { ...APPLICATION, region: '440305' };
    const result = rankInstitutions(district, [
      institution('province', { regions: ['44'] }),
      institution('city', { regions: ['110000', '4403'] }),
      institution('district', { regions: ['440305'] }),
      institution('other-city', { regions: ['4401'] }),
      institution('finer-than-asked', { regions: ['44030501'] }),
      institution('blank', { regions: [''] }),
      institution('category', { regions: ['44'], categories: ['ca', 'cars'] }),
    ]);
    expect(ids(result).sort()).toEqual(['city', 'district', 'province']);
    expect(result.rejected).toEqual([
      { id: 'other-city', reason: 'REGION_NOT_SERVED' },
      { id: 'finer-than-asked', reason: 'REGION_NOT_SERVED' },
      { id: 'blank', reason: 'REGION_NOT_SERVED' },
      { id: 'category', reason: 'CATEGORY_NOT_HANDLED' },
    ]);
  });
});

describe('rankInstitutions: ordering by each term', () => {
  // For each term: a better and a worse institution that differ in that term's figures only.
  const pairs: [RankingTerm, RankingCandidate, RankingCandidate][] = [
    ['abandonment', institution('better', {}, { abandoned: 1 }), institution('worse', {}, { abandoned: 20 })],
    [
      'success',
      institution('better', {}, { successes: 95, failures: 0 }),
      institution('worse', {}, { successes: 60, failures: 35 }),
    ],
    [
      'response',
      institution('better', {}, { responseMsTotal: 115 * 5 * 60_000 }),
      institution('worse', {}, { responseMsTotal: 115 * 10 * 3_600_000 }),
    ],
    ['volume', institution('better', {}, { successes: 90 }), institution('worse', {}, { successes: 9 })],
    [
      'amount',
      institution('better', {}, { amountFen: 50_000_000_000 }),
      institution('worse', {}, { amountFen: 500_000_000 }),
    ],
    [
      'headroom',
      institution('better', { positionFen: 500_000_000 }),
      institution('worse', { positionFen: 12_000_000 }),
    ],
    [
      'complaints',
      institution('better', {}, { complaintsFounded: 1 }),
      institution('worse', {}, { complaintsFounded: 8 }),
    ],
  ];

  it.each(pairs)('%s: the better figure ranks first, alone and under the default weights', (term, better, worse) => {
    for (const pool of [
      [worse, better],
      [better, worse],
    ]) {
      expect(ids(rankInstitutions(APPLICATION, pool, { weights: only(term) }))).toEqual(['better', 'worse']);
      expect(ids(rankInstitutions(APPLICATION, pool))).toEqual(['better', 'worse']);
    }
    const [top, next] = rankInstitutions(APPLICATION, [worse, better], { weights: only(term) }).ranked;
    const explained = top!.explain().terms.find((t) => t.term === term)!;
    expect(explained.normalised).toBeGreaterThan(next!.explain().terms.find((t) => t.term === term)!.normalised);
    expect(explained.contribution).toBe(top!.score);
  });

  it('a newcomer gets the neutral prior: below a strong record, above a weak one, and explained as a prior', () => {
    const strong = institution('strong', {}, { abandoned: 0, successes: 98, responseMsTotal: 115 * 60_000 });
    const weak = institution('weak', {}, { abandoned: 80, successes: 10, responseMsTotal: 115 * 20 * 3_600_000 });
    const result = rankInstitutions(APPLICATION, [weak, newcomer('new'), strong]);
    expect(ids(result)).toEqual(['strong', 'new', 'weak']);
    const terms = result.ranked[1]!.explain().terms;
    for (const term of ['abandonment', 'success', 'response'] as const) {
      expect(terms.find((t) => t.term === term)).toMatchObject({ raw: null, normalised: RANKING_NEUTRAL_PRIOR });
    }
    expect(terms.find((t) => t.term === 'volume')).toMatchObject({ raw: 0, normalised: 0 });
    expect(result.ranked[1]!.score).toBeGreaterThan(0);
  });

  it('complaints: none scores 1, founded complaints per accepted offer lower it, explained with the rate', () => {
    const clean = institution('clean', { openApplications: 5 });
    const complained = institution('complained', { openApplications: 0 }, { complaintsFounded: 5 });
    const result = rankInstitutions(APPLICATION, [complained, clean]);
    expect(ids(result)).toEqual(['clean', 'complained']);
    const term = (r: (typeof result.ranked)[number]) => r.explain().terms.find((t) => t.term === 'complaints')!;
    expect(term(result.ranked[0]!)).toMatchObject({ raw: 0, normalised: 1, weight: 0.15 });
    // 5 founded per 100 accepted is the half-score rate.
    expect(term(result.ranked[1]!)).toMatchObject({ raw: 0.05, normalised: 0.5 });
    // Without any accepted offer the rate is per one, and leaving the counter out means none.
    const [fresh] = rankInstitutions(APPLICATION, [newcomer('n')]).ranked;
    expect(term(fresh!)).toMatchObject({ raw: 0, normalised: 1 });
    const { complaintsFounded: _none, ...older } = institution('older').stats;
    const [legacy] = rankInstitutions(APPLICATION, [{ ...institution('older'), stats: older }]).ranked;
    expect(term(legacy!)).toMatchObject({ raw: 0, normalised: 1 });
  });

  it('complaints: institutions without any keep the order the six other terms give them', () => {
    const pool = [
      institution('a', {}, { abandoned: 1 }),
      institution('b', { positionFen: 900_000_000 }),
      newcomer('c'),
      institution('d', {}, { successes: 40, responseMsTotal: 115 * 3_600_000 }),
      institution('e', { openApplications: 0 }),
    ];
    const before = rankInstitutions(APPLICATION, pool, { weights: { complaints: 0 } });
    expect(ids(rankInstitutions(APPLICATION, pool))).toEqual(ids(before));
  });

  it('relative weights: scaling every weight leaves scores and order unchanged', () => {
    const pool = [
      institution('a', {}, { abandoned: 1 }),
      institution('b', { positionFen: 900_000_000 }),
      newcomer('c'),
    ];
    const doubled = Object.fromEntries(RANKING_TERMS.map((t) => [t, DEFAULT_RANKING_WEIGHTS[t] * 4]));
    const base = rankInstitutions(APPLICATION, pool).ranked;
    const scaled = rankInstitutions(APPLICATION, pool, { weights: doubled }).ranked;
    expect(scaled.map((r) => r.id)).toEqual(base.map((r) => r.id));
    for (const [i, r] of scaled.entries()) expect(r.score).toBeCloseTo(base[i]!.score, 12);
  });

  it('partial weights are laid over the defaults', () => {
    const [top] = rankInstitutions(APPLICATION, [institution('a')], { weights: { headroom: 0 } }).ranked;
    const weights = Object.fromEntries(top!.explain().terms.map((t) => [t.term, t.weight]));
    expect(weights).toEqual({ ...DEFAULT_RANKING_WEIGHTS, headroom: 0 });
  });
});

describe('rankInstitutions: tie-break and limit', () => {
  it('breaks equal scores by fewer open applications, then by id', () => {
    const pool = [
      institution('b', { openApplications: 3 }),
      institution('c', { openApplications: 1 }),
      institution('a', { openApplications: 3 }),
    ];
    const result = rankInstitutions(APPLICATION, pool);
    expect(new Set(result.ranked.map((r) => r.score)).size).toBe(1);
    expect(ids(result)).toEqual(['c', 'a', 'b']);
    expect(result.ranked.map((r) => r.rank)).toEqual([1, 2, 3]);
  });

  it('returns the best `limit`, the same as the head of the full ranking, above and below the partial-selection size', () => {
    const pool = Array.from({ length: 300 }, (_, i) =>
      institution(`i${i}`, { openApplications: i % 4 }, { abandoned: i % 7, successes: 60 + (i % 13) }),
    );
    const full = ids(rankInstitutions(APPLICATION, pool));
    for (const limit of [1, 3, 64, 65, 200, 299, 300, 1000]) {
      const result = rankInstitutions(APPLICATION, pool, { limit });
      expect(ids(result)).toEqual(full.slice(0, limit));
      expect(result.eligible).toBe(300);
    }
  });

  it('refuses two candidates with one id that tie, since their order would depend on the input', () => {
    const run = () => rankInstitutions(APPLICATION, [institution('a'), institution('b'), institution('a')]);
    expect(run).toThrow(ValidationError);
    expect(run).toThrow(/candidates\[0\] and candidates\[2\] share the id "a"/);
  });

  it('never writes to its input', () => {
    const pool = deepFreeze([institution('a'), newcomer('b'), institution('c', { status: 'SUSPENDED' })]);
    const application = deepFreeze({ ...APPLICATION });
    expect(() => rankInstitutions(application, pool, { excluded: deepFreeze(['x']), limit: 2 })).not.toThrow();
  });
});

describe('rankInstitutions: bad input', () => {
  function rejects(run: () => unknown, field: string, pattern: RegExp): void {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('INVALID_INPUT');
      expect((error as ValidationError).message).toMatch(pattern);
      expect(JSON.stringify((error as ValidationError).details)).toContain(field);
      return;
    }
    throw new Error(`expected a ValidationError naming ${field}`);
  }

  it.each([-100, 0, 12.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '10000', null])(
    'rejects application amount %s',
    (amountFen) => {
      rejects(
        () => rankInstitutions({ ...APPLICATION, amountFen: amountFen as number }, [institution('a')]),
        'application.amountFen',
        /application\.amountFen must be a positive whole number of fen/,
      );
    },
  );

  it('rejects an empty region or category and a missing application', () => {
    rejects(() => rankInstitutions({ ...APPLICATION, region: ' ' }, []), 'application.region', /application\.region/);
    rejects(() => rankInstitutions({ ...APPLICATION, category: '' }, []), 'application.category', /category/);
    rejects(() => rankInstitutions(null as never, []), 'application', /application must be/);
  });

  const badWeights: [string, Record<string, unknown>, RegExp][] = [
    ['weights.success', { success: -1 }, /weights\.success must not be negative/],
    ['weights.response', { response: Number.NaN }, /weights\.response/],
    ['weights.amount', { amount: Number.POSITIVE_INFINITY }, /weights\.amount/],
    ['weights.volume', { volume: '0.3' }, /weights\.volume must be a number/],
    ['weights.headroom', { headroom: 2_000_000 }, /weights\.headroom must be at most/],
    ['weights.sucess', { sucess: 1 }, /weights\.sucess is not a ranking weight/],
    [
      'weights.abandonment',
      { abandonment: 0, success: 0, response: 0, volume: 0, amount: 0, headroom: 0, complaints: 0 },
      /all zero/,
    ],
  ];
  it.each(badWeights)('rejects weights naming %s', (field, weights, pattern) => {
    rejects(() => rankInstitutions(APPLICATION, [institution('a')], { weights: weights as never }), field, pattern);
  });

  it.each([0, -1, 2.5, Number.NaN])('rejects limit %s', (limit) => {
    rejects(() => rankInstitutions(APPLICATION, [institution('a')], { limit }), 'limit', /limit must be a positive/);
  });

  it('names the index and field of a malformed candidate', () => {
    const bad = [
      [institution('a', {}, { responses: -1 }), 'candidates[1].stats.responses', /non-negative whole number/],
      [institution('a', {}, { amountFen: 1.5 }), 'candidates[1].stats.amountFen', /non-negative whole number/],
      [institution('a', { status: 'DELETED' as never }), 'candidates[1].status', /'ACTIVE' or 'SUSPENDED'/],
      [institution('a', { capacity: Number.NaN }), 'candidates[1].capacity', /non-negative whole number/],
      [institution('a', { regions: '310000' as never }), 'candidates[1].regions', /array of region codes/],
      [institution('', {}), 'candidates[1].id', /non-empty string/],
      [null, 'candidates[1]', /institution object/],
    ] as const;
    for (const [candidate, field, pattern] of bad) {
      rejects(() => rankInstitutions(APPLICATION, [institution('ok'), candidate as never]), field, pattern);
    }
    rejects(() => rankInstitutions(APPLICATION, 'all' as never), 'candidates', /candidates must be an array/);
    rejects(
      () => rankInstitutions(APPLICATION, [institution('a')], { excluded: 'a' as never }),
      'excluded',
      /Set or an array/,
    );
  });
});
