/**
 * Funder dispatch. First: ranking 10,000 institutions for one application with `rankInstitutions`, beside a naive
 * ranking measured in the same run (filter, map to scored objects, `Array.prototype.sort`, slice) that applies the
 * same filters and the same scores. Two pools: a realistic mix (31 regions, 4 categories, some suspended or full, so
 * a few hundred pass the filters) and a worst case where all 10,000 pass. Each figure is the median or p95 of 200
 * timed runs after warm-up, cycling through 16 applications, the two implementations timed alternately.
 *
 * Workflow-throughput rows go in `workflowRows` below.
 */
import {
  DEFAULT_RANKING_WEIGHTS,
  RANKING_TERMS,
  type RankingApplication,
  type RankingCandidate,
  type RankingWeights,
  rankInstitutions,
} from '../../packages/core/src/index.js';
import type { BenchRow, BenchSuite } from '../harness.js';
import { summarize } from '../harness.js';

const POOL = 10_000;
const WARM_UP = 50;
const RUNS = 200;
const REGIONS = Array.from({ length: 31 }, (_, i) => String(110000 + i * 10000));
const CATEGORIES = ['mortgage', 'car', 'credit', 'business'];

/** A small seeded PRNG (mulberry32), so every run ranks the same pool. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rnd: () => number, from: readonly T[], howMany: number): T[] {
  const out = new Set<T>();
  while (out.size < howMany) out.add(from[Math.floor(rnd() * from.length)]!);
  return [...out];
}

function makePool(seed: number, allEligible: boolean): RankingCandidate[] {
  const rnd = random(seed);
  return Array.from({ length: POOL }, (_, i): RankingCandidate => {
    const accepted = rnd() < 0.1 ? 0 : Math.floor(rnd() * 2000);
    const successes = Math.floor(accepted * (0.5 + rnd() * 0.5));
    const responses = accepted === 0 ? 0 : accepted + Math.floor(rnd() * 500);
    const capacity = 5 + Math.floor(rnd() * 50);
    return {
      id: `inst-${String(i).padStart(5, '0')}`,
      status: allEligible || rnd() < 0.9 ? 'ACTIVE' : 'SUSPENDED',
      regions: allEligible ? REGIONS : pick(rnd, REGIONS, 1 + Math.floor(rnd() * 5)),
      categories: allEligible ? CATEGORIES : pick(rnd, CATEGORIES, 1 + Math.floor(rnd() * 3)),
      capacity,
      openApplications: allEligible ? Math.floor(rnd() * capacity) : Math.floor(rnd() * (capacity + 3)),
      positionFen: allEligible ? 5_000_000_00 + Math.floor(rnd() * 1e10) : Math.floor(rnd() * 2e9),
      stats: {
        offered: responses + Math.floor(rnd() * 100),
        accepted,
        declined: responses - accepted,
        expired: Math.floor(rnd() * 50),
        abandoned: Math.floor((accepted - successes) * rnd()),
        successes,
        failures: Math.floor((accepted - successes) * rnd()),
        amountFen: successes * Math.floor(1e6 + rnd() * 5e7),
        responseMsTotal: responses * Math.floor(60_000 + rnd() * 20 * 3_600_000),
        responses,
      },
    };
  });
}

function makeApplications(seed: number): RankingApplication[] {
  const rnd = random(seed);
  return Array.from({ length: 16 }, () => ({
    amountFen: Math.floor(1e6 + rnd() * 5e7),
    region: REGIONS[Math.floor(rnd() * REGIONS.length)]!,
    category: CATEGORIES[Math.floor(rnd() * CATEGORIES.length)]!,
  }));
}

/** The obvious implementation: the same filters and score, written with arrays of objects and a full sort. */
function naiveRank(
  application: RankingApplication,
  candidates: readonly RankingCandidate[],
  weights: RankingWeights,
  limit?: number,
): { id: string; score: number }[] {
  const total = RANKING_TERMS.reduce((sum, term) => sum + weights[term], 0);
  const scored = candidates
    .filter(
      (c) =>
        c.status === 'ACTIVE' &&
        c.regions.includes(application.region) &&
        c.categories.includes(application.category) &&
        c.openApplications < c.capacity &&
        c.positionFen >= application.amountFen,
    )
    .map((c) => {
      const s = c.stats;
      const terms: Record<string, number> = {
        abandonment: s.accepted === 0 ? 0.5 : Math.max(0, 1 - s.abandoned / s.accepted),
        success: s.accepted === 0 ? 0.5 : Math.min(1, s.successes / s.accepted),
        response: s.responses === 0 ? 0.5 : 7_200_000 / (7_200_000 + s.responseMsTotal / s.responses),
        volume: Math.min(1, Math.log1p(s.successes) / Math.log1p(1000)),
        amount: Math.min(1, Math.log1p(s.amountFen / 100) / Math.log1p(1e9)),
        headroom: (c.positionFen - application.amountFen) / c.positionFen,
      };
      const score = RANKING_TERMS.reduce((sum, term) => sum + (weights[term] / total) * terms[term]!, 0);
      return { ...c, score };
    })
    .sort((a, b) => b.score - a.score || a.openApplications - b.openApplications || (a.id < b.id ? -1 : 1));
  return (limit === undefined ? scored : scored.slice(0, limit)).map((c) => ({ id: c.id, score: c.score }));
}

