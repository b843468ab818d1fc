/**
 * The complaint workflow (投诉) on the durable runtime.
 *
 * `received` → customer service accepts it, refuses it with a reply, or records it as a suggestion (thanked) →
 * `accepted` → routed by responsibility to a platform team (`withTeam`, which reviews it) or to an institution
 * (`withInstitution`: it checks, contacts the customer, handles it and reports back; the platform confirms the
 * report) → `investigating`: founded or not → founded: `deciding` (a penalty proposal naming the person responsible
 * and their direct superior) → `confirmingPenalty` (both confirm, two different people) → `awaitingFeedback` →
 * `closed` once the customer has been given the outcome.
 *
 * The institution's report window is a durable timer: when it passes, the complaint is marked overdue, the
 * `dispatch.complaint.report-overdue` event goes out and the institution and the person who routed it are notified;
 * the institution may still report. Notifications are `notify` effects (the outbox), their params built only from
 * the saved context, so a retry sends the same notification with the same id. The context holds no personal data
 * and no free text: those stay in the complaint record.
 */
import { and, assign, emit, not, setup } from 'xstate';
import {
  type Notification,
  type NotificationRecipient,
  type NotificationType,
  type NotificationValue,
  type Notifier,
  notificationEffect,
  recipientKey,
} from '../ports/notifier.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { DomainEvent, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow } from '../runtime/workflow-definition.js';
import { type ComplaintRecord, complaintRecords, type Penalty } from './complaint.js';
import { recordPenalty } from './complaint-penalties.js';
import {
  type ComplaintContext,
  type ComplaintEvent,
  type ComplaintInput,
  complaintRefusal,
  complaintStageOf,
  completesPenaltyConfirmation,
  confirmerRole,
} from './complaint-rules.js';

/** The workflow type id of complaints; the workflow id of a complaint is its complaint number. */
export const COMPLAINT_WORKFLOW = 'dispatch-complaint';

/** Three days: how long an institution has to report back when the service is not told otherwise. */
export const DEFAULT_REPORT_WITHIN_MS = 3 * 24 * 60 * 60 * 1000;

interface ComplaintEventBase {
  complaintNo: string;
}

/**
 * The complaint workflow's domain events (`runtime.onEvent`), each emitted once with a stable id, naming the
 * complaint by its number and never a person's data:
 * - `dispatch.complaint.received`, `.accepted`, `.refused`, `.suggestion-recorded`;
 * - `dispatch.complaint.routed`: to a platform `team` or an `institutionId`;
 * - `dispatch.complaint.report-overdue`: the institution did not report back in time (escalation);
 * - `dispatch.complaint.reported`, `.report-confirmed`, `.investigated` (`founded`);
 * - `dispatch.complaint.decided`: the decision is final — unfounded, or founded with its penalty confirmed by both
 *   confirmers — and recorded against `institutionId` (the routed institution, else the one complained about, else
 *   null) for the institution's statistics;
 * - `dispatch.complaint.closed`: the customer was given the outcome (`outcome`: `resolved`, `refused`, `suggestion`).
 */
export type ComplaintDomainEvent =
  | (ComplaintEventBase & {
      type: 'dispatch.complaint.received';
      applicationId: string | null;
      institutionId: string | null;
    })
  | (ComplaintEventBase & { type: 'dispatch.complaint.accepted' })
  | (ComplaintEventBase & { type: 'dispatch.complaint.refused' })
  | (ComplaintEventBase & { type: 'dispatch.complaint.suggestion-recorded' })
  | (ComplaintEventBase & {
      type: 'dispatch.complaint.routed';
      route: 'platform' | 'institution';
      team: string | null;
      institutionId: string | null;
    })
  | (ComplaintEventBase & { type: 'dispatch.complaint.report-overdue'; institutionId: string; dueAt: number })
  | (ComplaintEventBase & { type: 'dispatch.complaint.reported'; institutionId: string; overdue: boolean })
  | (ComplaintEventBase & { type: 'dispatch.complaint.report-confirmed'; institutionId: string })
  | (ComplaintEventBase & { type: 'dispatch.complaint.investigated'; founded: boolean })
  | (ComplaintEventBase & {
      type: 'dispatch.complaint.decided';
      institutionId: string | null;
      founded: boolean;
      penalty: Penalty | null;
    })
  | (ComplaintEventBase & { type: 'dispatch.complaint.closed'; outcome: 'resolved' | 'refused' | 'suggestion' });

/** The `type` of a {@link ComplaintDomainEvent}. */
export type ComplaintDomainEventType = ComplaintDomainEvent['type'];

