/**
 * `pnpm bench signing` (issue 4, Benchmark, second sentence): complete signing workflows per second, end to end
 * through the durable runtime, on PGlite (in memory) and on PostgreSQL, with `localSigner` — beside the runtime
 * floor from the foundation benchmark, measured in the same run the same way (`floor` from `./runtime.ts`).
 *
 * One signing = `sign()` (shape, template EFFECTIVE, values, business checks, consent, real-name check, workflow
 * start + record + evidence) → worker effects: render the 8-page contract → vendor flow with `localSigner` (borrower
 * signed on the customer's authorised behalf + platform auto-seal: two PAdES signatures with a visible seal, each
 * incremental and verified by the signer) → download → verify (prefix + `verifyPdfSignatures`) → archive → COMPLETED,
 * with the record, the hash-chained evidence and the outbox events to the host written in every transition.
 * The scene is a platform-funded LOAN_CONTRACT on `fixtures/contract-8p-25f.pdf`; identities are RSA-2048 with
 * Chinese DNs, as in the fill-seal suite. Documents go to the in-memory DocumentStore (`createMemoryDocumentStore`),
 * so the figure is the workflow and the database, not a disk or an object store.
 *
 * Concurrency as a host would run it: 8 `sign()` calls in flight (request handlers) while 2 worker loops
 * (`runtime.startWorker({ concurrency: 8 })`, default poll: this process's own work wakes them) drain effects, timers
 * and events. Besides signings/s, each run reports the CPU time this process spent per signing, which a machine
 * shared with other work inflates far less than wall time. The clock runs from the
 * first `sign()` to the last `signing.completed` event delivered to the host. A warm-up of 20 signings comes first.
 *
 * On PostgreSQL the same run is repeated with `localSigner({ pool })` and a `createSealingPool({ size: 2 })`, side by
 * side with the in-thread run, and the PostgreSQL server's own CPU time per signing is read from /proc (when the
 * server runs on this machine): this process plus the server is what the machine spends on one signing, and the
 * core count divided by that is the most this machine could give — the ceiling any throughput target must fit under.
 *
 * The split comes from a further pass of 30 signings strictly one after another (`sign()`, then `runOnce` until
 * COMPLETED), so nothing overlaps: each workflow effect's `run` is timed, and the vendor's `createFlow` (the sealing)
 * inside `startVendorFlow`; `sign()` is timed on its own (validation, workflow start, record, evidence), and what is
 * left of the worker passes is the runtime and the database: claims, settling transactions, snapshots, records,
 * evidence, outbox and event delivery. (Timing effects in the concurrent run would count the time they spend waiting
 * for each other.)
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { PGlite } from '@electric-sql/pglite';
import {
  type DomainEvent,
  type EffectDefinition,
  type Persistence,
  type SignRequest,
  type SigningVendor,
  type WorkflowDefinition,
  createSealflow,
  SIGNING_WORKFLOW,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../../packages/core/src/index.js';
import { createMemoryDocumentStore, createMemoryPersistence } from '../../packages/core/src/memory/index.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import {
  createSealingPool,
  localSigner,
  type SealingPool,
  verifyPdfSignatures,
} from '../../packages/adapter-local/src/index.js';
import { createSealImage, createTestSigningIdentity } from '../../packages/adapter-local/src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import type { BenchRow, BenchSuite } from '../harness.js';
import { floor, openBenchPool, pgliteFloor, postgresFloor } from '../floor.js';
import { countingPersistence, postgresServerCpuMs } from '../persistence.js';
import { coldStartRows } from '../cold-start.js';
import { sealedContractDefinition } from '../../fixtures/signing-templates.js';

const PDF = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const IN_FLIGHT = 8;
const WORKER_LOOPS = 2;
const WARM_UP = 20;
/** Signings timed one at a time for the split. */
const SPLIT = 30;
const creditCode = withCreditCodeCheckChar;
const idNumber = withIdNumberCheckChar;

const identity = (commonName: string, organization: string) =>
  createTestSigningIdentity({ commonName, organization, keyType: 'rsa' });
const platformIdentity = identity('某某消费金融股份有限公司', '某某消费金融股份有限公司');
const personIdentity = identity('某某消费金融 代签', '某某消费金融股份有限公司');
const sealImage = createSealImage({ size: 240 });

const loanDefinition = sealedContractDefinition(['platform', 'funder']);

/** Milliseconds spent, by part, summed over every signing of a run. */
type Split = Record<string, number>;

function timedVendor(inner: SigningVendor, split: Split): SigningVendor {
  return {
    ...inner,
    id: inner.id,
    capabilities: inner.capabilities,
    async createFlow(input, context) {
      const started = performance.now();
      try {
        return await inner.createFlow(input, context);
      } finally {
        split.seal = (split.seal ?? 0) + performance.now() - started;
      }
    },
  };
}

