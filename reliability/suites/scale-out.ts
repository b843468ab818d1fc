/**
 * The scale-out suite: 1, 2 and 4 host processes on one PostgreSQL schema, each with its own pool and background
 * worker, taking their share of signings (sealed by `localSigner`, flows kept in the shared database and PDFs in a
 * shared folder) or of dispatches (intake, review, offers, acceptance, the customer's choice and the hand-over to
 * the institution). Beside each run: the database's own limits measured in the same run — the floor of single-row
 * transactions per second, the connections open at the peak and allowed, the server's CPU time — so a reader can
 * tell what more processes could and could not buy on this machine.
 *
 * Correctness is checked every run, and is all the reduced scale checks: every workflow completes once, one local
 * signer flow and one archive per signing, one choice per dispatch, ledgers verify, no dead letters.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ReliabilityFigure, ReliabilityScale, ReliabilitySuite } from '../suite.js';
import { floor, postgresFloor } from '../../bench/floor.js';
import { postgresServerCpuMs } from '../../bench/persistence.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { probePostgres } from '../../packages/adapter-storage/test/support/postgres.js';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { sealedContractDefinition } from '../../fixtures/signing-templates.js';
import { DISPATCH_WORKFLOW, type Persistence, type Sealflow, SIGNING_WORKFLOW } from '../../packages/core/src/index.js';
import { admin, followUp, INSTITUTIONS } from '../scale-out/actors.js';
import {
  type FromHost,
  type HostArguments,
  openHost,
  type ToHost,
  type Work,
  writeIdentities,
} from '../scale-out/host-options.js';
import { readFileSync } from 'node:fs';

interface Plan {
  processes: number[];
  /** Workflows per run, split evenly between the processes (the same total at every process count). */
  total: Record<Work, number>;
  /** Requests each process has in flight, as request handlers would. */
  inFlight: number;
  measure: boolean;
}
const PLANS: Record<ReliabilityScale, Plan> = {
  full: { processes: [1, 2, 4], total: { signing: 160, dispatch: 80 }, inFlight: 8, measure: true },
  ci: { processes: [1, 2], total: { signing: 24, dispatch: 12 }, inFlight: 4, measure: false },
};
const POOL_SIZE = 8;
const HOST_SCRIPT = fileURLToPath(new URL('../scale-out/host-process.ts', import.meta.url));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface RunResult {
  work: Work;
  processes: number;
  total: number;
  ms: number;
  perSecond: number;
  /** CPU ms per workflow: the host processes, and the PostgreSQL server (null when not on this machine). */
  hostCpuMs: number;
  serverCpuMs: number | null;
  peakConnections: number;
  repeatedEffects: number;
  findings: string[];
}

interface Child {
  process: ChildProcess;
  next(type: FromHost['type']): Promise<FromHost>;
}

function startHost(args: HostArguments): Promise<Child> {
  const child = fork(HOST_SCRIPT, [JSON.stringify(args)], {
    execArgv: ['--import', 'tsx', '--conditions=@sealflow/source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FromHost[] = [];
  const waiting: Array<{ type: FromHost['type']; resolve: (m: FromHost) => void; reject: (e: Error) => void }> = [];
  const deliver = () => {
    for (let i = 0; i < waiting.length; i++) {
      const at = inbox.findIndex((m) => m.type === waiting[i]!.type);
      if (at < 0) continue;
      waiting[i]!.resolve(inbox.splice(at, 1)[0]!);
      waiting.splice(i--, 1);
    }
  };
  child.on('message', (message: FromHost) => {
    inbox.push(message);
    deliver();
  });
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`host ${args.name} exited with ${code}`));
  });
  const handle: Child = {
    process: child,
    next: (type) =>
      new Promise((resolve, reject) => {
        waiting.push({ type, resolve, reject });
        deliver();
      }),
  };
  return handle.next('ready').then(() => handle);
}

async function setUp(host: Sealflow, work: Work): Promise<void> {
  if (work === 'signing') {
    const editor = { id: 'alice', roles: ['template-editor'] };
    const draft = await host.templates.importTemplate(editor, {
      code: 'LOAN_CONTRACT_V',
      name: '个人借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)),
      definition: sealedContractDefinition(['platform']),
    });
    await host.templates.submit(editor, draft.id);
    await host.templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
    return;
  }
  for (const institution of INSTITUTIONS) {
    await host.dispatch!.institutions.register(admin, {
      ...institution,
      regions: ['310000'],
      categories: ['mortgage'],
      capacity: 100_000,
    });
    await host.dispatch!.institutions.topUp(admin, {
      institutionId: institution.id,
      account: 'deposit',
      amountFen: 1_000_000_000_000,
      key: `seed:${institution.id}`,
    });
  }
}

