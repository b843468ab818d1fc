/**
 * What each event does to a dispatch, as pure functions from the saved context and the event to a {@link Step}: the
 * next context, the domain events to emit, the notifications to send, the timers to set or clear and the position
 * movements to apply. The machine only routes events to these functions (after its guards, the rules in
 * `dispatch-rules.ts`, have allowed them) and hands the step to the runtime.
 *
 * Every time is the event's own `at` (or the deadline a timer was set for), never the clock, so replaying an event
 * gives the same step.
 */
import { acceptedOffers, type DispatchContext, planTopUp } from './dispatch-rules.js';
import type {
  DispatchDomainEvent,
  DispatchIntervention,
  DispatchNotification,
  Offer,
  OfferClosedReason,
} from './offer.js';

/** The durable timers of a dispatch, as the events they deliver. */
export type DispatchTimerEvent =
  | { type: 'OFFER_DEADLINE'; offerId: string; deadline: number }
  | { type: 'OFFER_REMINDER'; offerId: string; deadline: number }
  | { type: 'CHOICE_DEADLINE'; choiceDeadline: number };

/** One timer to (re)schedule: the same id replaces an earlier one. */
export interface TimerPlan {
  id: string;
  event: DispatchTimerEvent;
  delay: number;
}

/** Everything one event does to a dispatch. */
export interface Step {
  context: DispatchContext;
  emits: DispatchDomainEvent[];
  notifications: DispatchNotification[];
  schedule: TimerPlan[];
  cancel: string[];
}

/** The timer id of an offer's deadline. */
export const deadlineTimerId = (offerId: string) => `deadline:${offerId}`;
/** The timer id of an offer's reminder. */
export const reminderTimerId = (offerId: string) => `reminder:${offerId}`;
/** The timer id of the customer's choice window. */
export const CHOICE_TIMER_ID = 'choice';

/** Builds one step; starts with no position movements, so a step never re-applies an earlier step's movements. */
class StepBuilder {
  readonly step: Step;

  constructor(
    context: DispatchContext,
    readonly at: number,
  ) {
    this.step = {
      context: { ...context, offers: [...context.offers], movements: [], lastStepAt: at },
      emits: [],
      notifications: [],
      schedule: [],
      cancel: [],
    };
  }

  get context(): DispatchContext {
    return this.step.context;
  }

  private base() {
    return { dispatchId: this.context.dispatchId, applicationId: this.context.applicationId };
  }

  offerOf(match: (offer: Offer) => boolean): Offer | undefined {
    return this.context.offers.find(match);
  }

  update(offerId: string, patch: Partial<Offer>): Offer {
    const offers = this.context.offers;
    const index = offers.findIndex((offer) => offer.offerId === offerId);
    const next = { ...offers[index]!, ...patch };
    offers[index] = next;
    return next;
  }

  set(patch: Partial<DispatchContext>): void {
    Object.assign(this.step.context, patch);
  }

  emit(event: DispatchDomainEvent): void {
    this.step.emits.push(event);
  }

  offerEvent(type: 'dispatch.offer.accepted' | 'dispatch.offer.declined', offer: Offer): void {
    this.emit({ type, ...this.base(), offerId: offer.offerId, institutionId: offer.institutionId });
  }

  move(kind: 'freeze' | 'release', offer: Offer): void {
    this.context.movements.push({
      kind,
      offerId: offer.offerId,
      institutionId: offer.institutionId,
      key: `${offer.offerId}:${kind}`,
    });
  }

  /** Set (or move) an offer's deadline timer and its reminder, relative to this step's time. */
  scheduleOffer(offer: Offer): void {
    const { reminderBeforeMs } = this.context.config;
    const event = { offerId: offer.offerId, deadline: offer.deadline };
    this.step.schedule.push({
      id: deadlineTimerId(offer.offerId),
      event: { type: 'OFFER_DEADLINE', ...event },
      delay: Math.max(0, offer.deadline - this.at),
    });
    const remindIn = offer.deadline - reminderBeforeMs - this.at;
    if (reminderBeforeMs > 0 && remindIn > 0) {
      this.step.schedule.push({
        id: reminderTimerId(offer.offerId),
        event: { type: 'OFFER_REMINDER', ...event },
        delay: remindIn,
      });
    } else {
      this.step.cancel.push(reminderTimerId(offer.offerId));
    }
  }

  cancelOfferTimers(offer: Offer): void {
    this.step.cancel.push(deadlineTimerId(offer.offerId), reminderTimerId(offer.offerId));
  }

