/**
 * `esignVendor()` with `personSilentSign` passes core's signing-vendor contract against the e签宝 emulator too: it
 * then declares personAutoSign, and a borrower with a silent-sign authorisation is signed without interaction.
 */
import { readFileSync } from 'node:fs';
import { type SignerSpec, withCreditCodeCheckChar } from '@sealflow/core';
import { runSigningVendorContract } from '@sealflow/core/testing';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect } from 'vitest';
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { callbackHeaders } from '../src/client/signature.js';
import { esignVendor } from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { pdfsig } from './emulator-support.js';

const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const funderCode = withCreditCodeCheckChar('91110000100000000');

const emulator = createEsignEmulator({ app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode } });
const funderOrg = emulator.addOrg({ orgName: '某某银行股份有限公司', orgIDCardNum: funderCode });
// The funder lets the platform's company seal with its seal, as e签宝 requires for sealing automatically.
emulator.authorizeSeal(funderOrg.sealId, emulator.app.orgId);
// The borrower has a real-named e签宝 account and authorised the platform to sign for them (v1 静默签署授权).
const { psnId } = emulator.addPerson({
  name: TEST_BORROWER.name,
  idNo: TEST_BORROWER.idNumber,
  mobile: TEST_BORROWER.mobile!,
});
emulator.authorizeSilentSign(psnId);
const server = setupServer(...emulator.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const borrower: SignerSpec = { ...TEST_BORROWER, autoSign: false };
const platform: SignerSpec = {
  role: 'platform',
  kind: 'organization',
  name: emulator.app.orgName,
  idNumber: platformCode,
  sealId: emulator.app.sealId,
  autoSign: true,
  order: 2,
  placements: [{ documentKey: 'contract', page: 7, x: 100, y: 230, width: 120, height: 60 }],
};
const funder: SignerSpec = {
  role: 'funder',
  kind: 'organization',
  name: funderOrg.orgName,
  idNumber: funderCode,
  sealId: funderOrg.sealId,
  autoSign: true,
  order: 3,
  placements: [{ documentKey: 'contract', page: 7, x: 100, y: 140, width: 120, height: 60 }],
};

runSigningVendorContract({
  name: 'esign with personSilentSign (emulator)',
  settleTimeoutMs: 5_000,
  create: async () => {
    const vendor = esignVendor({
      appId: emulator.app.appId,
      appSecret: emulator.app.appSecret,
      host: emulator.baseUrl,
      qps: 1000,
      burst: 1000,
      unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
      personSilentSign: { enabled: true },
    });
    return {
      vendor,
      samplePdf: contract,
      signers: [borrower, platform],
      funder,
      // The borrower opens the link the vendor hands out and signs on e签宝's page.
      completeExternally: async (flowId) => {
        const { url } = await vendor.signerUrl!(flowId, 'borrower', { idempotencyKey: `${flowId}:url` });
        emulator.signByUrl(url);
      },
      forgeCallback: (flowId) => {
        const rawBody = JSON.stringify({
          action: 'SIGN_FLOW_COMPLETE',
          timestamp: Date.now(),
          signFlowId: flowId,
          signFlowStatus: '2',
        });
        return {
          headers: callbackHeaders({
            appId: emulator.app.appId,
            timestamp: Date.now(),
            rawBody,
            secret: 'not-the-app-secret',
          }),
          query: {},
          rawBody,
        };
      },
      flowCount: () => emulator.findFlows({}).length,
    };
  },
  verifyPdf: (bytes, flow) => {
    const placements = flow.signers.flatMap((s) => s.placements.filter((p) => p.documentKey === flow.documentKey));
    const report = pdfsig(bytes);
    expect(report.validations, report.raw).toEqual(placements.map(() => 'Signature is Valid.'));
  },
});
