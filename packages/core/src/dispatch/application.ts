/**
 * A loan application (贷款申请) on its way from intake to settlement: the record a customer manager opens, reviewers
 * decide, an institution processes and the platform settles.
 *
 * The customer's personal data never lives in the record: only masked forms (for people reading a screen) and keyed
 * hashes (to recognise the same customer again, and to check that the customer registered is the one the
 * application was opened for). Every type here is inferred from its zod schema, so the stored shape and the type
 * cannot drift apart.
 */
import { z } from 'zod';
import { fenSchema } from '../model/values.js';
import { organizationSealIdSchema } from '../signing/seals.js';
import { RATING_SIDES } from './rating.js';

/**
 * The stages of an application, named after the machine's top-level states:
 * - `registering` (登记): the customer manager registers the customer (membership and real-name check);
 * - `collectingMaterials` (收集材料): materials are submitted until complete;
 * - `manualIntervention` (人工介入): the third incomplete submission in a row; a person resumes or rejects it;
 * - `confirmingProduct` (确认产品): materials are complete; the customer manager confirms the loan product;
 * - `productConfirmed` (产品已确认): ready to be submitted for review;
 * - `inReview` (贷审): a loan reviewer passes, rejects or asks for more materials (待审出方案 after an overturned rejection);
 * - `rejectionCheck` (驳回合理性审核): a review supervisor checks a rejection is reasonable;
 * - `rejected` (已驳回): final;
 * - `dispatching` (派发中): institutions are being offered the application;
 * - `institutionProcessing` (机构处理): the chosen institution signs face to face (面签) and disburses (放款);
 * - `settlement` (结算): disbursed amount and commission confirmed, customer confirmed, payment confirmed;
 * - `settled` (已结算): both sides rate each other;
 * - `rated` (已评价): both ratings given;
 * - `closed` (已关闭): final.
 */
export const APPLICATION_STATUSES = [
  'registering',
  'collectingMaterials',
  'manualIntervention',
  'confirmingProduct',
  'productConfirmed',
  'inReview',
  'rejectionCheck',
  'rejected',
  'dispatching',
  'institutionProcessing',
  'settlement',
  'settled',
  'rated',
  'closed',
] as const;

/** One of {@link APPLICATION_STATUSES}. */
export const ApplicationStatus = z.enum(APPLICATION_STATUSES);
/** One of {@link APPLICATION_STATUSES}. */
export type ApplicationStatus = z.infer<typeof ApplicationStatus>;

/** How many incomplete submissions in a row send an application to manual intervention. */
export const INCOMPLETE_SUBMISSIONS_BEFORE_INTERVENTION = 3;

const ref = z
  .string()
  .min(1)
  .max(128)
  .refine((value) => !value.includes('\u0000'), 'must not contain U+0000');

const reasonSchema = z.string().trim().min(1, 'give a reason').max(2000);

/** A material kind: `id-card`, `income-proof`, `property-certificate`, … as the host names them. */
export const MaterialKind = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a material kind is lower-case letters, digits, ".", "_" or "-" (max 64)');

/** One material on file: its kind, the stored document if any, and whether the reviewer of materials found it complete. */
export const MaterialItem = z.object({
  kind: MaterialKind,
  documentId: ref.optional(),
  complete: z.boolean(),
});
/** One material on file. */
export type MaterialItem = z.infer<typeof MaterialItem>;

/** A loan product (贷款产品 / loan type) the platform offers, with the materials it requires. */
export const LoanProduct = z.object({
  code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a product code is letters, digits, ".", "_" or "-"'),
  name: z.string().min(1).max(200),
  /** Every kind listed must be on file and complete before the product can be confirmed. */
  requiredMaterials: z.array(MaterialKind).max(100),
  /** Inclusive bounds on the requested amount, in fen; absent means no bound. */
  minAmountFen: fenSchema.optional(),
  maxAmountFen: fenSchema.optional(),
});
/** A loan product the platform offers. */
export type LoanProduct = z.infer<typeof LoanProduct>;

/**
 * The customer as the record keeps them: masked forms for screens and keyed hashes (HMAC under the host's secret) to
 * recognise the same person; never the plain name, ID number or mobile.
 */
export const CustomerTags = z.object({
  maskedName: z.string(),
  maskedIdNumber: z.string(),
  maskedMobile: z.string(),
  idNumberHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Keyed fingerprint of name, ID number and mobile together: the registered customer must match it. */
  identityHash: z.string().regex(/^[0-9a-f]{64}$/),
});
/** The customer as the record keeps them. */
export type CustomerTags = z.infer<typeof CustomerTags>;

/** The decisions recorded on an application, from review and from the people who resolve its exceptions. */
export const REVIEW_DECISIONS = [
  'PASS',
  'REJECT',
  'ASK_MORE',
  'REJECTION_UPHELD',
  'REJECTION_OVERTURNED',
  'INTERVENTION_RESUMED',
  'INTERVENTION_REJECTED',
] as const;

/** One decision: who took it, in which role, what, why and when. */
export const ReviewDecision = z.object({
  actorId: z.string(),
  role: z.string(),
  decision: z.enum(REVIEW_DECISIONS),
  reason: z.string().nullable(),
  at: z.number().int(),
});
/** One decision on an application. */
export type ReviewDecision = z.infer<typeof ReviewDecision>;

/** The settlement as confirmed by the follow-up manager, all in integer fen. */
export const SettlementFigures = z.object({
  disbursedFen: fenSchema,
  institutionCommissionFen: fenSchema,
  customerServiceFeeFen: fenSchema,
  commissionFen: fenSchema,
});
/** The settlement figures, all in integer fen. */
export type SettlementFigures = z.infer<typeof SettlementFigures>;

