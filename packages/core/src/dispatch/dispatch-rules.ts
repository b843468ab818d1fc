/**
 * The rules of a dispatch as plain functions of its saved context.
 *
 * Each refusal function returns the typed error that explains why an event may not be taken now, or null when it
 * may. The machine uses them as guards, and the service uses the very same functions to tell a caller why the
 * machine refused: the reason a person reads is the rule the machine applied. The planning functions (deadlines,
 * top-ups) are pure too, so a transition computes its offers from the context and the event alone.
 */
import { NotFoundError, SealflowError, type SealflowErrorOptions, ValidationError } from '../errors.js';
import type {
  DispatchConfig,
  DispatchInput,
  DispatchIntervention,
  DispatchOutcome,
  Offer,
  PositionMovement,
} from './offer.js';

/** Everything a dispatch workflow remembers. */
export interface DispatchContext extends DispatchInput {
  /** `startedAt + dispatchWindowMs`: no offer is made at or after it. */
  dispatchDeadline: number;
  /** Institution ids, best first, as the ranking returned them; null until it has. */
  candidates: string[] | null;
  offers: Offer[];
  /** Set by the first acceptance (`at + choiceWindowMs`), cleared when the customer rejects every acceptance. */
  choiceDeadline: number | null;
  chosenInstitutionId: string | null;
  outcome: DispatchOutcome | null;
  interventions: DispatchIntervention[];
  /** The position movements the latest step asked for; applied in that step's transaction. */
  movements: PositionMovement[];
  /** The time of the latest step (its event's `at`, or the deadline a timer was set for). */
  lastStepAt: number;
  /** The sealed loan-contract terms recorded with the customer's choice; null until then, or without signing. */
  contract: string | null;
}

/** The stable codes of a dispatch's refusals. */
export type DispatchRefusalCode =
  | 'OFFER_EXPIRED'
  | 'OFFER_ALREADY_ANSWERED'
  | 'OFFER_WITHDRAWN'
  | 'OFFER_NOT_OPEN'
  | 'INSTITUTION_NOT_ACCEPTED'
  | 'NOTHING_ACCEPTED'
  | 'DISPATCH_FINISHED';

