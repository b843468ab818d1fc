/**
 * Failover between e签宝 and CFCA 安心签, each on its emulator. The two vendors name seals their own way (e签宝's
 * sealId, 安心签's sealCode), so the platform is configured with its seal id at each, and a signing that moves from
 * one to the other is sent — and checked against — the seal id of the vendor that signs. A configuration that
 * leaves an organisation without a seal at a vendor its route reaches is refused at start-up.
 */
import { createEsignEmulator, ESIGN_CODES } from '@sealflow/adapter-esign/testing';
import { esignVendor } from '@sealflow/adapter-esign';
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { type SigningRouting, ValidationError, withCreditCodeCheckChar } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counted, FAILOVER_BORROWER as BORROWER, failoverSealflow } from '../../../fixtures/failover.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { createMemoryCfcaStore } from '../src/index.js';
import { createCfcaTestbed } from '../src/testing/index.js';

const PLATFORM = { name: '某某消费金融股份有限公司', creditCode: withCreditCodeCheckChar('91310000MA1FL0000') };
const ESIGN_CREATE = '/v3/sign-flow/create-by-file';
const CFCA_OPEN_PERSON_ACCOUNT = '3001';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const esignEmulator = createEsignEmulator({
  clock,
  app: { orgName: PLATFORM.name, orgIDCardNum: PLATFORM.creditCode },
});
// The borrower may be signed for at both vendors: silent signing at e签宝, proxy signing (代签) at 安心签.
esignEmulator.authorizeSilentSign(
  esignEmulator.addPerson({ name: BORROWER.name, idNo: BORROWER.idNumber, mobile: BORROWER.mobile }).psnId,
);
const cfcaTestbed = createCfcaTestbed({ platform: PLATFORM, emulator: { clock } });
cfcaTestbed.authorizePerson(BORROWER);
const cfcaEmulator = cfcaTestbed.emulator;
const server = setupServer(...esignEmulator.handlers, ...cfcaEmulator.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  esignEmulator.faults.clear();
  cfcaEmulator.faults.clear();
});
afterAll(() => server.close());

/** The platform's seal id at each vendor, as each vendor issued it. */
const PLATFORM_SEALS = { esign: esignEmulator.app.sealId, cfca: cfcaTestbed.platform.sealId };

async function setup(routing: SigningRouting, platformSealId: string | Record<string, string> = PLATFORM_SEALS) {
  const esign = counted(
    esignVendor({
      appId: esignEmulator.app.appId,
      appSecret: esignEmulator.app.appSecret,
      host: esignEmulator.baseUrl,
      clock,
      qps: 1000,
      burst: 100_000,
      unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
      timeoutMs: 300,
      personSilentSign: { enabled: true },
    }),
  );
  const cfca = counted(cfcaTestbed.vendor({ clock, store: createMemoryCfcaStore(), timeoutMs: 300 }));
  const s = await failoverSealflow({
    clock,
    vendors: { esign: esign.vendor, cfca: cfca.vendor },
    routing,
    hashKey: 'adapter-cfca-esign-failover-hash-key-0123',
    organizations: { platform: { ...PLATFORM, sealId: platformSealId } },
    definition: {
      ...sealedContractDefinition(['platform']),
      // Set up at both vendors, so either may take the signing.
      vendorBindings: {
        esign: { docTemplateId: 'esign-tpl-loan', componentKeys: { borrowerName: 'jkrxm' } },
        cfca: { templateId: 'CFCA-TPL-LOAN', fieldNames: { borrowerName: 'jkrxm' } },
      },
    },
  });
  return { ...s, esignCalls: esign.calls, cfcaCalls: cfca.calls };
}