/** The same definition with every effect's `run` timed into `split[effect name]`. */
function timedWorkflow(definition: WorkflowDefinition, split: Split): WorkflowDefinition {
  return {
    ...definition,
    effects: Object.fromEntries(
      Object.entries(definition.effects).map(([name, effect]): [string, EffectDefinition] => [
        name,
        {
          ...effect,
          async run(params, context) {
            const started = performance.now();
            try {
              return await effect.run(params, context);
            } finally {
              split[name] = (split[name] ?? 0) + performance.now() - started;
            }
          },
        },
      ]),
    ),
  };
}

interface SigningRates {
  signingsPerSecond: number;
  msPerSigning: number;
  transactionsPerSigning: number;
  /** CPU time this process spent per signing (user + system, every thread; PGlite runs in it, PostgreSQL does not). */
  cpuMsPerSigning: number;
  /** CPU time the PostgreSQL server's processes spent per signing, when they run on this machine; else null. */
  serverCpuMsPerSigning: number | null;
}

/** A host: runtime with the signing workflows, template service, signing service, one approved loan contract. */
async function createHost(base: Persistence, sealing?: SealingPool) {
  const persistence = countingPersistence(base);
  const timings: Split = {};
  const documents = createMemoryDocumentStore();
  const vendor = timedVendor(
    localSigner({
      seals: { 'platform-seal': { identity: platformIdentity, image: sealImage } },
      personIdentity,
      ...(sealing && { pool: sealing }),
    }),
    timings,
  );
  const { runtime, templates, signing, close } = await createSealflow({
    persistence,
    documents,
    vendors: { local: vendor },
    hashKey: 'bench-signing-hash-key-0123456789abcdef',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: creditCode('91310000MA1FL0000'),
        sealId: 'platform-seal',
      },
    },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    // The signing workflow's effects timed for the split; the run starts its own worker loops.
    workflows: (builtIn) =>
      builtIn.map((definition) =>
        definition.id === SIGNING_WORKFLOW ? timedWorkflow(definition, timings) : definition,
      ),
    logger: silentLogger,
    start: false,
  });
  const editor = { id: 'alice', roles: ['template-editor'] };
  const draft = await templates.importTemplate(editor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: PDF,
    definition: loanDefinition,
  });
  await templates.submit(editor, draft.id);
  if ((await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id)).status !== 'EFFECTIVE') {
    throw new Error('the loan contract did not become EFFECTIVE');
  }

  const request = (businessNo: string, i: number): SignRequest => ({
    businessNo,
    scene: 'LOAN_CONTRACT',
    borrower: {
      name: '欧阳娜娜',
      idNumber: idNumber(`3101011990030${String(7000 + (i % 1000)).padStart(4, '0')}`),
      mobile: '13912345678',
    },
    values: { loan: { amount: `${10_000 + (i % 900) * 100}.00` }, credit: { limit: '100000.00' } },
    consent: {
      at: Date.now(),
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [draft.id],
    },
    actor: { id: 'lending-system' },
  });

  /** Sign `count` loans with 8 requests in flight and 2 worker loops; resolve when the host has seen every completion. */
  async function run(label: string, count: number): Promise<SigningRates> {
    const ids = new Set<string>();
    const completed = new Set<string>();
    let finish!: () => void;
    let fail!: (error: Error) => void;
    const allCompleted = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const unsubscribe = runtime.onEvent((event: DomainEvent) => {
      if (!ids.has(event.workflowId)) return;
      if (event.type === 'signing.failed')
        fail(new Error(`${event.workflowId} failed: ${JSON.stringify(event.payload)}`));
      if (event.type !== 'signing.completed') return;
      completed.add(event.workflowId);
      if (completed.size === count) finish();
    });
    const workers = Array.from({ length: WORKER_LOOPS }, () => runtime.startWorker({ concurrency: 8 }));
    const transactionsBefore = persistence.count;
    const serverCpuBefore = postgresServerCpuMs();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    try {
      for (const worker of workers) worker.start();
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < count) {
            const i = next++;
            const record = await signing.sign(request(`${label}-${String(i).padStart(6, '0')}`, i));
            ids.add(record.id);
            if (completed.size === count) finish();
          }
        }),
      );
      await allCompleted;
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      unsubscribe();
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpuAfter = postgresServerCpuMs();
    const transactions = persistence.count - transactionsBefore;
    const done = await signing.find({ status: 'COMPLETED', limit: 100_000 });
    const mine = done.filter((r) => r.businessNo.startsWith(`${label}-`));
    if (mine.length !== count) throw new Error(`${label}: only ${mine.length} of ${count} signings COMPLETED`);
    return {
      signingsPerSecond: count / seconds,
      msPerSigning: (seconds * 1000) / count,
      transactionsPerSigning: transactions / count,
      cpuMsPerSigning: (cpu.user + cpu.system) / 1000 / count,
      serverCpuMsPerSigning:
        serverCpuBefore === null || serverCpuAfter === null ? null : (serverCpuAfter - serverCpuBefore) / count,
    };
  }

  /**
   * Where the time goes: `count` signings strictly one after another (sign, then worker passes until COMPLETED), so
   * no effect overlaps another or a transaction, and wall time = effects + everything else (database + runtime).
   */
  async function split(label: string, count: number): Promise<Split> {
    for (const key of Object.keys(timings)) delete timings[key];
    let signMs = 0;
    let passesMs = 0;
    let passes = 0;
    let transactions = 0;
    let transactionMs = 0;
    for (let i = 0; i < count; i++) {
      let started = performance.now();
      const record = await signing.sign(request(`${label}-${String(i).padStart(6, '0')}`, i));
      signMs += performance.now() - started;
      for (let pass = 0; ; pass++) {
        started = performance.now();
        const [count, ms] = [persistence.count, persistence.ms];
        await runtime.runOnce({ limit: 8 });
        passesMs += performance.now() - started;
        transactions += persistence.count - count;
        transactionMs += persistence.ms - ms;
        passes++;
        const status = (await signing.get(record.id))?.status; // not timed
        if (status === 'COMPLETED') break;
        if (status === 'FAILED' || pass > 50) throw new Error(`${label}: ${record.id} is ${status}`);
      }
    }
    const effects = Object.entries(timings)
      .filter(([k]) => k !== 'seal')
      .reduce((sum, [, ms]) => sum + ms, 0);
    const out: Split = Object.fromEntries(Object.entries(timings).map(([k, ms]) => [k, ms / count]));
    out.sign = signMs / count;
    out.workers = (passesMs - effects) / count;
    out.passes = passes / count;
    out.passTransactions = transactions / count;
    out.passTransactionMs = transactionMs / count;
    out.wall = (signMs + passesMs) / count;
    return out;
  }

  return { run, split, close };
}

