export * from './audit-chain.js';
export * from './runtime.js';
export { stateValueText } from './snapshots.js';
export { retryDelay, type Worker, type WorkerOptions, type WorkerPass } from './worker.js';
export * from './workflow-definition.js';
