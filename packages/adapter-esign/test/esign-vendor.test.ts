/**
 * `esignVendor()` features the contract does not reach: e签宝 doc templates, seals placed by form field and by
 * keyword, and a live run against the e签宝 sandbox when credentials are given.
 */
import { readFileSync } from 'node:fs';
import { inspectPdf, type SignerSpec, type VendorCallContext, withCreditCodeCheckChar } from '@sealflow/core';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { esignVendor } from '../src/index.js';
import { createEsignEmulator } from '../src/testing/index.js';
import { emulatorVendor, pdfsig } from './emulator-support.js';

const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const ctx = (idempotencyKey: string): VendorCallContext => ({ idempotencyKey });

describe('esignVendor on the emulator', () => {
  const emulator = createEsignEmulator({ app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode } });
  const server = setupServer(...emulator.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());
  const vendor = emulatorVendor(emulator);
  const borrower: SignerSpec = { ...TEST_BORROWER, autoSign: false };
  const platform = (placements: SignerSpec['placements']): SignerSpec => ({
    role: 'platform',
    kind: 'organization',
    name: emulator.app.orgName,
    idNumber: platformCode,
    sealId: emulator.app.sealId,
    autoSign: true,
    order: 2,
    placements,
  });

  it('fills an e签宝 doc template, once per key, and signs the filled file', async () => {
    const docTemplateId = await emulator.addDocTemplate({ pdf: contract, docTemplateName: '借款合同模板' });
    const input = {
      key: 'contract',
      fileName: '借款合同.pdf',
      vendorTemplateId: docTemplateId,
      values: { borrowerName: '欧阳娜娜' },
    };
    const filled = await vendor.fillTemplate!(input, ctx('fill-1'));
    expect(await vendor.fillTemplate!(input, ctx('fill-1'))).toEqual(filled);
    await expect(
      vendor.fillTemplate!({ ...input, values: { borrowerName: '别人' } }, ctx('fill-1')),
    ).rejects.toMatchObject({ code: 'VENDOR_REJECTED', details: { vendorCode: 'IDEMPOTENCY_KEY_REUSED' } });

    const flow = await vendor.createFlow(
      {
        title: '借款合同',
        businessNo: 'LN-TPL',
        documents: [filled],
        signers: [borrower, platform([{ documentKey: 'contract', page: 7, x: 100, y: 230 }])],
      },
      ctx('create-tpl'),
    );
    const { url } = await vendor.signerUrl!(flow.flowId, 'borrower', ctx('url'));
    emulator.signByUrl(url);
    expect((await vendor.getFlow(flow.flowId, ctx('get'))).status).toBe('completed');
    const [signed] = await vendor.downloadSigned(flow.flowId, ctx('download'));
    expect(signed?.key).toBe('contract');
    expect(pdfsig(signed!.bytes).validations).toEqual(['Signature is Valid.', 'Signature is Valid.']);
  });

  it('after a crash, a new process re-uploads the same bytes (a new file id) and finds the flow the lost create made', async () => {
    const restarted = () => emulatorVendor(emulator);
    const flowInput = (document: Awaited<ReturnType<typeof vendor.uploadDocument>>) => ({
      title: '借款合同',
      businessNo: 'LN-CRASH',
      documents: [document],
      signers: [platform([{ documentKey: 'contract', page: 1, x: 100, y: 230 }])],
    });
    const first = restarted();
    const before = await first.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      ctx('crash:up'),
    );
    const made = await first.createFlow(flowInput(before), ctx('crash:flow'));

    const second = restarted();
    const again = await second.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      ctx('crash:up'),
    );
    expect(again.vendorFileId).not.toBe(before.vendorFileId);
    expect((await second.createFlow(flowInput(again), ctx('crash:flow'))).flowId).toBe(made.flowId);

    // Other bytes under the same key are still a different request.
    const third = restarted();
    const other = new Uint8Array(contract);
    other[other.length - 10] = other[other.length - 10]! ^ 1;
    const changed = await third.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: other },
      ctx('crash:up'),
    );
    await expect(third.createFlow(flowInput(changed), ctx('crash:flow'))).rejects.toMatchObject({
      code: 'VENDOR_REJECTED',
      details: { vendorCode: 'IDEMPOTENCY_KEY_REUSED' },
    });
  });

  it('refuses a signed document cut off on the way as retryable, and takes it whole on the next try', async () => {
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      ctx('upload-cut'),
    );
    const flow = await vendor.createFlow(
      {
        title: '借款合同',
        businessNo: 'LN-CUT',
        documents: [document],
        signers: [platform([{ documentKey: 'contract', page: 1, x: 100, y: 230 }])],
      },
      ctx('create-cut'),
    );
    expect((await vendor.getFlow(flow.flowId, ctx('get-cut'))).status).toBe('completed');
    const whole = (await vendor.downloadSigned(flow.flowId, ctx('download-cut')))[0]!.bytes;
    // The storage answers 200 with the first part of the file only, once.
    server.use(
      http.get(`${emulator.baseUrl}/__download/*`, () => HttpResponse.arrayBuffer(whole.slice(0, 40_000).buffer), {
        once: true,
      }),
    );
    await expect(vendor.downloadSigned(flow.flowId, ctx('download-cut'))).rejects.toMatchObject({
      code: 'VENDOR_BAD_RESPONSE',
      retryable: true,
      details: { flowId: flow.flowId, bytes: 40_000 },
    });
    const again = (await vendor.downloadSigned(flow.flowId, ctx('download-cut')))[0]!.bytes;
    expect(Buffer.from(again).equals(Buffer.from(whole))).toBe(true);
  });

  it('places seals on a form field and on a keyword, where the PDF has them', async () => {
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      ctx('upload-placed'),
    );
    const flow = await vendor.createFlow(
      {
        title: '借款合同',
        businessNo: 'LN-PLACED',
        documents: [document],
        signers: [
          { ...borrower, placements: [{ documentKey: 'contract', field: 'signPlace' }] },
          platform([{ documentKey: 'contract', keyword: '盖章', offsetX: 40 }]),
        ],
      },
      ctx('create-placed'),
    );
    const info = await inspectPdf(contract, { keywords: ['盖章'] });
    const field = info.fields.find((f) => f.name === 'signPlace')!;
    const hit = info.keywordHits[0]!;
    const { url } = await vendor.signerUrl!(flow.flowId, 'borrower', ctx('url-placed'));
    emulator.signByUrl(url);
    const done = await vendor.getFlow(flow.flowId, ctx('get-placed'));
    expect(done.status).toBe('completed');
    const detail = emulator.flow(flow.flowId);
    expect(detail.signers.map((s) => s.signStatus)).toEqual([2, 2]);
    // The borrower's box is the field's, centred; the platform's seal sits on the keyword, moved right by 40 pt.
    const [signed] = await vendor.downloadSigned(flow.flowId, ctx('download-placed'));
    const sealed = (await inspectPdf(signed!.bytes)).fields.filter((f) => f.type === 'signature');
    const borrowerBox = sealed.find(
      (f) => Math.abs(f.rect.x + f.rect.width / 2 - (field.rect.x + field.rect.width / 2)) < 1,
    );
    expect(borrowerBox?.page).toBe(field.page);
    const platformBox = sealed.find((f) => Math.abs(f.rect.x + f.rect.width / 2 - (hit.x + hit.width / 2 + 40)) < 1);
    expect(platformBox?.page).toBe(hit.page);
  });
});

