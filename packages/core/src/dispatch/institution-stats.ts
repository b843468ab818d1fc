/**
 * How dispatch moves an institution's open count and statistics, always in the transaction of the step that caused
 * the change: an offer changing status, a settlement, an application the institution failed to process. One place
 * decides the arithmetic, so the three paths cannot count the same thing differently.
 *
 * A step is counted once because it is counted in its own transaction: if that transaction is retried, the first
 * attempt's counts were rolled back with it.
 */
import { ConflictError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { type DispatchStats, getInstitution, institutionRepository } from './institution.js';
import type { OfferStatus } from './offer.js';

/** What one change adds to an institution: to its open count (may be negative) and to its counters. */
export interface InstitutionDelta {
  openCount: number;
  stats: Partial<DispatchStats>;
}

/** The part of an offer its counting reads. */
export interface CountedOffer {
  status: OfferStatus;
  offeredAt: number;
  answeredAt: number | null;
}

/**
 * What an offer's change from `previous` (null: the offer is new) to its current status adds up to. Several steps
 * may settle in one transaction (timers due together), so a change can span more than one step — a new offer already
 * withdrawn, say — and is counted as the steps it went through: made, then answered or ended.
 */
export function offerChangeDelta(previous: OfferStatus | null, offer: CountedOffer): InstitutionDelta {
  const delta: InstitutionDelta = { openCount: 0, stats: {} };
  let from = previous;
  if (from === null) {
    add(delta, { openCount: 1, stats: { offered: 1 } });
    from = 'open';
  }
  const to = offer.status;
  if (from === to) return delta;
  if (from === 'open') {
    const responseMs = Math.max(0, (offer.answeredAt ?? offer.offeredAt) - offer.offeredAt);
    const answered = { responses: 1, responseMsTotal: responseMs };
    if (to === 'declined') add(delta, { openCount: -1, stats: { declined: 1, ...answered } });
    else if (to === 'expired') add(delta, { openCount: -1, stats: { expired: 1 } });
    else if (to === 'withdrawn') add(delta, { openCount: -1, stats: {} });
    else {
      // accepted, or accepted and then chosen or released in the same transaction
      add(delta, { openCount: 0, stats: { accepted: 1, ...answered } });
      from = 'accepted';
    }
  }
  // A chosen offer keeps its place in the open count until the application is settled or fails.
  if (from === 'accepted' && to === 'released') add(delta, { openCount: -1, stats: {} });
  return delta;
}

/** `delta` plus `more`, in place. */
export function add(delta: InstitutionDelta, more: InstitutionDelta): InstitutionDelta {
  delta.openCount += more.openCount;
  for (const [key, value] of Object.entries(more.stats) as [keyof DispatchStats, number][]) {
    delta.stats[key] = (delta.stats[key] ?? 0) + value;
  }
  return delta;
}

/** The open count and statistics a settlement confirmed: one success, the amount disbursed, one place freed. */
export function settlementDelta(disbursedFen: number): InstitutionDelta {
  return { openCount: -1, stats: { successes: 1, amountFen: disbursedFen } };
}

/** An application the institution took and then failed to process (弃单): a failure, an abandonment, a place freed. */
export function processingFailureDelta(): InstitutionDelta {
  return { openCount: -1, stats: { failures: 1, abandoned: 1 } };
}

/** Options of {@link applyInstitutionDelta}. */
export interface ApplyDeltaOptions {
  /**
   * `skip`: an id that is not a registered institution is left alone — dispatch also runs on a host's own
   * institutions and rankings, which have no records here to count in. Default `throw` (`NotFoundError`).
   */
  unregistered?: 'throw' | 'skip';
}

/**
 * Add `delta` to the institution's record in `tx`. The open count never goes below zero, so an application the
 * institution held before dispatch counted its open applications cannot take it negative.
 *
 * Steps of different dispatches count for the same institutions at once, and the workflow lock serialises only steps
 * of one dispatch. The write is version-checked; when another transaction committed a change first, the record is
 * read again and the delta added to what it holds now (on PostgreSQL each statement reads what is committed). Adding
 * is order-free, so this is the same as having come second, and the whole step need not be thrown away.
 */
export async function applyInstitutionDelta(
  tx: PersistenceTransaction,
  institutionId: string,
  delta: InstitutionDelta,
  now: number,
  options: ApplyDeltaOptions = {},
): Promise<void> {
  if (isNothing(delta)) return;
  for (let attempt = 1; ; attempt++) {
    const stored =
      options.unregistered === 'skip'
        ? await institutionRepository.get(tx, institutionId)
        : await getInstitution(tx, institutionId);
    if (!stored) return;
    const stats = { ...stored.record.stats };
    for (const [key, value] of Object.entries(delta.stats) as [keyof DispatchStats, number][]) {
      stats[key] += value;
    }
    const openCount = Math.max(0, stored.record.openCount + delta.openCount);
    try {
      await institutionRepository.update(tx, stored, { ...stored.record, openCount, stats }, now);
      return;
    } catch (error) {
      const lostRace = error instanceof ConflictError && error.code === 'VERSION_CONFLICT';
      if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

const MAX_ATTEMPTS = 50;

function isNothing(delta: InstitutionDelta): boolean {
  return delta.openCount === 0 && Object.values(delta.stats).every((value) => value === 0);
}
