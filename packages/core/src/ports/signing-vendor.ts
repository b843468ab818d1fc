/**
 * The signing-vendor port: what sealflow needs from e签宝, CFCA 安心签, the local PAdES signer, or any other vendor.
 *
 * Implementations: `localSigner()` in `@sealflow/adapter-local`, `esignVendor()` in `@sealflow/adapter-esign`,
 * `cfcaVendor()` in `@sealflow/adapter-cfca`. Core never calls a vendor directly: it wraps every vendor in
 * `createSigningGateway(vendor)`, which validates inputs and outputs, retries retryable failures, normalises errors
 * and logs with personal data masked. All of them pass `runSigningVendorContract()` from `@sealflow/core/testing`.
 *
 * ## Rules every implementation keeps
 * - **Idempotency.** Every call carries `context.idempotencyKey`. The same key with the same input must not create a
 *   second vendor object (flow, file, signature): return the first result. Vendors that take a business id
 *   (e签宝 `signFlowConfig.signFlowTitle` + our `thirdOrderNo`, CFCA `contractNo`) use the key for it; others keep a
 *   key → result map in the vendor's own store. The same key with a *different* input is refused (`VENDOR_REJECTED`,
 *   `details.vendorCode` such as `IDEMPOTENCY_KEY_REUSED`); core never sends one on purpose, since every effect's
 *   request is a pure function of the workflow's saved state, and when it happens anyway core asks `findFlow`.
 * - **Finding a flow again.** `findFlow` returns the flow that `createFlow` made under a given idempotency key, so a
 *   workflow whose create was refused or whose answer was lost adopts the flow that exists at the vendor instead of
 *   failing (and a person re-signing it). Vendors that take our key as their business id look it up directly;
 *   vendors that index flows by business number search by `businessNo` and keep the flow whose key matches.
 * - **Errors.** Throw `SealflowError` with code `VENDOR_*` and `retryable` set truthfully: network failures, timeouts,
 *   HTTP 5xx and vendor rate limits are retryable; validation and business refusals (bad ID number, seal not
 *   authorised, flow already finished) are not. Put the vendor's own code in `details.vendorCode`. Never put an
 *   unmasked ID number, mobile or name in a message. Codes: `VENDOR_REJECTED` (a business refusal: unknown seal or
 *   file, flow finished or not yet completed, key reused for a different request), `VENDOR_UNSUPPORTED`,
 *   `VENDOR_FAILURE` (the vendor broke), `NOT_FOUND` (`NotFoundError`, unknown flow), `CALLBACK_REJECTED`; adapters
 *   may add their own `VENDOR_*` codes for transient states (such as `VENDOR_UNAVAILABLE`, `VENDOR_RATE_LIMITED`).
 * - **Capabilities, not vendor names.** Core decides how to run a scene from `capabilities` alone; an adapter must
 *   declare exactly what it supports and throw `VENDOR_UNSUPPORTED` from anything else.
 * - **Documents are bytes.** Inputs and outputs are `Uint8Array`; an adapter never reads or writes files itself.
 * - **Times** are epoch milliseconds.
 */

export type SignerKind = 'person' | 'organization';

/**
 * Where a seal or signature goes: an existing form field, a keyword in the text, or explicit coordinates.
 * Coordinates and offsets are PDF points from the page's lower-left corner and `page` is 0-based, as in the template
 * model and `inspectPdf`; adapters convert to their vendor's convention (e签宝 `positionPage` is a 1-based string).
 * Without `width`/`height` the vendor's default seal size is used. A keyword places the seal centred on the keyword.
 */
export type SealPlacement =
  | { documentKey: string; field: string }
  | { documentKey: string; keyword: string; offsetX?: number; offsetY?: number }
  | { documentKey: string; page: number; x: number; y: number; width?: number; height?: number };

/** One signer of a vendor flow: role, person or organisation, identity, seal and signing order. */
export interface SignerSpec {
  /** The party's role in the scene: `borrower`, `platform`, `funder`, `guarantor`, `paymentCompany`, … */
  role: string;
  kind: SignerKind;
  /**
   * Person's real name or organisation's registered name. Personal data: adapters must not log it. Adapters that
   * draw a person's mark themselves (the local signer's name seal) draw it from this name, on the page only.
   */
  name: string;
  /** Resident ID number (person) or unified social credit code (organisation). */
  idNumber: string;
  mobile?: string;
  /** The vendor's seal id, or the local signer's seal name. Organisations only. */
  sealId?: string;
  /**
   * Sign without the signer's interaction: an organisation's auto-seal, or a person's authorised silent signing.
   * Only allowed when the matching capability is declared.
   */
  autoSign: boolean;
  /** Lower signs first; equal orders sign in parallel. */
  order: number;
  placements: SealPlacement[];
}

/** A document uploaded to a vendor: the vendor's file id and the key the flow uses for it. */
export interface VendorDocumentRef {
  /** Our key for the document within the flow, such as `credit-contract`. */
  key: string;
  /** The vendor's id for the uploaded or filled file. */
  vendorFileId: string;
  fileName: string;
}

