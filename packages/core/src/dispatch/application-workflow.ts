/**
 * The loan application lifecycle as a machine on the durable runtime: intake (登记, 收集材料, 确认产品), loan review
 * (贷审) with its rejection check, dispatch outcome, institution processing (面签, 放款), settlement (结算) and the
 * ratings both sides give each other.
 *
 * The machine is pure: every fact from outside (the real-name check's result, the product's required materials, the
 * time) arrives in the event, and every guard is a rule from `application-rules.ts` that the service also uses to
 * explain a refusal. Domain events name the application by id and number, never the customer.
 */
import { createHash } from 'node:crypto';
import { and, assign, emit, enqueueActions, not, setup } from 'xstate';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import type { DomainEvent, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow, type WorkflowDefinition } from '../runtime/workflow-definition.js';
import {
  type ApplicationContext,
  type ApplicationFunder,
  ApplicationStatus,
  type CustomerTags,
  LoanApplication,
  type ReviewDecision,
} from './application.js';
import {
  type ApplicationEvent,
  type ApplicationEventBase,
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

/**
 * What the application asks for when dispatch is requested (the `requestDispatch` effect's input), from saved state:
 * the round is the dispatch number, `requestedAt` the pass or failure that requested it.
 */
export interface DispatchRequestParams {
  applicationId: string;
  dispatchNo: number;
  amountFen: number;
  region: string;
  category: string;
  /** Institutions that took the application before and failed to process it. */
  excluded: string[];
  requestedAt: number;
}

/**
 * What the application asks for once an institution took it with the customer's contract terms (the
 * `startLoanContract` effect's input), from saved state and the event that recorded the choice.
 */
export interface LoanContractParams {
  applicationId: string;
  applicationNumber: string;
  businessNo: string;
  amountFen: number;
  productCode: string;
  funder: ApplicationFunder;
  /** The sealed terms the customer agreed to: consent and template values. */
  contract: string;
  /** Who recorded the customer's choice; the signing is asked for in their name. */
  requestedBy: string;
  at: number;
}

/** The results of the `startLoanContract` effect, as events the machine records. */
export type LoanContractResult = ApplicationEventBase &
  (
    | { type: 'LOAN_CONTRACT_STARTED'; businessNo: string; recordId: string }
    | { type: 'LOAN_CONTRACT_FAILED'; businessNo: string; error: { code: string; message: string } }
  );

function isLoanContractResult(event: { type: string }): event is LoanContractResult {
  return event.type === 'LOAN_CONTRACT_STARTED' || event.type === 'LOAN_CONTRACT_FAILED';
}

/**
 * The business number of an application's loan contract in a dispatch round: a new institution after a failed one
 * signs a new contract. Printable ASCII of at most 64 characters, as signing requires.
 */
export function loanContractBusinessNo(context: Pick<ApplicationContext, 'applicationNumber' | 'dispatchRound'>) {
  const plain = `${context.applicationNumber}-${context.dispatchRound}`;
  if (plain.length <= 64) return plain;
  const digest = createHash('sha256').update(context.applicationNumber).digest('hex').slice(0, 16);
  return `${context.applicationNumber.slice(0, 40)}-${digest}-${context.dispatchRound}`;
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
    events: {} as ApplicationEvent | LoanContractResult,
    emitted: {} as ApplicationDomainEvent,
  },
  guards: {
    allowed: ({ context, event }) => !isLoanContractResult(event) && eventRefusal(context, event) === null,
    materialsComplete: ({ context, event }) =>
      event.type === 'SUBMIT_MATERIALS' && completesMaterials(context, event.materials),
    interventionDue: ({ context }) => needsIntervention(context),
    resumes: ({ event }) => event.type === 'RESOLVE_INTERVENTION' && event.resolution === 'RESUME',
    completesRatings: ({ context, event }) => event.type === 'RATE' && completesRatings(context, event.side),
  },
  actions: {
    requestDispatch: (_, _params: DispatchRequestParams) => {},
    startLoanContract: (_, _params: LoanContractParams) => {},
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
      if (isLoanContractResult(event)) return {};
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
    startDispatchRound: assign(({ context, event }) => ({
      dispatchRound: context.dispatchRound + 1,
      dispatchRequestedAt: event.at,
    })),
    recordInstitution: assign(({ context, event }) =>
      event.type === 'DISPATCH_SUCCEEDED'
        ? {
            institutionId: event.institutionId,
            funder: event.funder ?? null,
            loanContract: event.contract
              ? { businessNo: loanContractBusinessNo(context), recordId: null, error: null }
              : null,
          }
        : {},
    ),
    recordLoanContract: assign(({ context, event }) => {
      const result = event as unknown as LoanContractResult;
      if (context.loanContract?.businessNo !== result.businessNo) return {};
      return result.type === 'LOAN_CONTRACT_STARTED'
        ? { loanContract: { ...context.loanContract, recordId: result.recordId, error: null } }
        : { loanContract: { ...context.loanContract, error: result.error } };
    }),
    recordFaceSigning: assign(({ event }) => ({ faceSignedAt: event.at })),
    recordDisbursement: assign(({ event }) => (event.type === 'DISBURSED' ? { disbursedFen: event.amountFen } : {})),
    releaseInstitution: assign(({ context }) => ({
      failedInstitutions: context.institutionId
        ? [...new Set([...context.failedInstitutions, context.institutionId])]
        : context.failedInstitutions,
      institutionId: null,
      funder: null,
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
    dispatchRequestedAt: null,
    funder: null,
    loanContract: null,
    faceSignedAt: null,
    disbursedFen: null,
    settlement: null,
    customerConfirmedAt: null,
    paymentConfirmedAt: null,
    ratings: [],
  }),
  initial: 'registering',
  // A loan contract's start is recorded wherever the application has got to by then.
  on: {
    LOAN_CONTRACT_STARTED: { actions: 'recordLoanContract' },
    LOAN_CONTRACT_FAILED: { actions: 'recordLoanContract' },
  },
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
      entry: {
        type: 'requestDispatch',
        params: ({ context }) => ({
          applicationId: context.applicationId,
          dispatchNo: context.dispatchRound,
          amountFen: context.amountFen,
          region: context.region,
          category: context.businessCategory,
          excluded: context.failedInstitutions,
          requestedAt: context.dispatchRequestedAt ?? context.openedAt,
        }),
      },
      on: {
        DISPATCH_SUCCEEDED: { guard: 'allowed', target: 'institutionProcessing', actions: 'recordInstitution' },
        // No institution accepted: review again before the next cluster is tried.
        DISPATCH_EXHAUSTED: { guard: 'allowed', target: 'inReview' },
      },
    },
    institutionProcessing: {
      entry: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'DISPATCH_SUCCEEDED' || !event.contract || !context.funder || !context.loanContract) return;
        enqueue({
          type: 'startLoanContract',
          params: {
            applicationId: context.applicationId,
            applicationNumber: context.applicationNumber,
            businessNo: context.loanContract.businessNo,
            amountFen: context.amountFen,
            productCode: context.productCode,
            funder: context.funder,
            contract: event.contract,
            requestedBy: event.chosenBy ?? event.actorId,
            at: event.at,
          },
        });
      }),
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
 * What the application workflow's effects do, supplied by the host's wiring (`createDispatch` does it): start the
 * dispatch a pass or a processing failure requested, and start the funder-funded loan contract once an institution
 * took the application with the customer's terms. Each is run at least once with the same input and idempotency key;
 * both must be idempotent. Without them the requests are recorded and nothing is started.
 */
