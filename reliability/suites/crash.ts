/**
 * The crash suite: host processes signing (at 安心签 and at e签宝) and dispatching loan applications on PostgreSQL
 * and on PGlite on disk are SIGKILLed at random moments and restarted, while the two vendor emulators run in a
 * separate long-lived process over real HTTP, so what they hold outlives every kill and can be counted at the end.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CLOCK_JUMP_MS, type DispatchCheck, writeClockOffset } from '../crash/dispatch.js';
import {
  CRASH_BORROWERS,
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

/** Per backend: how many signings, how many loan applications and how many kills. */
interface Plan {
  signings: number;
  applications: number;
  kills: number;
  /** A host lives this long (ms) after it reports ready, at random between the two, unless armed at the vendor. */
  life: [number, number];
}
const PLAN: Record<ReliabilityScale, Plan> = {
  full: { signings: 300, applications: 200, kills: 25, life: [1_000, 6_000] },
  ci: { signings: 16, applications: 8, kills: 3, life: [500, 2_500] },
};

// ---------------------------------------------------------------------------------------------------------------
// The vendor process

interface VendorProcess {
  config: VendorConfig;
  send(message: ParentToVendor): void;
  /** Resolves with the next `committed` report (a create 安心签 committed whose answer is held). */
  nextCommit(timeoutMs: number): Promise<string | undefined>;
  census(): Promise<Extract<VendorToParent, { kind: 'census' }>>;
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
  applications: number;
  clockJumps: number;
  dispatch: DispatchCheck | undefined;
  kills: number;
  killsAtCommit: number;
  restarts: number;
  seconds: number;
  findings: string[];
  checked: { signings: number; evidence: number; audits: number; flows: number; timers: number };
  /** Signings that ended at each vendor. */
  byVendor: Record<string, number>;
  statuses: Record<string, number>;
  /** Why signings FAILED, with how many each. */
  failures: string[];
}

