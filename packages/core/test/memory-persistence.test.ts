import { createMemoryPersistence } from '../src/memory/index.js';
import { runPersistenceContract } from '../src/testing/index.js';

runPersistenceContract({ name: 'memory', create: async () => createMemoryPersistence() });