function rows(database: string, rates: SigningRates, floorRate: number, signings: number, s: Split): BenchRow[] {
  const floorName = `${database}: floor, single-row transactions`;
  const part = (name: string, value: number): BenchRow => ({
    name: `${database}: split (serial), ${name}`,
    unit: 'ms/signing',
    value,
  });
  const seal = s.seal ?? 0;
  return [
    { name: floorName, unit: 'tx/s', value: floorRate },
    {
      name: `${database}: complete signings (${signings}, localSigner)`,
      unit: 'signings/s',
      value: rates.signingsPerSecond,
      baseline: floorName,
      baselineValue: floorRate,
      ratio: rates.signingsPerSecond / floorRate,
    },
    { name: `${database}: wall time per signing (concurrent)`, unit: 'ms/signing', value: rates.msPerSigning },
    { name: `${database}: CPU time of this process per signing`, unit: 'ms/signing', value: rates.cpuMsPerSigning },
    { name: `${database}: a signing costs the time of`, unit: 'floor tx', value: floorRate / rates.signingsPerSecond },
    {
      name: `${database}: persistence transactions per signing`,
      unit: 'tx/signing',
      value: rates.transactionsPerSigning,
    },
    part('wall', s.wall ?? 0),
    part('render (renderDocuments)', s.renderDocuments ?? 0),
    part('seal (localSigner.createFlow: 2 PAdES signatures)', seal),
    part('vendor flow other (read back, hash, upload)', (s.startVendorFlow ?? 0) - seal),
    part('download + verify (fetchSigned)', s.fetchSigned ?? 0),
    part('archive (archiveSigned)', s.archiveSigned ?? 0),
    part('sign(): validation, workflow start, record, evidence', s.sign ?? 0),
    part(`worker passes minus effects: runtime + database (${(s.passes ?? 0).toFixed(1)} passes)`, s.workers ?? 0),
    part(
      `  of which in the passes' ${(s.passTransactions ?? 0).toFixed(1)} transactions (incl. record + evidence writes)`,
      s.passTransactionMs ?? 0,
    ),
  ];
}

/** The in-memory persistence (`createMemoryPersistence`): no database at all, so what is left is sealflow's own cost. */
async function memoryRows(): Promise<BenchRow[]> {
  const signings = 100;
  const host = await createHost(createMemoryPersistence());
  try {
    await host.run('warm-up', WARM_UP);
    const rates = await host.run('measured', signings);
    return [
      {
        name: `memory: complete signings (${signings}, localSigner)`,
        unit: 'signings/s',
        value: rates.signingsPerSecond,
      },
      { name: 'memory: CPU time of this process per signing', unit: 'ms/signing', value: rates.cpuMsPerSigning },
      { name: 'memory: persistence transactions per signing', unit: 'tx/signing', value: rates.transactionsPerSigning },
    ];
  } finally {
    await host.close();
  }
}

