/**
 * The vendor-fault suite: e签宝 and 安心签 (their emulators, over real HTTP) fail a fifth of the calls made to them,
 * at random from a seeded generator, while signings run on e签宝 alone, on 安心签 alone, and routed to e签宝 with the
 * local signer or 安心签 as fallback. Every signing must end COMPLETED or FAILED with a reason, no business number may be
 * signed twice, retries must stay within their bound, and failover must be recorded exactly where it happened.
 */
import type { IncomingMessage } from 'node:http';
import { cfcaVendor } from '../../packages/adapter-cfca/src/index.js';
import { createCfcaEmulator, createCfcaTestCertificate } from '../../packages/adapter-cfca/src/testing/index.js';
import type { CfcaFault } from '../../packages/adapter-cfca/src/testing/index.js';
import { esignVendor, persistentEsignCreateLog } from '../../packages/adapter-esign/src/index.js';
import { createEsignEmulator, ESIGN_CODES, type EsignFault } from '../../packages/adapter-esign/src/testing/index.js';
import { localSigner, verifyPdfSignatures } from '../../packages/adapter-local/src/index.js';
import { createSealImage, createTestSigningIdentity } from '../../packages/adapter-local/src/testing/index.js';
import {
  createSealflow,
  type Persistence,
  type Sealflow,
  type SigningRecord,
  type SigningSceneInput,
  type SigningVendor,
  silentLogger,
} from '../../packages/core/src/index.js';
import { createMemoryDocumentStore } from '../../packages/core/src/memory/index.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { CRASH_BORROWERS, CRASH_PLATFORM, CRASH_PROJECT, setUpTemplate } from '../crash/shared.js';
import type { ReliabilityResult, ReliabilityScale, ReliabilitySuite } from '../suite.js';
import { attributed, attributingAxios, type Served, serve, serveCallbacks } from '../vendor-faults/serve.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = new Set(['COMPLETED', 'FAILED']);

/**
 * Signings per workload, how many are submitted at once, how long the suite waits for them all to end (a signing
 * still open then is a finding), and how long a signing may take from its request (`deadlineMs`: one stuck at a
 * vendor fails by then). All of a workload's signings are requested at once and eight workers take them, so the last
 * of 300 starts minutes after its request: its deadline must leave room for that queue, or the run would measure the
 * queue instead of the faults.
 */
const PLAN: Record<ReliabilityScale, { signings: number; lanes: number; waitMs: number; deadlineMs: number }> = {
  full: { signings: 300, lanes: 8, waitMs: 60 * 60_000, deadlineMs: 45 * 60_000 },
  ci: { signings: 16, lanes: 4, waitMs: 10 * 60_000, deadlineMs: 60_000 },
};

/** The share of vendor calls (and of e签宝's callbacks) that get a fault. */
const FAULT_RATE = 0.2;
/** `vendorCalls.retry.attempts`: tries of one vendor call by the signing gateway. */
const GATEWAY_TRIES = 2;
/** `runtimeOptions.retry.maxAttempts`: runs of one effect by the runtime before it is dead-lettered. */
const EFFECT_RUNS = 8;
/**
 * The clients' own time limit per HTTP request: a held answer costs this much. Long enough for an upload and a
 * signature on a loaded machine; a shorter one makes healthy calls time out, which is a different test.
 */
const CLIENT_TIMEOUT_MS = 5_000;
/**
 * No signing of a workload ended for this long while some are open: the rest are stuck (a signing at a vendor that
 * answers is polled every few seconds and ends within a minute of its last fault), and the check says where. Waiting
 * for the deadline would only turn them into FAILED records that hide the finding.
 */
const STALL_MS = 4 * 60_000;
/** Fault-free signings per workload run first, to learn how many requests a signing makes when nothing fails. */
const CALIBRATION = 2;

const SCENE = 'LOAN_CONTRACT';
const SCENE_NAME = '借款合同签章';
const SCENES: SigningSceneInput[] = [
  {
    code: SCENE,
    name: SCENE_NAME,
    documents: [{ key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: SCENE, fileName: '借款合同.pdf' }],
    parties: [
      { role: 'platform', kind: 'organization', signing: 'auto', order: 1 },
      { role: 'borrower', kind: 'person', signing: 'auto', order: 2 },
    ],
  },
];

