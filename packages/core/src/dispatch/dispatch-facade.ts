/**
 * Funder dispatch wired in one piece — what `createSealflow({ dispatch })` exposes as `sealflow.dispatch`:
 *
 * ```
 * application ──PASS──► requestDispatch ──► dispatch (offers in rounds) ──reportOutcome──► application
 *      ▲                                                          │ CHOSEN: DISPATCH_SUCCEEDED (funder fixed)
 *      └──────────── EXHAUSTED / CHOICE_EXPIRED / CANCELLED ──────┘        └─► startLoanContract (LOAN_CONTRACT,
 *                    (back to review for the next cluster)                       funding 'funder', its own seal)
 * ```
 *
 * Each arrow between workflows is a durable effect whose input is the sender's saved state, applied by the receiver
 * only while it still waits for it (the application in `dispatching` for that round): a retry after a crash, or two
 * workers racing, change nothing twice. Positions move in the dispatch's own transitions (ledger), settlement restores
 * them and counts the success (`settlementRestoresPosition`), and notifications go through the `Notifier` port.
 *
 * Hosts that want another shape use the parts (`applicationWorkflows`, `dispatchWorkflow`, `createOfferService` …);
 * this module only removes the wiring every host would otherwise retype.
 */
import { IllegalTransitionError, NotFoundError, PermissionError, SealflowError, ValidationError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Notifier } from '../ports/notifier.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { IdentityVerifier } from '../ports/signing-vendor.js';
import type { Runtime, WorkflowEvent } from '../runtime/runtime.js';
import type { WorkflowDefinition } from '../runtime/workflow-definition.js';
import { customerKeys } from '../signing/customer-data.js';
import type { SigningRecord } from '../signing/records.js';
import type { SigningService } from '../signing/signing-service.js';
import type { ApplicationContext, LoanProduct } from './application.js';
import { type ApplicationService, applicationWorkflows, createApplicationService } from './application-service.js';
import {
  applicationRepository,
  DISPATCH_APPLICATION_WORKFLOW,
  type DispatchRequestParams,
} from './application-workflow.js';
import { type ComplaintService, createComplaintService } from './complaint-service.js';
import { complaintWorkflow } from './complaint-workflow.js';
import { dispatchWorkflow } from './dispatch-workflow.js';
import {
  institutionRanking,
  ledgerPositions,
  notifierDelivery,
  processingFailureCounted,
  settlementRestoresPosition,
} from './dispatch-wiring.js';
import {
  getInstitution,
  type Institution,
  type InstitutionFilter,
  type InstitutionInput,
  listInstitutions,
  registerInstitution,
} from './institution.js';
import { createLedger, type Ledger, type MovementPageOptions, type TopUpInput, type TransferInput } from './ledger.js';
import { loanContractStarter, type LoanContractTerms, sealLoanContractTerms } from './loan-contract.js';
import type { DispatchConfig, DispatchOutcomeReport } from './offer.js';
import { offerViews } from './offer-projection.js';
import { createOfferService, type DispatchView, type OfferService, startDispatchWorkflow } from './offer-service.js';
import type { RankingWeights } from './ranking.js';
import { createRatingService, type RatingService } from './rating.js';
import { type DispatchActor, type DispatchRole, requireDispatchRole, requireInstitutionStaff } from './roles.js';

/** Options of funder dispatch, as `createSealflow({ dispatch })` takes them. */
export interface DispatchOptions {
  /** The loan products (loan types) on offer, with the materials each requires. */
  products: readonly LoanProduct[];
  /**
   * Where people are told of new offers, deadlines, the choice and complaints. Default: an in-memory notifier (its
   * messages are lost on exit), for development and tests.
   */
  notifier: Notifier;
  /** The staff recipient told that a customer may now choose (the follow-up managers' queue, say). */
  choiceDesk: string;
  /** Overrides of the dispatch rules (three live offers, nine institutions, 24 h windows, three days to choose). */
  config?: Partial<DispatchConfig>;
  /** Partial ranking weights laid over the defaults. */
  weights?: Partial<RankingWeights>;
  /** How long a routed institution has to report back on a complaint (default three days). */
  complaintReportWithinMs?: number;
  /** The signing scene of the loan contract started after the choice; default `LOAN_CONTRACT`. */
  loanContractScene?: string;
}

/** What dispatch is built from: the host's options and the SDK's shared parts. */
export interface DispatchParts extends DispatchOptions {
  identityVerifier: IdentityVerifier;
  hashKey: string | Uint8Array;
}

