/**
 * The signing record (签章记录): one per attempt, kept whether signing succeeds or fails, for query, download,
 * re-signing (补签) and evidence. It is a projection of the signing workflow, written in the same transaction as
 * every transition (`onTransition`), so the record and the workflow never disagree.
 *
 * Personal data: the customer appears only masked, plus a keyed HMAC of the ID number for queries. The plaintext
 * name, ID number and mobile never reach a record, a tag, an event or the audit log.
 */
import { z } from 'zod';
import { defineRepository } from '../repository.js';
import { Funding } from './scenes.js';

/** Every status a signing record can have, in lifecycle order. */
export const SIGNING_STATUSES = ['PENDING', 'SIGNING', 'AWAITING_FUNDER', 'COMPLETED', 'FAILED'] as const;
/** The zod schema of {@link SigningStatus}. */
export const SigningStatus = z.enum(SIGNING_STATUSES);
/** The status of a signing record. */
export type SigningStatus = z.infer<typeof SigningStatus>;

/** The names operations use in the back office. */
export const SIGNING_STATUS_LABELS: Readonly<Record<SigningStatus, string>> = {
  PENDING: '待签署',
  SIGNING: '签署中',
  AWAITING_FUNDER: '待资金方签署',
  COMPLETED: '签署完成',
  FAILED: '签署失败',
};

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The zod schema of {@link SigningFailure}. */
export const SigningFailure = z.object({
  /** A stable code hosts branch on, such as TEMPLATE_CHECK_FAILED or SIGNING_DEADLINE_PASSED. */
  code: z.string(),
  /** What happened and what a person can do about it; personal data masked. */
  message: z.string(),
  /** The workflow stage that failed: validating, rendering, startingVendorFlow, … */
  stage: z.string(),
});
/** Why a signing failed: the stage, a stable code and a message (masked). */
export type SigningFailure = z.infer<typeof SigningFailure>;

export const RecordTemplate = z.object({
  documentKey: z.string(),
  templateCode: z.string(),
  versionId: z.string(),
  version: z.number().int(),
  /** SHA-256 of the template PDF. */
  sha256,
});

export const RecordRenderedDocument = z.object({
  documentKey: z.string(),
  fileId: z.string(),
  sha256,
  size: z.number().int(),
});

/** The zod schema of {@link RecordTimestamp}. */
export const RecordTimestamp = z.object({
  /** The signature field the timestamp belongs to. */
  field: z.string(),
  /** `signature` (PAdES B-T, over the signature value) or `document` (a document timestamp over the byte ranges). */
  kind: z.enum(['signature', 'document']),
  /** The TimeStampToken's DER, base64. */
  token: z.string(),
  /** The TSA's genTime, epoch ms. */
  time: z.number().int(),
  /** The TSA certificate's subject; null when the token does not carry it. */
  tsaName: z.string().nullable(),
  /** The token's message imprint, lower-case hex. */
  imprint: z.string(),
  hashAlgorithm: z.enum(['sha256', 'sha384', 'sha512']),
});
/** An RFC 3161 timestamp in a signed document, as the vendor reported it. */
export type RecordTimestamp = z.infer<typeof RecordTimestamp>;

/** The zod schema of {@link RecordSignedDocument}. */
export const RecordSignedDocument = z.object({
  documentKey: z.string(),
  fileName: z.string(),
  fileId: z.string(),
  sha256,
  size: z.number().int(),
  /** Valid signatures found by the host's `verifyPdf`; null when the vendor's output cannot be checked locally. */
  signatures: z.number().int().nullable(),
  /** The RFC 3161 timestamps in the document, as the vendor reported them; empty when it reported none. */
  timestamps: z.array(RecordTimestamp).default([]),
});
/** A signed document of a signing record: where it is archived and its hash. */
export type RecordSignedDocument = z.infer<typeof RecordSignedDocument>;

/**
 * Where the record's evidence chain ends, sealed with the evidence key: the number of entries, the last entry's link,
 * and a seal over both together with the record's id, status and signed-document hashes. Written with every
 * transition, in its transaction; someone who removes the last evidence entries or edits these record fields cannot
 * re-seal it without the host's key.
 */
export const EvidenceAnchor = z.object({
  entries: z.number().int().min(0),
  head: z.string(),
  seal: z.string(),
});
/** Where a signing record's evidence chain ends, as recorded on the record. */
export type EvidenceAnchor = z.infer<typeof EvidenceAnchor>;

/** A seal an organisation signed with, as the vendor reported it. */
export const RecordSealUsed = z.object({
  role: z.string(),
  sealId: z.string(),
  /** SHA-256 of the signing certificate (DER), hex; null when the vendor does not expose the certificate. */
  certificateSha256: sha256.nullable(),
  certificateSerial: z.string().nullable(),
});
/** A seal used in a signing, as the vendor reported it. */
export type RecordSealUsed = z.infer<typeof RecordSealUsed>;

