/**
 * Workflow transitions per second through the durable runtime, beside the floor: the same number of single-row
 * transactions done directly on the same database, with the same concurrency.
 *
 * The workflow is a 5-state machine with one effect per state. Each workflow makes 6 state writes (the start and 5
 * transitions fed by effect results), and each of those commits its outbox rows, timers and audit entry with it;
 * the floor does one `UPDATE … SET n = n + 1` per transaction.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { assign, setup } from 'xstate';
import { type Persistence, type Runtime, createRuntime, defineWorkflow } from '../../packages/core/src/index.js';
import { pglitePersistence, postgresPersistence } from '../../packages/adapter-storage/src/index.js';
import type { BenchRow, BenchSuite } from '../harness.js';

const STATES = ['s1', 's2', 's3', 's4', 's5'] as const;
const WRITES_PER_WORKFLOW = STATES.length + 1;

const fiveStepMachine = setup({
  types: { context: {} as { steps: number } },
  actions: { work: () => {} },
}).createMachine({
  id: 'five-step',
  initial: 's1',
  context: { steps: 0 },
  states: Object.fromEntries([
    ...STATES.map((state, i) => [
      state,
      {
        entry: { type: 'work', params: { step: i + 1 } },
        on: {
          'work.done': {
            target: STATES[i + 1] ?? 'done',
            actions: assign({ steps: ({ context }) => context.steps + 1 }),
          },
        },
      },
    ]),
    ['done', { type: 'final' }],
  ]),
});

const fiveStep = defineWorkflow({
  id: 'five-step',
  version: 1,
  machine: fiveStepMachine,
  effects: { work: { run: async () => null } },
});

async function driveRuntime(
  persistence: Persistence,
  label: string,
  workflows: number,
  concurrency: number,
): Promise<number> {
  const runtime: Runtime = createRuntime({ persistence, workflows: [fiveStep] });
  const started = performance.now();
  const ids = Array.from({ length: workflows }, (_, i) => `${label}-${i}`);
  for (let i = 0; i < ids.length; i += concurrency) {
    await Promise.all(ids.slice(i, i + concurrency).map((id) => runtime.start('five-step', { id })));
  }
  // Several passes in flight at once, as several worker loops in one host would run.
  let remaining = workflows;
  while (remaining > 0) {
    const passes = await Promise.all(
      Array.from({ length: Math.max(1, concurrency / 8) }, () => runtime.runOnce({ limit: 64 })),
    );
    const progress = passes.reduce((sum, p) => sum + p.effectsSucceeded, 0);
    if (progress === 0) {
      remaining = (await runtime.list({ status: 'active', limit: 1 })).length;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const done = (await runtime.list({ status: 'done', limit: 100_000 })).filter((w) => w.id.startsWith(`${label}-`));
  if (done.length !== workflows) throw new Error(`only ${done.length} of ${workflows} workflows finished`);
  return (workflows * WRITES_PER_WORKFLOW) / seconds;
}

async function floor(run: (i: number) => Promise<unknown>, transactions: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < transactions) await run(next++);
    }),
  );
  return transactions / ((performance.now() - started) / 1000);
}

function rows(database: string, runtime: number, floorRate: number): BenchRow[] {
  return [
    { name: `${database}: floor, single-row transactions`, unit: 'tx/s', value: floorRate },
    {
      name: `${database}: runtime, workflow state writes`,
      unit: 'transitions/s',
      value: runtime,
      baseline: `${database}: floor, single-row transactions`,
      baselineValue: floorRate,
      ratio: runtime / floorRate,
    },
  ];
}

async function pgliteRows(): Promise<BenchRow[]> {
  const workflows = 300;
  const persistence = await pglitePersistence();
  await driveRuntime(persistence, 'warm-up', 20, 8); // JIT and the WASM heap
  const runtimeRate = await driveRuntime(persistence, 'measured', workflows, 8);
  await persistence.close();

  const db = await PGlite.create();
  await db.exec('CREATE TABLE floor (id int PRIMARY KEY, n int NOT NULL)');
  await db.exec(`INSERT INTO floor SELECT g, 0 FROM generate_series(0, ${workflows - 1}) g`);
  const floorRate = await floor(
    (i) => db.transaction((tx) => tx.query('UPDATE floor SET n = n + 1 WHERE id = $1', [i % workflows])),
    workflows * WRITES_PER_WORKFLOW,
    1,
  );
  await db.close();
  return rows('PGlite', runtimeRate, floorRate);
}

async function postgresRows(): Promise<BenchRow[]> {
  const url = process.env.SEALFLOW_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    console.warn(`[bench] skipping PostgreSQL rows: ${(error as Error).message}`);
    await pool.end();
    return [];
  }
  const schema = `bench_${process.pid}`;
  const workflows = 1_000;
  const concurrency = 8;
  try {
    const persistence = await postgresPersistence({ pool, schema });
    await driveRuntime(persistence, 'warm-up', 50, concurrency);
    const runtimeRate = await driveRuntime(persistence, 'measured', workflows, concurrency);
    await pool.query(`CREATE TABLE "${schema}".floor (id int PRIMARY KEY, n int NOT NULL)`);
    await pool.query(`INSERT INTO "${schema}".floor SELECT g, 0 FROM generate_series(0, ${workflows - 1}) g`);
    const floorRate = await floor(
      async (i) => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`UPDATE "${schema}".floor SET n = n + 1 WHERE id = $1`, [i % workflows]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      },
      workflows * WRITES_PER_WORKFLOW,
      concurrency,
    );
    return rows('PostgreSQL', runtimeRate, floorRate);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

const suite: BenchSuite = {
  name: 'runtime',
  description: 'durable runtime transitions/s vs single-row transactions on PGlite and PostgreSQL',
  async run() {
    return [...(await pgliteRows()), ...(await postgresRows())];
  },
};
export default suite;
