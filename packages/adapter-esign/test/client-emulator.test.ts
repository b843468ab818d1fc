/** The client against the package's e签宝 emulator: the two sides of the wire protocol agree. */
import { readFileSync } from 'node:fs';
import { NotFoundError, SealflowError } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import axios from 'axios';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEsignClient, type EsignClientOptions } from '../src/client/client.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';

const contract = readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url));
const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({ clock });
const server = setupServer(...emulator.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

function client(overrides: Partial<EsignClientOptions> = {}) {
  return createEsignClient({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    host: emulator.baseUrl,
    clock,
    scheduler: clock,
    qps: 1000,
    burst: 1000,
    ...overrides,
  });
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

describe('client ↔ emulator', () => {
  it('reads a file, and an organisation by a Chinese name with a space in the query', async () => {
    const esign = client();
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const file = await esign.request('GET', `/v3/files/${fileId}`, {
      schema: z.looseObject({ fileId: z.string(), fileStatus: z.number() }),
    });
    expect(file).toMatchObject({ fileId, fileStatus: 2 });
    const org = emulator.addOrg({ orgName: '杭州某某资金方 (A+B) 有限公司' });
    const found = await esign.request('GET', '/v3/organizations/identity-info', { query: { orgName: org.orgName } });
    expect(found).toMatchObject({ orgId: org.orgId });
  });

  it('posts a JSON body with Chinese text that passes the Content-MD5 check', async () => {
    const data = await client().request('POST', '/v3/files/file-upload-url', {
      body: {
        contentMd5: 'n65V0ib8o2VuFpneV3dOmw==',
        contentType: 'application/pdf',
        fileName: '借款合同 第1版.pdf',
        fileSize: 1024,
        convertToPDF: false,
      },
      schema: z.looseObject({ fileId: z.string(), fileUploadUrl: z.string() }),
    });
    expect(data.fileUploadUrl).toMatch(/^https?:/);
  });

  it("maps the emulator's refusals to typed errors", async () => {
    const wrongSecret = await failure(client({ appSecret: 'nope' }).request('GET', '/v3/doc-templates'));
    expect([wrongSecret.code, wrongSecret.details?.reason]).toEqual(['VENDOR_AUTH_FAILED', 'INVALID_SIGNATURE']);

    const unknownFile = await failure(client().request('GET', `/v3/files/${'1'.repeat(32)}`));
    expect(unknownFile).toBeInstanceOf(NotFoundError);

    const flowPath = `/v3/sign-flow/${'0'.repeat(32)}/detail`;
    const unknownFlow = await failure(client().request('GET', flowPath));
    expect([unknownFlow.code, unknownFlow.details?.vendorCode]).toEqual([
      'VENDOR_REJECTED',
      ESIGN_CODES.FLOW_NOT_FOUND,
    ]);
    const configured = client({
      businessCodes: { [ESIGN_CODES.FLOW_NOT_FOUND]: { code: 'NOT_FOUND', retryable: false, hint: 'no such flow.' } },
    });
    expect(await failure(configured.request('GET', flowPath))).toBeInstanceOf(NotFoundError);
  });

  it('maps injected faults: rate limit, 502, a cut-off body, a dropped connection, no answer', async () => {
    const esign = client({ timeoutMs: 3000 });
    emulator.faults.next({ kind: 'rate-limit' });
    expect(await failure(esign.request('GET', '/v3/doc-templates'))).toMatchObject({
      code: 'VENDOR_RATE_LIMITED',
      retryable: true,
    });
    emulator.faults.next({ kind: 'http', status: 502 });
    expect(await failure(esign.request('GET', '/v3/doc-templates'))).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
    });
    emulator.faults.next({ kind: 'malformed' });
    expect(await failure(esign.request('GET', '/v3/doc-templates'))).toMatchObject({
      code: 'VENDOR_BAD_RESPONSE',
      retryable: true,
    });
    emulator.faults.next({ kind: 'network' });
    expect(await failure(esign.request('GET', '/v3/doc-templates'))).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
    });

    // An axios instance of one's own is used as given; here it tells when the request (and its timer) is under way.
    const http = axios.create();
    let sent!: () => void;
    const underWay = new Promise<void>((resolve) => {
      sent = resolve;
    });
    http.interceptors.request.use((config) => {
      sent();
      return config;
    });
    emulator.faults.next({ kind: 'timeout' });
    const call = failure(client({ timeoutMs: 3000, axios: http }).request('GET', '/v3/doc-templates'));
    await underWay;
    clock.advance(3000);
    expect(await call).toMatchObject({ code: 'VENDOR_TIMEOUT', retryable: true });
  });
});