/** Institutions and their positions, as platform staff manage them and as an institution sees its own. */
export interface InstitutionDesk {
  /** Register an institution or update its profile (platform administrators). */
  register(actor: DispatchActor, input: InstitutionInput): Promise<Institution>;
  /** One institution: platform staff any, an institution's staff only their own. */
  get(actor: DispatchActor, institutionId: string): Promise<Institution>;
  /** Institutions in id order (platform staff). */
  list(actor: DispatchActor, filter?: InstitutionFilter): Promise<Institution[]>;
  /** Add to one of an institution's accounts (platform administrators, settlers). */
  topUp(actor: DispatchActor, input: Omit<TopUpInput, 'actorId'>): ReturnType<Ledger['topUp']>;
  /** Move between an institution's accounts (platform administrators, settlers). */
  transfer(actor: DispatchActor, input: Omit<TransferInput, 'actorId'>): ReturnType<Ledger['transfer']>;
  balances(actor: DispatchActor, institutionId: string): ReturnType<Ledger['balances']>;
  movements(
    actor: DispatchActor,
    institutionId: string,
    options?: MovementPageOptions,
  ): ReturnType<Ledger['movements']>;
  /** Re-add an institution's movements and compare with its balances. */
  verify(actor: DispatchActor, institutionId: string): ReturnType<Ledger['verify']>;
}

/** Funder dispatch as one object: see the module comment. */
export interface Dispatch {
  applications: ApplicationService;
  /**
   * The offers: institutions accept or decline, follow-up managers intervene. `choose` here also takes the terms the
   * customer agreed to, which start the funder-funded loan contract once the application reaches the institution.
   */
  offers: Omit<OfferService, 'choose'> & {
    choose(
      dispatchId: string,
      institutionId: string,
      actor: DispatchActor,
      contract?: LoanContractTerms,
    ): Promise<DispatchView>;
  };
  institutions: InstitutionDesk;
  complaints: ComplaintService;
  /** Ratings both sides gave after settlement (given with `applications.rate`). */
  ratings: Pick<RatingService, 'ratings' | 'meanScore'>;
  /**
   * The chosen institution signs the application's loan contract with its own seal (its profile's `sealId`, which
   * the seal registry must bind to it). Only its own staff may. After a 补签 it seals the latest attempt.
   */
  signLoanContract(actor: DispatchActor, applicationId: string): Promise<SigningRecord>;
  /** The notifier in use (the in-memory one by default: read what was sent with `delivered()`). */
  notifier: Notifier;
}

const PLATFORM_ROLES: DispatchRole[] = [
  'customer-manager',
  'loan-reviewer',
  'customer-service',
  'follow-up-manager',
  'settler',
  'review-supervisor',
  'platform-admin',
];
const LEDGER_KEEPERS: DispatchRole[] = ['platform-admin', 'settler'];
/** Who the workflows act as when one tells another: recorded in the audit log and on the application's decisions. */
const SYSTEM_ACTOR = 'system:dispatch';

/**
 * Funder dispatch in two steps, because the workflows must be registered when the runtime is created and the services
 * need the runtime: `workflows` for `createRuntime`, then `connect` once the runtime (and signing) exist. An effect
 * that runs before `connect` fails retryably and runs again later.
 */
export function dispatchSetup(parts: DispatchParts): {
  workflows: WorkflowDefinition[];
  connect(runtime: Runtime, signing: SigningService | null): Dispatch;
} {
  const keys = customerKeys(parts.hashKey);
  let connected: { runtime: Runtime; signing: SigningService | null } | null = null;
  const wired = () => {
    if (!connected) {
      throw new SealflowError('DISPATCH_NOT_CONNECTED', 'Dispatch is not connected to its runtime yet; retrying.', {
        retryable: true,
      });
    }
    return connected;
  };

  const workflows: WorkflowDefinition[] = [
    ...(applicationWorkflows({
      requestDispatch: (request) => startRequestedDispatch(wired().runtime, request, parts.config),
      startLoanContract: (request) => {
        const { runtime, signing } = wired();
        if (!signing) {
          throw new SealflowError('SIGNING_NOT_CONFIGURED', 'Dispatch has no signing service to start loan contracts.');
        }
        const start = loanContractStarter({
          keys,
          signing,
          read: (work) => runtime.persistence.transaction(work),
          ...(parts.loanContractScene ? { scene: parts.loanContractScene } : {}),
        });
        return start(request);
      },
    }) as WorkflowDefinition[]),
    dispatchWorkflow({
      positions: ledgerPositions(),
      rankCandidates: (input) =>
        institutionRanking({
          persistence: wired().runtime.persistence,
          ...(parts.weights ? { weights: parts.weights } : {}),
        })(input),
      notify: notifierDelivery(parts.notifier, { choiceDesk: parts.choiceDesk }),
      onOutcome: (report) => reportToApplication(wired().runtime, report),
    }) as unknown as WorkflowDefinition,
    complaintWorkflow({ notifier: parts.notifier }) as unknown as WorkflowDefinition,
  ];

  return {
    workflows,
    connect(runtime, signing) {
      connected = { runtime, signing };
      return createDispatchFacade(parts, runtime, signing, keys);
    },
  };
}

