export * from './manual-clock.js';
export * from './memory-logger.js';