/**
 * What a vendor needs to create a signing flow: title, business number, documents, signers, and optionally a deadline
 * and a callback URL.
 */
export interface CreateFlowInput {
  /** Shown to signers by vendors that have a UI; also the business reference. */
  title: string;
  /** The host's business number, passed to vendors that store one. */
  businessNo: string;
  documents: VendorDocumentRef[];
  signers: SignerSpec[];
  /** After this the vendor expires the flow. */
  deadlineAt?: number;
  /** Where the vendor should push status callbacks, when it supports them. */
  callbackUrl?: string;
}

/** Where a vendor flow stands. */
export type VendorFlowStatus = 'draft' | 'signing' | 'completed' | 'rejected' | 'revoked' | 'expired' | 'failed';

/**
 * The seal and certificate an organisation signer actually signed with. Vendors report it for every organisation that
 * has signed: core refuses a flow whose reported seal is not the one it asked for, and keeps it as evidence.
 */
export interface UsedSeal {
  /** The vendor's seal id (the local signer's seal name), as in `SignerSpec.sealId`. */
  sealId: string;
  /** SHA-256 of the signing certificate (DER), lower-case hex, when the vendor exposes the certificate. */
  certificateSha256?: string;
  /** The certificate's serial number, hex, when the vendor exposes it. */
  certificateSerial?: string;
}

/** A vendor's signing flow as the vendor reports it: its status, each signer's progress and seal, and why it ended. */
export interface VendorFlow {
  flowId: string;
  status: VendorFlowStatus;
  signers: {
    role: string;
    status: 'waiting' | 'signing' | 'signed' | 'rejected' | 'failed';
    signedAt?: number;
    /** Required once an organisation signer has signed; absent for persons and for signers that have not signed. */
    seal?: UsedSeal;
  }[];
  /** The vendor's reason when the flow did not complete, masked. */
  reason?: string;
}

/**
 * An RFC 3161 timestamp a vendor put into a signed PDF, as the vendor reports it with the download. Core keeps it in
 * the signing record and the evidence, so the evidence names the TSA's token for each signature; the offline evidence
 * verifier checks every token against the PDF it came with.
 */
export interface SignatureTimestamp {
  /** The signature field the timestamp belongs to. */
  field: string;
  /**
   * `signature`: a signature timestamp (PAdES B-T), a token over the signature value in the signature's unsigned
   * attributes. `document`: a document timestamp (`/SubFilter /ETSI.RFC3161`), a token over the PDF's byte ranges.
   */
  kind: 'signature' | 'document';
  /** The TimeStampToken's DER, base64. */
  token: string;
  /** The TSA's genTime, epoch milliseconds. */
  time: number;
  /** The TSA certificate's subject ("CN=…,O=…,C=…"); null when the token does not carry it. */
  tsaName: string | null;
  /** The token's message imprint (what the TSA timestamped), lower-case hex. */
  imprint: string;
  /** The imprint's digest algorithm. */
  hashAlgorithm: 'sha256' | 'sha384' | 'sha512';
}

/** A signed PDF downloaded from a vendor: the document key, file name and bytes. */
export interface SignedDocument {
  key: string;
  fileName: string;
  bytes: Uint8Array;
  /**
   * The RFC 3161 timestamps in the PDF, in signing order, when the vendor timestamps (`capabilities.timestamps`).
   * Optional: a vendor that does not report them leaves it out.
   */
  timestamps?: SignatureTimestamp[];
}

/** A callback request exactly as it arrived, before any parsing: verification needs the raw bytes. */
export interface RawCallback {
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, string | string[] | undefined>;
  rawBody: Uint8Array | string;
}

/** A vendor callback after its signature was verified: which flow, what happened, when. */
export interface VendorCallbackEvent {
  /** Stable across the vendor's redeliveries of the same notification: the deduplication key. */
  eventId: string;
  flowId: string;
  /** What happened, in vendor-neutral terms. */
  kind: 'signer-signed' | 'flow-completed' | 'flow-rejected' | 'flow-revoked' | 'flow-expired' | 'other';
  /** Role of the signer for `signer-signed`, when the vendor says. */
  role?: string;
  occurredAt: number;
  /** The vendor's action name, for logs. */
  vendorAction: string;
}

/** Which flow `findFlow` looks for: the one `createFlow` made under `createKey`, for `businessNo`. */
export interface FlowLookup {
  /** The `context.idempotencyKey` the flow was created with. */
  createKey: string;
  /** The `businessNo` of that `createFlow`; one business number may have several flows (one per attempt). */
  businessNo: string;
}

/** Who and what a vendor call is for (request ids, business number), for the vendor's logs and idempotency. */
export interface VendorCallContext {
  /** Same key, same input → same result, never a second vendor object. */
  idempotencyKey: string;
  /**
   * Aborted when the caller gives up or when the gateway's timeout for this try passes (the reason is then a
   * `VENDOR_TIMEOUT` error). Hand it to the HTTP client (`fetch(url, { signal })`) so an abandoned request stops.
   * Whatever a call returns after its signal was aborted is ignored; the retry carries the same idempotency key.
   */
  signal?: AbortSignal;
}