/** Timeouts (some after the work was done), 5xx, rate limits and unreadable bodies, equally likely. */
const ESIGN_FAULTS: EsignFault[] = [
  { kind: 'timeout' },
  { kind: 'timeout', processed: true },
  { kind: 'http', status: 502 },
  { kind: 'http', status: 503, processed: true },
  { kind: 'rate-limit' },
  { kind: 'malformed' },
  { kind: 'malformed', processed: true },
];
const CFCA_FAULTS: CfcaFault[] = [
  { kind: 'timeout' },
  { kind: 'timeout', processed: true },
  { kind: 'http', status: 502 },
  { kind: 'http', status: 503, processed: true },
  { kind: 'rate-limit' },
  { kind: 'malformed' },
  { kind: 'malformed', processed: true },
];

type WorkloadName = 'e签宝' | '安心签' | 'e签宝 → local' | 'e签宝 → 安心签';

/** The vendor a routed workload falls back to when e签宝 is unavailable. */
const FALLBACK: Partial<Record<WorkloadName, 'local' | 'cfca'>> = {
  'e签宝 → local': 'local',
  'e签宝 → 安心签': 'cfca',
};

interface Workload {
  name: WorkloadName;
  prefix: string;
  sealflow: Sealflow;
  templateVersion: string;
  /** Callback answers by outcome (`accepted`, or the refusal's code). */
  callbackAnswers: Map<string, number>;
}

interface Vendors {
  esign: Served;
  cfca: Served;
  callbacks: { baseUrl: string; close(): Promise<void> };
  esignEmulator: ReturnType<typeof createEsignEmulator>;
  cfcaEmulator: ReturnType<typeof createCfcaEmulator>;
  cfcaCertificate: ReturnType<typeof createCfcaTestCertificate>;
  workloads: Map<string, Workload>;
}

