import { describe, it } from 'vitest';
import { createMemoryPersistence } from '../src/memory/index.js';
import { institutionCountingScenarios } from './dispatch-offers-stats-scenarios.js';

describe('institution statistics and open counts from dispatch, on memory', () => {
  for (const scenario of institutionCountingScenarios) {
    it(scenario.name, () => scenario.run(createMemoryPersistence()));
  }
});
