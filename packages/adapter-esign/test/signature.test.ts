import { SealflowError } from '@sealflow/core';
import { describe, expect, it } from 'vitest';
import {
  buildPathAndQuery,
  callbackHeaders,
  callbackSignature,
  canonicalPathAndQuery,
  checkSignedRequest,
  contentMd5,
  gatewayFailureBody,
  hmacSha256Base64,
  md5Base64,
  signRequest,
  stringToSign,
  verifyCallback,
} from '../src/client/signature.js';

const SECRET = 'esign-test-secret';
const JSON_CT = 'application/json; charset=UTF-8';
const NOW = 1_700_000_000_000;

function expectRejected(run: () => void, reason: string) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SealflowError);
    expect((error as SealflowError).code).toBe('CALLBACK_REJECTED');
    expect((error as SealflowError).details?.reason).toBe(reason);
    return;
  }
  throw new Error(`expected the callback to be rejected with ${reason}`);
}

describe('request signing: the published test vectors', () => {
  it('POST with a JSON body', () => {
    const body = '{"signFlowConfig":{"signFlowTitle":"loan-001"}}';
    expect(contentMd5(body)).toBe('n65V0ib8o2VuFpneV3dOmw==');
    const text = stringToSign({
      method: 'POST',
      accept: '*/*',
      contentMd5: contentMd5(body),
      contentType: JSON_CT,
      pathAndQuery: '/v3/sign-flow/create-by-file',
    });
    expect(text).toBe(
      'POST\n*/*\nn65V0ib8o2VuFpneV3dOmw==\napplication/json; charset=UTF-8\n\n/v3/sign-flow/create-by-file',
    );
    expect(hmacSha256Base64(SECRET, text)).toBe('6cxbrtmOlQH51zQ9z8eD/LrvkDGTXUXn16WGMO5C45I=');
  });

  it('GET without a body, Content-Type sent', () => {
    const signed = signRequest({
      appId: '7438000001',
      appSecret: SECRET,
      method: 'get',
      pathAndQuery: '/v3/files/abc123',
      timestamp: NOW,
    });
    expect(signed.stringToSign).toBe('GET\n*/*\n\napplication/json; charset=UTF-8\n\n/v3/files/abc123');
    expect(signed.signature).toBe('fQrrYMApM156GJf8Eqv+O2sjisXroyGQuVmgUAhu+n4=');
    expect(signed.headers).not.toHaveProperty('Content-MD5');
  });

  it('GET with a query given out of order is signed sorted', () => {
    const signed = signRequest({
      appId: '7438000001',
      appSecret: SECRET,
      method: 'GET',
      pathAndQuery: buildPathAndQuery('/v3/seals/org-own-seal-list', { pageSize: 10, orgId: 'o1', pageNum: 1 }),
      timestamp: NOW,
    });
    expect(signed.stringToSign.split('\n').at(-1)).toBe('/v3/seals/org-own-seal-list?orgId=o1&pageNum=1&pageSize=10');
    expect(signed.signature).toBe('6XwUCST/RGtHyAf9czFEckb/CzqSkksE5Wbs69G21T0=');
  });

  it('MD5 of the empty body, and no Content-MD5 for an empty body', () => {
    expect(md5Base64(new Uint8Array(0))).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
    expect(contentMd5(new Uint8Array(0))).toBe('');
    expect(contentMd5(undefined)).toBe('');
  });

  it('sends the full Signature-mode header set', () => {
    const body = new TextEncoder().encode('{"a":1}');
    const { headers } = signRequest({
      appId: 'app-1',
      appSecret: SECRET,
      method: 'POST',
      pathAndQuery: '/v3/x',
      body,
      timestamp: NOW,
    });
    expect(headers).toEqual({
      'X-Tsign-Open-App-Id': 'app-1',
      'X-Tsign-Open-Auth-Mode': 'Signature',
      'X-Tsign-Open-Ca-Timestamp': String(NOW),
      'X-Tsign-Open-Ca-Signature': expect.any(String),
      Accept: '*/*',
      'Content-Type': JSON_CT,
      'Content-MD5': md5Base64(body),
    });
  });
});

