/** The testbed other packages use: one call gives an emulator and vendors that sign a borrower, the platform and a funder. */
import { type SignerSpec, withCreditCodeCheckChar } from '@sealflow/core';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { createCfcaTestbed } from '../src/testing/index.js';
import { contractPdf } from './vendor-support.js';

const platform = { name: '某某消费金融股份有限公司', creditCode: withCreditCodeCheckChar('91310000MA1FL0000') };
const funder = { name: '某某银行股份有限公司', creditCode: withCreditCodeCheckChar('91110000100000000') };
const testbed = createCfcaTestbed({ platform, funders: [funder] });
const server = setupServer(...testbed.emulator.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const at = (y: number) => [{ documentKey: 'contract', page: 7, x: 100, y, width: 120, height: 60 }];

it('signs an authorised borrower, the platform and a funder; refuses a borrower without authorisation', async () => {
  const vendor = testbed.vendor();
  const upload = (idempotencyKey: string) =>
    vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: contractPdf }, { idempotencyKey });
  const signers: SignerSpec[] = [
    { ...TEST_BORROWER, placements: at(320) },
    { ...testbedOrg('platform', platform.creditCode, testbed.platform.sealId), placements: at(230) },
    { ...testbedOrg('funder', funder.creditCode, testbed.funders[funder.creditCode]!.sealId), placements: at(140) },
  ];
  const refused = await vendor
    .createFlow(
      { title: '借款合同', businessNo: 'TB-1', documents: [await upload('u1')], signers },
      { idempotencyKey: 'c1' },
    )
    .catch((e: { details?: { vendorCode?: string } }) => e);
  expect((refused as { details?: { vendorCode?: string } }).details?.vendorCode).toBe('PROXY_SIGN_NOT_AUTHORISED');

  testbed.authorizePerson({
    name: TEST_BORROWER.name,
    idNumber: TEST_BORROWER.idNumber,
    mobile: TEST_BORROWER.mobile!,
  });
  const flow = await vendor.createFlow(
    { title: '借款合同', businessNo: 'TB-2', documents: [await upload('u2')], signers },
    { idempotencyKey: 'c2' },
  );
  expect(flow.status).toBe('completed');
  expect(flow.signers.map((s) => s.seal?.sealId)).toEqual([
    undefined,
    testbed.platform.sealId,
    testbed.funders[funder.creditCode]!.sealId,
  ]);
});

function testbedOrg(role: string, creditCode: string, sealId: string): Omit<SignerSpec, 'placements'> {
  return { role, kind: 'organization', name: role, idNumber: creditCode, sealId, autoSign: true, order: 2 };
}