  /** Bring the live offers back to `offersOpen` where the rules allow (see `institutionsToOffer`). */
  topUp(): void {
    for (const offer of planTopUp(this.context, this.at)) {
      this.context.offers.push(offer);
      const about = { ...this.base(), offerId: offer.offerId, institutionId: offer.institutionId };
      this.emit({ type: 'dispatch.offer.created', ...about, deadline: offer.deadline, seq: offer.seq });
      this.step.notifications.push({
        type: 'offer.created',
        ...about,
        deadline: offer.deadline,
        amountFen: this.context.amountFen,
      });
      this.scheduleOffer(offer);
    }
  }

  /** Take back an open offer before it was answered. */
  withdraw(offer: Offer, reason: OfferClosedReason): void {
    this.update(offer.offerId, { status: 'withdrawn', closedReason: reason });
    this.cancelOfferTimers(offer);
    this.emit({
      type: 'dispatch.offer.withdrawn',
      ...this.base(),
      offerId: offer.offerId,
      institutionId: offer.institutionId,
      reason,
    });
  }

  /** An accepted offer that will not be taken: its freeze is released and its institution told why. */
  release(offer: Offer, reason: OfferClosedReason): void {
    this.update(offer.offerId, { status: 'released', closedReason: reason });
    this.move('release', offer);
    this.emit({ type: 'dispatch.not-chosen', ...this.base(), institutionId: offer.institutionId, reason });
    this.step.notifications.push({
      type: 'offer.not-chosen',
      ...this.base(),
      offerId: offer.offerId,
      institutionId: offer.institutionId,
      reason,
    });
  }

  /** Close every live offer: accepted ones are released, open ones withdrawn. */
  closeAll(reason: OfferClosedReason, except?: string): void {
    for (const offer of [...this.context.offers]) {
      if (offer.institutionId === except) continue;
      if (offer.status === 'accepted') this.release(offer, reason);
      if (offer.status === 'open') this.withdraw(offer, reason);
    }
    this.step.cancel.push(CHOICE_TIMER_ID);
  }

  intervene(intervention: Omit<DispatchIntervention, 'at'>): void {
    this.set({ interventions: [...this.context.interventions, { ...intervention, at: this.at }] });
  }
}

/** The ranking came back: keep the candidates and make the first offers. */
export function rankedStep(context: DispatchContext, event: { institutionIds: string[]; at: number }): Step {
  const b = new StepBuilder(context, event.at);
  b.set({ candidates: [...event.institutionIds] });
  b.topUp();
  return b.step;
}

/** The ranking failed for good: no candidates, so the dispatch is exhausted. */
export function rankingFailedStep(context: DispatchContext): Step {
  const b = new StepBuilder(context, context.startedAt);
  b.set({ candidates: [] });
  return b.step;
}

/** An institution accepts: its freeze, and the customer's choice window opens with the first acceptance. */
export function acceptStep(context: DispatchContext, event: { institutionId: string; at: number }): Step {
  const b = new StepBuilder(context, event.at);
  const offer = b.offerOf((o) => o.institutionId === event.institutionId)!;
  const accepted = b.update(offer.offerId, { status: 'accepted', answeredAt: event.at });
  b.cancelOfferTimers(accepted);
  b.move('freeze', accepted);
  b.offerEvent('dispatch.offer.accepted', accepted);
  if (b.context.choiceDeadline === null) {
    const choiceDeadline = event.at + b.context.config.choiceWindowMs;
    b.set({ choiceDeadline });
    b.step.schedule.push({
      id: CHOICE_TIMER_ID,
      event: { type: 'CHOICE_DEADLINE', choiceDeadline },
      delay: b.context.config.choiceWindowMs,
    });
  }
  b.step.notifications.push({
    type: 'dispatch.choice-open',
    dispatchId: context.dispatchId,
    applicationId: context.applicationId,
    choiceDeadline: b.context.choiceDeadline!,
    acceptedInstitutionIds: acceptedOffers(b.context).map((o) => o.institutionId),
  });
  return b.step;
}

/** An institution declines: the next candidate is offered. */
export function declineStep(
  context: DispatchContext,
  event: { institutionId: string; at: number; reason: string },
): Step {
  const b = new StepBuilder(context, event.at);
  const offer = b.offerOf((o) => o.institutionId === event.institutionId)!;
  const declined = b.update(offer.offerId, {
    status: 'declined',
    answeredAt: event.at,
    declineReason: event.reason.trim(),
  });
  b.cancelOfferTimers(declined);
  b.offerEvent('dispatch.offer.declined', declined);
  b.topUp();
  return b.step;
}

