/**
 * The dispatch of one application to funding institutions, as a machine on the durable runtime.
 *
 * ranking ──(candidates)──► offering ──CHOOSE──────────────► chosen
 *    │                        │  ├─ACCEPT / DECLINE / timers / REASSIGN / EXTEND / REJECT_ALL (stay, top up)
 *    │                        │  ├─(nothing live, nobody to offer)──► exhausted
 *    │                        │  └─CHOICE_DEADLINE──────────────────► choiceExpired
 *    └────────CANCEL──────────┴──CANCEL─────────────────────────────► cancelled
 *
 * The machine decides and never does I/O: ranking and notifications are effects whose params come from the saved
 * context; every deadline is a durable timer with an id per offer, so a restart loses none. What an event does is a
 * pure {@link Step} (`dispatch-steps.ts`); the guards are the rules of `dispatch-rules.ts`.
 *
 * Position movements (freeze on acceptance, release of those not chosen) are part of the step and are applied by the
 * workflow's transition hook in the transition's own transaction: a freeze the position cannot cover aborts the
 * acceptance, and a choice window that expires on a timer releases the freezes as atomically as a command does.
 */
import { enqueueActions, setup } from 'xstate';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { DomainEvent, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow, type SerializedError, type WorkflowDefinition } from '../runtime/workflow-definition.js';
import {
  acceptRefusal,
  cancelRefusal,
  chooseRefusal,
  type DispatchContext,
  declineRefusal,
  extendRefusal,
  isExhausted,
  reassignRefusal,
  rejectAllRefusal,
} from './dispatch-rules.js';
import {
  acceptStep,
  cancelStep,
  choiceExpiredStep,
  chooseStep,
  type DispatchTimerEvent,
  declineStep,
  expireStep,
  extendStep,
  rankedStep,
  rankingFailedStep,
  reassignStep,
  rejectAllStep,
  remindStep,
  type Step,
} from './dispatch-steps.js';
import {
  DISPATCH_EVENT_TYPES,
  type DispatchCommandEvent,
  type DispatchDomainEvent,
  type DispatchInput,
  type DispatchNotification,
  type DispatchOutcome,
  type DispatchOutcomeReport,
} from './offer.js';
import { projectOffers } from './offer-projection.js';
import type { DispatchPositions, Notify, RankCandidates, RankCandidatesInput } from './offer-service.js';

/** The workflow type of dispatches. */
export const DISPATCH_WORKFLOW = 'dispatch-offers';

/** Every event a dispatch workflow takes: callers' commands, its timers, and its effects' results. */
export type DispatchEvent =
  | DispatchCommandEvent
  | DispatchTimerEvent
  | { type: 'CANDIDATES_RANKED'; institutionIds: string[]; at: number }
  | { type: 'RANKING_FAILED'; error: SerializedError };

/** What a finished dispatch reports as its output. */
export interface DispatchOutput {
  outcome: DispatchOutcome;
  chosenInstitutionId: string | null;
}

/** True for a domain event emitted by a dispatch workflow. */
export function isDispatchEvent(event: DomainEvent): event is DomainEvent & { payload: DispatchDomainEvent } {
  return (DISPATCH_EVENT_TYPES as readonly string[]).includes(event.type);
}

type Enqueue = Parameters<Parameters<typeof enqueueActions>[0]>[0]['enqueue'];

/** Hand a step to the runtime: the new context, then timers (cancels before schedules), events and notifications. */
function enqueueStep(enqueue: Enqueue, step: Step): void {
  enqueue.assign(() => step.context as never);
  for (const id of step.cancel) enqueue.cancel(id);
  for (const timer of step.schedule) enqueue.raise(timer.event as never, { id: timer.id, delay: timer.delay });
  for (const event of step.emits) enqueue.emit(event as never);
  for (const notification of step.notifications) enqueue({ type: 'notify', params: notification } as never);
}

/** A machine action that runs one step function on the event it was given. */
function stepAction<E extends DispatchEvent['type']>(
  run: (context: DispatchContext, event: Extract<DispatchEvent, { type: E }>) => Step,
) {
  // Typed loosely for xstate: the guard on the transition has already narrowed the event to `E`.
  return enqueueActions(({ context, event, enqueue }) => {
    enqueueStep(enqueue as Enqueue, run(context as DispatchContext, event as Extract<DispatchEvent, { type: E }>));
  }) as never;
}

const offerIsOpen = (context: DispatchContext, offerId: string, deadline: number) =>
  context.offers.some((o) => o.offerId === offerId && o.status === 'open' && o.deadline === deadline);

