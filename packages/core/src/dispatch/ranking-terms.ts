/**
 * The scoring terms of institution ranking: the weights that say how much each counts, and how a candidate's
 * history and position become a normalised value in [0, 1] per term.
 *
 * Normalisation is absolute (fixed reference scales), never relative to the other candidates of the same call: an
 * institution's score for an application does not change because a stronger or weaker competitor joined the pool,
 * and its explanation can be recomputed from its own figures alone.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * The scoring terms, in the order their contributions are added up. Each maps a raw figure to [0, 1], higher better:
 * - `abandonment`: raw = abandoned / accepted (弃单率); normalised 1 − rate, floored at 0;
 * - `success`: raw = successes / accepted; normalised the rate, capped at 1;
 * - `response`: raw = mean ms from offer to answer (responseMsTotal / responses); normalised 2 h / (2 h + mean);
 * - `volume`: raw = successes; normalised log(1 + successes) / log(1 + 1000), capped at 1;
 * - `amount`: raw = amount disbursed in fen; normalised log(1 + yuan) / log(1 + 1,000,000,000), capped at 1;
 * - `headroom`: raw = position left after freezing the application's amount, in fen; normalised as a share of the
 *   position;
 * - `complaints`: raw = founded complaints per accepted offer (complaintsFounded / max(accepted, 1));
 *   normalised 5 % / (5 % + rate), so none scores 1 and one founded complaint in twenty accepted offers scores 0.5.
 *
 * With no accepted application yet, `abandonment` and `success`, and with no answered offer, `response`, take
 * {@link RANKING_NEUTRAL_PRIOR} (their raw figure is reported as `null`).
 */
export const RANKING_TERMS = [
  'abandonment',
  'success',
  'response',
  'volume',
  'amount',
  'headroom',
  'complaints',
] as const;

/** One of {@link RANKING_TERMS}. */
export type RankingTerm = (typeof RANKING_TERMS)[number];

/**
 * How much each term counts. Weights are relative: they are divided by their sum, so `{ success: 2, … }` and
 * `{ success: 4, … }` with every other weight doubled rank identically, and a score always lies in [0, 1].
 */
export type RankingWeights = Record<RankingTerm, number>;

/**
 * The weights used when a caller passes none; a caller's partial weights are laid over these.
 *
 * Reliability leads: abandonment (弃单率: an accepted loan dropped, which costs the customer days) and success rate
 * count a quarter each. Response speed counts 0.15 because each round of offers waits up to 24 hours for answers.
 * Volume of successes and amount handled (0.15 and 0.1) reward proven capacity without letting the largest
 * institutions take every application; position headroom (0.1) prefers funders not about to run out of 头寸.
 * Founded complaints (0.15, as much as speed) mark harm to customers that two people confirmed. Every institution
 * without a founded complaint scores 1 on that term, which adds the same amount to each of their scores and shrinks
 * the other shares in one proportion: among them, the order is what it was before the term existed.
 */
export const DEFAULT_RANKING_WEIGHTS: Readonly<RankingWeights> = Object.freeze({
  abandonment: 0.25,
  success: 0.25,
  response: 0.15,
  volume: 0.15,
  amount: 0.1,
  headroom: 0.1,
  complaints: 0.15,
});

/**
 * The normalised value of a rate or speed term for an institution with no history of it yet (no accepted
 * application, no answered offer): halfway, so a newcomer is neither shut out nor ranked above proven funders.
 */
export const RANKING_NEUTRAL_PRIOR = 0.5;

/** A mean answer time of two hours scores 0.5 on `response`; faster tends to 1, slower to 0. */
export const RESPONSE_HALF_SCORE_MS = 2 * 60 * 60 * 1000;
/** `volume` reaches 1 at this many successes (log-scaled below it). */
export const VOLUME_FULL_SUCCESSES = 1000;
/** `amount` reaches 1 at this total handled, in fen (1,000,000,000 yuan; log-scaled below it). */
export const AMOUNT_FULL_FEN = 100_000_000_000;
/** Founded complaints per accepted offer at which `complaints` scores 0.5 (one in twenty); more tends to 0. */
export const COMPLAINT_HALF_SCORE_RATE = 0.05;

const LOG_VOLUME_FULL = Math.log1p(VOLUME_FULL_SUCCESSES);
const LOG_AMOUNT_FULL_YUAN = Math.log1p(AMOUNT_FULL_FEN / 100);

/** The figures of an institution's dispatch history that ranking reads (all non-negative integers). */
export interface RankingStats {
  /** Applications offered to it. */
  offered: number;
  /** Offers it accepted. */
  accepted: number;
  /** Offers it declined. */
  declined: number;
  /** Offers it let lapse unanswered. */
  expired: number;
  /** Accepted applications it later dropped (弃单). */
  abandoned: number;
  /** Accepted applications it disbursed. */
  successes: number;
  /** Accepted applications that failed after acceptance for other reasons. */
  failures: number;
  /** Total amount disbursed, in fen. */
  amountFen: number;
  /** Sum of the times from offer to answer over `responses`, in milliseconds. */
  responseMsTotal: number;
  /** Offers it answered (accepted or declined). */
  responses: number;
  /** Founded complaints confirmed against it; 0 when left out. */
  complaintsFounded?: number;
}

/** The part of an institution that the terms read. */
interface TermInput {
  positionFen: number;
  stats: RankingStats;
}