describe('query values in the string to sign', () => {
  it('signs Chinese and reserved characters raw, sent percent-encoded', () => {
    const wire = buildPathAndQuery('/v3/organizations/identity-info', {
      orgName: '杭州某某 科技有限公司',
      note: 'a+b&c=d/e?%',
    });
    expect(wire).not.toMatch(/[杭 +]/);
    expect(canonicalPathAndQuery(wire)).toBe(
      '/v3/organizations/identity-info?note=a+b&c=d/e?%&orgName=杭州某某 科技有限公司',
    );
    // The same raw values give the same line whichever way they are written down.
    expect(canonicalPathAndQuery('/v3/organizations/identity-info?orgName=杭州某某 科技有限公司')).toBe(
      '/v3/organizations/identity-info?orgName=杭州某某 科技有限公司',
    );
  });

  it('sorts by name in ASCII order (upper case before lower case)', () => {
    expect(canonicalPathAndQuery('/p?b=2&a=1&B=3')).toBe('/p?B=3&a=1&b=2');
  });

  it('signs an empty value as key= by default, or as key when configured', () => {
    expect(canonicalPathAndQuery('/p?b=&a=1')).toBe('/p?a=1&b=');
    expect(canonicalPathAndQuery('/p?b=&a=1', 'key')).toBe('/p?a=1&b');
  });

  it('has no ? without a query', () => {
    expect(canonicalPathAndQuery('/v3/files/abc')).toBe('/v3/files/abc');
    expect(canonicalPathAndQuery('/v3/files/abc?')).toBe('/v3/files/abc');
  });

  it('adds signed extra headers as sorted name:value lines before the path', () => {
    const text = stringToSign({
      method: 'GET',
      accept: '*/*',
      contentMd5: '',
      contentType: '',
      headers: { 'x-b': '2', 'x-a': '1' },
      pathAndQuery: '/p',
    });
    expect(text).toBe('GET\n*/*\n\n\n\nx-a:1\nx-b:2\n/p');
  });
});

