/**
 * Failover from e签宝 to the local signer, on the e签宝 emulator: a signing routed `['esign', 'local']` moves to the
 * local signer only when e签宝 failed to start the flow (5xx, timeouts) and its flow list shows no flow made for the
 * signing; when e签宝 made the flow and only the answer was lost, the signing stays at e签宝.
 */
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { withCreditCodeCheckChar } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counted, FAILOVER_BORROWER as BORROWER, failoverSealflow } from '../../../fixtures/failover.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { esignVendor } from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { pdfsig } from './emulator-support.js';

const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const CREATE = '/v3/sign-flow/create-by-file';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({
  clock,
  app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode },
});
// The borrower has a real-named e签宝 account and has authorised silent signing, so e签宝 can sign for them too.
emulator.authorizeSilentSign(
  emulator.addPerson({ name: BORROWER.name, idNo: BORROWER.idNumber, mobile: BORROWER.mobile }).psnId,
);
const server = setupServer(...emulator.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

async function setup() {
  const esign = esignVendor({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    host: emulator.baseUrl,
    clock,
    qps: 1000,
    burst: 100_000,
    unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
    // Real milliseconds: a hung create costs each try this long.
    timeoutMs: 300,
    // The borrower signs by consent, as with the local signer, so one scene suits both vendors of the route.
    personSilentSign: { enabled: true },
  });
  // The platform's seal at the local signer has a name of its own: each vendor is sent the seal id it knows.
  const local = counted(
    localSigner({
      seals: {
        'platform-local-seal': {
          identity: createTestSigningIdentity({ commonName: emulator.app.orgName, organization: emulator.app.orgName }),
          image: createSealImage({ size: 160 }),
        },
      },
      personIdentity: createTestSigningIdentity({
        commonName: '某某消费金融 代签',
        organization: emulator.app.orgName,
      }),
      signingTime: () => new Date(clock.now()),
    }),
  );
  const s = await failoverSealflow({
    clock,
    vendors: { esign, local: local.vendor },
    routing: { default: ['esign', 'local'] },
    hashKey: 'adapter-esign-failover-hash-key-0123456789',
    organizations: {
      platform: {
        name: emulator.app.orgName,
        creditCode: platformCode,
        sealId: { esign: emulator.app.sealId, local: 'platform-local-seal' },
      },
    },
    definition: {
      ...sealedContractDefinition(['platform']),
      // Also set up at e签宝; the local signer signs the PDF sealflow renders, so it is a valid fallback.
      vendorBindings: { esign: { docTemplateId: 'esign-tpl-loan', componentKeys: { borrowerName: 'jkrxm' } } },
    },
  });
  return { ...s, localCalls: local.calls };
}

/** The paths e签宝 was asked for while `work` ran. */
async function esignPaths(work: () => Promise<void>): Promise<string[]> {
  const paths: string[] = [];
  const count = ({ request }: { request: Request }) => {
    paths.push(`${request.method} ${new URL(request.url).pathname}`);
  };
  server.events.on('request:start', count);
  try {
    await work();
  } finally {
    server.events.removeListener('request:start', count);
  }
  return paths;
}

describe('failover from e签宝 to the local signer (e签宝 emulator)', () => {
  it('e签宝 answers 503 to every create: its flow list shows no flow, the local signer signs; PAdES verifies', async () => {
    const s = await setup();
    const flowsBefore = emulator.findFlows({}).length;
    emulator.faults.always({ kind: 'http', status: 503 }, { path: CREATE, method: 'POST' });
    let recordId = '';
    const paths = await esignPaths(async () => {
      recordId = (await s.signing.sign(s.request('LN-FAILOVER-503'))).id;
      await s.drain();
    });
    const done = (await s.signing.get(recordId))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('local');
    // The local signer was sent, and sealed with, the platform's seal there, not its e签宝 seal id.
    expect(done.sealsUsed.map((u) => [u.role, u.sealId])).toEqual([['platform', 'platform-local-seal']]);
    expect(done.failedOverFrom).toBe('esign');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['esign', 'unavailable', 'VENDOR_UNAVAILABLE'],
      ['local', 'signed', null],
    ]);
    // e签宝 was tried, then asked for the flow before the local signer was called; it holds none.
    expect(paths.filter((p) => p === `POST ${CREATE}`).length).toBeGreaterThanOrEqual(1);
    expect(paths.some((p) => p.endsWith('/v3/sign-flow/sign-flow-list'))).toBe(true);
    expect(emulator.findFlows({}).length).toBe(flowsBefore);
    expect(s.localCalls).toContain('createFlow');

    const [file] = await s.signing.download(recordId);
    const checks = await verifyPdfSignatures(file!.bytes);
    expect(checks.map((c) => c.valid)).toEqual([true, true]);
    const report = pdfsig(file!.bytes);
    expect(report.validations, report.raw).toEqual(['Signature is Valid.', 'Signature is Valid.']);
    expect((await s.signing.verifyEvidence(recordId)).ok).toBe(true);
    const { manifest } = await s.signing.exportEvidencePackage(recordId);
    expect(manifest.entries.map((e) => e.type)).toContain('vendor.failed-over');
    expect(JSON.stringify([done, manifest])).not.toContain(BORROWER.idNumber);
  });

  it('e签宝 never answers a create (timeouts, nothing made): fails over to the local signer', async () => {
    const s = await setup();
    const flowsBefore = emulator.findFlows({}).length;
    emulator.faults.always({ kind: 'timeout' }, { path: CREATE, method: 'POST' });
    const record = await s.signing.sign(s.request('LN-FAILOVER-HUNG'));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.status).toBe('COMPLETED');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['esign', 'unavailable', 'VENDOR_TIMEOUT'],
      ['local', 'signed', null],
    ]);
    expect(emulator.findFlows({}).length).toBe(flowsBefore);
  });

  it('e签宝 made the flow but the answer was lost: the lookup finds it and the signing completes at e签宝', async () => {
    const s = await setup();
    const flowsBefore = emulator.findFlows({}).length;
    // Every create is processed, every answer lost: e签宝 holds the flow, the client never hears of it.
    emulator.faults.always({ kind: 'timeout', processed: true }, { path: CREATE, method: 'POST' });
    const record = await s.signing.sign(s.request('LN-FAILOVER-MADE'));
    await s.drain();
    const after = (await s.signing.get(record.id))!;

    expect(after.failure).toBeNull();
    expect(after.status).toBe('COMPLETED');
    expect(after.vendor.id).toBe('esign');
    expect(after.failedOverFrom).toBeNull();
    expect(after.vendor.flowId).toBe(emulator.findFlows({}).at(-1));
    expect(emulator.findFlows({}).length).toBe(flowsBefore + 1);
    expect(after.vendorAttempts.map((a) => [a.vendorId, a.outcome])).toEqual([['esign', 'signed']]);
    // The local signer was never asked for anything: no second contract exists anywhere.
    expect(s.localCalls).toEqual([]);
  });
});
