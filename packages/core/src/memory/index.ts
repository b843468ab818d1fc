/**
 * `@sealflow/core/memory`: in-memory implementations of every port — persistence, document store, signing vendor,
 * chain notary, logger, notifier, and a clock that moves only when told. They keep the full port contracts (they are
 * the reference the contract suites check adapters against), hold everything in the process and lose it on exit: for
 * development, demos, single-process tools and tests. No test framework is imported here, so production code may
 * use them.
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