describe('checkSignedRequest: the gateway side', () => {
  const secretFor = (appId: string) => (appId === 'app-1' ? SECRET : undefined);
  const body = new TextEncoder().encode('{"signFlowConfig":{"signFlowTitle":"借款合同 001"}}');
  const pathAndQuery = buildPathAndQuery('/v3/sign-flow/create-by-file', { orgName: '杭州 A+B' });
  const sign = (overrides: Partial<Parameters<typeof signRequest>[0]> = {}) =>
    signRequest({
      appId: 'app-1',
      appSecret: SECRET,
      method: 'POST',
      pathAndQuery,
      body,
      timestamp: NOW,
      ...overrides,
    });

  it('lets a correctly signed request through, headers in any case', () => {
    const { headers } = sign();
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    expect(checkSignedRequest({ method: 'POST', pathAndQuery, headers: lower, body }, { secretFor, now: NOW })).toBe(
      null,
    );
    expect(
      checkSignedRequest(
        { method: 'POST', pathAndQuery, headers: new Headers(headers), body },
        { secretFor, now: NOW + 60_000 },
      ),
    ).toBe(null);
  });

  it('detects a body changed after signing', () => {
    const { headers } = sign();
    const changed = new TextEncoder().encode('{"signFlowConfig":{"signFlowTitle":"借款合同 002"}}');
    const failure = checkSignedRequest(
      { method: 'POST', pathAndQuery, headers, body: changed },
      { secretFor, now: NOW },
    );
    expect(failure?.reason).toBe('INVALID_SIGNATURE');
    expect(failure?.detail).toMatch(/Content-MD5/);
  });

  it('detects a changed query value and a changed method', () => {
    const { headers } = sign();
    const other = buildPathAndQuery('/v3/sign-flow/create-by-file', { orgName: '杭州 A B' });
    expect(checkSignedRequest({ method: 'POST', pathAndQuery: other, headers, body }, { secretFor, now: NOW })).toEqual(
      { reason: 'INVALID_SIGNATURE', detail: expect.any(String) },
    );
    expect(checkSignedRequest({ method: 'PUT', pathAndQuery, headers, body }, { secretFor, now: NOW })?.reason).toBe(
      'INVALID_SIGNATURE',
    );
  });

  it('refuses a request signed with the wrong secret', () => {
    const { headers } = sign({ appSecret: 'not-the-secret' });
    expect(checkSignedRequest({ method: 'POST', pathAndQuery, headers, body }, { secretFor, now: NOW })?.reason).toBe(
      'INVALID_SIGNATURE',
    );
  });

  it('answers INVALID_TIMESTAMP for a timestamp 20 minutes off, either way, or in seconds', () => {
    const check = (timestamp: number) =>
      checkSignedRequest(
        { method: 'POST', pathAndQuery, headers: sign({ timestamp }).headers, body },
        { secretFor, now: NOW },
      )?.reason;
    expect(check(NOW - 20 * 60_000)).toBe('INVALID_TIMESTAMP');
    expect(check(NOW + 20 * 60_000)).toBe('INVALID_TIMESTAMP');
    expect(check(Math.floor(NOW / 1000))).toBe('INVALID_TIMESTAMP');
    expect(check(NOW - 14 * 60_000)).toBe(undefined);
  });

  it('answers the documented reasons for missing or wrong auth headers and unknown apps', () => {
    const { headers } = sign();
    const without = (name: string) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
    const check = (h: Record<string, string>) =>
      checkSignedRequest({ method: 'POST', pathAndQuery, headers: h, body }, { secretFor, now: NOW })?.reason;
    expect(check(without('X-Tsign-Open-App-Id'))).toBe('缺少参数');
    expect(check(without('X-Tsign-Open-Ca-Signature'))).toBe('缺少参数');
    expect(check(without('X-Tsign-Open-Ca-Timestamp'))).toBe('缺少参数');
    expect(check(without('X-Tsign-Open-Auth-Mode'))).toBe('TOKEN_CANT_BE_NULL');
    expect(check({ ...headers, 'X-Tsign-Open-Auth-Mode': 'signature' })).toBe('AUTHSTRATEGY_NOT_FOUND');
    expect(check({ ...headers, 'X-Tsign-Open-App-Id': 'app-2' })).toBe('无效的应用');
    expect(gatewayFailureBody('INVALID_SIGNATURE')).toEqual({
      success: false,
      code: 401,
      message: 'INVALID_SIGNATURE',
    });
  });

  it('does not compare Content-MD5 with an empty body, but it stays part of the signature', () => {
    const get = '/v3/files/abc123';
    // Some working clients send a Content-MD5 that does not match their empty GET body; they sign it, so it passes.
    const md5 = md5Base64('{}');
    const signature = hmacSha256Base64(
      SECRET,
      stringToSign({ method: 'GET', accept: '*/*', contentMd5: md5, contentType: JSON_CT, pathAndQuery: get }),
    );
    const headers = {
      ...signRequest({ appId: 'app-1', appSecret: SECRET, method: 'GET', pathAndQuery: get, timestamp: NOW }).headers,
      'Content-MD5': md5,
      'X-Tsign-Open-Ca-Signature': signature,
    };
    expect(checkSignedRequest({ method: 'GET', pathAndQuery: get, headers }, { secretFor, now: NOW })).toBe(null);
    expect(
      checkSignedRequest(
        { method: 'GET', pathAndQuery: get, headers: { ...headers, 'Content-MD5': md5Base64('') } },
        { secretFor, now: NOW },
      )?.reason,
    ).toBe('INVALID_SIGNATURE');
  });

  it('includes extra signed headers named in X-Tsign-Open-Ca-Signature-Headers', () => {
    const { headers } = sign({ signedHeaders: { 'X-Trace': 'abc' } });
    expect(headers['X-Tsign-Open-Ca-Signature-Headers']).toBe('X-Trace');
    expect(checkSignedRequest({ method: 'POST', pathAndQuery, headers, body }, { secretFor, now: NOW })).toBe(null);
    expect(
      checkSignedRequest(
        { method: 'POST', pathAndQuery, headers: { ...headers, 'X-Trace': 'abd' }, body },
        { secretFor, now: NOW },
      )?.reason,
    ).toBe('INVALID_SIGNATURE');
  });
});

