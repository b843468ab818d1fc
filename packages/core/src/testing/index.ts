/**
 * `@sealflow/core/testing`: the contract suites — the executable form of each port's rules — that every adapter runs
 * against itself, and `withLostResponses`, which makes a vendor lose its answers to prove crash safety. The suites
 * call vitest's `describe`/`it`/`expect`, so import this entry only from vitest test files. The in-memory ports are
 * in `@sealflow/core/memory`.
 *
 * @packageDocumentation
 */
export {
  type ContractDocumentStore,
  type DocumentStoreContractOptions,
  runDocumentStoreContract,
} from './document-store-contract.js';
export { type LoggerContractOptions, runLoggerContract } from './logger-contract.js';
export {
  type KeyedVendorMethod,
  type LostResponsesOptions,
  type LostResponsesVendor,
  withLostResponses,
} from './lost-responses.js';
export { type PersistenceContractOptions, runPersistenceContract } from './persistence-contract.js';
export {
  CONTRACT_DOCUMENT_KEY,
  runSigningVendorContract,
  type SigningVendorContractOptions,
  type SigningVendorContractSetup,
} from './signing-vendor-contract.js';
export { runTimeContract, type TimeContractOptions } from './time-contract.js';
export { type ContractNotifier, type NotifierContractOptions, runNotifierContract } from './notifier-contract.js';
