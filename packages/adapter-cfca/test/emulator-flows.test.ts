/**
 * The emulator's transactions: accounts and seals, proxy-sign authorisation by SMS code, contracts from templates
 * (one and in polled batches), uploads, signing by field, keyword and coordinates, query, download, and what a
 * repeated contract number does.
 */
import { readFileSync } from 'node:fs';
import { createSealImage } from '@sealflow/adapter-local/testing';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CFCA_CODES, createCfcaEmulator } from '../src/testing/index.js';
import { makePlatformKey, makeTransact, pdfsig, zipEntries } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 2));
const key = makePlatformKey();
const emulator = createCfcaEmulator({ platform: { certificate: key.certificatePem }, clock, batchDelayMs: 60_000 });
const server = setupServer(...emulator.handlers);
const transact = makeTransact(emulator, key, () => clock.now());
const contractPdf = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const platId = emulator.platform.platId;

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

let templateId: string;
beforeAll(async () => {
  templateId = await emulator.addTemplate({
    pdf: contractPdf,
    contractName: '个人消费借款合同',
    signatureFields: {
      Signature_plat: { page: 7, rect: { x: 100, y: 200, width: 120, height: 120 } },
      borrowerSign: { page: 7, rect: { x: 340, y: 230, width: 120, height: 60 } },
      guarantorSign: { page: 7, rect: { x: 340, y: 120, width: 120, height: 60 } },
    },
  });
});

let n = 0;
/** Opens a person's account over 3001 and returns the userId. */
async function openPerson(name = '欧阳玥'): Promise<string> {
  n += 1;
  const r = await transact('3001', {
    person: {
      personName: name,
      identTypeCode: '0',
      identNo: `1101011985020${String(n).padStart(4, '0')}1`,
      mobilePhone: `1391234${String(n).padStart(4, '0')}`,
      authenticationMode: '公安部',
    },
  });
  return r.json.person.userId;
}

/** 3101 + 3102 with the code the emulator "sent". */
async function authorise(userId: string, projectCode: string): Promise<void> {
  expect((await transact('3101', { proxySign: { userId, projectCode, isSendVoice: 0 } })).json.head.retCode).toBe(
    '60000000',
  );
  const checkCode = emulator.lastCheckCode(userId, projectCode)!;
  expect((await transact('3102', { proxySign: { userId, projectCode, checkCode } })).json.head.retCode).toBe(
    '60000000',
  );
}

function loanContract(borrower: string, projectCode: string, extra: Record<string, unknown> = {}) {
  return {
    templateId,
    isSign: 1,
    signLocation: 'Signature_plat;',
    textValueInfo: { contractNo: 'HT0001', borrowerName: '欧阳玥', loanAmountUpper: '人民币壹拾捌万捌仟元整' },
    signInfos: [
      {
        userId: borrower,
        isProxySign: 1,
        projectCode,
        authorizationTime: '20260601100000',
        location: '10.0.0.1',
        signLocation: 'borrowerSign',
      },
    ],
    ...extra,
  };
}

