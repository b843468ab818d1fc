/**
 * Ratings (互相评价): after settlement the platform rates the institution that funded an application, and the
 * institution rates the platform — one rating per side per application, a whole score from 1 to 5 and a comment.
 *
 * `recordRating(tx, rating)` is the one write, usable inside another module's transaction (the settlement that
 * makes an application ratable); `createRatingService` adds the actor checks and the queries. An institution's
 * people see only their own institution's ratings.
 */
import { z } from 'zod';
import { ConflictError, PermissionError, SealflowError } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Persistence, PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import { parseComplaintInput } from './complaint.js';
import { checkDispatchActor, type DispatchActor, type DispatchRole, requireInstitutionStaff } from './roles.js';

/** Who rates: the platform rates the institution, the institution rates the platform. */
export const RATING_SIDES = ['platform', 'institution'] as const;

/** One of {@link RATING_SIDES}. */
export type RatingSide = (typeof RATING_SIDES)[number];

const hostId = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((value) => !value.includes('\u0000') && !value.includes('/'), { message: 'must not contain / or U+0000' });

/** A rating as stored: which application, which side rated, the institution, the score, comment, who and when. */
export const ratingSchema = z.object({
  applicationId: hostId,
  from: z.enum(RATING_SIDES),
  institutionId: hostId,
  score: z.number().int({ message: 'must be a whole number from 1 to 5' }).min(1).max(5),
  comment: z.string().trim().max(500),
  /** The id of the person who rated. */
  by: hostId,
  /** Epoch ms. */
  at: z.number().int().nonnegative(),
});

/** A rating of one side by the other for one application. */
export type Rating = z.output<typeof ratingSchema>;

/** The key of a rating: one per application and side. */
export function ratingId(applicationId: string, from: RatingSide): string {
  return `${from}/${applicationId}`;
}

/** The repository of ratings, tagged by institution and side. */
export const ratingRecords = defineRepository({
  kind: 'dispatch.rating',
  schema: ratingSchema,
  id: (rating) => ratingId(rating.applicationId, rating.from),
  tags: (rating) => ({ institution: rating.institutionId, from: rating.from }),
  label: 'rating',
});

const sameRating = (a: Rating, b: Rating) =>
  a.institutionId === b.institutionId && a.score === b.score && a.comment === b.comment && a.by === b.by;

function alreadyRated(rating: Rating, cause?: unknown): ConflictError {
  return new ConflictError(
    'DUPLICATE',
    `The ${rating.from} side already rated application ${rating.applicationId}; a rating is given once and not changed.`,
    { cause, details: { applicationId: rating.applicationId, from: rating.from } },
  );
}

/**
 * Record a rating inside the caller's transaction. The same rating again (same rater, institution, score and
 * comment) returns the stored one, so a retried request is harmless; any other second rating of the same side for
 * the same application is refused with `ConflictError('DUPLICATE')`. Input that breaks a rule throws a
 * `ValidationError` before anything is written. Two transactions racing to insert the same rating: one commits,
 * the other fails with `DUPLICATE` (and its transaction is aborted).
 */
export async function recordRating(tx: PersistenceTransaction, rating: Rating): Promise<Rating> {
  const parsed = parseComplaintInput(ratingSchema, rating, 'rating');
  const existing = await ratingRecords.get(tx, ratingId(parsed.applicationId, parsed.from));
  if (existing) {
    if (sameRating(existing.record, parsed)) return existing.record;
    throw alreadyRated(parsed);
  }
  try {
    return (await ratingRecords.insert(tx, parsed, parsed.at)).record;
  } catch (error) {
    if (error instanceof ConflictError && error.code === 'DUPLICATE') throw alreadyRated(parsed, error);
    throw error;
  }
}

/** What a person submits: the rating without who and when, which the service fills in. */
export type RatingInput = Omit<Rating, 'by' | 'at'>;

/** An institution's mean score from the platform's ratings of it. */
export interface InstitutionScore {
  institutionId: string;
  count: number;
  /** The mean of the scores, or null with no ratings yet. */
  mean: number | null;
}

