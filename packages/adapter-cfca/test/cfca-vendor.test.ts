/**
 * `cfcaVendor()` on the emulator: a retried create finds the contract its lost answer made, contracts from CFCA
 * templates (3201, and 3202 polled with 3211), a funder that signs later with its own seal, signing by keyword, the
 * proxy-sign SMS helpers, seals and the batch download.
 */
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage } from '@sealflow/adapter-local/testing';
import { createSigningGateway, SealflowError, type SignerSpec } from '@sealflow/core';
import { createMemoryLogger } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCfcaStore } from '../src/index.js';
import { zipEntries } from './emulator-support.js';
import { contractPdf, vendorWorld } from './vendor-support.js';

const world = vendorWorld();
const { emulator } = world;
const server = setupServer(...emulator.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
// A stuck batch stays stuck: releasing it later would create its contract in the middle of another test.
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

let n = 0;
const key = (what: string) => `cfca-vendor-test-${what}-${++n}`;

/** A template with a signature field for each party, as 安心签 sets one up for the platform. */
let templateId: string;
beforeAll(async () => {
  templateId = await emulator.addTemplate({
    pdf: contractPdf,
    contractName: '个人消费借款合同',
    signatureFields: {
      platformSeal: { page: 7, rect: { x: 100, y: 230, width: 120, height: 60 } },
      borrowerSign: { page: 7, rect: { x: 340, y: 230, width: 120, height: 60 } },
      funderSeal: { page: 7, rect: { x: 100, y: 140, width: 120, height: 60 } },
    },
  });
});

const inField = (signer: SignerSpec, field: string): SignerSpec => ({
  ...signer,
  placements: [{ documentKey: 'contract', field }],
});

function gatewayOf(vendor: ReturnType<typeof world.vendor>) {
  const logger = createMemoryLogger();
  return { gateway: createSigningGateway(vendor, { logger, sleep: async () => {}, retry: { attempts: 3 } }), logger };
}

describe('a create whose answer was lost', () => {
  it('is found by its contract number on the retry: one contract, signed once, completed', async () => {
    const vendor = world.vendor({ timeoutMs: 300 });
    const { gateway } = gatewayOf(vendor);
    const before = emulator.contractNumbers().length;
    const document = await gateway.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: key('up') },
    );
    // 安心签 creates the contract, and the answer never arrives.
    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3203' });
    const flow = await gateway.createFlow(
      { title: '借款合同', businessNo: 'LN-LOST-1', documents: [document], signers: [world.borrower, world.platform] },
      { idempotencyKey: key('create') },
    );
    expect(flow.status).toBe('completed');
    expect(emulator.contractNumbers().length).toBe(before + 1);
    const contractNo = emulator.contractNumbers().at(-1)!;
    expect(emulator.contract(contractNo).signatureCount).toBe(2);
  });

  it('does not sign twice when the answer of a signature was lost', async () => {
    const vendor = world.vendor({ timeoutMs: 300 });
    const { gateway } = gatewayOf(vendor);
    const document = await gateway.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: key('up') },
    );
    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3208' });
    const flow = await gateway.createFlow(
      { title: '借款合同', businessNo: 'LN-LOST-2', documents: [document], signers: [world.borrower, world.platform] },
      { idempotencyKey: key('create') },
    );
    expect(flow.status).toBe('completed');
    const contractNo = emulator.contractNumbers().at(-1)!;
    expect(emulator.contract(contractNo).signatureCount).toBe(2);
    expect(verifyPdfSignatures(emulator.document(contractNo)).map((r) => r.valid)).toEqual([true, true]);
  });

  it('a create in a new process with the same store finds the flow the first one made', async () => {
    const store = createMemoryCfcaStore();
    const first = world.vendor({ store });
    const document = await first.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: key('up') },
    );
    const input = {
      title: '借款合同',
      businessNo: 'LN-RESTART',
      documents: [document],
      signers: [world.borrower, world.platform],
    };
    const createKey = key('create');
    const made = await first.createFlow(input, { idempotencyKey: createKey });
    const second = world.vendor({ store });
    const found = await second.findFlow!({ createKey, businessNo: 'LN-RESTART' }, { idempotencyKey: key('find') });
    expect(found?.flowId).toBe(made.flowId);
    expect(found?.status).toBe('completed');
    // Without the record, the contract is still found and the vendor says what is missing instead of guessing.
    const forgetful = world.vendor();
    const error = await forgetful.findFlow!(
      { createKey, businessNo: 'LN-RESTART' },
      { idempotencyKey: key('find') },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SealflowError);
    expect((error as SealflowError).details?.vendorCode).toBe('FLOW_RECORD_MISSING');
  });
});

