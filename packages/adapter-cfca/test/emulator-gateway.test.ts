/**
 * The emulator's front door and fault injection: every transaction is checked the way 安心签 checks it (platform,
 * CMS signature over the exact `data`, txTime), answers come in the success envelope or the error form, and a test
 * can make calls slow, hang, fail, lose their answer or come back unreadable.
 */
import { createSealImage } from '@sealflow/adapter-local/testing';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CFCA_CODES, createCfcaEmulator } from '../src/testing/index.js';
import { makePlatformKey, makeTransact, txTimeOf } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 2));
const key = makePlatformKey();
const stranger = makePlatformKey('AnxinSign@另一家公司@91110000MA00000000@1');
const emulator = createCfcaEmulator({ platform: { certificate: key.certificatePem }, clock });
const server = setupServer(...emulator.handlers);
const transact = makeTransact(emulator, key, () => clock.now());

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

let n = 0;
/** A fresh person each time, so tests do not see each other's accounts. */
function person() {
  n += 1;
  return {
    person: {
      personName: '欧阳玥',
      identTypeCode: '0',
      identNo: `1101011990010${String(n).padStart(4, '0')}X`,
      mobilePhone: `1380000${String(n).padStart(4, '0')}`,
      authenticationMode: '公安部',
    },
  };
}

describe('the transaction check', () => {
  it('answers a correctly signed transaction in the success envelope, echoing txTime', async () => {
    const txTime = txTimeOf(clock.now());
    const r = await transact('3001', person(), { txTime });
    expect(r.status).toBe(200);
    expect(r.json.head).toEqual({ txTime, locale: 'zh_CN', retCode: '60000000', retMessage: 'OK' });
    expect(r.json.person.userId).toMatch(/^[0-9A-F]{32}$/);
    expect(r.json.person.anXinSignMobilePhone).toMatch(/^138\*{4}\d{4}$/);
    expect(r.json.notSendPwd).toBe(0);
  });

  it('refuses a request signed with another certificate, in the error form, and does nothing', async () => {
    const body = person();
    const r = await transact('3001', body, { key: stranger });
    expect(r.json).toEqual({
      errorCode: CFCA_CODES.SIGNATURE_INVALID,
      errorMessage: expect.stringMatching(/^签名验证失败/),
    });
    expect(r.json.head).toBeUndefined();
    const again = await transact('3001', body);
    expect(again.json.head.retCode).toBe('60000000');
  });

  it('refuses data changed after signing, and a missing or garbled signature', async () => {
    const tampered = await transact('3001', person(), { tamper: (d) => d.replace('欧阳玥', '欧阳明') });
    expect(tampered.json.errorCode).toBe(CFCA_CODES.SIGNATURE_INVALID);
    const garbled = await transact('3001', person(), { signature: 'bm90IGEgQ01T' });
    expect(garbled.json.errorCode).toBe(CFCA_CODES.SIGNATURE_INVALID);
    const data = JSON.stringify({ head: { txTime: txTimeOf(clock.now()) }, ...person() });
    const response = await fetch(`${emulator.baseUrl}platId/${emulator.platform.platId}/txCode/3001/transaction`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ data }).toString(),
    });
    expect(await response.json()).toMatchObject({ errorCode: CFCA_CODES.SIGNATURE_INVALID });
  });

  it('accepts SHA-1 signatures as well as SHA-256, and JSON with \\u escapes', async () => {
    const sha1 = await transact('3001', person(), { digest: 'sha1' });
    expect(sha1.json.head.retCode).toBe('60000000');
    const body = person();
    const escaped = JSON.stringify({ head: { txTime: txTimeOf(clock.now()) }, ...body }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    const r = await transact('3001', {}, { rawData: escaped });
    expect(r.json.person.personName).toBe('欧阳玥');
  });

  it('refuses an unknown platId, an unknown txCode, and data that is not JSON', async () => {
    const platform = await transact('3001', person(), { platId: 'F'.repeat(32) });
    expect(platform.json.errorCode).toBe(CFCA_CODES.PLATFORM_NOT_FOUND);
    const tx = await transact('3999', { contractNo: 'X' });
    expect(tx.json.errorCode).toBe(CFCA_CODES.TX_CODE_UNSUPPORTED);
    const notJson = await transact('3001', {}, { rawData: '{"head":{"txTime":"20260601100000"}' });
    expect(notJson.json).toEqual({
      errorCode: CFCA_CODES.PARAMETER_ERROR,
      errorMessage: '参数错误: data不是合法的JSON',
    });
  });

  it('checks head.txTime: present, 14 digits, within 15 minutes of the clock (China Standard Time)', async () => {
    const missing = await transact('3001', {}, { rawData: JSON.stringify({ head: {}, ...person() }) });
    expect(missing.json.errorCode).toBe(CFCA_CODES.PARAMETER_ERROR);
    const utc = new Date(clock.now()).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const wrongZone = await transact('3001', person(), { txTime: utc });
    expect(wrongZone.json.errorCode).toBe(CFCA_CODES.TX_TIME_INVALID);
    const stale = await transact('3001', person(), { txTime: txTimeOf(clock.now() - 20 * 60_000) });
    expect(stale.json.errorCode).toBe(CFCA_CODES.TX_TIME_INVALID);
    const edge = await transact('3001', person(), { txTime: txTimeOf(clock.now() - 14 * 60_000) });
    expect(edge.json.head.retCode).toBe('60000000');
    const badDate = await transact('3001', person(), { txTime: '20261341000000' });
    expect(badDate.json.errorCode).toBe(CFCA_CODES.PARAMETER_ERROR);
  });

  it('takes integers as strings, as the PHP demo sends them', async () => {
    const { userId } = emulator.addPerson({ name: '张三', identNo: '110101199003070000', mobilePhone: '13911110000' });
    const r = await transact('3101', { proxySign: { userId, projectCode: 'P-STR', isSendVoice: '0' } });
    expect(r.json.proxySign).toEqual({ userId, projectCode: 'P-STR', isSendVoice: 0 });
  });
});

