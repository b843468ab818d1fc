import { NotFoundError, SealflowError } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEsignClient, ESIGN_HOSTS, esignBaseUrl, type EsignClientOptions } from '../src/client/client.js';
import { checkSignedRequest, gatewayFailureBody, md5Base64 } from '../src/client/signature.js';

const BASE = 'https://esign.test';
const APP_ID = '7438000001';
const SECRET = 'esign-test-secret';
const START = Date.UTC(2026, 0, 1);

interface Received {
  method: string;
  pathAndQuery: string;
  headers: Headers;
  body: Uint8Array;
}

// The gateway as far as these tests need it: every request's signature checked, then the test's answer.
let answer: (request: Received) => Response | Promise<Response> = () => HttpResponse.json({ code: 0, data: {} });
let serverNow = () => START;
const received: Received[] = [];

const server = setupServer(
  http.all(`${BASE}/*`, async ({ request }) => {
    const url = new URL(request.url);
    const got: Received = {
      method: request.method,
      pathAndQuery: url.pathname + url.search,
      headers: request.headers,
      body: new Uint8Array(await request.arrayBuffer()),
    };
    received.push(got);
    const failure = checkSignedRequest(got, {
      secretFor: (appId) => (appId === APP_ID ? SECRET : undefined),
      now: serverNow(),
    });
    if (failure) return HttpResponse.json(gatewayFailureBody(failure.reason), { status: 401 });
    return answer(got);
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  received.length = 0;
  answer = () => HttpResponse.json({ code: 0, data: {} });
  serverNow = () => START;
});
afterAll(() => server.close());

function client(overrides: Partial<EsignClientOptions> = {}) {
  const clock = createManualClock(START);
  const esign = createEsignClient({
    appId: APP_ID,
    appSecret: SECRET,
    host: BASE,
    // The manual clock stands still, so calls after the first would wait for ever without room for a burst.
    qps: 1000,
    burst: 100,
    clock,
    scheduler: clock,
    ...overrides,
  });
  return { esign, clock };
}

async function failure(promise: Promise<unknown>): Promise<SealflowError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SealflowError);
    return error as SealflowError;
  }
  throw new Error('expected the call to fail');
}

describe('hosts', () => {
  it('resolves names to the documented hosts and takes URLs as they are', () => {
    expect(esignBaseUrl('sandbox')).toBe('https://smlopenapi.esign.cn');
    expect(esignBaseUrl('production')).toBe('https://openapi.esign.cn');
    expect(ESIGN_HOSTS.production).toBe('https://openapi.esign.cn');
    expect(esignBaseUrl(new URL('http://localhost:8080/'))).toBe('http://localhost:8080');
    expect(() => esignBaseUrl('smlopenapi')).toThrow(/sandbox/);
  });

  it('refuses unusable options', () => {
    expect(() => createEsignClient({ appId: '', appSecret: SECRET, host: 'sandbox' })).toThrow(/appId is empty/);
    expect(() => createEsignClient({ appId: APP_ID, appSecret: SECRET, host: 'sandbox', qps: 0 })).toThrow(/qps/);
  });
});

describe('signed requests', () => {
  it('sends exactly the signed JSON bytes and returns data', async () => {
    const { esign } = client();
    answer = () => HttpResponse.json({ code: 0, message: '成功', data: { signFlowId: 'f1' } });
    const body = { signFlowConfig: { signFlowTitle: '借款合同 001', notifyUrl: 'https://h.test/n?a=1' } };
    const data = await esign.request('POST', '/v3/sign-flow/create-by-file', {
      body,
      schema: z.object({ signFlowId: z.string() }),
    });
    expect(data).toEqual({ signFlowId: 'f1' });
    const [got] = received;
    expect(new TextDecoder().decode(got?.body)).toBe(JSON.stringify(body));
    expect(got?.headers.get('content-md5')).toBe(md5Base64(JSON.stringify(body)));
    expect(got?.headers.get('x-tsign-open-auth-mode')).toBe('Signature');
    expect(got?.headers.get('x-tsign-open-ca-timestamp')).toBe(String(START));
  });

  it('signs Chinese and reserved characters in query values the way the gateway checks them', async () => {
    const { esign } = client();
    await esign.request('GET', '/v3/organizations/identity-info', {
      query: { orgName: '杭州某某 科技(A+B)&有限公司', orgIDCardType: undefined, pageNum: 1 },
    });
    expect(received[0]?.pathAndQuery).toBe(
      '/v3/organizations/identity-info?orgName=%E6%9D%AD%E5%B7%9E%E6%9F%90%E6%9F%90%20%E7%A7%91%E6%8A%80(A%2BB)%26%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8&pageNum=1',
    );
    // The gateway check passed (otherwise the call would have failed with VENDOR_AUTH_FAILED).
    expect(received[0]?.headers.get('content-type')).toBe('application/json; charset=UTF-8');
  });

  it('sends no Content-Type without a body when so configured, and the gateway check still passes', async () => {
    const { esign } = client({ contentTypeWithoutBody: '' });
    await esign.request('POST', '/v3/sign-flow/f1/start');
    await esign.request('GET', '/v3/sign-flow/f1/detail');
    expect(received.map((r) => [r.method, r.headers.get('content-type'), r.body.length])).toEqual([
      ['POST', null, 0],
      ['GET', null, 0],
    ]);
  });

  it('refuses a path with a query in it', async () => {
    const { esign } = client();
    await expect(esign.request('GET', '/v3/files/abc?x=1')).rejects.toThrow(/pass query parameters as query/);
    expect(received).toHaveLength(0);
  });
});