describe('callback signatures', () => {
  const rawBody = '{"action":"SIGN_FLOW_COMPLETE","timestamp":1700000000000,"signFlowId":"f1","signFlowStatus":"2"}';

  it('matches the published vectors, with and without query values', () => {
    expect(callbackSignature({ timestamp: '1700000000000', rawBody, secret: SECRET })).toBe(
      'a2bcfa75c4e7e0ba39d202413d63d2e66d48d1b3da4a0b8e44ca5595ee7ee9d3',
    );
    // Keys sorted: belong < orderNo, so the values concatenate to "pinjie001".
    expect(
      callbackSignature({ timestamp: 1700000000000, query: '?orderNo=001&belong=pinjie', rawBody, secret: SECRET }),
    ).toBe('024d58d7cdceb22245aedc688db6b08ac11b0b0c91b16e3161ee99f83dad3bb5');
    expect(
      callbackSignature({
        timestamp: 1700000000000,
        query: { orderNo: '001', belong: 'pinjie' },
        rawBody: new TextEncoder().encode(rawBody),
        secret: SECRET,
      }),
    ).toBe('024d58d7cdceb22245aedc688db6b08ac11b0b0c91b16e3161ee99f83dad3bb5');
  });

  const headers = callbackHeaders({ appId: 'app-1', timestamp: NOW, rawBody, secret: SECRET });

  it('accepts a genuine callback', () => {
    expect(() => verifyCallback({ headers, rawBody, secret: SECRET, now: NOW + 1000, appId: 'app-1' })).not.toThrow();
  });

  it('refuses a tampered body, a wrong secret and a missing query', () => {
    expectRejected(
      () => verifyCallback({ headers, rawBody: rawBody.replace('"2"', '"7"'), secret: SECRET, now: NOW }),
      'BAD_SIGNATURE',
    );
    expectRejected(() => verifyCallback({ headers, rawBody, secret: 'other', now: NOW }), 'BAD_SIGNATURE');
    const withQuery = callbackHeaders({ appId: 'app-1', timestamp: NOW, query: 'a=1', rawBody, secret: SECRET });
    expectRejected(() => verifyCallback({ headers: withQuery, rawBody, secret: SECRET, now: NOW }), 'BAD_SIGNATURE');
    expect(() =>
      verifyCallback({ headers: withQuery, query: { a: '1' }, rawBody, secret: SECRET, now: NOW }),
    ).not.toThrow();
  });

  it('refuses a stale timestamp, with a configurable tolerance', () => {
    expectRejected(
      () => verifyCallback({ headers, rawBody, secret: SECRET, now: NOW + 20 * 60_000 }),
      'STALE_TIMESTAMP',
    );
    expect(() =>
      verifyCallback({ headers, rawBody, secret: SECRET, now: NOW + 20 * 60_000, toleranceMs: 30 * 60_000 }),
    ).not.toThrow();
    expectRejected(
      () => verifyCallback({ headers, rawBody, secret: SECRET, now: NOW + 2 * 60_000, toleranceMs: 60_000 }),
      'STALE_TIMESTAMP',
    );
  });

  it('refuses missing headers, another app and another algorithm', () => {
    const { 'X-Tsign-Open-SIGNATURE': _, ...unsigned } = headers;
    expectRejected(() => verifyCallback({ headers: unsigned, rawBody, secret: SECRET, now: NOW }), 'MISSING_HEADER');
    expectRejected(() => verifyCallback({ headers, rawBody, secret: SECRET, now: NOW, appId: 'app-2' }), 'WRONG_APP');
    expectRejected(
      () =>
        verifyCallback({
          headers: { ...headers, 'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sm3' },
          rawBody,
          secret: SECRET,
          now: NOW,
        }),
      'UNSUPPORTED_ALGORITHM',
    );
  });
});
