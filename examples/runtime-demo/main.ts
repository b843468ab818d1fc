/**
 * The durable runtime on its own, as a lender's backend would use it: a credit-grant signing workflow that calls a
 * (simulated) signing vendor, waits for the vendor's callback under a deadline, and survives a host restart in the
 * middle. Run it with `pnpm demo`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assign, setup } from 'xstate';
import { createRuntime, defineWorkflow, SealflowError } from '@sealflow/core';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';

const creditGrantSigning = setup({
  types: {
    context: {} as { businessNo: string; flowId: string | null; outcome: string | null },
    input: {} as { businessNo: string },
    events: {} as
      | { type: 'startVendorFlow.done'; output: { flowId: string } }
      | { type: 'startVendorFlow.failed'; error: { message: string } }
      | { type: 'VENDOR_CALLBACK'; flowId: string; signed: boolean },
  },
  actions: { startVendorFlow: (_, _params: { businessNo: string }) => {} },
  delays: { signingDeadline: 2_000 },
}).createMachine({
  id: 'credit-grant-signing',
  initial: 'startingFlow',
  context: ({ input }) => ({ businessNo: input.businessNo, flowId: null, outcome: null }),
  states: {
    startingFlow: {
      entry: { type: 'startVendorFlow', params: ({ context }) => ({ businessNo: context.businessNo }) },
      on: {
        'startVendorFlow.done': {
          target: 'awaitingSignature',
          actions: assign({ flowId: ({ event }) => event.output.flowId }),
        },
        'startVendorFlow.failed': {
          target: 'failed',
          actions: assign({ outcome: ({ event }) => event.error.message }),
        },
      },
    },
    awaitingSignature: {
      after: {
        signingDeadline: { target: 'failed', actions: assign({ outcome: 'vendor did not call back in time' }) },
      },
      on: {
        VENDOR_CALLBACK: [
          { guard: ({ event }) => event.signed, target: 'completed', actions: assign({ outcome: 'signed' }) },
          { target: 'failed', actions: assign({ outcome: 'the customer declined' }) },
        ],
      },
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
  },
});

let vendorCalls = 0;
const workflow = defineWorkflow({
  id: 'credit-grant-signing',
  version: 1,
  machine: creditGrantSigning,
  effects: {
    startVendorFlow: {
      // The idempotency key makes a re-run after a crash look like one call to the vendor.
      async run(params: { businessNo: string }, { idempotencyKey, attempt }) {
        vendorCalls++;
        if (attempt === 1 && params.businessNo === 'CG-002') {
          throw new SealflowError('VENDOR_UNAVAILABLE', 'vendor returned 503', { retryable: true });
        }
        return { flowId: `flow-${idempotencyKey.slice(-12)}` };
      },
      retry: { baseDelayMs: 200, jitter: 0 },
    },
  },
});

const dataDir = mkdtempSync(join(tmpdir(), 'sealflow-demo-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(`PGlite data directory: ${dataDir}\n`);
let persistence = await pglitePersistence({ dataDir });
let runtime = createRuntime({ persistence, workflows: [workflow] });
for (const businessNo of ['CG-001', 'CG-002', 'CG-003'])
  await runtime.start('credit-grant-signing', { id: businessNo, input: { businessNo } });
runtime.startWorker({ pollMs: 50 });
await sleep(600);
await runtime.send('CG-001', { type: 'VENDOR_CALLBACK', flowId: 'x', signed: true }, { actor: 'esign-callback' });

console.log('-- host restarts: the worker stops, the database is closed and opened again --');
await runtime.stop();
await persistence.close();
persistence = await pglitePersistence({ dataDir });
runtime = createRuntime({ persistence, workflows: [workflow] });
runtime.startWorker({ pollMs: 50 });
await runtime.send('CG-002', { type: 'VENDOR_CALLBACK', flowId: 'y', signed: false }, { actor: 'esign-callback' });
// CG-003 never gets a callback: its deadline timer, scheduled before the restart, ends it.
await sleep(2_500);

for (const id of ['CG-001', 'CG-002', 'CG-003']) {
  const state = await runtime.get(id);
  const audit = await runtime.verifyAudit(id);
  const context = state?.context as { outcome: string };
  console.log(
    `${id}: ${state?.stateValue.padEnd(10)} ${context.outcome.padEnd(32)} audit entries ${audit.entries}, chain ${audit.ok ? 'verified' : 'BROKEN'}`,
  );
}
console.log(`\nvendor calls made: ${vendorCalls} (one retried after a 503)`);
await runtime.stop();
await persistence.close();
rmSync(dataDir, { recursive: true, force: true });
