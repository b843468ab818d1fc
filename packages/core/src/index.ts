export * from './errors.js';
export * from './privacy.js';
export * from './ports/clock.js';
export * from './ports/logger.js';
export * from './ports/persistence.js';
export * from './runtime/index.js';
export * from './ports/document-store.js';
export * from './repository.js';
