/**
 * The emulator's gateway and fault injection: every API call is checked like e签宝's gateway does, and a test can
 * make calls slow, hang, fail or come back unreadable.
 */
import { readFileSync } from 'node:fs';
import { createManualClock } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEsignClient } from '../src/client/client.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { call, ok } from './emulator-support.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({ clock });
const server = setupServer(...emulator.handlers);
const contract = readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url));

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

const loanFlow = (fileId: string) => ({
  docs: [{ fileId, fileName: '借款合同.pdf' }],
  signFlowConfig: { signFlowTitle: '借款合同-LN0001', autoFinish: true },
  signers: [
    {
      signerType: 1,
      signConfig: { signOrder: 1 },
      signFields: [
        {
          fileId,
          customBizNum: 'LN0001-platform',
          normalSignFieldConfig: {
            autoSign: true,
            signFieldStyle: 1,
            signFieldPosition: { positionPage: '8', positionX: 400, positionY: 200 },
          },
        },
      ],
    },
    {
      signerType: 0,
      signConfig: { signOrder: 2 },
      psnSignerInfo: { psnAccount: '13800000000' },
      signFields: [
        {
          fileId,
          customBizNum: 'LN0001-borrower',
          normalSignFieldConfig: {
            signFieldStyle: 1,
            signFieldPosition: { positionPage: '8', positionX: 150, positionY: 200 },
          },
        },
      ],
    },
  ],
});