async function pgliteRows(): Promise<BenchRow[]> {
  const signings = 100;
  const base = await pglitePersistence();
  const host = await createHost(base);
  let rates: SigningRates;
  let split: Split;
  try {
    await host.run('warm-up', WARM_UP);
    rates = await host.run('measured', signings);
    split = await host.split('serial', SPLIT);
  } finally {
    await host.close();
    await base.close();
  }

  // The floor, exactly as the runtime suite measures it on PGlite: one connection, BEGIN; UPDATE …; COMMIT.
  const db = await PGlite.create();
  const floorRate = await floor(await pgliteFloor(db, 300), 1_500, 1);
  await db.close();
  return rows('PGlite', rates, floorRate, signings, split);
}

async function postgresRows(): Promise<BenchRow[]> {
  const pool = await openBenchPool();
  if (!pool) return [];
  const schema = `bench_signing_${process.pid}`;
  const signings = 200;
  const concurrency = 8;
  try {
    const base = await postgresPersistence({ pool, schema });
    const host = await createHost(base);
    let rates: SigningRates;
    let split: Split;
    try {
      await host.run('warm-up', WARM_UP);
      rates = await host.run('measured', signings);
      split = await host.split('serial', SPLIT);
    } finally {
      await host.close();
    }
    // The same host with its seals made by two worker threads, on the same database, right after.
    const sealing = createSealingPool({ size: 2 });
    let pooled: SigningRates;
    try {
      const pooledHost = await createHost(base, sealing);
      try {
        await pooledHost.run('pool-warm-up', WARM_UP);
        pooled = await pooledHost.run('pool-measured', signings);
      } finally {
        await pooledHost.close();
      }
    } finally {
      await sealing.close();
    }
    // The floor, exactly as the runtime suite measures it on PostgreSQL: 8 connections, BEGIN; UPDATE …; COMMIT.
    const floorRate = await floor(await postgresFloor(pool, schema, 1_000), 5_000, concurrency);
    return [...rows('PostgreSQL', rates, floorRate, signings, split), ...machineRows(rates, pooled, floorRate)];
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

/**
 * The sealing pool beside the in-thread run, and what the whole machine spends on one signing: this process (every
 * thread) plus the PostgreSQL server. Cores × 1000 / that is the most signings per second this machine could give
 * if nothing ever waited — the ceiling any target on it has to fit under.
 */
function machineRows(inThread: SigningRates, pooled: SigningRates, floorRate: number): BenchRow[] {
  const cores = availableParallelism();
  const inThreadName = 'PostgreSQL: complete signings (200, localSigner)';
  const out: BenchRow[] = [
    {
      name: 'PostgreSQL: complete signings (200, localSigner({ pool }) with 2 sealing workers)',
      unit: 'signings/s',
      value: pooled.signingsPerSecond,
      baseline: inThreadName,
      baselineValue: inThread.signingsPerSecond,
      ratio: pooled.signingsPerSecond / inThread.signingsPerSecond,
    },
    {
      name: 'PostgreSQL, 2 sealing workers: CPU time of this process per signing',
      unit: 'ms/signing',
      value: pooled.cpuMsPerSigning,
    },
    {
      name: 'PostgreSQL, 2 sealing workers: a signing costs the time of',
      unit: 'floor tx',
      value: floorRate / pooled.signingsPerSecond,
    },
  ];
  for (const [label, rates] of [
    ['in-thread', inThread],
    ['2 sealing workers', pooled],
  ] as const) {
    if (rates.serverCpuMsPerSigning === null) continue;
    const machine = rates.cpuMsPerSigning + rates.serverCpuMsPerSigning;
    out.push(
      {
        name: `PostgreSQL, ${label}: server CPU time per signing`,
        unit: 'ms/signing',
        value: rates.serverCpuMsPerSigning,
      },
      {
        name: `PostgreSQL, ${label}: machine CPU time per signing (process + server)`,
        unit: 'ms/signing',
        value: machine,
      },
      {
        name: `PostgreSQL, ${label}: CPU ceiling of this ${cores}-core machine`,
        unit: 'signings/s',
        value: (cores * 1000) / machine,
      },
    );
  }
  return out;
}

const suite: BenchSuite = {
  name: 'signing',
  description:
    'cold start to the first sealed document, then complete signing workflows/s end to end (sign → runtime workers → localSigner PAdES → verify → archive) in memory, on PGlite and on PostgreSQL vs the runtime floor',
  async run() {
    return [...(await coldStartRows()), ...(await memoryRows()), ...(await pgliteRows()), ...(await postgresRows())];
  },
};
export default suite;