/** The zod schema of {@link RecordVendorAttempt}. */
export const RecordVendorAttempt = z.object({
  vendorId: z.string(),
  /**
   * `unavailable`: the vendor failed before it made a flow and confirmed it holds none, so the signing moved to the
   * next vendor of its route. `current`: the vendor the signing is with (`signed` once the record is COMPLETED,
   * `failed` once it is FAILED).
   */
  outcome: z.enum(['unavailable', 'current', 'signed', 'failed']),
  /** The failure's code, such as `VENDOR_UNAVAILABLE`; null while nothing failed at this vendor. */
  code: z.string().nullable(),
  /** When the vendor was left (unavailable), or when the signing reached its present outcome there; epoch ms. */
  at: z.number().int(),
});
/** One vendor a signing was sent to, in order: those it failed over from, then the one it is with. */
export type RecordVendorAttempt = z.infer<typeof RecordVendorAttempt>;

/** The zod schema of {@link SigningRecord}. */
export const SigningRecord = z.object({
  id: z.string(),
  businessNo: z.string(),
  scene: z.string(),
  funding: Funding,
  /** The funder assigned to a funder-funded loan; only it may sign (`signAsFunder`). */
  funderId: z.string().nullable(),
  attempt: z.number().int().min(1),
  previousAttemptId: z.string().nullable(),
  /** Set when a FAILED record was re-signed: the attempt that replaced it. */
  nextAttemptId: z.string().nullable(),
  status: SigningStatus,
  /** The workflow state, such as `vendorPhase.awaitingCompletion`: finer than `status`, for operations. */
  stage: z.string(),
  templates: z.array(RecordTemplate),
  rendered: z.array(RecordRenderedDocument),
  signed: z.array(RecordSignedDocument),
  vendor: z.object({ id: z.string(), flowId: z.string().nullable() }),
  /**
   * Every vendor the signing was sent to, in order: the ones it failed over from (unavailable, holding no flow for
   * it), then `vendor`. Empty while nothing was sent to a vendor (validating, rendering, a refused request) and in
   * records written before routes had fallbacks.
   */
  vendorAttempts: z.array(RecordVendorAttempt).default([]),
  /** The route's first vendor when the signing moved to a fallback (then `vendor` is the fallback); else null. */
  failedOverFrom: z.string().nullable().default(null),
  /** The seal and certificate each organisation signed with, as the vendor reported them. */
  sealsUsed: z.array(RecordSealUsed).default([]),
  failure: SigningFailure.nullable(),
  customer: z.object({ maskedName: z.string(), maskedIdNumber: z.string(), idNumberHash: sha256 }),
  funderSignature: z
    .object({ actorId: z.string(), funderId: z.string(), sealId: z.string(), at: z.number().int() })
    .nullable(),
  requestedBy: z.string(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  completedAt: z.number().int().nullable(),
  failedAt: z.number().int().nullable(),
  /** Null only for records written before evidence was anchored; `verifyEvidence` reports those. */
  evidence: EvidenceAnchor.nullable().default(null),
});
/**
 * A signing record: one attempt at signing one business number's documents in one scene, with its status,
 * parties, documents, seals and evidence anchor.
 */
export type SigningRecord = z.infer<typeof SigningRecord>;

/**
 * `(scene, businessNo, attempt)` is unique: the same business request never makes two records for one attempt.
 * Joined with spaces, which neither a scene code nor a business number can contain, so the key is unambiguous — and
 * not with NUL, which PostgreSQL text cannot store.
 */
export function signingUniqueKey(scene: string, businessNo: string, attempt: number): string {
  return `${scene} ${businessNo} ${attempt}`;
}

export const signingRecordRepository = defineRepository({
  kind: 'signing-record',
  label: 'signing record',
  schema: SigningRecord,
  id: (record) => record.id,
  uniqueKey: (record) => signingUniqueKey(record.scene, record.businessNo, record.attempt),
  // Tags are exact-match filters; the customer is only ever a keyed hash here.
  tags: (record) => ({
    businessNo: record.businessNo,
    scene: record.scene,
    status: record.status,
    customer: record.customer.idNumberHash,
    funder: record.funderId ?? undefined,
    flow: record.vendor.flowId === null ? undefined : flowTag(record.vendor.id, record.vendor.flowId),
  }),
});

/** The tag that finds a record from a vendor callback. */
export function flowTag(vendorId: string, flowId: string): string {
  return `${vendorId}:${flowId}`;
}

/** The record status for a workflow state (as dotted text). */
export function statusForState(stateValue: string): SigningStatus {
  if (stateValue === 'completed') return 'COMPLETED';
  if (stateValue === 'failed') return 'FAILED';
  if (stateValue === 'vendorPhase.awaitingFunder') return 'AWAITING_FUNDER';
  if (stateValue === 'validating' || stateValue === 'rendering') return 'PENDING';
  return 'SIGNING';
}
