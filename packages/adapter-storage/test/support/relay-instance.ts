/**
 * One host instance for the multi-instance test, run as its own process so the test can SIGKILL it:
 * `node --import tsx --conditions=@sealflow/source relay-instance.ts <connectionString> <schema> <name> <workMs>`.
 */
import pg from 'pg';
import { createRuntime } from '@sealflow/core';
import { postgresPersistence } from '../../src/postgres.js';
import { relayWorkflow } from './relay-workflow.js';

const [connectionString, schema, name, workMs] = process.argv.slice(2) as [string, string, string, string];
const pool = new pg.Pool({ connectionString, max: 6 });
const persistence = await postgresPersistence({ pool, schema });
const runtime = createRuntime({
  persistence,
  workflows: [relayWorkflow(pool, schema, name, Number(workMs))],
  leaseMs: 1_500,
});
runtime.startWorker({ concurrency: 16, pollMs: 20 });
process.send?.('ready');
process.on('SIGTERM', async () => {
  await runtime.stop();
  await pool.end();
  process.exit(0);
});
