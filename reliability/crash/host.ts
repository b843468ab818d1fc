/**
 * One host process of the crash suite, run on its own so the parent can SIGKILL it at any moment:
 * `node --import tsx --conditions=@sealflow/source host.ts <taskJson>`.
 *
 * - `setup`: approves the loan contract template (and registers the dispatch institutions) and exits (never killed).
 * - `work`: runs the background workers, submits its share of signings, reporting each one `sign` returned, and
 *   drives its applications through dispatch; it takes e签宝's callbacks on a port of its own.
 * - `check`: the last host, never killed: submits what is left, lets the workers finish and drives every application
 *   to settlement, then reads every signing back and verifies evidence, audit chains, timers and dead effects, and
 *   checks dispatch (see `checkDispatch`).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Sealflow } from '../../packages/core/src/index.js';
import { checkDispatch, driveApplications, openDispatchHost, setUpDispatch } from './dispatch.js';
import {
  businessNoOf,
  type CheckedSigning,
  type HostTask,
  type HostToParent,
  openHost,
  sceneOf,
  setUpTemplate,
  signRequest,
} from './shared.js';

const task = JSON.parse(process.argv[2] ?? '{}') as HostTask;
const send = (message: HostToParent) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = new Set(['COMPLETED', 'FAILED']);

const sealflow = await openHost(task);
const dispatchHost = task.dispatch
  ? await openDispatchHost(task.dispatch.backend, task.dispatch.clockFile, task.mode !== 'setup')
  : null;

/** e签宝's callbacks, forwarded by the vendor process: applied by the signing service, 200 once applied. */
async function listenForCallbacks(): Promise<string | undefined> {
  if (!task.vendor.esign || task.mode === 'setup') return undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://host');
      sealflow.signing
        .handleVendorCallback('esign', {
          headers: req.headers,
          query: Object.fromEntries(url.searchParams),
          rawBody: Buffer.concat(chunks),
        })
        .then(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: '200', msg: 'success' }));
        })
        .catch((error: { code?: string; message?: string }) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: error.code ?? 'ERROR', msg: error.message ?? String(error) }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function submit(numbers: number[]) {
  const queue = [...numbers];
  // A few at a time, as a lending system's requests would arrive; every one retried until `sign` answers.
  const lane = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await sealflow.signing.sign(signRequest(n, task.templateVersion!, sceneOf(n, task.vendor)));
          send({ kind: 'submitted', n });
          break;
        } catch (error) {
          const code = (error as { code?: string }).code;
          // A refusal keeps a record (FAILED with its reason), which the check reports; only retry what may pass.
          if (code && !['DUPLICATE', 'VERSION_CONFLICT', 'SIGNING_IN_PROGRESS'].includes(code) && attempt > 20) {
            send({ kind: 'submitted', n });
            break;
          }
          await sleep(100 * Math.min(attempt, 10));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
}

async function recordOf(n: number) {
  const [record] = await sealflow.signing.find({ businessNo: businessNoOf(n), limit: 1 });
  return record;
}

async function check(host: Sealflow, all: number[], settling: Promise<Map<number, string>> | null) {
  // Let the worker finish: poll until every signing is final, or give up after a generous while.
  const pending = new Set(all);
  for (const until = Date.now() + 20 * 60_000; pending.size > 0 && Date.now() < until; await sleep(500)) {
    for (const n of [...pending]) {
      const record = await recordOf(n);
      if (record && FINAL.has(record.status)) pending.delete(n);
    }
  }
  const stuck = settling ? await settling : new Map<number, string>();
  await host.runtime.stop();
  await dispatchHost?.runtime.stop();
  const signings: CheckedSigning[] = [];
  for (const n of all) {
    const record = await recordOf(n);
    if (!record) {
      signings.push({ n, businessNo: businessNoOf(n), found: false });
      continue;
    }
    const evidence = await host.signing.verifyEvidence(record.id);
    signings.push({
      n,
      businessNo: record.businessNo,
      found: true,
      status: record.status,
      stage: record.stage,
      failure: record.failure ? `${record.failure.code}: ${record.failure.message}` : undefined,
      flowId: record.vendor?.flowId ?? undefined,
      vendorId: record.vendor?.id,
      evidenceOk: evidence.ok,
      evidenceProblems: evidence.ok ? [] : [...evidence.chain, ...evidence.record].map((p) => JSON.stringify(p)),
    });
  }
  const workflows = await host.runtime.list({ limit: 1_000_000 });
  const auditFailures: string[] = [];
  for (const workflow of workflows) {
    const audit = await host.runtime.verifyAudit(workflow.id);
    if (!audit.ok) auditFailures.push(`${workflow.id}: ${JSON.stringify(audit).slice(0, 300)}`);
  }
  const finished = new Set(workflows.filter((w) => w.status !== 'active').map((w) => w.id));
  const timers = await host.persistence.transaction((tx) => tx.timers.list({ limit: 1_000_000 }));
  const leftTimers = timers.filter((t) => finished.has(t.workflowId)).map((t) => `${t.workflowId}/${t.timerId}`);
  const dead = await host.runtime.deadLetters.list({ limit: 1_000 });
  let dispatch: Awaited<ReturnType<typeof checkDispatch>> | undefined;
  if (dispatchHost && task.dispatch) {
    dispatch = await checkDispatch(dispatchHost, task.dispatch.numbers);
    for (const [n, error] of stuck) dispatch.findings.push(`application ${n} stuck: ${error}`);
  }
  send({
    kind: 'checked',
    signings,
    workflows: workflows.length,
    auditFailures,
    leftTimers,
    deadEffects: dead.map((d) => `${d.workflowId}: ${d.kind} ${JSON.stringify(d).slice(0, 200)}`),
    ...(dispatch ? { dispatch } : {}),
  });
}

if (task.mode === 'setup') {
  const templateVersion = await setUpTemplate(sealflow);
  if (dispatchHost) await setUpDispatch(dispatchHost);
  send({ kind: 'set-up', templateVersion });
  await sealflow.persistence.close();
  await dispatchHost?.persistence.close();
  process.exit(0);
}
const callbackUrl = await listenForCallbacks();
send({ kind: 'ready', ...(callbackUrl ? { callbackUrl } : {}) });
// Applications are driven beside the signings; in the last host until every one is settled (or 20 minutes pass).
const settling =
  dispatchHost && task.dispatch
    ? driveApplications(dispatchHost, task.dispatch.numbers, {
        last: task.mode === 'check',
        lanes: 4,
        until: Date.now() + 20 * 60_000,
      })
    : null;
await submit(task.numbers);
if (task.mode === 'check') {
  await check(sealflow, task.all ?? task.numbers, settling);
  await sealflow.persistence.close();
  await dispatchHost?.persistence.close();
  process.exit(0);
}
