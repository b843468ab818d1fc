/**
 * @sealflow/adapter-local: seals PDFs offline with your own certificate (PAdES baseline B, ETSI.CAdES.detached),
 * each signature as an incremental update so earlier signatures stay valid.
 */
export { buildCadesSignature } from './cms.js';
export { SealingError, type SealingErrorCode } from './errors.js';
export { createSealingPool, type SealingPool, type SealingPoolOptions } from './seal-pool.js';
export {
  addDocumentTimestamp,
  type DocumentTimestampOptions,
  type Rect,
  type SealAppearance,
  type SealField,
  type SealOptions,
  sealPdf,
  type TimestampedSealOptions,
} from './seal-pdf.js';
export {
  type LoadSigningIdentityOptions,
  loadSigningIdentity,
  type SigningIdentity,
  type SigningIdentitySource,
} from './signing-identity.js';
export {
  buildSesSeal,
  buildSesSignature,
  type ParsedSesSeal,
  type ParsedSesSignature,
  parseSesSeal,
  parseSesSignature,
  type SesPicture,
  type SesSealInfo,
  type SesSignatureInput,
  type SesVerification,
  verifySesSeal,
  verifySesSignature,
} from './ses.js';
export {
  type CertificateRevocationReport,
  type SignatureReport,
  type SignatureRevocationReport,
  type SignatureRevocationVerdict,
  type SignatureTimestampReport,
  verifyPdfSignatures,
} from './verify.js';
export { addLongTermValidation, type LongTermValidationOptions } from './revocation/long-term.js';
export type { RevocationStatus } from './revocation/revocation-data.js';
export {
  type HttpRevocationSourceOptions,
  httpRevocationSource,
  type StaticRevocationSourceOptions,
  staticRevocationSource,
} from './revocation/http-revocation.js';
export { type PdfTimestamp, readPdfTimestamps, signatureTimestamps } from './signature-timestamps.js';
export {
  type LocalDocumentRecord,
  type LocalFlowRecord,
  type LocalFlowStore,
  memoryLocalFlowStore,
  type PersistentLocalFlowStoreOptions,
  persistentLocalFlowStore,
} from './flow-store.js';
export { type LocalSeal, type LocalSignerOptions, localSigner, type PersonAppearance } from './local-signer.js';
export { type HttpTimestampAuthorityOptions, httpTimestampAuthority } from './timestamp/http-tsa.js';
export { type TimestampTrustOptions, verifyTimestampToken } from './timestamp/verify-token.js';
export {
  EvidencePackageError,
  type EvidencePackageErrorCode,
  type EvidencePackageInput,
  type EvidencePackageReport,
  type EvidencePackageVerifyOptions,
  type EvidenceReportFormatOptions,
  formatEvidenceReport,
  maskCertificateSubject,
  type PackageSignatureCheck,
  type PackageTimestampCheck,
  readEvidencePackageJson,
  verifyEvidencePackage,
} from './evidence-verifier.js';