describe('options where 安心签 is not known', () => {
  it('can skip the txTime check and answer errors with another HTTP status', async () => {
    const other = createCfcaEmulator({
      platform: { certificate: key.certificatePem },
      baseUrl: 'https://anxinsign-other.test/FEP',
      txTimeToleranceMs: null,
      errorStatus: 400,
    });
    server.use(...other.handlers);
    const call = makeTransact(other, key, () => Date.now());
    expect(other.baseUrl).toBe('https://anxinsign-other.test/FEP/');
    const old = await call('3001', person(), { txTime: '20160102235959' });
    expect(old.json.head.retCode).toBe('60000000');
    const refused = await call('3001', person(), { key: stranger });
    expect(refused.status).toBe(400);
    expect(refused.json.errorCode).toBe(CFCA_CODES.SIGNATURE_INVALID);
  });
});

describe('faults', () => {
  it('latency answers normally after the wait', async () => {
    emulator.faults.next({ kind: 'latency', ms: 20 }, { txCode: '3001' });
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
  });

  it('a timeout hangs until the client aborts and nothing was done; with processed the work was done', async () => {
    const { userId } = emulator.addEnterprise({ name: '某某担保有限公司', identNo: '91330100MA2B00000X' });
    const png = Buffer.from(createSealImage({ size: 60 })).toString('base64');
    const seals = async () => (await transact('3014', { sealQuery: { userId } })).json.sealQuery.seals.length;
    expect(await seals()).toBe(1);

    emulator.faults.next({ kind: 'timeout' }, { txCode: '3011' });
    const controller = new AbortController();
    const pending = transact('3011', { sealAdd: { userId, seal: { imageData: png } } }, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(await seals()).toBe(1);

    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3011' });
    const lost = new AbortController();
    const processed = transact('3011', { sealAdd: { userId, seal: { imageData: png } } }, { signal: lost.signal });
    // The seal exists once the call has been handled, although its answer never comes.
    while ((await seals()) === 1) await new Promise((resolve) => setTimeout(resolve, 5));
    lost.abort();
    await expect(processed).rejects.toThrow();
    expect(await seals()).toBe(2);
  });

  it('http, malformed, network and error-form faults; `always` until removed', async () => {
    emulator.faults.next({ kind: 'http', status: 502 });
    const bad = await transact('3001', person());
    expect(bad.status).toBe(502);
    expect(bad.text).toContain('502');
    expect(bad.json).toBeUndefined();

    emulator.faults.next({ kind: 'malformed' }, { txCode: '3001' });
    const cut = await transact('3001', person());
    expect(cut.status).toBe(200);
    expect(cut.json).toBeUndefined();
    expect(cut.text.startsWith('{"head"')).toBe(true);

    emulator.faults.next({ kind: 'network' }, { route: 'transaction' });
    await expect(transact('3001', person())).rejects.toThrow();

    const remove = emulator.faults.always(
      { kind: 'error', errorCode: '60000001', errorMessage: '系统繁忙' },
      { txCode: ['3001', '3002'] },
    );
    expect((await transact('3001', person())).json).toEqual({ errorCode: '60000001', errorMessage: '系统繁忙' });
    expect((await transact('3001', person())).json.errorCode).toBe('60000001');
    remove();
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
  });

  it('faults count down and match by txCode', async () => {
    emulator.faults.next({ kind: 'error', errorCode: '1', errorMessage: 'x' }, { txCode: '3002', times: 2 });
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
    expect(() => emulator.faults.next({ kind: 'network' }, { times: 0 })).toThrow(RangeError);
  });

  it('rate-limit answers HTTP 429, which the client reads as the retryable VENDOR_RATE_LIMITED', async () => {
    emulator.faults.next({ kind: 'rate-limit' }, { txCode: '3001' });
    const limited = await transact('3001', person());
    expect(limited.status).toBe(429);
    expect(limited.json).toBeUndefined();
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
  });

  it('random faults hit about the asked share of calls, from the mix, and the same seed repeats them', async () => {
    const run = async (seed: number) => {
      const random = emulator.faults.random({
        rate: 0.3,
        seed,
        faults: [{ kind: 'http', status: 503 }, { kind: 'rate-limit' }, { kind: 'malformed' }],
        match: { txCode: '3001' },
      });
      const statuses: string[] = [];
      for (let i = 0; i < 60; i++) {
        const answer = await transact('3001', person());
        statuses.push(answer.json ? 'ok' : `${answer.status}`);
      }
      // A call the rule does not match is left alone.
      expect((await transact('3014', { sealQuery: { userId: emulator.platform.platId } })).status).toBe(200);
      random.stop();
      return { statuses, random };
    };
    const first = await run(42);
    expect(first.random.calls).toBe(60);
    const faulted = first.statuses.filter((s) => s !== 'ok');
    expect(faulted.length).toBe(first.random.injected.length);
    // 30 % of 60 is 18; a seeded run lands near it (binomial: 9 to 27 holds far beyond 99.9 %).
    expect(faulted.length).toBeGreaterThanOrEqual(9);
    expect(faulted.length).toBeLessThanOrEqual(27);
    expect(new Set(first.random.injected.map((f) => f.fault.kind))).toEqual(
      new Set(['http', 'rate-limit', 'malformed']),
    );
    expect(first.random.injected.every((f) => f.route === 'transaction' && f.txCode === '3001')).toBe(true);
    const again = await run(42);
    expect(again.statuses).toEqual(first.statuses);
    expect((await run(7)).statuses).not.toEqual(first.statuses);
    // Stopped: calls are answered normally again.
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
  });

  it('random refuses a rate outside 0..1, a seed that is not an integer and an empty mix', () => {
    expect(() => emulator.faults.random({ rate: 1.5, seed: 1, faults: [{ kind: 'network' }] })).toThrow(/rate/);
    expect(() => emulator.faults.random({ rate: 0.2, seed: 0.5, faults: [{ kind: 'network' }] })).toThrow(/seed/);
    expect(() => emulator.faults.random({ rate: 0.2, seed: 1, faults: [] })).toThrow(/at least one/);
  });

  it('a next rule goes before a random one, and clear removes both', async () => {
    emulator.faults.random({ rate: 1, seed: 1, faults: [{ kind: 'http', status: 503 }] });
    emulator.faults.next({ kind: 'rate-limit' });
    expect((await transact('3001', person())).status).toBe(429);
    expect((await transact('3001', person())).status).toBe(503);
    emulator.faults.clear();
    expect((await transact('3001', person())).json.head.retCode).toBe('60000000');
  });
});
