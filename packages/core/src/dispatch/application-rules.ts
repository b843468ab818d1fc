/**
 * The rules of the loan application lifecycle as plain functions.
 *
 * Each returns a typed refusal or null. The machine uses them as guards, and the application service calls the
 * same functions before sending an event to tell the person exactly which rule refused them — so the reason given is
 * the rule the machine applies, and a caller who skips the service meets the same rules in the machine.
 *
 * `stageRefusal` says whether an event fits where the application stands (the machine's structure says the same);
 * `eventRefusal` checks who may send it and what it carries, against the context alone.
 */
import {
  ConflictError,
  IllegalTransitionError,
  PermissionError,
  type SealflowError,
  SealflowError as SealflowErrorClass,
  ValidationError,
} from '../errors.js';
import {
  type ApplicationContext,
  type ApplicationFunder,
  INCOMPLETE_SUBMISSIONS_BEFORE_INTERVENTION,
  MaterialItem,
  type SettlementFigures,
} from './application.js';
import type { RatingSide } from './rating.js';
import { type DispatchActor, type DispatchRole, requireDispatchRole, requireInstitutionStaff } from './roles.js';
import { settlementProblem } from './settlement.js';

/** Who sent an event and when: every event carries it, so the machine can check roles and record decisions purely. */
export interface ApplicationEventBase {
  actorId: string;
  roles: string[];
  /** The actor's own institution, for institution staff. */
  actorInstitutionId?: string | null;
  /** When the service sent it (the Clock port's time). */
  at: number;
}

/** The events of the application machine. */
export type ApplicationEvent = ApplicationEventBase &
  (
    | {
        type: 'CUSTOMER_REGISTERED';
        verified: boolean;
        method: string | null;
        verifiedAt: number | null;
        /** Keyed fingerprint of the customer registered; must be the one the application was opened for. */
        identityHash: string;
      }
    | { type: 'SUBMIT_MATERIALS'; materials: MaterialItem[] }
    | { type: 'RESOLVE_INTERVENTION'; resolution: 'RESUME' | 'REJECT'; reason: string }
    | { type: 'CONFIRM_PRODUCT'; productCode: string; requiredMaterials: string[] }
    | { type: 'SUBMIT_FOR_REVIEW' }
    | { type: 'PASS'; reason: string | null }
    | { type: 'REJECT'; reason: string }
    | { type: 'ASK_MORE'; reason: string }
    | { type: 'REJECTION_UPHELD'; reason: string | null }
    | { type: 'REJECTION_OVERTURNED'; reason: string }
    | {
        type: 'DISPATCH_SUCCEEDED';
        institutionId: string;
        /** The institution as a funder, read when the dispatch reported its outcome. */
        funder?: ApplicationFunder | null;
        /** The sealed loan-contract terms recorded with the customer's choice. */
        contract?: string | null;
        /** Who recorded the customer's choice: the loan contract is asked for in their name. */
        chosenBy?: string | null;
      }
    | { type: 'DISPATCH_EXHAUSTED' }
    | { type: 'FACE_SIGNED' }
    | { type: 'DISBURSED'; amountFen: number }
    | { type: 'PROCESSING_FAILED'; reason: string }
    | ({ type: 'CONFIRM_SETTLEMENT' } & SettlementFigures)
    | { type: 'CUSTOMER_CONFIRMED' }
    | { type: 'PAYMENT_CONFIRMED' }
    | { type: 'RATE'; side: RatingSide; score: number; comment: string }
    | { type: 'CLOSE' }
  );

/** The `type` of an {@link ApplicationEvent}. */
export type ApplicationEventType = ApplicationEvent['type'];

/** What each event needs: the roles that may send it, the stages that take it, and how a person names it. */
export interface ApplicationEventRule {
  roles: readonly DispatchRole[];
  stages: readonly string[];
  /** "pass a loan review": completes "Only … may …" and "… is possible only when …". */
  action: string;
  /** Only the application's own customer manager may send it. */
  ownCustomerManager?: boolean;
}

const PLATFORM_RATERS: readonly DispatchRole[] = ['follow-up-manager', 'customer-manager'];

