export * from './manual-clock.js';
export * from './memory-logger.js';
export * from './memory-document-store.js';
export * from './document-store-contract.js';
export * from './memory-persistence.js';
export * from './persistence-contract.js';
export * from './memory-signing-vendor.js';
export * from './signing-vendor-contract.js';
