/**
 * Workflow transitions per second through the durable runtime, beside the floor: the same number of single-row
 * transactions done directly on the same database, with the same concurrency.
 *
 * The workflow is a 5-state machine with one effect per state: 5 transitions, each fed by an effect's result, each
 * committing the new snapshot, the next outbox row, and an audit entry in the hash chain. The floor does one
 * `UPDATE … SET n = n + 1` per transaction, as many transactions as there were transitions. Workflow starts are timed
 * separately and reported beside it, against the same floor.
 */
import { PGlite } from '@electric-sql/pglite';
import { assign, setup } from 'xstate';
import { type Persistence, type Runtime, createRuntime, defineWorkflow } from '../../packages/core/src/index.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { floor, openBenchPool, pgliteFloor, postgresFloor } from '../floor.js';
import type { BenchRow, BenchSuite } from '../harness.js';

const STATES = ['s1', 's2', 's3', 's4', 's5'] as const;

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

interface RuntimeRates {
  /** Workflows created per second (each commits its first outbox row and audit entry). */
  starts: number;
  /** Effect-driven transitions per second once the workflows exist. */
  transitions: number;
}

async function driveRuntime(
  persistence: Persistence,
  label: string,
  workflows: number,
  concurrency: number,
): Promise<RuntimeRates> {
  const runtime: Runtime = createRuntime({ persistence, workflows: [fiveStep] });
  const ids = Array.from({ length: workflows }, (_, i) => `${label}-${i}`);
  const startedAt = performance.now();
  for (let i = 0; i < ids.length; i += concurrency) {
    await Promise.all(ids.slice(i, i + concurrency).map((id) => runtime.start('five-step', { id })));
  }
  const transitionsAt = performance.now();
  // Several passes in flight at once, as several worker loops in one host would run.
  const loops = Math.max(1, concurrency / 4);
  for (;;) {
    const passes = await Promise.all(Array.from({ length: loops }, () => runtime.runOnce({ limit: 128 })));
    if (passes.every((p) => p.effectsSucceeded === 0)) break;
  }
  const finishedAt = performance.now();
  const done = (await runtime.list({ status: 'done', limit: 100_000 })).filter((w) => w.id.startsWith(`${label}-`));
  if (done.length !== workflows) throw new Error(`only ${done.length} of ${workflows} workflows finished`);
  return {
    starts: workflows / ((transitionsAt - startedAt) / 1000),
    transitions: (workflows * STATES.length) / ((finishedAt - transitionsAt) / 1000),
  };
}

function rows(database: string, runtime: RuntimeRates, floorRate: number): BenchRow[] {
  const floorName = `${database}: floor, single-row transactions`;
  return [
    { name: floorName, unit: 'tx/s', value: floorRate },
    {
      name: `${database}: runtime, effect-driven transitions`,
      unit: 'transitions/s',
      value: runtime.transitions,
      baseline: floorName,
      baselineValue: floorRate,
      ratio: runtime.transitions / floorRate,
    },
    {
      name: `${database}: runtime, workflow starts`,
      unit: 'starts/s',
      value: runtime.starts,
      baseline: floorName,
      baselineValue: floorRate,
      ratio: runtime.starts / floorRate,
    },
  ];
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/**
 * A full-size warm-up round (JIT, the WASM heap, the server's caches), then rounds that alternate the runtime and
 * the floor on the same database, so both see the same machine load; the medians are reported.
 */
async function measure(
  persistence: Persistence,
  floorTransaction: (i: number) => Promise<unknown>,
  workflows: number,
  concurrency: number,
): Promise<{ runtime: RuntimeRates; floorRate: number }> {
  await driveRuntime(persistence, 'warm-up', workflows, concurrency);
  await floor(floorTransaction, workflows * STATES.length, concurrency);
  const runs: RuntimeRates[] = [];
  const floors: number[] = [];
  for (let round = 0; round < 3; round++) {
    runs.push(await driveRuntime(persistence, `round-${round}`, workflows, concurrency));
    floors.push(await floor(floorTransaction, workflows * STATES.length, concurrency));
  }
  return {
    runtime: { starts: median(runs.map((r) => r.starts)), transitions: median(runs.map((r) => r.transitions)) },
    floorRate: median(floors),
  };
}

async function pgliteRows(): Promise<BenchRow[]> {
  const workflows = 300;
  const db = await PGlite.create();
  const persistence = await pglitePersistence({ db });
  // PGlite has one connection: the floor runs one transaction at a time, as the runtime's transactions do.
  const { runtime, floorRate } = await measure(persistence, await pgliteFloor(db, workflows), workflows, 8);
  await persistence.close();
  await db.close();
  return rows('PGlite', runtime, floorRate);
}

async function postgresRows(): Promise<BenchRow[]> {
  const pool = await openBenchPool();
  if (!pool) return [];
  const schema = `bench_${process.pid}`;
  const workflows = 1_000;
  try {
    const persistence = await postgresPersistence({ pool, schema });
    const { runtime, floorRate } = await measure(
      persistence,
      await postgresFloor(pool, schema, workflows),
      workflows,
      8,
    );
    return rows('PostgreSQL', runtime, floorRate);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

const suite: BenchSuite = {
  name: 'runtime',
  description:
    'durable runtime transitions/s vs single-row transactions on the same PGlite and PostgreSQL databases (medians of 3 rounds)',
  async run() {
    return [...(await pgliteRows()), ...(await postgresRows())];
  },
};
export default suite;
