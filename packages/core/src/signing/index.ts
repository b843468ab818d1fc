export {
  createSigningGateway,
  isSigningGateway,
  type SigningGateway,
  type SigningGatewayOptions,
  type SigningRetryOptions,
} from './gateway.js';
export {
  callbackEventSchema,
  callContextSchema,
  cancelReasonSchema,
  createFlowInputSchema,
  fillTemplateInputSchema,
  rawCallbackSchema,
  roleSchema,
  sealPlacementSchema,
  signedDocumentsSchema,
  signerSpecSchema,
  signerUrlSchema,
  signingCapabilitiesSchema,
  uploadDocumentInputSchema,
  vendorDocumentRefSchema,
  vendorFlowSchema,
  vendorIdSchema,
} from './vendor-schemas.js';
export * from './scenes.js';
export * from './records.js';
export * from './evidence.js';
export {
  describeOwner,
  type SealOwner,
  type SealRegistration,
  type SealRegistry,
  SealNotOwnedError,
  sealRegistry,
} from './seals.js';
export {
  type ArchivedDocument,
  type Consent,
  type FetchedDocument,
  type FlowView,
  type FunderRef,
  type PlannedDocument,
  type PlannedParty,
  type RenderedDocument,
  SIGNING_EVENT_TYPES,
  type SigningContext,
  type SigningDomainEvent,
  type SigningDomainEventType,
  type SigningEvent,
  type SigningInput,
  signingMachine,
} from './signing-machine.js';
export type {
  OrganizationParty,
  PdfSignatureCheck,
  SealedRequest,
  VerifyPdf,
} from './signing-effects.js';
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
  type SigningRouting,
  type SigningService,
  type SigningServiceOptions,
  signingRecordId,
  signingWorkflows,
} from './signing-service.js';
export { SigningWaitTimeoutError, type WaitForOptions } from './wait-for.js';