describe('accounts and seals', () => {
  it('opens personal and enterprise accounts; the same ID number again returns the same userId', async () => {
    const body = {
      person: {
        personName: '张三',
        identTypeCode: '0',
        identNo: '110101199003070011',
        mobilePhone: '13800138000',
        authenticationMode: '公安部',
      },
    };
    const first = await transact('3001', body);
    expect(first.json.person).toMatchObject({ personName: '张三', anXinSignMobilePhone: '138****8000', isOpenSM2: 0 });
    expect((await transact('3001', body)).json.person.userId).toBe(first.json.person.userId);
    const missing = await transact('3001', { person: { ...body.person, mobilePhone: undefined } });
    expect(missing.json).toEqual({
      errorCode: CFCA_CODES.PARAMETER_ERROR,
      errorMessage: '参数错误: person.mobilePhone不能为空',
    });

    const enterprise = await transact('3002', {
      enterprise: {
        enterpriseName: '某某担保有限公司',
        identTypeCode: '8',
        identNo: '91330100MA2B000000',
        mobilePhone: '13800000001',
      },
      enterpriseTransactor: { transactorName: '李四', identTypeCode: '0', identNo: '110101198001010022' },
    });
    expect(enterprise.json.enterprise.userId).toMatch(/^[0-9A-F]{32}$/);
    const seals = await transact('3014', { sealQuery: { userId: enterprise.json.enterprise.userId } });
    expect(seals.json.sealQuery.seals).toHaveLength(1);
  });

  it('refuses a second account for the same ID number when told to', async () => {
    const strict = createCfcaEmulator({
      platform: { certificate: key.certificatePem },
      baseUrl: 'https://anxinsign-strict.test/FEP/',
      clock,
      duplicates: { account: 'refuse' },
    });
    server.use(...strict.handlers);
    const call = makeTransact(strict, key, () => clock.now());
    const body = {
      person: {
        personName: '王五',
        identTypeCode: '0',
        identNo: '110101199003070033',
        mobilePhone: '13800138001',
        authenticationMode: '公安部',
      },
    };
    expect((await call('3001', body)).json.head.retCode).toBe('60000000');
    const again = await call('3001', body);
    expect(again.json.errorCode).toBe(CFCA_CODES.USER_EXISTS);
    expect(again.text).not.toContain('110101199003070033');
  });

  it('adds, replaces, queries and deletes seals (3011–3014)', async () => {
    const { userId } = emulator.addEnterprise({ name: '某某资金方有限公司', identNo: '91110000MA00000001' });
    const png = Buffer.from(createSealImage({ size: 120 })).toString('base64');
    const added = await transact('3011', { sealAdd: { userId, seal: { imageData: png } } });
    const sealId = added.json.sealAdd.seal.sealId;
    expect(sealId).toMatch(/^[0-9A-F]{32}$/);
    expect(
      (await transact('3012', { sealUpdate: { userId, seal: { sealId, imageData: png } } })).json.head.retCode,
    ).toBe('60000000');
    const notPng = await transact('3011', { sealAdd: { userId, seal: { imageData: 'aGVsbG8=' } } });
    expect(notPng.json.errorCode).toBe(CFCA_CODES.PARAMETER_ERROR);
    expect((await transact('3014', { sealQuery: { userId } })).json.sealQuery.seals).toHaveLength(2);
    expect((await transact('3013', { sealDelete: { userId, seal: { sealId } } })).json.head.retCode).toBe('60000000');
    const gone = await transact('3014', { sealQuery: { userId, sealId } });
    expect(gone.json.errorCode).toBe(CFCA_CODES.SEAL_NOT_FOUND);
    const unknownUser = await transact('3014', { sealQuery: { userId: 'A'.repeat(32) } });
    expect(unknownUser.json).toEqual({
      errorCode: CFCA_CODES.USER_NOT_FOUND,
      errorMessage: `ID为${'A'.repeat(32)}的用户信息不存在或不是审核通过状态`,
    });
  });
});

describe('proxy-sign authorisation by SMS code (3101/3102)', () => {
  it('sends a code, refuses a wrong one, accepts the right one, then answers 60030401 to a new 3101', async () => {
    const userId = await openPerson();
    const sent = await transact('3101', { proxySign: { userId, projectCode: 'LN-1', isSendVoice: 0 } });
    expect(sent.json.proxySign).toEqual({ userId, projectCode: 'LN-1', isSendVoice: 0 });
    expect(sent.json.contactWay.mobilePhone).toMatch(/^139\*{4}\d{4}$/);
    const code = emulator.lastCheckCode(userId, 'LN-1')!;
    expect(code).toMatch(/^\d{6}$/);
    expect(emulator.sms().at(-1)).toMatchObject({
      userId,
      projectCode: 'LN-1',
      mobilePhone: expect.stringContaining('****'),
    });

    const wrong = await transact('3102', {
      proxySign: { userId, projectCode: 'LN-1', checkCode: code === '000000' ? '111111' : '000000' },
    });
    expect(wrong.json).toEqual({ errorCode: CFCA_CODES.CHECK_CODE_WRONG, errorMessage: '验证码错误' });
    expect(emulator.isAuthorized(userId, 'LN-1')).toBe(false);

    const right = await transact('3102', { proxySign: { userId, projectCode: 'LN-1', checkCode: code } });
    expect(right.json.proxySign).toEqual({ userId, projectCode: 'LN-1', checkCode: code });
    expect(emulator.isAuthorized(userId, 'LN-1')).toBe(true);
    // The same confirmation again (its answer lost) still succeeds.
    expect(
      (await transact('3102', { proxySign: { userId, projectCode: 'LN-1', checkCode: code } })).json.head,
    ).toBeDefined();

    const again = await transact('3101', { proxySign: { userId, projectCode: 'LN-1', isSendVoice: 0 } });
    expect(again.json).toEqual({ errorCode: '60030401', errorMessage: '已经开通代签权限' });
  });

  it('refuses an expired code, a code never sent, too many wrong tries, and an unknown user', async () => {
    const userId = await openPerson();
    const notSent = await transact('3102', { proxySign: { userId, projectCode: 'LN-2', checkCode: '123456' } });
    expect(notSent.json.errorCode).toBe(CFCA_CODES.CHECK_CODE_NOT_SENT);

    await transact('3101', { proxySign: { userId, projectCode: 'LN-2', isSendVoice: 1 } });
    const code = emulator.lastCheckCode(userId, 'LN-2')!;
    clock.advance(5 * 60_000 + 1_000);
    const expired = await transact('3102', { proxySign: { userId, projectCode: 'LN-2', checkCode: code } });
    expect(expired.json.errorCode).toBe(CFCA_CODES.CHECK_CODE_EXPIRED);

    await transact('3101', { proxySign: { userId, projectCode: 'LN-2', isSendVoice: 0 } });
    const fresh = emulator.lastCheckCode(userId, 'LN-2')!;
    const wrong = fresh === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i += 1) {
      const r = await transact('3102', { proxySign: { userId, projectCode: 'LN-2', checkCode: wrong } });
      expect(r.json.errorCode).toBe(CFCA_CODES.CHECK_CODE_WRONG);
    }
    const spent = await transact('3102', { proxySign: { userId, projectCode: 'LN-2', checkCode: fresh } });
    expect(spent.json.errorCode).toBe(CFCA_CODES.CHECK_CODE_EXPIRED);

    const nobody = await transact('3102', {
      proxySign: { userId: 'B'.repeat(32), projectCode: 'LN-2', checkCode: fresh },
    });
    expect(nobody.json.errorCode).toBe('60030202');
  });
});

