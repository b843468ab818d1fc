/**
 * Contract templates: the model, checks of values and definitions, the approval workflow and the service that
 * manages versions. The replacement-rule formatters (`./formatters.ts`) are exported from the package root directly.
 */
export * from './approval-workflow.js';
export * from './checks.js';
export { MAX_PATTERN_LENGTH, MAX_PATTERN_STATES, matchesPattern, patternProblem } from './patterns.js';
export * from './model.js';
export { REQUEST_SOURCES, type RequestSourceRoot, requestSourceProblem } from './request-sources.js';
export * from './template-service.js';
export * from './validate-definition.js';
