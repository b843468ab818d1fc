/**
 * The approval of one submitted template version (审批), as a machine on the durable runtime.
 *
 * `pending` → every configured level approves in turn → `approved`; any rejection → `rejected`; the submitter
 * withdraws → `withdrawn`. The rules (maker-checker, roles, the current level) are plain functions returning a refusal
 * or null, used both as the machine's guards and by the template service to explain a refusal with a typed error —
 * so the reason a person is given is exactly the rule the machine applied.
 *
 * Maker-checker compares people by their normalised id ({@link normaliseActorId}), never by the string a caller sent,
 * and the makers (everyone who created, edited or submitted the version) travel in the machine's own context, so the
 * guard that refuses them is the one that commits the transition — concurrent callers cannot slip past it.
 *
 * The deadline runs for the whole request, not per level: when it passes the request is marked escalated and a
 * `template.approval.escalated` domain event goes out so the host can chase the approvers; it stays pending.
 *
 * Every step of the lifecycle is announced as a domain event (`TEMPLATE_EVENT_TYPES`), emitted by the machine so it
 * is written to the outbox in the transition's own transaction, with a stable id. Events name the version and the
 * level, never the people deciding or a rejection's free-text reason.
 */
import { and, assign, emit, setup } from 'xstate';
import { PermissionError, SealflowError, type SealflowErrorOptions, ValidationError } from '../errors.js';
import type { DomainEvent } from '../runtime/runtime.js';
import { defineWorkflow } from '../runtime/workflow-definition.js';

export const TEMPLATE_APPROVAL_WORKFLOW = 'template-approval';

/** One level of template approval: its name and the roles that may approve at it. */
export interface ApprovalLevel {
  /** Shown to people: `legal`, `risk`, `法务审批`. */
  name: string;
  /** Any one of these roles may decide this level. */
  roles: string[];
}

export interface ApprovalInput {
  versionId: string;
  code: string;
  version: number;
  submittedBy: string;
  /**
   * Everyone who created, edited or submitted the version; none of them may approve it. Normalised when the request
   * starts; the submitter is always included.
   */
  makers?: readonly string[];
  levels: ApprovalLevel[];
  /** Escalate when no final decision was made this many ms after submission; null for no deadline. */
  deadlineMs?: number | null;
}

export interface ApprovalContext {
  versionId: string;
  code: string;
  version: number;
  submittedBy: string;
  /** Normalised ids ({@link normaliseActorId}) of everyone who created, edited or submitted the version. */
  makers: string[];
  levels: ApprovalLevel[];
  /** The level now deciding, 1-based. */
  level: number;
  approvals: { level: number; actorId: string }[];
  deadlineMs: number | null;
  escalated: boolean;
  rejection: { level: number; actorId: string; reason: string } | null;
  withdrawnBy: string | null;
}

/** The EFFECTIVE version a request's approval replaces; fixed while the request is pending (one open version a code). */
export interface SupersededVersion {
  versionId: string;
  version: number;
}

export type ApprovalEvent =
  | {
      type: 'APPROVE';
      actorId: string;
      roles: string[];
      level: number;
      /** The code's EFFECTIVE version, which the final approval supersedes; absent or null when there is none. */
      supersedes?: SupersededVersion | null;
    }
  | { type: 'REJECT'; actorId: string; roles: string[]; level: number; reason: string }
  | { type: 'WITHDRAW'; actorId: string };

/** The type of the domain event emitted when an approval waits too long and is escalated. */
export const APPROVAL_ESCALATED_EVENT = 'template.approval.escalated';

/** The domain event emitted when an approval level is escalated. */
export interface ApprovalEscalatedEvent {
  type: typeof APPROVAL_ESCALATED_EVENT;
  versionId: string;
  code: string;
  version: number;
  level: number;
  levelName: string;
}

/** What every template lifecycle event names: the version, never a person. */
interface TemplateEventBase {
  versionId: string;
  code: string;
  version: number;
}

/**
 * The template lifecycle's domain events (`runtime.onEvent`), each emitted once with a stable id:
 * - `template.submitted`: the version went into approval (审批中), with the names of its levels;
 * - `template.level-approved`: one level approved it (`final` on the last level);
 * - `template.approved`: every level approved it, followed at once by
 * - `template.effective`: it is the EFFECTIVE (生效) version of its code, and, when it replaced one,
 * - `template.superseded`: the version effective until now is SUPERSEDED (已替代);
 * - `template.rejected`: a level rejected it, so it is INVALID (失效);
 * - `template.withdrawn`: its submitter withdrew it (已撤回);
 * - `template.approval.escalated`: still undecided at the approval deadline (it stays pending).
 */
