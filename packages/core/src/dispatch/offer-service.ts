/**
 * The commands and queries of dispatch: start a dispatch, institutions answer their offers, the customer manager
 * records the customer's choice, follow-up managers intervene; and who may see which offers.
 *
 * Every command checks the actor's role first (`roles.ts`), then the dispatch rule against the current state so a
 * refusal carries its own typed error, then sends the event; the machine applies the same rule again under the
 * workflow's row lock, so two callers racing for the same offer cannot both pass. When the machine refuses after
 * all (someone else was first), the refusal is explained from the state that won.
 */
import { ConflictError, IllegalTransitionError, NotFoundError, PermissionError, ValidationError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { Runtime, WorkflowEvent, WorkflowState } from '../runtime/runtime.js';
import {
  acceptRefusal,
  cancelRefusal,
  chooseRefusal,
  type DispatchContext,
  type DispatchRefusal,
  DispatchRuleError,
  declineRefusal,
  extendRefusal,
  reassignRefusal,
  rejectAllRefusal,
} from './dispatch-rules.js';
import { DISPATCH_WORKFLOW } from './dispatch-workflow.js';
import {
  type DispatchIntervention,
  type DispatchNotification,
  type DispatchOutcome,
  type DispatchRequest,
  dispatchIdOf,
  dispatchInput,
  type Offer,
  type OfferStatus,
} from './offer.js';
import { type OfferView, offerViews } from './offer-projection.js';
import { type DispatchActor, type DispatchRole, requireDispatchRole, requireInstitutionStaff } from './roles.js';

// ---------------------------------------------------------------------------------------------------------------
// What the dispatch needs from the rest of the platform

/** One movement of an institution's position (头寸) for an application, idempotent by `key`. */
export interface PositionMovementRequest {
  institutionId: string;
  applicationId: string;
  amountFen: number;
  /** The same key twice is one movement: a retried transaction never freezes or releases twice. */
  key: string;
  /** When the transition that asked for the movement was saved (the runtime's clock). */
  at: number;
}

/**
 * The institutions' positions, written inside the dispatch transition's own transaction. `freeze` throws a typed
 * error when the institution's available position does not cover the amount; the acceptance then fails and nothing
 * of it is kept.
 */
export interface DispatchPositions {
  freeze(tx: PersistenceTransaction, movement: PositionMovementRequest): Promise<void>;
  release(tx: PersistenceTransaction, movement: PositionMovementRequest): Promise<void>;
}

/** What a ranking is asked: the application's terms, who never to offer, and how many institutions at most. */
export interface RankCandidatesInput {
  applicationId: string;
  amountFen: number;
  region: string;
  category: string;
  excluded: string[];
  limit: number;
  /**
   * The time the ranking is for (epoch ms, the dispatch's start as saved), so a suspension that has run out by then
   * counts as over; absent in a ranking requested before this field existed, where every suspension still counts.
   */
  at?: number;
}

/** Rank institutions for an application: ids, best first, none of `excluded`, at most `limit`. */
export type RankCandidates = (input: RankCandidatesInput) => Promise<string[]>;

/** Deliver a notification to people; `idempotencyKey` is the same when a failed delivery is retried. */
export type Notify = (notification: DispatchNotification, context: { idempotencyKey: string }) => Promise<void>;

// ---------------------------------------------------------------------------------------------------------------
// The service

/** A dispatch as its commands and `get` report it. */
export interface DispatchView {
  dispatchId: string;
  applicationId: string;
  dispatchNo: number;
  /** `ranking`, `offering`, `chosen`, `exhausted`, `choiceExpired` or `cancelled`. */
  state: string;
  finished: boolean;
  outcome: DispatchOutcome | null;
  amountFen: number;
  startedAt: number;
  dispatchDeadline: number;
  choiceDeadline: number | null;
  chosenInstitutionId: string | null;
  offers: Offer[];
  interventions: DispatchIntervention[];
}

/** Which offers `offersFor` lists. Institution staff always see only their own institution's. */
export interface OfferFilter {
  status?: OfferStatus;
  dispatchId?: string;
  /** Platform staff only: one institution's offers. */
  institutionId?: string;
  /** Default 100. */
  limit?: number;
}

/** The dispatch commands and queries (see the module comment). */
export interface OfferService {
  /** Start dispatch `dispatchNo` of an application; institutions offered in its earlier dispatches are excluded. */
  startDispatch(request: DispatchRequest, actor: DispatchActor): Promise<DispatchView>;
  /** An institution accepts its offer; its position is frozen for the amount in the same transaction. */
  accept(offerId: string, actor: DispatchActor): Promise<DispatchView>;
  /** An institution declines its offer, with a reason; the next candidate is offered. */
  decline(offerId: string, reason: string, actor: DispatchActor): Promise<DispatchView>;
  /**
   * The customer manager records the customer's choice of an institution that accepted. `options.contract` carries
   * the loan-contract terms the customer agreed to, sealed, on to the application (the dispatch facade fills it).
   */
  choose(
    dispatchId: string,
    institutionId: string,
    actor: DispatchActor,
    options?: { contract?: string },
  ): Promise<DispatchView>;
  /** The customer manager records that the customer is satisfied with none of those who accepted. */
  rejectAll(dispatchId: string, reason: string, actor: DispatchActor): Promise<DispatchView>;
  /** A follow-up manager withdraws an open offer and gives its place to the next candidate. */
  reassign(offerId: string, reason: string, actor: DispatchActor): Promise<DispatchView>;
  /** A follow-up manager moves an open offer's deadline to `untilMs` (epoch ms, later than the current deadline). */
  extend(offerId: string, untilMs: number, reason: string, actor: DispatchActor): Promise<DispatchView>;
  /** A follow-up manager cancels the dispatch: every freeze released, every open offer withdrawn. */
  cancel(dispatchId: string, reason: string, actor: DispatchActor): Promise<DispatchView>;
  /** A dispatch as platform staff see it. */
  get(dispatchId: string, actor: DispatchActor): Promise<DispatchView>;
  /** Offers: an institution's own, or for platform staff any, filtered. */
  offersFor(actor: DispatchActor, filter?: OfferFilter): Promise<OfferView[]>;
}

/** What {@link createOfferService} needs: a runtime with the dispatch workflow registered (see `dispatchWorkflow`). */
export interface OfferServiceOptions {
  runtime: Runtime;
}

const STARTERS: DispatchRole[] = ['loan-reviewer', 'follow-up-manager', 'platform-admin'];
const CHOOSERS: DispatchRole[] = ['customer-manager'];
const INTERVENERS: DispatchRole[] = ['follow-up-manager'];
const PLATFORM: DispatchRole[] = [
  'customer-manager',
  'loan-reviewer',
  'customer-service',
  'follow-up-manager',
  'settler',
  'review-supervisor',
  'platform-admin',
];

/** The dispatch service over a runtime that runs {@link DISPATCH_WORKFLOW}. */
export function createOfferService(options: OfferServiceOptions): OfferService {
  const { runtime } = options;
  const now = () => runtime.clock.now();

  async function load(dispatchId: string): Promise<WorkflowState> {
    if (typeof dispatchId !== 'string' || dispatchId.length === 0 || dispatchId.length > 200) {
      throw new ValidationError('dispatchId must be a non-empty string, such as dispatch:APP1:1.', {
        details: { field: 'dispatchId' },
      });
    }
    const state = await runtime.get(dispatchId);
    if (!state || state.type !== DISPATCH_WORKFLOW) {
      throw new NotFoundError(`There is no dispatch ${dispatchId}. Check the id, or start the dispatch first.`);
    }
    return state;
  }

  /** The offer's record, read to find its dispatch and institution before the actor is checked against it. */
  async function offerRecord(offerId: string): Promise<OfferView> {
    if (typeof offerId !== 'string' || offerId.length === 0 || offerId.length > 250) {
      throw new ValidationError('offerId must be a non-empty string, such as dispatch:APP1:1/offer-1.', {
        details: { field: 'offerId' },
      });
    }
    const stored = await runtime.persistence.transaction((tx) => offerViews.get(tx, offerId));
    if (!stored) throw new NotFoundError(`There is no offer ${offerId}. List your offers to find their ids.`);
    return stored.record;
  }

  /**
   * Check the rule on the current state, send, and explain a refusal the machine made under the lock from the state
   * that won the race.
   */
  async function command(
    dispatchId: string,
    event: WorkflowEvent,
    actor: DispatchActor,
    refusal: (context: DispatchContext) => DispatchRefusal,
  ): Promise<DispatchView> {
    const explain = (state: WorkflowState) => {
      if (state.status !== 'active') return finished(state, event.type);
      return refusal(state.context as DispatchContext);
    };
    const before = explain(await load(dispatchId));
    if (before) throw before;
    for (let attempt = 1; ; attempt++) {
      try {
        return viewOf(await runtime.send(dispatchId, event, { actor: actor.id }));
      } catch (error) {
        // The step's position movement lost a race for the institution's balances to a step of another dispatch
        // (the workflow's own lock does not cover them): the step was rolled back whole, and a fresh try decides.
        if (lostBalanceRace(error) && attempt < BALANCE_RACE_ATTEMPTS) continue;
        if (!(error instanceof IllegalTransitionError)) throw error;
        throw explain(await load(dispatchId)) ?? error;
      }
    }
  }

  return {
    async startDispatch(request, actor) {
      requireDispatchRole(actor, STARTERS, 'start a dispatch');
      return startDispatchWorkflow(runtime, request, now(), { actor: actor.id });
    },

    async accept(offerId, actor) {
      const offer = await offerRecord(offerId);
      requireInstitutionStaff(actor, offer.institutionId, 'accept an offer');
      const event = { type: 'ACCEPT', institutionId: offer.institutionId, at: now() };
      return command(offer.dispatchId, event, actor, (context) => acceptRefusal(context, event));
    },

    async decline(offerId, reason, actor) {
      const offer = await offerRecord(offerId);
      requireInstitutionStaff(actor, offer.institutionId, 'decline an offer');
      const event = { type: 'DECLINE', institutionId: offer.institutionId, at: now(), reason };
      return command(offer.dispatchId, event, actor, (context) => declineRefusal(context, event));
    },

    async choose(dispatchId, institutionId, actor, options) {
      requireDispatchRole(actor, CHOOSERS, "record the customer's choice");
      if (typeof institutionId !== 'string' || institutionId === '') {
        throw new ValidationError('institutionId must name the institution the customer chose.', {
          details: { field: 'institutionId' },
        });
      }
      const contract = options?.contract ?? null;
      const event = { type: 'CHOOSE', institutionId, at: now(), actorId: actor.id, contract };
      return command(dispatchId, event, actor, (context) => chooseRefusal(context, event));
    },

    async rejectAll(dispatchId, reason, actor) {
      requireDispatchRole(actor, CHOOSERS, 'reject every acceptance for the customer');
      const event = { type: 'REJECT_ALL', at: now(), actorId: actor.id, reason };
      return command(dispatchId, event, actor, (context) => rejectAllRefusal(context, event));
    },

    async reassign(offerId, reason, actor) {
      requireDispatchRole(actor, INTERVENERS, 'reassign an offer');
      const offer = await offerRecord(offerId);
      const event = { type: 'REASSIGN', offerId, at: now(), actorId: actor.id, reason };
      return command(offer.dispatchId, event, actor, (context) => reassignRefusal(context, event));
    },

    async extend(offerId, untilMs, reason, actor) {
      requireDispatchRole(actor, INTERVENERS, 'extend an offer');
      const offer = await offerRecord(offerId);
      const event = { type: 'EXTEND', offerId, untilMs, at: now(), actorId: actor.id, reason };
      return command(offer.dispatchId, event, actor, (context) => extendRefusal(context, event));
    },

    async cancel(dispatchId, reason, actor) {
      requireDispatchRole(actor, INTERVENERS, 'cancel a dispatch');
      const event = { type: 'CANCEL', at: now(), actorId: actor.id, reason };
      return command(dispatchId, event, actor, (context) => cancelRefusal(context, event));
    },

    async get(dispatchId, actor) {
      requireDispatchRole(actor, PLATFORM, 'see a dispatch');
      return viewOf(await load(dispatchId));
    },

    async offersFor(actor, filter = {}) {
      const tags: Record<string, string> = {};
      if (actor?.roles?.includes('institution') && actor.institutionId) {
        requireInstitutionStaff(actor, actor.institutionId, 'list offers');
        if (filter.institutionId !== undefined && filter.institutionId !== actor.institutionId) {
          throw new PermissionError('Institution staff may list offers only for their own institution.');
        }
        tags.institutionId = actor.institutionId;
      } else {
        requireDispatchRole(actor, PLATFORM, 'list offers');
        if (filter.institutionId !== undefined) tags.institutionId = filter.institutionId;
      }
      if (filter.status !== undefined) tags.status = filter.status;
      if (filter.dispatchId !== undefined) tags.dispatchId = filter.dispatchId;
      const limit = filter.limit ?? 100;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
        throw new ValidationError('limit must be a whole number from 1 to 1000.', { details: { field: 'limit' } });
      }
      const stored = await runtime.persistence.transaction((tx) => offerViews.find(tx, { tags, limit }));
      return stored.map((s) => s.record);
    },
  };
}

