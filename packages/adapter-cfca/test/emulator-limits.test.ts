/**
 * The emulator's QPS limit per platform and its fixed latency: what a load test measures a client against. The limit
 * runs on the emulator's clock, so a manual clock decides exactly which call is one too many.
 */
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CFCA_CODES, createCfcaEmulator } from '../src/testing/index.js';
import { makePlatformKey, makeTransact } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 2));
const key = makePlatformKey();
const limited = createCfcaEmulator({
  platform: { certificate: key.certificatePem },
  clock,
  baseUrl: 'https://limited.anxinsign-emulator.test/FEP/',
  rateLimit: { qps: 5, burst: 2 },
  // A refused call that had been done anyway would make the same account a second time: refused here.
  duplicates: { account: 'refuse' },
});
const slow = createCfcaEmulator({
  platform: { certificate: key.certificatePem },
  baseUrl: 'https://slow.anxinsign-emulator.test/FEP/',
  latencyMs: 150,
});
const server = setupServer(...limited.handlers, ...slow.handlers);
const transact = makeTransact(limited, key, () => clock.now());
const transactSlow = makeTransact(slow, key, () => Date.now());
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

let n = 0;
function person() {
  n += 1;
  return {
    person: {
      personName: '欧阳玥',
      identTypeCode: '0',
      identNo: `1101011990020${String(n).padStart(4, '0')}X`,
      mobilePhone: `1380001${String(n).padStart(4, '0')}`,
      authenticationMode: '公安部',
    },
  };
}

describe('rateLimit', () => {
  it('lets `burst` calls through at once, refuses the next in the error form, and refills at qps', async () => {
    limited.traffic.reset();
    const codes = async (count: number) => {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const r = await transact('3001', person());
        out.push(r.json.errorCode ?? r.json.head.retCode);
      }
      return out;
    };
    const ok = '60000000';
    const refused = CFCA_CODES.RATE_LIMITED;
    expect(await codes(3)).toEqual([ok, ok, refused]);
    // 5 QPS: one token every 200 ms of the emulator's clock; 199 ms is not enough.
    clock.advance(199);
    expect(await codes(1)).toEqual([refused]);
    clock.advance(1);
    expect(await codes(2)).toEqual([ok, refused]);
    clock.advance(10_000);
    expect(await codes(3)).toEqual([ok, ok, refused]);
    expect([limited.traffic.requests, limited.traffic.rateLimited]).toEqual([9, 4]);
  });

  it('a refused call does nothing: the same account opened after the refill is new, not a duplicate', async () => {
    clock.advance(10_000);
    await transact('3001', person());
    await transact('3001', person());
    const body = person();
    const refused = await transact('3001', body);
    expect([refused.status, refused.json]).toEqual([
      200,
      { errorCode: CFCA_CODES.RATE_LIMITED, errorMessage: '请求过于频繁，请稍后再试' },
    ]);
    clock.advance(1_000);
    const again = await transact('3001', body);
    expect(again.json.head.retCode).toBe('60000000');
  });

  it('downloads count too: over the limit a download is refused with HTTP 429 in the error form', async () => {
    clock.advance(10_000);
    const url = `${limited.baseUrl}platId/${limited.platform.platId}/contractNo/NO-SUCH/downloading`;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url)).status);
    // The first two reach the contract lookup (no such contract), the third is over the limit.
    expect(statuses).toEqual([404, 404, 429]);
    expect(await (await fetch(url)).json()).toEqual({
      errorCode: CFCA_CODES.RATE_LIMITED,
      errorMessage: '请求过于频繁，请稍后再试',
    });
  });

  it('refuses a limit that is not a positive rate, telling what to pass', () => {
    const platform = { certificate: key.certificatePem };
    expect(() => createCfcaEmulator({ platform, rateLimit: { qps: -1 } })).toThrow(/rateLimit.qps must be a positive/);
    expect(() => createCfcaEmulator({ platform, rateLimit: { qps: 5, burst: 0 } })).toThrow(/burst must be at least 1/);
    expect(() => createCfcaEmulator({ platform, latencyMs: Number.NaN })).toThrow(/latencyMs must be a number/);
  });
});

describe('latencyMs', () => {
  it('every transaction waits the latency before it is answered', async () => {
    const started = performance.now();
    const r = await transactSlow('3001', person());
    expect(r.json.head.retCode).toBe('60000000');
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });
});
