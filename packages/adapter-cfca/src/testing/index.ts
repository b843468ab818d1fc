/**
 * @sealflow/adapter-cfca/testing: an in-memory CFCA 安心签 platform API for tests and demos, served through msw.
 * Never use it in production; it needs `msw` and `@sealflow/adapter-local` installed (both optional peers).
 */
export {
  type CfcaTestCertificate,
  type CfcaTestCertificateOptions,
  createCfcaTestCertificate,
} from '../client/test-certificates.js';
export { CFCA_CODES, CFCA_SUCCESS } from './codes.js';
export {
  type CfcaEmulator,
  type CfcaEmulatorContractView,
  type CfcaEmulatorOptions,
  type CfcaEmulatorPlatform,
  type CfcaEmulatorPlatformInput,
  type CfcaEmulatorSms,
  createCfcaEmulator,
} from './emulator.js';
export type {
  CfcaFault,
  CfcaFaults,
  CfcaRoute,
  FaultMatch,
  InjectedCfcaFault,
  RandomFaultOptions,
  RandomFaults,
} from './faults.js';
export type { CfcaRateLimit, CfcaTraffic } from './limits.js';
export { type CfcaTestbed, type CfcaTestbedOptions, createCfcaTestbed } from './testbed.js';
