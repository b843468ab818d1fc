export type { WebhookBody } from './delivery.js';
export {
  DEFAULT_WEBHOOK_RETRY,
  type WebhookDeadLetter,
  type WebhookPass,
  type WebhookRelay,
  type WebhookRelayOptions,
  createWebhookRelay,
} from './relay.js';
export {
  SIGNATURE_HEADER,
  type VerifyWebhookSignatureOptions,
  WebhookSignatureError,
  type WebhookSignatureErrorCode,
  verifyWebhookSignature,
} from './signature.js';
export { DEFAULT_WEBHOOK_TIMEOUT_MS, type WebhookEventFilter, type WebhookSubscriber } from './subscribers.js';
