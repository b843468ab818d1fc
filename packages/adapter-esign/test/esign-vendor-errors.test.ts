/**
 * `esignVendor()` and `esignIdentityVerifier()` on bad input and hostile callbacks: each refusal is the typed error a
 * host can branch on, with personal data kept out of the message.
 */
import { readFileSync } from 'node:fs';
import {
  NotFoundError,
  type RawCallback,
  SealflowError,
  type SignerSpec,
  type VendorCallContext,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import axios from 'axios';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEsignClient } from '../src/client/client.js';
import {
  type EsignCallbackEvent,
  type EsignVendorOptions,
  type EsignVerifiedCallback,
  esignIdentityVerifier,
} from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { emulatorVendor, platformSigner } from './emulator-support.js';

const contract = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const NOTIFY = 'https://lender.example/esign/notify?belong=pinjie&orderNo=001';

const emulator = createEsignEmulator({ app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode } });
const received: RawCallback[] = [];
const server = setupServer(
  ...emulator.handlers,
  http.post('https://lender.example/esign/notify', async ({ request }) => {
    received.push({
      headers: Object.fromEntries(request.headers),
      query: Object.fromEntries(new URL(request.url).searchParams),
      rawBody: new Uint8Array(await request.arrayBuffer()),
    });
    return HttpResponse.json({ code: '200', msg: 'success' });
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

const ctx = (idempotencyKey: string): VendorCallContext => ({ idempotencyKey });
const vendorWith = (overrides: Partial<EsignVendorOptions> = {}) =>
  emulatorVendor(emulator, { unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND], ...overrides });

async function failure(promise: Promise<unknown>): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to be refused').toBeInstanceOf(SealflowError);
  return error as SealflowError;
}

const borrower: SignerSpec = {
  role: 'borrower',
  kind: 'person',
  name: '欧阳娜娜',
  idNumber: withIdNumberCheckChar('31010119900307002'),
  mobile: '13912345678',
  autoSign: false,
  order: 1,
  placements: [{ documentKey: 'contract', page: 7, x: 340, y: 60, width: 100, height: 50 }],
};
const platform = platformSigner(emulator, platformCode, {
  order: 2,
  placements: [{ documentKey: 'contract', page: 7, x: 100, y: 230, width: 120, height: 60 }],
});

describe('esignVendor refuses bad input with typed errors', () => {
  it('a wrong app secret: VENDOR_AUTH_FAILED (INVALID_SIGNATURE), not retryable', async () => {
    const vendor = vendorWith({ appSecret: 'not-the-secret' });
    const error = await failure(
      vendor.uploadDocument({ key: 'contract', fileName: '借款合同.pdf', bytes: contract }, ctx('u-wrong-secret')),
    );
    expect([error.code, error.details?.reason, error.retryable]).toEqual([
      'VENDOR_AUTH_FAILED',
      'INVALID_SIGNATURE',
      false,
    ]);
    expect(error.message).toContain('appSecret');
  });

  it("a clock 20 minutes off: VENDOR_AUTH_FAILED (INVALID_TIMESTAMP), telling to fix the server's clock", async () => {
    const vendor = vendorWith({ clock: { now: () => Date.now() + 20 * 60_000 } });
    const error = await failure(vendor.getFlow('0'.repeat(32), ctx('g-clock')));
    expect([error.code, error.details?.reason, error.retryable]).toEqual([
      'VENDOR_AUTH_FAILED',
      'INVALID_TIMESTAMP',
      false,
    ]);
    expect(error.message).toContain('NTP');
  });

  it('a body changed after it was signed (a proxy rewriting it): VENDOR_AUTH_FAILED (INVALID_SIGNATURE)', async () => {
    const rewriting = axios.create();
    rewriting.interceptors.request.use((config) => {
      if (Buffer.isBuffer(config.data)) {
        config.data = Buffer.from(config.data.toString('utf8').replace('借款合同', '借款合问'));
      }
      return config;
    });
    const vendor = vendorWith({ axios: rewriting });
    const error = await failure(
      vendor.uploadDocument({ key: 'contract', fileName: '借款合同.pdf', bytes: contract }, ctx('u-tampered')),
    );
    expect([error.code, error.details?.reason]).toEqual(['VENDOR_AUTH_FAILED', 'INVALID_SIGNATURE']);
  });

  it('Chinese and reserved characters in query values, titles and file names go through', async () => {
    const org = emulator.addOrg({ orgName: '杭州某某资金方 (A+B)&C=D#50%有限公司' });
    const client = createEsignClient({
      appId: emulator.app.appId,
      appSecret: emulator.app.appSecret,
      host: emulator.baseUrl,
    });
    const found = await client.request('GET', '/v3/organizations/identity-info', { query: { orgName: org.orgName } });
    expect(found).toMatchObject({ orgId: org.orgId, orgName: org.orgName });

    const vendor = vendorWith();
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: '借款合同/第1版: A&B=C?#%.pdf', bytes: contract },
      ctx('u-reserved'),
    );
    const flow = await vendor.createFlow(
      {
        title: '借款合同 "LN/0001" <A&B=C?#%>',
        businessNo: 'LN/0001?&=#',
        documents: [document],
        signers: [borrower, platform],
      },
      ctx('c-reserved'),
    );
    const view = emulator.flow(flow.flowId);
    expect(view.signFlowTitle).toBe('借款合同 _LN_0001_ _A&B=C_#%_');
    expect(view.docs.map((d) => d.fileName)).toEqual(['借款合同_第1版_ A&B=C_#%.pdf']);
  });

  it('an unknown flow id: NotFoundError with unknownFlowCodes, otherwise a non-retryable VENDOR_REJECTED', async () => {
    const unknown = 'f'.repeat(32);
    const error = await failure(vendorWith().getFlow(unknown, ctx('g-unknown')));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.details).toMatchObject({ flowId: unknown, vendorCode: ESIGN_CODES.FLOW_NOT_FOUND });

    const plain = await failure(vendorWith({ unknownFlowCodes: [] }).getFlow(unknown, ctx('g-unknown-2')));
    expect([plain.code, plain.retryable, plain.details?.vendorCode]).toEqual([
      'VENDOR_REJECTED',
      false,
      ESIGN_CODES.FLOW_NOT_FOUND,
    ]);
    await expect(vendorWith().cancelFlow(unknown, 'x', ctx('x-unknown'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a person cannot be signed for automatically: VENDOR_UNSUPPORTED before e签宝 is asked', async () => {
    const vendor = vendorWith();
    const error = await failure(
      vendor.createFlow(
        { title: 't', businessNo: 'b', documents: [], signers: [{ ...borrower, autoSign: true }] },
        ctx('c-auto-person'),
      ),
    );
    expect([error.code, error.details?.capability]).toEqual(['VENDOR_UNSUPPORTED', 'personAutoSign']);
    expect(vendor.capabilities.personAutoSign).toBe(false);
  });
});

describe('esignVendor callbacks', () => {
  /** A flow signed through to the end with the notify URL set; returns the callbacks e签宝 sent. */
  async function signedFlow() {
    const vendor = vendorWith();
    const document = await vendor.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: contract },
      ctx(`u-cb-${received.length}`),
    );
    const flow = await vendor.createFlow(
      {
        title: '借款合同',
        businessNo: 'LN-CB',
        documents: [document],
        signers: [borrower, platform],
        callbackUrl: NOTIFY,
      },
      ctx(`c-cb-${received.length}`),
    );
    const start = received.length;
    const { url } = await vendor.signerUrl!(flow.flowId, 'borrower', ctx('url'));
    emulator.signByUrl(url);
    await emulator.callbacks.idle();
    return { vendor, flowId: flow.flowId, callbacks: received.slice(start) };
  }

  it('verifies genuine callbacks and maps them: each signer by role, then the completed flow; keeps the raw event', async () => {
    const kept: EsignVerifiedCallback[] = [];
    const { flowId, callbacks } = await signedFlow();
    const vendor = vendorWith({ onVerifiedCallback: (c) => void kept.push(c) });
    const events = [] as EsignCallbackEvent[];
    for (const callback of callbacks) events.push((await vendor.parseCallback!(callback)) as EsignCallbackEvent);
    expect(events.map((e) => [e.kind, e.role, e.vendorAction, e.flowId])).toEqual([
      ['signer-signed', 'borrower', 'SIGN_MISSON_COMPLETE', flowId],
      ['signer-signed', 'platform', 'SIGN_MISSON_COMPLETE', flowId],
      ['flow-completed', undefined, 'SIGN_FLOW_COMPLETE', flowId],
    ]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(3);
    expect(kept.map((c) => c.action)).toEqual(events.map((e) => e.vendorAction));
    expect(events[2]!.raw.rawBody).toBe(Buffer.from(callbacks[2]!.rawBody as Uint8Array).toString('utf8'));
    // A redelivery carries the same body: the same event id, so core applies it once.
    const again = await vendor.parseCallback!({ ...callbacks[0]! });
    expect(again.eventId).toBe(events[0]!.eventId);
  });

  it('refuses a callback with a bad signature, or with a stale timestamp: CALLBACK_REJECTED, not retryable', async () => {
    const { vendor, callbacks } = await signedFlow();
    const genuine = callbacks.at(-1)!;
    const body = Buffer.from(genuine.rawBody as Uint8Array).toString('utf8');
    const tampered = await failure(
      vendor.parseCallback!({ ...genuine, rawBody: body.replace('"signFlowStatus":"2"', '"signFlowStatus":"7"') }),
    );
    expect([tampered.code, tampered.details?.reason, tampered.retryable]).toEqual([
      'CALLBACK_REJECTED',
      'BAD_SIGNATURE',
      false,
    ]);
    const late = vendorWith({ clock: { now: () => Date.now() + 20 * 60_000 } });
    const stale = await failure(late.parseCallback!(genuine));
    expect([stale.code, stale.details?.reason, stale.retryable]).toEqual([
      'CALLBACK_REJECTED',
      'STALE_TIMESTAMP',
      false,
    ]);
    // Without the notify URL's own query values the signature cannot match either.
    const noQuery = await failure(vendor.parseCallback!({ ...genuine, query: {} }));
    expect(noQuery.details?.reason).toBe('BAD_SIGNATURE');
  });
});