describe('contracts from a template (3201), query (3210) and download', () => {
  it('creates, signs for the platform and the authorised borrower, and downloads a PDF pdfsig accepts', async () => {
    const borrower = await openPerson('欧阳玥');
    await authorise(borrower, 'LN-10');
    const created = await transact('3201', { createContract: loanContract(borrower, 'LN-10') });
    expect(created.json.head.retCode).toBe('60000000');
    const contract = created.json.contract;
    expect(contract.contractNo).toMatch(/^JK20260601\d{9}$/);
    expect(contract).toMatchObject({ contractTypeCode: 'JK', contractName: '个人消费借款合同', contractState: 1 });
    expect(contract.fileId).toMatch(/^[0-9a-f-]{36}$/);
    expect(contract.signatories).toEqual([
      expect.objectContaining({ userId: platId, signmentState: 1, signTime: expect.any(Number) }),
      expect.objectContaining({ userId: borrower, userName: '欧阳玥', identTypeCode: '0', signmentState: 1 }),
    ]);

    const queried = await transact('3210', { contract: { contractNo: contract.contractNo } });
    expect(queried.json.contract).toEqual(contract);

    const download = await fetch(`${emulator.baseUrl}platId/${platId}/contractNo/${contract.contractNo}/downloading`);
    expect(download.status).toBe(200);
    expect(download.headers.get('Content-Type')).toBe('application/pdf');
    const pdf = new Uint8Array(await download.arrayBuffer());
    const report = pdfsig(pdf);
    expect(report.validations, report.raw).toEqual(['Signature is Valid.', 'Signature is Valid.']);
    expect(emulator.contract(contract.contractNo).textValues.borrowerName).toBe('欧阳玥');
  });

  it('leaves a borrower without isProxySign to sign later (3206), moving 0 → 3 → 1', async () => {
    const borrower = await openPerson();
    const guarantor = await openPerson('高欣怡');
    await authorise(borrower, 'LN-11');
    await authorise(guarantor, 'LN-11G');
    const created = await transact('3201', {
      createContract: {
        ...loanContract(borrower, 'LN-11', { isSign: 2 }),
        signInfos: [
          { userId: borrower, isProxySign: 0, signLocation: 'borrowerSign' },
          { userId: guarantor, isProxySign: 0, signLocation: 'guarantorSign' },
        ],
      },
    });
    const no = created.json.contract.contractNo;
    expect(created.json.contract.contractState).toBe(0);

    const platformSigns = await transact('3206', {
      signContract: { contractNo: no, signInfo: { userId: platId, signLocation: 'Signature_plat' } },
    });
    expect(platformSigns.json.signContract.contractNo).toBe(no);
    expect(emulator.contract(no).contractState).toBe(3);

    const unauthorised = await transact('3206', {
      signContract: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'OTHER', signLocation: 'borrowerSign' },
      },
    });
    expect(unauthorised.json.errorCode).toBe(CFCA_CODES.PROXY_SIGN_NOT_AUTHORISED);
    const taken = await transact('3206', {
      signContract: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'LN-11', signLocation: 'Signature_plat' },
      },
    });
    expect(taken.json.errorCode).toBe(CFCA_CODES.CONTRACT_STATE);

    await transact('3206', {
      signContract: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'LN-11', signLocation: 'borrowerSign' },
      },
    });
    const byKeyword = await transact('3207', {
      signContractByKeyword: {
        contractNo: no,
        signInfo: { userId: guarantor, projectCode: 'LN-11G' },
        signKeyword: {
          keyword: '第十六条',
          offsetCoordX: '0',
          offsetCoordY: '-40',
          imageWidth: '100',
          imageHeight: '50',
        },
      },
    });
    expect(byKeyword.json.head.retCode).toBe('60000000');
    expect(emulator.contract(no).contractState).toBe(1);
    const after = await transact('3206', {
      signContract: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'LN-11', signLocation: 'borrowerSign' },
      },
    });
    expect(after.json).toEqual({ errorCode: CFCA_CODES.CONTRACT_STATE, errorMessage: '合同已签署完成，不能再签署' });
    expect(pdfsig(emulator.document(no)).validations).toEqual(Array(3).fill('Signature is Valid.'));
  });

  it('refuses proxy signing without authorisation, unknown templates, signature fields and users, and creates nothing', async () => {
    const borrower = await openPerson();
    const before = (
      await transact('3201', { createContract: loanContract(borrower, 'LN-12', { contractNo: 'LOAN-12' }) })
    ).json;
    expect(before.errorCode).toBe(CFCA_CODES.PROXY_SIGN_NOT_AUTHORISED);
    expect(() => emulator.contract('LOAN-12')).toThrow(RangeError);

    await authorise(borrower, 'LN-12');
    const template = await transact('3201', {
      createContract: loanContract(borrower, 'LN-12', { templateId: 'JK_1' }),
    });
    expect(template.json.errorCode).toBe(CFCA_CODES.TEMPLATE_NOT_FOUND);
    const sigField = await transact('3201', {
      createContract: loanContract(borrower, 'LN-12', { signLocation: 'nowhere' }),
    });
    expect(sigField.json.errorCode).toBe(CFCA_CODES.PARAMETER_ERROR);
    const stranger = await transact('3201', {
      createContract: { ...loanContract(borrower, 'LN-12'), signInfos: [{ userId: 'C'.repeat(32), isProxySign: 0 }] },
    });
    expect(stranger.json.errorCode).toBe('60030202');
  });

  it('accepts the older investmentInfo as well as textValueInfo, and keys that name no field', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-13');
    const { textValueInfo, ...rest } = loanContract(borrower, 'LN-13');
    const r = await transact('3201', {
      createContract: { ...rest, investmentInfo: { borrowerName: '高欣怡', loanTerm: 36 } },
    });
    expect(emulator.contract(r.json.contract.contractNo).textValues).toEqual({
      borrowerName: '高欣怡',
      loanTerm: '36',
    });
    // A key that names no field is kept (3212 reads it back with isSaveTextValue) but printed nowhere.
    const extra = await transact('3201', {
      createContract: { ...rest, isSaveTextValue: 1, textValueInfo: { orderId: 'ORDER-9', borrowerName: '甲' } },
    });
    const values = await transact('3212', { contractNo: extra.json.contract.contractNo });
    expect(values.json.contractTextValue).toEqual({ orderId: 'ORDER-9', borrowerName: '甲' });
    expect(textValueInfo).toBeDefined();
  });

  it('answers 3210 and downloads of unknown contracts with 50030301, and batch downloads a ZIP', async () => {
    const unknown = await transact('3210', { contract: { contractNo: 'JK20260601999999999' } });
    expect(unknown.json).toEqual({
      errorCode: '50030301',
      errorMessage: `ID为${platId}的用户合同编号为JK20260601999999999的合同信息不存在`,
    });
    const missing = await fetch(`${emulator.baseUrl}platId/${platId}/contractNo/JK20260601999999999/downloading`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ errorCode: '50030301' });

    const borrower = await openPerson();
    await authorise(borrower, 'LN-14');
    const a = (await transact('3201', { createContract: loanContract(borrower, 'LN-14') })).json.contract.contractNo;
    const b = (await transact('3201', { createContract: loanContract(borrower, 'LN-14') })).json.contract.contractNo;
    const zip = await fetch(`${emulator.baseUrl}platId/${platId}/contractNos/${a}@${b}/batchDownloading`);
    expect(zip.headers.get('Content-Type')).toBe('application/zip');
    expect(zipEntries(new Uint8Array(await zip.arrayBuffer()))).toEqual([`${a}.pdf`, `${b}.pdf`]);
  });

  it('expires an unsigned contract by its expiredDate', async () => {
    const borrower = await openPerson();
    const created = await transact('3201', {
      createContract: {
        ...loanContract(borrower, 'x', { isSign: 2, expiredDate: '20260603' }),
        signInfos: [{ userId: borrower }],
      },
    });
    const no = created.json.contract.contractNo;
    expect(created.json.contract.expiredDate).toBe('20260603');
    clock.advance(3 * 86_400_000);
    expect((await transact('3210', { contract: { contractNo: no } })).json.contract.contractState).toBe(9);
    const late = await transact('3206', {
      signContract: { contractNo: no, signInfo: { userId: platId, signLocation: 'Signature_plat' } },
    });
    expect(late.json.errorCode).toBe(CFCA_CODES.CONTRACT_STATE);
  });
});