describe('the gateway', () => {
  it('lets a correctly signed request through and answers in the envelope', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const r = await call(emulator, clock.now(), 'GET', `/v3/files/${fileId}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ code: 0, message: '成功', data: { fileId, fileStatus: 2, fileTotalPageCount: 8 } });
  });

  it('signs query values unencoded and in key order, as the gateway checks them', async () => {
    const org = emulator.addOrg({ orgName: '杭州某某资金方 有限公司' });
    const path = `/v3/organizations/identity-info?orgName=${encodeURIComponent(org.orgName)}`;
    expect((await call(emulator, clock.now(), 'GET', path)).json.data).toMatchObject({ orgId: org.orgId });
  });

  it('refuses a wrong secret with 401 INVALID_SIGNATURE in the gateway shape', async () => {
    const r = await call(emulator, clock.now(), 'POST', '/v3/sign-flow/create-by-file', {
      body: loanFlow('x'),
      secret: 'not-the-secret',
    });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ success: false, code: 401, message: 'INVALID_SIGNATURE' });
  });

  it('refuses a body changed after signing (Content-MD5 no longer matches)', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const r = await call(emulator, clock.now(), 'POST', '/v3/sign-flow/create-by-file', {
      body: loanFlow(fileId),
      tamper: (body) => body.replace('LN0001', 'LN0002'),
    });
    expect(r.status).toBe(401);
    expect(r.json.message).toBe('INVALID_SIGNATURE');
    expect(emulator.findFlows({ signFlowTitle: '借款合同-LN0002' })).toEqual([]);
  });

  it('refuses a timestamp 20 minutes off, and seconds instead of milliseconds', async () => {
    const late = await call(emulator, clock.now(), 'GET', '/v3/doc-templates', {
      timestamp: clock.now() - 20 * 60_000,
    });
    expect(late).toEqual({ status: 401, json: { success: false, code: 401, message: 'INVALID_TIMESTAMP' } });
    const seconds = await call(emulator, clock.now(), 'GET', '/v3/doc-templates', {
      timestamp: Math.floor(clock.now() / 1000),
    });
    expect(seconds.json.message).toBe('INVALID_TIMESTAMP');
    const edge = await call(emulator, clock.now(), 'GET', '/v3/doc-templates', {
      timestamp: clock.now() - 14 * 60_000,
    });
    expect(edge.json.code).toBe(0);
  });

  it('refuses missing or wrong auth headers and unknown apps', async () => {
    const now = clock.now();
    const noMode = await call(emulator, now, 'GET', '/v3/doc-templates', {
      headers: { 'X-Tsign-Open-Auth-Mode': undefined },
    });
    expect(noMode.json.message).toBe('TOKEN_CANT_BE_NULL');
    const badMode = await call(emulator, now, 'GET', '/v3/doc-templates', {
      headers: { 'X-Tsign-Open-Auth-Mode': 'Token' },
    });
    expect(badMode.json.message).toBe('AUTHSTRATEGY_NOT_FOUND');
    const noSig = await call(emulator, now, 'GET', '/v3/doc-templates', {
      headers: { 'X-Tsign-Open-Ca-Signature': undefined },
    });
    expect(noSig.json.message).toBe('缺少参数');
    const other = await call(emulator, now, 'GET', '/v3/doc-templates', { appId: '5111000000' });
    expect(other).toEqual({ status: 401, json: { success: false, code: 401, message: '无效的应用' } });
  });

  it('answers unknown ids, bad input and wrong states with business codes', async () => {
    const now = clock.now();
    const unknown = await call(emulator, now, 'GET', `/v3/sign-flow/${'0'.repeat(32)}/detail`);
    expect(unknown.status).toBe(200);
    expect(unknown.json).toMatchObject({ code: ESIGN_CODES.FLOW_NOT_FOUND, data: null });
    expect((await call(emulator, now, 'GET', `/v3/files/${'1'.repeat(32)}`)).json).toMatchObject({
      code: 1430608,
      message: '查询合同信息失败: 合同不存在',
    });

    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const personAuto = loanFlow(fileId);
    (personAuto.signers[1]!.signFields[0]!.normalSignFieldConfig as Record<string, unknown>).autoSign = true;
    expect(
      (await call(emulator, now, 'POST', '/v3/sign-flow/create-by-file', { body: personAuto })).json,
    ).toMatchObject({
      code: 1435002,
      message: '参数错误: 个人签署不支持自动签署',
    });
    const noTitle = { ...loanFlow(fileId), signFlowConfig: {} };
    expect((await call(emulator, now, 'POST', '/v3/sign-flow/create-by-file', { body: noTitle })).json.message).toBe(
      '参数错误: signFlowTitle不能为空',
    );
    const noPosition = loanFlow(fileId);
    (noPosition.signers[1]!.signFields[0]!.normalSignFieldConfig as Record<string, unknown>).signFieldPosition =
      undefined;
    expect((await call(emulator, now, 'POST', '/v3/sign-flow/create-by-file', { body: noPosition })).json.message).toBe(
      '参数错误: 非自由模式signFieldPosition不能为空',
    );
    const notJson = await call(emulator, now, 'POST', '/v3/sign-flow/create-by-file', { rawBody: '{"docs":' });
    expect(notJson.json.code).toBe(1435002);

    const { signFlowId } = await ok(emulator, now, 'POST', '/v3/sign-flow/create-by-file', loanFlow(fileId));
    expect((await call(emulator, now, 'POST', `/v3/sign-flow/${signFlowId}/file-download-url`)).json).toMatchObject({
      code: 1437518,
      message: '流程非签署完成状态,不允许下载文档',
    });
    expect((await call(emulator, now, 'POST', `/v3/sign-flow/${signFlowId}/start`)).json.code).toBe(
      ESIGN_CODES.FLOW_STATE,
    );
  });
});

describe('fault injection', () => {
  it('fails the next N calls of a path with a 5xx, then answers again', async () => {
    emulator.faults.next({ kind: 'http', status: 502 }, { path: '/v3/doc-templates', times: 2 });
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(502);
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(502);
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(200);
  });

  it('answers a rate-limit refusal, a malformed body, a business code and a dropped connection', async () => {
    emulator.faults.next({ kind: 'rate-limit' });
    expect(await fetchStatus('/v3/doc-templates')).toEqual({
      status: 429,
      text: '{"success":false,"code":429,"message":"TOO_MANY_REQUESTS"}',
    });
    emulator.faults.next({ kind: 'malformed' });
    const malformed = await fetchStatus('/v3/doc-templates');
    expect(malformed.status).toBe(200);
    expect(() => JSON.parse(malformed.text)).toThrow();
    emulator.faults.next({ kind: 'business', code: 30504002, message: '数据源查询失败' });
    expect(JSON.parse((await fetchStatus('/v3/doc-templates')).text)).toEqual({
      code: 30504002,
      message: '数据源查询失败',
      data: null,
    });
    emulator.faults.next({ kind: 'network' });
    await expect(call(emulator, clock.now(), 'GET', '/v3/doc-templates')).rejects.toThrow();
  });

  it('delays an answer by a latency fault and then answers normally; a client with a shorter timeout gives up', async () => {
    const clientWith = (timeoutMs: number) =>
      createEsignClient({
        appId: emulator.app.appId,
        appSecret: emulator.app.appSecret,
        host: emulator.baseUrl,
        clock,
        qps: 1000,
        burst: 100,
        timeoutMs,
      });
    emulator.faults.next({ kind: 'latency', ms: 20 }, { path: '/v3/doc-templates' });
    await expect(clientWith(30_000).request('GET', '/v3/doc-templates')).resolves.toMatchObject({ total: 0 });
    emulator.faults.next({ kind: 'latency', ms: 2_000 }, { path: '/v3/doc-templates' });
    const error = await clientWith(50)
      .request('GET', '/v3/doc-templates')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VENDOR_TIMEOUT', retryable: true });
  });

  it('hangs a call until the client aborts it', async () => {
    emulator.faults.next({ kind: 'timeout' }, { path: '/v3/sign-flow/:id/detail' });
    const controller = new AbortController();
    const pending = call(emulator, clock.now(), 'GET', `/v3/sign-flow/${'a'.repeat(32)}/detail`, {
      signal: controller.signal,
    });
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    controller.abort();
    await expect(pending).rejects.toThrow();
  });

  it('can do the work and lose only the answer, so a retry must look the flow up first', async () => {
    const fileId = emulator.seedFile({ pdf: contract, fileName: '借款合同.pdf' });
    const body = { ...loanFlow(fileId), signFlowConfig: { signFlowTitle: '借款合同-LN0777', autoFinish: true } };
    emulator.faults.next({ kind: 'http', status: 504, processed: true }, { path: '/v3/sign-flow/create-by-file' });
    const lost = await call(emulator, clock.now(), 'POST', '/v3/sign-flow/create-by-file', {
      rawBody: JSON.stringify(body),
    }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(Error); // the 504 page is not JSON
    const [created] = emulator.findFlows({ customBizNum: 'LN0001-borrower', signFlowTitle: '借款合同-LN0777' });
    expect(created).toBeDefined();
    const listed = await ok(emulator, clock.now(), 'POST', '/v3/sign-flow/sign-flow-list', {
      pageNum: 1,
      pageSize: 50,
    });
    const item = listed.signFlowInfos.find((f: { signFlowId: string }) => f.signFlowId === created);
    expect(item).toMatchObject({ signFlowTitle: '借款合同-LN0777', signFlowStatus: 1 });
  });

  it('random faults hit about the asked share of calls, from the mix, and the same seed repeats them', async () => {
    const run = async (seed: number) => {
      const random = emulator.faults.random({
        rate: 0.3,
        seed,
        faults: [{ kind: 'http', status: 503 }, { kind: 'rate-limit' }, { kind: 'malformed' }],
        match: { path: '/v3/doc-templates' },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const answer = await fetchStatus('/v3/doc-templates');
        const readable = (() => {
          try {
            return JSON.parse(answer.text).code === 0;
          } catch {
            return false;
          }
        })();
        statuses.push(answer.status === 200 && readable ? 0 : answer.status);
      }
      random.stop();
      return { statuses, random };
    };
    const first = await run(42);
    expect(first.random.calls).toBe(60);
    const faulted = first.statuses.filter((s) => s !== 0);
    expect(faulted.length).toBe(first.random.injected.length);
    // 30 % of 60 is 18; a seeded run lands near it (binomial: 9 to 27 holds far beyond 99.9 %).
    expect(faulted.length).toBeGreaterThanOrEqual(9);
    expect(faulted.length).toBeLessThanOrEqual(27);
    expect(new Set(first.random.injected.map((f) => f.fault.kind))).toEqual(
      new Set(['http', 'rate-limit', 'malformed']),
    );
    expect(new Set(faulted)).toEqual(new Set([503, 429, 200]));
    expect((await run(42)).statuses).toEqual(first.statuses);
    expect((await run(7)).statuses).not.toEqual(first.statuses);
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(200);
  });

  it('random refuses a bad rate, seed or mix; a next rule goes first; clear removes both', async () => {
    expect(() => emulator.faults.random({ rate: 2, seed: 1, faults: [{ kind: 'network' }] })).toThrow(/rate/);
    expect(() => emulator.faults.random({ rate: 0.2, seed: 0.5, faults: [{ kind: 'network' }] })).toThrow(/seed/);
    expect(() => emulator.faults.random({ rate: 0.2, seed: 1, faults: [] })).toThrow(/at least one/);
    emulator.faults.random({ rate: 1, seed: 1, faults: [{ kind: 'http', status: 503 }] });
    emulator.faults.next({ kind: 'rate-limit' });
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(429);
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(503);
    emulator.faults.clear();
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(200);
  });

  it('keeps an always-rule until it is removed, and matches by method', async () => {
    const remove = emulator.faults.always(
      { kind: 'http', status: 503 },
      { path: /^\/v3\/doc-templates/, method: 'GET' },
    );
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(503);
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(503);
    remove();
    expect((await fetchStatus('/v3/doc-templates')).status).toBe(200);
  });
});

async function fetchStatus(path: string): Promise<{ status: number; text: string }> {
  const { signRequest } = await import('../src/client/signature.js');
  const signed = signRequest({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    method: 'GET',
    pathAndQuery: path,
    timestamp: clock.now(),
  });
  const r = await fetch(`${emulator.baseUrl}${path}`, { headers: signed.headers });
  return { status: r.status, text: await r.text() };
}
