/**
 * sealflow adapter for CFCA 安心签 (AnXinSign) platform API.
 *
 * The client layer speaks the platform's wire protocol: the detached CMS request signature, signed transactions over
 * mutual TLS, and the platform's failures as typed errors.
 */
export {
  type CfcaDigest,
  type CfcaSignatureCheck,
  type CfcaSignatureFailure,
  type CfcaSigner,
  type CfcaSignerOptions,
  createCfcaSigner,
  signCfcaData,
  type VerifyCfcaSignatureInput,
  verifyCfcaSignature,
} from './client/signature.js';
