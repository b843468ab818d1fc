/**
 * `@sealflow/core/memory`: in-memory implementations of every port — persistence, document store, signing vendor,
 * chain notary, logger, notifier, and a clock that moves only when told. They keep the full port contracts (they are
 * the reference the contract suites check adapters against), hold everything in the process and lose it on exit: for
 * development, demos, single-process tools and tests. No test framework is imported here, so production code may
 * use them. Also here, for the vendor emulators the adapters ship as test equipment: the parts of an emulator that are
 * not the vendor's (its fault rules and its gateway's rate limit), so every emulator injects faults and refuses
 * requests the same way.
 *
 * @packageDocumentation
 */
export { createManualClock, type ManualClock } from './manual-clock.js';
export { createMemoryChainNotary, type MemoryChainNotary } from './memory-chain-notary.js';
export { createMemoryDocumentStore, type MemoryDocumentStore } from './memory-document-store.js';
export { createMemoryLogger, type LogRecord, type MemoryLogger } from './memory-logger.js';
export { createMemoryPersistence } from './memory-persistence.js';
export {
  createMemorySigningVendor,
  type MemorySigningVendor,
  type MemorySigningVendorOptions,
  memorySealCertificate,
  type SigningVendorMethod,
} from './memory-signing-vendor.js';
export { createMemoryNotifier, type MemoryNotifier } from './memory-notifier.js';
export {
  type FaultControls,
  FaultTable,
  type FaultTableOptions,
  type RandomFaultRule,
  type RandomFaultRuleOptions,
  seededRandom,
} from './emulator-faults.js';
export { type GatewayRateLimit, GatewayRateLimiter, TrafficCounter } from './emulator-rate-limit.js';
