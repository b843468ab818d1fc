/**
 * The crash suite: host processes signing on PostgreSQL and on PGlite on disk are SIGKILLed at random moments and
 * restarted, while 安心签 (the CFCA emulator) runs in a separate long-lived process over real HTTP, so what it holds
 * outlives every kill and can be counted at the end.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  CRASH_BORROWERS,
  type ContractCensus,
  type CrashBackend,
  type HostTask,
  type HostToParent,
  type ParentToVendor,
  type VendorConfig,
  type VendorToParent,
} from '../crash/shared.js';
import type { ReliabilityResult, ReliabilityScale, ReliabilitySuite } from '../suite.js';

const POSTGRES_URL = process.env.SEALFLOW_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const EXEC_ARGV = ['--import', 'tsx', '--conditions=@sealflow/source'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const script = (name: string) => fileURLToPath(new URL(`../crash/${name}`, import.meta.url));

/** Per backend: how many signings and how many kills. */
const PLAN: Record<ReliabilityScale, { signings: number; kills: number }> = {
  full: { signings: 500, kills: 25 },
  ci: { signings: 30, kills: 3 },
};

// ---------------------------------------------------------------------------------------------------------------
// The vendor process

interface VendorProcess {
  config: VendorConfig;
  send(message: ParentToVendor): void;
  /** Resolves with the next `committed` report (a create 安心签 committed whose answer is held). */
  nextCommit(timeoutMs: number): Promise<string | undefined>;
  census(): Promise<{ requests: number; contracts: ContractCensus[] }>;
  stop(): Promise<void>;
}