/**
 * Median and p95 ms of `RUNS` calls of each of `a` and `b`, after `WARM_UP` untimed ones, cycling through
 * `applications`. The two are timed alternately, call by call, so load from other processes on a shared machine
 * falls on both alike instead of on whichever happened to run during a busy spell.
 */
function timePair(
  applications: RankingApplication[],
  a: (application: RankingApplication) => unknown,
  b: (application: RankingApplication) => unknown,
) {
  for (let i = 0; i < WARM_UP; i++) {
    a(applications[i % applications.length]!);
    b(applications[i % applications.length]!);
  }
  const samplesA: number[] = [];
  const samplesB: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const application = applications[i % applications.length]!;
    let t = performance.now();
    a(application);
    samplesA.push(performance.now() - t);
    t = performance.now();
    b(application);
    samplesB.push(performance.now() - t);
  }
  return [summarize(samplesA), summarize(samplesB)] as const;
}

/** Fail loudly if the two implementations disagree: a fast wrong ranking is not a result. */
function checkSameOrder(pool: RankingCandidate[], applications: RankingApplication[]): number {
  let eligible = 0;
  for (const application of applications) {
    const fast = rankInstitutions(application, pool).ranked.map((r) => r.id);
    const naive = naiveRank(application, pool, DEFAULT_RANKING_WEIGHTS).map((r) => r.id);
    if (fast.join() !== naive.join()) throw new Error('rankInstitutions and the naive ranking disagree');
    eligible += fast.length;
  }
  return Math.round(eligible / applications.length);
}

function rankingRows(label: string, pool: RankingCandidate[], applications: RankingApplication[]): BenchRow[] {
  const eligible = checkSameOrder(pool, applications);
  const rows: BenchRow[] = [];
  for (const limit of [3, undefined]) {
    const what = `rank ${POOL.toLocaleString('en')} institutions, ${label} (~${eligible} eligible), ${limit === undefined ? 'full ranking' : `limit ${limit}`}`;
    const [naive, fast] = timePair(
      applications,
      (a) => naiveRank(a, pool, DEFAULT_RANKING_WEIGHTS, limit),
      (a) => rankInstitutions(a, pool, { limit }),
    );
    for (const stat of ['median', 'p95'] as const) {
      const baseline = `naive filter+map+sort: ${what} ${stat}`;
      rows.push({ name: baseline, unit: 'ms', value: naive[stat] });
      rows.push({
        name: `rankInstitutions: ${what} ${stat}`,
        unit: 'ms',
        value: fast[stat],
        baseline,
        baselineValue: naive[stat],
        ratio: naive[stat] / fast[stat],
      });
    }
  }
  return rows;
}

/** Workflow throughput of the dispatch workflows (rows added with the workflows). */
async function workflowRows(): Promise<BenchRow[]> {
  return [];
}

const suite: BenchSuite = {
  name: 'dispatch',
  description: 'rank 10,000 institutions for one application: rankInstitutions vs a naive filter+map+sort',
  async run(): Promise<BenchRow[]> {
    const applications = makeApplications(7);
    return [
      ...rankingRows('realistic mix', makePool(1, false), applications),
      ...rankingRows('all eligible', makePool(2, true), applications),
      ...(await workflowRows()),
    ];
  },
};

export default suite;