describe('contracts from CFCA templates', () => {
  it('3201 fills the template and signs the borrower and the platform in their fields', async () => {
    const vendor = world.vendor();
    const document = await vendor.fillTemplate!(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: { borrowerName: '欧*娜' } },
      { idempotencyKey: key('fill') },
    );
    const flow = await vendor.createFlow(
      {
        title: '个人消费借款合同',
        businessNo: 'LN-TPL-1',
        documents: [document],
        signers: [inField(world.borrower, 'borrowerSign'), inField(world.platform, 'platformSeal')],
      },
      { idempotencyKey: key('create') },
    );
    expect(flow.status).toBe('completed');
    expect(flow.signers.find((s) => s.role === 'platform')?.seal).toEqual({ sealId: emulator.platform.sealId });
    const contractNo = emulator.contractNumbers().at(-1)!;
    expect(emulator.contract(contractNo)).toMatchObject({ templateId, textValues: { borrowerName: '欧*娜' } });
    const [signed] = await vendor.downloadSigned(flow.flowId, { idempotencyKey: key('download') });
    expect(signed?.fileName).toBe('loan.pdf');
    expect(verifyPdfSignatures(signed!.bytes).map((r) => r.valid)).toEqual([true, true]);
  });

  it('a funder listed from the start signs later in its field with its own seal (3206)', async () => {
    const vendor = world.vendor();
    const document = await vendor.fillTemplate!(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: {} },
      { idempotencyKey: key('fill') },
    );
    const funder = inField(world.funderSigner, 'funderSeal');
    const created = await vendor.createFlow(
      {
        title: '个人消费借款合同',
        businessNo: 'LN-TPL-2',
        documents: [document],
        signers: [
          inField(world.borrower, 'borrowerSign'),
          inField(world.platform, 'platformSeal'),
          { ...funder, autoSign: false },
        ],
      },
      { idempotencyKey: key('create') },
    );
    expect(created.status).toBe('signing');
    expect(created.signers.find((s) => s.role === 'funder')?.status).toBe('waiting');
    const appended = await vendor.appendSigner!(created.flowId, funder, { idempotencyKey: key('append') });
    expect(appended.status).toBe('completed');
    expect(appended.signers.find((s) => s.role === 'funder')?.seal).toEqual({ sealId: world.funder.sealId });
    // The same call again (its answer lost) changes nothing.
    const again = await vendor.appendSigner!(created.flowId, funder, { idempotencyKey: key('append') });
    expect(again.status).toBe('completed');
    expect(emulator.contract(emulator.contractNumbers().at(-1)!).signatureCount).toBe(3);
  });

  it('3202 creates them in a batch: the flow is a draft until 3211 reports the batch done', async () => {
    const vendor = world.vendor({ templateBatch: true });
    emulator.holdBatches(true);
    const document = await vendor.fillTemplate!(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: { borrowerName: '欧*娜' } },
      { idempotencyKey: key('fill') },
    );
    const created = await vendor.createFlow(
      {
        title: '个人消费借款合同',
        businessNo: 'LN-BATCH-1',
        documents: [document],
        signers: [inField(world.borrower, 'borrowerSign'), inField(world.platform, 'platformSeal')],
      },
      { idempotencyKey: key('create') },
    );
    expect(created.status).toBe('draft');
    expect((await vendor.getFlow(created.flowId, { idempotencyKey: key('get') })).status).toBe('draft');
    await emulator.finishBatch(`${created.flowId}B`);
    const done = await vendor.getFlow(created.flowId, { idempotencyKey: key('get') });
    expect(done.status).toBe('completed');
    expect(done.signers.map((s) => s.status)).toEqual(['signed', 'signed']);
    emulator.holdBatches(false);
    const zip = await vendor.downloadSignedArchive(created.flowId);
    expect(zipEntries(zip)).toHaveLength(1);
  });

  it('a 3202 whose answer was lost is not sent again: 3211 finds the batch', async () => {
    const vendor = world.vendor({ templateBatch: true, timeoutMs: 300 });
    const { gateway } = gatewayOf(vendor);
    const document = await gateway.fillTemplate(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: {} },
      { idempotencyKey: key('fill') },
    );
    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3202' });
    const created = await gateway.createFlow(
      {
        title: '个人消费借款合同',
        businessNo: 'LN-BATCH-LOST',
        documents: [document],
        signers: [inField(world.borrower, 'borrowerSign'), inField(world.platform, 'platformSeal')],
      },
      { idempotencyKey: key('create') },
    );
    const done = await vendor.getFlow(created.flowId, { idempotencyKey: key('get') });
    expect(done.status).toBe('completed');
    expect(emulator.contractNumbers().filter((no) => no.startsWith(created.flowId))).toHaveLength(1);
  });

  it('a batch that never finishes leaves the flow expired, with the reason, once its deadline passed', async () => {
    const vendor = world.vendor({ templateBatch: true });
    emulator.faults.next({ kind: 'stuck-batch' }, { txCode: '3202' });
    const document = await vendor.fillTemplate!(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: {} },
      { idempotencyKey: key('fill') },
    );
    const created = await vendor.createFlow(
      {
        title: '个人消费借款合同',
        businessNo: 'LN-BATCH-2',
        documents: [document],
        signers: [inField(world.borrower, 'borrowerSign'), inField(world.platform, 'platformSeal')],
        deadlineAt: Date.now() + 200,
      },
      { idempotencyKey: key('create') },
    );
    expect(created.status).toBe('draft');
    await expect
      .poll(async () => (await vendor.getFlow(created.flowId, { idempotencyKey: key('get') })).status, {
        timeout: 10_000,
      })
      .toBe('expired');
    const flow = await vendor.getFlow(created.flowId, { idempotencyKey: key('get') });
    expect(flow.reason).toContain('had not finished');
  });

  it('a keyword or coordinate placement in a template is refused before anything is created', async () => {
    const vendor = world.vendor();
    const before = emulator.contractNumbers().length;
    const document = await vendor.fillTemplate!(
      { key: 'contract', fileName: 'loan.pdf', vendorTemplateId: templateId, values: {} },
      { idempotencyKey: key('fill') },
    );
    const error = await vendor
      .createFlow(
        { title: '借款合同', businessNo: 'LN-TPL-3', documents: [document], signers: [world.borrower] },
        { idempotencyKey: key('create') },
      )
      .catch((e: unknown) => e as SealflowError);
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect((error as SealflowError).details?.vendorCode).toBe('PLACEMENT_NOT_SUPPORTED');
    expect(emulator.contractNumbers().length).toBe(before);
  });
});

