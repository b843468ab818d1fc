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
 *
 * The service is assembled here from parts a reader can take one at a time:
 * - `signing-options.ts`: what a host configures;
 * - `planning.ts`: from a request to the workflow's input, with every validation that can refuse it;
 * - `attempts.ts`: starting each attempt exactly once per (businessNo, scene, attempt);
 * - `signing-commands.ts`: `sign`, `signAsFunder`, `resign`;
 * - `signing-queries.ts`, `vendor-callbacks.ts`, `evidence.ts`: reads, vendor callbacks, evidence;
 * - `signing-workflows.ts`: the workflow the runtime runs and the record it keeps.
 */
import { z } from 'zod';
import type { ChainAttestation } from '../ports/chain-notary.js';
import type { RawCallback } from '../ports/signing-vendor.js';
import {
  adoptEvidence,
  attestEvidence,
  type EvidenceTimestamping,
  timestampEvidence,
  type EvidencePackage,
  type EvidenceVerification,
  exportEvidencePackage,
  verifyEvidence,
} from './evidence.js';
import type { EvidenceAnchor, SigningRecord, SigningStatus } from './records.js';
import { checkRecordId, parseShape } from './request-shape.js';
import type { Funding, SigningScene } from './scenes.js';
import type { OrganizationSealId } from './seals.js';
import { createServiceContext, getRecord } from './service-context.js';
import { resign, sign, signAsFunder } from './signing-commands.js';
import type { Consent, FunderRef } from './signing-machine.js';
import type { SigningServiceOptions } from './signing-options.js';
import { download, findRecords, signerUrl } from './signing-queries.js';
import { handleVendorCallback } from './vendor-callbacks.js';
import { signingWaiters, type WaitForOptions } from './wait-for.js';

export { signingRecordId } from './request-shape.js';
export { FunderNotAssignedError, SigningRefusedError } from './signing-errors.js';
export type { SigningEnvironment, SigningRoute, SigningRouting, SigningServiceOptions } from './signing-options.js';
export { isSigningEvent, SIGNING_WORKFLOW, signingWorkflows } from './signing-workflows.js';

// ---------------------------------------------------------------------------------------------------------------
// Commands and queries

/** Who asks for a signing (recorded in the evidence). */
export interface SigningActor {
  id: string;
}

/** A funder's user: `funderId` is the funder (资金方) it acts for. */
export interface FunderActor {
  id: string;
  funderId: string;
}

/**
 * A request to sign: business number, scene, funding and funder, the borrower, template values, consent and the acting
 * user.
 */
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

/** Which signing records to find. */
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

/** A signed document read back from the archive: its key, file name, file id, SHA-256 and bytes. */
export interface DownloadedDocument {
  documentKey: string;
  fileName: string;
  fileId: string;
  sha256: string;
  bytes: Uint8Array;
}

/** The signing service: sign, resign and funder-sign commands, vendor callbacks, and the back office's queries. */
export interface SigningService {
  /** Start signing, or return the signing already started for (businessNo, scene). Refusals throw, keeping a record. */
  sign(request: SignRequest): Promise<SigningRecord>;
  /**
   * The assigned funder signs a funder-funded loan with its own seal: one seal id, or its seal ids by vendor id
   * (`{ esign: '…', cfca: '…' }`), of which the one at the vendor the signing is with is used. The seal must be
   * registered to the funder (`seals`) for that vendor.
   */
  signAsFunder(actor: FunderActor, recordId: string, options: { sealId: OrganizationSealId }): Promise<SigningRecord>;
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
  /**
   * Have `evidenceTimestampAuthority` timestamp every entry of a finished signing's evidence that has no token yet,
   * kept in the chain as an `evidence.timestamped` entry. Call it when a signing completes or fails (or in a periodic
   * job); a retry asks for the same digests, and a second call adds nothing. TIMESTAMP_AUTHORITY_NOT_CONFIGURED
   * without an authority, EVIDENCE_NOT_FINISHED while the signing runs, EVIDENCE_TAMPERED when it does not verify.
   */
  timestampEvidence(recordId: string, actor: SigningActor): Promise<EvidenceTimestamping>;
  /**
   * Wait until the signing is COMPLETED or FAILED and return the record, woken by the runtime's domain events (a
   * worker must be running: `runtime.startWorker()`, or `createSealflow`'s default). Already final: at once.
   * SIGNING_WAIT_TIMEOUT after `timeoutMs` (the signing carries on), SIGNING_WAIT_ABORTED when `signal` aborts.
   */
  waitFor(recordId: string, options: WaitForOptions): Promise<SigningRecord>;
  /** Stop: pending `waitFor` calls reject with SIGNING_SERVICE_CLOSED. The runtime is the host's to stop. */
  close(): void;
  readonly scenes: ReadonlyMap<string, SigningScene>;
}

// ---------------------------------------------------------------------------------------------------------------

/** Create the signing service over a runtime that runs `signingWorkflows(environment)`. */
export function createSigningService(options: SigningServiceOptions): SigningService {
  const ctx = createServiceContext(options);
  const actorShape = z.object({ id: z.string().min(1) });
  const waiters = signingWaiters({
    runtime: options.runtime,
    scheduler: ctx.scheduler,
    read: (recordId) => getRecord(ctx, recordId),
  });
  return {
    scenes: ctx.scenes,
    waitFor: waiters.waitFor,
    close: waiters.close,
    sign: (request) => sign(ctx, request),
    signAsFunder: (actor, recordId, seal) => signAsFunder(ctx, actor, recordId, seal),
    resign: (recordId, actor) => resign(ctx, recordId, actor),
    get: (recordId) => getRecord(ctx, recordId),
    find: (query) => findRecords(ctx, query),
    download: (recordId) => download(ctx, recordId),
    signerUrl: (recordId, role) => signerUrl(ctx, recordId, role),
    handleVendorCallback: (vendorId, callback) => handleVendorCallback(ctx, vendorId, callback),
    verifyEvidence: async (recordId) => {
      checkRecordId(recordId);
      return verifyEvidence(ctx.evidenceDeps, recordId);
    },
    exportEvidencePackage: async (recordId) => {
      checkRecordId(recordId);
      return exportEvidencePackage(ctx.evidenceDeps, recordId);
    },
    attestEvidence: async (recordId) => {
      checkRecordId(recordId);
      return attestEvidence(ctx.evidenceDeps, recordId);
    },
    adoptEvidence: async (recordId, actor) => {
      checkRecordId(recordId);
      parseShape(actorShape, actor, 'actor');
      return adoptEvidence(ctx.evidenceDeps, recordId, actor.id);
    },
    timestampEvidence: async (recordId, actor) => {
      checkRecordId(recordId);
      parseShape(actorShape, actor, 'actor');
      return timestampEvidence(ctx.evidenceDeps, recordId, actor.id);
    },
  };
}
