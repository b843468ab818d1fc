/**
 * sealflow adapter for e签宝 (esign) open API v3.
 *
 * `esignVendor()` is core's SigningVendor on e签宝 (files, template filling, sign flows with the platform's automatic
 * seal and persons signing on e签宝's page, funders sealing later, callbacks); `esignIdentityVerifier()` is the
 * IdentityVerifier on e签宝's two-, three- and four-element data checks.
 *
 * The client layer speaks e签宝's wire protocol: request signing (Signature auth mode), the gateway's checks,
 * callback signatures, the HTTP client with its rate limit, and e签宝's failures as typed errors.
 */
export {
  type EsignCallbackEvent,
  type EsignPositionAnchor,
  type EsignVendorOptions,
  type EsignVerifiedCallback,
  esignVendor,
} from './vendor/esign-vendor.js';
export {
  type EsignCreateLog,
  memoryEsignCreateLog,
  type PersistentEsignCreateLogOptions,
  persistentEsignCreateLog,
} from './vendor/create-log.js';
export { type EsignScenesOptions, esignScenes } from './vendor/scenes.js';
export {
  DEFAULT_SILENT_SIGN_UNAUTHORIZED_CODES,
  type EsignPersonSilentSign,
  type EsignPersonSilentSignOptions,
  type EsignSilentSignPerson,
  esignPersonSilentSign,
} from './vendor/silent-sign.js';
export {
  type EsignIdentityCheck,
  type EsignIdentityVerifierOptions,
  esignIdentityVerifier,
} from './vendor/identity-verifier.js';
export {
  createEsignClient,
  ESIGN_HOSTS,
  type EsignClient,
  type EsignClientOptions,
  type EsignMethod,
  type EsignQuery,
  type EsignRequestOptions,
  esignBaseUrl,
} from './client/client.js';
export {
  ESIGN_BUSINESS_CODES,
  ESIGN_VENDOR_ID,
  type EsignAuthFailure,
  type EsignCodeRule,
} from './client/errors.js';
/** Kept for code that imported it from here: the limiter now lives in `@sealflow/core`, shared by every adapter. */
export { createRateLimiter, type RateLimiter, type RateLimiterOptions } from '@sealflow/core';
export {
  type CallbackQuery,
  type CallbackRejection,
  type CallbackSignatureInput,
  DEFAULT_TIMESTAMP_TOLERANCE_MS,
  ESIGN_CALLBACK_HEADERS,
  ESIGN_HEADERS,
  type EmptyQueryValue,
  type EsignGatewayReason,
  type GatewayCheckFailure,
  type GatewayCheckOptions,
  JSON_CONTENT_TYPE,
  type ReceivedHeaders,
  type ReceivedRequest,
  type SignedRequest,
  type SignRequestInput,
  type StringToSignInput,
  type VerifyCallbackInput,
  buildPathAndQuery,
  callbackHeaders,
  callbackSignature,
  canonicalPathAndQuery,
  checkSignedRequest,
  contentMd5,
  gatewayFailureBody,
  headerValue,
  hmacSha256Base64,
  md5Base64,
  parseQuery,
  signRequest,
  stringToSign,
  verifyCallback,
} from './client/signature.js';
