import { createMemoryPersistence, runPersistenceContract } from '../src/testing/index.js';

runPersistenceContract({ name: 'memory', create: async () => createMemoryPersistence() });