describe("the gateway's 401 answers", () => {
  it('a wrong secret is VENDOR_AUTH_FAILED / INVALID_SIGNATURE, not retryable', async () => {
    const { esign } = client({ appSecret: 'wrong-secret' });
    const error = await failure(esign.request('GET', '/v3/files/abc'));
    expect(error.code).toBe('VENDOR_AUTH_FAILED');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ reason: 'INVALID_SIGNATURE', httpStatus: 401, path: '/v3/files/abc' });
    expect(error.message).toMatch(/appSecret belongs to appId/);
    expect(error.message).not.toContain('wrong-secret');
  });

  it('a clock 20 minutes off is INVALID_TIMESTAMP with advice about the clock', async () => {
    const { esign } = client();
    serverNow = () => START + 20 * 60_000;
    const error = await failure(esign.request('POST', '/v3/files/file-upload-url', { body: { fileName: 'a.pdf' } }));
    expect(error.code).toBe('VENDOR_AUTH_FAILED');
    expect(error.details?.reason).toBe('INVALID_TIMESTAMP');
    expect(error.message).toMatch(/clock/);
  });

  it('an app unknown in this environment is UNKNOWN_APP', async () => {
    const { esign } = client({ appId: '5111000001' });
    const error = await failure(esign.request('GET', '/v3/files/abc'));
    expect(error.details?.reason).toBe('UNKNOWN_APP');
    expect(error.message).toMatch(/separate apps/);
  });
});

describe('failures as typed errors', () => {
  const body = { psnName: '张三丰', idNo: '110101199003071234', mobileNo: '13800138000' };

  it('maps documented business codes, masking what the request said about the person', async () => {
    const { esign } = client();
    answer = () =>
      HttpResponse.json({
        code: 1435002,
        message: '参数错误: 张三丰 110101199003071234 13800138000 不一致',
        data: null,
      });
    const error = await failure(esign.request('POST', '/v2/identity/verify/individual/telecom3Factors', { body }));
    expect(error.code).toBe('VENDOR_REJECTED');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ vendor: 'esign', vendorCode: 1435002, httpStatus: 200 });
    expect(error.message).toContain('参数错误');
    for (const secret of Object.values(body)) expect(JSON.stringify(error)).not.toContain(secret);
    expect(error.message).toContain('张**');
  });

  it('unknown files are NotFoundError, throttled identity checks retryable VENDOR_RATE_LIMITED', async () => {
    const { esign } = client();
    answer = () => HttpResponse.json({ code: 1430608, message: '查询合同信息失败: 合同不存在' });
    const notFound = await failure(esign.request('GET', '/v3/files/nope'));
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound.details?.vendorCode).toBe(1430608);

    answer = () => HttpResponse.json({ code: 30504900, message: '请求已判定被风控' });
    const throttled = await failure(esign.request('POST', '/v2/identity/verify/individual/base', { body }));
    expect(throttled.code).toBe('VENDOR_RATE_LIMITED');
    expect(throttled.retryable).toBe(true);
    expect(throttled.details?.retryAfterMs).toBe(60_000);
  });

  it('an unlisted code is VENDOR_REJECTED; businessCodes adds rules', async () => {
    answer = () => HttpResponse.json({ code: 1437100, message: '流程不存在' });
    const plain = await failure(client().esign.request('GET', '/v3/sign-flow/f9/detail'));
    expect(plain.code).toBe('VENDOR_REJECTED');
    const configured = await failure(
      client({
        businessCodes: { 1437100: { code: 'NOT_FOUND', retryable: false, hint: 'no such flow.' } },
      }).esign.request('GET', '/v3/sign-flow/f9/detail'),
    );
    expect(configured).toBeInstanceOf(NotFoundError);
  });

  it('403 IP whitelist, 429 and 5xx', async () => {
    const { esign } = client();
    answer = () => HttpResponse.json({ code: 403, message: 'IP白名单不匹配' }, { status: 403 });
    const forbidden = await failure(esign.request('GET', '/v3/files/abc'));
    expect([forbidden.code, forbidden.retryable]).toEqual(['VENDOR_FORBIDDEN', false]);
    expect(forbidden.message).toMatch(/whitelist/);

    answer = () => new HttpResponse('<html>forbidden</html>', { status: 403 });
    expect((await failure(esign.request('GET', '/v3/files/abc'))).code).toBe('VENDOR_FORBIDDEN');

    answer = () => new HttpResponse('slow down', { status: 429, headers: { 'Retry-After': '2' } });
    const limited = await failure(esign.request('GET', '/v3/files/abc'));
    expect([limited.code, limited.retryable, limited.details?.retryAfterMs]).toEqual([
      'VENDOR_RATE_LIMITED',
      true,
      2000,
    ]);

    answer = () => new HttpResponse('<html>bad gateway</html>', { status: 502 });
    const unavailable = await failure(esign.request('GET', '/v3/files/abc'));
    expect([unavailable.code, unavailable.retryable]).toEqual(['VENDOR_UNAVAILABLE', true]);
  });

  it('malformed bodies and unexpected data are VENDOR_BAD_RESPONSE', async () => {
    const { esign } = client();
    answer = () => new HttpResponse('{"code":0,"data":{"fileSt', { status: 200 });
    const cutOff = await failure(esign.request('GET', '/v3/files/abc'));
    expect([cutOff.code, cutOff.retryable]).toEqual(['VENDOR_BAD_RESPONSE', true]);
    answer = () => HttpResponse.json({ result: 'ok' });
    const notEnvelope = await failure(esign.request('GET', '/v3/files/abc'));
    expect([notEnvelope.code, notEnvelope.retryable]).toEqual(['VENDOR_BAD_RESPONSE', false]);
    answer = () => HttpResponse.json({ code: 0, data: { fileStatus: 'two' } });
    const shape = await failure(
      esign.request('GET', '/v3/files/abc', { schema: z.object({ fileStatus: z.number() }) }),
    );
    expect(shape.code).toBe('VENDOR_BAD_RESPONSE');
    expect(shape.retryable).toBe(false);
    expect(shape.message).toContain('fileStatus');
  });

  it('a connection failure is retryable VENDOR_UNAVAILABLE', async () => {
    const { esign } = client();
    answer = () => HttpResponse.error();
    const error = await failure(esign.request('GET', '/v3/files/abc'));
    expect([error.code, error.retryable]).toEqual(['VENDOR_UNAVAILABLE', true]);
  });
});

