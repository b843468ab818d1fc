/**
 * The loan application service: a command for every step of the lifecycle, each taking the {@link DispatchActor}
 * who acts, and queries scoped to what that actor may see.
 *
 * Every command checks, before anything is written, the same rules the machine applies (`application-rules.ts`),
 * in the order a person should hear them: who may act, whether the application is at a stage that takes the step,
 * then what the step carries. The machine checks them again when the transition commits, so a race cannot slip past
 * them; a refusal there is explained by re-reading the application. The stored record is written by the workflow's
 * own transition hook, in the transition's transaction: a refused command writes nothing.
 */
import { AdapterError, ConflictError, ValidationError } from '../errors.js';
import { idNumberProblem, mobileProblem } from '../model/values.js';
import type { Clock } from '../ports/clock.js';
import type { Persistence, PersistenceTransaction } from '../ports/persistence.js';
import type { IdentityVerifier } from '../ports/signing-vendor.js';
import { maskIdNumber, maskMobile, maskName, maskText } from '../privacy.js';
import type { Runtime } from '../runtime/runtime.js';
import type { WorkflowDefinition } from '../runtime/workflow-definition.js';
import { customerKeys } from '../signing/customer-data.js';
import {
  type CustomerTags,
  type LoanApplication,
  LoanProduct,
  type MaterialItem,
  NewApplicationInput,
  type SettlementFigures,
} from './application.js';
import {
  type ApplicationHistoryEntry,
  type ApplicationListFilter,
  type ApplicationVisibility,
  findApplications,
  readApplication,
  readHistory,
} from './application-queries.js';
import type { ApplicationEventType } from './application-rules.js';
import {
  type ApplicationLinks,
  type ApplicationWorkflowInput,
  applicationOf,
  applicationWorkflow,
  applicationWorkflowWith,
  DISPATCH_APPLICATION_WORKFLOW,
} from './application-workflow.js';
import { storeSealedCustomer } from './loan-contract.js';
import { type RatingSide, recordRating } from './rating.js';
import { type DispatchActor, requireDispatchRole } from './roles.js';
import {
  type ApplicationAlongside,
  type EventFields,
  precheck,
  type ServiceContext,
  sendStep,
} from './application-steps.js';

export type { ApplicationAlongside } from './application-steps.js';

/** The customer's personal data, given only to open an application and to register the customer; never stored. */
export interface CustomerIdentity {
  name: string;
  idNumber: string;
  mobile: string;
}

/** Options of the dispatch-outcome and processing-failure commands. */
export interface ApplicationStepOptions {
  /** Writes that must commit or roll back with this step, inside its transaction. */
  alongside?: ApplicationAlongside;
}

/** Options of {@link createApplicationService}. */
export interface ApplicationServiceOptions {
  /** A runtime created with {@link applicationWorkflows} among its workflows. */
  runtime: Runtime;
  /** The runtime's persistence (the default); another one is refused, since records and workflows commit together. */
  persistence?: Persistence;
  /** Defaults to the runtime's clock. */
  clock?: Clock;
  /** The real-name check run when a customer manager registers the customer. */
  identityVerifier: IdentityVerifier;
  /** The loan products (loan types) on offer, with the materials each requires. */
  products: readonly LoanProduct[];
  /**
   * The host's secret (at least 16 bytes) for keyed hashes of customers' ID numbers; the same secret as signing's
   * `hashKey` gives the same hash there, so an application and its contracts can be matched without plain data.
   */
  hashKey: string | Uint8Array;
  /**
   * Runs in the transaction that confirms payment, with the settled application: where the dispatch integration
   * restores the chosen institution's position. Throwing rolls the confirmation back.
   */
  onSettled?: ApplicationAlongside;
  /** Which applications an institution may see besides the one dispatched to it; see {@link ApplicationVisibility}. */
  offeredTo?: ApplicationVisibility['offeredTo'];
}

/** A rating after settlement: the platform rates the institution, or the institution rates the platform. */
export interface ApplicationRatingInput {
  side: RatingSide;
  /** 1 to 5. */
  score: number;
  comment: string;
}