export type TemplateDomainEvent =
  | (TemplateEventBase & { type: 'template.submitted'; levels: string[] })
  | (TemplateEventBase & { type: 'template.level-approved'; level: number; levelName: string; final: boolean })
  | (TemplateEventBase & { type: 'template.approved'; levels: string[] })
  | (TemplateEventBase & { type: 'template.effective'; supersedes: string | null })
  | (TemplateEventBase & { type: 'template.superseded'; supersededBy: string; supersededByVersion: number })
  | (TemplateEventBase & { type: 'template.rejected'; level: number; levelName: string })
  | (TemplateEventBase & { type: 'template.withdrawn' })
  | ApprovalEscalatedEvent;

/** The `type` of a {@link TemplateDomainEvent}. */
export type TemplateDomainEventType = TemplateDomainEvent['type'];

/** Every template lifecycle event type. */
export const TEMPLATE_EVENT_TYPES: readonly TemplateDomainEventType[] = [
  'template.submitted',
  'template.level-approved',
  'template.approved',
  'template.effective',
  'template.superseded',
  'template.rejected',
  'template.withdrawn',
  APPROVAL_ESCALATED_EVENT,
];

/** True for a domain event emitted by the template approval workflow. */
export function isTemplateEvent(event: DomainEvent): event is DomainEvent & { payload: TemplateDomainEvent } {
  return (TEMPLATE_EVENT_TYPES as readonly string[]).includes(event.type);
}

const eventBase = (context: ApprovalContext): TemplateEventBase => ({
  versionId: context.versionId,
  code: context.code,
  version: context.version,
});

// ---------------------------------------------------------------------------------------------------------------
// Rules

/**
 * The form of an actor id that maker-checker compares: Unicode NFKC (full-width `ＡＬＩＣＥ` becomes `ALICE`), surrounding
 * white space trimmed, then lower-cased — so `Alice`, ` alice ` and `ＡＬＩＣＥ` are one person. Ids are still stored
 * and shown as sent; only comparisons use this form.
 */
export function normaliseActorId(id: string): string {
  return id.normalize('NFKC').trim().toLowerCase();
}

/** The makers of a request as normalised ids, each once, in the order given, the submitter always last among them. */
export function approvalMakers(submittedBy: string, makers: readonly string[] = []): string[] {
  return [...new Set([...makers, submittedBy].map(normaliseActorId))];
}

function samePerson(a: string, b: string): boolean {
  return normaliseActorId(a) === normaliseActorId(b);
}

/**
 * A maker-checker rule was broken: someone who created, edited or submitted the version approving it, or one person
 * approving two levels.
 */
export class MakerCheckerError extends PermissionError {
  override readonly code = 'MAKER_CHECKER_VIOLATION' as const;
}

/** The decision names a level that is not (or no longer) the one deciding: someone else decided it first. */
export class ApprovalLevelMismatchError extends SealflowError {
  constructor(message: string, options: SealflowErrorOptions = {}) {
    super('APPROVAL_LEVEL_MISMATCH', message, options);
  }
}

export type ApprovalRefusal = PermissionError | ApprovalLevelMismatchError | ValidationError;

function currentLevel(context: ApprovalContext): ApprovalLevel {
  return context.levels[context.level - 1] ?? { name: `level ${context.level}`, roles: [] };
}

function describeRequest(context: ApprovalContext): string {
  return `the approval of ${context.code} v${context.version}`;
}

/** The level in the event is the one deciding now; a stale screen or a lost race is told who decided first. */
function levelMismatch(context: ApprovalContext, level: number): ApprovalLevelMismatchError | null {
  if (level === context.level) return null;
  const decidedBy = context.approvals.find((a) => a.level === level)?.actorId;
  const now = currentLevel(context);
  return new ApprovalLevelMismatchError(
    `Level ${level} of ${describeRequest(context)} is not the level deciding now` +
      (decidedBy ? ` (it was approved by ${decidedBy})` : '') +
      `; the request is at level ${context.level} (${now.name}). Reload it and decide again if still needed.`,
    { details: { versionId: context.versionId, level, currentLevel: context.level, decidedBy } },
  );
}

function missingRole(context: ApprovalContext, roles: readonly string[]): PermissionError | null {
  const level = currentLevel(context);
  if (level.roles.some((role) => roles.includes(role))) return null;
  const needed = level.roles.join(' or ');
  return new PermissionError(
    `Level ${context.level} (${level.name}) of ${describeRequest(context)} needs the role ${needed}; ` +
      `the actor has ${roles.length ? roles.join(', ') : 'no roles'}.`,
    { details: { missingRole: level.roles[0], acceptedRoles: level.roles, level: context.level } },
  );
}