function createDispatchFacade(
  parts: DispatchParts,
  runtime: Runtime,
  signing: SigningService | null,
  keys: ReturnType<typeof customerKeys>,
): Dispatch {
  const { persistence } = runtime;
  const clock: Clock = runtime.clock;
  const read = <T>(work: (tx: PersistenceTransaction) => Promise<T>) => persistence.transaction(work);
  const applications = createApplicationService({
    runtime,
    identityVerifier: parts.identityVerifier,
    products: parts.products,
    hashKey: parts.hashKey,
    onSettled: settlementRestoresPosition(),
    offeredTo: async (tx, institutionId) => {
      const live = await Promise.all(
        (['open', 'accepted'] as const).map((status) =>
          offerViews.find(tx, { tags: { institutionId, status }, limit: 1000 }),
        ),
      );
      return live.flat().map((stored) => stored.record.applicationId);
    },
  });
  const failureCounted = processingFailureCounted();
  const offers = createOfferService({ runtime });
  const ledger = createLedger({ persistence, clock });
  const ratings = createRatingService({
    persistence,
    clock,
    settled: async (tx, applicationId, institutionId) => {
      const application = (await applicationRepository.get(tx, applicationId))?.record;
      return (
        application?.institutionId === institutionId && ['settled', 'rated', 'closed'].includes(application.status)
      );
    },
  });

  const institutions: InstitutionDesk = {
    async register(actor, input) {
      requireDispatchRole(actor, ['platform-admin'], 'register an institution');
      return (await read((tx) => registerInstitution(tx, input, clock.now()))).record;
    },
    async get(actor, institutionId) {
      requireOwnOrPlatform(actor, institutionId, 'see an institution');
      return (await read((tx) => getInstitution(tx, institutionId))).record;
    },
    async list(actor, filter) {
      requireDispatchRole(actor, PLATFORM_ROLES, 'list institutions');
      return (await read((tx) => listInstitutions(tx, filter))).map((stored) => stored.record);
    },
    async topUp(actor, input) {
      requireDispatchRole(actor, LEDGER_KEEPERS, "top up an institution's account");
      return ledger.topUp({ ...input, actorId: actor.id });
    },
    async transfer(actor, input) {
      requireDispatchRole(actor, LEDGER_KEEPERS, "move money between an institution's accounts");
      return ledger.transfer({ ...input, actorId: actor.id });
    },
    async balances(actor, institutionId) {
      requireOwnOrPlatform(actor, institutionId, "see an institution's position");
      return ledger.balances(institutionId);
    },
    async movements(actor, institutionId, options) {
      requireOwnOrPlatform(actor, institutionId, "see an institution's ledger");
      return ledger.movements(institutionId, options);
    },
    async verify(actor, institutionId) {
      requireOwnOrPlatform(actor, institutionId, "verify an institution's ledger");
      return ledger.verify(institutionId);
    },
  };

  return {
    applications: {
      ...applications,
      recordProcessingFailure: (actor, id, reason, options) =>
        applications.recordProcessingFailure(actor, id, reason, {
          alongside: async (tx, application) => {
            await failureCounted(tx, application);
            await options?.alongside?.(tx, application);
          },
        }),
    },
    offers: {
      ...offers,
      choose: async (dispatchId, institutionId, actor, contract) =>
        offers.choose(
          dispatchId,
          institutionId,
          actor,
          contract === undefined ? {} : { contract: sealLoanContractTerms(keys, contract) },
        ),
    },
    institutions,
    complaints: createComplaintService({
      runtime,
      ...(parts.complaintReportWithinMs ? { reportWithinMs: parts.complaintReportWithinMs } : {}),
    }),
    ratings: { ratings: ratings.ratings, meanScore: ratings.meanScore },
    async signLoanContract(actor, applicationId) {
      // Checked here because the id goes into the messages below, and an object there throws while being printed.
      if (typeof applicationId !== 'string' || applicationId.length === 0 || applicationId.length > 200) {
        throw new ValidationError(
          'applicationId must be the id of a loan application: a non-empty string of at most 200 characters.',
          { details: { path: 'applicationId' } },
        );
      }
      const application = await applications.get(actor, applicationId);
      if (!application) throw new NotFoundError(`There is no application ${applicationId} your institution may see.`);
      const funder = application.funder;
      requireInstitutionStaff(actor, funder?.id ?? '', 'sign a loan contract');
      const recordId = application.loanContract?.recordId;
      if (!signing || !funder || !recordId) {
        throw new SealflowError(
          'LOAN_CONTRACT_NOT_STARTED',
          `Application ${applicationId} has no loan contract to sign yet` +
            (application.loanContract?.error ? ` (${application.loanContract.error.message})` : '') +
            '; it starts once the customer has chosen your institution with the contract terms.',
        );
      }
      if (!funder.sealId) {
        throw new SealflowError(
          'INSTITUTION_HAS_NO_SEAL',
          `Institution ${funder.id} has no seal on its profile; register its sealId, bound to it in the seal registry.`,
        );
      }
      const current = await latestAttempt(signing, recordId);
      return signing.signAsFunder({ id: actor.id, funderId: funder.id }, current, { sealId: funder.sealId });
    },
    notifier: parts.notifier,
  };
}