async function runBackend(
  name: string,
  backend: CrashBackend,
  dispatchBackend: CrashBackend,
  clockFile: string,
  vendor: VendorProcess,
  plan: Plan,
  numberBase: number,
): Promise<BackendRun> {
  const started = Date.now();
  const findings: string[] = [];
  const all = Array.from({ length: plan.signings }, (_, i) => numberBase + i);
  const allApplications = Array.from({ length: plan.applications }, (_, i) => numberBase + i);
  const base = { backend, vendor: vendor.config } as const;
  let clockOffset = 0;
  writeClockOffset(clockFile, clockOffset);
  const dispatchOf = (numbers: number[]) => ({ backend: dispatchBackend, clockFile, numbers });

  // Setup: the template approved and the institutions registered once, in a host that is not killed.
  let templateVersion: string | undefined;
  const setup = startHost({ ...base, mode: 'setup', numbers: [], dispatch: dispatchOf([]) }, (m) => {
    if (m.kind === 'set-up') templateVersion = m.templateVersion;
  });
  await setup.exited;
  if (!templateVersion) throw new Error(`${name}: the setup host exited without approving the template`);

  // Work: each host gets the next share of signings (plus any not yet acknowledged) and is killed at a random moment.
  const acknowledged = new Set<number>();
  const share = Math.ceil(plan.signings / plan.kills);
  const applicationShare = Math.ceil(plan.applications / plan.kills);
  let handedOut = 0;
  let applicationsHandedOut = 0;
  let kills = 0;
  let killsAtCommit = 0;
  let restarts = 0;
  let clockJumps = 0;
  for (let life = 0; life < plan.kills; life++) {
    handedOut = Math.min(plan.signings, handedOut + share);
    applicationsHandedOut = Math.min(plan.applications, applicationsHandedOut + applicationShare);
    const numbers = all.slice(0, handedOut).filter((n) => !acknowledged.has(n));
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const task: HostTask = {
      ...base,
      mode: 'work',
      numbers,
      templateVersion,
      dispatch: dispatchOf(allApplications.slice(0, applicationsHandedOut)),
    };
    const host = startHost(task, (m) => {
      if (m.kind === 'ready') {
        vendor.send({ kind: 'host', callbackUrl: m.callbackUrl ?? null });
        ready();
      } else if (m.kind === 'submitted') acknowledged.add(m.n);
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
      const [shortest, longest] = plan.life;
      await Promise.race([sleep(shortest + Math.random() * (longest - shortest)), host.exited]);
      await kill(host);
    }
    vendor.send({ kind: 'host', callbackUrl: null });
    if (host.killed) kills++;
    else findings.push(`${name}: a host exited by itself (code ${host.child.exitCode}) before it was killed`);
    // Every third kill, a day and an hour pass while no host is alive: offer deadlines and choice windows run out.
    if (life % 3 === 2) {
      clockOffset += CLOCK_JUMP_MS;
      writeClockOffset(clockFile, clockOffset);
      clockJumps++;
    }
  }

  // The last host is never killed: it submits whatever is left, finishes the work and checks.
  let checked: Extract<HostToParent, { kind: 'checked' }> | undefined;
  const lastTask: HostTask = {
    ...base,
    mode: 'check',
    numbers: all,
    templateVersion,
    all,
    dispatch: dispatchOf(allApplications),
  };
  const last = startHost(lastTask, (m) => {
    if (m.kind === 'ready') vendor.send({ kind: 'host', callbackUrl: m.callbackUrl ?? null });
    if (m.kind === 'checked') checked = m;
  });
  restarts++;
  await last.exited;
  vendor.send({ kind: 'host', callbackUrl: null });
  if (!checked) throw new Error(`${name}: the checking host exited (code ${last.child.exitCode}) without a report`);

  // --- the invariants ---------------------------------------------------------------------------------------------
  const census = await vendor.census();
  const contracts = new Map(census.contracts.map((c) => [c.contractNo, c]));
  const esignFlows = new Map((census.esignFlows ?? []).map((f) => [f.signFlowId, f]));
  const statuses: Record<string, number> = {};
  const byVendor: Record<string, number> = {};
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
    byVendor[s.vendorId ?? 'none'] = (byVendor[s.vendorId ?? 'none'] ?? 0) + 1;
    if (s.flowId && s.vendorId === 'esign') {
      flowsChecked++;
      const flow = esignFlows.get(s.flowId);
      if (s.status === 'COMPLETED' && flow?.status !== 2) {
        findings.push(`${name}: ${s.businessNo} COMPLETED but e签宝 shows its flow as ${flow?.status}`);
      }
      if (s.status === 'FAILED' && flow?.status === 2) {
        findings.push(`${name}: ${s.businessNo} FAILED (${s.failure}) while its e签宝 flow completed`);
      }
    } else if (s.flowId) {
      // The vendor numbers a flow's contract from its flow id, so the signing's own contract is `<flowId>01`.
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
  if (!checked.dispatch) findings.push(`${name}: the checking host reported no dispatch check`);
  for (const f of checked.dispatch?.findings ?? []) findings.push(`${name}: dispatch: ${f}`);

  return {
    backend: name,
    signings: plan.signings,
    applications: plan.applications,
    clockJumps,
    dispatch: checked.dispatch,
    byVendor,
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
A host process signs loan contracts and dispatches loan applications while the suite SIGKILLs it at random moments
and starts a fresh one, again and again. It runs twice: on PostgreSQL (schemas of its own) and on PGlite on disk
(\`pglitePersistence({ dataDir })\`), with the documents in the fs document store and the vendors' flow records in
the same database. The vendors are two emulators served over real HTTP by a separate long-lived process, so what
they hold outlives every kill and can be counted at the end: 安心签 (the CFCA emulator) signs the even-numbered
contracts and e签宝 the odd ones — the platform's seal and the borrower's signature, made for her under her proxy-sign
(安心签) or silent-sign (e签宝) authorisation. e签宝 reports completion by callback: flows are created with the vendor
process's address, which forwards each callback to the host alive now; while none is, the emulator retries as e签宝
does (up to 16 times), and the signing workflow also asks e签宝 when no callback has come within 3 s.

Dispatch runs in a second SDK instance of the same process, on a database of its own: applications opened,
registered, given their materials, confirmed and passed in review; the runtime ranks 40 institutions and offers the
application to three at a time with 24 h deadlines; an institution accepts (its position is frozen), or for even
applications the first declines and the next is offered; the customer chooses the accepted institution; the
dispatch's outcome is handed to the application, which goes through face-signing, disbursement and settlement (the
position restored). Every third application's first round goes unanswered. The dispatch instance's clock is a port
the suite controls: after every third kill it moves a day and an hour ahead while no host is alive, so the next host
finds offer deadlines and choice windows passed and its worker fires them — unanswered rounds expire, the
application goes back to review and is passed into a new round. Signing keeps real time (the vendors check request
and callback timestamps against their own clocks); its deadline (24 h) never fires.

Each host is handed its share of signings plus any whose \`sign\` call it never saw answered, submits them four at a
time, drives every application handed out so far (each step read from what is stored, four applications at a time)
and runs both background workers. Every third kill is armed at the vendor process: the next contract 安心签 commits
or flow e签宝 creates is held, the host is killed, and only then is the answer let go — the host never learns its
create succeeded. The other kills come at a random moment of a host's life, which on a loaded machine lands inside
effects and transactions. The runtimes' lease is 2 s, so a killed host's claims are taken over quickly. A last host,
never killed, submits what is left, drives every application to settlement, lets the workers finish and reads
everything back.

Run it on a machine with a core to spare. The 2 s lease gives each effect attempt 1 s (half the lease), which a host
starved of CPU cannot meet: run at the lowest priority beside another full-scale suite, the PGlite host's effects
timed out on every attempt and none of its signings finished within the last host's 20 minutes, while PostgreSQL's
all completed. Production leases are a minute by default, and an effect's timeout is set to fit its work.

The suite fails on: a signing or application lost (no record for a number it was handed out with); a signing not
COMPLETED or FAILED, or FAILED without a reason; an application not settled or a dispatch not ended; a COMPLETED
signing whose contract or flow at its vendor is not signed, or a FAILED one whose contract or flow is; more than one
contract (安心签) or flow (e签宝) for one business number, counted per business number at each emulator; a dispatch
CHOSEN whose institution is not the one the application went to, or one CHOSEN that the application never took up; an
accepted offer whose position was not frozen exactly once (its freeze key), a position frozen for an offer never
accepted, one application's frozen amount at an institution ever above its amount, a ledger idempotency key used
twice, a settled application whose position was not restored exactly once, or a hold left on any institution; a
deadline timer (offer deadline or reminder, choice window) that fired more than once, or an offer that expired
without its deadline firing; a ledger that \`verify\` does not accept; evidence that \`verifyEvidence\` does not
accept; a workflow whose audit chain \`verifyAudit\` does not accept; a timer left on a finished workflow; a dead
effect.`;

/** How many flows each business number has at a vendor, from titles `<scene name> <business number>`. */
function perBusinessNo(titles: readonly (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const title of titles) {
    const businessNo = title?.split(' ').at(-1) ?? '(untitled)';
    counts.set(businessNo, (counts.get(businessNo) ?? 0) + 1);
  }
  return counts;
}

const suite: ReliabilitySuite = {
  name: 'crash',
  title: 'Host processes killed mid-signing and mid-dispatch',
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
              { kind: 'postgres', url: POSTGRES_URL, schema: `${schema}_dispatch`, documentsDir: tempDir() },
              join(tempDir(), 'clock.json'),
              vendor,
              plan,
              0,
            ),
          );
        } finally {
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
          await pool.query(`DROP SCHEMA IF EXISTS "${schema}_dispatch" CASCADE`).catch(() => {});
        }
      }
      await pool.end().catch(() => {});
      runs.push(
        await runBackend(
          'PGlite',
          { kind: 'pglite', dataDir: join(tempDir(), 'pgdata'), documentsDir: tempDir() },
          { kind: 'pglite', dataDir: join(tempDir(), 'pgdata-dispatch'), documentsDir: tempDir() },
          join(tempDir(), 'clock.json'),
          vendor,
          plan,
          100_000,
        ),
      );
      // One contract (安心签) or flow (e签宝) per business number, counted per business number at each emulator.
      const census = await vendor.census();
      const atVendors = [
        { vendor: '安心签', counts: perBusinessNo(census.contracts.map((c) => c.contractName)) },
        { vendor: 'e签宝', counts: perBusinessNo((census.esignFlows ?? []).map((f) => f.title)) },
      ];
      for (const { vendor: at, counts } of atVendors) {
        for (const [businessNo, n] of counts) {
          if (n > 1) findings.push(`${at} holds ${n} contracts for business number ${businessNo}: one was made twice`);
        }
      }
      const flows = runs.reduce((sum, r) => sum + r.checked.flows, 0);
      const made = census.contracts.length + (census.esignFlows?.length ?? 0);
      if (made !== flows) {
        findings.push(`the vendors hold ${made} contracts and flows for ${flows} signings with one`);
      }
      findings.push(...runs.flatMap((r) => r.findings));
      const sum = (pick: (r: BackendRun) => number) => runs.reduce((total, r) => total + pick(r), 0);
      const per = (text: (r: BackendRun) => string) => runs.map((r) => `${r.backend}: ${text(r)}`).join('; ');
      const counts = (record: Record<string, number> | undefined) =>
        Object.entries(record ?? {})
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
      const workflows = sum((r) => r.signings + r.applications + (r.dispatch?.dispatches ?? 0));
      return {
        passed: findings.length === 0,
        findings,
        figures: [
          { label: 'Backends', value: runs.map((r) => r.backend).join(', ') },
          {
            label: 'Workflows (signings + applications + dispatches)',
            value: `${workflows} (${sum((r) => r.signings)} + ${sum((r) => r.applications)} + ${sum((r) => r.dispatch?.dispatches ?? 0)})`,
          },
          { label: 'SIGKILLs', value: sum((r) => r.kills) },
          {
            label: '… of them between a vendor committing a contract or flow and its answer',
            value: sum((r) => r.killsAtCommit),
          },
          { label: 'Host restarts', value: sum((r) => r.restarts) },
          { label: 'Dispatch clock moved 25 h while no host was alive', value: `${sum((r) => r.clockJumps)} times` },
          { label: 'Signing outcome', value: per((r) => counts(r.statuses)) },
          { label: 'Signings by vendor', value: per((r) => counts(r.byVendor)) },
          {
            label: 'Why signings FAILED',
            value: runs.flatMap((r) => r.failures.map((f) => `${r.backend}: ${f}`)).join('; ') || 'none failed',
          },
          {
            label: 'Applications settled',
            value: per((r) => `${r.dispatch?.settled ?? 0} of ${r.applications}`),
          },
          { label: 'Applications by dispatch rounds', value: per((r) => counts(r.dispatch?.rounds)) },
          { label: 'Offers at the end', value: per((r) => counts(r.dispatch?.offers)) },
          {
            label: 'Positions frozen (one per acceptance, checked by key)',
            value: sum((r) => r.dispatch?.freezes ?? 0),
          },
          {
            label: 'Deadline timers fired (each checked to fire once)',
            value: sum((r) => r.dispatch?.deadlinesFired ?? 0),
          },
          { label: 'Signings checked found and final', value: sum((r) => r.checked.signings) },
          { label: 'Evidence chains verified', value: sum((r) => r.checked.evidence) },
          {
            label: 'Workflow audit chains verified',
            value: sum((r) => r.checked.audits + (r.dispatch?.workflows ?? 0)),
          },
          { label: 'Signings matched to their contract or flow at the vendor', value: flows },
          {
            label: '安心签 contracts / e签宝 flows / HTTP requests',
            value: `${census.contracts.length} / ${census.esignFlows?.length ?? 0} / ${census.requests}`,
          },
          {
            label: 'e签宝 callbacks emitted / taken by a host / attempts refused (no host alive) / never delivered',
            value: `${census.callbacks?.emitted ?? 0} / ${census.callbacks?.forwarded ?? 0} / ${census.callbacks?.refused ?? 0} / ${census.callbacks?.undelivered ?? 0}`,
          },
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
