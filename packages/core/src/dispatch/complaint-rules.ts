/**
 * The rules of the complaint workflow, as plain functions that return the refusal (a typed error) or null. The
 * machine uses them as guards and the complaint service uses them to explain a refusal, so the reason a person is
 * given is exactly the rule the machine applied. Nothing here reads a clock or a store.
 */
import { IllegalTransitionError, PermissionError, type SealflowError, ValidationError } from '../errors.js';
import type { NotificationRecipient } from '../ports/notifier.js';
import { normaliseActorId } from '../templates/approval-workflow.js';
import {
  COMPLAINT_TEAMS,
  type ComplaintRoute,
  type ComplaintStage,
  type ComplaintTeam,
  complaintRouteSchema,
  type Penalty,
  penaltySchema,
} from './complaint.js';
import type { DispatchRole } from './roles.js';

/** The workflow's saved context: ids, stages, flags and the penalty — never personal data or free text. */
export interface ComplaintContext {
  complaintNo: string;
  applicationId: string | null;
  /** The institution complained about, as taken in. */
  institutionId: string | null;
  receivedBy: string;
  /** Who is told the outcome: the customer when their host id is known, else the staff who took the complaint in. */
  feedbackTo: NotificationRecipient;
  /** How long an institution has to report back once the complaint is routed to it. */
  reportWithinMs: number;
  route: ComplaintRoute | null;
  routedBy: string | null;
  routedAt: number | null;
  reportedBy: string | null;
  reportOverdue: boolean;
  founded: boolean | null;
  penalty: Penalty | null;
  /** The person responsible for the penalty decision and their direct superior: both must confirm it. */
  responsibleId: string | null;
  superiorId: string | null;
  confirmations: { actorId: string; as: 'responsible' | 'superior'; at: number }[];
  decidedAt: number | null;
  closedAt: number | null;
}

/** The input that starts a complaint workflow. */
export interface ComplaintInput {
  complaintNo: string;
  applicationId: string | null;
  institutionId: string | null;
  customerId: string | null;
  receivedBy: string;
  reportWithinMs: number;
}

/** Who sends a command, as every complaint event carries it, and when (the service's clock). */
export type ComplaintEventActor = {
  actorId: string;
  roles: string[];
  /** Set for institution staff. */
  institutionId?: string;
  at: number;
};

/** The events of the complaint workflow; free text stays in the complaint record, never in an event. */
export type ComplaintEvent = ComplaintEventActor &
  (
    | { type: 'ACCEPT' }
    | { type: 'REFUSE' }
    | { type: 'SUGGESTION' }
    | { type: 'ROUTE'; route: ComplaintRoute }
    | { type: 'REPORT' }
    | { type: 'CONFIRM_REPORT' }
    | { type: 'INVESTIGATE'; founded: boolean }
    | { type: 'DECIDE'; penalty: Penalty; responsibleId: string; superiorId: string }
    | { type: 'CONFIRM_PENALTY' }
    | { type: 'FEEDBACK' }
  );

/** The `type` of a {@link ComplaintEvent}. */
export type ComplaintCommand = ComplaintEvent['type'];

/** Someone tried to confirm a penalty twice, or to name one person as both confirmers (code `TWO_PERSON_RULE`). */
export class TwoPersonRuleError extends PermissionError {
  override readonly code = 'TWO_PERSON_RULE' as const;
}

/** The role that reviews a complaint routed to each platform team. */
export const COMPLAINT_TEAM_ROLES: Readonly<Record<ComplaintTeam, string>> = {
  'customer-team': 'customer-team-leader',
  'business-department': 'business-department',
  review: 'review-supervisor',
  'follow-up': 'follow-up-manager',
};

/** The platform roles that may send each command (REPORT is the routed institution's; CONFIRM_PENALTY the named two). */
export const COMPLAINT_COMMAND_ROLES: Readonly<
  Record<Exclude<ComplaintCommand, 'REPORT' | 'CONFIRM_PENALTY'>, readonly DispatchRole[]>
> = {
  ACCEPT: ['customer-service'],
  REFUSE: ['customer-service'],
  SUGGESTION: ['customer-service'],
  ROUTE: ['customer-service', 'review-supervisor'],
  CONFIRM_REPORT: ['follow-up-manager', 'review-supervisor'],
  INVESTIGATE: ['review-supervisor'],
  DECIDE: ['review-supervisor'],
  FEEDBACK: ['customer-service'],
};

