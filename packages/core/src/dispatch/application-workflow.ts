/**
 * The loan application lifecycle as a machine on the durable runtime: intake (登记, 收集材料, 确认产品), loan review
 * (贷审) with its rejection check, dispatch outcome, institution processing (面签, 放款), settlement (结算) and the
 * ratings both sides give each other.
 *
 * The machine is pure: every fact from outside (the real-name check's result, the product's required materials, the
 * time) arrives in the event, and every guard is a rule from `application-rules.ts` that the service also uses to
 * explain a refusal. Domain events name the application by id and number, never the customer.
 */
import { and, assign, emit, not, setup } from 'xstate';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import type { DomainEvent, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow, type WorkflowDefinition } from '../runtime/workflow-definition.js';
import {
  type ApplicationContext,
  ApplicationStatus,
  type CustomerTags,
  LoanApplication,
  type ReviewDecision,
} from './application.js';
import {
  type ApplicationEvent,
  actingRole,
  completesMaterials,
  completesRatings,
  eventRefusal,
  mergeMaterials,
  missingMaterials,
  needsIntervention,
} from './application-rules.js';

/** The id of the application workflow definition, stored with every application's workflow row. */
export const DISPATCH_APPLICATION_WORKFLOW = 'dispatch-application';

/** What the service starts an application with; the rest of the context starts empty. */
export interface ApplicationWorkflowInput {
  applicationId: string;
  applicationNumber: string;
  customerManagerId: string;
  customer: CustomerTags;
  productCode: string;
  requiredMaterials: string[];
  amountFen: number;
  region: string;
  businessCategory: string;
  openedAt: number;
}

/** What every application domain event names: the application, never the customer. */
export interface ApplicationEventIds {
  applicationId: string;
  applicationNumber: string;
}

/**
 * The application lifecycle's domain events (`runtime.onEvent`), each emitted once with a stable id:
 * - `dispatch.application.submitted`: submitted for loan review, with product, amount, region and category;
 * - `dispatch.application.returned-for-materials`: an incomplete submission, or a reviewer asked for more;
 * - `dispatch.application.manual-intervention`: the third incomplete submission in a row; a person must act;
 * - `dispatch.application.passed`: the loan review passed it;
 * - `dispatch.application.dispatch-requested`: it waits for institutions (after a pass, or when processing failed);
 * - `dispatch.application.rejected`: finally rejected (rejection upheld, or rejected in manual intervention);
 * - `dispatch.application.settled`: payment confirmed; figures in fen.
 */
export type ApplicationDomainEvent =
  | (ApplicationEventIds & {
      type: 'dispatch.application.submitted';
      productCode: string;
      amountFen: number;
      region: string;
      businessCategory: string;
    })
  | (ApplicationEventIds & {
      type: 'dispatch.application.returned-for-materials';
      by: 'materials-check' | 'review';
      missingMaterials: string[];
      incompleteSubmissions: number;
    })
  | (ApplicationEventIds & { type: 'dispatch.application.manual-intervention'; incompleteSubmissions: number })
  | (ApplicationEventIds & { type: 'dispatch.application.passed' })
  | (ApplicationEventIds & {
      type: 'dispatch.application.dispatch-requested';
      dispatchRound: number;
      productCode: string;
      amountFen: number;
      region: string;
      businessCategory: string;
      /** Institutions that already took it and failed to process it. */
      excludedInstitutions: string[];
    })
  | (ApplicationEventIds & { type: 'dispatch.application.rejected'; stage: 'review' | 'manual-intervention' })
  | (ApplicationEventIds & {
      type: 'dispatch.application.settled';
      institutionId: string;
      disbursedFen: number;
      institutionCommissionFen: number;
      customerServiceFeeFen: number;
      commissionFen: number;
    });

/** The `type` of an {@link ApplicationDomainEvent}. */
export type ApplicationDomainEventType = ApplicationDomainEvent['type'];

/** Every application lifecycle event type. */
export const APPLICATION_EVENT_TYPES: readonly ApplicationDomainEventType[] = [
  'dispatch.application.submitted',
  'dispatch.application.returned-for-materials',
  'dispatch.application.manual-intervention',
  'dispatch.application.passed',
  'dispatch.application.dispatch-requested',
  'dispatch.application.rejected',
  'dispatch.application.settled',
];

/** True for a domain event emitted by the application workflow. */
export function isApplicationEvent(event: DomainEvent): event is DomainEvent & { payload: ApplicationDomainEvent } {
  return (APPLICATION_EVENT_TYPES as readonly string[]).includes(event.type);
}

const ids = (context: ApplicationContext): ApplicationEventIds => ({
  applicationId: context.applicationId,
  applicationNumber: context.applicationNumber,
});