/**
 * The attempt that stands for the application's loan contract: the one the dispatch started, or the 补签 that
 * replaced it after it failed (and so on), since operations re-sign without telling the application.
 */
async function latestAttempt(signing: SigningService, recordId: string): Promise<string> {
  let id = recordId;
  // Each 补签 links the failed attempt to its successor; the chain is short, the bound only guards a corrupt cycle.
  for (let hops = 0; hops < 100; hops++) {
    const next = (await signing.get(id))?.nextAttemptId;
    if (!next) return id;
    id = next;
  }
  return id;
}

/** Platform staff, or staff of this very institution. */
function requireOwnOrPlatform(actor: DispatchActor, institutionId: string, action: string): void {
  if (actor?.institutionId !== undefined || actor?.roles?.includes('institution')) {
    requireInstitutionStaff(actor, institutionId, action);
    return;
  }
  requireDispatchRole(actor, PLATFORM_ROLES, action);
  if (typeof institutionId !== 'string' || institutionId === '') {
    throw new PermissionError('Name the institution: institutionId is required.');
  }
}

/** The dispatch an application's pass (or processing failure) requested, started as of that step. */
async function startRequestedDispatch(
  runtime: Runtime,
  request: DispatchRequestParams,
  config: Partial<DispatchConfig> | undefined,
): Promise<void> {
  const { requestedAt, ...rest } = request;
  await startDispatchWorkflow(runtime, { ...rest, ...(config ? { config } : {}) }, requestedAt, {
    actor: SYSTEM_ACTOR,
    ifExists: 'return',
  });
}

/**
 * Tell the application how its dispatch ended — once: an application no longer waiting for this dispatch (already
 * told, or moved on) is left as it is.
 */
async function reportToApplication(runtime: Runtime, report: DispatchOutcomeReport): Promise<void> {
  const waiting = async () => {
    const state = await runtime.get(report.applicationId);
    if (!state || state.type !== DISPATCH_APPLICATION_WORKFLOW) return false;
    const context = state.context as ApplicationContext;
    return state.stateValue === 'dispatching' && context.dispatchRound === report.dispatchNo;
  };
  if (!(await waiting())) return;
  const base = { actorId: SYSTEM_ACTOR, roles: ['platform-admin'], at: report.at };
  let event: WorkflowEvent;
  if (report.outcome === 'CHOSEN' && report.institutionId) {
    const institution = (await runtime.persistence.transaction((tx) => getInstitution(tx, report.institutionId!)))
      .record;
    event = {
      ...base,
      type: 'DISPATCH_SUCCEEDED',
      institutionId: institution.id,
      funder: {
        id: institution.id,
        name: institution.name,
        creditCode: institution.creditCode,
        sealId: institution.sealId ?? null,
      },
      contract: report.contract,
      chosenBy: report.chosenBy,
    };
  } else {
    event = { ...base, type: 'DISPATCH_EXHAUSTED' };
  }
  try {
    await runtime.send(report.applicationId, event, { actor: SYSTEM_ACTOR });
  } catch (error) {
    // Another worker told it first: nothing left to do.
    if (error instanceof IllegalTransitionError && !(await waiting())) return;
    throw error;
  }
}
