import { randomBytes } from 'node:crypto';
import type { Persistence } from '@sealflow/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { concurrencyScenarios, setupDispatch } from '../../core/test/dispatch-offers-fixtures.js';
import { institutionCountingScenarios } from '../../core/test/dispatch-offers-stats-scenarios.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';

/**
 * The dispatch's concurrency claims on real SQL: acceptances racing on row locks, positions written in the
 * transition's transaction. Each scenario gets a fresh database (PGlite) or schema (PostgreSQL).
 */
const { url, skip: noPostgres } = await probePostgres();
const schemas: string[] = [];
const backends = [
  { name: 'PGlite', skip: undefined, open: () => pglitePersistence() },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    open: () => {
      const schema = `dispatch_${randomBytes(4).toString('hex')}`;
      schemas.push(schema);
      return postgresPersistence({ connectionString: url, schema });
    },
  },
];

afterAll(async () => {
  if (schemas.length === 0) return;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`dispatch concurrency on ${backend.name}`, () => {
    const opened: Persistence[] = [];
    beforeAll(() => {
      if (backend.skip) console.warn(`[sealflow] skipping dispatch on ${backend.name}: ${backend.skip}`);
    });
    afterAll(async () => {
      for (const persistence of opened) await persistence.close();
    });
    for (const scenario of concurrencyScenarios) {
      it(scenario.name, async () => {
        const persistence = await backend.open();
        opened.push(persistence);
        await scenario.run(setupDispatch({ persistence }));
      });
    }
    for (const scenario of institutionCountingScenarios) {
      it(scenario.name, async () => {
        const persistence = await backend.open();
        opened.push(persistence);
        await scenario.run(persistence);
      });
    }
  });
}