/** The loan application service; see {@link createApplicationService}. */
export interface ApplicationService {
  /** Open an application (customer manager); it starts in `registering`. */
  open(actor: DispatchActor, input: NewApplicationInput): Promise<LoanApplication>;
  /** Register the customer after a real-name check (the application's customer manager). */
  registerCustomer(actor: DispatchActor, applicationId: string, customer: CustomerIdentity): Promise<LoanApplication>;
  /** Submit materials; incomplete ones come back, and the third incomplete submission in a row needs a person. */
  submitMaterials(actor: DispatchActor, applicationId: string, materials: MaterialItem[]): Promise<LoanApplication>;
  /** Resolve a manual intervention: resume collecting materials, or reject (follow-up manager, review supervisor). */
  resolveIntervention(
    actor: DispatchActor,
    applicationId: string,
    resolution: 'RESUME' | 'REJECT',
    reason: string,
  ): Promise<LoanApplication>;
  /** Confirm the loan product, the registered one unless another configured product is named. */
  confirmProduct(actor: DispatchActor, applicationId: string, productCode?: string): Promise<LoanApplication>;
  submitForReview(actor: DispatchActor, applicationId: string): Promise<LoanApplication>;
  /** 贷审 passes it: dispatch is requested. */
  pass(actor: DispatchActor, applicationId: string, reason?: string): Promise<LoanApplication>;
  /** A loan reviewer or customer service rejects it; a review supervisor then checks the rejection. */
  reject(actor: DispatchActor, applicationId: string, reason: string): Promise<LoanApplication>;
  askForMore(actor: DispatchActor, applicationId: string, reason: string): Promise<LoanApplication>;
  upholdRejection(actor: DispatchActor, applicationId: string, reason?: string): Promise<LoanApplication>;
  /** The rejection was unreasonable: back to review for a new plan (待审出方案). */
  overturnRejection(actor: DispatchActor, applicationId: string, reason: string): Promise<LoanApplication>;
  dispatchSucceeded(
    actor: DispatchActor,
    applicationId: string,
    institutionId: string,
    options?: ApplicationStepOptions,
  ): Promise<LoanApplication>;
  /** No institution accepted: back to review before the next cluster is tried. */
  dispatchExhausted(
    actor: DispatchActor,
    applicationId: string,
    options?: ApplicationStepOptions,
  ): Promise<LoanApplication>;
  /** 面签, by staff of the institution it was dispatched to. */
  recordFaceSigning(actor: DispatchActor, applicationId: string): Promise<LoanApplication>;
  /** 放款, by staff of the institution it was dispatched to; at most the amount applied for. */
  recordDisbursement(actor: DispatchActor, applicationId: string, amountFen: number): Promise<LoanApplication>;
  /** Processing failed: the application is pending dispatch again, without this institution. */
  recordProcessingFailure(
    actor: DispatchActor,
    applicationId: string,
    reason: string,
    options?: ApplicationStepOptions,
  ): Promise<LoanApplication>;
  /** The follow-up manager confirms the figures; commission must equal institution commission + service fee. */
  confirmSettlement(actor: DispatchActor, applicationId: string, figures: SettlementFigures): Promise<LoanApplication>;
  confirmWithCustomer(actor: DispatchActor, applicationId: string): Promise<LoanApplication>;
  /** The settler confirms payment: settled, and `onSettled` runs in the same transaction. */
  confirmPayment(actor: DispatchActor, applicationId: string): Promise<LoanApplication>;
  rate(actor: DispatchActor, applicationId: string, rating: ApplicationRatingInput): Promise<LoanApplication>;
  close(actor: DispatchActor, applicationId: string): Promise<LoanApplication>;
  /** The application if the actor may see it, else null (an institution never learns of others' applications). */
  get(actor: DispatchActor, applicationId: string): Promise<LoanApplication | null>;
  find(actor: DispatchActor, filter?: ApplicationListFilter): Promise<LoanApplication[]>;
  /** The transitions of an application, oldest first, as its audit chain records them. */
  history(actor: DispatchActor, applicationId: string): Promise<ApplicationHistoryEntry[]>;
}

/**
 * The workflow definitions the runtime must be created with for the application service; `links` say how a requested
 * dispatch and a loan contract are started (`createDispatch` wires them; without them nothing is started).
 */
export function applicationWorkflows(links?: ApplicationLinks): WorkflowDefinition[] {
  return [links ? applicationWorkflowWith(links) : applicationWorkflow];
}

