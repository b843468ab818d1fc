/**
 * Failover from CFCA 安心签 to the local signer, on the 安心签 emulator: a signing routed `['cfca', 'local']` moves to
 * the local signer only when 安心签 failed before the flow existed (its account opening answered 503) and the vendor
 * confirms it holds no flow; once the vendor has recorded the flow (the contract upload then fails), it stays there.
 */
import { readFileSync } from 'node:fs';
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import {
  createSealflow,
  createSigningGateway,
  type SignRequest,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore, createMemoryPersistence } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { createMemoryCfcaStore } from '../src/index.js';
import { createCfcaTestbed } from '../src/testing/index.js';

const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const BORROWER = { name: '欧阳娜娜', idNumber: withIdNumberCheckChar('31010119900307002'), mobile: '13912345678' };
const UPLOAD_CONTRACT = '3203';
const OPEN_PERSON_ACCOUNT = '3001';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const testbed = createCfcaTestbed({
  platform: { name: '某某消费金融股份有限公司', creditCode: platformCode },
  emulator: { clock },
});
const { emulator } = testbed;
const server = setupServer(...emulator.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

async function setup() {
  const cfca = testbed.vendor({ clock, store: createMemoryCfcaStore(), timeoutMs: 300 });
  // The platform's seal at the local signer is registered under the seal id it has at 安心签.
  const local = localSigner({
    seals: {
      [testbed.platform.sealId]: {
        identity: createTestSigningIdentity({ commonName: testbed.platform.name, organization: testbed.platform.name }),
        image: createSealImage({ size: 160 }),
      },
    },
    personIdentity: createTestSigningIdentity({ commonName: '某某消费金融 代签', organization: testbed.platform.name }),
    signingTime: () => new Date(clock.now()),
  });
  const localCalls: string[] = [];
  const countedLocal = new Proxy(local, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        localCalls.push(String(property));
        return value.apply(target, args);
      };
    },
  });
  const gatewayOptions = { clock, sleep: async () => {} };
  const { runtime, templates, signing } = await createSealflow({
    persistence: createMemoryPersistence(),
    documents: createMemoryDocumentStore({ clock }),
    vendors: {
      cfca: createSigningGateway(cfca, gatewayOptions),
      local: createSigningGateway(countedLocal, gatewayOptions),
    },
    routing: { scenes: { LOAN_CONTRACT: ['cfca', 'local'] } },
    hashKey: 'adapter-cfca-failover-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: { name: testbed.platform.name, creditCode: platformCode, sealId: testbed.platform.sealId },
    },
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'telecom-three-element' }) },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    clock,
    logger: silentLogger,
    start: false,
  });
  const editor = { id: 'alice', roles: ['template-editor'] };
  const draft = await templates.importTemplate(editor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf,
    definition: sealedContractDefinition(['platform']),
  });
  await templates.submit(editor, draft.id);
  await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
  const drain = async () => {
    for (let i = 0; i < 40; i++) {
      const pass = await runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  const request = (businessNo: string): SignRequest => ({
    businessNo,
    scene: 'LOAN_CONTRACT',
    borrower: BORROWER,
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: {
      at: clock.now(),
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [draft.id],
    },
    actor: { id: 'lending-system' },
  });
  return { signing, drain, request, localCalls };
}

describe('failover from CFCA 安心签 to the local signer (安心签 emulator)', () => {
  it('安心签 answers 503 before the flow exists: no contract there, the local signer signs; PAdES verifies', async () => {
    const s = await setup();
    const contractsBefore = emulator.contractNumbers().length;
    emulator.faults.always({ kind: 'http', status: 503 }, { txCode: OPEN_PERSON_ACCOUNT });
    const record = await s.signing.sign(s.request('LN-CFCA-FAILOVER-1'));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('local');
    expect(done.failedOverFrom).toBe('cfca');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['cfca', 'unavailable', 'VENDOR_UNAVAILABLE'],
      ['local', 'signed', null],
    ]);
    expect(emulator.contractNumbers().length).toBe(contractsBefore);
    const [file] = await s.signing.download(record.id);
    expect((await verifyPdfSignatures(file!.bytes)).map((c) => c.valid)).toEqual([true, true]);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('安心签 recorded the flow and then failed to take the contract: the signing stays at CFCA, never elsewhere', async () => {
    testbed.authorizePerson(BORROWER);
    const s = await setup();
    emulator.faults.always({ kind: 'http', status: 503 }, { txCode: UPLOAD_CONTRACT });
    const record = await s.signing.sign(s.request('LN-CFCA-FAILOVER-2'));
    await s.drain();
    const waiting = (await s.signing.get(record.id))!;

    // The vendor holds the flow it recorded and resumes it on the runtime's retry: no move, no local flow.
    expect(waiting.vendor.id).toBe('cfca');
    expect(waiting.failedOverFrom).toBeNull();
    expect(waiting.stage).toBe('vendorPhase.startingVendorFlow');
    expect(s.localCalls).toEqual([]);

    // 安心签 comes back: the retry under the same key makes the contract, and CFCA signs.
    emulator.faults.clear();
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      await s.drain();
    }
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome])).toEqual([['cfca', 'signed']]);
    expect(s.localCalls).toEqual([]);
  });
});