/** The rule of every event; `stages` lists full state values (`settlement.awaitingPayment`). */
export const APPLICATION_EVENT_RULES: Readonly<Record<ApplicationEventType, ApplicationEventRule>> = {
  CUSTOMER_REGISTERED: {
    roles: ['customer-manager'],
    stages: ['registering'],
    action: 'register the customer',
    ownCustomerManager: true,
  },
  SUBMIT_MATERIALS: {
    roles: ['customer-manager'],
    stages: ['collectingMaterials'],
    action: 'submit materials',
    ownCustomerManager: true,
  },
  RESOLVE_INTERVENTION: {
    roles: ['follow-up-manager', 'review-supervisor'],
    stages: ['manualIntervention'],
    action: 'resolve a manual intervention',
  },
  CONFIRM_PRODUCT: {
    roles: ['customer-manager'],
    stages: ['confirmingProduct'],
    action: 'confirm the loan product',
    ownCustomerManager: true,
  },
  SUBMIT_FOR_REVIEW: {
    roles: ['customer-manager'],
    stages: ['productConfirmed'],
    action: 'submit the application for review',
    ownCustomerManager: true,
  },
  PASS: { roles: ['loan-reviewer'], stages: ['inReview'], action: 'pass a loan review' },
  REJECT: { roles: ['loan-reviewer', 'customer-service'], stages: ['inReview'], action: 'reject an application' },
  ASK_MORE: { roles: ['loan-reviewer'], stages: ['inReview'], action: 'ask for more materials' },
  REJECTION_UPHELD: { roles: ['review-supervisor'], stages: ['rejectionCheck'], action: 'uphold a rejection' },
  REJECTION_OVERTURNED: { roles: ['review-supervisor'], stages: ['rejectionCheck'], action: 'overturn a rejection' },
  DISPATCH_SUCCEEDED: {
    roles: ['follow-up-manager', 'platform-admin'],
    stages: ['dispatching'],
    action: 'record the institution chosen in dispatch',
  },
  DISPATCH_EXHAUSTED: {
    roles: ['follow-up-manager', 'platform-admin'],
    stages: ['dispatching'],
    action: 'record that no institution accepted',
  },
  FACE_SIGNED: {
    roles: ['institution'],
    stages: ['institutionProcessing.awaitingFaceSigning'],
    action: 'record the face-to-face signing',
  },
  DISBURSED: {
    roles: ['institution'],
    stages: ['institutionProcessing.awaitingDisbursement'],
    action: 'record the disbursement',
  },
  PROCESSING_FAILED: {
    roles: ['institution', 'follow-up-manager'],
    stages: ['institutionProcessing.awaitingFaceSigning', 'institutionProcessing.awaitingDisbursement'],
    action: 'record that processing failed',
  },
  CONFIRM_SETTLEMENT: {
    roles: ['follow-up-manager'],
    stages: ['settlement.awaitingSettlement'],
    action: 'confirm the disbursed amount and commission',
  },
  CUSTOMER_CONFIRMED: {
    roles: ['customer-manager'],
    stages: ['settlement.awaitingCustomer'],
    action: 'confirm the settlement with the customer',
    ownCustomerManager: true,
  },
  PAYMENT_CONFIRMED: { roles: ['settler'], stages: ['settlement.awaitingPayment'], action: 'confirm payment' },
  RATE: { roles: [...PLATFORM_RATERS, 'institution'], stages: ['settled'], action: 'rate the other side' },
  CLOSE: { roles: ['follow-up-manager', 'platform-admin'], stages: ['rated'], action: 'close an application' },
};

