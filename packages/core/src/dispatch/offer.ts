/**
 * The model of one dispatch of a loan application to funding institutions: its configuration, its input, the offers
 * it makes, the events institutions and managers send it, and what it announces.
 *
 * An offer is the application put before one institution with a deadline. Up to `offersOpen` offers are live (open
 * or accepted) at a time, and at most `maxInstitutions` institutions are offered in one dispatch. Amounts are
 * integer fen; times are epoch milliseconds read from the host's clock.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

const HOUR = 3_600_000;

const positiveMs = (what: string) =>
  z
    .number()
    .int()
    .positive()
    .max(365 * 24 * HOUR)
    .describe(what);

const DispatchConfigShape = z.strictObject({
  offersOpen: z.number().int().min(1).max(20).describe('offers live (open or accepted) at once'),
  maxInstitutions: z.number().int().min(1).max(100).describe('institutions offered at most in one dispatch'),
  offerWindowMs: positiveMs('how long an institution has to answer an offer'),
  dispatchWindowMs: positiveMs('how long after the start new offers may be made'),
  choiceWindowMs: positiveMs('how long the customer has to choose after the first acceptance'),
  reminderBeforeMs: z
    .number()
    .int()
    .min(0)
    .max(365 * 24 * HOUR)
    .describe('how long before an offer’s deadline its institution is reminded (0: no reminder)'),
});

/** How a dispatch runs: how many offers are live at once, how many institutions at most, and its time windows. */
export const DispatchConfigSchema = DispatchConfigShape.refine((c) => c.maxInstitutions >= c.offersOpen, {
  message: 'maxInstitutions must be at least offersOpen',
  path: ['maxInstitutions'],
});

/** The configuration of a dispatch (see {@link DispatchConfigSchema}). */
export type DispatchConfig = z.infer<typeof DispatchConfigSchema>;

/** Three live offers, nine institutions (three rounds), 24 h to answer, 24 h to dispatch, 3 days to choose. */
export const DEFAULT_DISPATCH_CONFIG: Readonly<DispatchConfig> = Object.freeze({
  offersOpen: 3,
  maxInstitutions: 9,
  offerWindowMs: 24 * HOUR,
  dispatchWindowMs: 24 * HOUR,
  choiceWindowMs: 72 * HOUR,
  reminderBeforeMs: 2 * HOUR,
});

const id = (what: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'letters, digits and . _ : - only')
    .describe(what);

/** What starts a dispatch, as a caller gives it (the configuration may be partial; defaults fill the rest). */
export const DispatchRequestSchema = z.strictObject({
  applicationId: id('the application being dispatched'),
  dispatchNo: z.number().int().min(1).max(1000).describe('1 for the first dispatch of the application, then 2, …'),
  amountFen: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).describe('the loan amount in fen'),
  region: id('the region institutions must serve'),
  category: id('the business category institutions must take'),
  excluded: z.array(id('an institution id')).max(1000).default([]).describe('institutions never to offer again'),
  config: DispatchConfigShape.partial().optional().describe('overrides of the default configuration'),
});

/** What a caller passes to start a dispatch. */
export type DispatchRequest = z.input<typeof DispatchRequestSchema>;

/** The workflow's input: the request with its configuration complete, and the moment it started. */
export interface DispatchInput {
  dispatchId: string;
  applicationId: string;
  dispatchNo: number;
  amountFen: number;
  region: string;
  category: string;
  excluded: string[];
  startedAt: number;
  config: DispatchConfig;
}

/** The workflow id of dispatch `dispatchNo` of an application: one workflow per dispatch, found again by its numbers. */
export function dispatchIdOf(applicationId: string, dispatchNo: number): string {
  return `dispatch:${applicationId}:${dispatchNo}`;
}

/** Validate a request and complete it into the workflow's input; throws `ValidationError` naming every bad field. */
export function dispatchInput(request: unknown, startedAt: number): DispatchInput {
  const parsed = DispatchRequestSchema.safeParse(request);
  if (!parsed.success) throw schemaError('dispatch request', parsed.error);
  const { config: overrides, ...rest } = parsed.data;
  const config = DispatchConfigSchema.safeParse({ ...DEFAULT_DISPATCH_CONFIG, ...overrides });
  if (!config.success) throw schemaError('dispatch request config', config.error);
  return {
    ...rest,
    excluded: [...new Set(rest.excluded)],
    dispatchId: dispatchIdOf(rest.applicationId, rest.dispatchNo),
    startedAt,
    config: config.data,
  };
}

