/**
 * @sealflow/adapter-esign/testing: an in-memory e签宝 open API v3 for tests and demos, served through msw.
 * Never use it in production; it needs `msw` and `@sealflow/adapter-local` installed (both optional peers).
 */
export type {
  CallbackMatch,
  CallbackOptions,
  EsignCallbackAttempt,
  EsignCallbackEvent,
  EsignCallbacks,
  RandomCallbackFaultOptions,
} from './callbacks.js';
export { ESIGN_CODES } from './codes.js';
export {
  createEsignEmulator,
  type EsignEmulator,
  type EsignEmulatorApp,
  type EsignEmulatorFlowView,
  type EsignEmulatorOptions,
  type EsignEmulatorPerson,
} from './emulator.js';
export type {
  EsignFault,
  EsignFaults,
  FaultMatch,
  InjectedEsignFault,
  RandomFaultOptions,
  RandomFaults,
} from './faults.js';
export type { EsignRateLimit, EsignTraffic } from './limits.js';