/** Every complaint event type. */
export const COMPLAINT_EVENT_TYPES: readonly ComplaintDomainEventType[] = [
  'dispatch.complaint.received',
  'dispatch.complaint.accepted',
  'dispatch.complaint.refused',
  'dispatch.complaint.suggestion-recorded',
  'dispatch.complaint.routed',
  'dispatch.complaint.report-overdue',
  'dispatch.complaint.reported',
  'dispatch.complaint.report-confirmed',
  'dispatch.complaint.investigated',
  'dispatch.complaint.decided',
  'dispatch.complaint.closed',
];

/** True for a domain event emitted by the complaint workflow. */
export function isComplaintEvent(event: DomainEvent): event is DomainEvent & { payload: ComplaintDomainEvent } {
  return (COMPLAINT_EVENT_TYPES as readonly string[]).includes(event.type);
}

const routedInstitution = (context: ComplaintContext): string | null =>
  context.route?.kind === 'institution' ? context.route.institutionId : null;

/** The institution a decision counts against: the one it was routed to, else the one complained about. */
export function accountableInstitution(context: ComplaintContext): string | null {
  return routedInstitution(context) ?? context.institutionId;
}

/** When the routed institution's report is due; null unless routed to an institution. */
export function reportDueAt(context: ComplaintContext): number | null {
  return routedInstitution(context) !== null && context.routedAt !== null
    ? context.routedAt + context.reportWithinMs
    : null;
}

/** A notification about this complaint, its id derived from the complaint, the type and the recipient only. */
function notice(
  context: ComplaintContext,
  type: NotificationType,
  recipient: NotificationRecipient,
  data: Record<string, NotificationValue> = {},
): Notification {
  return {
    id: `complaint:${context.complaintNo}:${type}:${recipientKey(recipient)}`,
    recipient,
    type,
    data: { complaintNo: context.complaintNo, ...data },
  };
}

const institutionRecipient = (context: ComplaintContext): NotificationRecipient => ({
  kind: 'institution',
  id: routedInstitution(context) ?? '',
});

const by = (event: ComplaintEvent) => event.actorId;

const notify = (build: (context: ComplaintContext) => Notification) => ({
  type: 'notify' as const,
  params: ({ context }: { context: ComplaintContext }) => build(context),
});