/** Create the application service over a runtime that runs {@link applicationWorkflows}. */
export function createApplicationService(options: ApplicationServiceOptions): ApplicationService {
  const ctx = serviceContext(options);
  const step = <T extends ApplicationEventType>(
    type: T,
    actor: DispatchActor,
    id: string,
    fields: EventFields<T>,
    alongside?: ApplicationAlongside,
  ) => sendStep(ctx, type, actor, id, fields, alongside);
  return {
    open: (actor, input) => openApplication(ctx, actor, input),
    registerCustomer: (actor, id, customer) => registerCustomer(ctx, actor, id, customer),
    submitMaterials: (actor, id, materials) => step('SUBMIT_MATERIALS', actor, id, { materials }),
    resolveIntervention: (actor, id, resolution, reason) =>
      step('RESOLVE_INTERVENTION', actor, id, { resolution, reason: maskReason(reason) }),
    confirmProduct: (actor, id, productCode) => confirmProduct(ctx, actor, id, productCode),
    submitForReview: (actor, id) => step('SUBMIT_FOR_REVIEW', actor, id, {}),
    pass: (actor, id, reason) => step('PASS', actor, id, { reason: maskReason(reason ?? null) }),
    reject: (actor, id, reason) => step('REJECT', actor, id, { reason: maskReason(reason) }),
    askForMore: (actor, id, reason) => step('ASK_MORE', actor, id, { reason: maskReason(reason) }),
    upholdRejection: (actor, id, reason) => step('REJECTION_UPHELD', actor, id, { reason: maskReason(reason ?? null) }),
    overturnRejection: (actor, id, reason) => step('REJECTION_OVERTURNED', actor, id, { reason: maskReason(reason) }),
    dispatchSucceeded: (actor, id, institutionId, o) =>
      step('DISPATCH_SUCCEEDED', actor, id, { institutionId }, o?.alongside),
    dispatchExhausted: (actor, id, o) => step('DISPATCH_EXHAUSTED', actor, id, {}, o?.alongside),
    recordFaceSigning: (actor, id) => step('FACE_SIGNED', actor, id, {}),
    recordDisbursement: (actor, id, amountFen) => step('DISBURSED', actor, id, { amountFen }),
    recordProcessingFailure: (actor, id, reason, o) =>
      step('PROCESSING_FAILED', actor, id, { reason: maskReason(reason) }, o?.alongside),
    confirmSettlement: (actor, id, figures) => step('CONFIRM_SETTLEMENT', actor, id, settlementFields(figures)),
    confirmWithCustomer: (actor, id) => step('CUSTOMER_CONFIRMED', actor, id, {}),
    confirmPayment: (actor, id) => step('PAYMENT_CONFIRMED', actor, id, {}, ctx.onSettled),
    rate: (actor, id, rating) => step('RATE', actor, id, ratingFields(rating), storeRating),
    close: (actor, id) => step('CLOSE', actor, id, {}),
    get: (actor, id) => ctx.persistence.transaction((tx) => readApplication(tx, ctx.visibility, actor, id)),
    find: (actor, filter) => ctx.persistence.transaction((tx) => findApplications(tx, ctx.visibility, actor, filter)),
    history: (actor, id) => ctx.persistence.transaction((tx) => readHistory(tx, ctx.visibility, actor, id)),
  };
}

function serviceContext(options: ApplicationServiceOptions): ServiceContext {
  const { runtime } = options;
  if (options.persistence && options.persistence !== runtime.persistence) {
    throw new ValidationError(
      "persistence must be the runtime's own: an application's record commits with its workflow. Omit it.",
      { details: { field: 'persistence' } },
    );
  }
  if (typeof options.identityVerifier?.check !== 'function') {
    throw new ValidationError('identityVerifier must be an IdentityVerifier: { check(person) }.', {
      details: { field: 'identityVerifier' },
    });
  }
  const parsed = LoanProduct.array().min(1).safeParse(options.products);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`products.${issue?.path.join('.')}: ${issue?.message}. Configure at least one product.`, {
      details: { field: 'products' },
    });
  }
  const products = new Map(parsed.data.map((p) => [p.code, p]));
  if (products.size !== parsed.data.length) {
    throw new ValidationError('products name a product code twice; give each product one code.', {
      details: { field: 'products' },
    });
  }
  return {
    runtime,
    persistence: runtime.persistence,
    clock: options.clock ?? runtime.clock,
    identityVerifier: options.identityVerifier,
    products,
    keys: customerKeys(options.hashKey),
    onSettled: options.onSettled,
    visibility: { offeredTo: options.offeredTo },
  };
}

