/**
 * The create log: both logs held to the same note semantics (also under 50 concurrent notes of one key), and
 * `esignVendor` with a log on the emulator — no `sign-flow-list` call for a create never sent before, a lookup for a
 * retry (in the process, after a restart, after a crash between the note and the request), bounded by the first try.
 */
import { readFileSync } from 'node:fs';
import { type Persistence, ValidationError, withCreditCodeCheckChar } from '@sealflow/core';
import { createMemoryPersistence } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EsignCreateLog, memoryEsignCreateLog, persistentEsignCreateLog } from '../src/index.js';
import { createEsignEmulator } from '../src/testing/index.js';
import { keyDigest } from '../src/vendor/tags.js';
import { emulatorVendor, platformSigner } from './emulator-support.js';

const logs: [string, () => EsignCreateLog][] = [
  ['in memory', () => memoryEsignCreateLog()],
  ['on sealflow persistence', () => persistentEsignCreateLog({ persistence: createMemoryPersistence() })],
];

describe.each(logs)('the e签宝 create log %s', (_, make) => {
  it('answers undefined for the first note of a key and the first time for every later one', async () => {
    const log = make();
    expect(await log.note('key-1', 1_000)).toBeUndefined();
    expect(await log.note('key-2', 2_000)).toBeUndefined();
    expect(await log.note('key-1', 3_000)).toBe(1_000);
    expect(await log.note('key-1', 4_000)).toBe(1_000);
    expect(await log.note('key-2', 5_000)).toBe(2_000);
  });

  it('lets exactly one of 50 concurrent notes of one key be the first, and tells the others its time', async () => {
    const log = make();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => log.note('contended', 10_000 + i)));
    const firsts = answers.filter((answer) => answer === undefined);
    expect(firsts).toHaveLength(1);
    const winner = 10_000 + answers.indexOf(undefined);
    expect(answers.filter((answer) => answer !== undefined)).toEqual(Array(49).fill(winner));
  });
});

describe('persistentEsignCreateLog', () => {
  it('is shared by every log on the same persistence, as by the processes of one database', async () => {
    const persistence = createMemoryPersistence();
    expect(await persistentEsignCreateLog({ persistence }).note('shared', 7)).toBeUndefined();
    expect(await persistentEsignCreateLog({ persistence }).note('shared', 8)).toBe(7);
  });

  it('refuses to be made without a persistence, saying what to pass', () => {
    const make = () => persistentEsignCreateLog({ persistence: undefined as unknown as Persistence });
    expect(make).toThrow(ValidationError);
    expect(make).toThrow(/pass persistence/);
  });
});

