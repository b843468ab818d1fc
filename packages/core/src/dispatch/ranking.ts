/**
 * Ranking the institutions (机构, funders) that could take one loan application.
 *
 * `rankInstitutions` is pure: no clock, no I/O, no randomness. It first filters (active, serves the region, handles
 * the business category, free concurrent capacity, position covers the amount, not excluded), then scores every
 * remaining candidate with weighted, normalised terms (see `ranking-terms.ts`) and orders them by a total order:
 * score descending, then fewer open applications, then id. The same inputs in any order give the same output.
 *
 * It runs for every dispatch round over every onboarded institution, so the loop is written for speed: scores go
 * into a typed array, no object is made for a candidate that is not returned, and a small `limit` is served by a
 * partial selection instead of sorting everything.
 */
import { ValidationError } from '../errors.js';
import { selectBest, sortAll } from './ranking-order.js';
import {
  normaliseTerms,
  RANKING_TERMS,
  type RankingStats,
  type RankingTerm,
  type RankingWeights,
  type ResolvedWeights,
  rawTerms,
  resolveWeights,
  sumContributions,
} from './ranking-terms.js';

export {
  DEFAULT_RANKING_WEIGHTS,
  RANKING_NEUTRAL_PRIOR,
  RANKING_TERMS,
  type RankingStats,
  type RankingTerm,
  type RankingWeights,
  rankingWeightsSchema,
} from './ranking-terms.js';

/** An institution as ranking sees it: its dispatch parameters, its current load and position, its history. */
export interface RankingCandidate {
  /** The institution's id: unique, and the last key of the order. */
  id: string;
  /** Only `ACTIVE` institutions are offered applications. */
  status: 'ACTIVE' | 'SUSPENDED';
  /** Region codes it serves; each covers every application whose region code starts with it ('44' covers '440305'). */
  regions: readonly string[];
  /** Business categories it handles; matched exactly against the application's category. */
  categories: readonly string[];
  /** How many applications it may hold open at once (concurrent capacity). */
  capacity: number;
  /** Applications it holds open now. */
  openApplications: number;
  /** Its available position (头寸) in fen: what it can still freeze for new loans. */
  positionFen: number;
  /** Its dispatch history, which the scoring terms read. */
  stats: RankingStats;
}

/** The application being dispatched: its amount in fen, its region and its business category. */
export interface RankingApplication {
  /** The loan amount in fen: a positive whole number. */
  amountFen: number;
  /** The most precise region code of the customer (a district such as '440305'). */
  region: string;
  /** The business category (product type), as institutions list it in `categories`. */
  category: string;
}

/** Why a candidate was left out, checked in this order (the first that applies is reported). */
export const RANKING_REJECTION_REASONS = {
  NOT_ACTIVE: 'the institution is suspended',
  EXCLUDED: 'the institution is excluded from this ranking (for example, already offered this application)',
  REGION_NOT_SERVED: "the institution does not serve the application's region",
  CATEGORY_NOT_HANDLED: "the institution does not handle the application's business category",
  NO_FREE_CAPACITY: 'the institution already holds as many open applications as its capacity allows',
  POSITION_TOO_LOW: "the institution's available position is below the application amount",
} as const;

/** One of the keys of {@link RANKING_REJECTION_REASONS}. */
export type RankingRejectionReason = keyof typeof RANKING_REJECTION_REASONS;

/** A candidate the filters left out, and the first filter that did. */
export interface RankingRejection {
  /** The candidate's id. */
  id: string;
  /** The first filter it failed; {@link RANKING_REJECTION_REASONS} says it in words. */
  reason: RankingRejectionReason;
}

/** One term of a score: `contribution = share × normalised`, and the contributions of all terms sum to the score. */
export interface RankingTermExplanation {
  /** Which term this is. */
  term: RankingTerm;
  /** The figure the term is computed from (units in {@link RANKING_TERMS}); `null` when the neutral prior stood in. */
  raw: number | null;
  /** The raw figure mapped to [0, 1], higher is better. */
  normalised: number;
  /** The weight as configured. */
  weight: number;
  /** The weight divided by the sum of all weights. */
  share: number;
  /** `share × normalised`: this term's part of the score. */
  contribution: number;
}

/** Why a candidate scored what it scored. */
export interface RankingExplanation {
  /** The candidate's id. */
  id: string;
  /** The score, equal to the sum of the terms' contributions. */
  score: number;
  /** One entry per term, in {@link RANKING_TERMS} order. */
  terms: RankingTermExplanation[];
}

/** A candidate that passed every filter, with its place in the order. */
export interface RankedCandidate {
  /** The candidate's id. */
  id: string;
  /** 1 for the best. */
  rank: number;
  /** In [0, 1]: Σ share × normalised term. */
  score: number;
  /** The candidate as passed in. */
  candidate: RankingCandidate;
  /** Each term's raw value, normalised value, weight and contribution; computed on demand. */
  explain(): RankingExplanation;
}

