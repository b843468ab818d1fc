/**
 * sealflow adapter for e签宝 (esign) open API v3.
 *
 * The client layer speaks e签宝's wire protocol: request signing (Signature auth mode), the gateway's checks,
 * and callback signatures.
 */
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