/** What the run left behind, checked from the database: each workflow done once, nothing applied twice. */
async function check(host: Sealflow, pool: pg.Pool, schema: string, work: Work, total: number): Promise<string[]> {
  const findings: string[] = [];
  const q = async (sql: string, params: unknown[] = []) =>
    (await pool.query(sql.replaceAll('$schema', `"${schema}"`), params)).rows as Record<string, unknown>[];
  if (work === 'signing') {
    const completed = await host.signing.find({ status: 'COMPLETED', limit: total + 1 });
    if (completed.length !== total) findings.push(`${completed.length} of ${total} signings COMPLETED`);
    const [flows] = await q(
      `SELECT count(*)::int AS n FROM $schema.sealflow_entities WHERE kind = 'local-signer.flow'`,
    );
    if (flows!.n !== total) findings.push(`${flows!.n} local signer flows for ${total} signings`);
    let repeats = 0;
    for (const record of completed) {
      const { manifest } = await host.signing.exportEvidencePackage(record.id);
      const types = manifest.entries.map((e) => e.type);
      const once = ['vendor.flow-started', 'documents.archived', 'signing.completed'].every(
        (t) => types.filter((x) => x === t).length === 1,
      );
      if (!manifest.verification.ok || !once || record.signed.length !== 1) repeats++;
    }
    if (repeats) findings.push(`${repeats} signings whose evidence shows a repeat or does not verify`);
  } else {
    const dispatches = await host.runtime.list({ machineId: DISPATCH_WORKFLOW, limit: total + 1 });
    if (dispatches.length !== total) findings.push(`${dispatches.length} dispatches for ${total} applications`);
    let wrong = 0;
    let notHandedOver = 0;
    for (const d of dispatches) {
      const view = await host.dispatch!.offers.get(d.id, followUp);
      const chosen = view.offers.filter((o) => o.status === 'chosen');
      if (view.outcome !== 'CHOSEN' || chosen.length !== 1) {
        if (wrong++ === 0) findings.push(`${d.id}: outcome ${view.outcome}, ${chosen.length} offers chosen`);
      }
      // The choice's hand-over: the application went to the chosen institution.
      const application = await host.dispatch!.applications.get(followUp, view.applicationId);
      if (application?.status !== 'institutionProcessing' || application.institutionId !== view.chosenInstitutionId) {
        if (notHandedOver++ === 0) {
          findings.push(
            `${d.id}: ${view.outcome} for ${view.chosenInstitutionId}, but its application is ${application?.stage} with ${application?.institutionId}`,
          );
        }
      }
    }
    if (wrong) findings.push(`${wrong} dispatches not chosen exactly once`);
    if (notHandedOver) findings.push(`${notHandedOver} choices not handed over to their application`);
    for (const institution of INSTITUTIONS) {
      const verification = await host.dispatch!.institutions.verify(admin, institution.id);
      if (!verification.ok) findings.push(`${institution.id}'s ledger: ${verification.problems.join(' ')}`);
    }
  }
  const [left] = await q(
    `SELECT count(*)::int AS n FROM $schema.sealflow_outbox WHERE status IN ('failed', 'dead') AND kind = 'effect'`,
  );
  if (left!.n) findings.push(`${left!.n} effects failed or dead`);
  return findings;
}

