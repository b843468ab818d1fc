/** Institutions and applications for the ranking tests. */
import { emptyDispatchStats, type RankingApplication, type RankingCandidate, type RankingStats } from '../src/index.js';
import { seededRandom } from '../src/memory/index.js';

/** An application every {@link institution} serves by default: 100,000.00 yuan, region 310000, category 'car'. */
export const APPLICATION: RankingApplication = { amountFen: 10_000_000, region: '310000', category: 'car' };

/** A well-established, eligible institution; override any field or statistic. */
export function institution(
  id: string,
  overrides: Partial<Omit<RankingCandidate, 'stats'>> = {},
  stats: Partial<RankingStats> = {},
): RankingCandidate {
  return {
    id,
    status: 'ACTIVE',
    regions: ['310000', '320000'],
    categories: ['car', 'mortgage'],
    capacity: 10,
    openApplications: 2,
    positionFen: 100_000_000,
    ...overrides,
    stats: {
      offered: 120,
      accepted: 100,
      declined: 15,
      expired: 5,
      abandoned: 5,
      successes: 90,
      failures: 5,
      amountFen: 9_000_000_000,
      responseMsTotal: 115 * 30 * 60_000,
      responses: 115,
      ...stats,
    },
  };
}

/** An onboarded institution with no dispatch history at all. */
export function newcomer(id: string, overrides: Partial<Omit<RankingCandidate, 'stats'>> = {}): RankingCandidate {
  return institution(id, overrides, emptyDispatchStats());
}

/** A Fisher–Yates shuffle driven by a seeded PRNG (mulberry32), so a failing case can be replayed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const next = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Deep-freeze, so a test proves the function under test never writes to its input. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
