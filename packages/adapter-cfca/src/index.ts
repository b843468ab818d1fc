/**
 * sealflow adapter for CFCA 安心签 (AnXinSign) platform API.
 *
 * The client layer speaks the platform's wire protocol: the detached CMS request signature, signed transactions over
 * mutual TLS, contract downloads, and the platform's failures as typed errors.
 */
export {
  CFCA_HOSTS,
  type CfcaCallOptions,
  type CfcaClient,
  type CfcaClientOptions,
  type CfcaPemTls,
  type CfcaPfxTls,
  type CfcaResponse,
  type CfcaResponseHead,
  type CfcaTransactionOptions,
  cfcaBaseUrl,
  createCfcaClient,
  formatTxTime,
} from './client/client.js';
export { CFCA_ERROR_CODES, CFCA_SUCCESS_CODE, CFCA_VENDOR_ID, type CfcaCodeRule } from './client/errors.js';
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
export {
  type CfcaParty,
  type CfcaProxySignAuthorization,
  type CfcaSignatory,
  type CfcaTransactor,
  type CfcaVendor,
  type CfcaVendorOptions,
  cfcaVendor,
} from './vendor/cfca-vendor.js';
export {
  type CfcaVendorStore,
  createMemoryCfcaStore,
  type PersistentCfcaStoreOptions,
  persistentCfcaStore,
} from './vendor/store.js';
