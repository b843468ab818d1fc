/**
 * The signing service: the commands a lending system calls (sign, signAsFunder, resign, callbacks) and the queries of
 * the back office (get, find, download, evidence), over the signing workflow on the durable runtime.
 *
 * ```ts
 * const environment = { vendors: { local: createSigningGateway(localSigner(…)) }, documents, hashKey, verifyPdf,
 *   organizations: { platform: { name, creditCode, sealId } } };
 * const runtime = createRuntime({ persistence, workflows: [...templateWorkflows(), ...signingWorkflows(environment)] });
 * const templates = createTemplateService({ runtime, documents, approvalLevels });
 * const signing = createSigningService({ ...environment, runtime, templates, identityVerifier });
 * ```
 *
 * `sign` validates at once — template EFFECTIVE, values, business checks, consent, vendor capabilities, real-name
 * verification — so the caller gets a typed error immediately; a refused request still leaves a FAILED record with its
 * evidence. Everything after validation (render, vendor flow, download, verify, archive) runs in effects.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConflictError, NotFoundError, SealflowError, ValidationError } from '../errors.js';
import { dateInChina, idNumberProblem, mobileProblem } from '../model/values.js';
import type { ChainAttestation, ChainNotary } from '../ports/chain-notary.js';
import { type Clock, type Scheduler, systemScheduler } from '../ports/clock.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { DocumentStore } from '../ports/document-store.js';
import type { RawCallback, IdentityVerifier } from '../ports/signing-vendor.js';
import { maskIdNumber, maskName } from '../privacy.js';
import { defineRepository } from '../repository.js';
import type { ChainKeyring, ChainKeys } from '../runtime/audit-chain.js';
import type { DomainEvent, Runtime, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow, type WorkflowDefinition } from '../runtime/workflow-definition.js';
import {
  type CheckFailure,
  evaluateChecks,
  resolveValues,
  TemplateCheckError,
  TemplateValueError,
  type ValueProblem,
  valueProblems,
} from '../templates/checks.js';
import type { TemplateVersionView } from '../templates/model.js';
import type { TemplateService } from '../templates/template-service.js';
import { type CustomerKeys, customerKeys } from './customer-data.js';
import {
  type EvidencePackage,
  type EvidenceVerification,
  adoptEvidence,
  appendEvidence,
  archivedDocuments,
  attestEvidence,
  evidenceEntries,
  evidenceKeyring,
  exportEvidencePackage,
  verifyEvidence,
} from './evidence.js';
import type { SigningGateway } from './gateway.js';
import { type ClaimOutcome, claimSigningKey, isClaimRace, releaseSigningKey } from './request-claims.js';
import { type SealRegistration, SealNotOwnedError, sealRegistry } from './seals.js';
import {
  flowTag,
  type SigningFailure,
  type EvidenceAnchor,
  type SigningRecord,
  type SigningStatus,
  signingRecordRepository,
  statusForState,
} from './records.js';
import {
  type Funding,
  partiesFor,
  resolveScenes,
  type SceneParty,
  type SigningScene,
  type SigningSceneInput,
} from './scenes.js';
import {
  type OrganizationParty,
  type SealedRequest,
  signingEffects,
  resolutionRoot,
  type VerifyPdf,
} from './signing-effects.js';
import {
  type Consent,
  type FunderRef,
  failureOf,
  type PlannedDocument,
  type PlannedParty,
  type SigningContext,
  type SigningDomainEvent,
  type SigningInput,
  SIGNING_EVENT_TYPES,
  signingMachine,
} from './signing-machine.js';
import { jsonProblem } from '../model/json.js';
import { ownValue } from '../own-property.js';

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/** What the signing workflows' effects need; pass the same object to `signingWorkflows` and `createSigningService`. */
export interface SigningEnvironment {
  /** Gateways by vendor id (`createSigningGateway(vendor)`); the id is what routing, records and callbacks use. */
  vendors: Readonly<Record<string, SigningGateway>>;
  /** Where template PDFs are read and rendered and signed documents are kept (the template service's store). */
  documents: DocumentStore;
  /** Secret (≥ 16 bytes) for the keyed hash of ID numbers and for sealing personal data in workflows. */
  hashKey: string | Uint8Array;
  /**
   * Keys for the evidence chain and the records' evidence anchors (HMAC-SHA256): new entries use `current`, older
   * ones verify with the key id they recorded, so keep retired keys. Without it, a key derived from `hashKey` (key id
   * `hashkey`) is used; it stays accepted after you set this.
   */
  evidenceKeys?: ChainKeys;
  /** Signature check for vendors with PAdES output, e.g. `verifyPdfSignatures` from `@sealflow/adapter-local`. */
  verifyPdf?: VerifyPdf;
  /** Organisations that seal with a configured seal, by party role: `platform`, `paymentCompany`. */
  organizations?: Readonly<Record<string, OrganizationParty>>;
  /**
   * Which organisation each seal belongs to, by seal id: `{ 'bank-1-seal': { owner: { funderId: 'bank-1' } } }`.
   * Each organisation's own `sealId` is registered to it without being listed here. A funder signs (`signAsFunder`)
   * only with a seal registered to it; without registrations, no funder seal is accepted.
   */
  seals?: Readonly<Record<string, SealRegistration>>;
  /** The URL vendors with callbacks should notify, per vendor id. */
  callbackUrl?: (vendorId: string) => string;
  /**
   * How many template versions each process keeps parsed for rendering, least recently used dropped first;
   * default 32. A dropped version is read and parsed again the next time a contract uses it.
   */
  preparedTemplates?: number;
}

/** Which vendor signs what: by scene first, then by template code, then the default (or the only vendor). */
export interface SigningRouting {
  default?: string;
  scenes?: Readonly<Record<string, string>>;
  templates?: Readonly<Record<string, string>>;
}