/** Options of {@link rankInstitutions}. */
export interface RankingOptions {
  /** Partial weights laid over `DEFAULT_RANKING_WEIGHTS`. */
  weights?: Partial<RankingWeights>;
  /** Institution ids to leave out, such as those already offered this application in earlier rounds. */
  excluded?: ReadonlySet<string> | readonly string[];
  /** Return only the best `limit` candidates (a positive whole number); all of them when left out. */
  limit?: number;
}

/** What {@link rankInstitutions} returns. */
export interface RankingResult {
  /** The best candidates, best first; at most `limit` of them. */
  ranked: RankedCandidate[];
  /** Every candidate left out by a filter, in input order. */
  rejected: RankingRejection[];
  /** How many candidates passed the filters (may exceed `ranked.length` when `limit` cut the list). */
  eligible: number;
}

/** Up to this `limit`, the best are kept by insertion into a short sorted list instead of sorting every candidate. */
const PARTIAL_SELECTION_MAX = 64;

class Ranked implements RankedCandidate {
  readonly #application: RankingApplication;
  readonly #weights: ResolvedWeights;

  constructor(
    readonly id: string,
    readonly rank: number,
    readonly score: number,
    readonly candidate: RankingCandidate,
    application: RankingApplication,
    weights: ResolvedWeights,
  ) {
    this.#application = application;
    this.#weights = weights;
  }