async function runOnce(url: string, identities: string, work: Work, processes: number, plan: Plan): Promise<RunResult> {
  const total = plan.total[work];
  const schema = `reliability_scale_${randomBytes(4).toString('hex')}`;
  const documents = mkdtempSync(join(tmpdir(), 'sealflow-scale-out-'));
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const children: Child[] = [];
  // Made inside the try: a failure to open them still drops the schema their migrations may have created.
  let persistence: Persistence | undefined;
  let parent: Sealflow | undefined;
  try {
    persistence = await postgresPersistence({ connectionString: url, schema, max: 4 });
    parent = await openHost(persistence, { documents, identities }, { worker: false });
    await setUp(parent, work);
    for (let k = 0; k < processes; k++) {
      children.push(
        await startHost({
          connectionString: url,
          schema,
          documents,
          identities,
          work,
          name: `host-${k}`,
          poolSize: POOL_SIZE,
        }),
      );
    }
    const machine = work === 'signing' ? SIGNING_WORKFLOW : DISPATCH_WORKFLOW;
    const done = async () =>
      Number(
        (
          await pool.query(
            `SELECT count(*)::int AS n FROM "${schema}".sealflow_workflows WHERE machine_id = $1 AND status <> 'active'`,
            [machine],
          )
        ).rows[0].n,
      );
    let peakConnections = 0;
    const sampler = setInterval(() => {
      pool
        .query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()')
        .then((r) => {
          peakConnections = Math.max(peakConnections, r.rows[0].n);
        })
        .catch(() => {});
    }, 250);
    const serverBefore = postgresServerCpuMs();
    const started = performance.now();
    const share = Math.ceil(total / processes);
    const submitted = children.map((child) => child.next('submitted'));
    children.forEach((child, k) => {
      const count = Math.min(share, total - k * share);
      const go: ToHost = { type: 'go', count, prefix: `H${k}`, inFlight: plan.inFlight, offset: k * share };
      child.process.send(go);
    });
    const failures = (await Promise.all(submitted)).flatMap((m) => (m.type === 'submitted' ? m.failures : []));
    const until = Date.now() + 600_000;
    // Finished when every workflow of the kind has ended and nothing is left in the outbox (the hand-overs after them).
    const pendingEffects = async () =>
      Number(
        (
          await pool.query(
            `SELECT count(*)::int AS n FROM "${schema}".sealflow_outbox WHERE kind IN ('effect', 'event') AND status IN ('pending', 'running')`,
          )
        ).rows[0].n,
      );
    while (((await done()) < total || (await pendingEffects()) > 0) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ms = performance.now() - started;
    const serverAfter = postgresServerCpuMs();
    clearInterval(sampler);
    const stopped = children.map((child) => child.next('stopped'));
    for (const child of children) child.process.send({ type: 'stop' } satisfies ToHost);
    const reports = (await Promise.all(stopped)).flatMap((m) => (m.type === 'stopped' ? [m] : []));
    const runs = new Map<string, number>();
    for (const report of reports) {
      for (const [key, n] of Object.entries(report.effectRuns)) runs.set(key, (runs.get(key) ?? 0) + n);
    }
    const findings = [...failures.slice(0, 5), ...(await check(parent, pool, schema, work, total))];
    if (failures.length > 5) findings.push(`… and ${failures.length - 5} more refused requests`);
    const finished = await done();
    if (finished < total) findings.push(`after 600 s only ${finished} of ${total} workflows finished`);
    return {
      work,
      processes,
      total,
      ms,
      perSecond: total / (ms / 1000),
      hostCpuMs: reports.reduce((sum, r) => sum + r.cpuMs, 0) / total,
      serverCpuMs: serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) / total,
      peakConnections,
      repeatedEffects: [...runs.values()].filter((n) => n > 1).length,
      findings: findings.map((f) => `${work}, ${processes} process(es): ${f}`),
    };
  } finally {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await parent?.close().catch(() => {});
    await persistence?.close().catch(() => {});
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    rmSync(documents, { recursive: true, force: true });
  }
}

