/**
 * The emulator's e签宝: uploads, templates, the sign-flow state machine, signed callbacks and real signed PDFs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createManualClock } from '@sealflow/core/memory';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyCallback } from '../src/client/signature.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { call, ok, pdfsig } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({ clock, fileReadyDelayMs: 2_000 });
const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const NOTIFY = 'https://lender.example/esign/notify?belong=pinjie&orderNo=001';

interface Received {
  body: string;
  headers: Headers;
  url: string;
}
let received: Received[] = [];
let notifyStatus = 200;
const server = setupServer(
  ...emulator.handlers,
  http.post('https://lender.example/esign/notify', async ({ request }) => {
    received.push({ body: await request.text(), headers: request.headers, url: request.url });
    return new HttpResponse(null, { status: notifyStatus });
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
beforeEach(() => {
  received = [];
  notifyStatus = 200;
});
afterAll(() => server.close());

const now = () => clock.now();
const actions = () => received.map((r) => JSON.parse(r.body) as Record<string, unknown>);

interface FlowOptions {
  autoFinish?: boolean;
  title?: string;
  borrower?: string;
  notifyUrl?: string | undefined;
}

function loanFlow(fileId: string, options: FlowOptions = {}) {
  return {
    docs: [{ fileId, fileName: '借款合同.pdf' }],
    signFlowConfig: {
      signFlowTitle: options.title ?? '借款合同-LN0001',
      autoFinish: options.autoFinish ?? true,
      ...('notifyUrl' in options ? (options.notifyUrl ? { notifyUrl: options.notifyUrl } : {}) : { notifyUrl: NOTIFY }),
    },
    signers: [
      {
        signerType: 1,
        signConfig: { signOrder: 1 },
        signFields: [
          {
            fileId,
            customBizNum: 'LN0001-platform',
            normalSignFieldConfig: {
              autoSign: true,
              signFieldStyle: 1,
              signFieldPosition: { positionPage: '8', positionX: 420, positionY: 180 },
            },
          },
        ],
      },
      {
        signerType: 0,
        signConfig: { signOrder: 2 },
        psnSignerInfo: {
          psnAccount: options.borrower ?? '13800000000',
          psnInfo: { psnName: '张小明', psnIDCardNum: '110101199003071234', psnIDCardType: 'CRED_PSN_CH_IDCARD' },
        },
        signFields: [
          {
            fileId,
            customBizNum: 'LN0001-borrower',
            normalSignFieldConfig: {
              signFieldStyle: 1,
              signFieldPosition: { positionPage: '8', positionX: 160, positionY: 180 },
            },
          },
        ],
      },
    ],
  };
}

async function createFlow(options: FlowOptions = {}): Promise<string> {
  const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
  return (await ok(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', loanFlow(fileId, options))).signFlowId;
}

describe('files', () => {
  it('hands out an upload URL, checks the PUT like OSS, and makes the file usable after the delay', async () => {
    const md5 = createHash('md5').update(contract).digest('base64');
    const { fileId, fileUploadUrl } = await ok(emulator, now(), 'POST', '/v3/files/file-upload-url', {
      contentMd5: md5,
      contentType: 'application/pdf',
      fileName: '借款合同.pdf',
      fileSize: contract.length,
    });
    expect(fileId).toMatch(/^[0-9a-f]{32}$/);
    expect((await ok(emulator, now(), 'GET', `/v3/files/${fileId}`)).fileStatus).toBe(0);

    const wrongType = await fetch(fileUploadUrl, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-MD5': md5 },
      body: contract,
    });
    expect(wrongType.status).toBe(403);
    const wrongBytes = await fetch(fileUploadUrl, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/pdf', 'Content-MD5': md5 },
      body: contract.subarray(1),
    });
    expect(wrongBytes.ok).toBe(false);
    const put = await fetch(fileUploadUrl, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/pdf', 'Content-MD5': md5 },
      body: contract,
    });
    expect(await put.json()).toEqual({ errCode: 0, msg: '成功' });

    expect((await ok(emulator, now(), 'GET', `/v3/files/${fileId}`)).fileStatus).toBe(1);
    const early = await call(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', { body: loanFlow(fileId) });
    expect(early.json).toMatchObject({ code: ESIGN_CODES.FILE_NOT_READY, message: '文档未成功转换成pdf' });
    clock.advance(2_000);
    const ready = await ok(emulator, now(), 'GET', `/v3/files/${fileId}?pageSize=true`);
    expect(ready).toMatchObject({ fileStatus: 2, fileTotalPageCount: 8, pageWidth: expect.any(Number) });
    const download = await fetch(ready.fileDownloadUrl);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(contract);
  });

  it('lets a test fail a file', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    emulator.setFileStatus(fileId, 9);
    expect((await ok(emulator, now(), 'GET', `/v3/files/${fileId}`)).fileStatus).toBe(9);
  });

  it('finds keyword positions (page 1-based, centre of the text)', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const data = await ok(emulator, now(), 'POST', `/v3/files/${fileId}/keyword-positions`, {
      keywords: ['甲方', '不存在的词'],
    });
    const [found, missing] = data.keywordPositions;
    expect(found.searchResult).toBe(true);
    expect(found.positions.map((p: { pageNum: number }) => p.pageNum)).toEqual([1, 8]);
    expect(found.positions[0].coordinates[0]).toEqual({ positionX: 90, positionY: 707.73 });
    expect(missing).toEqual({ keyword: '不存在的词', searchResult: false, positions: [] });
  });
});

describe('doc templates', () => {
  it('lists the AcroForm fields as components and fills them by key', async () => {
    const docTemplateId = await emulator.addDocTemplate({
      pdf: contract,
      docTemplateName: '个人借款合同',
      required: ['contractNo', 'borrowerName'],
    });
    const detail = await ok(emulator, now(), 'GET', `/v3/doc-templates/${docTemplateId}`);
    expect(detail.components).toHaveLength(25);
    expect(detail.components[0]).toMatchObject({
      componentKey: 'contractNo',
      componentType: 1,
      required: true,
      componentPosition: { componentPageNum: 1 },
    });

    const missing = await call(emulator, now(), 'POST', '/v3/files/create-by-doc-template', {
      body: {
        docTemplateId,
        fileName: '借款合同.pdf',
        requiredCheck: true,
        components: [{ componentKey: 'contractNo', componentValue: 'LN0001' }],
      },
    });
    expect(missing.json).toMatchObject({
      code: ESIGN_CODES.TEMPLATE_FILL,
      message: "创建合同失败: 'borrowerName'填充内容缺失",
    });
    const unknown = await call(emulator, now(), 'POST', '/v3/files/create-by-doc-template', {
      body: { docTemplateId, fileName: '借款合同.pdf', components: [{ componentKey: 'nope', componentValue: 'x' }] },
    });
    expect(unknown.json.code).toBe(1435002);

    const filled = await ok(emulator, now(), 'POST', '/v3/files/create-by-doc-template', {
      docTemplateId,
      fileName: '借款合同',
      requiredCheck: true,
      components: [
        { componentKey: 'contractNo', componentValue: 'LN0001' },
        { componentId: detail.components[3].componentId, componentValue: '张小明' },
      ],
    });
    expect((await ok(emulator, now(), 'GET', `/v3/files/${filled.fileId}`)).fileStatus).toBe(2);
    const bytes = new Uint8Array(await (await fetch(filled.fileDownloadUrl)).arrayBuffer());
    expect(bytes.length).toBeGreaterThan(contract.length);
    expect(Buffer.from(bytes.subarray(0, contract.length)).equals(Buffer.from(contract))).toBe(true);
  });
});

describe('a loan contract: the platform seals automatically, the borrower signs on the sign page', () => {
  it('moves through the states, calls back signed, and ends with a PDF pdfsig accepts', async () => {
    const signFlowId = await createFlow();
    expect(signFlowId).toMatch(/^[0-9a-f]{32}$/);
    const detail = await ok(emulator, now(), 'GET', `/v3/sign-flow/${signFlowId}/detail`);
    expect(detail.signFlowStatus).toBe(1);
    expect(detail.signers.map((s: { signStatus: number }) => s.signStatus)).toEqual([2, 1]);
    expect(detail.signers[0].signFields[0]).toMatchObject({
      signFieldStatus: '2',
      customBizNum: 'LN0001-platform',
      normalSignFieldConfig: { sealId: emulator.app.sealId, sealOwnerId: emulator.app.orgId },
    });

    const { url, shortUrl } = await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/sign-url`, {
      operator: { psnAccount: '13800000000' },
    });
    expect(url).toContain(emulator.baseUrl);
    expect(shortUrl).toContain(emulator.baseUrl);
    const stranger = await call(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/sign-url`, {
      body: { operator: { psnAccount: '13900000000' } },
    });
    expect(stranger.json.code).toBe(1435002);

    expect((await fetch(shortUrl)).ok).toBe(true);
    emulator.signByUrl(shortUrl);
    await emulator.callbacks.idle();
    expect((await ok(emulator, now(), 'GET', `/v3/sign-flow/${signFlowId}/detail`)).signFlowStatus).toBe(2);
    expect(() => emulator.signByUrl(url)).toThrow(/not signing/);

    expect(actions().map((a) => [a.action, a.signResult ?? a.signFlowStatus])).toEqual([
      ['SIGN_MISSON_COMPLETE', 2],
      ['SIGN_MISSON_COMPLETE', 2],
      ['SIGN_FLOW_COMPLETE', '2'],
    ]);
    const mission = actions()[1]!;
    expect(mission).toMatchObject({
      signFlowId,
      customBizNum: 'LN0001-borrower',
      signOrder: 2,
      operator: { psnAccount: { accountMobile: '138****0000' } },
    });
    for (const r of received) {
      expect(r.headers.get('X-Tsign-Open-SIGNATURE-ALGORITHM')).toBe('hmac-sha256');
      expect(r.headers.get('X-Tsign-Open-App-Id')).toBe(emulator.app.appId);
      // Throws on a bad signature: the callbacks verify with the notify URL's own query values.
      verifyCallback({
        headers: r.headers,
        query: new URL(r.url).search,
        rawBody: r.body,
        secret: emulator.app.appSecret,
        now: now(),
      });
    }
    expect(() =>
      verifyCallback({
        headers: received[0]!.headers,
        rawBody: received[0]!.body,
        secret: emulator.app.appSecret,
        now: now(),
      }),
    ).toThrow(/signature/);

    const { files } = await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/file-download-url`, {});
    expect(files).toHaveLength(1);
    const signed = new Uint8Array(await (await fetch(files[0].downloadUrl)).arrayBuffer());
    expect(Buffer.from(signed).equals(Buffer.from(emulator.document(signFlowId)))).toBe(true);
    const report = pdfsig(signed);
    expect(report.validations, report.raw).toEqual(['Signature is Valid.', 'Signature is Valid.']);
    expect(report.totalDocumentSigned).toBe(true);

    clock.advance(61 * 60_000);
    expect((await fetch(files[0].downloadUrl)).status).toBe(403);
    const legacy = await ok(emulator, now(), 'GET', `/v3/sign-flow/${signFlowId}/file-download-url`);
    expect(legacy.files[0].fileId).toBe(files[0].fileId);
  });

  it('waits for finish when autoFinish is false', async () => {
    const signFlowId = await createFlow({ autoFinish: false, notifyUrl: undefined });
    expect(() => emulator.signAsPerson(signFlowId, { psnAccount: '13900000000' })).toThrow(/no such signer/);
    const early = await call(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/finish`);
    expect(early.json.code).toBe(ESIGN_CODES.FLOW_STATE);
    emulator.signAsPerson(signFlowId, { psnAccount: '13800000000' });
    expect(emulator.flow(signFlowId).status).toBe(1);
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/finish`, {});
    expect(emulator.flow(signFlowId).status).toBe(2);
  });

  it('starts a draft only on start, and refuses the borrower before their turn', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const body = loanFlow(fileId, { notifyUrl: undefined });
    (body.signFlowConfig as Record<string, unknown>).autoStart = false;
    const { signFlowId } = await ok(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', body);
    expect((await ok(emulator, now(), 'GET', `/v3/sign-flow/${signFlowId}/status`)).signFlowStatus).toBe(0);
    expect(() => emulator.signAsPerson(signFlowId, { psnAccount: '13800000000' })).toThrow(/not signing/);
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/start`, {});
    expect(emulator.flow(signFlowId).signers.map((s) => s.signStatus)).toEqual([2, 1]);
  });

  it('ends rejected (7), revoked (3) or expired (5), each with its callbacks', async () => {
    const rejected = await createFlow();
    emulator.rejectAsPerson(rejected, { psnAccount: '13800000000' }, '利率有误');
    const revoked = await createFlow();
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${revoked}/revoke`, { revokeReason: '客户取消借款' });
    const again = await call(emulator, now(), 'POST', `/v3/sign-flow/${revoked}/revoke`, { body: {} });
    expect(again.json).toMatchObject({ code: 1437168, message: '流程已撤销' });
    const expired = await createFlow();
    clock.advance(91 * 24 * 60 * 60_000);
    const detail = await ok(emulator, now(), 'GET', `/v3/sign-flow/${expired}/detail`);
    expect(detail.signFlowStatus).toBe(5);
    await emulator.callbacks.idle();

    const completions = actions().filter((a) => a.action === 'SIGN_FLOW_COMPLETE');
    expect(completions.map((a) => [a.signFlowId, a.signFlowStatus])).toEqual([
      [rejected, '7'],
      [revoked, '3'],
      [expired, '5'],
    ]);
    expect(actions().find((a) => a.signFlowId === rejected && a.signResult === 4)).toBeDefined();
    expect((await ok(emulator, now(), 'GET', `/v3/sign-flow/${rejected}/detail`)).signFlowDescription).toBe('利率有误');
    expect((await ok(emulator, now(), 'GET', `/v3/sign-flow/${revoked}/detail`)).revokeReason).toBe('客户取消借款');
    const notSigning = await call(emulator, now(), 'POST', `/v3/sign-flow/${expired}/revoke`, { body: {} });
    expect(notSigning.json.code).toBe(1437111);
  });
});

describe('apps and deadlines', () => {
  it('keeps each app to its own flows, and a delay moves the deadline', async () => {
    const other = emulator.addApp({ orgName: '另一家小额贷款有限公司' });
    const signFlowId = await createFlow({ notifyUrl: undefined });
    const foreign = await call(emulator, now(), 'GET', `/v3/sign-flow/${signFlowId}/detail`, {
      appId: other.appId,
      secret: other.appSecret,
    });
    expect(foreign.json.code).toBe(ESIGN_CODES.FLOW_NOT_FOUND);

    const deadline = emulator.flow(signFlowId).expireTime;
    clock.advance(80 * 24 * 60 * 60_000);
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/delay`, {
      signFlowExpireTime: deadline + 5 * 24 * 60 * 60_000,
    });
    clock.advance(11 * 24 * 60 * 60_000);
    expect(emulator.flow(signFlowId).status).toBe(1);
    clock.advance(5 * 24 * 60 * 60_000);
    expect(emulator.flow(signFlowId).status).toBe(5);
  });
});

describe('organisations and seals', () => {
  it('seals for another company automatically only with a seal it authorised to the platform', async () => {
    const funder = emulator.addOrg({ orgName: '某某信托有限公司' });
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const body = loanFlow(fileId, { notifyUrl: undefined });
    body.signers.push({
      signerType: 1,
      signConfig: { signOrder: 3 },
      orgSignerInfo: { orgId: funder.orgId },
      signFields: [
        {
          fileId,
          customBizNum: 'LN0001-funder',
          normalSignFieldConfig: {
            autoSign: true,
            assignedSealId: funder.sealId,
            signFieldStyle: 1,
            signFieldPosition: { positionPage: '8', positionX: 420, positionY: 400 },
          },
        },
      ],
    } as never);
    const refused = await call(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', { body });
    expect(refused.json.code).toBe(ESIGN_CODES.SEAL_NOT_AVAILABLE);

    emulator.authorizeSeal(funder.sealId, emulator.app.orgId);
    const authorised = await ok(
      emulator,
      now(),
      'GET',
      `/v3/seals/org-authorized-seal-list?orgId=${emulator.app.orgId}&pageNum=1&pageSize=10`,
    );
    expect(authorised.seals).toEqual([
      expect.objectContaining({ sealId: funder.sealId, authorizerOrgId: funder.orgId }),
    ]);
    const { signFlowId } = await ok(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', body);
    emulator.signAsPerson(signFlowId, { psnAccount: '13800000000' });
    expect(emulator.flow(signFlowId).status).toBe(2);
    expect(pdfsig(emulator.document(signFlowId)).validations).toEqual([
      'Signature is Valid.',
      'Signature is Valid.',
      'Signature is Valid.',
    ]);
  });

  it('appends an organisation that signs by hand with its own seal', async () => {
    const guarantor = emulator.addOrg({ orgName: '某某融资担保有限公司' });
    const signFlowId = await createFlow({ autoFinish: false, notifyUrl: undefined });
    const fileId = emulator.flow(signFlowId).docs[0]!.fileId;
    const noTransactor = await call(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/signers/sign-fields`, {
      body: {
        signers: [
          {
            signerType: 1,
            orgSignerInfo: { orgId: guarantor.orgId },
            signFields: [
              {
                fileId,
                normalSignFieldConfig: { signFieldPosition: { positionPage: '8', positionX: 300, positionY: 500 } },
              },
            ],
          },
        ],
      },
    });
    expect(noTransactor.json.message).toBe('参数错误: 非自动签署机构签署方经办人transactorInfo不能为空');
    const appended = await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/signers/sign-fields`, {
      signers: [
        {
          signerType: 1,
          signConfig: { signOrder: 3 },
          orgSignerInfo: { orgId: guarantor.orgId, transactorInfo: { psnAccount: '13700000000' } },
          signFields: [
            {
              fileId,
              customBizNum: 'LN0001-guarantor',
              normalSignFieldConfig: { signFieldPosition: { positionPage: '8', positionX: 300, positionY: 500 } },
            },
          ],
        },
      ],
    });
    expect(appended.signFieldResults).toHaveLength(1);
    expect(() => emulator.signAsOrg(signFlowId, { orgId: guarantor.orgId })).toThrow(/not next/);
    emulator.signAsPerson(signFlowId, { psnAccount: '13800000000' });
    emulator.signAsOrg(signFlowId, { orgId: guarantor.orgId });
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${signFlowId}/finish`, {});
    expect(emulator.findFlows({ customBizNum: 'LN0001-guarantor' })).toEqual([signFlowId]);
    expect(pdfsig(emulator.document(signFlowId)).validations).toHaveLength(3);

    const autoFinish = await createFlow({ notifyUrl: undefined });
    const refused = await call(emulator, now(), 'POST', `/v3/sign-flow/${autoFinish}/signers/sign-fields`, {
      body: { signers: [] },
    });
    expect(refused.json.code).toBe(1435002);
  });
});

describe('callback faults', () => {
  it('loses, repeats and reorders callbacks on request', async () => {
    emulator.callbacks.lose(1, { action: 'SIGN_MISSON_COMPLETE' });
    const lost = await createFlow();
    await emulator.callbacks.idle();
    expect(received).toHaveLength(0);
    expect(emulator.callbacks.events.at(-1)).toMatchObject({ signFlowId: lost, fault: 'lost' });

    emulator.callbacks.duplicate(1, { action: 'SIGN_FLOW_COMPLETE' });
    emulator.signAsPerson(lost, { psnAccount: '13800000000' });
    await emulator.callbacks.idle();
    const flowCompletes = received.filter((r) => r.body.includes('SIGN_FLOW_COMPLETE'));
    expect(flowCompletes).toHaveLength(2);
    expect(flowCompletes[0]!.body).toBe(flowCompletes[1]!.body);

    received = [];
    const reordered = await createFlow();
    await emulator.callbacks.idle();
    received = [];
    emulator.callbacks.reorderNext(2);
    emulator.signAsPerson(reordered, { psnAccount: '13800000000' });
    await emulator.callbacks.idle();
    expect(actions().map((a) => a.action)).toEqual(['SIGN_FLOW_COMPLETE', 'SIGN_MISSON_COMPLETE']);
  });

  it('retries a callback the receiver refused, with the same body', async () => {
    notifyStatus = 500;
    await createFlow();
    await emulator.callbacks.idle();
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    expect(emulator.callbacks.attempts.slice(-3).map((a) => [a.attempt, a.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 500],
    ]);
  });
});

describe('real-name data checks', () => {
  const person = {
    name: '李四',
    idNo: '11010119900307567X',
    mobile: '13600000000',
    bankCards: [{ cardNo: '6222020200112233445' }],
  };
  beforeAll(() => {
    emulator.addPerson(person);
  });

  it('answers 0 for matching data and the documented codes otherwise', async () => {
    const base = await ok(emulator, now(), 'POST', '/v2/identity/verify/individual/base', {
      idNo: person.idNo,
      name: person.name,
    });
    expect(base.verifyId).toMatch(/^[0-9a-f]{32}$/);
    await ok(emulator, now(), 'POST', '/v2/identity/verify/individual/telecom3Factors', {
      idNo: person.idNo,
      name: person.name,
      mobileNo: person.mobile,
    });
    await ok(emulator, now(), 'POST', '/v2/identity/verify/individual/bank4Factors', {
      idNo: person.idNo,
      name: person.name,
      cardNo: person.bankCards[0]!.cardNo,
      mobileNo: person.mobile,
    });
    const mismatch = await call(emulator, now(), 'POST', '/v2/identity/verify/individual/telecom3Factors', {
      body: { idNo: person.idNo, name: person.name, mobileNo: '13600000001' },
    });
    expect(mismatch.json).toMatchObject({ code: 30504001, data: { verifyId: expect.any(String) } });
    const detail = await call(emulator, now(), 'POST', '/v2/identity/verify/individual/telecom3Factors/detail', {
      body: { idNo: person.idNo, name: person.name, mobileNo: '13600000001' },
    });
    expect(detail.json.code).toBe(30501010);
    const missing = await call(emulator, now(), 'POST', '/v2/identity/verify/individual/base', {
      body: { name: '李四' },
    });
    expect(missing.json.code).toBe(30500100);
    const malformed = await call(emulator, now(), 'POST', '/v2/identity/verify/individual/base', {
      body: { name: '李四', idNo: '1234' },
    });
    expect(malformed.json.code).toBe(30500101);
  });

  it('bans an identity checked more than 10 times in a minute, for a minute', async () => {
    clock.advance(24 * 60 * 60_000);
    const idNo = '110101198001011234';
    const check = () =>
      call(emulator, now(), 'POST', '/v2/identity/verify/individual/base', { body: { idNo, name: '王五' } });
    for (let i = 0; i < 10; i++) expect((await check()).json.code).toBe(30504001);
    expect((await check()).json).toMatchObject({ code: 30504900, message: '请求已判定被风控' });
    clock.advance(30_000);
    expect((await check()).json.code).toBe(30504900);
    clock.advance(31_000);
    expect((await check()).json.code).toBe(30504001);
  });
});