/** Free text people type may still hold an ID number or a mobile: masked before it is kept anywhere. */
function maskReason<T extends string | null>(reason: T): T {
  return (typeof reason === 'string' ? maskText(reason) : reason) as T;
}

function settlementFields(figures: SettlementFigures): SettlementFigures {
  const f = (figures ?? {}) as Partial<SettlementFigures>;
  return {
    disbursedFen: f.disbursedFen as number,
    institutionCommissionFen: f.institutionCommissionFen as number,
    customerServiceFeeFen: f.customerServiceFeeFen as number,
    commissionFen: f.commissionFen as number,
  };
}

/** The rating just given, kept also where institution scores are computed, in the same transaction. */
async function storeRating(tx: PersistenceTransaction, application: LoanApplication): Promise<void> {
  const rating = application.ratings.at(-1);
  if (!rating || !application.institutionId) return;
  await recordRating(tx, {
    applicationId: application.applicationId,
    from: rating.side,
    institutionId: application.institutionId,
    score: rating.score,
    comment: rating.comment,
    by: rating.actorId,
    at: rating.at,
  });
}

function ratingFields(rating: ApplicationRatingInput): ApplicationRatingInput {
  const r = (rating ?? {}) as Partial<ApplicationRatingInput>;
  return {
    side: r.side as RatingSide,
    score: r.score as number,
    comment: typeof r.comment === 'string' ? maskText(r.comment) : (r.comment as unknown as string),
  };
}