/** Single-row transactions per second on the same server, with `connections` at once (see bench/floor.ts). */
async function floorRate(url: string, connections: number): Promise<number> {
  const schema = `reliability_floor_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: url, max: connections });
  try {
    await pool.query(`CREATE SCHEMA "${schema}"`);
    return await floor(await postgresFloor(pool, schema, 1_000), 5_000, connections);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}

export const DESCRIPTION = `
One, two and four host processes (child processes of the suite, each a \`createSealflow\` with its own pool of 8
connections and a background worker of concurrency 8) share one PostgreSQL schema on 127.0.0.1:5432. The work is
split evenly between them and each keeps 8 requests in flight, as request handlers would; every process's worker
also finishes work the others started. Signings are platform-funded loan contracts sealed by \`localSigner\` (two
PAdES signatures, EC P-256 test certificates), its flows kept in the shared database and its PDFs in a shared folder,
so a flow one process starts another can finish; the clock runs from the first request to the last signing finished.
Dispatches run from intake through review, the runtime's offers (three institutions of 10 each time), one
institution's acceptance (its position frozen) and the customer's choice (no contract signing); the clock runs from
the first request until every dispatch workflow has ended and the outbox is empty.

Beside each run, measured in the same run: the floor (single-row \`UPDATE\` transactions per second on the same server,
8 and 32 connections at once, as \`pnpm bench\` measures it), the connections open at the peak against the server's
\`max_connections\`, and the server's CPU time per workflow read from /proc. After every run the suite checks that
each workflow completed once: every signing COMPLETED with one local signer flow and evidence showing one flow, one
archive and one completion; every dispatch ending with exactly one offer chosen; every ledger verifying; no failed or
dead effect. A repeated effect run (delivery is at least once) is counted, not failed: it must change nothing, which
the checks show. The reduced scale runs 1 and 2 processes on a few workflows and checks only correctness.`;

let lastTable = '';

function table(results: RunResult[], floors: { eight: number; thirtyTwo: number }, maxConnections: number): string {
  const cores = availableParallelism();
  const rows = results.map((r) => {
    const server = r.serverCpuMs === null ? 'n/a' : r.serverCpuMs.toFixed(1);
    const machineMs = r.hostCpuMs + (r.serverCpuMs ?? 0);
    return `| ${r.work === 'signing' ? 'signings (localSigner)' : 'dispatches'} | ${r.processes} | ${r.total} | ${r.perSecond.toFixed(1)} /s | ${r.hostCpuMs.toFixed(1)} | ${server} | ${((cores * 1000) / machineMs).toFixed(1)} /s | ${r.peakConnections} of ${maxConnections} | ${r.repeatedEffects} |`;
  });
  return `**This machine:** ${cores} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), shared by the host processes,
the PostgreSQL server and the suite itself. **Floor** in the same run: ${floors.eight.toFixed(0)} single-row
transactions/s with 8 connections, ${floors.thirtyTwo.toFixed(0)} with 32.

| Work | Processes | Workflows | Throughput | Host CPU ms per workflow | Server CPU ms per workflow | CPU ceiling (cores ÷ CPU per workflow) | Connections at peak | Effects run twice |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

What the numbers show: on 2 cores the processes and the database compete for the same two CPUs, so more processes
cannot add throughput once the CPU is busy; the "CPU ceiling" column is the most this machine could do if nothing
ever waited (host plus server CPU time per workflow), and a throughput near it means the machine, not sealflow's
locking, is the limit. A throughput well below both the ceiling and the floor divided by the transactions a workflow
needs would point at contention in the database (rows claimed by several workers); rising CPU per workflow with more
processes is that contention's cost (claims that find nothing, retried conflicts). What they do not show: how far
the same code scales on a machine with more cores or a database server of its own — more processes can only be
judged there, and this table is the method to use. The correctness columns (effects run twice, and the checks
above) hold at every process count.`;
}

const suite: ReliabilitySuite = {
  name: 'scale-out',
  title: 'Scale-out: several host processes on one PostgreSQL schema',
  get description() {
    return lastTable ? `${DESCRIPTION}\n\n${lastTable}` : DESCRIPTION;
  },
  async run(scale: ReliabilityScale) {
    const plan = PLANS[scale];
    const started = Date.now();
    const { url, skip } = await probePostgres();
    if (skip !== undefined) {
      console.warn(`[reliability] scale-out skipped: ${skip}`);
      return { passed: true, findings: [], figures: [{ label: 'Skipped', value: skip }] };
    }
    const directory = mkdtempSync(join(tmpdir(), 'sealflow-scale-out-ids-'));
    const identities = join(directory, 'identities.json');
    writeIdentities(identities);
    const results: RunResult[] = [];
    const findings: string[] = [];
    try {
      for (const work of ['signing', 'dispatch'] as const) {
        for (const processes of plan.processes) {
          try {
            const result = await runOnce(url, identities, work, processes, plan);
            results.push(result);
            findings.push(...result.findings);
            console.log(
              `  ${work}, ${processes} process(es): ${result.total} in ${seconds(result.ms)} (${result.perSecond.toFixed(1)}/s)`,
            );
          } catch (error) {
            findings.push(`${work}, ${processes} process(es): the run failed: ${(error as Error).stack ?? error}`);
          }
        }
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
    const figures: ReliabilityFigure[] = results.map((r) => ({
      label: `${r.work === 'signing' ? 'Signings (localSigner)' : 'Dispatches'}, ${r.processes} process(es)`,
      value: `${r.total} completed once in ${seconds(r.ms)}${plan.measure ? ` (${r.perSecond.toFixed(1)}/s)` : ''}; ${r.repeatedEffects} effects run twice`,
    }));
    if (plan.measure) {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      const maxConnections = Number((await pool.query('SHOW max_connections')).rows[0].max_connections);
      await pool.end();
      const floors = { eight: await floorRate(url, 8), thirtyTwo: await floorRate(url, 32) };
      lastTable = table(results, floors, maxConnections);
      figures.push(
        {
          label: 'Floor, single-row transactions (8 / 32 connections)',
          value: `${floors.eight.toFixed(0)} / ${floors.thirtyTwo.toFixed(0)} tx/s`,
        },
        { label: 'Cores', value: availableParallelism() },
      );
    }
    figures.push({ label: 'Wall time', value: seconds(Date.now() - started) });
    return { passed: findings.length === 0, figures, findings };
  },
};
export default suite;