describe('failover between e签宝 and CFCA 安心签 with a seal id per vendor (both emulators)', () => {
  it('the two vendors issued the platform different seal ids', () => {
    expect(PLATFORM_SEALS.esign).not.toBe(PLATFORM_SEALS.cfca);
  });

  it('e签宝 answers 503 to every create: the signing completes at 安心签, sealed with the CFCA seal code', async () => {
    const s = await setup({ default: ['esign', 'cfca'] });
    const esignFlowsBefore = esignEmulator.findFlows({}).length;
    const cfcaContractsBefore = cfcaEmulator.contractNumbers().length;
    esignEmulator.faults.always({ kind: 'http', status: 503 }, { path: ESIGN_CREATE, method: 'POST' });
    const record = await s.signing.sign(s.request('LN-ESIGN-TO-CFCA'));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('cfca');
    expect(done.failedOverFrom).toBe('esign');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['esign', 'unavailable', 'VENDOR_UNAVAILABLE'],
      ['cfca', 'signed', null],
    ]);
    // 安心签 reported sealing with its own seal code for the platform, which is what it was asked for.
    expect(done.sealsUsed.map((u) => [u.role, u.sealId])).toEqual([['platform', PLATFORM_SEALS.cfca]]);
    expect(esignEmulator.findFlows({}).length).toBe(esignFlowsBefore);
    expect(cfcaEmulator.contractNumbers().length).toBe(cfcaContractsBefore + 1);

    const [file] = await s.signing.download(record.id);
    expect((await verifyPdfSignatures(file!.bytes)).map((c) => c.valid)).toEqual([true, true]);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
    const { manifest } = await s.signing.exportEvidencePackage(record.id);
    expect(manifest.entries.map((e) => e.type)).toContain('vendor.failed-over');
    expect(manifest.entries.find((e) => e.type === 'vendor.sealed')?.data).toMatchObject({
      vendorId: 'cfca',
      seals: [{ role: 'platform', sealId: PLATFORM_SEALS.cfca }],
    });
    expect(JSON.stringify([done, manifest])).not.toContain(BORROWER.idNumber);
  });

  it('安心签 answers 503 before the contract exists: the signing completes at e签宝, sealed with its sealId', async () => {
    const s = await setup({ scenes: { LOAN_CONTRACT: ['cfca', 'esign'] } });
    const cfcaContractsBefore = cfcaEmulator.contractNumbers().length;
    cfcaEmulator.faults.always({ kind: 'http', status: 503 }, { txCode: CFCA_OPEN_PERSON_ACCOUNT });
    const record = await s.signing.sign(s.request('LN-CFCA-TO-ESIGN'));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('esign');
    expect(done.failedOverFrom).toBe('cfca');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['cfca', 'unavailable', 'VENDOR_UNAVAILABLE'],
      ['esign', 'signed', null],
    ]);
    expect(done.sealsUsed.map((u) => [u.role, u.sealId])).toEqual([['platform', PLATFORM_SEALS.esign]]);
    expect(done.vendor.flowId).toBe(esignEmulator.findFlows({}).at(-1));
    expect(cfcaEmulator.contractNumbers().length).toBe(cfcaContractsBefore);
    expect(s.cfcaCalls).toContain('findFlow');

    const [file] = await s.signing.download(record.id);
    expect((await verifyPdfSignatures(file!.bytes)).map((c) => c.valid)).toEqual([true, true]);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('refuses at start-up a route that reaches 安心签 while the platform has no seal id there', async () => {
    const error = await setup({ default: ['esign', 'cfca'] }, { esign: PLATFORM_SEALS.esign }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    const refused = error as ValidationError;
    expect(refused.code).toBe('INVALID_INPUT');
    expect(refused.message).toContain('add organizations.platform.sealId.cfca');
    expect(refused.details?.missingSeals).toEqual([
      { role: 'platform', vendorId: 'cfca', scenes: expect.arrayContaining(['LOAN_CONTRACT']) },
    ]);
    // The same configuration with the fallback's seal id added starts.
    await expect(setup({ default: ['esign', 'cfca'] })).resolves.toBeTruthy();
  });
});