describe('esignIdentityVerifier', () => {
  const person = { name: '张三丰', idNumber: withIdNumberCheckChar('11010119800101001'), mobile: '13800001111' };
  emulator.addPerson({ name: person.name, idNo: person.idNumber, mobile: person.mobile });
  const verifierWith = (overrides: { guard?: boolean } = {}) =>
    esignIdentityVerifier({
      appId: emulator.app.appId,
      appSecret: emulator.app.appSecret,
      host: emulator.baseUrl,
      qps: 1000,
      burst: 1000,
      ...overrides,
    });

  it('verifies with the telecom three-element check, or the two-element one without a mobile; a mismatch is false', async () => {
    const verifier = verifierWith();
    expect(await verifier.check(person)).toMatchObject({ verified: true, method: 'telecom-three-element' });
    expect(await verifier.check({ name: person.name, idNumber: person.idNumber })).toMatchObject({
      verified: true,
      method: 'two-element',
    });
    expect(await verifier.check({ ...person, mobile: '13800002222' })).toEqual({
      verified: false,
      method: 'telecom-three-element',
    });
  });

  it('verifies with the bank-card four-element check; a wrong card is false; without bankCardFor it is INVALID_INPUT', async () => {
    const holder = { name: '赵六', idNumber: withIdNumberCheckChar('11010119700707004'), mobile: '13800005555' };
    emulator.addPerson({
      name: holder.name,
      idNo: holder.idNumber,
      mobile: holder.mobile,
      bankCards: [{ cardNo: '6222020200112233445' }],
    });
    const cards = new Map([[holder.idNumber, '6222020200112233445']]);
    const verifier = esignIdentityVerifier({
      appId: emulator.app.appId,
      appSecret: emulator.app.appSecret,
      host: emulator.baseUrl,
      qps: 1000,
      burst: 1000,
      check: 'bank-card-four-element',
      bankCardFor: async (p) => cards.get(p.idNumber),
    });
    expect(await verifier.check(holder)).toMatchObject({ verified: true, method: 'bank-card-four-element' });
    cards.set(holder.idNumber, '6222020200999999999');
    expect(await verifier.check(holder)).toEqual({ verified: false, method: 'bank-card-four-element' });
    cards.clear();
    const error = await failure(verifier.check(holder));
    expect([error.code, error.retryable]).toEqual(['INVALID_INPUT', false]);
    expect(error.message).toContain('bankCardFor');
  });

  it('stays under the per-identity limit: the 11th check in a minute is refused here, typed and not retryable', async () => {
    const someone = { name: '李四', idNumber: withIdNumberCheckChar('11010119850505002'), mobile: '13800003333' };
    emulator.addPerson({ name: someone.name, idNo: someone.idNumber, mobile: someone.mobile });
    const verifier = verifierWith();
    const sent: string[] = [];
    const count = ({ request }: { request: Request }) => void sent.push(new URL(request.url).pathname);
    server.events.on('request:start', count);
    for (let i = 0; i < 10; i++) expect((await verifier.check(someone)).verified).toBe(true);
    const error = await failure(verifier.check(someone));
    expect([error.code, error.retryable, error.details?.reason]).toEqual([
      'VENDOR_IDENTITY_CHECK_BANNED',
      false,
      'LOCAL_LIMIT',
    ]);
    expect(error.message).toContain('try again later');
    expect(error.message).not.toContain(someone.idNumber);
    expect(error.message).not.toContain(someone.name);
    // The refused check never reached e签宝, which bans only from the 11th.
    server.events.removeListener('request:start', count);
    expect(sent.filter((p) => p.startsWith('/v2/identity/'))).toHaveLength(10);
  });

  it("maps e签宝's own ban (风控) to the same typed, non-retryable error", async () => {
    const other = { name: '王五', idNumber: withIdNumberCheckChar('11010119900909003'), mobile: '13800004444' };
    emulator.addPerson({ name: other.name, idNo: other.idNumber, mobile: other.mobile });
    const verifier = verifierWith({ guard: false });
    for (let i = 0; i < 10; i++) await verifier.check(other);
    const error = await failure(verifier.check(other));
    expect([error.code, error.retryable, error.details?.vendorCode]).toEqual([
      'VENDOR_IDENTITY_CHECK_BANNED',
      false,
      ESIGN_CODES.VERIFY_RISK_CONTROL,
    ]);
  });
});