/** The complaint machine; register it through {@link complaintWorkflow}, which adds the notifier and the record. */
export const complaintMachine = setup({
  types: {
    context: {} as ComplaintContext,
    input: {} as ComplaintInput,
    events: {} as ComplaintEvent,
    emitted: {} as ComplaintDomainEvent,
  },
  delays: { reportDeadline: ({ context }) => context.reportWithinMs },
  guards: {
    allowed: ({ context, event }) => complaintRefusal(context, event) === null,
    toInstitution: ({ event }) => event.type === 'ROUTE' && event.route.kind === 'institution',
    founded: ({ event }) => event.type === 'INVESTIGATE' && event.founded === true,
    secondConfirmation: ({ context }) => completesPenaltyConfirmation(context),
  },
  actions: {
    notify: (_, _params: Notification) => {},
    recordRoute: assign(({ event }) =>
      event.type === 'ROUTE' ? { route: event.route, routedBy: by(event), routedAt: event.at } : {},
    ),
    recordReport: assign(({ event }) => ({ reportedBy: by(event) })),
    markOverdue: assign({ reportOverdue: true }),
    recordFinding: assign(({ event }) => (event.type === 'INVESTIGATE' ? { founded: event.founded } : {})),
    recordUnfoundedDecision: assign(({ event }) => ({ decidedAt: event.at })),
    recordProposal: assign(({ event }) =>
      event.type === 'DECIDE'
        ? { penalty: event.penalty, responsibleId: event.responsibleId, superiorId: event.superiorId }
        : {},
    ),
    recordConfirmation: assign(({ context, event }) => ({
      confirmations: [
        ...context.confirmations,
        { actorId: by(event), as: confirmerRole(context, by(event)) ?? 'responsible', at: event.at },
      ],
    })),
    recordDecided: assign(({ event }) => ({ decidedAt: event.at })),
    recordClosed: assign(({ event }) => ({ closedAt: event.at })),
    announceReceived: emit(({ context }) => ({
      type: 'dispatch.complaint.received' as const,
      complaintNo: context.complaintNo,
      applicationId: context.applicationId,
      institutionId: context.institutionId,
    })),
    announceAccepted: emit(({ context }) => ({
      type: 'dispatch.complaint.accepted' as const,
      complaintNo: context.complaintNo,
    })),
    announceRefused: emit(({ context }) => ({
      type: 'dispatch.complaint.refused' as const,
      complaintNo: context.complaintNo,
    })),
    announceSuggestion: emit(({ context }) => ({
      type: 'dispatch.complaint.suggestion-recorded' as const,
      complaintNo: context.complaintNo,
    })),
    announceRouted: emit(({ context }) => ({
      type: 'dispatch.complaint.routed' as const,
      complaintNo: context.complaintNo,
      route: context.route?.kind ?? 'platform',
      team: context.route?.kind === 'platform' ? context.route.team : null,
      institutionId: routedInstitution(context),
    })),
    announceOverdue: emit(({ context }) => ({
      type: 'dispatch.complaint.report-overdue' as const,
      complaintNo: context.complaintNo,
      institutionId: routedInstitution(context) ?? '',
      dueAt: reportDueAt(context) ?? 0,
    })),
    announceReported: emit(({ context }) => ({
      type: 'dispatch.complaint.reported' as const,
      complaintNo: context.complaintNo,
      institutionId: routedInstitution(context) ?? '',
      overdue: context.reportOverdue,
    })),
    announceReportConfirmed: emit(({ context }) => ({
      type: 'dispatch.complaint.report-confirmed' as const,
      complaintNo: context.complaintNo,
      institutionId: routedInstitution(context) ?? '',
    })),
    announceInvestigated: emit(({ context }) => ({
      type: 'dispatch.complaint.investigated' as const,
      complaintNo: context.complaintNo,
      founded: context.founded === true,
    })),
    announceDecided: emit(({ context }) => ({
      type: 'dispatch.complaint.decided' as const,
      complaintNo: context.complaintNo,
      institutionId: accountableInstitution(context),
      founded: context.founded === true,
      penalty: context.founded === true ? context.penalty : null,
    })),
    announceClosed: emit(({ context }, params: { outcome: 'resolved' | 'refused' | 'suggestion' }) => ({
      type: 'dispatch.complaint.closed' as const,
      complaintNo: context.complaintNo,
      outcome: params.outcome,
    })),
  },
}).createMachine({
  id: COMPLAINT_WORKFLOW,
  context: ({ input }) => ({
    complaintNo: input.complaintNo,
    applicationId: input.applicationId,
    institutionId: input.institutionId,
    receivedBy: input.receivedBy,
    feedbackTo: input.customerId ? { kind: 'customer', id: input.customerId } : { kind: 'staff', id: input.receivedBy },
    reportWithinMs: input.reportWithinMs,
    route: null,
    routedBy: null,
    routedAt: null,
    reportedBy: null,
    reportOverdue: false,
    founded: null,
    penalty: null,
    responsibleId: null,
    superiorId: null,
    confirmations: [],
    decidedAt: null,
    closedAt: null,
  }),
  initial: 'received',
  states: {
    received: {
      entry: 'announceReceived',
      on: {
        ACCEPT: { guard: 'allowed', target: 'accepted', actions: 'announceAccepted' },
        REFUSE: {
          guard: 'allowed',
          target: 'refused',
          actions: [
            'recordClosed',
            'announceRefused',
            notify((c) => notice(c, 'complaint.refused', c.feedbackTo)),
            { type: 'announceClosed', params: { outcome: 'refused' } },
          ],
        },
        SUGGESTION: {
          guard: 'allowed',
          target: 'suggestion',
          actions: [
            'recordClosed',
            'announceSuggestion',
            notify((c) => notice(c, 'complaint.suggestion-recorded', c.feedbackTo)),
            { type: 'announceClosed', params: { outcome: 'suggestion' } },
          ],
        },
      },
    },
    accepted: {
      on: {
        ROUTE: [
          {
            guard: and(['allowed', 'toInstitution']),
            target: 'withInstitution',
            actions: [
              'recordRoute',
              'announceRouted',
              notify((c) => notice(c, 'complaint.routed', institutionRecipient(c), { reportDueAt: reportDueAt(c) })),
            ],
          },
          {
            guard: and(['allowed', not('toInstitution')]),
            target: 'withTeam',
            actions: ['recordRoute', 'announceRouted'],
          },
        ],
      },
    },
    withTeam: {
      on: { INVESTIGATE: investigate() },
    },
    withInstitution: {
      initial: 'onTime',
      states: {
        onTime: {
          after: {
            reportDeadline: {
              target: 'overdue',
              actions: [
                'markOverdue',
                'announceOverdue',
                notify((c) =>
                  notice(c, 'complaint.report-overdue', institutionRecipient(c), { reportDueAt: reportDueAt(c) }),
                ),
                notify((c) =>
                  notice(
                    c,
                    'complaint.report-overdue',
                    { kind: 'staff', id: c.routedBy ?? c.receivedBy },
                    {
                      reportDueAt: reportDueAt(c),
                      institutionId: routedInstitution(c),
                    },
                  ),
                ),
              ],
            },
          },
        },
        overdue: {},
      },
      on: { REPORT: { guard: 'allowed', target: 'reported', actions: ['recordReport', 'announceReported'] } },
    },
    reported: {
      on: { CONFIRM_REPORT: { guard: 'allowed', target: 'investigating', actions: 'announceReportConfirmed' } },
    },
    investigating: {
      on: { INVESTIGATE: investigate() },
    },
    deciding: {
      on: { DECIDE: { guard: 'allowed', target: 'confirmingPenalty', actions: 'recordProposal' } },
    },
    confirmingPenalty: {
      on: {
        CONFIRM_PENALTY: [
          {
            guard: and(['allowed', 'secondConfirmation']),
            target: 'awaitingFeedback',
            actions: ['recordConfirmation', 'recordDecided', 'announceDecided'],
          },
          { guard: 'allowed', actions: 'recordConfirmation' },
        ],
      },
    },
    awaitingFeedback: {
      on: {
        FEEDBACK: {
          guard: 'allowed',
          target: 'closed',
          actions: [
            'recordClosed',
            notify((c) => notice(c, 'complaint.feedback', c.feedbackTo, { founded: c.founded === true })),
            { type: 'announceClosed', params: { outcome: 'resolved' } },
          ],
        },
      },
    },
    closed: { type: 'final' },
    refused: { type: 'final' },
    suggestion: { type: 'final' },
  },
});

