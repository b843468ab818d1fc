/**
 * One host process for the signing crash test, run on its own so the test can SIGKILL it at any moment:
 * `node --import tsx --conditions=@sealflow/source signing-instance.ts <connectionString> <schema> <documentsDir>
 * <capabilitiesJson>`. It only runs the worker: the parent starts signings, owns the vendor and checks the outcome.
 */
import { createRuntime, createSigningGateway, signingWorkflows, templateWorkflows } from '@sealflow/core';
import pg from 'pg';
import { fsDocumentStore } from '../../src/fs.js';
import { postgresPersistence } from '../../src/postgres.js';
import { crashEnvironment, ipcSigningVendor } from './signing-crash-host.js';

const [connectionString, schema, documentsDir, capabilities] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const pool = new pg.Pool({ connectionString, max: 6 });
const persistence = await postgresPersistence({ pool, schema });
// One gateway try: a failure goes back to the runtime, which retries the whole effect, as after a crash.
const vendor = createSigningGateway(ipcSigningVendor(JSON.parse(capabilities)), { retry: { attempts: 1 } });
const environment = crashEnvironment(vendor, fsDocumentStore({ root: documentsDir }));
const runtime = createRuntime({
  persistence,
  workflows: [...templateWorkflows(), ...signingWorkflows(environment)],
  leaseMs: 3_000,
  retry: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 20 },
});
runtime.startWorker({ concurrency: 8, pollMs: 20 });
process.send?.('ready');