/** The stages in which each command is accepted. */
export const COMPLAINT_COMMAND_STAGES: Readonly<Record<ComplaintCommand, readonly ComplaintStage[]>> = {
  ACCEPT: ['received'],
  REFUSE: ['received'],
  SUGGESTION: ['received'],
  ROUTE: ['accepted'],
  REPORT: ['with-institution'],
  CONFIRM_REPORT: ['reported'],
  INVESTIGATE: ['with-team', 'investigating'],
  DECIDE: ['deciding'],
  CONFIRM_PENALTY: ['confirming-penalty'],
  FEEDBACK: ['awaiting-feedback'],
};

const ACTIONS: Readonly<Record<ComplaintCommand, string>> = {
  ACCEPT: 'accept a complaint',
  REFUSE: 'refuse a complaint',
  SUGGESTION: 'record a suggestion',
  ROUTE: 'route a complaint',
  REPORT: 'report back on a complaint',
  CONFIRM_REPORT: "confirm an institution's report",
  INVESTIGATE: 'record whether a complaint is founded',
  DECIDE: 'decide a complaint',
  CONFIRM_PENALTY: 'confirm a penalty',
  FEEDBACK: 'give a complaint feedback to the customer',
};

/** The stage shown for a machine state value (`withInstitution.overdue` → `with-institution`). */
export function complaintStageOf(stateValue: string): ComplaintStage {
  const top = stateValue.split('.')[0] ?? stateValue;
  return top.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) as ComplaintStage;
}

/** Why `command` cannot be sent at `stage`, as the error the runtime's refusal means, or null. */
export function stageRefusal(
  complaintNo: string,
  stage: ComplaintStage,
  command: ComplaintCommand,
): SealflowError | null {
  const stages = COMPLAINT_COMMAND_STAGES[command];
  if (stages.includes(stage)) return null;
  return new IllegalTransitionError(
    'EVENT_NOT_ACCEPTED',
    `Complaint ${complaintNo} is ${stage}; one may ${ACTIONS[command]} only when it is ${stages.join(' or ')}. ` +
      'Reload it to see what it waits for.',
    { details: { complaintNo, stage, command } },
  );
}

const samePerson = (a: string, b: string) => normaliseActorId(a) === normaliseActorId(b);

function platformRoleRefusal(
  event: ComplaintEventActor,
  roles: readonly string[],
  action: string,
): PermissionError | null {
  if (event.institutionId === undefined && roles.some((role) => event.roles.includes(role))) return null;
  return new PermissionError(
    `Only platform ${roles.join(' or ')} may ${action}; actor ${event.actorId} ` +
      (event.institutionId !== undefined ? 'is institution staff.' : `has ${event.roles.join(', ') || 'no roles'}.`),
    { details: { acceptedRoles: [...roles], missingRole: roles[0] } },
  );
}

function routeRefusal(context: ComplaintContext, route: ComplaintRoute): ValidationError | null {
  if (!complaintRouteSchema.safeParse(route).success) {
    return new ValidationError(
      `route must be { kind: "platform", team: ${COMPLAINT_TEAMS.join(' | ')} } or { kind: "institution", institutionId }.`,
      { details: { field: 'route' } },
    );
  }
  if (route.kind === 'institution' && context.institutionId !== null && route.institutionId !== context.institutionId) {
    return new ValidationError(
      `Complaint ${context.complaintNo} is about institution ${context.institutionId}; route it to that institution ` +
        'or to a platform team.',
      { details: { field: 'route.institutionId' } },
    );
  }
  return null;
}

function reportRefusal(context: ComplaintContext, event: ComplaintEventActor): PermissionError | null {
  const routedTo = context.route?.kind === 'institution' ? context.route.institutionId : null;
  if (event.roles.includes('institution') && event.institutionId !== undefined && event.institutionId === routedTo) {
    return null;
  }
  return new PermissionError(
    `Only staff of the institution complaint ${context.complaintNo} was routed to may report back on it.`,
  );
}