function decision(event: ApplicationEvent, kind: ReviewDecision['decision'], reason: string | null): ReviewDecision {
  return { actorId: event.actorId, role: actingRole(event.roles, event.type), decision: kind, reason, at: event.at };
}

const reasonOf = (event: ApplicationEvent): string | null =>
  'reason' in event && typeof event.reason === 'string' ? event.reason.trim() : null;

/** The machine of one loan application. */
export const applicationMachine = setup({
  types: {
    context: {} as ApplicationContext,
    input: {} as ApplicationWorkflowInput,
    events: {} as ApplicationEvent,
    emitted: {} as ApplicationDomainEvent,
  },
  guards: {
    allowed: ({ context, event }) => eventRefusal(context, event) === null,
    materialsComplete: ({ context, event }) =>
      event.type === 'SUBMIT_MATERIALS' && completesMaterials(context, event.materials),
    interventionDue: ({ context }) => needsIntervention(context),
    resumes: ({ event }) => event.type === 'RESOLVE_INTERVENTION' && event.resolution === 'RESUME',
    completesRatings: ({ context, event }) => event.type === 'RATE' && completesRatings(context, event.side),
  },
  actions: {
    recordRegistration: assign(({ event }) =>
      event.type === 'CUSTOMER_REGISTERED' ? { identity: { method: event.method, verifiedAt: event.verifiedAt } } : {},
    ),
    recordCompleteMaterials: assign(({ context, event }) =>
      event.type === 'SUBMIT_MATERIALS'
        ? { materials: mergeMaterials(context.materials, event.materials), incompleteSubmissions: 0 }
        : {},
    ),
    recordIncompleteMaterials: assign(({ context, event }) =>
      event.type === 'SUBMIT_MATERIALS'
        ? {
            materials: mergeMaterials(context.materials, event.materials),
            incompleteSubmissions: context.incompleteSubmissions + 1,
            totalIncompleteSubmissions: context.totalIncompleteSubmissions + 1,
          }
        : {},
    ),
    recordResolution: assign(({ context, event }) =>
      event.type === 'RESOLVE_INTERVENTION'
        ? {
            incompleteSubmissions: 0,
            reviewDecisions: [
              ...context.reviewDecisions,
              decision(
                event,
                event.resolution === 'RESUME' ? 'INTERVENTION_RESUMED' : 'INTERVENTION_REJECTED',
                reasonOf(event),
              ),
            ],
          }
        : {},
    ),
    recordProduct: assign(({ event }) =>
      event.type === 'CONFIRM_PRODUCT'
        ? { productCode: event.productCode, requiredMaterials: event.requiredMaterials, productConfirmed: true }
        : {},
    ),
    recordDecision: assign(({ context, event }) => {
      const kinds: Partial<Record<ApplicationEvent['type'], ReviewDecision['decision']>> = {
        PASS: 'PASS',
        REJECT: 'REJECT',
        ASK_MORE: 'ASK_MORE',
        REJECTION_UPHELD: 'REJECTION_UPHELD',
        REJECTION_OVERTURNED: 'REJECTION_OVERTURNED',
      };
      const kind = kinds[event.type];
      if (!kind) return {};
      const reason =
        reasonOf(event) ?? (kind === 'REJECTION_UPHELD' ? (context.pendingRejection?.reason ?? null) : null);
      const pendingRejection =
        event.type === 'REJECT'
          ? { actorId: event.actorId, role: actingRole(event.roles, event.type), reason: event.reason.trim() }
          : null;
      return { reviewDecisions: [...context.reviewDecisions, decision(event, kind, reason)], pendingRejection };
    }),
    startDispatchRound: assign(({ context }) => ({ dispatchRound: context.dispatchRound + 1 })),
    recordInstitution: assign(({ event }) =>
      event.type === 'DISPATCH_SUCCEEDED' ? { institutionId: event.institutionId } : {},
    ),
    recordFaceSigning: assign(({ event }) => ({ faceSignedAt: event.at })),
    recordDisbursement: assign(({ event }) => (event.type === 'DISBURSED' ? { disbursedFen: event.amountFen } : {})),
    releaseInstitution: assign(({ context }) => ({
      failedInstitutions: context.institutionId
        ? [...new Set([...context.failedInstitutions, context.institutionId])]
        : context.failedInstitutions,
      institutionId: null,
      faceSignedAt: null,
      disbursedFen: null,
    })),
    recordSettlement: assign(({ event }) =>
      event.type === 'CONFIRM_SETTLEMENT'
        ? {
            settlement: {
              disbursedFen: event.disbursedFen,
              institutionCommissionFen: event.institutionCommissionFen,
              customerServiceFeeFen: event.customerServiceFeeFen,
              commissionFen: event.commissionFen,
            },
          }
        : {},
    ),
    recordCustomerConfirmation: assign(({ event }) => ({ customerConfirmedAt: event.at })),
    recordPayment: assign(({ event }) => ({ paymentConfirmedAt: event.at })),
    recordRating: assign(({ context, event }) =>
      event.type === 'RATE'
        ? {
            ratings: [
              ...context.ratings,
              { side: event.side, actorId: event.actorId, score: event.score, comment: event.comment, at: event.at },
            ],
          }
        : {},
    ),
    announceSubmission: emit(({ context }) => ({
      type: 'dispatch.application.submitted' as const,
      ...ids(context),
      productCode: context.productCode,
      amountFen: context.amountFen,
      region: context.region,
      businessCategory: context.businessCategory,
    })),
    // After the record actions, so the count and the missing kinds are those after this submission.
    announceReturn: emit(({ context, event }) => ({
      type: 'dispatch.application.returned-for-materials' as const,
      ...ids(context),
      by: event.type === 'ASK_MORE' ? ('review' as const) : ('materials-check' as const),
      missingMaterials: missingMaterials(context.requiredMaterials, context.materials),
      incompleteSubmissions: context.incompleteSubmissions,
    })),
    announceIntervention: emit(({ context }) => ({
      type: 'dispatch.application.manual-intervention' as const,
      ...ids(context),
      incompleteSubmissions: context.incompleteSubmissions,
    })),
    announcePass: emit(({ context }) => ({ type: 'dispatch.application.passed' as const, ...ids(context) })),
    announceDispatchRequest: emit(({ context }) => ({
      type: 'dispatch.application.dispatch-requested' as const,
      ...ids(context),
      dispatchRound: context.dispatchRound,
      productCode: context.productCode,
      amountFen: context.amountFen,
      region: context.region,
      businessCategory: context.businessCategory,
      excludedInstitutions: context.failedInstitutions,
    })),
    announceRejection: emit(({ context, event }) => ({
      type: 'dispatch.application.rejected' as const,
      ...ids(context),
      stage: event.type === 'RESOLVE_INTERVENTION' ? ('manual-intervention' as const) : ('review' as const),
    })),
    announceSettlement: emit(({ context }) => ({
      type: 'dispatch.application.settled' as const,
      ...ids(context),
      institutionId: context.institutionId ?? '',
      disbursedFen: context.settlement?.disbursedFen ?? 0,
      institutionCommissionFen: context.settlement?.institutionCommissionFen ?? 0,
      customerServiceFeeFen: context.settlement?.customerServiceFeeFen ?? 0,
      commissionFen: context.settlement?.commissionFen ?? 0,
    })),
  },
}).createMachine({
  id: DISPATCH_APPLICATION_WORKFLOW,
  context: ({ input }) => ({
    ...input,
    identity: null,
    productConfirmed: false,
    materials: [],
    incompleteSubmissions: 0,
    totalIncompleteSubmissions: 0,
    reviewDecisions: [],
    pendingRejection: null,
    dispatchRound: 0,
    institutionId: null,
    failedInstitutions: [],
    faceSignedAt: null,
    disbursedFen: null,
    settlement: null,
    customerConfirmedAt: null,
    paymentConfirmedAt: null,
    ratings: [],
  }),
  initial: 'registering',
  states: {
    registering: {
      on: { CUSTOMER_REGISTERED: { guard: 'allowed', target: 'collectingMaterials', actions: 'recordRegistration' } },
    },
    collectingMaterials: {
      on: {
        SUBMIT_MATERIALS: [
          {
            guard: and(['allowed', 'materialsComplete']),
            target: 'confirmingProduct',
            actions: 'recordCompleteMaterials',
          },
          {
            guard: and(['allowed', 'interventionDue']),
            target: 'manualIntervention',
            actions: ['recordIncompleteMaterials', 'announceIntervention'],
          },
          {
            guard: and(['allowed', not('materialsComplete')]),
            target: 'collectingMaterials',
            actions: ['recordIncompleteMaterials', 'announceReturn'],
          },
        ],
      },
    },
    manualIntervention: {
      on: {
        RESOLVE_INTERVENTION: [
          { guard: and(['allowed', 'resumes']), target: 'collectingMaterials', actions: 'recordResolution' },
          { guard: 'allowed', target: 'rejected', actions: ['recordResolution', 'announceRejection'] },
        ],
      },
    },
    confirmingProduct: {
      on: { CONFIRM_PRODUCT: { guard: 'allowed', target: 'productConfirmed', actions: 'recordProduct' } },
    },
    productConfirmed: {
      on: { SUBMIT_FOR_REVIEW: { guard: 'allowed', target: 'inReview', actions: 'announceSubmission' } },
    },
    inReview: {
      on: {
        PASS: {
          guard: 'allowed',
          target: 'dispatching',
          actions: ['recordDecision', 'announcePass', 'startDispatchRound', 'announceDispatchRequest'],
        },
        REJECT: { guard: 'allowed', target: 'rejectionCheck', actions: 'recordDecision' },
        ASK_MORE: { guard: 'allowed', target: 'collectingMaterials', actions: ['recordDecision', 'announceReturn'] },
      },
    },
    rejectionCheck: {
      on: {
        REJECTION_UPHELD: { guard: 'allowed', target: 'rejected', actions: ['recordDecision', 'announceRejection'] },
        // 待审出方案: back to review for a new plan.
        REJECTION_OVERTURNED: { guard: 'allowed', target: 'inReview', actions: 'recordDecision' },
      },
    },
    rejected: { type: 'final' },
    dispatching: {
      on: {
        DISPATCH_SUCCEEDED: { guard: 'allowed', target: 'institutionProcessing', actions: 'recordInstitution' },
        // No institution accepted: review again before the next cluster is tried.
        DISPATCH_EXHAUSTED: { guard: 'allowed', target: 'inReview' },
      },
    },
    institutionProcessing: {
      initial: 'awaitingFaceSigning',
      states: {
        awaitingFaceSigning: {
          on: { FACE_SIGNED: { guard: 'allowed', target: 'awaitingDisbursement', actions: 'recordFaceSigning' } },
        },
        awaitingDisbursement: {
          on: {
            DISBURSED: { guard: 'allowed', target: '#dispatch-application.settlement', actions: 'recordDisbursement' },
          },
        },
      },
      on: {
        PROCESSING_FAILED: {
          guard: 'allowed',
          target: 'dispatching',
          actions: ['releaseInstitution', 'startDispatchRound', 'announceDispatchRequest'],
        },
      },
    },
    settlement: {
      initial: 'awaitingSettlement',
      states: {
        awaitingSettlement: {
          on: { CONFIRM_SETTLEMENT: { guard: 'allowed', target: 'awaitingCustomer', actions: 'recordSettlement' } },
        },
        awaitingCustomer: {
          on: {
            CUSTOMER_CONFIRMED: { guard: 'allowed', target: 'awaitingPayment', actions: 'recordCustomerConfirmation' },
          },
        },
        awaitingPayment: {
          on: {
            PAYMENT_CONFIRMED: {
              guard: 'allowed',
              target: '#dispatch-application.settled',
              actions: ['recordPayment', 'announceSettlement'],
            },
          },
        },
      },
    },
    settled: {
      on: {
        RATE: [
          { guard: and(['allowed', 'completesRatings']), target: 'rated', actions: 'recordRating' },
          { guard: 'allowed', actions: 'recordRating' },
        ],
      },
    },
    rated: { on: { CLOSE: { guard: 'allowed', target: 'closed' } } },
    closed: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------------------------
// The stored application, written with every transition

/**
 * Applications as records, for queries: tagged by status, customer manager, institution and product (never by
 * anything personal), unique by application number. Written by the workflow's own transition hook, so the record
 * and the machine commit together whoever moves the machine.
 */
export const applicationRepository = defineRepository({
  kind: 'dispatch-application',
  schema: LoanApplication,
  label: 'loan application',
  id: (a) => a.applicationId,
  tags: (a) => ({
    status: a.status,
    customerManagerId: a.customerManagerId,
    institutionId: a.institutionId ?? undefined,
    productCode: a.productCode,
  }),
  uniqueKey: (a) => a.applicationNumber,
});

/** The application as it stands after a transition. */
export function applicationOf(state: WorkflowState): LoanApplication {
  const context = state.context as ApplicationContext;
  const status = ApplicationStatus.parse(state.stateValue.split('.')[0]);
  return { ...context, status, stage: state.stateValue, updatedAt: state.updatedAt };
}

async function storeApplication(tx: PersistenceTransaction, state: WorkflowState): Promise<void> {
  const application = applicationOf(state);
  const stored = await applicationRepository.get(tx, application.applicationId);
  if (stored) await applicationRepository.update(tx, stored, application, state.updatedAt);
  else await applicationRepository.insert(tx, application, state.updatedAt);
}

/**
 * The definition to register with `createRuntime({ workflows })` (or `createSealflow`'s `workflows`). Typed as a plain
 * definition: the machine's own type is an implementation detail that changes with every state added.
 */
export const applicationWorkflow: WorkflowDefinition = defineWorkflow({
  id: DISPATCH_APPLICATION_WORKFLOW,
  version: 1,
  machine: applicationMachine,
  onTransition: storeApplication,
});
