export * from './persistence/index.js';
export * from './documents/index.js';