  explain(): RankingExplanation {
    return explainScore(this.#application, this.candidate, this.#weights);
  }
}

function explainScore(
  application: RankingApplication,
  candidate: RankingCandidate,
  { weights, shares }: ResolvedWeights,
): RankingExplanation {
  const values = new Float64Array(RANKING_TERMS.length);
  normaliseTerms(application.amountFen, candidate, values);
  const raw = rawTerms(application.amountFen, candidate);
  const terms = RANKING_TERMS.map(
    (term, t): RankingTermExplanation => ({
      term,
      raw: raw[t]!,
      normalised: values[t]!,
      weight: weights[term],
      share: shares[t]!,
      contribution: shares[t]! * values[t]!,
    }),
  );
  return { id: candidate.id, score: sumContributions(shares, values), terms };
}

/**
 * Filter and rank `candidates` for one application. Pure: the same inputs, in any order, give the same result.
 *
 * Throws `ValidationError` for a malformed application (amount not a positive whole number of fen, empty region or
 * category), malformed weights (the message names the field), a `limit` that is not a positive whole number, a
 * malformed candidate (the message names its index and field), or two candidates with one id that tie (ids are the
 * institutions' keys and must be unique; a tie between two with one id would leave their order undefined).
 */
export function rankInstitutions(
  application: RankingApplication,
  candidates: readonly RankingCandidate[],
  options: RankingOptions = {},
): RankingResult {
  checkApplication(application);
  const weights = resolveWeights(options.weights);
  const limit = checkLimit(options.limit);
  if (!Array.isArray(candidates)) {
    throw new ValidationError('candidates must be an array of institutions.', { details: { field: 'candidates' } });
  }
  const excluded = toExcludedSet(options.excluded);
  const { amountFen, region, category } = application;
  const n = candidates.length;
  const scores = new Float64Array(n);
  const eligible = new Int32Array(n);
  const values = new Float64Array(RANKING_TERMS.length);
  const shares = weights.shares;
  const rejected: RankingRejection[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = candidates[i]!;
    if (!isWellFormed(c)) throw malformedCandidate(c, i);
    const reason = rejectionOf(c, excluded, region, category, amountFen);
    if (reason !== undefined) {
      rejected.push({ id: c.id, reason });
      continue;
    }
    normaliseTerms(amountFen, c, values);
    scores[i] = sumContributions(shares, values);
    eligible[count++] = i;
  }
  const order =
    limit !== undefined && limit < count && limit <= PARTIAL_SELECTION_MAX
      ? selectBest(candidates, scores, eligible, count, limit)
      : sortAll(candidates, scores, eligible, count);
  const size = limit === undefined ? order.length : Math.min(limit, order.length);
  const ranked: RankedCandidate[] = new Array(size);
  for (let r = 0; r < size; r++) {
    const i = order[r]!;
    ranked[r] = new Ranked(candidates[i]!.id, r + 1, scores[i]!, candidates[i]!, application, weights);
  }
  return { ranked, rejected, eligible: count };
}

/**
 * Region codes are hierarchical (GB/T 2260 style: '44' province, '4403' city, '440305' district), so an institution
 * listing '44' serves an application in '440305'; one listing '4403' does not serve '4401'.
 */
function servesRegion(regions: readonly string[], region: string): boolean {
  for (let r = 0; r < regions.length; r++) {
    const served = regions[r]!;
    if (served !== '' && region.startsWith(served)) return true;
  }
  return false;
}

/** The first filter `c` fails, or `undefined` when it may be offered the application. */
function rejectionOf(
  c: RankingCandidate,
  excluded: ReadonlySet<string> | undefined,
  region: string,
  category: string,
  amountFen: number,
): RankingRejectionReason | undefined {
  if (c.status !== 'ACTIVE') return 'NOT_ACTIVE';
  if (excluded?.has(c.id)) return 'EXCLUDED';
  if (!servesRegion(c.regions, region)) return 'REGION_NOT_SERVED';
  if (!c.categories.includes(category)) return 'CATEGORY_NOT_HANDLED';
  if (c.openApplications >= c.capacity) return 'NO_FREE_CAPACITY';
  if (c.positionFen < amountFen) return 'POSITION_TOO_LOW';
  return undefined;
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const STAT_FIELDS = [
  'offered',
  'accepted',
  'declined',
  'expired',
  'abandoned',
  'successes',
  'failures',
  'amountFen',
  'responseMsTotal',
  'responses',
] as const satisfies readonly (keyof RankingStats)[];

function isWellFormed(c: RankingCandidate): boolean {
  if (typeof c !== 'object' || c === null || typeof c.id !== 'string' || c.id === '') return false;
  if (c.status !== 'ACTIVE' && c.status !== 'SUSPENDED') return false;
  if (!Array.isArray(c.regions) || !Array.isArray(c.categories)) return false;
  if (!isCount(c.capacity) || !isCount(c.openApplications) || !isCount(c.positionFen)) return false;
  const s = c.stats;
  if (typeof s !== 'object' || s === null) return false;
  // Spelled out: a loop over field names would make every read a slow keyed lookup.
  return (
    isCount(s.offered) &&
    isCount(s.accepted) &&
    isCount(s.declined) &&
    isCount(s.expired) &&
    isCount(s.abandoned) &&
    isCount(s.successes) &&
    isCount(s.failures) &&
    isCount(s.amountFen) &&
    isCount(s.responseMsTotal) &&
    isCount(s.responses) &&
    (s.complaintsFounded === undefined || isCount(s.complaintsFounded))
  );
}

/** Name the first bad field of candidate `index`, so the host can find the record that feeds it. */
function malformedCandidate(c: RankingCandidate, index: number): ValidationError {
  const at = `candidates[${index}]`;
  const field = ((): string => {
    if (typeof c !== 'object' || c === null) return '';
    if (typeof c.id !== 'string' || c.id === '') return '.id';
    if (c.status !== 'ACTIVE' && c.status !== 'SUSPENDED') return '.status';
    if (!Array.isArray(c.regions)) return '.regions';
    if (!Array.isArray(c.categories)) return '.categories';
    for (const key of ['capacity', 'openApplications', 'positionFen'] as const) if (!isCount(c[key])) return `.${key}`;
    if (typeof c.stats !== 'object' || c.stats === null) return '.stats';
    return `.stats.${STAT_FIELDS.find((key) => !isCount(c.stats[key])) ?? 'complaintsFounded'}`;
  })();
  const what: Record<string, string> = {
    '': 'must be an institution object',
    '.id': 'must be a non-empty string',
    '.status': "must be 'ACTIVE' or 'SUSPENDED'",
    '.regions': 'must be an array of region codes',
    '.categories': 'must be an array of business categories',
    '.stats': 'must be an object of dispatch statistics',
  };
  const rule = what[field] ?? 'must be a non-negative whole number';
  return new ValidationError(`${at}${field} ${rule}. Fix the institution record before ranking.`, {
    details: { field: `${at}${field}` },
  });
}

function checkApplication(application: RankingApplication): void {
  if (typeof application !== 'object' || application === null) {
    throw new ValidationError('application must be { amountFen, region, category }.', {
      details: { field: 'application' },
    });
  }
  const { amountFen, region, category } = application;
  if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen <= 0) {
    throw new ValidationError(
      'application.amountFen must be a positive whole number of fen (1 yuan = 100 fen); convert yuan with parseMoneyToFen.',
      { details: { field: 'application.amountFen' } },
    );
  }
  for (const [field, value] of [
    ['region', region],
    ['category', category],
  ] as const) {
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ValidationError(`application.${field} must be a non-empty string.`, {
        details: { field: `application.${field}` },
      });
    }
  }
}

function checkLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError('limit must be a positive whole number (leave it out to rank every candidate).', {
      details: { field: 'limit' },
    });
  }
  return limit;
}

function toExcludedSet(excluded: RankingOptions['excluded']): ReadonlySet<string> | undefined {
  if (excluded === undefined) return undefined;
  if (excluded instanceof Set) return excluded;
  if (Array.isArray(excluded)) return new Set(excluded);
  throw new ValidationError('excluded must be a Set or an array of institution ids.', {
    details: { field: 'excluded' },
  });
}
