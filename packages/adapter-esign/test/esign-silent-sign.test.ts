/**
 * e签宝's legacy v1 silent signing for persons: the emulator's v1 endpoints (checked like V3's) and `esignVendor`
 * with `personSilentSign`, including the refusals a host branches on.
 */
import { readFileSync } from 'node:fs';
import { SealflowError, type SignerSpec, withCreditCodeCheckChar, withIdNumberCheckChar } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EsignVendorOptions, esignPersonSilentSign, esignVendor } from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { call, ok, pdfsig, platformSigner } from './emulator-support.js';

const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({ clock, app: { orgIDCardNum: platformCode } });
const server = setupServer(...emulator.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

let people = 0;
/** A real-named person with an e签宝 account; their psnId is their v1 accountId. */
function person(options: { register?: boolean } = {}) {
  people += 1;
  const mobile = `1360000${String(people).padStart(4, '0')}`;
  const spec: SignerSpec = {
    role: 'borrower',
    kind: 'person',
    name: '诸葛明',
    idNumber: withIdNumberCheckChar(`44030519910101${String(100 + people).slice(-3)}`),
    mobile,
    autoSign: true,
    order: 1,
    placements: [{ documentKey: 'contract', page: 7, x: 340, y: 60, width: 100, height: 50 }],
  };
  const psnId =
    options.register === false ? '' : emulator.addPerson({ name: spec.name, idNo: spec.idNumber, mobile }).psnId;
  return { spec, psnId };
}

const platform = platformSigner(emulator, platformCode, {
  order: 2,
  placements: [{ documentKey: 'contract', page: 7, x: 100, y: 230, width: 120, height: 60 }],
});

const vendorWith = (overrides: Partial<EsignVendorOptions> = {}) =>
  esignVendor({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    host: emulator.baseUrl,
    clock,
    qps: 1000,
    burst: 1000,
    unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
    personSilentSign: { enabled: true },
    ...overrides,
  });

let keys = 0;
async function create(vendor: ReturnType<typeof vendorWith>, signers: SignerSpec[], key = `silent-${++keys}`) {
  const document = await vendor.uploadDocument(
    { key: 'contract', fileName: 'contract.pdf', bytes: contract },
    { idempotencyKey: `${key}:upload` },
  );
  const input = { title: `silent ${key}`, businessNo: `SILENT${key}`, documents: [document], signers };
  return { input, flow: await vendor.createFlow(input, { idempotencyKey: key }) };
}

async function refusal(promise: Promise<unknown>): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to be refused').toBeInstanceOf(SealflowError);
  return error as SealflowError;
}

