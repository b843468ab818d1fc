/**
 * How a host configures signing: the environment the signing workflows' effects run in (vendors, documents, keys,
 * organisations and seals) and what the signing service adds on top (routing, scenes, deadlines, polling).
 */
import type { ChainNotary } from '../ports/chain-notary.js';
import type { TimestampAuthority } from '../ports/timestamp-authority.js';
import type { Clock, Scheduler } from '../ports/clock.js';
import type { DocumentStore } from '../ports/document-store.js';
import type { IdentityVerifier } from '../ports/signing-vendor.js';
import type { ChainKeys } from '../runtime/audit-chain.js';
import type { Runtime } from '../runtime/runtime.js';
import type { TemplateService } from '../templates/template-service.js';
import type { SigningGateway } from './gateway.js';
import type { SealRegistration } from './seals.js';
import type { SigningSceneInput } from './scenes.js';
import type { OrganizationParty, VerifyPdf } from './signing-effects.js';

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
  /**
   * Organisations that seal with a configured seal, by party role: `platform`, `paymentCompany`. Each `sealId` is one
   * seal id for every vendor, or the seal id per vendor id (`{ esign: '…', cfca: '…' }`); start-up refuses a route
   * that reaches a vendor where an organisation sealing in that scene has none.
   */
  organizations?: Readonly<Record<string, OrganizationParty>>;
  /**
   * Which organisation each seal belongs to, by seal id: `{ 'bank-1-seal': { owner: { funderId: 'bank-1' } } }`,
   * with `vendor` when the seal id is that vendor's only (`{ owner: { funderId: 'bank-1' }, vendor: 'cfca' }`).
   * Each organisation's own `sealId` is registered to it without being listed here. A funder signs (`signAsFunder`)
   * only with a seal registered to it (at the vendor the signing is with); without registrations, no funder seal is
   * accepted.
   */
  seals?: Readonly<Record<string, SealRegistration>>;
  /** The URL vendors with callbacks should notify, per vendor id. */
  callbackUrl?: (vendorId: string) => string;
  /**
   * How many template versions each process keeps parsed for rendering, least recently used dropped first;
   * default 32. A dropped version is read and parsed again the next time a contract uses it.
   */
  preparedTemplates?: number;
  /**
   * The TrueType (glyf) font contract values are drawn in, as the bytes of a `.ttf`; default the bundled Noto Sans SC
   * Regular. A host supplies its own for a house typeface or for characters the bundled font lacks (生僻字 in names).
   */
  font?: Uint8Array;
}

/**
 * Where a signing goes: one vendor id (`'esign'`), or vendor ids in order of preference (`['esign', 'local']`).
 *
 * With several, the first signs and each next one is a fallback that takes the signing over only when the vendor
 * before it is known to hold no flow for it: it refused or was unavailable, and (where it can be asked) it confirms
 * it holds no flow made for this signing. A signing is never moved after a vendor may have created a flow that could
 * still complete. Every fallback must be able to sign the route's templates (see `vendorCanSignTemplate`); a
 * signing whose fallback cannot is refused with `SIGNING_ROUTE_UNBOUND` before any vendor is called.
 */
export type SigningRoute = string | readonly string[];

/** Which vendor signs what: by scene first, then by template code, then the default (or the only vendor). */
export interface SigningRouting {
  default?: SigningRoute;
  scenes?: Readonly<Record<string, SigningRoute>>;
  templates?: Readonly<Record<string, SigningRoute>>;
  /**
   * Signings that must carry trusted RFC 3161 timestamps (PAdES B-T): `true` for all, or by scene code and template
   * code. Such a signing is refused with `VENDOR_UNSUPPORTED` (`details.missing` names `timestamps`) when its vendor
   * does not declare `capabilities.timestamps`, and with `SIGNING_ROUTE_UNBOUND` when a fallback of its route does
   * not — before any vendor is called.
   */
  requireTimestamps?: boolean | { scenes?: readonly string[]; templates?: readonly string[] };
}

/** Options of {@link createSigningService}: the signing environment plus the runtime, templates and identity checks. */
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
  /**
   * An RFC 3161 timestamp authority for the evidence itself: with it, `timestampEvidence` has every entry of a finished
   * signing timestamped (the tokens kept in the chain), and `verifyEvidence` checks those tokens with its `verify`.
   */
  evidenceTimestampAuthority?: TimestampAuthority;
}
