/**
 * One host process of the two-process ledger test: it races its freezes against the other process's on one schema
 * and reports each outcome on stdout as one JSON line.
 * `node --import tsx --conditions=@sealflow/source ledger-instance.ts <connectionString> <schema> <name> <count>`.
 */
import { createLedger, LedgerError, systemClock } from '@sealflow/core';
import { postgresPersistence } from '../../src/postgres.js';

const [connectionString, schema, name, count] = process.argv.slice(2) as [string, string, string, string];
const persistence = await postgresPersistence({ connectionString, schema, max: 8 });
const ledger = createLedger({ persistence, clock: systemClock });
const freezes = [
  ...Array.from({ length: Number(count) }, (_, i) => ({ key: `${name}-${i}`, applicationId: `${name}-app-${i}` })),
  // Keys both processes send with the same content: each must take effect at most once.
  ...Array.from({ length: 5 }, (_, i) => ({ key: `shared-${i}`, applicationId: `shared-app-${i}` })),
];
const outcomes = await Promise.all(
  freezes.map((freeze) =>
    ledger.freeze({ institutionId: 'inst-two', amountFen: 1_000, ...freeze }).then(
      (result) => (result.replayed ? 'replayed' : 'applied'),
      (error: unknown) => (error instanceof LedgerError ? error.code : `unexpected: ${String(error)}`),
    ),
  ),
);
await persistence.close();
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
