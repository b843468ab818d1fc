import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '@sealflow/core';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';
import { createVendorTables, relayWorkflow } from './support/relay-workflow.js';

/**
 * Several host processes share one PostgreSQL database. One is killed (SIGKILL, no goodbye) while it holds claims.
 * Every effect must still be applied exactly once per idempotency key, and every timer must fire exactly once.
 */
const WORKFLOWS = 1_000;
const INSTANCES = 3;
const { url, skip } = await probePostgres();

describe.skipIf(skip !== undefined)('several runtimes on one PostgreSQL database', () => {
  const schema = `multi_${randomBytes(4).toString('hex')}`;
  let pool: pg.Pool;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    // Creating the persistence applies the migrations into the schema before any instance starts.
    await (await postgresPersistence({ pool, schema })).close();
    await createVendorTables(pool, schema);
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  function startInstance(name: string, workMs: number): Promise<ChildProcess> {
    const script = fileURLToPath(new URL('./support/relay-instance.ts', import.meta.url));
    const child = fork(script, [url, schema, name, String(workMs)], {
      execArgv: ['--import', 'tsx', '--conditions=@sealflow/source'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`instance ${name} exited with ${code} before it was ready`)));
    });
  }

  async function count(sql: string): Promise<number> {
    const { rows } = await pool.query(sql.replaceAll('$schema', `"${schema}"`));
    return Number(rows[0].n);
  }

  it(`drives ${WORKFLOWS} workflows through ${INSTANCES} instances, one killed mid-way, exactly once`, async () => {
    const persistence = await postgresPersistence({ pool, schema });
    const starter = createRuntime({ persistence, workflows: [relayWorkflow(pool, schema, 'starter')] });
    // Instance 0 never finishes a call, so it is certainly in the middle of calls when it is killed.
    const instances = await Promise.all(
      Array.from({ length: INSTANCES }, (_, i) =>
        startInstance(`instance-${i}`, i === 0 ? Number.POSITIVE_INFINITY : 20),
      ),
    );
    for (let i = 0; i < WORKFLOWS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, WORKFLOWS - i) }, (_, j) => starter.start('relay', { id: `relay-${i + j}` })),
      );
    }

    // Kill one instance once the work is well under way and it has started calls (which it never finishes).
    const victim = instances[0]!;
    const victimAttempts = () =>
      count(`SELECT count(*) AS n FROM $schema.vendor_attempts WHERE instance = 'instance-0'`);
    for (let waited = 0; waited < 60_000; waited += 50) {
      if (
        (await count('SELECT count(*) AS n FROM $schema.vendor_calls')) >= WORKFLOWS / 2 &&
        (await victimAttempts()) > 0
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exited = new Promise((resolve) => victim.once('exit', resolve));
    victim.kill('SIGKILL');
    await exited;

    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline) {
      if ((await count(`SELECT count(*) AS n FROM $schema.sealflow_workflows WHERE status = 'done'`)) === WORKFLOWS)
        break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const workflows = await starter.list({ limit: WORKFLOWS + 1 });
    expect(workflows).toHaveLength(WORKFLOWS);
    for (const workflow of workflows) {
      expect(workflow.stateValue).toBe('done');
      expect(workflow.context).toEqual({ reserved: 1, charged: 1, timerFired: 1 });
    }
    // Exactly one vendor-side record per idempotency key, two keys per workflow, and no key outside the outbox.
    expect(await count('SELECT count(*) AS n FROM $schema.vendor_calls')).toBe(2 * WORKFLOWS);
    expect(
      await count(
        `SELECT count(*) AS n FROM $schema.vendor_calls v LEFT JOIN $schema.sealflow_outbox o ON o.id = v.key WHERE o.id IS NULL`,
      ),
    ).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM $schema.sealflow_outbox WHERE status <> 'done'`)).toBe(0);
    expect(await count('SELECT count(*) AS n FROM $schema.sealflow_timers')).toBe(0);
    // The killed instance had calls in flight, and the survivors re-ran every one of them with the same key.
    const interrupted = await count(
      `SELECT count(DISTINCT key) AS n FROM $schema.vendor_attempts WHERE instance = 'instance-0'`,
    );
    expect(interrupted).toBeGreaterThan(0);
    expect(
      await count(
        `SELECT count(DISTINCT a.key) AS n FROM $schema.vendor_attempts a
         WHERE a.instance = 'instance-0'
           AND EXISTS (SELECT 1 FROM $schema.vendor_attempts b WHERE b.key = a.key AND b.instance <> 'instance-0')
           AND EXISTS (SELECT 1 FROM $schema.vendor_calls c WHERE c.key = a.key)`,
      ),
    ).toBe(interrupted);
    const instancesThatWorked = await count('SELECT count(DISTINCT instance) AS n FROM $schema.vendor_attempts');
    expect(instancesThatWorked).toBe(INSTANCES);
    // Audit chains of a sample of workflows verify.
    for (const workflow of workflows.slice(0, 20)) expect((await starter.verifyAudit(workflow.id)).ok).toBe(true);
    await persistence.close();
  }, 240_000);
});