/** The report a final state hands to the `reportOutcome` effect; the outcome is the state's own, not read back. */
function outcomeReport(context: DispatchContext, outcome: DispatchOutcome): DispatchOutcomeReport {
  const choice = context.interventions.findLast((i) => i.action === 'CHOOSE');
  return {
    dispatchId: context.dispatchId,
    applicationId: context.applicationId,
    dispatchNo: context.dispatchNo,
    outcome,
    institutionId: outcome === 'CHOSEN' ? context.chosenInstitutionId : null,
    at: context.lastStepAt,
    chosenBy: outcome === 'CHOSEN' ? (choice?.actorId ?? null) : null,
    contract: outcome === 'CHOSEN' ? context.contract : null,
  };
}

const reportOutcome = (outcome: DispatchOutcome) =>
  ({
    type: 'reportOutcome',
    params: ({ context }: { context: DispatchContext }) => outcomeReport(context, outcome),
  }) as const;

export const dispatchMachine = setup({
  types: {
    context: {} as DispatchContext,
    input: {} as DispatchInput,
    events: {} as DispatchEvent,
    emitted: {} as DispatchDomainEvent,
    output: {} as DispatchOutput,
  },
  actions: {
    rankCandidates: (_, _params: RankCandidatesInput) => {},
    notify: (_, _params: DispatchNotification) => {},
    reportOutcome: (_, _params: DispatchOutcomeReport) => {},
  },
  guards: {
    mayAccept: ({ context, event }) => event.type === 'ACCEPT' && acceptRefusal(context, event) === null,
    mayDecline: ({ context, event }) => event.type === 'DECLINE' && declineRefusal(context, event) === null,
    mayChoose: ({ context, event }) => event.type === 'CHOOSE' && chooseRefusal(context, event) === null,
    mayRejectAll: ({ context, event }) => event.type === 'REJECT_ALL' && rejectAllRefusal(context, event) === null,
    mayReassign: ({ context, event }) => event.type === 'REASSIGN' && reassignRefusal(context, event) === null,
    mayExtend: ({ context, event }) => event.type === 'EXTEND' && extendRefusal(context, event) === null,
    mayCancel: ({ context, event }) => event.type === 'CANCEL' && cancelRefusal(context, event) === null,
    /** A deadline timer counts only for an offer still open with that deadline (an extension re-sets it). */
    offerDue: ({ context, event }) =>
      (event.type === 'OFFER_DEADLINE' || event.type === 'OFFER_REMINDER') &&
      offerIsOpen(context, event.offerId, event.deadline),
    choiceDue: ({ context, event }) =>
      event.type === 'CHOICE_DEADLINE' && context.choiceDeadline === event.choiceDeadline,
    exhausted: ({ context }) => isExhausted(context),
  },
}).createMachine({
  id: 'dispatch-offers',
  context: ({ input }) => ({
    ...input,
    excluded: [...input.excluded],
    dispatchDeadline: input.startedAt + input.config.dispatchWindowMs,
    candidates: null,
    offers: [],
    choiceDeadline: null,
    chosenInstitutionId: null,
    outcome: null,
    interventions: [],
    movements: [],
    lastStepAt: input.startedAt,
    contract: null,
  }),
  initial: 'ranking',
  output: ({ context }) => ({ outcome: context.outcome!, chosenInstitutionId: context.chosenInstitutionId }),
  states: {
    ranking: {
      entry: {
        type: 'rankCandidates',
        params: ({ context }) => ({
          applicationId: context.applicationId,
          amountFen: context.amountFen,
          region: context.region,
          category: context.category,
          excluded: context.excluded,
          limit: context.config.maxInstitutions,
          at: context.startedAt,
        }),
      },
      on: {
        CANDIDATES_RANKED: { target: 'offering', actions: stepAction<'CANDIDATES_RANKED'>(rankedStep) },
        RANKING_FAILED: { target: 'offering', actions: stepAction<'RANKING_FAILED'>(rankingFailedStep) },
        CANCEL: { guard: 'mayCancel', target: 'cancelled', actions: stepAction<'CANCEL'>(cancelStep) },
      },
    },
    offering: {
      always: { guard: 'exhausted', target: 'exhausted' },
      on: {
        ACCEPT: { guard: 'mayAccept', actions: stepAction<'ACCEPT'>(acceptStep) },
        DECLINE: { guard: 'mayDecline', actions: stepAction<'DECLINE'>(declineStep) },
        OFFER_DEADLINE: { guard: 'offerDue', actions: stepAction<'OFFER_DEADLINE'>(expireStep) },
        OFFER_REMINDER: { guard: 'offerDue', actions: stepAction<'OFFER_REMINDER'>(remindStep) },
        CHOOSE: { guard: 'mayChoose', target: 'chosen', actions: stepAction<'CHOOSE'>(chooseStep) },
        REJECT_ALL: { guard: 'mayRejectAll', actions: stepAction<'REJECT_ALL'>(rejectAllStep) },
        CHOICE_DEADLINE: {
          guard: 'choiceDue',
          target: 'choiceExpired',
          actions: stepAction<'CHOICE_DEADLINE'>(choiceExpiredStep),
        },
        REASSIGN: { guard: 'mayReassign', actions: stepAction<'REASSIGN'>(reassignStep) },
        EXTEND: { guard: 'mayExtend', actions: stepAction<'EXTEND'>(extendStep) },
        CANCEL: { guard: 'mayCancel', target: 'cancelled', actions: stepAction<'CANCEL'>(cancelStep) },
      },
    },
    chosen: { type: 'final', entry: reportOutcome('CHOSEN') },
    exhausted: {
      type: 'final',
      entry: [
        enqueueActions(({ context, enqueue }) => {
          enqueue.assign({ outcome: 'EXHAUSTED' });
          enqueue.emit({
            type: 'dispatch.exhausted',
            dispatchId: context.dispatchId,
            applicationId: context.applicationId,
            offeredInstitutionIds: context.offers.map((o) => o.institutionId),
          });
        }),
        reportOutcome('EXHAUSTED'),
      ],
    },
    choiceExpired: { type: 'final', entry: reportOutcome('CHOICE_EXPIRED') },
    cancelled: { type: 'final', entry: reportOutcome('CANCELLED') },
  },
});