/** How a stage is named to people: English, then the term the business uses. */
export const STAGE_NAMES: Readonly<Record<string, string>> = {
  registering: 'registering the customer (登记)',
  collectingMaterials: 'collecting materials (收集材料)',
  manualIntervention: 'waiting for manual intervention (人工介入)',
  confirmingProduct: 'waiting for the product to be confirmed (确认产品)',
  productConfirmed: 'product confirmed, not yet submitted for review',
  inReview: 'in loan review (贷审)',
  rejectionCheck: 'in the rejection reasonableness check (驳回审核)',
  rejected: 'rejected (已驳回)',
  dispatching: 'being dispatched to institutions (派发中)',
  'institutionProcessing.awaitingFaceSigning': 'with the institution, waiting for face-to-face signing (面签)',
  'institutionProcessing.awaitingDisbursement': 'with the institution, waiting for disbursement (放款)',
  'settlement.awaitingSettlement': 'waiting for the settlement figures (结算)',
  'settlement.awaitingCustomer': "waiting for the customer's confirmation of the settlement",
  'settlement.awaitingPayment': 'waiting for payment to be confirmed (结算员)',
  settled: 'settled, waiting for ratings (互相评价)',
  rated: 'rated by both sides',
  closed: 'closed',
};

/** The application's name in messages: its number, never the customer. */
function named(context: ApplicationContext): string {
  return `Application ${context.applicationNumber}`;
}

/**
 * An event the application cannot take where it stands (`EVENT_NOT_ACCEPTED`), an event it never takes
 * (`UNKNOWN_EVENT`), or null.
 */
export function stageRefusal(context: ApplicationContext, stage: string, type: string): IllegalTransitionError | null {
  const rule = (APPLICATION_EVENT_RULES as Record<string, ApplicationEventRule | undefined>)[type];
  if (!rule) {
    return new IllegalTransitionError('UNKNOWN_EVENT', `Applications have no event '${type}'.`, {
      details: { event: type },
    });
  }
  if (rule.stages.includes(stage)) return null;
  return new IllegalTransitionError(
    'EVENT_NOT_ACCEPTED',
    `${named(context)} is ${STAGE_NAMES[stage] ?? stage}; one can ${rule.action} only when it is ` +
      `${rule.stages.map((s) => STAGE_NAMES[s] ?? s).join(' or ')}. Reload it to see where it stands.`,
    { details: { applicationId: context.applicationId, event: type, stage } },
  );
}

/** The actor an event describes. */
function actorOf(event: ApplicationEventBase): DispatchActor {
  return {
    id: event.actorId,
    roles: Array.isArray(event.roles) ? event.roles : [],
    ...(event.actorInstitutionId ? { institutionId: event.actorInstitutionId } : {}),
  };
}

/** A thrown refusal as a value: the role checks in `roles.ts` throw, the rules here return. */
function caught(check: () => void): SealflowError | null {
  try {
    check();
    return null;
  } catch (error) {
    if (error instanceof SealflowErrorClass) return error;
    throw error;
  }
}

/** The role under which `actor` sends `type`: the first of the event's roles the actor holds. */
export function actingRole(roles: readonly string[], type: ApplicationEventType): string {
  return APPLICATION_EVENT_RULES[type].roles.find((role) => roles.includes(role)) ?? 'unknown';
}

/**
 * Who may send `event` to this application: the event's roles; institution staff only for the institution the
 * application was dispatched to; the customer-facing steps only its own customer manager. Null when allowed.
 */
export function actorRefusal(context: ApplicationContext, event: ApplicationEvent): SealflowError | null {
  const rule = APPLICATION_EVENT_RULES[event.type];
  const actor = actorOf(event);
  const roles = event.type === 'RATE' ? raterRoles(event.side) : rule.roles;
  const denied = caught(() => requireDispatchRole(actor, roles, rule.action));
  if (denied) return denied;
  // Someone tied to an institution acts only as its staff, whatever other roles a host gave them.
  if (actor.institutionId && !roles.includes('institution')) {
    return new PermissionError(`Institution staff may not ${rule.action}; only platform staff may.`, {
      details: { applicationId: context.applicationId },
    });
  }
  const actsAsPlatform = !actor.institutionId && roles.some((r) => r !== 'institution' && actor.roles.includes(r));
  if (roles.includes('institution') && !actsAsPlatform) {
    const scoped = caught(() => requireInstitutionStaff(actor, context.institutionId ?? '', rule.action));
    if (scoped) {
      return new PermissionError(
        `Only staff of the institution ${named(context).toLowerCase()} was dispatched to may ${rule.action}.`,
        { details: { applicationId: context.applicationId } },
      );
    }
  }
  if (rule.ownCustomerManager && actor.id !== context.customerManagerId) {
    return new PermissionError(
      `Only the customer manager of ${named(context).toLowerCase()} may ${rule.action}; ${actor.id} is not.`,
      { details: { applicationId: context.applicationId } },
    );
  }
  return null;
}