describe('the contract number as the platform key', () => {
  it('refuses a number used before, so a client whose answer was lost finds it with 3210', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-20');
    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3201' });
    const lost = await transact(
      '3201',
      { createContract: loanContract(borrower, 'LN-20', { contractNo: 'LOAN-20' }) },
      {
        signal: AbortSignal.timeout(2_000),
      },
    ).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(Error);
    const found = await transact('3210', { contract: { contractNo: 'LOAN-20' } });
    expect(found.json.contract).toMatchObject({ contractNo: 'LOAN-20', contractState: 1 });
    const retry = await transact('3201', {
      createContract: loanContract(borrower, 'LN-20', { contractNo: 'LOAN-20' }),
    });
    expect(retry.json).toEqual({ errorCode: CFCA_CODES.CONTRACT_NO_EXISTS, errorMessage: '合同编号LOAN-20已存在' });
  });

  it('answers with the first contract when duplicates are configured to return it', async () => {
    const lenient = createCfcaEmulator({
      platform: { certificate: key.certificatePem },
      baseUrl: 'https://anxinsign-lenient.test/FEP/',
      clock,
      duplicates: { contractNo: 'return-existing' },
    });
    server.use(...lenient.handlers);
    const call = makeTransact(lenient, key, () => clock.now());
    const t = await lenient.addTemplate({ pdf: contractPdf, templateId: 'JK_2303' });
    const body = { createContract: { templateId: t, contractNo: 'LOAN-21', textValueInfo: { borrowerName: '甲' } } };
    const first = await call('3201', body);
    const second = await call('3201', {
      createContract: { ...body.createContract, textValueInfo: { borrowerName: '乙' } },
    });
    expect(second.json.contract).toEqual(first.json.contract);
    expect(lenient.contract('LOAN-21').textValues.borrowerName).toBe('甲');
  });
});