async function startVendors(): Promise<Vendors> {
  let esignHandlers: readonly never[] = [];
  let cfcaHandlers: readonly never[] = [];
  const esign = await serve('', () => esignHandlers);
  const cfca = await serve('/FEP/', () => cfcaHandlers);
  const workloads = new Map<string, Workload>();
  const callbacks = await serveCallbacks(async (path, request: IncomingMessage, rawBody) => {
    const workload = workloads.get(path.replace(/^\/notify\//, '').split('?')[0] ?? '');
    if (!workload) return 404;
    const url = new URL(path, 'http://127.0.0.1');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string') headers[name] = value;
    try {
      await workload.sealflow.signing.handleVendorCallback('esign', {
        headers,
        query: Object.fromEntries(url.searchParams),
        rawBody,
      });
      workload.callbackAnswers.set('accepted', (workload.callbackAnswers.get('accepted') ?? 0) + 1);
      return 200;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'error';
      workload.callbackAnswers.set(code, (workload.callbackAnswers.get(code) ?? 0) + 1);
      return 500;
    }
  });

  const esignEmulator = createEsignEmulator({
    baseUrl: esign.baseUrl,
    app: { orgName: CRASH_PLATFORM.name, orgIDCardNum: CRASH_PLATFORM.creditCode },
    // e签宝 redelivers a refused callback; a few tries are enough here, the workflow's polling is the safety net.
    callbacks: { maxAttempts: 3, retryDelayMs: 200, timeoutMs: 5_000 },
  });
  esignHandlers = esignEmulator.handlers as never;
  const cfcaCertificate = createCfcaTestCertificate({
    commonName: `AnxinSign@${CRASH_PLATFORM.name}@${CRASH_PLATFORM.creditCode}@1`,
  });
  const cfcaEmulator = createCfcaEmulator({
    baseUrl: cfca.baseUrl,
    platform: {
      certificate: cfcaCertificate.certificatePem,
      name: CRASH_PLATFORM.name,
      identNo: CRASH_PLATFORM.creditCode,
    },
  });
  cfcaHandlers = cfcaEmulator.handlers as never;
  // Each borrower has an account at both and has authorised the platform to sign for her.
  for (const borrower of CRASH_BORROWERS) {
    const { psnId } = esignEmulator.addPerson({
      name: borrower.name,
      idNo: borrower.idNumber,
      mobile: borrower.mobile,
    });
    esignEmulator.authorizeSilentSign(psnId);
    const { userId } = cfcaEmulator.addPerson({
      name: borrower.name,
      identNo: borrower.idNumber,
      mobilePhone: borrower.mobile,
    });
    cfcaEmulator.authorizeProxySign(userId, CRASH_PROJECT);
  }
  return { esign, cfca, callbacks, esignEmulator, cfcaEmulator, cfcaCertificate, workloads };
}

async function startWorkload(
  v: Vendors,
  name: WorkloadName,
  prefix: string,
  path: string,
  deadlineMs: number,
): Promise<Workload> {
  const axios = attributingAxios();
  const esign = (persistence: Persistence) =>
    esignVendor({
      appId: v.esignEmulator.app.appId,
      appSecret: v.esignEmulator.app.appSecret,
      host: v.esign.baseUrl,
      qps: 1000,
      burst: 1000,
      unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
      timeoutMs: CLIENT_TIMEOUT_MS,
      personSilentSign: { enabled: true },
      // As in production: a create is noted before it is sent, so only a retry reads e签宝's flow list.
      createLog: persistentEsignCreateLog({ persistence }),
      axios,
      http: axios,
    });
  const cfca = () =>
    cfcaVendor({
      baseUrl: v.cfca.baseUrl,
      platId: v.cfcaEmulator.platform.platId,
      tls: { cert: v.cfcaCertificate.certificatePem, key: v.cfcaCertificate.privateKeyPem },
      signer: { key: v.cfcaCertificate.privateKeyPem, certificate: v.cfcaCertificate.certificatePem },
      qps: 1000,
      burst: 1000,
      timeoutMs: CLIENT_TIMEOUT_MS,
      platformCreditCode: CRASH_PLATFORM.creditCode,
      proxySign: () => ({ projectCode: CRASH_PROJECT }),
      axios,
    });
  // The local signer holds the platform's seal under the id it has at e签宝: one seal id, whichever vendor seals.
  const local = () =>
    localSigner({
      seals: {
        [v.esignEmulator.app.sealId]: {
          identity: createTestSigningIdentity({ commonName: CRASH_PLATFORM.name, organization: CRASH_PLATFORM.name }),
          image: createSealImage({ size: 160 }),
        },
      },
      personIdentity: createTestSigningIdentity({ commonName: '某某消费金融 代签', organization: CRASH_PLATFORM.name }),
    });
  const persistence = await pglitePersistence();
  const vendors: Record<string, SigningVendor> =
    name === 'e签宝'
      ? { esign: esign(persistence) }
      : name === '安心签'
        ? { cfca: cfca() }
        : name === 'e签宝 → local'
          ? { esign: esign(persistence), local: local() }
          : { esign: esign(persistence), cfca: cfca() };
  // The platform's seal has an id at each vendor; the local signer holds it under e签宝's.
  const sealId =
    name === '安心签'
      ? v.cfcaEmulator.platform.sealId
      : name === 'e签宝 → 安心签'
        ? { esign: v.esignEmulator.app.sealId, cfca: v.cfcaEmulator.platform.sealId }
        : v.esignEmulator.app.sealId;
  const fallback = FALLBACK[name];
  const sealflow = await createSealflow({
    persistence,
    documents: createMemoryDocumentStore(),
    vendors,
    ...(fallback ? { routing: { default: ['esign', fallback] } } : {}),
    vendorCalls: { retry: { attempts: GATEWAY_TRIES, baseDelayMs: 50, maxDelayMs: 400 } },
    callbackUrl: () => `${v.callbacks.baseUrl}/notify/${path}`,
    hashKey: 'reliability-vendor-faults-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: { platform: { name: CRASH_PLATFORM.name, creditCode: CRASH_PLATFORM.creditCode, sealId } },
    scenes: SCENES,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'telecom-three-element' }) },
    templateCodes: { [SCENE]: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    deadlineMs,
    polling: { baseMs: 500, maxMs: 4_000, safetyNetMs: 5_000 },
    logger: silentLogger,
    runtimeOptions: {
      // An effect may wait out several held answers (5 s each) before it gives up; the lease outlasts it.
      leaseMs: 120_000,
      effectTimeoutMs: 90_000,
      retry: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: EFFECT_RUNS },
    },
    worker: { concurrency: 8, pollMs: 20 },
    workflows: attributed,
    start: true,
  });
  const templateVersion = await setUpTemplate(sealflow);
  const workload: Workload = { name, prefix, sealflow, templateVersion, callbackAnswers: new Map() };
  v.workloads.set(path, workload);
  return workload;
}

const businessNoOf = (w: Workload, n: number) => `${w.prefix}${String(n).padStart(5, '0')}`;