describe('uploaded contracts', () => {
  it('signs at a keyword (3207)', async () => {
    const vendor = world.vendor();
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: key('up') },
    );
    const flow = await vendor.createFlow(
      {
        title: '借款合同',
        businessNo: 'LN-KW-1',
        documents: [document],
        signers: [{ ...world.platform, placements: [{ documentKey: 'contract', keyword: '甲方' }] }],
      },
      { idempotencyKey: key('create') },
    );
    expect(flow.status).toBe('completed');
    const [signed] = await vendor.downloadSigned(flow.flowId, { idempotencyKey: key('download') });
    expect(verifyPdfSignatures(signed!.bytes).map((r) => r.valid)).toEqual([true]);
  });
});

describe('proxy-sign authorisation and seals', () => {
  it('a person is opened once (3001) and authorised by the SMS code (3101/3102); a second send says so', async () => {
    const vendor = world.vendor();
    const person = { kind: 'person' as const, name: '王小明', idNumber: '11010119900101123X', mobile: '13700001111' };
    const userId = await vendor.accountOf(person);
    expect(await world.vendor().accountOf(person)).toBe(userId);
    const sent = await vendor.sendProxySignCode({ userId, projectCode: 'P-1' });
    expect(sent).toEqual({ alreadyAuthorized: false, maskedMobile: '137****1111' });
    const checkCode = emulator.lastCheckCode(userId, 'P-1')!;
    const confirmed = await vendor.confirmProxySignCode({
      userId,
      projectCode: 'P-1',
      checkCode,
      location: '10.0.0.9',
    });
    expect(confirmed).toMatchObject({ userId, projectCode: 'P-1', location: '10.0.0.9' });
    expect(emulator.isAuthorized(userId, 'P-1')).toBe(true);
    expect(await vendor.sendProxySignCode({ userId, projectCode: 'P-1' })).toEqual({ alreadyAuthorized: true });
  });

  it('a party without an authorisation on record is refused before 安心签 is asked', async () => {
    const vendor = world.vendor({ proxySign: () => undefined });
    const before = emulator.contractNumbers().length;
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: key('up') },
    );
    const error = await vendor
      .createFlow(
        { title: '借款合同', businessNo: 'LN-NOAUTH', documents: [document], signers: [world.borrower] },
        { idempotencyKey: key('create') },
      )
      .catch((e: unknown) => e as SealflowError);
    expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect((error as SealflowError).details?.vendorCode).toBe('PROXY_SIGN_NOT_AUTHORISED');
    expect((error as SealflowError).message).not.toContain(world.borrower.name);
    expect(emulator.contractNumbers().length).toBe(before);
  });

  it('adds, lists, replaces and deletes a seal (3011–3014)', async () => {
    const vendor = world.vendor();
    const png = createSealImage();
    const sealId = await vendor.addSeal(world.funder.userId, png);
    expect((await vendor.listSeals(world.funder.userId)).map((s) => s.sealId)).toContain(sealId);
    await vendor.updateSeal(world.funder.userId, sealId, png);
    await vendor.deleteSeal(world.funder.userId, sealId);
    expect((await vendor.listSeals(world.funder.userId)).map((s) => s.sealId)).not.toContain(sealId);
  });
});