describe('batches (3202 → 3211)', () => {
  it('answers 60030407 until the batch has run, then each contract with its code', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-30');
    const accepted = await transact('3202', {
      batchNo: 'B250',
      createContracts: [
        loanContract(borrower, 'LN-30', { investmentInfo: { orderId: 'ORDER-1' } }),
        loanContract(borrower, 'NOT-AUTHORISED'),
      ],
    });
    expect(accepted.json.batchNo).toBe('B250');
    expect(accepted.json.createContracts).toHaveLength(2);
    const running = await transact('3211', { batchNo: 'B250' });
    expect(running.json).toEqual({ errorCode: '60030407', errorMessage: '该批次还没有执行完毕，请稍后再试' });

    clock.advance(60_000);
    const done = await transact('3211', { batchNo: 'B250' });
    expect(done.json.head.retCode).toBe('60000000');
    const [ok, refused] = done.json.createContracts;
    expect(ok).toMatchObject({ code: '60000000', message: 'OK', templateId, investmentInfo: { orderId: 'ORDER-1' } });
    expect(ok.contractNo).toMatch(/^JK/);
    expect(refused).toMatchObject({ code: CFCA_CODES.PROXY_SIGN_NOT_AUTHORISED });
    expect(refused.contractNo).toBeUndefined();
    expect((await transact('3210', { contract: { contractNo: ok.contractNo } })).json.contract.contractState).toBe(1);

    expect(
      (await transact('3202', { batchNo: 'B250', createContracts: [loanContract(borrower, 'LN-30')] })).json.errorCode,
    ).toBe(CFCA_CODES.BATCH_NO_EXISTS);
    expect((await transact('3211', { batchNo: 'NOPE' })).json.errorCode).toBe(CFCA_CODES.BATCH_NOT_FOUND);
  });

  it('keeps a batch unfinished under a stuck-batch fault or holdBatches, until finishBatch', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-31');
    emulator.faults.next({ kind: 'stuck-batch' }, { txCode: '3202' });
    await transact('3202', { batchNo: 'B251', createContracts: [loanContract(borrower, 'LN-31')] });
    clock.advance(3_600_000);
    expect((await transact('3211', { batchNo: 'B251' })).json.errorCode).toBe('60030407');
    await emulator.finishBatch('B251');
    expect((await transact('3211', { batchNo: 'B251' })).json.createContracts[0].code).toBe('60000000');

    emulator.holdBatches(true);
    await transact('3202', { batchNo: 'B252', createContracts: [loanContract(borrower, 'LN-31')] });
    clock.advance(3_600_000);
    expect((await transact('3211', { batchNo: 'B252' })).json.errorCode).toBe('60030407');
    emulator.holdBatches(false);
    expect((await transact('3211', { batchNo: 'B252' })).json.head.retCode).toBe('60000000');
  });
});

