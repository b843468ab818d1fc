export * from './errors.js';
export * from './privacy.js';
export * from './ports/clock.js';
export * from './ports/logger.js';
export * from './ports/persistence.js';