describe('emulator: v1 silent-sign endpoints', () => {
  const now = () => clock.now();

  it('signAuth sets an authorisation with a Beijing-time deadline; DELETE withdraws it', async () => {
    const { psnId } = person();
    await ok(emulator, now(), 'POST', `/v1/signAuth/${psnId}`, { deadline: '2026-06-02 16:00:00' });
    expect(emulator.silentSignAuthorization(psnId)).toEqual({ deadline: Date.UTC(2026, 5, 2, 8) });
    await ok(emulator, now(), 'POST', `/v1/signAuth/${psnId}`, {});
    expect(emulator.silentSignAuthorization(psnId)).toEqual({ deadline: undefined });
    await ok(emulator, now(), 'DELETE', `/v1/signAuth/${psnId}`);
    expect(emulator.silentSignAuthorization(psnId)).toBeUndefined();
  });

  it('passes the same gateway as V3: wrong secret, a stale timestamp and a body changed after signing are 401', async () => {
    const { psnId } = person();
    const path = `/v1/signAuth/${psnId}`;
    const body = { deadline: '2026-06-02 16:00:00' };
    const wrongSecret = await call(emulator, now(), 'POST', path, { body, secret: 'not-the-secret' });
    expect([wrongSecret.status, wrongSecret.json.message]).toEqual([401, 'INVALID_SIGNATURE']);
    const stale = await call(emulator, now(), 'POST', path, { body, timestamp: now() - 20 * 60_000 });
    expect([stale.status, stale.json.message]).toEqual([401, 'INVALID_TIMESTAMP']);
    const tampered = await call(emulator, now(), 'POST', path, {
      body,
      tamper: (raw) => raw.replace('2026-06-02', '2099-06-02'),
    });
    expect(tampered.status).toBe(401);
    expect(emulator.silentSignAuthorization(psnId)).toBeUndefined();
  });

  it('refuses an unknown account, a malformed or past deadline, and an account that is not real-named', async () => {
    const unknown = await call(emulator, now(), 'POST', '/v1/signAuth/0123456789abcdef0123456789abcdef', { body: {} });
    expect(unknown.json.code).toBe(ESIGN_CODES.ACCOUNT_NOT_FOUND);
    const { psnId } = person();
    for (const deadline of ['2026/06/02 16:00:00', '2026-02-30 10:00:00', '2026-06-01 15:59:59']) {
      const bad = await call(emulator, now(), 'POST', `/v1/signAuth/${psnId}`, { body: { deadline } });
      expect([deadline, bad.json.code]).toEqual([deadline, ESIGN_CODES.INVALID_PARAMETER]);
    }
    const anonymous = emulator.addPerson({ mobile: '13599990000' }).psnId;
    const unnamed = await call(emulator, now(), 'POST', `/v1/signAuth/${anonymous}`, { body: {} });
    expect(unnamed.json.code).toBe(ESIGN_CODES.INVALID_PARAMETER);
  });

  it('autoSign needs a valid authorisation: missing and expired are refused with their codes', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: 'contract.pdf' });
    const draft = await ok(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', {
      docs: [{ fileId, fileName: 'contract.pdf' }],
      signFlowConfig: { signFlowTitle: 'v1 autoSign', autoStart: false },
      signers: [],
    });
    const { psnId } = person();
    const field = {
      fileId,
      authorizedAccountId: psnId,
      order: 1,
      posBean: { posPage: '8', posX: 390, posY: 85, width: 100 },
      thirdOrderNo: 'LN-1-borrower',
    };
    const path = `/v1/signflows/${draft.signFlowId}/signfields/autoSign`;
    const missing = await call(emulator, now(), 'POST', path, { body: { signfields: [field] } });
    expect(missing.json.code).toBe(ESIGN_CODES.SIGN_AUTH_MISSING);
    emulator.authorizeSilentSign(psnId, { deadline: now() + 60_000 });
    clock.advance(61_000);
    const expired = await call(emulator, now(), 'POST', path, { body: { signfields: [field] } });
    expect(expired.json.code).toBe(ESIGN_CODES.SIGN_AUTH_EXPIRED);
    const unknownFlow = await call(emulator, now(), 'POST', '/v1/signflows/nope/signfields/autoSign', {
      body: { signfields: [field] },
    });
    expect(unknownFlow.json.code).toBe(ESIGN_CODES.FLOW_NOT_FOUND);

    emulator.authorizeSilentSign(psnId);
    const added = await ok(emulator, now(), 'POST', path, {
      signfields: [field, { ...field, posBean: { posPage: 1, posX: 300, posY: 100 } }],
    });
    expect(added.signfieldBeans).toHaveLength(2);
    // Sealed when the flow starts, as one signer with both fields; V3 still refuses autoSign for a person.
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${draft.signFlowId}/start`, {});
    const flow = emulator.flow(draft.signFlowId);
    expect(flow.signers.map((x) => [x.signerType, x.signStatus, x.customBizNums])).toEqual([
      [0, 2, ['LN-1-borrower', 'LN-1-borrower']],
    ]);
    expect(pdfsig(emulator.document(draft.signFlowId)).validations).toEqual([
      'Signature is Valid.',
      'Signature is Valid.',
    ]);
    const v3 = await call(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', {
      body: {
        docs: [{ fileId, fileName: 'contract.pdf' }],
        signFlowConfig: { signFlowTitle: 'v3 person auto' },
        signers: [
          {
            signerType: 0,
            psnSignerInfo: { psnId },
            signFields: [
              {
                fileId,
                normalSignFieldConfig: {
                  autoSign: true,
                  signFieldPosition: { positionPage: '1', positionX: 100, positionY: 100 },
                },
              },
            ],
          },
        ],
      },
    });
    expect([v3.json.code, v3.json.message]).toEqual([
      ESIGN_CODES.INVALID_PARAMETER,
      '参数错误: 个人签署不支持自动签署',
    ]);
  });
});

describe('emulator: v1 platformSign', () => {
  it("seals for the AppId's own company at its turn; a seal of another company is refused", async () => {
    const now = () => clock.now();
    const fileId = emulator.seedFile({ pdf: contract, fileName: 'contract.pdf' });
    const draft = await ok(emulator, now(), 'POST', '/v3/sign-flow/create-by-file', {
      docs: [{ fileId, fileName: 'contract.pdf' }],
      signFlowConfig: { signFlowTitle: 'v1 platformSign', autoStart: false },
      signers: [],
    });
    const path = `/v1/signflows/${draft.signFlowId}/signfields/platformSign`;
    const field = { fileId, order: 1, posBean: { posPage: '8', posX: 160, posY: 260 }, thirdOrderNo: 'LN-2-platform' };
    const stranger = emulator.addOrg({ orgName: '无关公司' });
    const foreign = await call(emulator, now(), 'POST', path, {
      body: { signfields: [{ ...field, sealId: stranger.sealId }] },
    });
    expect(foreign.json.code).toBe(ESIGN_CODES.SEAL_NOT_AVAILABLE);
    await ok(emulator, now(), 'POST', path, { signfields: [{ ...field, sealId: emulator.app.sealId }] });
    await ok(emulator, now(), 'POST', `/v3/sign-flow/${draft.signFlowId}/start`, {});
    const flow = emulator.flow(draft.signFlowId);
    expect(flow.signers.map((x) => [x.signerType, x.signStatus, x.orgId, x.customBizNums])).toEqual([
      [1, 2, emulator.app.orgId, ['LN-2-platform']],
    ]);
    expect(pdfsig(emulator.document(draft.signFlowId)).validations).toEqual(['Signature is Valid.']);
  });
});

describe('esignVendor with personSilentSign', () => {
  it('declares personAutoSign only with the option; without it a person with autoSign is refused', async () => {
    expect(vendorWith().capabilities.personAutoSign).toBe(true);
    const plain = vendorWith({ personSilentSign: { enabled: false } });
    expect(plain.capabilities.personAutoSign).toBe(false);
    const error = await refusal(create(plain, [person().spec, platform]));
    expect([error.code, error.details?.capability]).toEqual(['VENDOR_UNSUPPORTED', 'personAutoSign']);
  });

  it('signs the person first, then the platform seals; the flow completes and the PDF carries both signatures', async () => {
    const { spec, psnId } = person();
    emulator.authorizeSilentSign(psnId);
    const vendor = vendorWith();
    const { flow } = await create(vendor, [spec, platform]);
    expect(flow.status).toBe('completed');
    expect(flow.signers.map((x) => [x.role, x.status])).toEqual([
      ['platform', 'signed'],
      ['borrower', 'signed'],
    ]);
    const [signed] = await vendor.downloadSigned(flow.flowId, { idempotencyKey: `${flow.flowId}:download` });
    expect(pdfsig(signed!.bytes).validations).toEqual(['Signature is Valid.', 'Signature is Valid.']);
  });

  it("'per-flow' sets the authorisation itself, until the flow's deadline", async () => {
    const { spec, psnId } = person();
    const vendor = vendorWith({ personSilentSign: { enabled: true, authorization: 'per-flow' } });
    const deadlineAt = clock.now() + 2 * 3_600_000;
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contract },
      { idempotencyKey: 'per-flow:upload' },
    );
    const flow = await vendor.createFlow(
      { title: 'per-flow', businessNo: 'PERFLOW', documents: [document], signers: [spec, platform], deadlineAt },
      { idempotencyKey: 'per-flow' },
    );
    expect(flow.status).toBe('completed');
    expect(emulator.silentSignAuthorization(psnId)).toEqual({ deadline: Math.floor(deadlineAt / 1000) * 1000 });
  });

  it('a missing or expired authorisation is VENDOR_SILENT_SIGN_UNAUTHORIZED, not retryable, without personal data', async () => {
    const vendor = vendorWith();
    const missing = person();
    const noAuth = await refusal(create(vendor, [missing.spec, platform], 'silent-missing'));
    expect([noAuth.code, noAuth.retryable, noAuth.details?.reason, noAuth.details?.vendorCode]).toEqual([
      'VENDOR_SILENT_SIGN_UNAUTHORIZED',
      false,
      'NOT_AUTHORIZED',
      ESIGN_CODES.SIGN_AUTH_MISSING,
    ]);
    const expired = person();
    emulator.authorizeSilentSign(expired.psnId, { deadline: clock.now() + 1_000 });
    clock.advance(2_000);
    const late = await refusal(create(vendor, [expired.spec, platform]));
    expect([late.code, late.details?.vendorCode]).toEqual([
      'VENDOR_SILENT_SIGN_UNAUTHORIZED',
      ESIGN_CODES.SIGN_AUTH_EXPIRED,
    ]);
    for (const error of [noAuth, late]) {
      const text = `${error.message} ${JSON.stringify(error.details)}`;
      for (const secret of [missing.spec.mobile!, expired.spec.mobile!, missing.spec.idNumber, missing.spec.name]) {
        expect(text).not.toContain(secret);
      }
    }
    // The refused create left a draft nobody signed in; once the person is authorised, the same create key
    // finishes that draft instead of making another flow.
    const [draftId] = emulator.findFlows({ signFlowTitle: 'silent silent-missing' });
    expect(emulator.flow(draftId!).status).toBe(0);
    emulator.authorizeSilentSign(missing.psnId);
    const before = emulator.findFlows({}).length;
    const { flow } = await create(vendor, [missing.spec, platform], 'silent-missing');
    expect([flow.flowId, flow.status]).toEqual([draftId, 'completed']);
    expect(emulator.findFlows({}).length).toBe(before);
  });

  it('refuses a person without an e签宝 account, or whose account is real-named to someone else', async () => {
    const vendor = vendorWith();
    const stranger = person({ register: false });
    const none = await refusal(create(vendor, [stranger.spec, platform]));
    expect([none.code, none.details?.reason]).toEqual(['VENDOR_SILENT_SIGN_UNAUTHORIZED', 'NO_ACCOUNT']);
    const impostor = person();
    emulator.authorizeSilentSign(impostor.psnId);
    const other = { ...impostor.spec, idNumber: withIdNumberCheckChar('11010119800101001') };
    const mismatch = await refusal(create(vendor, [other, platform]));
    expect([mismatch.code, mismatch.details?.reason]).toEqual(['VENDOR_SILENT_SIGN_UNAUTHORIZED', 'IDENTITY_MISMATCH']);
  });

  it("an autoSign whose answer was lost is not repeated: the retry sees the person's fields and starts the flow", async () => {
    const { spec, psnId } = person();
    emulator.authorizeSilentSign(psnId);
    const vendor = vendorWith({ timeoutMs: 300 });
    emulator.faults.next({ kind: 'timeout', processed: true }, { path: '/v1/signflows/:id/signfields/autoSign' });
    const key = 'silent-lost';
    const first = await refusal(create(vendor, [spec, platform], key));
    expect([first.code, first.retryable]).toEqual(['VENDOR_TIMEOUT', true]);
    const [flowId] = emulator.findFlows({ signFlowTitle: `silent ${key}` });
    expect(emulator.flow(flowId!).status).toBe(0);
    const { flow } = await create(vendor, [spec, platform], key);
    expect(flow.flowId).toBe(flowId);
    expect(flow.status).toBe('completed');
    expect(emulator.flow(flowId!).signers.filter((x) => x.signerType === 0)).toHaveLength(1);
  });

  it("a create resumed in a new process puts the person's fields on the flow's own file, not on the re-upload", async () => {
    const { spec, psnId } = person();
    emulator.authorizeSilentSign(psnId);
    // The draft is made, then the process dies before the person's fields are added (autoSign never reaches e签宝).
    emulator.faults.next({ kind: 'http', status: 503 }, { path: '/v1/signflows/:id/signfields/autoSign' });
    const key = 'silent-restart';
    await refusal(create(vendorWith(), [spec, platform], key));
    const [flowId] = emulator.findFlows({ signFlowTitle: `silent ${key}` });
    const firstFile = emulator.flow(flowId!).docs[0]!.fileId;

    // The next process uploads the same bytes again and gets a new file id, which is not in the flow.
    const restarted = vendorWith();
    const { input, flow } = await create(restarted, [spec, platform], key);
    expect(input.documents[0]!.vendorFileId).not.toBe(firstFile);
    expect(flow.flowId).toBe(flowId);
    expect(flow.status).toBe('completed');
    const fields = emulator.flow(flowId!).signers.flatMap((x) => x.fields);
    expect(fields.length).toBeGreaterThan(1);
    expect(fields.every((field) => field.fileId === firstFile)).toBe(true);
  });

  it('esignPersonSilentSign: the lending system authorises a person by mobile and withdraws it', async () => {
    const { spec, psnId } = person();
    const silent = esignPersonSilentSign({
      appId: emulator.app.appId,
      appSecret: emulator.app.appSecret,
      host: emulator.baseUrl,
      clock,
    });
    const who = { mobile: spec.mobile!, name: spec.name, idNumber: spec.idNumber };
    expect(await silent.authorize(who, { deadline: Date.UTC(2027, 0, 1) })).toBe(psnId);
    expect(emulator.silentSignAuthorization(psnId)).toEqual({ deadline: Date.UTC(2027, 0, 1) });
    expect(await silent.withdraw({ accountId: psnId })).toBe(psnId);
    expect(emulator.silentSignAuthorization(psnId)).toBeUndefined();
    const wrong = await refusal(silent.authorize({ ...who, name: '别人' }));
    expect(wrong.details?.reason).toBe('IDENTITY_MISMATCH');
  });
});