export interface ApplicationLinks {
  requestDispatch?: (request: DispatchRequestParams, context: { idempotencyKey: string }) => Promise<void>;
  /** Returns the signing record's id; a refusal (thrown) is recorded on the application's `loanContract.error`. */
  startLoanContract?: (request: LoanContractParams, context: { idempotencyKey: string }) => Promise<string>;
}

const SYSTEM = { actorId: 'system', roles: [] as string[] };

/**
 * The definition to register with `createRuntime({ workflows })` (or `createSealflow`'s `workflows`), with the links
 * its effects follow. Typed as a plain definition: the machine's own type is an implementation detail that changes
 * with every state added.
 */
export function applicationWorkflowWith(links: ApplicationLinks = {}): WorkflowDefinition {
  return defineWorkflow({
    id: DISPATCH_APPLICATION_WORKFLOW,
    version: 1,
    machine: applicationMachine,
    effects: {
      requestDispatch: {
        async run(request: DispatchRequestParams, effect) {
          await links.requestDispatch?.(request, { idempotencyKey: effect.idempotencyKey });
        },
        onDone: () => null,
        onFailed: () => null,
      },
      startLoanContract: {
        async run(request: LoanContractParams, effect) {
          if (!links.startLoanContract) return null;
          const recordId = await links.startLoanContract(request, { idempotencyKey: effect.idempotencyKey });
          return { businessNo: request.businessNo, recordId, at: request.at };
        },
        onDone: (output: { businessNo: string; recordId: string; at: number } | null) =>
          output && { type: 'LOAN_CONTRACT_STARTED', ...SYSTEM, ...output },
        // The failure keeps no input, so the business number is the current contract's: a late failure of an earlier
        // round's contract cannot reach here, since each round's effect ends before the next round can start.
        onFailed: (error, params: LoanContractParams) => ({
          type: 'LOAN_CONTRACT_FAILED',
          ...SYSTEM,
          at: params.at,
          businessNo: params.businessNo,
          error: { code: error.code, message: error.message },
        }),
      },
    },
    onTransition: storeApplication,
  });
}

/** The application workflow without links: dispatch and loan contracts are started by the host itself. */
export const applicationWorkflow: WorkflowDefinition = applicationWorkflowWith();