describe('timeouts and aborts', () => {
  it('no answer within timeoutMs is the retryable VENDOR_TIMEOUT', async () => {
    const { esign, clock } = client({ timeoutMs: 5000 });
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    answer = () => {
      arrived();
      return new Promise<Response>(() => {});
    };
    const call = failure(esign.request('POST', '/v3/sign-flow/create-by-file', { body: { a: 1 } }));
    await inFlight;
    clock.advance(4999);
    clock.advance(1);
    const error = await call;
    expect(error.code).toBe('VENDOR_TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(error.details?.timeoutMs).toBe(5000);
    expect(error.message).toMatch(/look the result up/);
  });

  it("the caller's abort is VENDOR_ABORTED, not retryable", async () => {
    const { esign } = client();
    const controller = new AbortController();
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    answer = () => {
      arrived();
      return new Promise<Response>(() => {});
    };
    const call = failure(esign.request('GET', '/v3/files/abc', { signal: controller.signal }));
    await inFlight;
    controller.abort(new Error('caller gave up'));
    const error = await call;
    expect([error.code, error.retryable]).toEqual(['VENDOR_ABORTED', false]);
  });
});

describe('rate limit', () => {
  it('spaces the calls of one client by 1/qps, in order, waiting rather than failing', async () => {
    const { esign, clock } = client({ qps: 2, burst: 1 });
    const calls = [1, 2, 3].map((n) => esign.request('GET', `/v3/files/f${n}`));
    await vi.waitFor(() => expect(received).toHaveLength(1));
    clock.advance(499);
    await Promise.resolve();
    expect(received).toHaveLength(1);
    clock.advance(1);
    await vi.waitFor(() => expect(received).toHaveLength(2));
    clock.advance(500);
    await vi.waitFor(() => expect(received).toHaveLength(3));
    await Promise.all(calls);
    expect(received.map((r) => [r.pathAndQuery, r.headers.get('x-tsign-open-ca-timestamp')])).toEqual([
      ['/v3/files/f1', String(START)],
      ['/v3/files/f2', String(START + 500)],
      ['/v3/files/f3', String(START + 1000)],
    ]);
  });

  it('keeps one bucket per client: a second client is not slowed by the first', async () => {
    const first = client({ qps: 1, burst: 1 });
    const second = client({ qps: 1, burst: 1 });
    const a = [first.esign.request('GET', '/v3/files/a1'), first.esign.request('GET', '/v3/files/a2')];
    const b = second.esign.request('GET', '/v3/files/b1');
    await vi.waitFor(() =>
      expect(received.map((r) => r.pathAndQuery).sort()).toEqual(['/v3/files/a1', '/v3/files/b1']),
    );
    await b;
    // a2 waits for its own client's next turn only.
    expect(received.map((r) => r.pathAndQuery)).not.toContain('/v3/files/a2');
    first.clock.advance(1_000);
    await Promise.all(a);
    expect(received.map((r) => r.pathAndQuery).sort()).toEqual(['/v3/files/a1', '/v3/files/a2', '/v3/files/b1']);
  });
});