function productProblem(ctx: ServiceContext, code: unknown): ValidationError | null {
  if (typeof code === 'string' && ctx.products.has(code)) return null;
  return new ValidationError(
    `There is no product '${String(code)}'. Products on offer: ${[...ctx.products.keys()].join(', ')}.`,
    { details: { field: 'productCode' } },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Intake

/** Check the customer's data without ever echoing it: messages from `values.ts` are already masked. */
function checkCustomer(customer: CustomerIdentity): void {
  const c = (customer ?? {}) as Partial<CustomerIdentity>;
  const name = typeof c.name === 'string' ? c.name.trim() : '';
  if (name === '' || name.length > 50) {
    throw new ValidationError("customer.name must be the customer's real name (1 to 50 characters).", {
      details: { field: 'customer.name' },
    });
  }
  const idProblem = idNumberProblem(c.idNumber as string);
  if (idProblem)
    throw new ValidationError(`customer.idNumber: ${idProblem}`, { details: { field: 'customer.idNumber' } });
  const mobile = mobileProblem(c.mobile as string);
  if (mobile) throw new ValidationError(`customer.mobile: ${mobile}`, { details: { field: 'customer.mobile' } });
}

function identityHash(ctx: ServiceContext, customer: CustomerIdentity): string {
  return ctx.keys.fingerprint({
    purpose: 'dispatch-customer',
    name: customer.name.trim(),
    idNumber: customer.idNumber.trim().toUpperCase(),
    mobile: customer.mobile.replace(/\D/g, '').slice(-11),
  });
}

function customerTags(ctx: ServiceContext, customer: CustomerIdentity): CustomerTags {
  return {
    maskedName: maskName(customer.name.trim()),
    maskedIdNumber: maskIdNumber(customer.idNumber.trim()),
    maskedMobile: maskMobile(customer.mobile.trim()),
    idNumberHash: ctx.keys.idNumberHash(customer.idNumber),
    identityHash: identityHash(ctx, customer),
  };
}

/** The workflow (and application) id of an application number: one application per number, race-free. */
export function applicationIdOf(applicationNumber: string): string {
  return `app:${applicationNumber}`;
}

function newApplicationInput(ctx: ServiceContext, input: NewApplicationInput, actor: DispatchActor) {
  const parsed = NewApplicationInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'input';
    throw new ValidationError(`${field}: ${issue?.message}.`, { details: { field } });
  }
  const data = parsed.data;
  checkCustomer(data.customer);
  const unknown = productProblem(ctx, data.productCode);
  if (unknown) throw unknown;
  const product = ctx.products.get(data.productCode)!;
  if (!Number.isSafeInteger(data.amountFen) || data.amountFen <= 0) {
    throw new ValidationError('amountFen must be a positive whole number of fen (no decimals, no negatives, not 0).', {
      details: { field: 'amountFen' },
    });
  }
  const tooLow = product.minAmountFen !== undefined && data.amountFen < product.minAmountFen;
  const tooHigh = product.maxAmountFen !== undefined && data.amountFen > product.maxAmountFen;
  if (tooLow || tooHigh) {
    throw new ValidationError(
      `amountFen ${data.amountFen} is outside what product ${product.code} lends ` +
        `(${product.minAmountFen ?? 1} to ${product.maxAmountFen ?? 'any'} fen).`,
      { details: { field: 'amountFen' } },
    );
  }
  const workflowInput: ApplicationWorkflowInput = {
    applicationId: applicationIdOf(data.applicationNumber),
    applicationNumber: data.applicationNumber,
    customerManagerId: actor.id,
    customer: customerTags(ctx, data.customer),
    productCode: product.code,
    requiredMaterials: [...product.requiredMaterials],
    amountFen: data.amountFen,
    region: data.region,
    businessCategory: data.businessCategory,
    openedAt: ctx.clock.now(),
  };
  return workflowInput;
}

async function openApplication(
  ctx: ServiceContext,
  actor: DispatchActor,
  input: NewApplicationInput,
): Promise<LoanApplication> {
  requireDispatchRole(actor, ['customer-manager'], 'open an application');
  if (actor.institutionId) throw institutionOnly('open an application');
  const workflowInput = newApplicationInput(ctx, input, actor);
  try {
    const state = await ctx.runtime.start(DISPATCH_APPLICATION_WORKFLOW, {
      id: workflowInput.applicationId,
      input: workflowInput,
      actor: actor.id,
      // Sealed for the loan contract the dispatch ends in; the application record keeps only masks and hashes.
      alongside: (tx) =>
        storeSealedCustomer(tx, ctx.keys, workflowInput.applicationId, input.customer, workflowInput.openedAt),
    });
    return applicationOf(state);
  } catch (error) {
    if (error instanceof ConflictError && error.code === 'DUPLICATE') {
      throw new ConflictError(
        'DUPLICATE',
        `Application number ${workflowInput.applicationNumber} is already registered; use a new number or open the existing application.`,
        { details: { applicationNumber: workflowInput.applicationNumber } },
      );
    }
    throw error;
  }
}

function institutionOnly(action: string) {
  return new ValidationError(`Institution staff cannot ${action}; only platform staff can.`, {
    details: { field: 'actor' },
  });
}

async function registerCustomer(
  ctx: ServiceContext,
  actor: DispatchActor,
  id: string,
  customer: CustomerIdentity,
): Promise<LoanApplication> {
  checkCustomer(customer);
  const hash = identityHash(ctx, customer);
  // Refuse before calling the verifier: a real-name check costs money and must not run for a refused step.
  const preview = { verified: true, method: null, verifiedAt: null, identityHash: hash };
  await precheck(ctx, 'CUSTOMER_REGISTERED', actor, id, preview);
  let result: Awaited<ReturnType<IdentityVerifier['check']>>;
  try {
    result = await ctx.identityVerifier.check({
      name: customer.name.trim(),
      idNumber: customer.idNumber.trim(),
      mobile: customer.mobile.trim(),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AdapterError(`The real-name check could not be completed (${maskText(message)}); try again.`);
  }
  const verifiedAt =
    typeof result?.verifiedAt === 'number' && Number.isSafeInteger(result.verifiedAt) ? result.verifiedAt : null;
  return sendStep(ctx, 'CUSTOMER_REGISTERED', actor, id, {
    verified: result?.verified === true,
    method: typeof result?.method === 'string' ? result.method : null,
    verifiedAt,
    identityHash: hash,
  });
}

async function confirmProduct(
  ctx: ServiceContext,
  actor: DispatchActor,
  id: string,
  productCode?: string,
): Promise<LoanApplication> {
  const application = await precheck(ctx, 'CONFIRM_PRODUCT', actor, id, null);
  const code = productCode ?? application.productCode;
  const unknown = productProblem(ctx, code);
  if (unknown) throw unknown;
  const product = ctx.products.get(code)!;
  return sendStep(ctx, 'CONFIRM_PRODUCT', actor, id, {
    productCode: product.code,
    requiredMaterials: [...product.requiredMaterials],
  });
}