/** One readable sentence per problem, naming the field; never the value (it may be personal data). */
export function schemaError(what: string, error: z.ZodError): ValidationError {
  const problems = error.issues.map((issue) => `${[what, ...issue.path].map(String).join('.')}: ${issue.message}`);
  return new ValidationError(`Invalid ${what} — ${problems.join('; ')}. Correct it and try again.`, {
    details: { paths: error.issues.map((issue) => issue.path.map(String).join('.')) },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Offers

/**
 * Where an offer stands:
 * - `open`: waiting for the institution's answer;
 * - `accepted`: the institution took it and its position is frozen for the amount;
 * - `declined`: the institution said no;
 * - `expired`: its deadline passed unanswered;
 * - `withdrawn`: the platform took it back before an answer (reassigned, another institution chosen, cancelled, …);
 * - `chosen`: the customer chose this institution; its freeze stands;
 * - `released`: accepted, then not chosen; its freeze was released.
 */
export const OFFER_STATUSES = ['open', 'accepted', 'declined', 'expired', 'withdrawn', 'chosen', 'released'] as const;

/** One of {@link OFFER_STATUSES}. */
export type OfferStatus = (typeof OFFER_STATUSES)[number];

/** Why an offer was withdrawn or an accepted offer released. */
export type OfferClosedReason = 'reassigned' | 'other-chosen' | 'rejected-all' | 'choice-expired' | 'cancelled';

/** One offer of a dispatch to one institution. */
export interface Offer {
  /** `<dispatchId>/offer-<n>`, n counting from 1 in the order offers were made. */
  offerId: string;
  institutionId: string;
  /** 1-based: the n-th institution offered in this dispatch. */
  seq: number;
  offeredAt: number;
  /** An acceptance at or after this moment is late. */
  deadline: number;
  status: OfferStatus;
  answeredAt: number | null;
  /** The institution's reason for declining, kept for the platform; never put in events. */
  declineReason: string | null;
  closedReason: OfferClosedReason | null;
}

/** How a dispatch ended. */
export type DispatchOutcome = 'CHOSEN' | 'EXHAUSTED' | 'CHOICE_EXPIRED' | 'CANCELLED';

/**
 * How a finished dispatch reports back to its application (the `reportOutcome` effect's input), from saved state
 * only: `at` is the time of the step that ended it, `chosenBy` the customer manager who recorded a choice.
 */
export interface DispatchOutcomeReport {
  dispatchId: string;
  applicationId: string;
  dispatchNo: number;
  outcome: DispatchOutcome;
  institutionId: string | null;
  at: number;
  chosenBy: string | null;
  /** The sealed loan-contract terms recorded with the choice, if any. */
  contract: string | null;
}

/** A manager's intervention in a running dispatch, as recorded in its context. */
export interface DispatchIntervention {
  action: 'REASSIGN' | 'EXTEND' | 'CANCEL' | 'CHOOSE' | 'REJECT_ALL';
  actorId: string;
  reason: string;
  at: number;
  offerId?: string;
  untilMs?: number;
  institutionId?: string;
}

/** A movement of an institution's position that a transition asks for, applied in the transition's transaction. */
export interface PositionMovement {
  kind: 'freeze' | 'release';
  offerId: string;
  institutionId: string;
  /** Idempotency key of the movement: `<offerId>:freeze` or `<offerId>:release`. */
  key: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Events the workflow takes

/** The events a dispatch workflow takes from its callers (the service fills `at` from the clock). */
export type DispatchCommandEvent =
  | { type: 'ACCEPT'; institutionId: string; at: number }
  | { type: 'DECLINE'; institutionId: string; at: number; reason: string }
  | {
      type: 'CHOOSE';
      institutionId: string;
      at: number;
      actorId: string;
      /** The loan-contract terms the customer agreed to with the choice, sealed (opaque here); null without signing. */
      contract?: string | null;
    }
  | { type: 'REJECT_ALL'; at: number; actorId: string; reason: string }
  | { type: 'REASSIGN'; offerId: string; at: number; actorId: string; reason: string }
  | { type: 'EXTEND'; offerId: string; untilMs: number; at: number; actorId: string; reason: string }
  | { type: 'CANCEL'; at: number; actorId: string; reason: string };

// ---------------------------------------------------------------------------------------------------------------
// Domain events and notifications

/** What every dispatch event and notification names: the dispatch and its application, never a person. */
export interface DispatchEventBase {
  dispatchId: string;
  applicationId: string;
}

/** What every offer event names besides the dispatch: the offer and its institution. */
export interface OfferEventBase extends DispatchEventBase {
  offerId: string;
  institutionId: string;
}

/**
 * What a dispatch announces (`runtime.onEvent`), each once with a stable id, never with personal data or free text:
 * - `dispatch.offer.created` / `.accepted` / `.declined` / `.expired` / `.withdrawn`: an offer's life;
 * - `dispatch.chosen`: the customer chose an institution (the dispatch is over);
 * - `dispatch.not-chosen`: an institution that accepted was not chosen (its freeze was released);
 * - `dispatch.choice-expired`: the customer did not choose in time (every freeze released);
 * - `dispatch.exhausted`: nobody accepted: the application goes back to review;
 * - `dispatch.cancelled`: a follow-up manager cancelled the dispatch.
 */
export type DispatchDomainEvent =
  | (OfferEventBase & { type: 'dispatch.offer.created'; deadline: number; seq: number })
  | (OfferEventBase & { type: 'dispatch.offer.accepted' })
  | (OfferEventBase & { type: 'dispatch.offer.declined' })
  | (OfferEventBase & { type: 'dispatch.offer.expired'; deadline: number })
  | (OfferEventBase & { type: 'dispatch.offer.withdrawn'; reason: OfferClosedReason })
  | (DispatchEventBase & { type: 'dispatch.chosen'; institutionId: string })
  | (DispatchEventBase & { type: 'dispatch.not-chosen'; institutionId: string; reason: OfferClosedReason })
  | (DispatchEventBase & { type: 'dispatch.choice-expired' })
  | (DispatchEventBase & { type: 'dispatch.exhausted'; offeredInstitutionIds: string[] })
  | (DispatchEventBase & { type: 'dispatch.cancelled' });

/** The `type` of a {@link DispatchDomainEvent}. */
export type DispatchDomainEventType = DispatchDomainEvent['type'];

/** Every dispatch event type. */
export const DISPATCH_EVENT_TYPES: readonly DispatchDomainEventType[] = [
  'dispatch.offer.created',
  'dispatch.offer.accepted',
  'dispatch.offer.declined',
  'dispatch.offer.expired',
  'dispatch.offer.withdrawn',
  'dispatch.chosen',
  'dispatch.not-chosen',
  'dispatch.choice-expired',
  'dispatch.exhausted',
  'dispatch.cancelled',
];

/**
 * A message for people, sent through the `notify` effect:
 * - `offer.created`: tell the institution it has an offer and until when it may answer;
 * - `offer.deadline-approaching`: remind the institution `reminderBeforeMs` before the deadline;
 * - `offer.chosen`: tell the institution the customer chose it;
 * - `offer.not-chosen`: tell an institution that accepted that its acceptance was released, and why (another was
 *   chosen, the customer rejected every acceptance, the choice window passed, the dispatch was cancelled);
 * - `dispatch.choice-open`: tell the customer manager an institution accepted and until when the customer may choose.
 */
export type DispatchNotification =
  | (OfferEventBase & { type: 'offer.created'; deadline: number; amountFen: number })
  | (OfferEventBase & { type: 'offer.deadline-approaching'; deadline: number })
  | (OfferEventBase & { type: 'offer.chosen' })
  | (OfferEventBase & { type: 'offer.not-chosen'; reason: OfferClosedReason })
  | (DispatchEventBase & { type: 'dispatch.choice-open'; choiceDeadline: number; acceptedInstitutionIds: string[] });
