/**
 * One host process of the crash suite, run on its own so the parent can SIGKILL it at any moment:
 * `node --import tsx --conditions=@sealflow/source host.ts <taskJson>`.
 *
 * - `setup`: approves the loan contract template and exits (never killed).
 * - `work`: runs the background worker and submits its share of signings, reporting each one `sign` returned.
 * - `check`: the last host, never killed: submits what is left, lets the worker finish, then reads every signing
 *   back and verifies evidence, audit chains, timers and dead effects.
 */
import type { Sealflow } from '../../packages/core/src/index.js';
import {
  businessNoOf,
  type CheckedSigning,
  type HostTask,
  type HostToParent,
  openHost,
  setUpTemplate,
  signRequest,
} from './shared.js';

const task = JSON.parse(process.argv[2] ?? '{}') as HostTask;
const send = (message: HostToParent) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const FINAL = new Set(['COMPLETED', 'FAILED']);

const sealflow = await openHost(task);

async function submit(numbers: number[]) {
  const queue = [...numbers];
  // A few at a time, as a lending system's requests would arrive; every one retried until `sign` answers.
  const lane = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await sealflow.signing.sign(signRequest(n, task.templateVersion!));
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

async function check(host: Sealflow, all: number[]) {
  // Let the worker finish: poll until every signing is final, or give up after a generous while.
  const pending = new Set(all);
  for (const until = Date.now() + 20 * 60_000; pending.size > 0 && Date.now() < until; await sleep(500)) {
    for (const n of [...pending]) {
      const record = await recordOf(n);
      if (record && FINAL.has(record.status)) pending.delete(n);
    }
  }
  await host.runtime.stop();
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
  send({
    kind: 'checked',
    signings,
    workflows: workflows.length,
    auditFailures,
    leftTimers,
    deadEffects: dead.map((d) => `${d.workflowId}: ${d.kind} ${JSON.stringify(d).slice(0, 200)}`),
  });
}

if (task.mode === 'setup') {
  send({ kind: 'set-up', templateVersion: await setUpTemplate(sealflow) });
  await sealflow.persistence.close();
  process.exit(0);
}
send({ kind: 'ready' });
await submit(task.numbers);
if (task.mode === 'check') {
  await check(sealflow, task.all ?? task.numbers);
  await sealflow.persistence.close();
  process.exit(0);
}