export interface SigningServiceOptions extends SigningEnvironment {
  /** A runtime created with `signingWorkflows(environment)` among its workflows. */
  runtime: Runtime;
  templates: TemplateService;
  identityVerifier: IdentityVerifier;
  routing?: SigningRouting;
  /** Added to (or replacing by code) the default scenes. */
  scenes?: readonly SigningSceneInput[];
  /** Scene → document key → template code, overriding the scenes' defaults. */
  templateCodes?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** How long a vendor flow may take; default 30 minutes (a scene may set its own). */
  deadlineMs?: number;
  /** Polling of vendors without callbacks (default 2 s doubling to 60 s); with callbacks, a slow safety net. */
  polling?: { baseMs?: number; maxMs?: number; safetyNetMs?: number };
  /** Defaults to the runtime's clock. */
  clock?: Clock;
  /** Paces callers waiting for a concurrent identical request being validated in another process; default timers. */
  scheduler?: Scheduler;
  /**
   * Where evidence heads are published outside the database (an RFC 3161 authority, write-once storage). With it,
   * `attestEvidence` publishes a record's head, and verification and download require every attested head to still
   * be in its chain — which shows a signing deleted or put back to an earlier copy.
   */
  evidenceNotary?: ChainNotary;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands and queries

export interface SigningActor {
  id: string;
}

/** A funder's user: `funderId` is the funder (资金方) it acts for. */
export interface FunderActor {
  id: string;
  funderId: string;
}

export interface SignRequest {
  /** The host's business number (借据号, 授信申请号 …): with the scene, the idempotency key. */
  businessNo: string;
  scene: string;
  /** LOAN_CONTRACT: `platform` (default) or `funder`. */
  funding?: Funding;
  /** The assigned funder of a funder-funded loan. */
  funder?: FunderRef;
  borrower: { name: string; idNumber: string; mobile: string };
  /** Business values read by template variables' `source` paths, such as `{ loan: { amount: '50000.00' } }`. */
  values?: Record<string, unknown>;
  consent: Consent;
  actor: SigningActor;
}

export interface SigningQuery {
  businessNo?: string;
  /** Matched by its keyed hash; the plaintext is neither stored nor indexed. */
  customerIdNumber?: string;
  scene?: string;
  status?: SigningStatus;
  /** Inclusive bounds on the record's creation, epoch ms. */
  from?: number;
  to?: number;
  /** Default 100. */
  limit?: number;
  afterId?: string;
}

export interface DownloadedDocument {
  documentKey: string;
  fileName: string;
  fileId: string;
  sha256: string;
  bytes: Uint8Array;
}

export interface SigningService {
  /** Start signing, or return the signing already started for (businessNo, scene). Refusals throw, keeping a record. */
  sign(request: SignRequest): Promise<SigningRecord>;
  /** The assigned funder signs a funder-funded loan with its own seal. */
  signAsFunder(actor: FunderActor, recordId: string, options: { sealId: string }): Promise<SigningRecord>;
  /** 补签: a new attempt of a FAILED record, linked to it; idempotent. */
  resign(recordId: string, actor: SigningActor): Promise<SigningRecord>;
  get(recordId: string): Promise<SigningRecord | null>;
  find(query?: SigningQuery): Promise<SigningRecord[]>;
  /**
   * The archived signed PDFs, read now and checked against the hashes in the evidence (not the record row alone):
   * EVIDENCE_TAMPERED when the evidence chain or the record's sealed anchor does not verify,
   * ARCHIVED_DOCUMENT_MISMATCH when a file's bytes changed.
   */
  download(recordId: string): Promise<DownloadedDocument[]>;
  /** Where a person signs at the vendor (scenes with `vendorUi` signing). */
  signerUrl(recordId: string, role: string): Promise<{ url: string; expiresAt?: number }>;
  /** Verify, deduplicate and apply a vendor callback, as received (any HTTP framework). */
  handleVendorCallback(
    vendorId: string,
    callback: RawCallback,
  ): Promise<{ status: 'accepted' | 'duplicate'; recordId?: string }>;
  verifyEvidence(recordId: string): Promise<EvidenceVerification>;
  exportEvidencePackage(recordId: string): Promise<EvidencePackage>;
  /** Publish the record's evidence head to `evidenceNotary` (verified first); NOTARY_NOT_CONFIGURED without one. */
  attestEvidence(recordId: string): Promise<ChainAttestation>;
  /**
   * Put a finished record whose evidence was written before keyed chains under the evidence key (once, after
   * upgrading): checks it, appends a keyed `evidence.adopted` entry and anchors the record. EVIDENCE_TAMPERED when
   * the plain chain and the record disagree; idempotent.
   */
  adoptEvidence(recordId: string, actor: SigningActor): Promise<EvidenceAnchor>;
  readonly scenes: ReadonlyMap<string, SigningScene>;
}

/** A signing request that validation refused: `code` is the cause's (TEMPLATE_CHECK_FAILED, …); the record is kept. */
export class SigningRefusedError extends SealflowError {
  readonly recordId: string;