/**
 * Write the normalised value of every term, in {@link RANKING_TERMS} order, into `out`. The hot loop and
 * `explain` both call this, so an explanation adds up to exactly the score that ordered the candidate.
 */
export function normaliseTerms(amountFen: number, candidate: TermInput, out: Float64Array): void {
  const s = candidate.stats;
  const accepted = s.accepted;
  if (accepted === 0) {
    out[0] = RANKING_NEUTRAL_PRIOR;
    out[1] = RANKING_NEUTRAL_PRIOR;
  } else {
    const abandonment = s.abandoned / accepted;
    out[0] = abandonment >= 1 ? 0 : 1 - abandonment;
    const success = s.successes / accepted;
    out[1] = Math.min(success, 1);
  }
  out[2] =
    s.responses === 0
      ? RANKING_NEUTRAL_PRIOR
      : RESPONSE_HALF_SCORE_MS / (RESPONSE_HALF_SCORE_MS + s.responseMsTotal / s.responses);
  out[3] = Math.min(1, Math.log1p(s.successes) / LOG_VOLUME_FULL);
  out[4] = Math.min(1, Math.log1p(s.amountFen / 100) / LOG_AMOUNT_FULL_YUAN);
  const position = candidate.positionFen;
  out[5] = position === 0 ? 0 : (position - amountFen) / position;
  const complaints = s.complaintsFounded ?? 0;
  // Exactly 1 with no complaint, so institutions without any keep the order they had before this term.
  out[6] =
    complaints === 0 ? 1 : COMPLAINT_HALF_SCORE_RATE / (COMPLAINT_HALF_SCORE_RATE + complaints / Math.max(accepted, 1));
}

/** Σ share × normalised value, added in term order: the single definition of a score. */
export function sumContributions(shares: Float64Array, values: Float64Array): number {
  let score = 0;
  for (let t = 0; t < shares.length; t++) score += shares[t]! * values[t]!;
  return score;
}

/**
 * The raw figure behind each term, in {@link RANKING_TERMS} order; `null` where the institution has no history and
 * the neutral prior stands in. Units: rates as fractions; mean answer time in ms; successes; amount handled in fen;
 * position left after freezing this application's amount, in fen; founded complaints per accepted offer.
 */
export function rawTerms(amountFen: number, candidate: TermInput): (number | null)[] {
  const s = candidate.stats;
  const accepted = Math.max(s.accepted, 1);
  return [
    s.accepted === 0 ? null : s.abandoned / accepted,
    s.accepted === 0 ? null : s.successes / accepted,
    s.responses === 0 ? null : s.responseMsTotal / s.responses,
    s.successes,
    s.amountFen,
    candidate.positionFen - amountFen,
    (s.complaintsFounded ?? 0) / accepted,
  ];
}

const weightSchema = z
  .number({ error: 'must be a number' })
  .min(0, { error: 'must not be negative' })
  .max(1_000_000, { error: 'must be at most 1,000,000' });

/** The shape of caller-supplied weights: any subset of the terms, each a finite number in [0, 1,000,000]. */
export const rankingWeightsSchema = z.strictObject(
  Object.fromEntries(RANKING_TERMS.map((term) => [term, weightSchema.optional()])) as Record<
    RankingTerm,
    z.ZodOptional<typeof weightSchema>
  >,
);

/** Weights turned into shares that sum to 1, in term order, plus the weights as given. */
export interface ResolvedWeights {
  weights: Readonly<RankingWeights>;
  shares: Float64Array;
}

function toShares(weights: Readonly<RankingWeights>): ResolvedWeights {
  let total = 0;
  for (const term of RANKING_TERMS) total += weights[term];
  const shares = new Float64Array(RANKING_TERMS.length);
  RANKING_TERMS.forEach((term, t) => {
    shares[t] = weights[term] / total;
  });
  return { weights, shares };
}

const DEFAULT_RESOLVED = toShares(DEFAULT_RANKING_WEIGHTS);

/**
 * Validate `weights` (a partial {@link RankingWeights}) and lay them over {@link DEFAULT_RANKING_WEIGHTS}. Throws a
 * `ValidationError` naming the field (`weights.success`) for a negative, non-finite or unknown weight, or when every
 * weight is zero.
 */
export function resolveWeights(weights: Partial<RankingWeights> | undefined): ResolvedWeights {
  if (weights === undefined) return DEFAULT_RESOLVED;
  const parsed = rankingWeightsSchema.safeParse(weights);
  if (!parsed.success) {
    const fields: string[] = [];
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        fields.push(...issue.keys.map((key) => `weights.${key}`));
        return `${issue.keys.map((key) => `weights.${key}`).join(', ')} is not a ranking weight (use ${RANKING_TERMS.join(', ')})`;
      }
      const field = ['weights', ...issue.path.map(String)].join('.');
      fields.push(field);
      return `${field} ${issue.message}`;
    });
    throw new ValidationError(`Invalid ranking weights: ${problems.join('; ')}.`, { details: { fields } });
  }
  const merged: RankingWeights = { ...DEFAULT_RANKING_WEIGHTS };
  for (const term of RANKING_TERMS) {
    const given = parsed.data[term];
    if (given !== undefined) merged[term] = given;
  }
  if (RANKING_TERMS.every((term) => merged[term] === 0)) {
    throw new ValidationError(
      'Invalid ranking weights: weights are all zero; give at least one term a weight above 0.',
      {
        details: { fields: RANKING_TERMS.map((term) => `weights.${term}`) },
      },
    );
  }
  return toShares(Object.freeze(merged));
}