/**
 * What a vendor supports: organisation auto-seal, person auto-sign, vendor templates, callbacks, appending signers,
 * PAdES output, how many signers a flow may have, and optionally trusted timestamps and 国密 (SM2) signing.
 */
export interface SigningCapabilities {
  /** An organisation's seal can be applied without a person (the platform's 自动盖章). */
  organizationAutoSeal: boolean;
  /** A person can be signed for without interaction (authorised 静默签署). e签宝 v3: false. */
  personAutoSign: boolean;
  /** `fillTemplate` works: the vendor renders from its own template (e签宝 doc templates, CFCA 3201). */
  vendorTemplates: boolean;
  /** The vendor pushes status callbacks; without this core polls `getFlow`. */
  callbacks: boolean;
  /** `appendSigner` works: a signer (a funder with its own seal) can be added to a started flow. */
  appendSigners: boolean;
  /** Signed output is a PAdES PDF that `verifyPdfSignatures` can check locally. */
  padesOutput: boolean;
  maxSignersPerFlow: number;
  /**
   * Every signature carries an RFC 3161 signature timestamp from a TSA (PAdES baseline B-T), and `downloadSigned`
   * reports the tokens (`SignedDocument.timestamps`). Absent means false. Routing can require it
   * (`routing.requireTimestamps`): a signing routed to a vendor without it is refused.
   */
  timestamps?: boolean;
  /**
   * The vendor signs with SM2 keys and SM3 digests under a 国密 certificate (GB/T 38540 signatures) when asked to.
   * Absent means false.
   */
  sm2?: boolean;
}

/** The signing-vendor port: upload documents, create and query flows, download signed files, verify callbacks. */
export interface SigningVendor {
  /** A short stable id used in routing, records and callback URLs: `local`, `esign`, `cfca`. */
  readonly id: string;
  readonly capabilities: SigningCapabilities;

  /** Upload a rendered PDF; returns the vendor's file id. */
  uploadDocument(
    document: { key: string; fileName: string; bytes: Uint8Array },
    context: VendorCallContext,
  ): Promise<VendorDocumentRef>;

  /** Fill a vendor-side template (only with `capabilities.vendorTemplates`). */
  fillTemplate?(
    input: { key: string; fileName: string; vendorTemplateId: string; values: Record<string, string> },
    context: VendorCallContext,
  ): Promise<VendorDocumentRef>;

  /** Create and start a flow. Auto-sign signers are signed by the vendor as part of starting, where it can. */
  createFlow(input: CreateFlowInput, context: VendorCallContext): Promise<VendorFlow>;

  /**
   * Add a signer to a started flow, such as a funder with its own seal (only with `capabilities.appendSigners`).
   * When `signer.role` is already in the flow and has not signed, this is that signer's turn: the scene creates the
   * flow with the funder waiting (`autoSign: false`) so it cannot complete early, and the funder's own signing call
   * comes here with `autoSign: true`. The flow completes once every signer has signed.
   */
  appendSigner?(flowId: string, signer: SignerSpec, context: VendorCallContext): Promise<VendorFlow>;

  /**
   * The flow `createFlow` made under `lookup.createKey`, in its current state, or null when no flow was created
   * under that key. Never a flow created under another key, even for the same business number. Optional: without
   * it, a refused create fails the signing as before.
   */
  findFlow?(lookup: FlowLookup, context: VendorCallContext): Promise<VendorFlow | null>;

  /** The flow's current status; throws `NotFoundError` when the vendor does not know the flow. */
  getFlow(flowId: string, context: VendorCallContext): Promise<VendorFlow>;

  /** A URL where a person signs (vendors with a signing UI). */
  signerUrl?(flowId: string, role: string, context: VendorCallContext): Promise<{ url: string; expiresAt?: number }>;

  /** The signed documents; only once the flow is `completed`. */
  downloadSigned(flowId: string, context: VendorCallContext): Promise<SignedDocument[]>;

  /** Revoke a flow that has not completed. Idempotent. */
  cancelFlow(flowId: string, reason: string, context: VendorCallContext): Promise<void>;

  /**
   * Verify a callback's authenticity (signature, timestamp window) and parse it. Throws `SealflowError` code
   * `CALLBACK_REJECTED` for anything forged, tampered or stale. Only with `capabilities.callbacks`.
   */
  parseCallback?(callback: RawCallback): Promise<VendorCallbackEvent>;
}

/**
 * Real-name verification (实名认证) of a customer before signing. Hosts usually already verified the customer
 * (operator three-element check, bank-card four-element check, face); this port lets core ask.
 */
export interface IdentityVerifier {
  /** Resolve with the verification on record, or `{ verified: false }`. Never throws for "not verified". */
  check(person: { name: string; idNumber: string; mobile?: string }): Promise<{
    verified: boolean;
    /** How, such as `three-element`, `face`, `bank-card-four-element`. */
    method?: string;
    verifiedAt?: number;
  }>;
}
