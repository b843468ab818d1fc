/**
 * The public API of `@sealflow/core`: what a lending system (the host) and a port adapter build on. Every name is
 * listed on purpose — a name missing here is an implementation detail that may change in any release. Other entry
 * points: `@sealflow/core/memory` (in-memory ports for development, demos and tests) and `@sealflow/core/testing`
 * (the contract suites every adapter runs; needs vitest). The committed API report (`api/*.api.md`) shows every
 * change to this surface in review.
 *
 * @packageDocumentation
 */

// Errors: one base class with stable codes.
export {
  AdapterError,
  ConflictError,
  IllegalTransitionError,
  isSealflowError,
  NotFoundError,
  PermissionError,
  SealflowError,
  type SealflowErrorCode,
  type SealflowErrorOptions,
  SnapshotError,
  TimeoutError,
  toSealflowError,
  ValidationError,
} from './errors.js';

// Personal data masking for logs, errors and events.
export { maskIdNumber, maskMobile, maskName, maskPersonalData, maskText } from './privacy.js';

// Ports: time and logging.
export { type Clock, type Scheduler, systemClock, systemScheduler } from './ports/clock.js';
export {
  consoleLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  maskingLogger,
  silentLogger,
} from './ports/logger.js';

// Port: persistence.
export type {
  AuditEntry,
  AuditStore,
  ClaimRequest,
  EntityChange,
  EntityQuery,
  EntityRow,
  EntityStore,
  NewEntityRow,
  NewOutboxEntry,
  NewWorkflowRow,
  OutboxEntry,
  OutboxFilter,
  OutboxKind,
  OutboxStatus,
  OutboxStore,
  Persistence,
  PersistenceTransaction,
  ReleaseChange,
  TimerClaimRequest,
  TimerKey,
  TimerRow,
  TimerStore,
  WorkflowChange,
  WorkflowFilter,
  WorkflowReadOptions,
  WorkflowRow,
  WorkflowStatus,
  WorkflowStore,
  WorkflowUpdate,
} from './ports/persistence.js';

// Port: document store, with the checks every implementation shares, and the encrypting wrapper.
export {
  type CheckedDocumentInput,
  checkDocumentFileId,
  checkDocumentInput,
  DOCUMENT_FILE_ID_PATTERN,
  DOCUMENT_LIMITS,
  DocumentIntegrityError,
  type DocumentStore,
  type DocumentStoreOptions,
  GENERATED_DOCUMENT_FILE_ID_PATTERN,
  generateDocumentFileId,
  newStoredDocument,
  type PutDocumentInput,
  type RetrievedDocument,
  type StoredDocument,
  sha256Hex,
  verifyDocumentBytes,
} from './ports/document-store.js';
export {
  type DocumentEncryptionKeys,
  DocumentKeyError,
  type EncryptedDocumentStoreOptions,
  encryptedDocumentStore,
} from './encrypted-document-store.js';

// Ports: signing vendors, real-name verification, chain notaries.
export type {
  CreateFlowInput,
  FlowLookup,
  IdentityVerifier,
  RawCallback,
  SealPlacement,
  SignedDocument,
  SignerKind,
  SignerSpec,
  SigningCapabilities,
  SigningVendor,
  UsedSeal,
  VendorCallbackEvent,
  VendorCallContext,
  VendorDocumentRef,
  VendorFlow,
  VendorFlowStatus,
} from './ports/signing-vendor.js';
export type { ChainAttestation, ChainHead, ChainNotary } from './ports/chain-notary.js';

// Port: notifier — notifications sent by workflow effects through the outbox, at least once, deduplicated by id.
export {
  checkNotification,
  NOTIFICATION_TYPES,
  type Notification,
  type NotificationRecipient,
  type NotificationType,
  type NotificationValue,
  notificationEffect,
  type Notifier,
  type NotifyContext,
  recipientKey,
} from './ports/notifier.js';