describe('esignVendor with a create log', () => {
  const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
  const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
  const emulator = createEsignEmulator({ app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode } });
  const server = setupServer(...emulator.handlers);
  /** The bodies of the `sign-flow-list` calls made since the last reset. */
  let listBodies: { signFlowStartTimeFrom: number }[] = [];
  beforeAll(() => {
    server.listen({ onUnhandledRequest: 'error' });
    server.events.on('request:start', async ({ request }) => {
      if (new URL(request.url).pathname === '/v3/sign-flow/sign-flow-list')
        listBodies.push((await request.clone().json()) as { signFlowStartTimeFrom: number });
    });
  });
  beforeEach(() => {
    listBodies = [];
  });
  afterAll(() => server.close());

  const SKEW_MS = 60_000;
  const vendorWith = (createLog: EsignCreateLog) => emulatorVendor(emulator, { createLog, clockSkewMs: SKEW_MS });
  const platform = platformSigner(emulator, platformCode, {
    order: 1,
    placements: [{ documentKey: 'contract', page: 1, x: 100, y: 230 }],
  });
  const createIn = async (vendor: ReturnType<typeof vendorWith>, businessNo: string, key: string) => {
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      { idempotencyKey: `${key}:upload` },
    );
    return vendor.createFlow(
      { title: `借款合同 ${businessNo}`, businessNo, documents: [document], signers: [platform] },
      { idempotencyKey: key },
    );
  };
  const flowsTitled = (businessNo: string) => emulator.findFlows({ signFlowTitle: `借款合同 ${businessNo}` });

  it('sends a create never sent before without reading the flow list', async () => {
    const vendor = vendorWith(memoryEsignCreateLog());
    const flow = await createIn(vendor, 'LN-LOG-1', 'log-1');
    expect(listBodies).toEqual([]);
    expect(flowsTitled('LN-LOG-1')).toEqual([flow.flowId]);
  });

  it('finds the flow a create whose answer was lost made, looking back only to the first try', async () => {
    const vendor = vendorWith(memoryEsignCreateLog());
    emulator.faults.next({ kind: 'http', status: 503, processed: true }, { path: '/v3/sign-flow/create-by-file' });
    const firstTry = Date.now();
    await expect(createIn(vendor, 'LN-LOG-2', 'log-2')).rejects.toMatchObject({ retryable: true });
    expect(flowsTitled('LN-LOG-2')).toHaveLength(1);
    expect(listBodies).toEqual([]);

    const flow = await createIn(vendor, 'LN-LOG-2', 'log-2');
    expect(flowsTitled('LN-LOG-2')).toEqual([flow.flowId]);
    expect(listBodies.length).toBeGreaterThan(0);
    const from = listBodies[0]!.signFlowStartTimeFrom;
    expect(from).toBeGreaterThanOrEqual(firstTry - SKEW_MS);
    expect(from).toBeLessThanOrEqual(Date.now() - SKEW_MS);
  });

  it('after a restart on the same database, finds the flow the process before made', async () => {
    const persistence = createMemoryPersistence();
    const before = await createIn(vendorWith(persistentEsignCreateLog({ persistence })), 'LN-LOG-3', 'log-3');
    listBodies = [];
    const after = await createIn(vendorWith(persistentEsignCreateLog({ persistence })), 'LN-LOG-3', 'log-3');
    expect(after.flowId).toBe(before.flowId);
    expect(listBodies.length).toBeGreaterThan(0);
    expect(flowsTitled('LN-LOG-3')).toEqual([before.flowId]);
  });

  it('looks up, finds nothing and creates once, after a crash between the note and the request', async () => {
    const log = memoryEsignCreateLog();
    // What a process that died right after noting the key leaves behind.
    await log.note(keyDigest('log-4'), Date.now());
    const flow = await createIn(vendorWith(log), 'LN-LOG-4', 'log-4');
    expect(listBodies.length).toBeGreaterThan(0);
    expect(flowsTitled('LN-LOG-4')).toEqual([flow.flowId]);
  });

  it('findFlow: a key never sent needs no lookup; a sent one is looked for since its first try', async () => {
    const log = memoryEsignCreateLog();
    const vendor = vendorWith(log);
    expect(await vendor.findFlow!({ createKey: 'log-6', businessNo: 'LN-LOG-6' }, { idempotencyKey: 'find-6' })).toBe(
      null,
    );
    expect(listBodies).toEqual([]);

    const firstTry = Date.now();
    const flow = await createIn(vendor, 'LN-LOG-6', 'log-6');
    const found = await vendor.findFlow!({ createKey: 'log-6', businessNo: 'LN-LOG-6' }, { idempotencyKey: 'find-6b' });
    expect(found?.flowId).toBe(flow.flowId);
    expect(listBodies.length).toBeGreaterThan(0);
    expect(listBodies[0]!.signFlowStartTimeFrom).toBeGreaterThanOrEqual(firstTry - SKEW_MS);
  });

  it('reads a lost sign-flow-list page again, up to four times, before a lookup fails', async () => {
    const vendor = vendorWith(memoryEsignCreateLog());
    const flow = await createIn(vendor, 'LN-LOG-7', 'log-7');
    const find = (n: number) =>
      vendor.findFlow!({ createKey: 'log-7', businessNo: 'LN-LOG-7' }, { idempotencyKey: `find-7-${n}` });
    const list = { path: '/v3/sign-flow/sign-flow-list' };

    emulator.faults.next({ kind: 'http', status: 502 }, { ...list, times: 3 });
    listBodies = [];
    expect((await find(1))?.flowId).toBe(flow.flowId);
    expect(listBodies).toHaveLength(4);

    emulator.faults.next({ kind: 'malformed' }, { ...list, times: 4 });
    await expect(find(2)).rejects.toMatchObject({ code: 'VENDOR_BAD_RESPONSE', retryable: true });
    emulator.faults.clear();
  });

  it('notes the key before the create is sent, so a create that fails to note sends nothing', async () => {
    const failing: EsignCreateLog = {
      note: async () => {
        throw new Error('database unreachable');
      },
    };
    await expect(createIn(vendorWith(failing), 'LN-LOG-5', 'log-5')).rejects.toThrow('database unreachable');
    expect(flowsTitled('LN-LOG-5')).toEqual([]);
  });
});