function raterRoles(side: RatingSide): readonly DispatchRole[] {
  return side === 'institution' ? ['institution'] : PLATFORM_RATERS;
}

/** A customer's real name was not verified: the application stays in registration and nothing is recorded. */
export class IdentityNotVerifiedError extends ValidationError {
  override readonly code = 'IDENTITY_NOT_VERIFIED' as const;
}

/** The material kinds `required` that are not on file as complete. */
export function missingMaterials(required: readonly string[], materials: readonly MaterialItem[]): string[] {
  const complete = new Set(materials.filter((m) => m.complete).map((m) => m.kind));
  return required.filter((kind) => !complete.has(kind));
}

/** The materials on file after a submission: a kind submitted again replaces the one on file. */
export function mergeMaterials(onFile: readonly MaterialItem[], submitted: readonly MaterialItem[]): MaterialItem[] {
  const byKind = new Map(onFile.map((m) => [m.kind, m]));
  for (const item of submitted) byKind.set(item.kind, item);
  return [...byKind.values()];
}

/** True when a submission leaves every required material on file and complete. */
export function completesMaterials(context: ApplicationContext, submitted: readonly MaterialItem[]): boolean {
  return missingMaterials(context.requiredMaterials, mergeMaterials(context.materials, submitted)).length === 0;
}

/** True when an incomplete submission is the third in a row: a person must look at the application. */
export function needsIntervention(context: ApplicationContext): boolean {
  return context.incompleteSubmissions + 1 >= INCOMPLETE_SUBMISSIONS_BEFORE_INTERVENTION;
}

/** True when this rating is the second side's: the application is then rated by both. */
export function completesRatings(context: ApplicationContext, side: RatingSide): boolean {
  return context.ratings.some((r) => r.side !== side);
}

const invalid = (message: string, field: string) => new ValidationError(message, { details: { field } });

function reasonProblem(reason: unknown, required: boolean): ValidationError | null {
  if (reason === null || reason === undefined) {
    return required
      ? invalid('Give a reason: it is shown to the people involved and kept with the decision.', 'reason')
      : null;
  }
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 2000) {
    return invalid('A reason must be non-empty text of at most 2000 characters.', 'reason');
  }
  return null;
}

/** What an event carries, checked against the context. Null when it is acceptable. */
export function contentRefusal(context: ApplicationContext, event: ApplicationEvent): SealflowError | null {
  if (!Number.isSafeInteger(event.at)) return invalid('An event needs `at`, the time in epoch ms.', 'at');
  switch (event.type) {
    case 'CUSTOMER_REGISTERED':
      return registrationRefusal(context, event);
    case 'SUBMIT_MATERIALS':
      return materialsProblem(event.materials);
    case 'RESOLVE_INTERVENTION':
      if (event.resolution !== 'RESUME' && event.resolution !== 'REJECT') {
        return invalid("resolution must be 'RESUME' (back to collecting materials) or 'REJECT'.", 'resolution');
      }
      return reasonProblem(event.reason, true);
    case 'CONFIRM_PRODUCT':
      return productConfirmationRefusal(context, event.requiredMaterials);
    case 'PASS':
    case 'REJECTION_UPHELD':
      return reasonProblem(event.reason, false);
    case 'REJECT':
    case 'ASK_MORE':
    case 'REJECTION_OVERTURNED':
    case 'PROCESSING_FAILED':
      return reasonProblem(event.reason, true);
    case 'DISPATCH_SUCCEEDED':
      return typeof event.institutionId === 'string' &&
        event.institutionId.length >= 1 &&
        event.institutionId.length <= 128 &&
        !event.institutionId.includes('\u0000')
        ? null
        : invalid('institutionId must name the institution that accepted (1 to 128 characters).', 'institutionId');
    case 'DISBURSED':
      return disbursementProblem(context, event.amountFen);
    case 'CONFIRM_SETTLEMENT': {
      const problem = settlementProblem(event, context.disbursedFen);
      return problem === undefined ? null : invalid(problem, 'settlement');
    }
    case 'RATE':
      return ratingRefusal(context, event);
    default:
      return null;
  }
}

