export * from './errors.js';
export * from './privacy.js';
export * from './ports/clock.js';
export * from './ports/logger.js';
export * from './ports/persistence.js';
export * from './runtime/index.js';
export * from './ports/document-store.js';
export * from './encrypted-document-store.js';
export * from './repository.js';
export * from './pdf/index.js';
export * from './model/values.js';
export * from './templates/formatters.js';
export * from './ports/signing-vendor.js';
export * from './ports/chain-notary.js';
export * from './templates/index.js';
export * from './signing/index.js';
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