/** A dispatch rule refused an event: a late or repeated answer, a choice of an institution that did not accept, … */
export class DispatchRuleError extends SealflowError {
  constructor(code: DispatchRefusalCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/** What refusal functions return: the typed error to throw, or null. */
export type DispatchRefusal = SealflowError | null;

// ---------------------------------------------------------------------------------------------------------------
// Planning

/**
 * The deadline of an offer made at `offeredAt`: its own window, but never past the dispatch window — an offer made
 * late in the dispatch gets less time, so every answer is in by the time the dispatch window closes and the
 * application can go back to review the same day if nobody took it.
 */
export function offerDeadline(config: DispatchConfig, startedAt: number, offeredAt: number): number {
  return Math.min(offeredAt + config.offerWindowMs, startedAt + config.dispatchWindowMs);
}

/** Offers that hold a place among the `offersOpen`: open or accepted. */
export function liveOffers(context: DispatchContext): Offer[] {
  return context.offers.filter((offer) => offer.status === 'open' || offer.status === 'accepted');
}

/** Offers the institutions accepted that still wait for the customer's choice. */
export function acceptedOffers(context: DispatchContext): Offer[] {
  return context.offers.filter((offer) => offer.status === 'accepted');
}

/**
 * The institutions to offer now, at `at`, best first: enough to bring the live offers back to `offersOpen`, never
 * one offered before (in this dispatch or an earlier one), never more than `maxInstitutions` in the dispatch, and
 * none at all once the dispatch window has closed.
 */
export function institutionsToOffer(context: DispatchContext, at: number): string[] {
  if (context.candidates === null || at >= context.dispatchDeadline) return [];
  const { offersOpen, maxInstitutions } = context.config;
  const room = Math.min(offersOpen - liveOffers(context).length, maxInstitutions - context.offers.length);
  if (room <= 0) return [];
  const offered = new Set([...context.excluded, ...context.offers.map((offer) => offer.institutionId)]);
  return [...new Set(context.candidates)].filter((id) => !offered.has(id)).slice(0, room);
}

/** The new offers a top-up at `at` makes (see {@link institutionsToOffer}), numbered after the existing ones. */
export function planTopUp(context: DispatchContext, at: number): Offer[] {
  const deadline = offerDeadline(context.config, context.startedAt, at);
  return institutionsToOffer(context, at).map((institutionId, index) => {
    const seq = context.offers.length + index + 1;
    return {
      offerId: `${context.dispatchId}/offer-${seq}`,
      institutionId,
      seq,
      offeredAt: at,
      deadline,
      status: 'open',
      answeredAt: null,
      declineReason: null,
      closedReason: null,
    };
  });
}

/**
 * Nobody holds the application and nobody can be offered it: ranked, nothing live. Every transition that ends a
 * live offer tops up first, so an empty live set means the budget, the candidates or the window is used up.
 */
export function isExhausted(context: DispatchContext): boolean {
  return context.candidates !== null && liveOffers(context).length === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Refusals

function offerOfInstitution(context: DispatchContext, institutionId: string): Offer | undefined {
  return context.offers.find((offer) => offer.institutionId === institutionId);
}

function offerById(context: DispatchContext, offerId: string): Offer | undefined {
  return context.offers.find((offer) => offer.offerId === offerId);
}

function noOffer(context: DispatchContext, what: string): NotFoundError {
  return new NotFoundError(`Dispatch ${context.dispatchId} has no offer ${what}. Check the dispatch and the offer.`, {
    details: { dispatchId: context.dispatchId },
  });
}

const ANSWERED: Record<string, string> = {
  accepted: 'has already accepted',
  chosen: 'has already accepted and was chosen',
  released: 'accepted it and was not chosen',
  declined: 'has already declined',
};

/** Why an institution may not answer (accept or decline) its offer at `at`, or null while the offer is open. */
function answerRefusal(context: DispatchContext, institutionId: string, at: number): DispatchRefusal {
  const offer = offerOfInstitution(context, institutionId);
  if (!offer) return noOffer(context, `for institution ${institutionId}`);
  const details = { dispatchId: context.dispatchId, offerId: offer.offerId, deadline: offer.deadline };
  if (offer.status === 'expired' || (offer.status === 'open' && at >= offer.deadline)) {
    return new DispatchRuleError(
      'OFFER_EXPIRED',
      `Offer ${offer.offerId} expired at ${new Date(offer.deadline).toISOString()}; it can no longer be answered.`,
      { details },
    );
  }
  if (offer.status === 'withdrawn') {
    return new DispatchRuleError('OFFER_WITHDRAWN', `Offer ${offer.offerId} was withdrawn by the platform.`, {
      details: { ...details, reason: offer.closedReason },
    });
  }
  if (offer.status !== 'open') {
    return new DispatchRuleError(
      'OFFER_ALREADY_ANSWERED',
      `Institution ${institutionId} ${ANSWERED[offer.status]} offer ${offer.offerId}; an offer is answered once.`,
      { details: { ...details, status: offer.status } },
    );
  }
  return null;
}

/** Why `institutionId` may not accept its offer at `at`: no offer, late (`at` ≥ deadline or expired), answered. */
export function acceptRefusal(context: DispatchContext, event: { institutionId: string; at: number }): DispatchRefusal {
  return answerRefusal(context, event.institutionId, event.at);
}

/** Why `institutionId` may not decline its offer at `at`; a decline needs a reason. */
export function declineRefusal(
  context: DispatchContext,
  event: { institutionId: string; at: number; reason: string },
): DispatchRefusal {
  return answerRefusal(context, event.institutionId, event.at) ?? reasonRefusal(event.reason, 'declining an offer');
}

/** Why the customer may not choose `institutionId`: only an institution that accepted can be chosen. */
export function chooseRefusal(context: DispatchContext, event: { institutionId: string }): DispatchRefusal {
  const offer = offerOfInstitution(context, event.institutionId);
  if (offer?.status === 'accepted') return null;
  const accepted = acceptedOffers(context).map((o) => o.institutionId);
  return new DispatchRuleError(
    'INSTITUTION_NOT_ACCEPTED',
    `Institution ${event.institutionId} has not accepted dispatch ${context.dispatchId}` +
      (accepted.length ? `; the customer may choose ${accepted.join(', ')}.` : '; no institution has accepted yet.'),
    { details: { dispatchId: context.dispatchId, accepted } },
  );
}

/** Why the customer may not reject every acceptance now: there must be one, and a reason. */
export function rejectAllRefusal(context: DispatchContext, event: { reason: string }): DispatchRefusal {
  if (acceptedOffers(context).length === 0) {
    return new DispatchRuleError(
      'NOTHING_ACCEPTED',
      `No institution has accepted dispatch ${context.dispatchId}; there is nothing to reject.`,
      { details: { dispatchId: context.dispatchId } },
    );
  }
  return reasonRefusal(event.reason, 'rejecting every acceptance');
}

/** Why an offer may not be taken back and given to the next institution: it must be open. */
export function reassignRefusal(context: DispatchContext, event: { offerId: string; reason: string }): DispatchRefusal {
  return openOfferRefusal(context, event.offerId, 'reassigned') ?? reasonRefusal(event.reason, 'reassigning');
}

/** Why an offer's deadline may not move to `untilMs`: open, not yet late, and the new deadline later than the old. */
export function extendRefusal(
  context: DispatchContext,
  event: { offerId: string; untilMs: number; at: number; reason: string },
): DispatchRefusal {
  const refusal = openOfferRefusal(context, event.offerId, 'extended');
  if (refusal) return refusal;
  const offer = offerById(context, event.offerId)!;
  if (event.at >= offer.deadline) {
    return new DispatchRuleError(
      'OFFER_EXPIRED',
      `Offer ${offer.offerId} has already expired; it cannot be extended.`,
      {
        details: { offerId: offer.offerId, deadline: offer.deadline },
      },
    );
  }
  if (!Number.isSafeInteger(event.untilMs) || event.untilMs <= offer.deadline) {
    return new ValidationError(
      `untilMs must be a time (epoch ms) after the offer's deadline ${new Date(offer.deadline).toISOString()}.`,
      { details: { field: 'untilMs', deadline: offer.deadline } },
    );
  }
  return reasonRefusal(event.reason, 'extending an offer');
}

/** Why the dispatch may not be cancelled: a reason is needed. */
export function cancelRefusal(_context: DispatchContext, event: { reason: string }): DispatchRefusal {
  return reasonRefusal(event.reason, 'cancelling a dispatch');
}

function openOfferRefusal(context: DispatchContext, offerId: string, what: string): DispatchRefusal {
  const offer = offerById(context, offerId);
  if (!offer) return noOffer(context, offerId);
  if (offer.status === 'open') return null;
  return new DispatchRuleError(
    'OFFER_NOT_OPEN',
    `Offer ${offerId} is ${offer.status}; only an open offer can be ${what}.`,
    { details: { offerId, status: offer.status } },
  );
}

/** A reason is kept in the context and the audit: non-empty, at most 500 characters. */
export function reasonRefusal(reason: unknown, what: string): ValidationError | null {
  if (typeof reason === 'string' && reason.trim() !== '' && reason.length <= 500) return null;
  return new ValidationError(`A reason (1–500 characters) is needed when ${what}; it is kept in the history.`, {
    details: { field: 'reason' },
  });
}
