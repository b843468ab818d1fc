/**
 * @sealflow/adapter-local/testing: stand-ins for demos and tests. A self-signed company certificate and a seal
 * picture without lettering let a demo seal real, verifiable PDFs offline; production uses the company's certificate
 * (`loadSigningIdentity`) and its registered seal image instead.
 */
export { createSealImage, type SealImageOptions } from './seal-image.js';
export {
  createTestIdentity,
  createTestSigningIdentity,
  type TestIdentity,
  type TestIdentityOptions,
} from './test-identity.js';
export {
  createLocalTimestampAuthority,
  type LocalTimestampAuthority,
  type LocalTimestampAuthorityOptions,
} from '../timestamp/local-tsa.js';