/** What the dispatch workflow needs from the host: positions, ranking and (optionally) notifications. */
export interface DispatchWorkflowOptions {
  positions: DispatchPositions;
  rankCandidates: RankCandidates;
  /** Sends a notification to people; without it notifications are dropped. */
  notify?: Notify;
  /**
   * Told once a dispatch has ended, how it ended (at least once, with the same report and idempotency key on a
   * retry): where the application learns its institution, or goes back to review. Without it nothing is told.
   */
  onOutcome?: (report: DispatchOutcomeReport, context: { idempotencyKey: string }) => Promise<void>;
}

/**
 * The definition to register with `createRuntime({ workflows })`. Its transition hook applies each step's position
 * movements and keeps the offers' records (see `offersFor`) in step, in the transition's transaction.
 */
export function dispatchWorkflow(options: DispatchWorkflowOptions): WorkflowDefinition<typeof dispatchMachine> {
  return defineWorkflow({
    id: DISPATCH_WORKFLOW,
    version: 1,
    machine: dispatchMachine,
    effects: {
      rankCandidates: {
        async run(params: RankCandidatesInput, effect) {
          const ranked = await options.rankCandidates(params);
          return { institutionIds: checkRanking(ranked), rankedAt: effect.clock.now() };
        },
        onDone: (output: { institutionIds: string[]; rankedAt: number }): DispatchEvent => ({
          type: 'CANDIDATES_RANKED',
          institutionIds: output.institutionIds,
          at: output.rankedAt,
        }),
        onFailed: (error: SerializedError): DispatchEvent => ({ type: 'RANKING_FAILED', error }),
      },
      notify: {
        async run(notification: DispatchNotification, effect) {
          await options.notify?.(notification, { idempotencyKey: effect.idempotencyKey });
        },
        onDone: () => null,
        onFailed: () => null,
      },
      reportOutcome: {
        async run(report: DispatchOutcomeReport, effect) {
          await options.onOutcome?.(report, { idempotencyKey: effect.idempotencyKey });
        },
        onDone: () => null,
        onFailed: () => null,
      },
    },
    onTransition: async (tx, state) => {
      await applyMovements(tx, state, options.positions);
      await projectOffers(tx, state);
    },
  });
}

/** A ranking is a list of institution ids; anything else is a bug in the host's ranking, not a reason to offer. */
function checkRanking(ranked: unknown): string[] {
  if (!Array.isArray(ranked) || !ranked.every((id) => typeof id === 'string' && id.length > 0)) {
    throw new TypeError('rankCandidates must resolve to an array of institution ids (non-empty strings).');
  }
  return ranked;
}

/**
 * Apply the movements the latest step asked for, each under its own idempotency key. Several timer events may settle
 * in one transaction with one call of this hook for the final state; that never hides a movement, because only
 * callers' commands and the choice window's expiry (which ends the dispatch, so nothing follows it) move positions.
 */
async function applyMovements(tx: PersistenceTransaction, state: WorkflowState, positions: DispatchPositions) {
  const context = state.context as DispatchContext;
  for (const movement of context.movements) {
    const request = {
      institutionId: movement.institutionId,
      applicationId: context.applicationId,
      amountFen: context.amountFen,
      key: movement.key,
      at: state.updatedAt,
    };
    if (movement.kind === 'freeze') await positions.freeze(tx, request);
    else await positions.release(tx, request);
  }
}