describe('organisations and expiry', () => {
  it('an organisation that is not configured is refused, or opened (3002) when its transactor is named', async () => {
    const company = {
      kind: 'organization' as const,
      name: '某某融资担保有限公司',
      idNumber: '91440300MA5G000001',
    };
    const refused = await world
      .vendor()
      .accountOf(company)
      .catch((e: unknown) => e as SealflowError);
    expect(refused).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect((refused as SealflowError).details?.vendorCode).toBe('ORGANIZATION_UNKNOWN');
    const vendor = world.vendor({ enterpriseTransactor: () => ({ name: '张三', idNumber: '110101198001011234' }) });
    const userId = await vendor.accountOf(company);
    expect(userId).toMatch(/^[0-9A-F]{32}$/);
    expect((await vendor.listSeals(userId)).length).toBe(1);
  });

  it('a contract 安心签 expired makes the flow expired; a concurrent create of the same flow adopts the contract', async () => {
    const vendor = world.vendor();
    const other = world.vendor();
    const upKey = key('up');
    const upload = { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf };
    const document = await vendor.uploadDocument(upload, { idempotencyKey: upKey });
    expect(await other.uploadDocument(upload, { idempotencyKey: upKey })).toEqual(document);
    const input = {
      title: '借款合同',
      businessNo: 'LN-EXPIRE',
      documents: [document],
      signers: [world.borrower, { ...world.funderSigner, autoSign: false }],
    };
    const createKey = key('create');
    // Two processes run the same step at once: one creates the contract, the other is refused its number.
    const [a, b] = await Promise.all([
      vendor.createFlow(input, { idempotencyKey: createKey }),
      other.createFlow(input, { idempotencyKey: createKey }),
    ]);
    expect(b.flowId).toBe(a.flowId);
    expect(emulator.contractNumbers().filter((no) => no.startsWith(a.flowId))).toHaveLength(1);
    expect(a.status).toBe('signing');
    emulator.expire(`${a.flowId}01`);
    const expired = await vendor.getFlow(a.flowId, { idempotencyKey: key('get') });
    expect(expired.status).toBe('expired');
    expect(expired.reason).toContain('expiredDate');
  });
});