// The durable workflow runtime.
export {
  createRuntime,
  type DomainEvent,
  type DomainEventHandler,
  type Runtime,
  type RuntimeOptions,
  type SendOptions,
  type StartOptions,
  type WorkflowAuditProblem,
  type WorkflowAuditVerification,
  type WorkflowEvent,
  type WorkflowState,
} from './runtime/runtime.js';
export {
  defineWorkflow,
  type EffectContext,
  type EffectDefinition,
  type RetryPolicy,
  type SerializedError,
  type SnapshotMigration,
  type TransitionHook,
  type WorkflowDefinition,
} from './runtime/workflow-definition.js';
export type { Worker, WorkerOptions, WorkerPass } from './runtime/worker.js';
export {
  type AuditProblem,
  type AuditVerification,
  ChainKeyMissingError,
  type ChainKeyring,
  type ChainKeys,
  chainKeyring,
  verifyAuditEntries,
} from './runtime/audit-chain.js';
export { defineRepository, type Repository, type RepositoryDefinition, type Stored } from './repository.js';

// Values of Chinese lending: ID numbers, credit codes, mobiles, money, bank cards, dates.
export {
  ageOn,
  assertBankCard,
  assertCreditCode,
  assertFen,
  assertIdNumber,
  assertMobile,
  bankCardProblem,
  bankCardSchema,
  creditCodeCheckChar,
  creditCodeProblem,
  creditCodeSchema,
  dateInChina,
  fenSchema,
  formatFen,
  type IdNumberOptions,
  idNumberCheckChar,
  idNumberProblem,
  idNumberSchema,
  isBankCard,
  isCreditCode,
  isIdNumber,
  isMobile,
  luhnValid,
  mobileProblem,
  mobileSchema,
  moneyProblem,
  moneySchema,
  type ParsedIdNumber,
  PROVINCE_NAMES,
  parseIdNumber,
  parseMoneyToFen,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from './model/values.js';

// PDF templates: inspection and rendering.
export {
  type Alignment,
  type BlankSpec,
  CjkFont,
  DEFAULT_FONT_MODULE,
  defaultCjkFont,
  type FitOptions,
  type GlyphInfo,
  type GlyphOutline,
  GlyphMissingError,
  type InspectOptions,
  inspectPdf,
  type KeywordHit,
  type PdfFieldInfo,
  type PdfFieldType,
  type PdfInspection,
  PdfInvalidError,
  type PdfInvalidReason,
  type PdfRect,
  type PdfSource,
  PdfUpdateInconsistentError,
  type PdfUpdateProblem,
  type PreparedTemplate,
  type PrepareOptions,
  prepareTemplate,
  type Rect,
  type RenderOptions,
  type TemplateFieldInfo,
  UnknownFieldError,
  ValueTooLongError,
} from './pdf/index.js';

// Contract templates: replacement rules, the model, checks, versions and their approval.
export {
  amountInChineseCapitals,
  amountWithSeparators,
  applyRule,
  DATE_PATTERNS,
  type DatePattern,
  formatDate,
  maskMiddle,
  parseAmountInChineseCapitals,
  parseReplacementRule,
  type ReplacementRule,
  type RuleInput,
} from './templates/formatters.js';
export {
  type DateReference,
  type DefinitionChange,
  KNOWN_PARTY_ROLES,
  KNOWN_DOCUMENT_TYPES,
  type KnownPartyRole,
  type KnownDocumentType,
  type LevelApproval,
  MAX_VALUE_LENGTH,
  type PartySealPlacement,
  type PlacementRect,
  TEMPLATE_HISTORY_ACTIONS,
  TEMPLATE_STATUS_LABELS,
  TEMPLATE_STATUSES,
  type TemplateCheck,
  type TemplateDecision,
  type TemplateDefinition,
  type TemplateDefinitionChanges,
  type TemplateDefinitionInput,
  type TemplateDocumentType,
  type TemplateHead,
  type TemplateHistoryEntry,
  type TemplateParty,
  type TemplatePdf,
  type TemplatePdfField,
  type TemplateStatus,
  type TemplateVariable,
  type TemplateVersion,
  type TemplateVersionView,
  VARIABLE_TYPES,
  type VariablePlacement,
  type VariableType,
  type VariableValidation,
  type VendorBindings,
} from './templates/model.js';
export {
  assertChecksPass,
  type CheckFailure,
  type EvaluateChecksOptions,
  evaluateChecks,
  resolveValues,
  TemplateCheckError,
  TemplateValueError,
  type TemplateValues,
  type ValueProblem,
  validateValues,
  valueProblems,
} from './templates/checks.js';
export { MAX_PATTERN_LENGTH, MAX_PATTERN_STATES, matchesPattern, patternProblem } from './templates/patterns.js';
export { REQUEST_SOURCES, type RequestSourceRoot, requestSourceProblem } from './templates/request-sources.js';
export {
  type DefinitionProblem,
  type DefinitionProblemKind,
  definitionProblems,
  TemplateDefinitionError,
  type TemplatePdfFacts,
  type ValidateDefinitionOptions,
  validateDefinition,
} from './templates/validate-definition.js';
export {
  APPROVAL_ESCALATED_EVENT,
  type ApprovalEscalatedEvent,
  type ApprovalLevel,
  ApprovalLevelMismatchError,
  isTemplateEvent,
  MakerCheckerError,
  normaliseActorId,
  TEMPLATE_EVENT_TYPES,
  type TemplateDomainEvent,
  type TemplateDomainEventType,
} from './templates/approval-workflow.js';
export {
  createTemplateService,
  type DecisionOptions,
  diffDefinitions,
  type ImportTemplateInput,
  type TemplateActor,
  type TemplateListFilter,
  type TemplateService,
  type TemplateServiceOptions,
  TemplateStatusError,
  templateWorkflows,
} from './templates/template-service.js';

// Signing: the vendor gateway, scenes, records, evidence and the signing service.
export {
  adoptEvidence,
  archivedDocuments,
  attestEvidence,
  createSigningGateway,
  isSigningGateway,
  createSigningService,
  DEFAULT_SCENES,
  type DownloadedDocument,
  type EvidenceAnchor,
  type EvidenceDependencies,
  type EvidencedDocument,
  type EvidenceFileCheck,
  type EvidencePackage,
  type EvidenceRecordProblem,
  EvidenceTamperedError,
  type EvidenceVerification,
  exportEvidencePackage,
  type Consent,
  type FunderActor,
  FunderNotAssignedError,
  type FunderRef,
  type Funding,
  isSigningEvent,
  type OrganizationParty,
  type PartySigning,
  type PdfSignatureCheck,
  type RecordSealUsed,
  type RecordSignedDocument,
  type SceneDocument,
  type SceneParty,
  SealNotOwnedError,
  type SealOwner,
  type SealRegistration,
  type SealedRequest,
  SIGNING_EVENT_TYPES,
  SIGNING_STATUS_LABELS,
  SIGNING_STATUSES,
  SIGNING_WORKFLOW,
  type SignRequest,
  type SigningActor,
  type SigningDomainEvent,
  type SigningDomainEventType,
  type SigningEnvironment,
  type SigningEventBase,
  type SigningFailure,
  type SigningGateway,
  type SigningGatewayOptions,
  type SigningQuery,
  type SigningRecord,
  SigningRefusedError,
  type SigningRetryOptions,
  type SigningRouting,
  type SigningScene,
  type SigningSceneInput,
  type SigningService,
  type SigningServiceOptions,
  type SigningStatus,
  SigningWaitTimeoutError,
  signingRecordId,
  signingWorkflows,
  verifyEvidence,
  type VerifyPdf,
  type WaitForOptions,
} from './signing/index.js';

// Funder dispatch: who acts, complaints (投诉) and ratings (互相评价).
export {
  checkDispatchActor,
  DISPATCH_ROLES,
  type DispatchActor,
  type DispatchRole,
  requireDispatchRole,
  requireInstitutionStaff,
} from './dispatch/roles.js';
export {
  COMPLAINT_NO_PATTERN,
  COMPLAINT_STAGES,
  COMPLAINT_TEAMS,
  type ComplaintContact,
  type ComplaintIntake,
  type ComplaintRecord,
  type ComplaintRoute,
  type ComplaintStage,
  type ComplaintTeam,
  complaintContactSchema,
  complaintIntakeSchema,
  complaintRecordSchema,
  complaintRouteSchema,
  type Penalty,
  penaltySchema,
} from './dispatch/complaint.js';
export {
  COMPLAINT_COMMAND_ROLES,
  COMPLAINT_TEAM_ROLES,
  type ComplaintCommand,
  type ComplaintContext,
  type ComplaintEvent,
  type ComplaintEventActor,
  type ComplaintInput,
  TwoPersonRuleError,
} from './dispatch/complaint-rules.js';
export {
  COMPLAINT_EVENT_TYPES,
  COMPLAINT_WORKFLOW,
  type ComplaintDomainEvent,
  type ComplaintDomainEventType,
  type ComplaintWorkflowDependencies,
  complaintWorkflow,
  DEFAULT_REPORT_WITHIN_MS,
  isComplaintEvent,
} from './dispatch/complaint-workflow.js';
export {
  type ComplaintDecision,
  type ComplaintFilter,
  type ComplaintService,
  type ComplaintServiceOptions,
  type ComplaintView,
  createComplaintService,
  type InstitutionReport,
} from './dispatch/complaint-service.js';
export {
  createRatingService,
  type InstitutionScore,
  PLATFORM_RATER_ROLES,
  RATING_SIDES,
  type Rating,
  type RatingInput,
  type RatingService,
  type RatingServiceOptions,
  type RatingSide,
  ratingId,
  ratingSchema,
  recordRating,
} from './dispatch/rating.js';

// Funder dispatch: offers in rounds with deadlines, the customer's choice, interventions.
export {
  DEFAULT_DISPATCH_CONFIG,
  DISPATCH_EVENT_TYPES,
  type DispatchCommandEvent,
  type DispatchConfig,
  DispatchConfigSchema,
  type DispatchDomainEvent,
  type DispatchDomainEventType,
  type DispatchEventBase,
  type DispatchInput,
  type DispatchIntervention,
  type DispatchNotification,
  type DispatchOutcome,
  type DispatchOutcomeReport,
  type DispatchRequest,
  DispatchRequestSchema,
  dispatchIdOf,
  OFFER_STATUSES,
  type Offer,
  type OfferClosedReason,
  type OfferEventBase,
  type OfferStatus,
  type PositionMovement,
} from './dispatch/offer.js';
export {
  type DispatchContext,
  type DispatchRefusalCode,
  DispatchRuleError,
  offerDeadline,
} from './dispatch/dispatch-rules.js';
export {
  DISPATCH_WORKFLOW,
  type DispatchEvent,
  type DispatchOutput,
  type DispatchWorkflowOptions,
  dispatchWorkflow,
  isDispatchEvent,
} from './dispatch/dispatch-workflow.js';
export type { DispatchTimerEvent } from './dispatch/dispatch-steps.js';
export {
  type InstitutionRankingOptions,
  institutionRanking,
  ledgerPositions,
  type NotifierDeliveryOptions,
  notifierDelivery,
  processingFailureCounted,
  settlementRestoresPosition,
} from './dispatch/dispatch-wiring.js';
export { type OfferView, OfferViewSchema, offerViews } from './dispatch/offer-projection.js';
export {
  createOfferService,
  type DispatchPositions,
  type DispatchView,
  type Notify,
  type OfferFilter,
  type OfferService,
  type OfferServiceOptions,
  type PositionMovementRequest,
  type RankCandidates,
  type RankCandidatesInput,
  startDispatchWorkflow,
} from './dispatch/offer-service.js';

// Webhooks: domain events POSTed to HTTP endpoints, signed, retried; and the check receivers run.
export {
  DEFAULT_WEBHOOK_RETRY,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  SIGNATURE_HEADER,
  type VerifyWebhookSignatureOptions,
  type WebhookBody,
  type WebhookDeadLetter,
  type WebhookEventFilter,
  type WebhookPass,
  type WebhookRelay,
  type WebhookRelayOptions,
  WebhookSignatureError,
  type WebhookSignatureErrorCode,
  type WebhookSubscriber,
  createWebhookRelay,
  verifyWebhookSignature,
} from './webhooks/index.js';

// Funder dispatch: institutions and the position (头寸) ledger.
export {
  abandonmentRate,
  complaintRate,
  DispatchStats,
  dispatchIdSchema,
  emptyDispatchStats,
  getInstitution,
  INSTITUTION_STATUSES,
  Institution,
  type InstitutionFilter,
  InstitutionInput,
  type InstitutionStatus,
  institutionRepository,
  isSuspendedAt,
  listInstitutions,
  meanResponseMs,
  registerInstitution,
  successRate,
} from './dispatch/institution.js';
export {
  applicationLedgerMovements,
  createLedger,
  type HoldInput,
  type Ledger,
  type LedgerMovementResult,
  type LedgerOptions,
  ledgerBalances,
  ledgerConsume,
  ledgerFreeze,
  ledgerMovements,
  ledgerRelease,
  ledgerRestore,
  ledgerTopUp,
  ledgerTransfer,
  type MovementPage,
  type MovementPageOptions,
  type TopUpInput,
  type TransferInput,
  verifyLedger,
} from './dispatch/ledger.js';
export {
  applyMovement,
  LEDGER_ACCOUNTS,
  LEDGER_MOVEMENT_TYPES,
  type LedgerAccount,
  LedgerAmounts,
  LedgerBalances,
  type LedgerBucket,
  LedgerError,
  type LedgerErrorCode,
  LedgerMovement,
  type LedgerMovementType,
  type LedgerVerification,
  type MovementRequest,
  verifyMovements,
} from './dispatch/ledger-repositories.js';

// Funder dispatch: the loan application from intake through review, processing and settlement.
export {
  APPLICATION_STATUSES,
  ApplicationContext,
  ApplicationFunder,
  ApplicationLoanContract,
  ApplicationStatus,
  CustomerTags,
  INCOMPLETE_SUBMISSIONS_BEFORE_INTERVENTION,
  LoanApplication,
  LoanProduct,
  MaterialItem,
  NewApplicationInput,
  REVIEW_DECISIONS,
  ReviewDecision,
  SettlementFigures,
} from './dispatch/application.js';
export { checkSettlement, settlementProblem } from './dispatch/settlement.js';
export {
  type ApplicationEvent,
  type ApplicationEventBase,
  type ApplicationEventType,
  IdentityNotVerifiedError,
} from './dispatch/application-rules.js';
export {
  APPLICATION_EVENT_TYPES,
  type ApplicationDomainEvent,
  type ApplicationDomainEventType,
  type ApplicationEventIds,
  type ApplicationLinks,
  type ApplicationWorkflowInput,
  applicationRepository,
  applicationWorkflow,
  applicationWorkflowWith,
  DISPATCH_APPLICATION_WORKFLOW,
  type DispatchRequestParams,
  type LoanContractParams,
  type LoanContractResult,
  loanContractBusinessNo,
  isApplicationEvent,
} from './dispatch/application-workflow.js';
export type {
  ApplicationHistoryEntry,
  ApplicationListFilter,
  ApplicationVisibility,
} from './dispatch/application-queries.js';
export {
  type ApplicationAlongside,
  type ApplicationService,
  type ApplicationServiceOptions,
  type ApplicationStepOptions,
  applicationIdOf,
  applicationWorkflows,
  type CustomerIdentity,
  createApplicationService,
} from './dispatch/application-service.js';

// The facade: one call wires runtime, template and signing services, gateways and typed events.
export {
  createSealflow,
  type Sealflow,
  type SealflowEvent,
  type SealflowEventHandler,
  type SealflowEventPayloads,
  type SealflowEventType,
  type SealflowEvents,
  type SealflowOptions,
} from './sealflow.js';

// Funder dispatch wired in one piece (`createSealflow({ dispatch })` → `sealflow.dispatch`).
export {
  type Dispatch,
  type DispatchOptions,
  type DispatchParts,
  dispatchSetup,
  type InstitutionDesk,
} from './dispatch/dispatch-facade.js';
export {
  type BorrowerIdentity,
  type LoanContractStarterOptions,
  type LoanContractTerms,
  loanContractStarter,
  sealedCustomers,
  sealLoanContractTerms,
} from './dispatch/loan-contract.js';

// Funder dispatch: ranking the institutions that may be offered an application.
export {
  DEFAULT_RANKING_WEIGHTS,
  RANKING_NEUTRAL_PRIOR,
  RANKING_REJECTION_REASONS,
  RANKING_TERMS,
  type RankedCandidate,
  type RankingApplication,
  type RankingCandidate,
  type RankingExplanation,
  type RankingOptions,
  type RankingRejection,
  type RankingRejectionReason,
  type RankingResult,
  type RankingStats,
  type RankingTerm,
  type RankingTermExplanation,
  type RankingWeights,
  rankingWeightsSchema,
  rankInstitutions,
} from './dispatch/ranking.js';