const BALANCE_RACE_ATTEMPTS = 50;

function lostBalanceRace(error: unknown): boolean {
  return error instanceof ConflictError && error.code === 'VERSION_CONFLICT';
}

/** A finished dispatch takes no more commands; the refusal says how it ended. */
function finished(state: WorkflowState, eventType: string): DispatchRuleError {
  const outcome = (state.context as DispatchContext).outcome;
  return new DispatchRuleError(
    'DISPATCH_FINISHED',
    `Dispatch ${state.id} has ended (${outcome ?? state.stateValue}); ${eventType} was not applied.`,
    { details: { dispatchId: state.id, outcome } },
  );
}

/**
 * Start dispatch `dispatchNo` of an application as of `startedAt`, institutions offered in its earlier dispatches
 * excluded. With `ifExists: 'return'` (a retried start, whose `startedAt` comes from saved state) the dispatch
 * already started is returned instead of refused.
 */
export async function startDispatchWorkflow(
  runtime: Runtime,
  request: DispatchRequest,
  startedAt: number,
  options: { actor: string; ifExists?: 'throw' | 'return' },
): Promise<DispatchView> {
  const input = dispatchInput(request, startedAt);
  if (options.ifExists === 'return') {
    const existing = await runtime.get(input.dispatchId);
    if (existing?.type === DISPATCH_WORKFLOW) return viewOf(existing);
  }
  const earlier = await earlierDispatches(runtime, input.applicationId, input.dispatchNo);
  const running = earlier.find((state) => state.status === 'active');
  if (running) {
    throw new ConflictError(
      'DUPLICATE',
      `Dispatch ${running.id} of application ${input.applicationId} is still running; finish or cancel it first.`,
    );
  }
  const offered = earlier.flatMap((state) => (state.context as DispatchContext).offers.map((o) => o.institutionId));
  input.excluded = [...new Set([...input.excluded, ...offered])];
  const state = await runtime.start(DISPATCH_WORKFLOW, {
    id: input.dispatchId,
    input,
    actor: options.actor,
    ...(options.ifExists ? { ifExists: options.ifExists } : {}),
  });
  return viewOf(state);
}

async function earlierDispatches(runtime: Runtime, applicationId: string, dispatchNo: number) {
  const states: WorkflowState[] = [];
  for (let n = 1; n < dispatchNo; n++) {
    const state = await runtime.get(dispatchIdOf(applicationId, n));
    if (state && state.type === DISPATCH_WORKFLOW) states.push(state);
  }
  return states;
}

/** A dispatch workflow's state as a {@link DispatchView}. */
export function viewOf(state: WorkflowState): DispatchView {
  const context = state.context as DispatchContext;
  return {
    dispatchId: context.dispatchId,
    applicationId: context.applicationId,
    dispatchNo: context.dispatchNo,
    state: state.stateValue,
    finished: state.status !== 'active',
    outcome: context.outcome,
    amountFen: context.amountFen,
    startedAt: context.startedAt,
    dispatchDeadline: context.dispatchDeadline,
    choiceDeadline: context.choiceDeadline,
    chosenInstitutionId: context.chosenInstitutionId,
    offers: context.offers,
    interventions: context.interventions,
  };
}