function request(w: Workload, n: number) {
  const borrower = CRASH_BORROWERS[n % CRASH_BORROWERS.length]!;
  return {
    businessNo: businessNoOf(w, n),
    scene: SCENE,
    borrower,
    values: { loan: { amount: `${80_000 + (n % 1_000)}.00` }, credit: { limit: '100000.00' } },
    consent: {
      at: Date.UTC(2026, 11, 1, 4),
      channel: 'app' as const,
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [w.templateVersion],
    },
    actor: { id: 'lending-system' },
  };
}

/** Submits signings `from`..`to` a few at a time, each retried until `sign` answers, then waits until all are final. */
async function runSignings(
  w: Workload,
  from: number,
  to: number,
  plan: { lanes: number; waitMs: number; deadlineMs: number },
): Promise<void> {
  const { lanes, waitMs } = plan;
  const stallMs = Math.min(plan.deadlineMs, STALL_MS);
  const queue = Array.from({ length: to - from }, (_, i) => from + i);
  const lane = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      for (let attempt = 1; attempt <= 20; attempt++) {
        try {
          await w.sealflow.signing.sign(request(w, n));
          break;
        } catch {
          await sleep(100 * attempt);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const pending = new Set(Array.from({ length: to - from }, (_, i) => from + i));
  // Polled every 2 s: the suite shares its one thread with the hosts it watches, and a tighter loop over hundreds of
  // open signings takes the time the signings themselves need.
  // Every signing ends by its vendor deadline plus the runtime's retries; when none has ended for several deadlines,
  // the ones left are stuck, and waiting out `waitMs` would only delay the report that names them.
  let reported = Date.now();
  let progressed = Date.now();
  for (
    const until = Date.now() + waitMs;
    pending.size > 0 && Date.now() < until && Date.now() - progressed < stallMs;
    await sleep(2_000)
  ) {
    for (const n of [...pending]) {
      const record = await recordOf(w, n);
      if (record && FINAL.has(record.status)) {
        pending.delete(n);
        progressed = Date.now();
      }
    }
    if (Date.now() - reported >= 60_000) {
      reported = Date.now();
      process.stderr.write(`vendor-faults: ${w.name}: ${pending.size} of ${to - from} signings still open\n`);
    }
  }
}

async function recordOf(w: Workload, n: number): Promise<SigningRecord | undefined> {
  const [record] = await w.sealflow.signing.find({ businessNo: businessNoOf(w, n), limit: 1 });
  return record;
}

/** What one workload's check found. */
interface Checked {
  workload: WorkloadName;
  signings: number;
  statuses: Record<string, number>;
  failures: Map<string, number>;
  failedOver: number;
  /** e签宝 drafts (never started) of signings that left e签宝 as unavailable. */
  draftsLeft: number;
  maxRequests: number;
  requests: number[];
  evidence: number;
  audits: number;
  deadEffects: number;
}

const count = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

/** What the emulator holds for a signing's flow, for a finding to name. */
function atVendor(v: Vendors, record: SigningRecord): string {
  const flowId = record.vendor.flowId;
  if (!flowId) return '';
  try {
    if (record.vendor.id === 'esign') {
      const flow = v.esignEmulator.flow(flowId);
      return `: status ${flow.status}, signers ${flow.signers.map((s) => `${s.signerType}:${s.signStatus}`).join(' ')}`;
    }
    if (record.vendor.id === 'cfca') return `: contract state ${v.cfcaEmulator.contract(flowId).contractState}`;
  } catch (error) {
    return `: not found at the emulator (${String(error).slice(0, 100)})`;
  }
  return '';
}

async function check(
  v: Vendors,
  w: Workload,
  from: number,
  to: number,
  bound: number,
  findings: string[],
): Promise<Checked> {
  const fallback = FALLBACK[w.name];
  const statuses: Record<string, number> = {};
  const failures = new Map<string, number>();
  const requests: number[] = [];
  let failedOver = 0;
  let draftsLeft = 0;
  let evidence = 0;
  const cfcaContracts = new Map<string, { contractNo: string; state: number }[]>();
  if (w.name === '安心签' || fallback === 'cfca') {
    for (const contractNo of v.cfcaEmulator.contractNumbers()) {
      const c = v.cfcaEmulator.contract(contractNo);
      const list = cfcaContracts.get(c.contractName) ?? [];
      list.push({ contractNo, state: c.contractState });
      cfcaContracts.set(c.contractName, list);
    }
  }
  for (let n = from; n < to; n++) {
    const businessNo = businessNoOf(w, n);
    const record = await recordOf(w, n);
    if (!record) {
      findings.push(`${w.name}: ${businessNo} has no signing record although sign was called for it`);
      continue;
    }
    statuses[record.status] = (statuses[record.status] ?? 0) + 1;
    if (!FINAL.has(record.status)) {
      findings.push(
        `${w.name}: ${businessNo} did not end: ${record.status} at stage ${record.stage} (workflow ${record.id}, ` +
          `at ${record.vendor.id} flow ${record.vendor.flowId}${atVendor(v, record)})`,
      );
    }
    if (record.status === 'FAILED') {
      if (!record.failure?.code) findings.push(`${w.name}: ${businessNo} FAILED without a reason code`);
      else count(failures, record.failure.code);
    }
    // The vendor flows made for this business number at each vendor, found by the title sealflow gives them.
    const title = `${SCENE_NAME} ${businessNo}`;
    const flowsAt: Record<'esign' | 'cfca', { id: string; signed: boolean; draft: boolean }[]> = {
      cfca: (cfcaContracts.get(title) ?? []).map((c) => ({ id: c.contractNo, signed: c.state === 1, draft: false })),
      esign:
        w.name === '安心签'
          ? []
          : v.esignEmulator.findFlows({ signFlowTitle: title }).map((id) => {
              const { status } = v.esignEmulator.flow(id);
              return { id, signed: status === 2, draft: status === 0 };
            }),
    };
    const flows = flowsAt.esign;
    const signedAtVendor = [...flowsAt.esign, ...flowsAt.cfca].filter((f) => f.signed).length;
    const signedLocally = record.vendor.id === 'local' && record.status === 'COMPLETED' ? 1 : 0;
    for (const [vendorId, list] of Object.entries(flowsAt)) {
      if (list.length > 1) {
        findings.push(
          `${w.name}: ${businessNo} has ${list.length} flows at ${vendorId}: ${list.map((f) => f.id).join(', ')}`,
        );
      }
    }
    if (signedAtVendor + signedLocally > 1) findings.push(`${w.name}: ${businessNo} was signed twice`);
    if (record.status === 'COMPLETED' && record.vendor.id !== 'local') {
      const own = flowsAt[record.vendor.id as 'esign' | 'cfca']?.find(
        (f) => record.vendor.flowId !== null && f.id.startsWith(record.vendor.flowId),
      );
      if (!own?.signed)
        findings.push(`${w.name}: ${businessNo} COMPLETED but its vendor flow ${record.vendor.flowId} is not signed`);
    }
    if (record.status === 'FAILED' && signedAtVendor > 0) {
      findings.push(`${w.name}: ${businessNo} FAILED (${record.failure?.code}) while a vendor flow of it is signed`);
    }
    // Failover: recorded exactly when e签宝 failed to start the flow and holds none.
    if (record.failedOverFrom !== null) failedOver++;
    if (fallback) {
      const movedAway = record.vendor.id === fallback;
      const leftEsign = record.vendorAttempts.some((a) => a.vendorId === 'esign' && a.outcome === 'unavailable');
      // Left e签宝 as unavailable without moving: only when it was too late to start over (the signing then fails).
      const leftWithoutMoving = !movedAway && leftEsign && record.status !== 'FAILED';
      if (movedAway !== (record.failedOverFrom === 'esign') || (movedAway && !leftEsign) || leftWithoutMoving) {
        findings.push(
          `${w.name}: ${businessNo} at ${record.vendor.id} records failedOverFrom ${record.failedOverFrom} and attempts ` +
            `${JSON.stringify(record.vendorAttempts.map((a) => `${a.vendorId}:${a.outcome}`))}`,
        );
      }
      // A draft (created, never started: e签宝 signs nothing in it) may stay behind; a started flow may not.
      const started = flows.filter((f) => !f.draft);
      if (leftEsign && started.length > 0) {
        findings.push(`${w.name}: ${businessNo} left e签宝 as unavailable while e签宝 holds flow ${started[0]!.id}`);
      }
      if (leftEsign) draftsLeft += flows.length - started.length;
    } else if (record.failedOverFrom !== null || record.vendorAttempts.length > 1) {
      findings.push(`${w.name}: ${businessNo} records a failover although its route has one vendor`);
    }
    // Retries within their bound: requests the vendor received from this signing's effects.
    const made = (v.esign.byWorkflow.get(record.id) ?? 0) + (v.cfca.byWorkflow.get(record.id) ?? 0);
    requests.push(made);
    if (made > bound)
      findings.push(`${w.name}: ${businessNo} made ${made} vendor requests, more than the bound ${bound}`);
    const verified = await w.sealflow.signing.verifyEvidence(record.id);
    if (verified.ok) evidence++;
    else findings.push(`${w.name}: ${businessNo} evidence does not verify: ${JSON.stringify(verified).slice(0, 300)}`);
  }
  // Audit chains of every workflow, and effects given up on.
  const workflows = await w.sealflow.runtime.list({ limit: 1_000_000 });
  let audits = 0;
  for (const workflow of workflows) {
    const audit = await w.sealflow.runtime.verifyAudit(workflow.id);
    if (audit.ok) audits++;
    else
      findings.push(`${w.name}: audit chain of ${workflow.id} does not verify: ${JSON.stringify(audit).slice(0, 300)}`);
  }
  const dead = await w.sealflow.runtime.deadLetters.list({ limit: 1_000 });
  for (const d of dead) {
    const error = (d as { error?: string | null }).error ?? (d as { lastError?: string | null }).lastError;
    findings.push(`${w.name}: dead effect ${d.type} of ${d.workflowId}: ${error}`);
  }
  return {
    workload: w.name,
    signings: to - from,
    statuses,
    failures,
    failedOver,
    draftsLeft,
    maxRequests: Math.max(0, ...requests),
    requests,
    evidence,
    audits,
    deadEffects: dead.length,
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

const DESCRIPTION = `
Signings run against the e签宝 and 安心签 (CFCA) emulators, served over real HTTP in the suite's process, while the
emulators fail a fifth of the calls made to them: \`faults.random({ rate: 0.2, seed, faults })\` on each picks the
calls and the fault from a seeded generator (the seed is printed, so a run can be repeated). The mix, equally
likely: a held answer the client times out on (half of them after the emulator did the work, so a retry must find
the flow rather than make a second), HTTP 502, HTTP 503 after the work was done, a rate-limit refusal (HTTP 429), a
body that is not JSON (half of them after the work was done). e签宝's callbacks are faulted at the same rate
(\`callbacks.random\`): lost, delivered twice, or delivered after the callback that followed them.

Four workloads run at once, each an SDK instance on PGlite with the runtime's background worker and durable timers
on real time: signings on e签宝 only, on 安心签 only, routed \`['esign', 'local']\` (e签宝 first, the local signer
as fallback), and routed \`['esign', 'cfca']\` (安心签 as fallback, the platform's seal given per vendor as
\`{ esign, cfca }\`). e签宝 keeps a create log in each instance's database (\`persistentEsignCreateLog\`).
Every signing is a loan contract sealed by the platform and signed for the borrower under her authorisation
(e签宝's silent signing, 安心签's proxy signing). The clients time a request out after 5 s; the
gateway tries a call twice (\`vendorCalls.retry.attempts\`); the runtime runs an effect at most eight times
(\`runtimeOptions.retry.maxAttempts\`), and its last run of \`startVendorFlow\` asks the vendor what it holds rather
than leave a dead letter (a flow it made is adopted; none fails the signing, or moves it to the fallback). A
signing's deadline runs from its request: 60 s in the reduced run, 45 min in the full one, where all 300 signings of
a workload are requested at once and the last waits minutes for a worker.

Before the faults are switched on, two signings per workload run without faults, and the most requests one of them
made is the workload's clean count. **The bound** on the HTTP requests a signing may cause is then clean count × 2
(gateway tries) × 8 (effect runs): every request a retry adds repeats a call a clean signing makes, at most that many
times. A signing that may fail over to 安心签 may also make a 安心签 signing's requests, so its bound adds 安心签's
clean count × 2 × 8. Requests are counted at the emulators, per signing: the suite's axios instance marks each
request with the workflow whose effect made it.

The suite fails on: a signing not COMPLETED or FAILED, or FAILED without a reason code; a business number with more
than one flow at one vendor, or signed twice (at one vendor, or at two of e签宝, 安心签 and the local signer); a
COMPLETED signing whose vendor flow is not signed, or a FAILED one with a signed flow; more requests for one signing
than the bound; a failover not recorded exactly where it happened (\`failedOverFrom\` and the \`unavailable\` entry
in \`vendorAttempts\` for a signing that moved to the fallback, neither for one that stayed; a signing that left
e签宝 while e签宝 holds a started flow for it; any failover on a one-vendor route); evidence that
\`verifyEvidence\` does not accept; a workflow whose audit chain \`verifyAudit\` does not accept; a dead effect; a
workload none of whose open signings ended for four minutes (they are stuck, and are reported with their stage and
what the emulator holds for them). A signing that left e签宝 may
leave a draft there (a create whose answer was lost, stopped before the flow was started): e签宝's \`findFlow\` does
not adopt a draft, since only a create under the same key would start it; the suite counts them.

Most \`CALLBACK_UNKNOWN_FLOW\` answers are expected: e签宝 signs a silent-sign flow within moments of its create, so
the flow's callbacks often arrive before the create's answer is saved with the signing. They are answered non-2xx
(the emulator redelivers, as e签宝 does), and the status poll finishes the signing either way.

What the full runs found, each fixed before the run below: a \`startVendorFlow\` that used up its eight runs
left a dead letter and a signing that never ended (the last run now asks the vendor); the deadline timer ran from
the end of rendering while the vendor was given \`requestedAt + deadlineMs\`, so signings that waited in the queue
sent e签宝 flows that had already expired (the timer now falls due at that same instant, and a request past it fails
before any vendor call); and e签宝's flow lookups failed whenever one of their \`sign-flow-list\` pages did, which at
a fifth of calls faulted was most lookups of several pages (a page is now read again, and \`findFlow\` reads only
since the key's first try).

安心签's batches (3202, polled with 3211) are not part of these workloads: the signing workflow renders every
contract itself and uploads it, and only vendor-side templates go through batches; a batch that never finishes is
covered by the adapter's tests (\`stuck-batch\` fault).`;

const suite: ReliabilitySuite = {
  name: 'vendor-faults',
  title: 'Vendors failing a fifth of the calls',
  description: DESCRIPTION,
  async run(scale: ReliabilityScale): Promise<ReliabilityResult> {
    const started = Date.now();
    const plan = PLAN[scale];
    const seed = Number(process.env.RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`  seed ${seed} (repeat with RELIABILITY_SEED=${seed})`);
    const v = await startVendors();
    const workloads: Workload[] = [];
    const findings: string[] = [];
    try {
      workloads.push(await startWorkload(v, 'e签宝', 'VF-E-', 'esign', plan.deadlineMs));
      workloads.push(await startWorkload(v, '安心签', 'VF-C-', 'cfca', plan.deadlineMs));
      workloads.push(await startWorkload(v, 'e签宝 → local', 'VF-R-', 'routed', plan.deadlineMs));
      workloads.push(await startWorkload(v, 'e签宝 → 安心签', 'VF-X-', 'routed-cfca', plan.deadlineMs));

      // Calibration: fault-free signings give each workload's clean request count.
      await Promise.all(
        workloads.map((w) => runSignings(w, 0, CALIBRATION, { ...plan, lanes: CALIBRATION, waitMs: 120_000 })),
      );
      const clean = new Map<WorkloadName, number>();
      for (const w of workloads) {
        let most = 0;
        for (let n = 0; n < CALIBRATION; n++) {
          const record = await recordOf(w, n);
          if (record?.status !== 'COMPLETED') {
            findings.push(`${w.name}: calibration signing ${businessNoOf(w, n)} did not complete without faults`);
          }
          const made = record ? (v.esign.byWorkflow.get(record.id) ?? 0) + (v.cfca.byWorkflow.get(record.id) ?? 0) : 0;
          most = Math.max(most, made);
        }
        clean.set(w.name, most);
      }
      // A signing that fails over to 安心签 may also make every request a 安心签 signing makes.
      const boundOf = (name: WorkloadName) =>
        ((clean.get(name) ?? 0) + (FALLBACK[name] === 'cfca' ? (clean.get('安心签') ?? 0) : 0)) *
        GATEWAY_TRIES *
        EFFECT_RUNS;

      const esignFaults = v.esignEmulator.faults.random({ rate: FAULT_RATE, seed, faults: ESIGN_FAULTS });
      const cfcaFaults = v.cfcaEmulator.faults.random({ rate: FAULT_RATE, seed: seed + 1, faults: CFCA_FAULTS });
      const callbacksBefore = v.esignEmulator.callbacks.events.length;
      const stopCallbackFaults = v.esignEmulator.callbacks.random({ rate: FAULT_RATE, seed: seed + 2 });
      const from = CALIBRATION;
      const to = CALIBRATION + plan.signings;
      const faultedStarted = Date.now();
      await Promise.all(workloads.map((w) => runSignings(w, from, to, plan)));
      const faultedSeconds = (Date.now() - faultedStarted) / 1000;
      esignFaults.stop();
      cfcaFaults.stop();
      stopCallbackFaults();
      await v.esignEmulator.callbacks.idle();
      for (const w of workloads) await w.sealflow.runtime.stop();

      const checked: Checked[] = [];
      for (const w of workloads) {
        checked.push(await check(v, w, from, to, boundOf(w.name), findings));
      }

      const kinds = (injected: readonly { fault: { kind: string; processed?: boolean } }[]) => {
        const by = new Map<string, number>();
        for (const { fault } of injected) count(by, fault.processed ? `${fault.kind} (work done)` : fault.kind);
        return [...by]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
      };
      const callbackEvents = v.esignEmulator.callbacks.events.slice(callbacksBefore);
      const callbackFaults = new Map<string, number>();
      for (const e of callbackEvents) if (e.fault) count(callbackFaults, e.fault);
      const answers = new Map<string, number>();
      for (const w of workloads) for (const [k, n] of w.callbackAnswers) count(answers, k, n);
      const row = (pick: (c: Checked) => string) => checked.map((c) => `${c.workload}: ${pick(c)}`).join('; ');
      return {
        passed: findings.length === 0,
        findings,
        figures: [
          { label: 'Seed', value: seed },
          { label: 'Signings (faulted) per workload', value: plan.signings },
          {
            label: 'Outcome',
            value: row((c) =>
              Object.entries(c.statuses)
                .map(([s, n]) => `${n} ${s}`)
                .join(', '),
            ),
          },
          {
            label: 'Why signings FAILED',
            value: row((c) => [...c.failures].map(([code, n]) => `${n} × ${code}`).join(', ') || 'none'),
          },
          {
            label: 'Failed over from e签宝; e签宝 drafts they left (never started)',
            value: checked
              .filter((c) => FALLBACK[c.workload])
              .map((c) => `${c.workload}: ${c.failedOver}; ${c.draftsLeft}`)
              .join('; '),
          },
          {
            label: 'e签宝 calls faulted / seen',
            value: `${esignFaults.injected.length} / ${esignFaults.calls}: ${kinds(esignFaults.injected)}`,
          },
          {
            label: '安心签 calls faulted / seen',
            value: `${cfcaFaults.injected.length} / ${cfcaFaults.calls}: ${kinds(cfcaFaults.injected)}`,
          },
          {
            label: 'e签宝 callbacks faulted / emitted',
            value: `${[...callbackFaults.values()].reduce((a, b) => a + b, 0)} / ${callbackEvents.length}: ${[...callbackFaults].map(([k, n]) => `${n} ${k}`).join(', ')}`,
          },
          { label: 'Callback answers', value: [...answers].map(([k, n]) => `${n} ${k}`).join(', ') },
          {
            label: 'Requests per signing: clean count, bound',
            value: row((c) => `${clean.get(c.workload)}, ${boundOf(c.workload)}`),
          },
          {
            label: 'Requests per signing under faults: median, p99, max',
            value: row((c) => `${percentile(c.requests, 50)}, ${percentile(c.requests, 99)}, ${c.maxRequests}`),
          },
          { label: 'Evidence chains verified', value: checked.reduce((s, c) => s + c.evidence, 0) },
          { label: 'Workflow audit chains verified', value: checked.reduce((s, c) => s + c.audits, 0) },
          { label: 'Faulted phase', value: `${faultedSeconds.toFixed(0)} s` },
          { label: 'Wall time', value: `${((Date.now() - started) / 1000).toFixed(0)} s` },
        ],
      };
    } finally {
      for (const w of workloads) {
        await w.sealflow.runtime.stop().catch(() => {});
        await w.sealflow.close().catch(() => {});
        await w.sealflow.persistence.close().catch(() => {});
      }
      await v.esign.close();
      await v.cfca.close();
      await v.callbacks.close();
    }
  },
};
export default suite;