describe('uploaded contracts (3203) and signing by coordinates (3208)', () => {
  it('uploads a PDF multipart, seals the platform by coordinates, and the borrower signs by coordinates later', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-40');
    const up = await transact(
      '3203',
      {
        uploadContract: {
          contractTypeCode: 'MM',
          contractName: '买卖合同',
          isSign: 1,
          signLocations: [
            {
              signOnPage: '8',
              signLocationLBX: '85',
              signLocationLBY: '550',
              signLocationRUX: '205',
              signLocationRUY: '670',
            },
          ],
          signInfos: [{ userId: borrower, isProxySign: 0 }],
        },
      },
      { file: contractPdf },
    );
    expect(up.json.head.retCode).toBe('60000000');
    const no = up.json.contract.contractNo;
    expect(no).toMatch(/^MM\d{17}$/);
    expect(up.json.contract.contractState).toBe(3);

    const outside = await transact('3208', {
      signContractByCoordinate: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'LN-40' },
        signLocations: [
          { signOnPage: 9, signLocationLBX: 1, signLocationLBY: 1, signLocationRUX: 2, signLocationRUY: 2 },
        ],
      },
    });
    expect(outside.json.errorCode).toBe(CFCA_CODES.PARAMETER_ERROR);
    const signed = await transact('3208', {
      signContractByCoordinate: {
        contractNo: no,
        signInfo: { userId: borrower, projectCode: 'LN-40' },
        signLocations: [
          { signOnPage: 8, signLocationLBX: 340, signLocationLBY: 230, signLocationRUX: 460, signLocationRUY: 290 },
        ],
      },
    });
    expect(signed.json.head.retCode).toBe('60000000');
    expect(emulator.contract(no).contractState).toBe(1);
    expect(pdfsig(emulator.document(no)).validations).toEqual(['Signature is Valid.', 'Signature is Valid.']);
  });

  it('refuses an upload without a PDF', async () => {
    const r = await transact(
      '3203',
      { uploadContract: { contractTypeCode: 'MM', contractName: '买卖合同' } },
      { file: new TextEncoder().encode('not a pdf') },
    );
    expect(r.json).toEqual({
      errorCode: CFCA_CODES.PARAMETER_ERROR,
      errorMessage: '参数错误: contractFile不是PDF文件',
    });
  });

  it('a processed answer cut off still leaves the download whole; a malformed download is cut', async () => {
    const borrower = await openPerson();
    await authorise(borrower, 'LN-41');
    const no = (await transact('3201', { createContract: loanContract(borrower, 'LN-41') })).json.contract.contractNo;
    emulator.faults.next({ kind: 'malformed' }, { route: 'download' });
    const url = `${emulator.baseUrl}platId/${platId}/contractNo/${no}/downloading`;
    const cut = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
    expect(cut.length).toBeLessThan(whole.length);
    expect(Buffer.from(whole).equals(Buffer.from(emulator.document(no)))).toBe(true);
  });
});