/** The two ways an investigation ends: founded → a decision with a penalty; unfounded → decided as is. */
function investigate() {
  return [
    {
      guard: and(['allowed', 'founded']),
      target: 'deciding',
      actions: ['recordFinding', 'announceInvestigated'],
    },
    {
      guard: 'allowed',
      target: 'awaitingFeedback',
      actions: ['recordFinding', 'announceInvestigated', 'recordUnfoundedDecision', 'announceDecided'],
    },
  ] as const;
}

/**
 * Keep the complaint record's stage, overdue flag and routed institution in step with the workflow, in the
 * transition's own transaction — whoever caused it: a command, or the report timer. The record does not exist yet
 * while the workflow starts: the service inserts it right after, in the same transaction.
 *
 * The stage stored before this transition tells when the penalty has just been confirmed (the record still says
 * `confirming-penalty`, the workflow has moved on): then, and only then, the penalty is recorded against the
 * accountable institution, in this same transaction, so it counts exactly once whoever sent the confirmation.
 */
async function mirrorIntoRecord(tx: PersistenceTransaction, state: WorkflowState): Promise<void> {
  const stored = await complaintRecords.get(tx, state.id);
  if (!stored) return;
  const context = state.context as ComplaintContext;
  const institutionId = accountableInstitution(context);
  if (
    stored.record.stage === 'confirming-penalty' &&
    complaintStageOf(state.stateValue) !== 'confirming-penalty' &&
    context.founded === true &&
    context.penalty !== null &&
    institutionId !== null
  ) {
    const at = context.decidedAt ?? state.updatedAt;
    await recordPenalty(tx, { complaintNo: context.complaintNo, institutionId, penalty: context.penalty, at });
  }
  const next: ComplaintRecord = {
    ...stored.record,
    stage: complaintStageOf(state.stateValue),
    reportOverdue: context.reportOverdue,
    routedInstitutionId: routedInstitution(context),
  };
  const { stage, reportOverdue, routedInstitutionId } = stored.record;
  if (
    stage === next.stage &&
    reportOverdue === next.reportOverdue &&
    routedInstitutionId === next.routedInstitutionId
  ) {
    return;
  }
  await complaintRecords.update(tx, stored, next, state.updatedAt);
}

/** What the complaint workflow needs to run: the notifier its `notify` effects deliver through. */
export interface ComplaintWorkflowDependencies {
  notifier: Notifier;
}

/** The definition to register with `createRuntime({ workflows })`. */
export function complaintWorkflow(dependencies: ComplaintWorkflowDependencies) {
  return defineWorkflow({
    id: COMPLAINT_WORKFLOW,
    version: 1,
    machine: complaintMachine,
    effects: { notify: notificationEffect(dependencies.notifier) },
    onTransition: mirrorIntoRecord,
  });
}