  constructor(recordId: string, failure: SigningFailure, cause?: SealflowError) {
    super(failure.code, `Signing ${recordId} was refused: ${failure.message}`, {
      ...(cause ? { cause } : {}),
      details: { ...cause?.details, recordId },
    });
    this.recordId = recordId;
  }
}

/** A funder acting on a loan that is not assigned to it. */
export class FunderNotAssignedError extends SealflowError {
  constructor(recordId: string, funderId: string) {
    super(
      'FUNDER_NOT_ASSIGNED',
      `Signing ${recordId} is not assigned to funder ${funderId}; a funder signs only its own loans.`,
      {
        details: { recordId, funderId },
      },
    );
  }
}

export function isSigningEvent(event: DomainEvent): event is DomainEvent & { payload: SigningDomainEvent } {
  return (SIGNING_EVENT_TYPES as readonly string[]).includes(event.type);
}

export const SIGNING_WORKFLOW = 'signing';

/** Failure stages at which the workflow had not seen the flow completed (see `failureOf` in the machine). */
const FAILED_BEFORE_DOWNLOAD: readonly string[] = [
  'startingVendorFlow',
  'checkingStatus',
  'funderSigning',
  'vendorPhase',
];

/** The workflow definitions to register in the runtime, with the same environment the service gets. */
export function signingWorkflows(environment: SigningEnvironment): WorkflowDefinition[] {
  const keys = customerKeys(environment.hashKey);
  const keyring = evidenceKeyring(environment);
  const { problems } = sealRegistry(environment.organizations ?? {}, environment.seals);
  if (problems.length) {
    throw new ValidationError(`The signing seals are misconfigured: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const { preparedTemplates } = environment;
  if (preparedTemplates !== undefined && !(Number.isSafeInteger(preparedTemplates) && preparedTemplates >= 1)) {
    throw new ValidationError('preparedTemplates must be a whole number of at least 1 (the default is 32).', {
      details: { path: 'preparedTemplates' },
    });
  }
  return [
    defineWorkflow({
      id: SIGNING_WORKFLOW,
      version: 1,
      machine: signingMachine,
      effects: signingEffects({
        vendors: environment.vendors,
        documents: environment.documents,
        keys,
        organizations: environment.organizations ?? {},
        ...(environment.verifyPdf ? { verifyPdf: environment.verifyPdf } : {}),
        ...(environment.callbackUrl ? { callbackUrl: environment.callbackUrl } : {}),
        ...(preparedTemplates !== undefined ? { preparedTemplates } : {}),
      }),
      onTransition: (tx, state) => projectSigning(tx, state, keyring),
    }),
  ];
}

/** Keep the record and the evidence in step with the workflow, inside the transition's transaction. */
async function projectSigning(tx: PersistenceTransaction, state: WorkflowState, keyring: ChainKeyring): Promise<void> {
  const context = state.context as SigningContext;
  const stored = await signingRecordRepository.get(tx, context.recordId);
  const previous = stored?.record ?? null;
  const next = recordFor(context, state, previous);
  // The evidence first: the record carries the anchor of the chain as it stands after this transition.
  const entries = evidenceEntries(previous, next, context, state.updatedAt);
  next.evidence = await appendEvidence(tx, keyring, next, entries, previous?.evidence ?? null);
  if (!stored) await signingRecordRepository.insert(tx, next, state.updatedAt);
  else await signingRecordRepository.update(tx, stored, next, state.updatedAt);
}

function recordFor(context: SigningContext, state: WorkflowState, previous: SigningRecord | null): SigningRecord {
  const status = statusForState(state.stateValue);
  return {
    id: context.recordId,
    businessNo: context.businessNo,
    scene: context.scene,
    funding: context.funding,
    funderId: context.funder?.id ?? null,
    attempt: context.attempt,
    previousAttemptId: context.previousAttemptId,
    nextAttemptId: previous?.nextAttemptId ?? null,
    status,
    stage: state.stateValue,
    templates: context.documents.map((d) => ({
      documentKey: d.key,
      templateCode: d.templateCode,
      versionId: d.versionId,
      version: d.version,
      sha256: d.templateSha256,
    })),
    rendered: (context.rendered ?? []).map((r) => ({
      documentKey: r.key,
      fileId: r.fileId,
      sha256: r.sha256,
      size: r.size,
    })),
    signed: (context.archived ?? []).map((a) => ({
      documentKey: a.key,
      fileName: a.fileName,
      fileId: a.fileId,
      sha256: a.sha256,
      size: a.size,
      signatures: context.fetched?.find((f) => f.key === a.key)?.signatures?.count ?? null,
    })),
    vendor: { id: context.vendorId, flowId: context.flow?.flowId ?? null },
    sealsUsed: (context.flow?.signers ?? []).flatMap((s) =>
      s.seal
        ? [
            {
              role: s.role,
              sealId: s.seal.sealId,
              certificateSha256: s.seal.certificateSha256 ?? null,
              certificateSerial: s.seal.certificateSerial ?? null,
            },
          ]
        : [],
    ),
    failure:
      status === 'FAILED' ? (context.failure ?? failureOf(state.stateValue, 'UNKNOWN', 'The signing failed.')) : null,
    customer: context.customer,
    funderSignature: context.funderSignature,
    requestedBy: context.requestedBy,
    createdAt: previous?.createdAt ?? state.createdAt,
    updatedAt: state.updatedAt,
    completedAt: status === 'COMPLETED' ? (previous?.completedAt ?? state.updatedAt) : null,
    failedAt: status === 'FAILED' ? (previous?.failedAt ?? state.updatedAt) : null,
    evidence: previous?.evidence ?? null,
  };
}

/** Vendor callbacks already applied, by vendor and event id: a redelivery is acknowledged, not applied again. */
const callbackReceipts = defineRepository({
  kind: 'signing-callback',
  label: 'signing callback',
  schema: z.object({
    id: z.string(),
    vendorId: z.string(),
    eventId: z.string(),
    flowId: z.string(),
    kind: z.string(),
    recordId: z.string(),
    applied: z.boolean(),
    receivedAt: z.number().int(),
  }),
  id: (receipt) => receipt.id,
  uniqueKey: (receipt) => receipt.id,
  tags: (receipt) => ({ recordId: receipt.recordId }),
});

// ---------------------------------------------------------------------------------------------------------------
// Request shape: what must hold before there is anything to keep a record of

const printable = z
  .string()
  .regex(/^[\x21-\x7e]{1,64}$/, { message: 'must be 1–64 printable ASCII characters without spaces.' });
const text = (max: number) => z.string().max(max, { message: `must be at most ${max} characters.` });
const SignRequestShape = z.object({
  businessNo: printable.describe("the host's business number (借据号, 授信申请号 …)"),
  scene: z.string().min(1).describe('the signing scene, such as LOAN_CONTRACT'),
  funding: z.enum(['platform', 'funder']).optional().describe('who funds the loan: platform or funder'),
  funder: z
    .object({
      id: printable.describe("the funder's id"),
      name: text(100).min(1).describe("the funder's registered name"),
      creditCode: text(18).min(1).describe("the funder's unified social credit code"),
    })
    .optional()
    .describe('the assigned funder of a funder-funded loan'),
  // Only the types here: their content is checked with the template values, so a bad one leaves a FAILED record.
  borrower: z
    .object({
      name: text(100).describe("the borrower's name"),
      idNumber: text(32).describe("the borrower's ID number"),
      mobile: text(32).describe("the borrower's mobile number"),
    })
    .describe('who borrows: name, idNumber and mobile'),
  // Values are kept in the workflow and fingerprinted as JSON: anything else is refused here, before any record.
  values: z
    .custom<Record<string, unknown>>(
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && jsonProblem(v) === undefined,
      { error: (issue) => jsonProblem(issue.input) ?? 'values must be an object keyed by source name.' },
    )
    .optional(),
  consent: z
    .object({
      at: z.number().int().nonnegative().describe('when the customer consented, epoch ms'),
      channel: text(64).min(1).describe('where the customer consented, such as app or h5'),
      ip: text(64).min(1).describe('the IP address the customer consented from'),
      device: text(200).min(1).describe('the device the customer consented on'),
      documentVersionsShown: z
        .array(text(100))
        .min(1, { message: 'list the template versions the customer was shown.' })
        .describe('the template versions the customer was shown'),
    })
    .describe("the customer's consent: at, channel, ip, device, documentVersionsShown"),
  actor: z.object({ id: text(100).min(1).describe('who asks for the signing') }).describe('who asks for the signing'),
});

/** The `.describe()` text of the field at `path`, to tell a person what the field is for. */
function describedAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  let field: z.ZodType | undefined = schema;
  for (const key of path) {
    while (field instanceof z.ZodOptional) field = field.unwrap() as z.ZodType;
    if (field instanceof z.ZodObject && typeof key === 'string') field = field.shape[key] as z.ZodType | undefined;
    else if (field instanceof z.ZodArray && typeof key === 'number') field = field.element as z.ZodType;
    else return undefined;
  }
  return field?.description;
}

/** One readable line per problem, naming the field: "consent.ip is required: the IP address …". */
function requestProblem(schema: z.ZodType, input: unknown, issue: z.core.$ZodIssue, where: string): string {
  const purpose = describedAt(schema, issue.path);
  const about = purpose === undefined ? '' : `: ${purpose}`;
  // zod leaves the input out of its issues (it may be personal data), so look at what was given at that path.
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${where} is required${about}`;
  if (issue.code === 'invalid_type') return `${where} must be ${article(issue.expected)}${about}`;
  if (issue.code === 'too_small' && issue.origin === 'string' && issue.minimum === 1) {
    return `${where} must not be empty${about}`;
  }
  return `${where}: ${issue.message}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path)
    at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function parseShape<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  // The request's own fields are named as the caller wrote them (consent.ip); other arguments by their name.
  const named = (path: readonly PropertyKey[]) =>
    (what === 'request' && path.length > 0 ? path : [what, ...path]).map(String).join('.');
  const problems = result.error.issues.map((i) => requestProblem(schema, value, i, named(i.path)));
  throw new ValidationError(`Invalid signing request — ${problems.join('; ')}`, {
    details: { paths: result.error.issues.map((i) => [what, ...i.path].join('.')) },
  });
}

/** How long a claimant may take to validate before another request may take the key over. */
const CLAIM_HOLD_MS = 60_000;
/** Callers waiting for a claimant in another process check every 25 ms, doubling to 1 s. */
const CLAIM_POLL_MS = 25;
const CLAIM_POLL_MAX_MS = 1_000;

/** Record ids arrive from hosts' URLs and queues: anything but a plausible id is refused before storage sees it. */
function checkRecordId(recordId: unknown): asserts recordId is string {
  if (typeof recordId !== 'string' || recordId.length === 0 || recordId.length > 200) {
    throw new ValidationError('A signing record id is a non-empty string of at most 200 characters, such as sgn_…_1.', {
      details: { paths: ['recordId'] },
    });
  }
}

const SigningQueryShape = z.object({
  businessNo: z.string().optional(),
  customerIdNumber: z.string().optional(),
  scene: z.string().optional(),
  status: z.string().optional(),
  from: z.number().optional(),
  to: z.number().optional(),
  limit: z.number().int().positive().optional(),
  afterId: z.string().optional(),
});

export function signingRecordId(scene: string, businessNo: string, attempt: number): string {
  return `sgn_${createHash('sha256').update(`${scene}\u0000${businessNo}`).digest('hex').slice(0, 24)}_${attempt}`;
}

// ---------------------------------------------------------------------------------------------------------------

export function createSigningService(options: SigningServiceOptions): SigningService {
  const { runtime, templates, documents, identityVerifier } = options;
  const clock = options.clock ?? runtime.clock;
  const scheduler = options.scheduler ?? systemScheduler;
  const keys: CustomerKeys = customerKeys(options.hashKey);
  const scenes = resolveScenes(options.scenes);
  const organizations = options.organizations ?? {};
  const { registry: seals, problems: sealProblems } = sealRegistry(organizations, options.seals);
  const vendorIds = Object.keys(options.vendors);
  const deadlineMs = options.deadlineMs ?? 30 * 60_000;
  const polling = {
    baseMs: options.polling?.baseMs ?? 2_000,
    maxMs: options.polling?.maxMs ?? 60_000,
    safetyNetMs: options.polling?.safetyNetMs ?? 5 * 60_000,
  };
  checkConfiguration();
  const transaction = <T>(work: (tx: PersistenceTransaction) => Promise<T>) => runtime.persistence.transaction(work);
  const evidenceDeps = {
    persistence: runtime.persistence,
    documents,
    now: () => clock.now(),
    keyring: evidenceKeyring(options),
    notary: options.evidenceNotary,
  };

  function checkConfiguration(): void {
    const problems: string[] = [...sealProblems];
    if (vendorIds.length === 0) problems.push('vendors: configure at least one signing gateway');
    for (const [id, gateway] of Object.entries(options.vendors)) {
      if (gateway.id !== id) problems.push(`vendors.${id}: the gateway's vendor id is "${gateway.id}"`);
      if (gateway.capabilities.padesOutput && !options.verifyPdf) {
        problems.push(`vendors.${id} signs PAdES: pass verifyPdf (e.g. verifyPdfSignatures) so signatures are checked`);
      }
    }
    const routed = [
      options.routing?.default,
      ...Object.values(options.routing?.scenes ?? {}),
      ...Object.values(options.routing?.templates ?? {}),
    ];
    for (const id of routed)
      if (id !== undefined && !ownValue(options.vendors, id)) problems.push(`routing names unknown vendor "${id}"`);
    if (problems.length) {
      throw new ValidationError(`The signing service is misconfigured: ${problems.join('; ')}.`, {
        details: { problems },
      });
    }
  }

  const configError = (message: string, details: Record<string, unknown>) =>
    new SealflowError('SIGNING_NOT_CONFIGURED', message, { details });

  function vendorFor(scene: SigningScene, codes: readonly string[]): string {
    const byScene = ownValue<string>(options.routing?.scenes, scene.code);
    if (byScene) return byScene;
    const byTemplate = [...new Set(codes.flatMap((c) => ownValue<string>(options.routing?.templates, c) ?? []))];
    if (byTemplate.length > 1) {
      throw configError(
        `Scene ${scene.code} signs its documents as one bundle, but routing sends its templates to ${byTemplate.join(' and ')}. Route the scene instead.`,
        { scene: scene.code },
      );
    }
    const chosen = byTemplate[0] ?? options.routing?.default ?? (vendorIds.length === 1 ? vendorIds[0] : undefined);
    if (!chosen)
      throw configError(`No vendor is routed for scene ${scene.code}; set routing.default.`, { scene: scene.code });
    return chosen;
  }

  async function getRecord(recordId: string): Promise<SigningRecord | null> {
    checkRecordId(recordId);
    return (await transaction((tx) => signingRecordRepository.get(tx, recordId)))?.record ?? null;
  }

  async function requireRecord(recordId: string): Promise<SigningRecord> {
    const record = await getRecord(recordId);
    if (!record) throw new NotFoundError(`There is no signing record ${recordId}.`, { details: { recordId } });
    return record;
  }

  /** The newest attempt of a chain of re-signs. */
  async function latestAttempt(record: SigningRecord): Promise<SigningRecord> {
    let current = record;
    while (current.nextAttemptId) current = await requireRecord(current.nextAttemptId);
    return current;
  }

  interface Plan {
    input: SigningInput;
    /** The original error, kept to throw with its class and details. */
    error: SealflowError | null;
  }

  /** Validate the request and plan the attempt; a refusal is part of the plan, not thrown. */
  async function plan(args: {
    recordId: string;
    scene: SigningScene;
    funding: Funding;
    funder: FunderRef | null;
    request: SealedRequest;
    consent: Consent;
    businessNo: string;
    attempt: number;
    previousAttemptId: string | null;
    actorId: string;
  }): Promise<Plan> {
    const { scene, funding, request, consent } = args;
    const now = clock.now();
    const signingDate = dateInChina(new Date(now));
    const sceneParties = partiesFor(scene, funding);
    const codes = scene.documents.map(
      (d) => ownValue<string>(ownValue(options.templateCodes, scene.code), d.key) ?? d.templateCode,
    );
    const vendorId = vendorFor(scene, codes);
    const gateway = ownValue<SigningGateway>(options.vendors, vendorId)!;
    const parties: PlannedParty[] = sceneParties.map((party) => ({
      role: party.role,
      kind: party.kind,
      signing: party.signing,
      order: party.order,
      organization: organizationFor(scene, party),
    }));
    const documentsPlanned: PlannedDocument[] = [];
    const input: SigningInput = {
      recordId: args.recordId,
      businessNo: args.businessNo,
      scene: scene.code,
      sceneName: scene.name,
      attempt: args.attempt,
      previousAttemptId: args.previousAttemptId,
      funding,
      funder: args.funder,
      vendorId,
      verifySignatures: gateway.capabilities.padesOutput,
      deadlineMs: scene.deadlineMs ?? deadlineMs,
      polling: gateway.capabilities.callbacks
        ? { baseMs: polling.safetyNetMs, maxMs: Math.max(polling.safetyNetMs, polling.maxMs) }
        : { baseMs: polling.baseMs, maxMs: polling.maxMs },
      signingDate,
      requestedBy: args.actorId,
      requestedAt: now,
      customer: {
        maskedName: maskName(request.borrower.name),
        maskedIdNumber: maskIdNumber(request.borrower.idNumber),
        idNumberHash: keys.idNumberHash(request.borrower.idNumber),
      },
      requestFingerprint: requestFingerprint({
        businessNo: args.businessNo,
        scene: scene.code,
        funding,
        funder: args.funder,
        request,
      }),
      consent,
      identityCheck: null,
      sealed: keys.seal(request),
      documents: documentsPlanned,
      parties,
      refusal: null,
    };
    const refuse = (error: SealflowError): Plan => ({
      input: { ...input, refusal: failureOf('validating', error.code, error.message) },
      error,
    });

    // 1. Every document's template must be EFFECTIVE (生效).
    const versions: TemplateVersionView[] = [];
    for (const code of codes) {
      try {
        versions.push(await templates.requireEffective(code));
      } catch (error) {
        if (error instanceof SealflowError && !error.retryable) return refuse(error);
        throw error;
      }
    }
    scene.documents.forEach((document, i) => {
      const version = versions[i]!;
      const definition = version.definition;
      const seals = definition.parties
        .filter((p) => sceneParties.some((s) => s.role === p.role))
        .map((p) => ({ role: p.role, placement: p.seal }));
      documentsPlanned.push({
        key: document.key,
        fileName: document.fileName,
        templateCode: version.code,
        versionId: version.id,
        version: version.version,
        templateFileId: version.pdf.fileId,
        templateSha256: version.pdf.sha256,
        fields: definition.variables.flatMap((v) =>
          v.placement
            ? [{ variable: v.key, source: v.source ?? null, placement: v.placement, rule: v.rule ?? null }]
            : [],
        ),
        seals,
        expectedSignatures: seals.length,
      });
    });
    const unplaced = sceneParties.filter((p) => !documentsPlanned.some((d) => d.seals.some((s) => s.role === p.role)));
    if (unplaced.length > 0) {
      return refuse(
        new SealflowError(
          'SCENE_TEMPLATE_MISMATCH',
          `Scene ${scene.code} has party ${unplaced.map((p) => p.role).join(', ')}, which no template of the scene places a seal for. Add the party to the template.`,
          { details: { roles: unplaced.map((p) => p.role) } },
        ),
      );
    }

    // 2. Values: each variable's type, and the borrower's identity fields themselves.
    const root = resolutionRoot(request, {
      businessNo: args.businessNo,
      signingDate,
      funder: args.funder,
      organizations,
    });
    const valuesByDocument = versions.map((v) => resolveValues(v.definition, root));
    const problems: ValueProblem[] = [];
    const seen = new Set<string>();
    const addProblem = (p: ValueProblem) => {
      if (seen.has(p.message)) return;
      seen.add(p.message);
      problems.push(p);
    };
    for (const [i, v] of versions.entries()) valueProblems(v.definition, valuesByDocument[i]!).forEach(addProblem);
    const idProblem = idNumberProblem(request.borrower.idNumber);
    if (idProblem && !problems.some((p) => /idNumber|IdNo/i.test(p.variable))) {
      addProblem({ variable: 'borrower.idNumber', message: `borrower ID number: ${idProblem}` });
    }
    const mobile = mobileProblem(request.borrower.mobile);
    if (mobile && !problems.some((p) => /mobile|phone/i.test(p.variable))) {
      addProblem({ variable: 'borrower.mobile', message: `borrower mobile: ${mobile}` });
    }
    if (request.borrower.name.trim() === '')
      addProblem({ variable: 'borrower.name', message: 'borrower name is required.' });
    if (problems.length > 0) return refuse(new TemplateValueError(problems));

    // 3. Business checks (业务校验), every failing rule with its own message.
    // Documents of a bundle often share a check (授信合同 and 授权书 both check the age): report each rule once.
    const failures: CheckFailure[] = [];
    for (const [i, v] of versions.entries()) {
      for (const f of evaluateChecks(v.definition, valuesByDocument[i]!, { now })) {
        if (!failures.some((g) => g.kind === f.kind && g.variable === f.variable && g.message === f.message)) {
          failures.push(f);
        }
      }
    }
    if (failures.length > 0) return refuse(new TemplateCheckError(failures));

    // 4. The consent must cover exactly the versions being signed.
    const unseen = versions.filter((v) => !consent.documentVersionsShown.includes(v.id));
    if (unseen.length > 0) {
      return refuse(
        new SealflowError(
          'CONSENT_NOT_COVERING',
          `The customer's consent lists ${consent.documentVersionsShown.join(', ')}, but ${unseen.map((v) => v.id).join(', ')} would be signed. Show the customer the current version and ask again.`,
          { details: { shown: consent.documentVersionsShown, required: versions.map((v) => v.id) } },
        ),
      );
    }

    // 5. The vendor must be able to sign this scene as configured.
    const capabilityProblem = capabilityRefusal(gateway, sceneParties);
    if (capabilityProblem) return refuse(capabilityProblem);

    // 6. Real-name verification (实名认证) last: it may cost a call to the host's verifier.
    const identity = await identityVerifier.check({
      name: request.borrower.name,
      idNumber: request.borrower.idNumber,
      mobile: request.borrower.mobile,
    });
    if (!identity.verified) {
      return refuse(
        new SealflowError(
          'CUSTOMER_NOT_VERIFIED',
          `Customer ${input.customer.maskedName} (${input.customer.maskedIdNumber}) has not passed real-name verification (实名认证); verify the customer first.`,
        ),
      );
    }
    return {
      input: {
        ...input,
        identityCheck: { method: identity.method ?? null, verifiedAt: identity.verifiedAt ?? null },
      },
      error: null,
    };
  }

  function organizationFor(scene: SigningScene, party: SceneParty): OrganizationParty | null {
    if (party.kind !== 'organization' || party.signing !== 'auto') return null;
    const organization = ownValue<OrganizationParty>(organizations, party.role);
    if (!organization) {
      throw configError(
        `Scene ${scene.code} needs the ${party.role} organisation's name, credit code and seal: add organizations.${party.role}.`,
        { scene: scene.code, role: party.role },
      );
    }
    // The auto-seal is the organisation's own: start-up refuses a seal registered to anyone else.
    if (!seals.belongsTo(organization.sealId, party.role)) {
      throw new SealNotOwnedError(organization.sealId, party.role, { scene: scene.code });
    }
    return organization;
  }

  function capabilityRefusal(gateway: SigningGateway, parties: readonly SceneParty[]): SealflowError | null {
    const { capabilities } = gateway;
    const missing: string[] = [];
    if (parties.some((p) => p.kind === 'person' && p.signing === 'auto') && !capabilities.personAutoSign) {
      missing.push('personAutoSign (the customer signs by consent)');
    }
    if (parties.some((p) => p.kind === 'organization' && p.signing === 'auto') && !capabilities.organizationAutoSeal) {
      missing.push('organizationAutoSeal');
    }
    if (parties.some((p) => p.signing === 'ownCall') && !capabilities.appendSigners) {
      missing.push('appendSigners (the funder signs with its own call)');
    }
    if (parties.length > capabilities.maxSignersPerFlow) missing.push(`maxSignersPerFlow ≥ ${parties.length}`);
    if (missing.length === 0) return null;
    return new SealflowError(
      'VENDOR_UNSUPPORTED',
      `Vendor "${gateway.id}" cannot sign this scene: it lacks ${missing.join(', ')}. Route the scene to another vendor.`,
      { details: { vendor: gateway.id, missing } },
    );
  }

  /** Start an attempt from a plan; a refused plan still starts (and at once fails) the workflow, so a record is kept. */
  async function startAttempt(
    planned: Plan,
    actorId: string,
    alongside?: (tx: PersistenceTransaction) => Promise<void>,
  ): Promise<SigningRecord> {
    const { recordId } = planned.input;
    const state = await runtime.start(SIGNING_WORKFLOW, {
      id: recordId,
      input: planned.input,
      actor: actorId,
      ifExists: 'return',
      ...(alongside ? { alongside } : {}),
    });
    // Only after a claim outlived its hold can someone else have started the attempt meanwhile: compare again.
    const started = state.context as SigningContext;
    if (started.requestFingerprint !== planned.input.requestFingerprint) {
      throw duplicateError(started.businessNo, started.scene, recordId);
    }
    const record = await requireRecord(recordId);
    refuseIfRefused(record, planned.error);
    return record;
  }

  function requestFingerprint(args: {
    businessNo: string;
    scene: string;
    funding: Funding;
    funder: FunderRef | null;
    request: SealedRequest;
  }): string {
    return keys.fingerprint({
      businessNo: args.businessNo,
      scene: args.scene,
      funding: args.funding,
      funder: args.funder,
      borrower: args.request.borrower,
      values: args.request.values,
    });
  }

  const duplicateError = (businessNo: string, scene: string, recordId: string) =>
    new ConflictError(
      'DUPLICATE',
      `Business number ${businessNo} was already sent for ${scene} with different content (record ${recordId}). Use a new business number, or resign the record.`,
      { details: { recordId } },
    );

  /** Attempts being validated by this process, so concurrent callers for the same key share the outcome. */
  const validating = new Map<string, Promise<SigningRecord>>();

  /**
   * Claim the attempt's key with the request's fingerprint, then validate and start the attempt — once, however many
   * callers ask for the key at the same time, in this process or another. The content that claimed the key first
   * wins; any other content is a DUPLICATE. Callers with the same content wait for the claimant and get its record
   * (or its refusal); only the claimant validates, so the real-name verifier is asked once.
   */
  async function startOnce(
    key: { recordId: string; scene: string; businessNo: string; attempt: number; fingerprint: string },
    start: () => Promise<SigningRecord>,
    existing: () => Promise<SigningRecord>,
  ): Promise<SigningRecord> {
    let waitedMs = 0;
    let pauseMs = CLAIM_POLL_MS;
    for (;;) {
      const outcome = await claimKey(key);
      if (outcome.kind === 'taken') throw duplicateError(key.businessNo, key.scene, key.recordId);
      if (outcome.kind === 'started') return existing();
      if (outcome.kind === 'claimed') {
        const run = start().catch(async (error: unknown) => {
          // Validation could not finish (a refusal has started its FAILED attempt, which keeps the key): give the
          // key up for the next request rather than make it wait for the hold to expire. The hold covers a failure.
          await transaction((tx) => releaseSigningKey(tx, key.recordId, key.fingerprint, clock.now())).catch(() => {});
          throw error;
        });
        validating.set(key.recordId, run);
        try {
          return await run;
        } finally {
          if (validating.get(key.recordId) === run) validating.delete(key.recordId);
        }
      }
      const local = validating.get(key.recordId);
      if (local) {
        // The same request, being validated here: its outcome is ours (a refusal is read from the record next).
        try {
          await local;
        } catch (error) {
          if (!(error instanceof SigningRefusedError)) throw error;
        }
        continue;
      }
      // Being validated by another process: poll until its attempt starts or its claim expires.
      if (waitedMs >= CLAIM_HOLD_MS + CLAIM_POLL_MAX_MS) {
        throw new SealflowError(
          'SIGNING_IN_PROGRESS',
          `Business number ${key.businessNo} for ${key.scene} is being validated by another request; ask again shortly.`,
          { retryable: true, details: { recordId: key.recordId } },
        );
      }
      await new Promise<void>((resolve) => scheduler.schedule(resolve, pauseMs));
      waitedMs += pauseMs;
      pauseMs = Math.min(pauseMs * 2, CLAIM_POLL_MAX_MS);
    }
  }

  async function claimKey(key: {
    recordId: string;
    scene: string;
    businessNo: string;
    attempt: number;
    fingerprint: string;
  }): Promise<ClaimOutcome> {
    for (let race = 0; ; race++) {
      try {
        return await transaction((tx) => claimSigningKey(tx, { ...key, now: clock.now(), holdMs: CLAIM_HOLD_MS }));
      } catch (error) {
        // Someone claimed the key between our read and our write: read again (at most a few times in practice).
        if (!isClaimRace(error) || race >= 10) throw error;
      }
    }
  }

  function refuseIfRefused(record: SigningRecord, cause: SealflowError | null = null): void {
    if (record.status === 'FAILED' && record.failure?.stage === 'validating') {
      throw new SigningRefusedError(record.id, record.failure, cause ?? undefined);
    }
  }

  /**
   * A record that failed before its flow was downloaded says "not signed"; the vendor has the last word. If the vendor
   * completed the flow anyway (a record written by an older release, a vendor that reported a state it then left), a
   * re-sign would make a second contract for the same loan: refuse it. Failures after the download (the signed output
   * was refused) are what a re-sign is for.
   */
  async function refuseIfSignedAtVendor(record: SigningRecord): Promise<void> {
    const { id: vendorId, flowId } = record.vendor;
    const gateway = options.vendors[vendorId];
    if (!flowId || !gateway || !FAILED_BEFORE_DOWNLOAD.includes(record.failure?.stage ?? '')) return;
    let status: string;
    try {
      ({ status } = await gateway.getFlow(flowId, { idempotencyKey: `${record.id}:resign-check` }));
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    if (status !== 'completed') return;
    throw new SealflowError(
      'SIGNING_COMPLETED_AT_VENDOR',
      `Signing ${record.id} is FAILED (${record.failure?.code}), but vendor ${vendorId} completed its flow ${flowId}: ` +
        'the contract is signed. A re-sign (补签) would make a second contract, so none was started; have the signed ' +
        'documents retrieved from the vendor instead.',
      { details: { recordId: record.id, vendorId, flowId, failure: record.failure?.code } },
    );
  }

  async function contextOf(recordId: string): Promise<SigningContext> {
    const state = await runtime.get(recordId);
    if (!state) throw new NotFoundError(`There is no signing workflow ${recordId}.`, { details: { recordId } });
    return state.context as SigningContext;
  }

  return {
    scenes,

    async sign(raw) {
      const request = parseShape(SignRequestShape, raw, 'request') as SignRequest;
      const scene = scenes.get(request.scene);
      if (!scene) {
        throw new ValidationError(
          `Unknown signing scene ${request.scene}; configured: ${[...scenes.keys()].join(', ')}.`,
          { details: { paths: ['request.scene'] } },
        );
      }
      const funding = request.funding ?? scene.fundings[0]!;
      if (!scene.fundings.includes(funding)) {
        throw new ValidationError(`Scene ${scene.code} takes funding ${scene.fundings.join(' or ')}, not ${funding}.`, {
          details: { paths: ['request.funding'] },
        });
      }
      const needsFunder = partiesFor(scene, funding).some((p) => p.signing === 'ownCall');
      if (needsFunder && !request.funder) {
        throw new ValidationError(
          `A ${funding}-funded ${scene.code} needs the assigned funder: pass funder { id, name, creditCode }.`,
          {
            details: { paths: ['request.funder'] },
          },
        );
      }
      const sealed: SealedRequest = { borrower: request.borrower, values: request.values ?? {} };
      const funder = needsFunder ? (request.funder ?? null) : null;
      const recordId = signingRecordId(scene.code, request.businessNo, 1);
      const fingerprint = requestFingerprint({
        businessNo: request.businessNo,
        scene: scene.code,
        funding,
        funder,
        request: sealed,
      });

      // Idempotent on (businessNo, scene): the same request again gets the same signing, never a second flow.
      return startOnce(
        { recordId, scene: scene.code, businessNo: request.businessNo, attempt: 1, fingerprint },
        async () => {
          const planned = await plan({
            recordId,
            scene,
            funding,
            funder,
            request: sealed,
            consent: request.consent,
            businessNo: request.businessNo,
            attempt: 1,
            previousAttemptId: null,
            actorId: request.actor.id,
          });
          return startAttempt(planned, request.actor.id);
        },
        async () => {
          const latest = await latestAttempt(await requireRecord(recordId));
          refuseIfRefused(latest);
          return latest;
        },
      );
    },

    async signAsFunder(actor, recordId, { sealId }) {
      parseShape(z.object({ id: z.string().min(1), funderId: z.string().min(1) }), actor, 'actor');
      parseShape(z.string().min(1).max(128), sealId, 'sealId');
      const record = await requireRecord(recordId);
      if (record.funding !== 'funder' || record.funderId !== actor.funderId) {
        throw new FunderNotAssignedError(recordId, actor.funderId);
      }
      if (!seals.belongsTo(sealId, { funderId: actor.funderId })) {
        throw new SealNotOwnedError(sealId, { funderId: actor.funderId }, { recordId });
      }
      const notAwaiting = (status: string) =>
        new SealflowError(
          'SIGNING_NOT_AWAITING_FUNDER',
          `Signing ${recordId} is ${status}, not waiting for the funder's signature.`,
          { details: { recordId, status } },
        );
      if (record.status !== 'AWAITING_FUNDER') throw notAwaiting(record.status);
      try {
        await runtime.send(
          recordId,
          { type: 'FUNDER_SIGN', funderId: actor.funderId, actorId: actor.id, sealId, at: clock.now() },
          { actor: actor.id },
        );
      } catch (error) {
        if (error instanceof SealflowError && ['EVENT_NOT_ACCEPTED', 'WORKFLOW_FINISHED'].includes(error.code)) {
          throw notAwaiting((await requireRecord(recordId)).status);
        }
        throw error;
      }
      return requireRecord(recordId);
    },

    async resign(recordId, actor) {
      parseShape(z.object({ id: z.string().min(1) }), actor, 'actor');
      const record = await requireRecord(recordId);
      if (record.nextAttemptId) return latestAttempt(record);
      if (record.status !== 'FAILED') {
        throw new SealflowError(
          'SIGNING_NOT_FAILED',
          `Signing ${recordId} is ${record.status}; only a FAILED signing can be re-signed (补签).`,
          { details: { recordId, status: record.status } },
        );
      }
      await refuseIfSignedAtVendor(record);
      const context = await contextOf(recordId);
      const scene = scenes.get(context.scene);
      if (!scene) throw configError(`Scene ${context.scene} is no longer configured.`, { scene: context.scene });
      const attempt = record.attempt + 1;
      const nextId = signingRecordId(scene.code, record.businessNo, attempt);
      // The fingerprint stays the first attempt's: it is what `sign` compares a repeated request with.
      const fingerprint = context.requestFingerprint;
      return startOnce(
        { recordId: nextId, scene: scene.code, businessNo: record.businessNo, attempt, fingerprint },
        async () => {
          const planned = await plan({
            recordId: nextId,
            scene,
            funding: context.funding,
            funder: context.funder,
            request: keys.open<SealedRequest>(context.sealed),
            consent: context.consent,
            businessNo: record.businessNo,
            attempt,
            previousAttemptId: recordId,
            actorId: actor.id,
          });
          planned.input = { ...planned.input, requestFingerprint: fingerprint };
          return startAttempt(planned, actor.id, async (tx) => {
            const stored = await signingRecordRepository.get(tx, recordId);
            if (stored && stored.record.nextAttemptId === null) {
              await signingRecordRepository.update(
                tx,
                stored,
                { ...stored.record, nextAttemptId: nextId },
                clock.now(),
              );
            }
          });
        },
        async () => latestAttempt(await requireRecord(nextId)),
      );
    },

    get: getRecord,

    async find(raw = {}) {
      const query = parseShape(SigningQueryShape, raw, 'query');
      const limit = query.limit ?? 100;
      const tags: Record<string, string> = {};
      if (query.businessNo !== undefined) tags.businessNo = query.businessNo;
      if (query.scene !== undefined) tags.scene = query.scene;
      if (query.status !== undefined) tags.status = query.status;
      if (query.customerIdNumber !== undefined) tags.customer = keys.idNumberHash(query.customerIdNumber);
      const out: SigningRecord[] = [];
      let afterId = query.afterId;
      for (;;) {
        const page = await transaction((tx) =>
          signingRecordRepository.find(tx, {
            tags,
            // createdAt ≤ updatedAt, so this narrows the scan without losing a record created in range.
            ...(query.from !== undefined ? { updatedFrom: query.from } : {}),
            ...(afterId !== undefined ? { afterId } : {}),
            limit: 200,
          }),
        );
        for (const { record } of page) {
          if (query.from !== undefined && record.createdAt < query.from) continue;
          if (query.to !== undefined && record.createdAt > query.to) continue;
          out.push(record);
          if (out.length >= limit) return out;
        }
        if (page.length < 200) return out;
        afterId = page.at(-1)?.record.id;
      }
    },

    async download(recordId) {
      const record = await requireRecord(recordId);
      if (record.status !== 'COMPLETED') {
        throw new SealflowError(
          'SIGNING_NOT_COMPLETED',
          `Signing ${recordId} is ${record.status}; only a completed signing has signed documents.`,
          { details: { recordId, status: record.status } },
        );
      }
      return (await archivedDocuments(evidenceDeps, recordId)).map((d) => ({
        documentKey: d.documentKey,
        fileName: d.fileName,
        fileId: d.fileId,
        sha256: d.sha256,
        bytes: d.bytes,
      }));
    },

    async signerUrl(recordId, role) {
      parseShape(
        z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, { message: 'must be a party role such as borrower.' }),
        role,
        'role',
      );
      const record = await requireRecord(recordId);
      if (record.vendor.flowId === null || record.status !== 'SIGNING') {
        throw new SealflowError(
          'SIGNING_NOT_AT_VENDOR',
          `Signing ${recordId} has no open vendor flow (${record.status}).`,
          {
            details: { recordId },
          },
        );
      }
      const gateway = ownValue<SigningGateway>(options.vendors, record.vendor.id);
      if (!gateway) throw configError(`Vendor ${record.vendor.id} is not configured.`, { vendorId: record.vendor.id });
      return gateway.signerUrl(record.vendor.flowId, role, {
        idempotencyKey: `${recordId}:url:${role}:${clock.now()}`,
      });
    },

    async handleVendorCallback(vendorId, callback) {
      const gateway = typeof vendorId === 'string' ? ownValue<SigningGateway>(options.vendors, vendorId) : undefined;
      if (!gateway) {
        const shown = typeof vendorId === 'string' ? vendorId.slice(0, 64) : `(a ${typeof vendorId})`;
        throw new NotFoundError(
          `No signing vendor "${shown}" is configured; check the vendor id in the callback URL.`,
          { details: { vendorId: shown } },
        );
      }
      const event = await gateway.parseCallback(callback);
      const receiptId = createHash('sha256').update(`${vendorId}\u0000${event.eventId}`).digest('hex');
      if (await transaction((tx) => callbackReceipts.get(tx, receiptId))) return { status: 'duplicate' };
      const [found] = await transaction((tx) =>
        signingRecordRepository.find(tx, { tags: { flow: flowTag(vendorId, event.flowId) }, limit: 1 }),
      );
      if (!found) {
        // Possibly faster than our own record of the flow: ask the vendor to deliver it again.
        throw new SealflowError(
          'CALLBACK_UNKNOWN_FLOW',
          `Vendor ${vendorId} called back about flow ${event.flowId}, which no signing record knows (yet).`,
          { retryable: true, details: { vendorId, flowId: event.flowId } },
        );
      }
      const recordId = found.record.id;
      const receipt = (applied: boolean) => ({
        id: receiptId,
        vendorId,
        eventId: event.eventId,
        flowId: event.flowId,
        kind: event.kind,
        recordId,
        applied,
        receivedAt: clock.now(),
      });
      const isDuplicate = (error: unknown) => error instanceof SealflowError && error.code === 'DUPLICATE';
      try {
        await runtime.send(
          recordId,
          { type: 'VENDOR_CALLBACK', eventId: event.eventId, kind: event.kind },
          {
            actor: vendorId,
            alongside: (tx) => callbackReceipts.insert(tx, receipt(true), clock.now()).then(() => {}),
          },
        );
        return { status: 'accepted', recordId };
      } catch (error) {
        if (isDuplicate(error)) return { status: 'duplicate', recordId };
        if (!(error instanceof SealflowError && ['EVENT_NOT_ACCEPTED', 'WORKFLOW_FINISHED'].includes(error.code))) {
          throw error;
        }
      }
      // Authentic, but the workflow has moved on (it polled first, or finished): acknowledge and keep the receipt.
      try {
        await transaction((tx) => callbackReceipts.insert(tx, receipt(false), clock.now()));
      } catch (error) {
        if (isDuplicate(error)) return { status: 'duplicate', recordId };
        throw error;
      }
      return { status: 'accepted', recordId };
    },

    verifyEvidence: async (recordId) => {
      checkRecordId(recordId);
      return verifyEvidence(evidenceDeps, recordId);
    },
    exportEvidencePackage: async (recordId) => {
      checkRecordId(recordId);
      return exportEvidencePackage(evidenceDeps, recordId);
    },
    attestEvidence: async (recordId) => {
      checkRecordId(recordId);
      return attestEvidence(evidenceDeps, recordId);
    },
    adoptEvidence: async (recordId, actor) => {
      checkRecordId(recordId);
      parseShape(z.object({ id: z.string().min(1) }), actor, 'actor');
      return adoptEvidence(evidenceDeps, recordId, actor.id);
    },
  };
}
