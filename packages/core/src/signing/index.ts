/**
 * The signing area's public names, re-exported by the package root. Everything else under `signing/` (the machine,
 * its effects, the vendor-response schemas, record keys) is internal.
 */
export {
  createSigningGateway,
  isSigningGateway,
  type SigningGateway,
  type SigningGatewayOptions,
  type SigningRetryOptions,
} from './gateway.js';
export {
  DEFAULT_SCENES,
  type Funding,
  type PartySigning,
  type SceneDocument,
  type SceneParty,
  type SigningScene,
  type SigningSceneInput,
} from './scenes.js';
export {
  type EvidenceAnchor,
  type RecordSealUsed,
  type RecordSignedDocument,
  type RecordTimestamp,
  type RecordVendorAttempt,
  SIGNING_STATUS_LABELS,
  SIGNING_STATUSES,
  type SigningFailure,
  type SigningRecord,
  type SigningStatus,
} from './records.js';
export {
  adoptEvidence,
  archivedDocuments,
  attestEvidence,
  EVIDENCE_TIMESTAMPED,
  type EvidenceEntryTimestamp,
  evidenceKeyring,
  evidencePackageJson,
  type EvidenceTimestampCheck,
  type EvidenceTimestamping,
  timestampEvidence,
  type EvidenceDependencies,
  type EvidencedDocument,
  type EvidenceFileCheck,
  type EvidencePackage,
  type EvidenceRecordProblem,
  EvidenceTamperedError,
  type EvidenceVerification,
  exportEvidencePackage,
  verifyEvidence,
} from './evidence.js';
export {
  type OrganizationSealId,
  SealNotOwnedError,
  type SealOwner,
  type SealRegistration,
  sealAtVendor,
} from './seals.js';
export {
  type FlowLookupAnswer,
  mayFailOver,
  UNAVAILABLE_VENDOR_CODES,
  vendorCanSignTemplate,
} from './routes.js';
export {
  type Consent,
  type FunderRef,
  SIGNING_EVENT_TYPES,
  type SigningDomainEvent,
  type SigningDomainEventType,
  type SigningEventBase,
} from './signing-machine.js';
export type { OrganizationParty, PdfSignatureCheck, SealedRequest, VerifyPdf } from './signing-effects.js';
export {
  createSigningService,
  type DownloadedDocument,
  type FunderActor,
  FunderNotAssignedError,
  isSigningEvent,
  SIGNING_WORKFLOW,
  type SignRequest,
  type SigningActor,
  type SigningEnvironment,
  type SigningQuery,
  SigningRefusedError,
  type SigningRoute,
  type SigningRouting,
  type SigningService,
  type SigningServiceOptions,
  signingRecordId,
  signingWorkflows,
} from './signing-service.js';
export { SigningWaitTimeoutError, type WaitForOptions } from './wait-for.js';