function investigateRefusal(context: ComplaintContext, event: ComplaintEventActor): PermissionError | null {
  const roles: string[] = [...COMPLAINT_COMMAND_ROLES.INVESTIGATE];
  if (context.route?.kind === 'platform') roles.push(COMPLAINT_TEAM_ROLES[context.route.team]);
  return platformRoleRefusal(event, [...new Set(roles)], ACTIONS.INVESTIGATE);
}

function decisionRefusal(
  context: ComplaintContext,
  event: ComplaintEventActor & { penalty: Penalty; responsibleId: string; superiorId: string },
): SealflowError | null {
  const role = platformRoleRefusal(event, COMPLAINT_COMMAND_ROLES.DECIDE, ACTIONS.DECIDE);
  if (role) return role;
  if (!penaltySchema.safeParse(event.penalty).success) {
    return new ValidationError(
      'penalty must be { kind: "warning" }, { kind: "fine", amountFen: positive integer fen } or ' +
        '{ kind: "suspension", days: 1–365 }.',
      { details: { field: 'penalty' } },
    );
  }
  for (const field of ['responsibleId', 'superiorId'] as const) {
    const value = event[field];
    if (typeof value !== 'string' || value.trim() === '' || value.length > 100) {
      return new ValidationError(`${field} must name the person (host user id) who confirms the penalty.`, {
        details: { field },
      });
    }
  }
  if (samePerson(event.responsibleId, event.superiorId)) {
    return new TwoPersonRuleError(
      `The penalty of complaint ${context.complaintNo} is confirmed by the person responsible and their direct ` +
        'superior: name two different people.',
      { details: { rule: 'twoPeople' } },
    );
  }
  return null;
}

/** Which confirmer `actorId` is, or null when they are neither the responsible person nor the superior. */
export function confirmerRole(context: ComplaintContext, actorId: string): 'responsible' | 'superior' | null {
  if (context.responsibleId !== null && samePerson(actorId, context.responsibleId)) return 'responsible';
  if (context.superiorId !== null && samePerson(actorId, context.superiorId)) return 'superior';
  return null;
}

function penaltyConfirmationRefusal(context: ComplaintContext, event: ComplaintEventActor): PermissionError | null {
  const as = event.institutionId === undefined ? confirmerRole(context, event.actorId) : null;
  if (as === null) {
    return new PermissionError(
      `Only the person responsible (${context.responsibleId}) and their direct superior (${context.superiorId}) ` +
        `confirm the penalty of complaint ${context.complaintNo}; ${event.actorId} is neither.`,
      { details: { rule: 'namedConfirmers' } },
    );
  }
  const earlier = context.confirmations.find((c) => samePerson(c.actorId, event.actorId) || c.as === as);
  if (earlier) {
    const other = as === 'responsible' ? context.superiorId : context.responsibleId;
    return new TwoPersonRuleError(
      `${event.actorId} already confirmed the penalty of complaint ${context.complaintNo} (as ${earlier.as}); ` +
        `the second confirmation must come from ${other}.`,
      { details: { rule: 'confirmOnce', as: earlier.as } },
    );
  }
  return null;
}

/**
 * Why the machine refuses `event` in `context` (roles, institution scoping, the routed institution, the two-person
 * rule, a malformed penalty), or null when it is allowed. The stage is checked separately by {@link stageRefusal}.
 */
export function complaintRefusal(context: ComplaintContext, event: ComplaintEvent): SealflowError | null {
  switch (event.type) {
    case 'REPORT':
      return reportRefusal(context, event);
    case 'CONFIRM_PENALTY':
      return penaltyConfirmationRefusal(context, event);
    case 'INVESTIGATE':
      return investigateRefusal(context, event);
    case 'DECIDE':
      return decisionRefusal(context, event);
    case 'ROUTE':
      return (
        platformRoleRefusal(event, COMPLAINT_COMMAND_ROLES.ROUTE, ACTIONS.ROUTE) ?? routeRefusal(context, event.route)
      );
    default:
      return platformRoleRefusal(event, COMPLAINT_COMMAND_ROLES[event.type], ACTIONS[event.type]);
  }
}

/** True when this confirmation is the second of the two the penalty needs. */
export function completesPenaltyConfirmation(context: ComplaintContext): boolean {
  return context.confirmations.length === 1;
}
