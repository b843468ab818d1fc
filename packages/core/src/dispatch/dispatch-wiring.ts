/**
 * The dispatch workflow wired to the platform's own institutions, ledger and ranking.
 *
 * The position ledger as the dispatch workflow's {@link DispatchPositions}: an acceptance freezes part of the
 * institution's position with `ledgerFreeze`, and an acceptance not taken is given back with `ledgerRelease`, both in
 * the transaction of the dispatch transition and under the movement's idempotency key.
 */
import { NotFoundError, SnapshotError } from '../errors.js';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { Persistence } from '../ports/persistence.js';
import type { ApplicationAlongside } from './application-steps.js';
import { type Institution, isSuspendedAt, listInstitutions } from './institution.js';
import { applyInstitutionDelta, processingFailureDelta, settlementDelta } from './institution-stats.js';
import { ledgerBalances, ledgerFreeze, ledgerRelease, ledgerRestore } from './ledger.js';
import type { DispatchNotification } from './offer.js';
import type { DispatchPositions, Notify, RankCandidates } from './offer-service.js';
import { type RankingCandidate, type RankingWeights, rankInstitutions } from './ranking.js';

/**
 * Positions backed by the ledger. A freeze the position does not cover fails with the ledger's
 * `POSITION_INSUFFICIENT`, which aborts the acceptance. The movement's time is the transition's.
 */
export function ledgerPositions(): DispatchPositions {
  return {
    async freeze(tx, movement) {
      const { institutionId, applicationId, amountFen, key, at } = movement;
      await ledgerFreeze(tx, { institutionId, applicationId, amountFen, key }, at);
    },
    async release(tx, movement) {
      const { institutionId, applicationId, amountFen, key, at } = movement;
      await ledgerRelease(tx, { institutionId, applicationId, amountFen, key }, at);
    },
  };
}

/** Options of {@link institutionRanking}. */
export interface InstitutionRankingOptions {
  persistence: Persistence;
  /** Partial weights laid over the ranking's defaults. */
  weights?: Partial<RankingWeights>;
}

/**
 * Ranking from the registered institutions: every ACTIVE institution, and every one whose penalty suspension has run
 * out by the ranking's time (`input.at`, taken from the dispatch's saved state, never from a clock), with its
 * available position read from the ledger (the deposit account, which a freeze draws on), scored by
 * `rankInstitutions`. An institution suspended by hand stays out until someone lifts it. Reads the institutions and
 * one balance per institution in a single transaction, so every candidate is seen as of one moment.
 */
export function institutionRanking(options: InstitutionRankingOptions): RankCandidates {
  return async (input) => {
    // Without a time (a ranking requested before rankings carried one), every suspension still counts.
    const eligible = (record: Institution) =>
      input.at === undefined ? record.status === 'ACTIVE' : !isSuspendedAt(record, input.at);
    const candidates = await options.persistence.transaction(async (tx) => {
      const found: RankingCandidate[] = [];
      for (const status of ['ACTIVE', 'SUSPENDED'] as const) {
        for (let afterId: string | undefined; ; ) {
          const page = await listInstitutions(tx, { status, limit: 500, ...(afterId ? { afterId } : {}) });
          for (const { record } of page) {
            if (!eligible(record)) continue;
            // An institution with no ledger yet has no position to offer against.
            const balances = await ledgerBalances(tx, record.id).catch((error: unknown) => {
              if (error instanceof NotFoundError) return null;
              throw error;
            });
            found.push({
              id: record.id,
              status: 'ACTIVE',
              regions: record.regions,
              categories: record.categories,
              capacity: record.capacity,
              openApplications: record.openCount,
              positionFen: balances?.deposit ?? 0,
              stats: record.stats,
            });
          }
          if (page.length < 500) break;
          afterId = page.at(-1)!.record.id;
        }
      }
      return found;
    });
    const { amountFen, region, category, excluded, limit } = input;
    const result = rankInstitutions({ amountFen, region, category }, candidates, {
      excluded,
      limit,
      ...(options.weights ? { weights: options.weights } : {}),
    });
    return result.ranked.map((ranked) => ranked.id);
  };
}

/**
 * The application service's `onSettled` hook wired to the ledger and the institution's statistics: when the settler
 * confirms payment, the position frozen for the application is restored to the institution (跟单确认，恢复头寸), the
 * institution's successes and disbursed amount go up and the application stops counting among those it holds open,
 * which the next ranking reads — all in the payment confirmation's own transaction, so a settlement is counted
 * exactly once or not at all.
 *
 * The restore uses the key `settlement:<applicationId>`, and its time is the payment confirmation's, so the movement
 * is the same whoever retries it. An application with nothing frozen (its hold was already given back) restores
 * nothing and is still counted.
 */