/** An offer's deadline timer fired while it was open: it expires, and the next candidate is offered. */
export function expireStep(context: DispatchContext, event: { offerId: string; deadline: number }): Step {
  const b = new StepBuilder(context, event.deadline);
  const offer = b.update(event.offerId, { status: 'expired' });
  b.step.cancel.push(reminderTimerId(offer.offerId));
  b.emit({
    type: 'dispatch.offer.expired',
    dispatchId: context.dispatchId,
    applicationId: context.applicationId,
    offerId: offer.offerId,
    institutionId: offer.institutionId,
    deadline: offer.deadline,
  });
  b.topUp();
  return b.step;
}

/** The reminder before an open offer's deadline. */
export function remindStep(context: DispatchContext, event: { offerId: string; deadline: number }): Step {
  const b = new StepBuilder(context, event.deadline);
  const offer = b.offerOf((o) => o.offerId === event.offerId)!;
  b.step.notifications.push({
    type: 'offer.deadline-approaching',
    dispatchId: context.dispatchId,
    applicationId: context.applicationId,
    offerId: offer.offerId,
    institutionId: offer.institutionId,
    deadline: offer.deadline,
  });
  return b.step;
}

/** The customer chooses an institution that accepted: its freeze stands, every other is released or withdrawn. */
export function chooseStep(
  context: DispatchContext,
  event: { institutionId: string; at: number; actorId: string; contract?: string | null },
) {
  const b = new StepBuilder(context, event.at);
  const offer = b.offerOf((o) => o.institutionId === event.institutionId)!;
  b.update(offer.offerId, { status: 'chosen' });
  b.step.notifications.push({
    type: 'offer.chosen',
    ...base(context),
    offerId: offer.offerId,
    institutionId: offer.institutionId,
  });
  b.closeAll('other-chosen', event.institutionId);
  b.emit({ ...base(context), type: 'dispatch.chosen', institutionId: event.institutionId });
  b.intervene({ action: 'CHOOSE', actorId: event.actorId, reason: '', institutionId: event.institutionId });
  b.set({ chosenInstitutionId: event.institutionId, outcome: 'CHOSEN', contract: event.contract ?? null });
  return b.step;
}

/** The customer is satisfied with none of those who accepted: release them all and go on offering. */
export function rejectAllStep(context: DispatchContext, event: { at: number; actorId: string; reason: string }) {
  const b = new StepBuilder(context, event.at);
  for (const offer of acceptedOffers(context)) b.release(offer, 'rejected-all');
  b.step.cancel.push(CHOICE_TIMER_ID);
  b.set({ choiceDeadline: null });
  b.intervene({ action: 'REJECT_ALL', actorId: event.actorId, reason: event.reason.trim() });
  b.topUp();
  return b.step;
}

/** The choice window passed without a choice: every acceptance is released, open offers withdrawn. */
export function choiceExpiredStep(context: DispatchContext, event: { choiceDeadline: number }): Step {
  const b = new StepBuilder(context, event.choiceDeadline);
  b.closeAll('choice-expired');
  b.emit({ ...base(context), type: 'dispatch.choice-expired' });
  b.set({ outcome: 'CHOICE_EXPIRED' });
  return b.step;
}

/** A follow-up manager takes an open offer back and gives the place to the next candidate. */
export function reassignStep(
  context: DispatchContext,
  event: { offerId: string; at: number; actorId: string; reason: string },
): Step {
  const b = new StepBuilder(context, event.at);
  b.withdraw(b.offerOf((o) => o.offerId === event.offerId)!, 'reassigned');
  b.intervene({ action: 'REASSIGN', actorId: event.actorId, reason: event.reason.trim(), offerId: event.offerId });
  b.topUp();
  return b.step;
}

/** A follow-up manager gives an institution more time: the offer's deadline and its timers move. */
export function extendStep(
  context: DispatchContext,
  event: { offerId: string; untilMs: number; at: number; actorId: string; reason: string },
): Step {
  const b = new StepBuilder(context, event.at);
  const offer = b.update(event.offerId, { deadline: event.untilMs });
  b.scheduleOffer(offer);
  b.intervene({
    action: 'EXTEND',
    actorId: event.actorId,
    reason: event.reason.trim(),
    offerId: event.offerId,
    untilMs: event.untilMs,
  });
  return b.step;
}

/** A follow-up manager cancels the dispatch: every acceptance released, every open offer withdrawn. */
export function cancelStep(context: DispatchContext, event: { at: number; actorId: string; reason: string }): Step {
  const b = new StepBuilder(context, event.at);
  b.closeAll('cancelled');
  b.emit({ ...base(context), type: 'dispatch.cancelled' });
  b.intervene({ action: 'CANCEL', actorId: event.actorId, reason: event.reason.trim() });
  b.set({ outcome: 'CANCELLED' });
  return b.step;
}

function base(context: DispatchContext) {
  return { dispatchId: context.dispatchId, applicationId: context.applicationId };
}
