import { isSealflowError, type SealflowError } from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { type CfcaClientOptions, createCfcaClient, formatTxTime } from '../src/client/client.js';
import { verifyCfcaSignature } from '../src/client/signature.js';
import { createCfcaTestCertificate } from '../src/client/test-certificates.js';
import { formOf, ok, type Reply, startTestServer, type TestServer } from './cfca-test-server.js';

const PLAT_ID = '3FEC02111C593DECE05312016B0A418F';
const platform = createCfcaTestCertificate({ commonName: 'AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1' });

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setUp(
  reply: (request: import('./cfca-test-server.js').Received) => Reply,
  extra: Partial<CfcaClientOptions> = {},
) {
  server = await startTestServer(reply);
  // 2026-12-31 16:30:05 UTC is 2027-01-01 00:30:05 in China.
  const clock = createManualClock(Date.UTC(2026, 11, 31, 16, 30, 5));
  const client = createCfcaClient({
    baseUrl: server.baseUrl,
    platId: PLAT_ID,
    tls: { cert: platform.certificatePem, key: platform.privateKeyPem },
    signer: { key: platform.privateKeyPem, certificate: platform.certificatePem },
    clock,
    scheduler: clock,
    // The manual clock only moves when a test moves it: without a burst, a second call would wait forever.
    burst: 100,
    ...extra,
  });
  return { client, clock, server };
}