export function settlementRestoresPosition(): ApplicationAlongside {
  return async (tx, application) => {
    const { institutionId, paymentConfirmedAt, settlement } = application;
    if (institutionId === null || paymentConfirmedAt === null || settlement === null) {
      // The machine cannot settle without all three, so a stored application lacking one was changed by hand.
      throw new SnapshotError(
        'CORRUPT_SNAPSHOT',
        `Application ${application.applicationId} is settled without an institution, a payment time or figures: restore it from a backup.`,
      );
    }
    const hold = (await ledgerBalances(tx, institutionId)).holds[application.applicationId] ?? 0;
    if (hold > 0) {
      const key = `settlement:${application.applicationId}`;
      await ledgerRestore(
        tx,
        { institutionId, applicationId: application.applicationId, amountFen: hold, key },
        paymentConfirmedAt,
      );
    }
    await applyInstitutionDelta(tx, institutionId, settlementDelta(settlement.disbursedFen), paymentConfirmedAt);
  };
}

/**
 * For the application service's `recordProcessingFailure(actor, id, reason, { alongside })`: the institution that
 * had the application and failed to process it (弃单) gets a failure and an abandonment in its statistics, and the
 * application stops counting among those it holds open — in the failure's own transaction, so it is counted once.
 *
 * The failure hands the application back to dispatch, which clears its institution and lists it among the failed
 * ones; the institution counted is therefore the last of `failedInstitutions` (or `institutionId`, were it kept).
 */
export function processingFailureCounted(): ApplicationAlongside {
  return async (tx, application) => {
    const institutionId = application.institutionId ?? application.failedInstitutions.at(-1) ?? null;
    if (institutionId === null) {
      // The machine records the failing institution with the failure, so a stored application without one was changed by hand.
      throw new SnapshotError(
        'CORRUPT_SNAPSHOT',
        `Application ${application.applicationId} failed processing without an institution: restore it from a backup.`,
      );
    }
    await applyInstitutionDelta(tx, institutionId, processingFailureDelta(), application.updatedAt);
  };
}

/** Options of {@link notifierDelivery}. */
export interface NotifierDeliveryOptions {
  /**
   * The staff recipient told that the customer may now choose (`dispatch.choice-open`): the host's id of the desk or
   * person who contacts customers, such as the follow-up managers' queue.
   */
  choiceDesk: string;
}

/**
 * The dispatch workflow's notifications delivered through the {@link Notifier} port: a new offer and its approaching
 * deadline to the institution (`offer.new`, `offer.deadline-approaching`), the customer's choice to the institution
 * chosen (`offer.chosen`) and to each whose acceptance was released (`offer.not-chosen`, with the reason), and the
 * opening of the customer's choice to `choiceDesk`. Pass it as `dispatchWorkflow({ notify })`. Each notification's id
 * is derived from the dispatch, the offer and the kind of message — saved state only — so a redelivery carries the
 * same id and the receiver dedupes it.
 */
export function notifierDelivery(notifier: Notifier, options: NotifierDeliveryOptions): Notify {
  return async (notification, context) => {
    await notifier.notify(notificationFor(notification, options), { idempotencyKey: context.idempotencyKey });
  };
}

function notificationFor(notification: DispatchNotification, options: NotifierDeliveryOptions): Notification {
  const { dispatchId, applicationId } = notification;
  switch (notification.type) {
    case 'offer.created':
      return {
        id: `${dispatchId}:${notification.offerId}:new`,
        recipient: { kind: 'institution', id: notification.institutionId },
        type: 'offer.new',
        data: {
          dispatchId,
          applicationId,
          offerId: notification.offerId,
          deadline: notification.deadline,
          amountFen: notification.amountFen,
        },
      };
    case 'offer.deadline-approaching':
      return {
        id: `${dispatchId}:${notification.offerId}:reminder:${notification.deadline}`,
        recipient: { kind: 'institution', id: notification.institutionId },
        type: 'offer.deadline-approaching',
        data: { dispatchId, applicationId, offerId: notification.offerId, deadline: notification.deadline },
      };
    case 'offer.chosen':
      return {
        id: `${dispatchId}:${notification.offerId}:chosen`,
        recipient: { kind: 'institution', id: notification.institutionId },
        type: 'offer.chosen',
        data: { dispatchId, applicationId, offerId: notification.offerId },
      };
    case 'offer.not-chosen':
      return {
        id: `${dispatchId}:${notification.offerId}:not-chosen`,
        recipient: { kind: 'institution', id: notification.institutionId },
        type: 'offer.not-chosen',
        data: { dispatchId, applicationId, offerId: notification.offerId, reason: notification.reason },
      };
    case 'dispatch.choice-open':
      return {
        id: `${dispatchId}:choice-open:${notification.choiceDeadline}`,
        recipient: { kind: 'staff', id: options.choiceDesk },
        type: 'dispatch.choice-open',
        data: {
          dispatchId,
          applicationId,
          choiceDeadline: notification.choiceDeadline,
          acceptedInstitutionIds: notification.acceptedInstitutionIds,
        },
      };
  }
}