/**
 * A rating after settlement (互相评价) as the application keeps it: 1 to 5 with a comment. The same rating is stored
 * in the ratings repository (`recordRating`) in the same transaction, where institution scores are computed.
 */
export const ApplicationRating = z.object({
  side: z.enum(RATING_SIDES),
  actorId: z.string(),
  score: z.number().int().min(1).max(5),
  comment: z.string().max(500),
  at: z.number().int(),
});
/** A rating after settlement, as the application keeps it. */
export type ApplicationRating = z.infer<typeof ApplicationRating>;

/** The chosen institution as the loan contract names it (资金方), fixed when dispatch succeeded. */
export const ApplicationFunder = z.object({
  id: z.string(),
  name: z.string(),
  creditCode: z.string(),
  /** The seal it signs loan contracts with, when it signs through sealflow: one id, or one per vendor. */
  sealId: organizationSealIdSchema.nullable(),
});
/** The chosen institution as the loan contract names it. */
export type ApplicationFunder = z.infer<typeof ApplicationFunder>;

/**
 * The funder-funded loan contract started after the customer's choice: its business number (the signing's key), the
 * signing record once started, or why it could not be started.
 */
export const ApplicationLoanContract = z.object({
  businessNo: z.string(),
  recordId: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
/** The loan contract of an application: see {@link ApplicationLoanContract}. */
export type ApplicationLoanContract = z.infer<typeof ApplicationLoanContract>;

/**
 * The workflow's context: everything the machine knows about an application. Times in it were carried in by the
 * events that set them (the service reads its clock before sending), so the machine itself stays pure.
 */
export const ApplicationContext = z.object({
  applicationId: z.string(),
  applicationNumber: z.string(),
  customerManagerId: z.string(),
  customer: CustomerTags,
  /** How the customer's real name was verified, once registered. */
  identity: z.object({ method: z.string().nullable(), verifiedAt: z.number().int().nullable() }).nullable(),
  productCode: z.string(),
  /** The kinds the product required when the application was opened or the product last confirmed. */
  requiredMaterials: z.array(MaterialKind),
  productConfirmed: z.boolean(),
  amountFen: fenSchema,
  region: z.string(),
  businessCategory: z.string(),
  materials: z.array(MaterialItem),
  /** Incomplete submissions since the last complete one or the last manual intervention. */
  incompleteSubmissions: z.number().int().nonnegative(),
  /** Incomplete submissions over the application's life. */
  totalIncompleteSubmissions: z.number().int().nonnegative(),
  reviewDecisions: z.array(ReviewDecision),
  /** The rejection waiting for its reasonableness check, if any. */
  pendingRejection: z.object({ actorId: z.string(), role: z.string(), reason: z.string() }).nullable(),
  /** How many times dispatch was requested (1 on the first pass). */
  dispatchRound: z.number().int().nonnegative(),
  /** The institution that took the application (dispatch outcome), while it is with one. */
  institutionId: z.string().nullable(),
  /** Institutions that took the application before and failed to process it. */
  failedInstitutions: z.array(z.string()),
  /** When dispatch was last requested (the pass, or the processing failure): the dispatch starts as of then. */
  dispatchRequestedAt: z.number().int().nullable().default(null),
  /** The institution that took the application, as a funder; null while it is with none. */
  funder: ApplicationFunder.nullable().default(null),
  /** The loan contract with that funder, when the customer's choice carried its terms. */
  loanContract: ApplicationLoanContract.nullable().default(null),
  faceSignedAt: z.number().int().nullable(),
  disbursedFen: fenSchema.nullable(),
  settlement: SettlementFigures.nullable(),
  customerConfirmedAt: z.number().int().nullable(),
  paymentConfirmedAt: z.number().int().nullable(),
  ratings: z.array(ApplicationRating),
  openedAt: z.number().int(),
});
/** The workflow's context: everything the machine knows about an application. */
export type ApplicationContext = z.infer<typeof ApplicationContext>;

/**
 * An application as stored and returned by queries: the machine's context plus where it stands. `stage` is the full
 * state (`institutionProcessing.awaitingDisbursement`), `status` its top level.
 */
export const LoanApplication = ApplicationContext.extend({
  status: ApplicationStatus,
  stage: z.string(),
  updatedAt: z.number().int(),
});
/** An application as stored and returned by queries. */
export type LoanApplication = z.infer<typeof LoanApplication>;

/** What a customer manager gives to open an application. The customer's data is checked, masked and hashed. */
export const NewApplicationInput = z.object({
  // At most 60, so the application id (`app:<number>`) fits every dispatch and ledger record that names it.
  applicationNumber: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/, 'an application number is letters, digits, ".", "_" or "-" (max 60)'),
  customer: z.object({ name: z.string(), idNumber: z.string(), mobile: z.string() }),
  productCode: z.string(),
  amountFen: z.number(),
  // The same codes institutions register, so ranking can match them.
  region: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'a region code is 1–32 letters, digits, "_" or "-", such as 310000 (GB/T 2260)'),
  businessCategory: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a business category is 1–64 letters, digits, "_", "." or "-", such as mortgage'),
});
/** What a customer manager gives to open an application. */
export type NewApplicationInput = z.infer<typeof NewApplicationInput>;

/** A reason given with a decision: trimmed, non-empty, at most 2000 characters. */
export const DecisionReason = reasonSchema;
