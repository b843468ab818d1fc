/**
 * Failover from CFCA 安心签 to the local signer, on the 安心签 emulator: a signing routed `['cfca', 'local']` moves to
 * the local signer only when 安心签 failed before the flow existed (its account opening answered 503) and the vendor
 * confirms it holds no flow; once the vendor has recorded the flow (the contract upload then fails), it stays there.
 */
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { withCreditCodeCheckChar } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counted, FAILOVER_BORROWER as BORROWER, failoverSealflow } from '../../../fixtures/failover.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { createMemoryCfcaStore } from '../src/index.js';
import { createCfcaTestbed } from '../src/testing/index.js';

const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
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
  // The platform's seal at the local signer is registered under the seal id it has at 安心签: one seal id that
  // both vendors know, so a plain string serves the whole route.
  const local = counted(
    localSigner({
      seals: {
        [testbed.platform.sealId]: {
          identity: createTestSigningIdentity({
            commonName: testbed.platform.name,
            organization: testbed.platform.name,
          }),
          image: createSealImage({ size: 160 }),
        },
      },
      personIdentity: createTestSigningIdentity({
        commonName: '某某消费金融 代签',
        organization: testbed.platform.name,
      }),
      signingTime: () => new Date(clock.now()),
    }),
  );
  const s = await failoverSealflow({
    clock,
    vendors: { cfca, local: local.vendor },
    routing: { scenes: { LOAN_CONTRACT: ['cfca', 'local'] } },
    hashKey: 'adapter-cfca-failover-hash-key-0123456789',
    organizations: {
      platform: { name: testbed.platform.name, creditCode: platformCode, sealId: testbed.platform.sealId },
    },
    definition: sealedContractDefinition(['platform']),
  });
  return { ...s, localCalls: local.calls };
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