function registrationRefusal(
  context: ApplicationContext,
  event: { verified: boolean; identityHash: string },
): SealflowError | null {
  if (event.identityHash !== context.customer.identityHash) {
    return invalid(
      `The customer registered is not the one ${named(context).toLowerCase()} was opened for (name, ID number and ` +
        'mobile must all match). Check the details, or open a new application for this customer.',
      'customer',
    );
  }
  if (event.verified !== true) {
    return new IdentityNotVerifiedError(
      `The customer of ${named(context).toLowerCase()} did not pass the real-name check. Have the customer complete ` +
        'real-name verification, then register again.',
      { details: { applicationId: context.applicationId } },
    );
  }
  return null;
}

/** Why a list of materials cannot be submitted, or null: 1 to 100 well-formed items, each kind once. */
export function materialsProblem(materials: unknown): ValidationError | null {
  const parsed = MaterialItem.array().min(1).max(100).safeParse(materials);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return invalid(
      `materials${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message}. Submit 1 to 100 items ` +
        '{ kind, documentId?, complete }.',
      'materials',
    );
  }
  const kinds = parsed.data.map((m) => m.kind);
  const repeated = kinds.find((kind, i) => kinds.indexOf(kind) !== i);
  return repeated ? invalid(`materials name the kind '${repeated}' twice; submit each kind once.`, 'materials') : null;
}

function productConfirmationRefusal(context: ApplicationContext, required: unknown): ValidationError | null {
  if (!Array.isArray(required) || !required.every((k) => typeof k === 'string')) {
    return invalid('requiredMaterials must list the kinds the product requires.', 'requiredMaterials');
  }
  const missing = missingMaterials(required, context.materials);
  if (missing.length === 0) return null;
  return invalid(
    `The product needs materials that are not on file as complete: ${missing.join(', ')}. Ask the customer for them ` +
      'or choose another product.',
    'productCode',
  );
}

function disbursementProblem(context: ApplicationContext, amountFen: unknown): ValidationError | null {
  if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen <= 0) {
    return invalid('amountFen must be a positive whole number of fen (no decimals, no negatives, not 0).', 'amountFen');
  }
  if (amountFen > context.amountFen) {
    return invalid(
      `The disbursed ${amountFen} fen exceeds the ${context.amountFen} fen applied for; record the amount actually lent.`,
      'amountFen',
    );
  }
  return null;
}

function ratingRefusal(
  context: ApplicationContext,
  event: { side: unknown; score: unknown; comment: unknown },
): SealflowError | null {
  if (event.side !== 'platform' && event.side !== 'institution') {
    return invalid("side must be 'platform' (rating the institution) or 'institution' (rating the platform).", 'side');
  }
  if (typeof event.score !== 'number' || !Number.isInteger(event.score) || event.score < 1 || event.score > 5) {
    return invalid('score must be a whole number from 1 to 5.', 'score');
  }
  if (typeof event.comment !== 'string' || event.comment.length > 500) {
    return invalid('comment must be text of at most 500 characters (it may be empty).', 'comment');
  }
  if (context.ratings.some((r) => r.side === event.side)) {
    return new ConflictError('DUPLICATE', `The ${event.side} side has already rated ${named(context).toLowerCase()}.`, {
      details: { applicationId: context.applicationId, side: event.side },
    });
  }
  return null;
}

/** Everything the machine checks about an event, in the order a person should hear it: who, then what. */
export function eventRefusal(context: ApplicationContext, event: ApplicationEvent): SealflowError | null {
  return actorRefusal(context, event) ?? contentRefusal(context, event);
}