const live = {
  appId: process.env.ESIGN_APP_ID,
  appSecret: process.env.ESIGN_APP_SECRET,
  host: process.env.ESIGN_HOST ?? 'sandbox',
};
const noSandbox = !live.appId || !live.appSecret;
if (noSandbox) {
  console.info(
    '[sealflow] skipping the live e签宝 sandbox test: set ESIGN_APP_ID and ESIGN_APP_SECRET (a sandbox app) to run it.',
  );
}

describe.skipIf(noSandbox)('esignVendor against the live e签宝 sandbox', () => {
  it('uploads a PDF until e签宝 can use it, and finds no flow for a key never used', async () => {
    const vendor = esignVendor({ appId: live.appId!, appSecret: live.appSecret!, host: live.host, qps: 2 });
    const stamp = Date.now().toString(36);
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: `sealflow-live-${stamp}.pdf`, bytes: contract },
      ctx(`live-upload-${stamp}`),
    );
    expect(document.vendorFileId).toMatch(/^\w+$/);
    expect(await vendor.findFlow!({ createKey: `live-never-${stamp}`, businessNo: 'LIVE' }, ctx('find'))).toBeNull();
  }, 60_000);
});

describe('esignVendor waiting for an upload', () => {
  // e签宝 keeps this file "uploading" for a minute; the vendor gives up after fileReadyTimeoutMs.
  const emulator = createEsignEmulator({ fileReadyDelayMs: 60_000 });
  const server = setupServer(...emulator.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());

  it('an upload still processing at fileReadyTimeoutMs is the retryable VENDOR_FILE_NOT_READY', async () => {
    const vendor = emulatorVendor(emulator, { fileReadyTimeoutMs: 50, fileReadyPollMs: 10 });
    const error = await vendor
      .uploadDocument({ key: 'contract', fileName: 'contract.pdf', bytes: contract }, ctx('slow-upload'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VENDOR_FILE_NOT_READY', retryable: true, details: { fileStatus: 1 } });
  });
});