/** Why `actorId` may not approve now, or null when the approval is allowed. */
export function approvalRefusal(
  context: ApprovalContext,
  event: { actorId: string; roles: readonly string[]; level: number },
): ApprovalRefusal | null {
  // Checked before the level: a maker is told they are a maker whichever level they aim at.
  if (samePerson(event.actorId, context.submittedBy)) {
    return new MakerCheckerError(
      `${event.actorId} submitted ${describeRequest(context)} and cannot approve it (maker-checker): ask another approver.`,
      { details: { rule: 'submitterCannotApprove', level: context.level } },
    );
  }
  // `makers` is missing only from requests started before makers were recorded; the submitter check covers those.
  if ((context.makers ?? []).includes(normaliseActorId(event.actorId))) {
    return new MakerCheckerError(
      `${event.actorId} created or edited ${describeRequest(context)} and cannot approve it at any level ` +
        '(maker-checker): ask an approver who did not work on this version.',
      { details: { rule: 'makerCannotApprove', level: context.level } },
    );
  }
  const mismatch = levelMismatch(context, event.level);
  if (mismatch) return mismatch;
  const earlier = context.approvals.find((a) => samePerson(a.actorId, event.actorId));
  if (earlier) {
    return new MakerCheckerError(
      `${event.actorId} already approved level ${earlier.level} of ${describeRequest(context)}; ` +
        'nobody approves two levels of the same request (maker-checker).',
      { details: { rule: 'oneLevelPerPerson', level: context.level, approvedLevel: earlier.level } },
    );
  }
  return missingRole(context, event.roles);
}

/** Why `actorId` may not reject now, or null. The submitter withdraws instead of rejecting. */
export function rejectionRefusal(
  context: ApprovalContext,
  event: { actorId: string; roles: readonly string[]; level: number; reason: string },
): ApprovalRefusal | null {
  const mismatch = levelMismatch(context, event.level);
  if (mismatch) return mismatch;
  if (typeof event.reason !== 'string' || event.reason.trim() === '') {
    return new ValidationError('A rejection needs a reason: it is shown to the submitter and kept in the history.', {
      details: { field: 'reason' },
    });
  }
  if (samePerson(event.actorId, context.submittedBy)) {
    return new MakerCheckerError(
      `${event.actorId} submitted ${describeRequest(context)}; the submitter withdraws it instead of rejecting it.`,
      { details: { rule: 'submitterCannotDecide', level: context.level } },
    );
  }
  return missingRole(context, event.roles);
}