async function startVendor(): Promise<VendorProcess> {
  const child = fork(script('vendor-server.ts'), [JSON.stringify(CRASH_BORROWERS)], {
    execArgv: EXEC_ARGV,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners = new Set<(message: VendorToParent) => void>();
  child.on('message', (message: VendorToParent) => {
    for (const listener of [...listeners]) listener(message);
  });
  const next = <K extends VendorToParent['kind']>(kind: K, timeoutMs: number) =>
    new Promise<Extract<VendorToParent, { kind: K }> | undefined>((resolve) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        resolve(undefined);
      }, timeoutMs);
      const listener = (message: VendorToParent) => {
        if (message.kind !== kind) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(message as Extract<VendorToParent, { kind: K }>);
      };
      listeners.add(listener);
    });
  const ready = await next('ready', 60_000);
  if (!ready) throw new Error('the vendor process did not start within 60 s');
  return {
    config: ready.config,
    send: (message) => child.send(message),
    nextCommit: async (timeoutMs) => (await next('committed', timeoutMs))?.txCode,
    async census() {
      const answer = next('census', 60_000);
      child.send({ kind: 'census' } satisfies ParentToVendor);
      const census = await answer;
      if (!census) throw new Error('the vendor process did not answer the census');
      return census;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Hosts

interface Host {
  child: ChildProcess;
  exited: Promise<void>;
  killed: boolean;
}

function startHost(task: HostTask, onMessage: (message: HostToParent) => void): Host {
  const child = fork(script('host.ts'), [JSON.stringify(task)], {
    execArgv: EXEC_ARGV,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('error', () => {});
  child.on('message', onMessage);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, killed: false };
}

async function kill(host: Host) {
  if (host.child.exitCode === null && host.child.signalCode === null) {
    host.killed = true;
    host.child.kill('SIGKILL');
  }
  await host.exited;
}

// ---------------------------------------------------------------------------------------------------------------
// One backend's run

interface BackendRun {
  backend: string;
  signings: number;
  kills: number;
  killsAtCommit: number;
  restarts: number;
  seconds: number;
  findings: string[];
  checked: { signings: number; evidence: number; audits: number; flows: number; timers: number };
  statuses: Record<string, number>;
  /** Why signings FAILED, with how many each. */
  failures: string[];
}

async function runBackend(
  name: string,
  backend: CrashBackend,
  vendor: VendorProcess,
  plan: { signings: number; kills: number },
  numberBase: number,
): Promise<BackendRun> {
  const started = Date.now();
  const findings: string[] = [];
  const all = Array.from({ length: plan.signings }, (_, i) => numberBase + i);
  const base = { backend, vendor: vendor.config } as const;

  // Setup: the template approved once, in a host that is not killed.
  let templateVersion: string | undefined;
  const setup = startHost({ ...base, mode: 'setup', numbers: [] }, (m) => {
    if (m.kind === 'set-up') templateVersion = m.templateVersion;
  });
  await setup.exited;
  if (!templateVersion) throw new Error(`${name}: the setup host exited without approving the template`);

  // Work: each host gets the next share of signings (plus any not yet acknowledged) and is killed at a random moment.
  const acknowledged = new Set<number>();
  const share = Math.ceil(plan.signings / plan.kills);
  let handedOut = 0;
  let kills = 0;
  let killsAtCommit = 0;
  let restarts = 0;
  for (let life = 0; life < plan.kills; life++) {
    handedOut = Math.min(plan.signings, handedOut + share);
    const numbers = all.slice(0, handedOut).filter((n) => !acknowledged.has(n));
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const host = startHost({ ...base, mode: 'work', numbers, templateVersion }, (m) => {
      if (m.kind === 'ready') ready();
      else if (m.kind === 'submitted') acknowledged.add(m.n);
    });
    if (life > 0) restarts++;
    await Promise.race([isReady, host.exited]);
    // Every third kill lands between 安心签's commit of a contract and its answer reaching the host; the others at a
    // random moment of the host's life, which under load is mostly inside an effect or a transaction.
    if (life % 3 === 1) {
      vendor.send({ kind: 'arm', what: 'create' });
      const committed = await vendor.nextCommit(15_000);
      vendor.send({ kind: 'disarm' });
      if (committed) killsAtCommit++;
      await kill(host);
      vendor.send({ kind: 'release' });
    } else {
      await Promise.race([sleep(500 + Math.random() * 3_000), host.exited]);
      await kill(host);
    }
    if (host.killed) kills++;
    else findings.push(`${name}: a host exited by itself (code ${host.child.exitCode}) before it was killed`);
  }

  // The last host is never killed: it submits whatever is left, finishes the work and checks.
  let checked: Extract<HostToParent, { kind: 'checked' }> | undefined;
  const last = startHost({ ...base, mode: 'check', numbers: all, templateVersion, all }, (m) => {
    if (m.kind === 'checked') checked = m;
  });
  restarts++;
  await last.exited;
  if (!checked) throw new Error(`${name}: the checking host exited (code ${last.child.exitCode}) without a report`);

  // --- the invariants ---------------------------------------------------------------------------------------------
  const census = await vendor.census();
  const contracts = new Map(census.contracts.map((c) => [c.contractNo, c]));
  const statuses: Record<string, number> = {};
  let flowsChecked = 0;
  const failures = new Map<string, number>();
  for (const s of checked.signings) {
    if (!s.found) {
      findings.push(`${name}: ${s.businessNo} lost: no signing record although sign was called for it`);
      continue;
    }
    statuses[s.status!] = (statuses[s.status!] ?? 0) + 1;
    if (s.failure) failures.set(s.failure.slice(0, 160), (failures.get(s.failure.slice(0, 160)) ?? 0) + 1);
    if (s.status !== 'COMPLETED' && s.status !== 'FAILED') {
      findings.push(`${name}: ${s.businessNo} did not converge: ${s.status} at stage ${s.stage}`);
    }
    if (s.status === 'FAILED' && !s.failure) findings.push(`${name}: ${s.businessNo} FAILED without a reason`);
    if (!s.evidenceOk) findings.push(`${name}: ${s.businessNo} evidence does not verify: ${s.evidenceProblems}`);
    // The vendor numbers a flow's contract from its flow id, so the signing's own contract is `<flowId>01`.
    if (s.flowId) {
      flowsChecked++;
      const contract = contracts.get(`${s.flowId}01`);
      if (s.status === 'COMPLETED' && contract?.contractState !== 1) {
        findings.push(`${name}: ${s.businessNo} COMPLETED but 安心签 shows its contract as ${contract?.contractState}`);
      }
      if (s.status === 'FAILED' && contract?.contractState === 1) {
        findings.push(`${name}: ${s.businessNo} FAILED (${s.failure}) while its 安心签 contract is signed`);
      }
    }
  }
  for (const a of checked.auditFailures) findings.push(`${name}: audit chain does not verify: ${a}`);
  for (const t of checked.leftTimers) findings.push(`${name}: timer left on a finished workflow: ${t}`);
  for (const d of checked.deadEffects) findings.push(`${name}: dead effect: ${d}`);

  return {
    backend: name,
    signings: plan.signings,
    kills,
    killsAtCommit,
    restarts,
    seconds: (Date.now() - started) / 1000,
    findings,
    checked: {
      signings: checked.signings.length,
      evidence: checked.signings.filter((s) => s.found).length,
      audits: checked.workflows,
      flows: flowsChecked,
      timers: checked.workflows,
    },
    statuses,
    failures: [...failures].map(([reason, n]) => `${n} × ${reason}`),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The suite

const DESCRIPTION = `
A host process signs loan contracts (the platform's seal and the borrower's signature, made by 安心签 for her under
her proxy-sign authorisation) while the suite SIGKILLs it at random moments and starts a fresh one, again and again.
It runs twice: on PostgreSQL (a schema of its own) and on PGlite on disk (\`pglitePersistence({ dataDir })\`), with
the documents in the fs document store and the CFCA vendor's flow records in the same database
(\`persistentCfcaStore\`). 安心签 is the CFCA emulator, served over real HTTP by a separate long-lived process, so the
contracts it holds outlive every kill and can be counted at the end.

Each host is handed its share of signings plus any whose \`sign\` call it never saw answered, submits them four at a
time, and runs the background worker. Every third kill is armed at the vendor: the next contract 安心签 commits is
held, the host is killed, and only then is the answer let go — the host never learns its create succeeded. The other
kills come at a random moment 0.5–3.5 s into a host's life, which on a loaded machine lands inside effects and
transactions. Time is real: the runtime's lease is 2 s, so a killed host's claims are taken over quickly, and the
signings' deadline (24 h) never fires, so every timer must be gone once its workflow ends. A last host, never killed,
submits what is left, lets the worker finish and reads everything back.

The suite fails on: a signing lost (no record for a business number \`sign\` was called with); one not COMPLETED or
FAILED, or FAILED without a reason; a COMPLETED signing whose 安心签 contract is not signed, or a FAILED one whose
contract is; more contracts at 安心签 than signings that made one (a contract made twice for one business number);
evidence that \`verifyEvidence\` does not accept; a workflow whose audit chain \`verifyAudit\` does not accept; a timer
left on a finished workflow; a dead effect.`;

const suite: ReliabilitySuite = {
  name: 'crash',
  title: 'Host processes killed mid-signing',
  description: DESCRIPTION,
  async run(scale: ReliabilityScale): Promise<ReliabilityResult> {
    const started = Date.now();
    const plan = PLAN[scale];
    const vendor = await startVendor();
    const dirs: string[] = [];
    const tempDir = () => {
      const dir = mkdtempSync(join(tmpdir(), 'sealflow-crash-'));
      dirs.push(dir);
      return dir;
    };
    const schema = `crash_${randomBytes(4).toString('hex')}`;
    const runs: BackendRun[] = [];
    const findings: string[] = [];
    try {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
      let postgres = true;
      try {
        await pool.query('SELECT 1');
      } catch (error) {
        postgres = false;
        findings.push(`PostgreSQL at ${POSTGRES_URL} is not reachable (${(error as Error).message})`);
      }
      if (postgres) {
        try {
          runs.push(
            await runBackend(
              'PostgreSQL',
              { kind: 'postgres', url: POSTGRES_URL, schema, documentsDir: tempDir() },
              vendor,
              plan,
              0,
            ),
          );
        } finally {
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
        }
      }
      await pool.end();
      runs.push(
        await runBackend(
          'PGlite',
          { kind: 'pglite', dataDir: join(tempDir(), 'pgdata'), documentsDir: tempDir() },
          vendor,
          plan,
          100_000,
        ),
      );
      // 安心签 holds one contract per signing that reached it; any more is a contract made twice for one number.
      const census = await vendor.census();
      const flows = runs.reduce((sum, r) => sum + r.checked.flows, 0);
      if (census.contracts.length !== flows) {
        findings.push(
          `安心签 holds ${census.contracts.length} contracts for ${flows} signings with a flow: a contract was made twice`,
        );
      }
      findings.push(...runs.flatMap((r) => r.findings));
      const sum = (pick: (r: BackendRun) => number) => runs.reduce((total, r) => total + pick(r), 0);
      const statuses = runs
        .map(
          (r) =>
            `${r.backend}: ${Object.entries(r.statuses)
              .map(([s, n]) => `${n} ${s}`)
              .join(', ')}`,
        )
        .join('; ');
      return {
        passed: findings.length === 0,
        findings,
        figures: [
          { label: 'Backends', value: runs.map((r) => r.backend).join(', ') },
          { label: 'Signing workflows', value: sum((r) => r.signings) },
          { label: 'SIGKILLs', value: sum((r) => r.kills) },
          {
            label: '… of them between 安心签 committing a contract and its answer',
            value: sum((r) => r.killsAtCommit),
          },
          { label: 'Host restarts', value: sum((r) => r.restarts) },
          { label: 'Outcome', value: statuses },
          {
            label: 'Why signings FAILED',
            value: runs.flatMap((r) => r.failures.map((f) => `${r.backend}: ${f}`)).join('; ') || 'none failed',
          },
          { label: 'Signings checked found and final', value: sum((r) => r.checked.signings) },
          { label: 'Evidence chains verified', value: sum((r) => r.checked.evidence) },
          { label: 'Workflow audit chains verified', value: sum((r) => r.checked.audits) },
          { label: 'Signings matched to their 安心签 contract', value: flows },
          { label: '安心签 contracts / HTTP requests', value: `${census.contracts.length} / ${census.requests}` },
          { label: 'Workflows checked for leftover timers', value: sum((r) => r.checked.timers) },
          { label: 'Wall time', value: `${((Date.now() - started) / 1000).toFixed(0)} s` },
        ],
      };
    } finally {
      await vendor.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