async function rejection(promise: Promise<unknown>): Promise<SealflowError> {
  try {
    await promise;
  } catch (error) {
    if (isSealflowError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

const person = { personName: '张三', identTypeCode: '0', identNo: '110101199003071234', mobilePhone: '13812345678' };

describe('createCfcaClient: transactions', () => {
  it('posts form-encoded data and a signature over exactly that text, with head.txTime in China time', async () => {
    const { client, server } = await setUp(() => ok({ person: { ...person, userId: 'ABC' } }));
    const answer = await client.transaction<{ person: { userId: string } }>('3001', { person, notSendPwd: 0 });
    expect(answer.head.retCode).toBe('60000000');
    expect(answer.person.userId).toBe('ABC');

    const [request] = server.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`/FEP/platId/${PLAT_ID}/txCode/3001/transaction`);
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    const form = await formOf(request!);
    const data = String(form.get('data'));
    expect(JSON.parse(data)).toEqual({ head: { txTime: '20270101003005' }, person, notSendPwd: 0 });
    expect(data).toContain('张三'); // raw UTF-8, the signed bytes
    const check = verifyCfcaSignature({
      data,
      signature: String(form.get('signature')),
      certificate: platform.certificatePem,
    });
    expect(check).toMatchObject({ ok: true, digest: 'sha256' });
    expect([...form.keys()].sort()).toEqual(['data', 'signature']);
  });

  it('takes null per-call options as none, and refuses options that are not an object with a typed error', async () => {
    const { client, server } = await setUp(() => ok({ person: { ...person, userId: 'ABC' } }));
    const answer = await client.transaction<{ person: { userId: string } }>('3001', { person }, null as never);
    expect(answer.person.userId).toBe('ABC');
    for (const call of [42, 'fast', [1]]) {
      const refused = await rejection(client.transaction('3001', { person }, call as never));
      expect(refused).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('options') });
      await expect(client.download('C0001', call as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(server.received).toHaveLength(1);
  });

  it('formats txTime as yyyyMMddHHmmss in the configured offset', () => {
    const at = Date.UTC(2026, 11, 31, 16, 30, 5);
    expect(formatTxTime(at)).toBe('20270101003005');
    expect(formatTxTime(at, 0)).toBe('20261231163005');
    expect(formatTxTime(Date.UTC(2026, 2, 4, 1, 2, 3))).toMatch(/^20260304090203$/);
  });

  it('sends SHA-1 signatures, channel and locale when configured', async () => {
    const { client, server } = await setUp(() => ok(), {
      signer: { key: platform.privateKeyPem, certificate: platform.certificatePem, digest: 'sha1' },
      channel: 'sealflow',
      locale: 'en_US',
    });
    await client.transaction('3210', { contract: { contractNo: 'JK20260101000000001' } });
    const form = await formOf(server.received[0]!);
    expect(form.get('channel')).toBe('sealflow');
    expect(form.get('locale')).toBe('en_US');
    const check = verifyCfcaSignature({ data: String(form.get('data')), signature: String(form.get('signature')) });
    expect(check).toMatchObject({ ok: true, digest: 'sha1' });
  });

  it('uploads a PDF for 3203 as multipart with the raw data, the signature and the file', async () => {
    const { client, server } = await setUp(() => ok({ contract: { contractNo: 'MM20260101000000001' } }));
    const pdf = new Uint8Array(Buffer.from('%PDF-1.7\n中文 contract\n%%EOF'));
    const answer = await client.transaction(
      '3203',
      { uploadContract: { contractTypeCode: 'MM', contractName: '借款合同' } },
      {
        contractFile: { bytes: pdf, filename: 'loan.pdf' },
      },
    );
    expect(answer.contract).toEqual({ contractNo: 'MM20260101000000001' });
    const request = server.received[0]!;
    expect(request.url).toBe(`/FEP/platId/${PLAT_ID}/txCode/3203/transaction`);
    expect(String(request.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    const form = await formOf(request);
    const data = String(form.get('data'));
    expect(JSON.parse(data).uploadContract.contractName).toBe('借款合同');
    expect(
      verifyCfcaSignature({ data, signature: String(form.get('signature')), certificate: platform.certificate }).ok,
    ).toBe(true);
    const file = form.get('contractFile') as File;
    expect(file.name).toBe('loan.pdf');
    expect(file.type).toBe('application/octet-stream');
    expect(Buffer.from(await file.arrayBuffer()).equals(Buffer.from(pdf))).toBe(true);

    await expect(client.transaction('3203', { uploadContract: {} })).rejects.toThrow(/contractFile/);
    await expect(client.transaction('32a1', {})).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('createCfcaClient: failures', () => {
  it('maps the error form to typed errors, retryable only where asking again helps, with personal data masked', async () => {
    const replies: Reply[] = [
      { status: 200, body: JSON.stringify({ errorCode: '60030202', errorMessage: '用户张三(13812345678)信息不存在' }) },
      {
        status: 400,
        body: JSON.stringify({ errorCode: '60030407', errorMessage: '该批次还没有执行完毕，请稍后再试' }),
      },
      { body: JSON.stringify({ errorCode: '60030401', errorMessage: '已经开通代签权限' }) },
      { body: JSON.stringify({ errorCode: '69999999', errorMessage: '签名验证失败' }) },
      { body: JSON.stringify({ head: { retCode: '60020001', retMessage: '参数错误' } }) },
    ];
    const { client } = await setUp(() => replies.shift() ?? ok());

    const notFound = await rejection(
      client.transaction('3102', { proxySign: { userId: 'U1', checkCode: '123456' }, person }),
    );
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', retryable: false, details: { vendorCode: '60030202' } });
    expect(notFound.message).not.toContain('张三');
    expect(notFound.message).not.toContain('13812345678');
    expect(notFound.message).toContain('138****5678');

    const notReady = await rejection(client.transaction('3211', { batchNo: 'B1' }));
    expect(notReady).toMatchObject({
      code: 'VENDOR_NOT_READY',
      retryable: true,
      details: { vendorCode: '60030407', httpStatus: 400 },
    });
    expect(await rejection(client.transaction('3101', {}))).toMatchObject({ code: 'DUPLICATE', retryable: false });
    expect(await rejection(client.transaction('3001', {}))).toMatchObject({
      code: 'VENDOR_REJECTED',
      retryable: false,
      details: { vendorCode: '69999999' },
    });
    expect(await rejection(client.transaction('3001', {}))).toMatchObject({
      code: 'VENDOR_REJECTED',
      details: { vendorCode: '60020001' },
    });
  });

  it('lets errorCodes add or correct rules', async () => {
    const { client } = await setUp(() => ({ body: JSON.stringify({ errorCode: '69999999', errorMessage: 'busy' }) }), {
      errorCodes: { '69999999': { code: 'VENDOR_UNAVAILABLE', retryable: true, hint: 'try later.' } },
    });
    expect(await rejection(client.transaction('3001', {}))).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
    });
  });

  it('tells a broken answer from a server failure', async () => {
    const replies: Reply[] = [
      { status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html' },
      { status: 200, body: '{"head":{"retCode":"6000' },
      { status: 200, body: JSON.stringify({ contract: {} }) },
      { status: 404, body: '<html>Not Found</html>', contentType: 'text/html' },
    ];
    const { client } = await setUp(() => replies.shift() ?? ok());
    expect(await rejection(client.transaction('3210', {}))).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
    });
    expect(await rejection(client.transaction('3210', {}))).toMatchObject({
      code: 'VENDOR_BAD_RESPONSE',
      retryable: true,
    });
    expect(await rejection(client.transaction('3210', {}))).toMatchObject({
      code: 'VENDOR_BAD_RESPONSE',
      retryable: false,
    });
    expect(await rejection(client.transaction('3210', {}))).toMatchObject({
      code: 'VENDOR_REJECTED',
      retryable: false,
    });
  });

  it('gives up at timeoutMs with the retryable VENDOR_TIMEOUT', async () => {
    const { client, clock, server } = await setUp(() => 'hang', { timeoutMs: 5_000 });
    const call = rejection(client.transaction('3210', { contract: { contractNo: 'JK1' } }));
    await server.arrived(1);
    clock.advance(4_999);
    clock.advance(1);
    const error = await call;
    expect(error).toMatchObject({ code: 'VENDOR_TIMEOUT', retryable: true, details: { timeoutMs: 5_000 } });
  });

  it('stops with VENDOR_ABORTED when the caller aborts', async () => {
    const { client, server } = await setUp(() => 'hang');
    const controller = new AbortController();
    const call = rejection(client.transaction('3210', {}, { signal: controller.signal }));
    await server.arrived(1);
    controller.abort();
    expect(await call).toMatchObject({ code: 'VENDOR_ABORTED', retryable: false });
  });

  it('classifies a refused connection as retryable VENDOR_UNAVAILABLE', async () => {
    const { client, server } = await setUp(() => ok());
    await server.close();
    expect(await rejection(client.transaction('3210', {}))).toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
      details: { networkError: 'ECONNREFUSED' },
    });
  });
});

describe('createCfcaClient: rate limit', () => {
  it('spaces the calls of one client at 1/qps on its clock', async () => {
    const arrivals: number[] = [];
    let clockRef: { now(): number } | undefined;
    const { client, clock, server } = await setUp(
      () => {
        arrivals.push(clockRef?.now() ?? -1);
        return ok();
      },
      { qps: 2, burst: 1 },
    );
    clockRef = clock;
    const start = clock.now();
    const calls = [1, 2, 3].map(() => client.transaction('3210', {}));
    await server.arrived(1);
    clock.advance(500);
    await server.arrived(2);
    clock.advance(500);
    await server.arrived(3);
    await Promise.all(calls);
    expect(arrivals.map((t) => t - start)).toEqual([0, 500, 1000]);

    // Another client has a bucket of its own.
    const other = createCfcaClient({
      baseUrl: server.baseUrl,
      platId: PLAT_ID,
      tls: { cert: platform.certificatePem, key: platform.privateKeyPem },
      signer: { key: platform.privateKeyPem, certificate: platform.certificatePem },
      clock,
      scheduler: clock,
      qps: 2,
    });
    // Goes through at once, without the clock moving, while the first client's next turn is 500 ms away.
    await other.transaction('3210', {});
    expect(arrivals.map((t) => t - start)).toEqual([0, 500, 1000, 1000]);
  });
});

describe('createCfcaClient: downloads', () => {
  it('downloads a PDF and a ZIP by GET without a signature, and maps a JSON error', async () => {
    const pdf = Buffer.from('%PDF-1.7\n...\n%%EOF');
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]);
    const replies: Reply[] = [
      { body: pdf, contentType: 'application/pdf' },
      { body: zip, contentType: 'application/zip' },
      { status: 400, body: JSON.stringify({ errorCode: '50030301', errorMessage: '合同信息不存在' }) },
      { status: 200, body: '<html>login</html>', contentType: 'text/html' },
    ];
    const { client, server } = await setUp(() => replies.shift() ?? ok());
    expect(Buffer.from(await client.download('JK20260101000000001')).equals(pdf)).toBe(true);
    expect(server.received[0]).toMatchObject({
      method: 'GET',
      url: `/FEP/platId/${PLAT_ID}/contractNo/JK20260101000000001/downloading`,
    });
    expect(Buffer.from(await client.batchDownload(['JK1', 'JK2'])).equals(zip)).toBe(true);
    expect(server.received[1]?.url).toBe(`/FEP/platId/${PLAT_ID}/contractNos/JK1@JK2/batchDownloading`);
    expect(await rejection(client.download('JK404'))).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    expect(await rejection(client.download('JK1'))).toMatchObject({ code: 'VENDOR_BAD_RESPONSE' });
    await expect(client.download('../x')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('a PDF cut off before its %%EOF is a retryable VENDOR_BAD_RESPONSE, not a contract', async () => {
    const whole = Buffer.from(`%PDF-1.7\n${'x'.repeat(3000)}\n%%EOF\n`);
    const replies: Reply[] = [
      { body: whole.subarray(0, 1500), contentType: 'application/pdf' },
      { body: whole, contentType: 'application/pdf' },
    ];
    const { client } = await setUp(() => replies.shift() ?? ok());
    const cut = await rejection(client.download('JK20260101000000001'));
    expect(cut).toMatchObject({ code: 'VENDOR_BAD_RESPONSE', retryable: true });
    expect(cut.message).toContain('cut off');
    expect(Buffer.from(await client.download('JK20260101000000001')).equals(whole)).toBe(true);
  });
});
