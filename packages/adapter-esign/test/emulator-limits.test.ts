/**
 * The emulator's QPS limit per app and its fixed latency: what the load suite measures a client against. The limit
 * runs on the emulator's clock, so a manual clock decides exactly which request is one too many.
 */
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEsignClient } from '../src/client/client.js';
import { createEsignEmulator } from '../src/testing/index.js';
import { call } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const limited = createEsignEmulator({
  clock,
  baseUrl: 'https://limited.esign-emulator.test',
  rateLimit: { qps: 5, burst: 2 },
});
const slow = createEsignEmulator({ baseUrl: 'https://slow.esign-emulator.test', latencyMs: 150 });
const server = setupServer(...limited.handlers, ...slow.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

const ORG = `/v3/organizations/identity-info?orgId=`;

describe('rateLimit', () => {
  it('lets `burst` requests through at once, refuses the next with 429 in the gateway shape, and refills at qps', async () => {
    limited.traffic.reset();
    const path = `${ORG}${limited.app.orgId}`;
    const statuses = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await call(limited, clock.now(), 'GET', path)).status);
      return out;
    };
    expect(await statuses(3)).toEqual([200, 200, 429]);
    const refused = await call(limited, clock.now(), 'GET', path);
    expect([refused.status, refused.json]).toEqual([429, { success: false, code: 429, message: 'TOO_MANY_REQUESTS' }]);
    // 5 QPS: one token every 200 ms of the emulator's clock; 199 ms is not enough.
    clock.advance(199);
    expect(await statuses(1)).toEqual([429]);
    clock.advance(1);
    expect(await statuses(2)).toEqual([200, 429]);
    // A quiet period fills the bucket to `burst`, no further.
    clock.advance(10_000);
    expect(await statuses(3)).toEqual([200, 200, 429]);
    expect([limited.traffic.requests, limited.traffic.rateLimited]).toEqual([10, 5]);
  });

  it('keeps one bucket per app: another app of the emulator has its own', async () => {
    clock.advance(10_000);
    const other = limited.addApp({ orgName: '某某融资担保有限公司' });
    const mine = await call(limited, clock.now(), 'GET', `${ORG}${limited.app.orgId}`);
    const second = await call(limited, clock.now(), 'GET', `${ORG}${limited.app.orgId}`);
    const theirs = await call(limited, clock.now(), 'GET', `${ORG}${other.orgId}`, {
      appId: other.appId,
      secret: other.appSecret,
    });
    expect([mine.status, second.status, theirs.status]).toEqual([200, 200, 200]);
    expect((await call(limited, clock.now(), 'GET', `${ORG}${limited.app.orgId}`)).status).toBe(429);
  });

  it('a refused request does nothing: a refused create makes no flow', async () => {
    clock.advance(10_000);
    const fileId = limited.seedFile({ pdf: new Uint8Array([37, 80, 68, 70]), fileName: 'x.pdf' });
    const path = `${ORG}${limited.app.orgId}`;
    await call(limited, clock.now(), 'GET', path);
    await call(limited, clock.now(), 'GET', path);
    const before = limited.findFlows({}).length;
    const create = await call(limited, clock.now(), 'POST', '/v3/sign-flow/create-by-file', {
      body: { docs: [{ fileId, fileName: 'x.pdf' }], signFlowConfig: { signFlowTitle: 'refused' }, signers: [] },
    });
    expect(create.status).toBe(429);
    expect(limited.findFlows({}).length).toBe(before);
  });

  it('the client reads the refusal as VENDOR_RATE_LIMITED, retryable', async () => {
    clock.advance(10_000);
    const client = createEsignClient({
      appId: limited.app.appId,
      appSecret: limited.app.appSecret,
      host: limited.baseUrl,
      clock,
      qps: 1000,
      burst: 1000,
    });
    const query = { orgId: limited.app.orgId };
    const path = '/v3/organizations/identity-info';
    await client.request('GET', path, { query });
    await client.request('GET', path, { query });
    await expect(client.request('GET', path, { query })).rejects.toMatchObject({
      code: 'VENDOR_RATE_LIMITED',
      retryable: true,
    });
  });

  it('refuses a limit that is not a positive rate, telling what to pass', () => {
    expect(() => createEsignEmulator({ rateLimit: { qps: 0 } })).toThrow(/rateLimit.qps must be a positive number/);
    expect(() => createEsignEmulator({ rateLimit: { qps: 5, burst: 0.5 } })).toThrow(/burst must be at least 1/);
    expect(() => createEsignEmulator({ latencyMs: -1 })).toThrow(/latencyMs must be a number/);
  });
});

describe('latencyMs', () => {
  it('every API call and upload waits the latency before it is answered', async () => {
    const started = performance.now();
    const r = await call(slow, Date.now(), 'GET', `${ORG}${slow.app.orgId}`);
    const took = performance.now() - started;
    expect(r.status).toBe(200);
    expect(took).toBeGreaterThanOrEqual(145);
    const upload = performance.now();
    await fetch(`${slow.baseUrl}/__oss/nothing`, { method: 'PUT', body: new Uint8Array([1]) });
    expect(performance.now() - upload).toBeGreaterThanOrEqual(145);
  });

  it('an aborted call stops waiting and fails as a network error', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const started = performance.now();
    await expect(
      call(slow, Date.now(), 'GET', `${ORG}${slow.app.orgId}`, { signal: controller.signal }),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(140);
  });
});