/** Only the submitter withdraws a pending request. */
export function withdrawalRefusal(context: ApprovalContext, event: { actorId: string }): PermissionError | null {
  if (samePerson(event.actorId, context.submittedBy)) return null;
  return new PermissionError(
    `Only ${context.submittedBy}, who submitted ${describeRequest(context)}, can withdraw it; ${event.actorId} cannot.`,
    { details: { rule: 'submitterOnly' } },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The machine

/** The last level approves: announced in the order a reader expects — the level, the approval, the new effective. */
const FINAL_APPROVAL = ['announceLevelApproval', 'recordApproval', 'announceApproval', 'announceEffective'] as const;

export const templateApprovalMachine = setup({
  types: {
    context: {} as ApprovalContext,
    input: {} as ApprovalInput,
    events: {} as ApprovalEvent,
    emitted: {} as TemplateDomainEvent,
  },
  delays: { approvalDeadline: ({ context }) => context.deadlineMs ?? 0 },
  guards: {
    hasDeadline: ({ context }) => context.deadlineMs !== null,
    mayApprove: ({ context, event }) => event.type === 'APPROVE' && approvalRefusal(context, event) === null,
    isLastLevel: ({ context }) => context.level === context.levels.length,
    supersedesEffective: ({ event }) => event.type === 'APPROVE' && !!event.supersedes,
    mayReject: ({ context, event }) => event.type === 'REJECT' && rejectionRefusal(context, event) === null,
    mayWithdraw: ({ context, event }) => event.type === 'WITHDRAW' && withdrawalRefusal(context, event) === null,
  },
  actions: {
    recordApproval: assign(({ context, event }) =>
      event.type === 'APPROVE'
        ? {
            approvals: [...context.approvals, { level: context.level, actorId: event.actorId }],
            level: context.level + 1,
          }
        : {},
    ),
    recordRejection: assign(({ context, event }) =>
      event.type === 'REJECT'
        ? { rejection: { level: context.level, actorId: event.actorId, reason: event.reason.trim() } }
        : {},
    ),
    recordWithdrawal: assign(({ event }) => (event.type === 'WITHDRAW' ? { withdrawnBy: event.actorId } : {})),
    markEscalated: assign({ escalated: true }),
    announceSubmission: emit(({ context }) => ({
      type: 'template.submitted' as const,
      ...eventBase(context),
      levels: context.levels.map((l) => l.name),
    })),
    // Before `recordApproval`, which moves the context on to the next level.
    announceLevelApproval: emit(({ context }) => ({
      type: 'template.level-approved' as const,
      ...eventBase(context),
      level: context.level,
      levelName: currentLevel(context).name,
      final: context.level === context.levels.length,
    })),
    announceApproval: emit(({ context }) => ({
      type: 'template.approved' as const,
      ...eventBase(context),
      levels: context.levels.map((l) => l.name),
    })),
    announceEffective: emit(({ context, event }) => ({
      type: 'template.effective' as const,
      ...eventBase(context),
      supersedes: (event.type === 'APPROVE' && event.supersedes?.versionId) || null,
    })),
    announceSuperseded: emit(({ context, event }) => {
      const superseded = event.type === 'APPROVE' ? event.supersedes : null;
      return {
        type: 'template.superseded' as const,
        versionId: superseded?.versionId ?? '',
        code: context.code,
        version: superseded?.version ?? 0,
        supersededBy: context.versionId,
        supersededByVersion: context.version,
      };
    }),
    announceRejection: emit(({ context }) => ({
      type: 'template.rejected' as const,
      ...eventBase(context),
      level: context.rejection?.level ?? context.level,
      levelName: currentLevel(context).name,
    })),
    announceWithdrawal: emit(({ context }) => ({ type: 'template.withdrawn' as const, ...eventBase(context) })),
    announceEscalation: emit(({ context }) => ({
      type: APPROVAL_ESCALATED_EVENT as typeof APPROVAL_ESCALATED_EVENT,
      versionId: context.versionId,
      code: context.code,
      version: context.version,
      level: context.level,
      levelName: currentLevel(context).name,
    })),
  },
}).createMachine({
  id: 'template-approval',
  context: ({ input }) => ({
    versionId: input.versionId,
    code: input.code,
    version: input.version,
    submittedBy: input.submittedBy,
    makers: approvalMakers(input.submittedBy, input.makers),
    levels: input.levels,
    level: 1,
    approvals: [],
    deadlineMs: input.deadlineMs ?? null,
    escalated: false,
    rejection: null,
    withdrawnBy: null,
  }),
  initial: 'pending',
  states: {
    pending: {
      // Entered once, when the request starts: a restored snapshot does not enter it again.
      entry: 'announceSubmission',
      initial: 'starting',
      states: {
        starting: { always: [{ guard: 'hasDeadline', target: 'onTime' }, { target: 'untimed' }] },
        onTime: {
          after: { approvalDeadline: { target: 'overdue', actions: ['markEscalated', 'announceEscalation'] } },
        },
        untimed: {},
        overdue: {},
      },
      on: {
        APPROVE: [
          {
            guard: and(['mayApprove', 'isLastLevel', 'supersedesEffective']),
            target: 'approved',
            actions: [...FINAL_APPROVAL, 'announceSuperseded'],
          },
          { guard: and(['mayApprove', 'isLastLevel']), target: 'approved', actions: FINAL_APPROVAL },
          { guard: 'mayApprove', actions: ['announceLevelApproval', 'recordApproval'] },
        ],
        REJECT: { guard: 'mayReject', target: 'rejected', actions: ['recordRejection', 'announceRejection'] },
        WITHDRAW: { guard: 'mayWithdraw', target: 'withdrawn', actions: ['recordWithdrawal', 'announceWithdrawal'] },
      },
    },
    approved: { type: 'final' },
    rejected: { type: 'final' },
    withdrawn: { type: 'final' },
  },
});

/**
 * Version 1 snapshots predate `makers`. Their creator and editors were not recorded in the machine, so the migration
 * can only name the submitter; the template service adds the version's recorded makers when it checks a decision.
 */
function addMakers(snapshot: { context: Omit<ApprovalContext, 'makers'> & { makers?: string[] } }) {
  return {
    ...snapshot,
    context: { ...snapshot.context, makers: approvalMakers(snapshot.context.submittedBy, snapshot.context.makers) },
  };
}

/**
 * The definition to register with `createRuntime({ workflows })`. Version 2 snapshots are today's shape: announcing
 * the lifecycle added emitted events and an optional field of APPROVE, neither of which a stored snapshot holds.
 */
export const templateApprovalWorkflow = defineWorkflow({
  id: TEMPLATE_APPROVAL_WORKFLOW,
  version: 2,
  machine: templateApprovalMachine,
  migrations: { 1: addMakers },
});