/** Options of {@link createRatingService}. */
export interface RatingServiceOptions {
  persistence: Persistence;
  clock?: Clock;
  /** Whether the application is settled with this institution: only then may either side rate. */
  settled: (tx: PersistenceTransaction, applicationId: string, institutionId: string) => Promise<boolean>;
}

/** Rating commands and queries, checked against the actor. */
export interface RatingService {
  /** The platform (follow-up manager, settler, customer manager) or the institution's own staff rate the other side. */
  rate(actor: DispatchActor, input: RatingInput): Promise<Rating>;
  /** The ratings given and received by an institution, ordered by key; its staff see only their own. */
  ratings(
    actor: DispatchActor,
    institutionId: string,
    options?: { from?: RatingSide; afterId?: string; limit?: number },
  ): Promise<Rating[]>;
  /** The mean of the platform's scores of an institution. */
  meanScore(actor: DispatchActor, institutionId: string): Promise<InstitutionScore>;
}

/** The platform roles that rate an institution. */
export const PLATFORM_RATER_ROLES: readonly DispatchRole[] = ['follow-up-manager', 'settler', 'customer-manager'];

function requireRater(actor: DispatchActor, input: RatingInput): void {
  if (input?.from === 'institution') {
    requireInstitutionStaff(actor, input.institutionId, 'rate the platform');
    return;
  }
  checkDispatchActor(actor);
  if (actor.institutionId !== undefined || !PLATFORM_RATER_ROLES.some((role) => actor.roles.includes(role))) {
    throw new PermissionError(`Only platform ${PLATFORM_RATER_ROLES.join(', ')} may rate an institution.`);
  }
}

function requireReader(actor: DispatchActor, institutionId: string): void {
  checkDispatchActor(actor);
  if (actor.institutionId !== undefined || actor.roles.includes('institution')) {
    requireInstitutionStaff(actor, institutionId, "see an institution's ratings");
    return;
  }
  if (actor.roles.length === 0) throw new PermissionError(`Actor ${actor.id} has no dispatch role.`);
}

/** Create the rating service. */
export function createRatingService(options: RatingServiceOptions): RatingService {
  const { persistence, settled } = options;
  const clock = options.clock ?? systemClock;

  async function rateOnce(rating: Rating): Promise<Rating> {
    return persistence.transaction(async (tx) => {
      if (!(await settled(tx, rating.applicationId, rating.institutionId))) {
        throw new SealflowError(
          'NOT_SETTLED',
          `Application ${rating.applicationId} is not settled with institution ${rating.institutionId}; ` +
            'ratings are given after settlement.',
          { details: { applicationId: rating.applicationId } },
        );
      }
      return recordRating(tx, rating);
    });
  }

  return {
    async rate(actor, input) {
      requireRater(actor, input);
      const rating = parseComplaintInput(ratingSchema, { ...input, by: actor.id, at: clock.now() }, 'rating');
      try {
        return await rateOnce(rating);
      } catch (error) {
        // Lost a race to insert: the winner's rating is now visible, so a repeat is answered by the rules above.
        if (error instanceof ConflictError && error.code === 'DUPLICATE' && error.cause !== undefined) {
          return rateOnce(rating);
        }
        throw error;
      }
    },
    async ratings(actor, institutionId, query = {}) {
      requireReader(actor, institutionId);
      const tags: Record<string, string> = { institution: institutionId };
      if (query.from !== undefined) tags.from = query.from;
      const stored = await persistence.transaction((tx) =>
        ratingRecords.find(tx, { tags, afterId: query.afterId, limit: query.limit }),
      );
      return stored.map((s) => s.record);
    },
    async meanScore(actor, institutionId) {
      requireReader(actor, institutionId);
      let count = 0;
      let sum = 0;
      let afterId: string | undefined;
      for (;;) {
        const page = await persistence.transaction((tx) =>
          ratingRecords.find(tx, { tags: { institution: institutionId, from: 'platform' }, afterId, limit: 500 }),
        );
        for (const { record } of page) {
          count++;
          sum += record.score;
        }
        if (page.length < 500) break;
        afterId = ratingId(page[page.length - 1]!.record.applicationId, 'platform');
      }
      return { institutionId, count, mean: count === 0 ? null : sum / count };
    },
  };
}
