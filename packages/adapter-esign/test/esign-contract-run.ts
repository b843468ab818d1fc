/**
 * Runs core's signing-vendor contract against `esignVendor()` on a fresh e签宝 emulator: one platform company, one
 * funder whose seal the platform may apply, and the borrower signing on e签宝's page. Each test file calls it once
 * with the vendor options (and emulator set-up) it is about.
 */
import { readFileSync } from 'node:fs';
import { type SignerSpec, withCreditCodeCheckChar } from '@sealflow/core';
import { runSigningVendorContract } from '@sealflow/core/testing';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect } from 'vitest';
import { callbackHeaders } from '../src/client/signature.js';
import { type EsignVendorOptions, esignVendor } from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES, type EsignEmulator } from '../src/testing/index.js';
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { pdfsig } from './emulator-support.js';

export function runEsignContract(options: {
  name: string;
  vendor?: Partial<EsignVendorOptions>;
  /** Emulator state the run needs beyond the companies, set before the server starts. */
  prepare?: (emulator: EsignEmulator) => void;
}): void {
  const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
  const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
  const funderCode = withCreditCodeCheckChar('91110000100000000');

  const emulator = createEsignEmulator({ app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode } });
  const funderOrg = emulator.addOrg({ orgName: '某某银行股份有限公司', orgIDCardNum: funderCode });
  // The funder lets the platform's company seal with its seal, as e签宝 requires for sealing automatically.
  emulator.authorizeSeal(funderOrg.sealId, emulator.app.orgId);
  options.prepare?.(emulator);
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
    name: options.name,
    settleTimeoutMs: 5_000,
    create: async () => {
      const vendor = esignVendor({
        appId: emulator.app.appId,
        appSecret: emulator.app.appSecret,
        host: emulator.baseUrl,
        qps: 1000,
        burst: 1000,
        unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
        ...options.vendor,
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
}
