/**
 * The emulator over HTTP: msw handlers for everything under the base URL. API calls pass the gateway first (the
 * signature checker the client is built against, so both sides share one reading of the rules), then fault
 * injection, then the route. Upload and download URLs stand in for Aliyun OSS and carry no e签宝 headers.
 */
import { checkSignedRequest, gatewayFailureBody } from '../client/signature.js';
import { type HttpHandler, HttpResponse, http } from 'msw';
import { EsignBusinessError, ESIGN_CODES, invalidParameter } from './codes.js';
import type { EsignFault, FaultTable } from './faults.js';
import type { RateLimiter, TrafficCounter } from './limits.js';
import type { AppRecord, OrgRecord, PersonRecord } from './model.js';
import { realNameCheckOf, type RealNameChecks } from './realname.js';
import { type EmulatorState, obj, paging } from './state.js';

type Json = Record<string, unknown>;

export interface HandlerContext {
  baseUrl: string;
  state: EmulatorState;
  faults: FaultTable;
  realName: RealNameChecks;
  now: () => number;
  timestampToleranceMs: number;
  /** The gateway's QPS limit per app; undefined: none. */
  rateLimiter: RateLimiter | undefined;
  /** Real-time wait before any request is looked at. */
  latencyMs: number;
  traffic: TrafficCounter;
}

interface RouteInput {
  app: AppRecord;
  params: string[];
  query: URLSearchParams;
  body: Json;
}

type Route = [method: string, pattern: RegExp, run: (input: RouteInput) => unknown | Promise<unknown>];

const ID = '([^/]+)';

function routes(ctx: HandlerContext): Route[] {
  const s = ctx.state;
  return [
    ['POST', /^\/v3\/files\/file-upload-url$/, ({ app, body }) => s.createUploadUrl(app, body)],
    [
      'GET',
      re(`/v3/files/${ID}`),
      ({ app, params, query }) => s.fileDetail(app, params[0]!, query.get('pageSize') === 'true'),
    ],
    [
      'POST',
      re(`/v3/files/${ID}/keyword-positions`),
      ({ app, params, body }) => s.keywordPositions(app, params[0]!, body.keywords),
    ],
    [
      'GET',
      re(`/v3/files/${ID}/keyword-positions`),
      ({ app, params, query }) => s.keywordPositions(app, params[0]!, (query.get('keywords') ?? '').split(',')),
    ],
    ['POST', /^\/v3\/files\/create-by-doc-template$/, ({ app, body }) => s.createByDocTemplate(app, body)],
    ['GET', /^\/v3\/doc-templates$/, ({ app, query }) => s.templateList(app, query)],
    ['GET', re(`/v3/doc-templates/${ID}`), ({ app, params }) => s.templateDetail(app, params[0]!)],
    ['POST', /^\/v3\/sign-flow\/create-by-file$/, ({ app, body }) => s.createByFile(app, body)],
    ['POST', /^\/v3\/sign-flow\/sign-flow-list$/, ({ app, body }) => s.list(app, body)],
    ['POST', re(`/v3/sign-flow/${ID}/start`), ({ app, params }) => s.startFlow(app, params[0]!)],
    ['POST', re(`/v3/sign-flow/${ID}/finish`), ({ app, params }) => s.finishFlow(app, params[0]!)],
    ['POST', re(`/v3/sign-flow/${ID}/revoke`), ({ app, params, body }) => s.revokeFlow(app, params[0]!, body)],
    ['POST', re(`/v3/sign-flow/${ID}/delay`), ({ app, params, body }) => s.delayFlow(app, params[0]!, body)],
    ['GET', re(`/v3/sign-flow/${ID}/detail`), ({ app, params }) => s.detail(app, params[0]!)],
    ['GET', re(`/v3/sign-flow/${ID}/status`), ({ app, params }) => s.flowStatus(app, params[0]!)],
    ['POST', re(`/v3/sign-flow/${ID}/sign-url`), ({ app, params, body }) => s.signUrl(app, params[0]!, body)],
    [
      'POST',
      re(`/v3/sign-flow/${ID}/signers/sign-fields`),
      ({ app, params, body }) => s.appendSigners(app, params[0]!, body),
    ],
    ['GET', re(`/v3/sign-flow/${ID}/file-download-url`), ({ app, params }) => s.fileDownloadUrl(app, params[0]!, {})],
    [
      'POST',
      re(`/v3/sign-flow/${ID}/file-download-url`),
      ({ app, params, body }) => s.fileDownloadUrl(app, params[0]!, body),
    ],
    [
      'GET',
      re(`/v3/sign-flow/${ID}/preview-file-download-url`),
      ({ app, params, query }) => s.previewFileDownloadUrl(app, params[0]!, query.get('docFileId')),
    ],
    // The older v1 API's silent signing for persons, on the same gateway (same signature auth and hosts).
    ['POST', re(`/v1/signAuth/${ID}`), ({ app, params, body }) => s.setSignAuth(app, params[0]!, body)],
    ['DELETE', re(`/v1/signAuth/${ID}`), ({ app, params }) => s.deleteSignAuth(app, params[0]!)],
    [
      'POST',
      re(`/v1/signflows/${ID}/signfields/autoSign`),
      ({ app, params, body }) => s.autoSignFields(app, params[0]!, body),
    ],
    [
      'POST',
      re(`/v1/signflows/${ID}/signfields/platformSign`),
      ({ app, params, body }) => s.platformSignFields(app, params[0]!, body),
    ],
    ['GET', /^\/v3\/organizations\/identity-info$/, ({ query }) => orgIdentity(s, query)],
    ['GET', /^\/v3\/persons\/identity-info$/, ({ query }) => personIdentity(s, query)],
    ['GET', /^\/v3\/seals\/org-own-seal-list$/, ({ query }) => ownSeals(s, query)],
    ['GET', /^\/v3\/seals\/org-authorized-seal-list$/, ({ query }) => authorizedSeals(s, query)],
    ['GET', /^\/v3\/seals\/org-seal-info$/, ({ query }) => sealInfo(s, query)],
  ];
}

function re(path: string): RegExp {
  return new RegExp(`^${path}$`);
}

export function createHandlers(ctx: HandlerContext): HttpHandler[] {
  const table = routes(ctx);
  const base = new URL(ctx.baseUrl);
  const prefix = base.pathname.replace(/\/$/, '');

  return [
    http.all(`${ctx.baseUrl.replace(/\/$/, '')}/*`, async ({ request }) => {
      const url = new URL(request.url);
      const path = url.pathname.slice(prefix.length);
      const raw = new Uint8Array(await request.arrayBuffer());
      if (ctx.latencyMs > 0) {
        const late = await applyFault({ kind: 'latency', ms: ctx.latencyMs }, request.signal);
        if (late) return late;
      }

      if (path.startsWith('/__oss/') && request.method === 'PUT') {
        const r = ctx.state.acceptUpload(
          decodeURIComponent(path.slice('/__oss/'.length)),
          url.searchParams,
          request.headers.get('Content-Type'),
          request.headers.get('Content-MD5'),
          raw,
        );
        return new HttpResponse(r.body, { status: r.status, headers: { 'Content-Type': r.contentType } });
      }
      if (path.startsWith('/__download/') && request.method === 'GET') {
        const d = ctx.state.download(path.slice('/__download/'.length));
        if (d === undefined) return new HttpResponse('NoSuchKey', { status: 404 });
        if (d === 'expired') return new HttpResponse('Request has expired.', { status: 403 });
        return new HttpResponse(d.bytes, {
          status: 200,
          headers: {
            'Content-Type': 'application/pdf',
            'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(d.fileName)}`,
          },
        });
      }
      if (path.startsWith('/__sign/') || path.startsWith('/__s/')) {
        // The sign page itself is not emulated: tests sign with emulator.signAsPerson.
        return new HttpResponse(
          '<!doctype html><title>e签宝 emulator</title><p>Sign with emulator.signAsPerson().</p>',
          {
            headers: { 'Content-Type': 'text/html; charset=utf-8' },
          },
        );
      }

      const failure = checkSignedRequest(
        { method: request.method, pathAndQuery: `${path}${url.search}`, headers: request.headers, body: raw },
        {
          secretFor: (appId) => ctx.state.apps.get(appId)?.appSecret,
          now: ctx.now(),
          toleranceMs: ctx.timestampToleranceMs,
        },
      );
      if (failure) return HttpResponse.json(gatewayFailureBody(failure.reason), { status: 401 });
      const app = ctx.state.apps.get(request.headers.get('X-Tsign-Open-App-Id')!)!;
      ctx.traffic.requests += 1;
      if (ctx.rateLimiter && !ctx.rateLimiter.take(app.appId)) {
        ctx.traffic.rateLimited += 1;
        return rateLimited();
      }

      const fault = ctx.faults.take(request.method, path);
      if (fault && !isProcessed(fault)) {
        const early = await applyFault(fault, request.signal);
        if (early) return early;
      }
      const response = await answer(table, request.method, path, url.searchParams, raw, app, ctx);
      if (fault && isProcessed(fault)) return (await applyFault(fault, request.signal)) ?? response;
      return response;
    }),
  ];
}

async function answer(
  table: Route[],
  method: string,
  path: string,
  query: URLSearchParams,
  raw: Uint8Array,
  app: AppRecord,
  ctx: HandlerContext,
): Promise<Response> {
  try {
    let body: Json = {};
    if (raw.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
      } catch {
        throw invalidParameter('请求体不是合法的JSON');
      }
      const o = obj(parsed);
      if (!o) throw invalidParameter('请求体必须是JSON对象');
      body = o;
    }
    const check = realNameCheckOf(path);
    if (check) {
      if (method !== 'POST') return notFound(405);
      return envelope(ctx.realName.check(check.kind, check.detail, body, ctx.now()));
    }
    const sameMethod = table.filter(([m]) => m === method);
    for (const [, pattern, run] of sameMethod) {
      const m = pattern.exec(path);
      if (m) return envelope((await run({ app, params: m.slice(1).map(decodeURIComponent), query, body })) ?? {});
    }
    if (table.some(([, pattern]) => pattern.test(path))) return notFound(405);
    return notFound(404);
  } catch (error) {
    if (error instanceof EsignBusinessError) {
      return HttpResponse.json({ code: error.esignCode, message: error.message, data: error.data });
    }
    throw error;
  }
}

function envelope(data: unknown): Response {
  return HttpResponse.json({ code: 0, message: '成功', data });
}

function notFound(status: 404 | 405): Response {
  return HttpResponse.json(
    { success: false, code: status, message: status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED' },
    { status },
  );
}

/** The gateway's refusal of a call over the app's limit; the call does nothing. */
function rateLimited(): Response {
  return HttpResponse.json({ success: false, code: 429, message: 'TOO_MANY_REQUESTS' }, { status: 429 });
}

function isProcessed(fault: EsignFault): boolean {
  return 'processed' in fault && fault.processed === true;
}

/** The answer a fault gives instead of the real one; undefined when the call should go on (latency). */
async function applyFault(fault: EsignFault, signal: AbortSignal): Promise<Response | undefined> {
  switch (fault.kind) {
    case 'latency':
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, fault.ms);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return signal.aborted ? HttpResponse.error() : undefined;
    case 'timeout':
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve());
      });
      return HttpResponse.error();
    case 'http':
      return new HttpResponse(fault.body ?? `<html><body><h1>${fault.status}</h1>nginx</body></html>`, {
        status: fault.status,
        headers: { 'Content-Type': fault.body === undefined ? 'text/html' : 'application/json' },
      });
    case 'rate-limit':
      return rateLimited();
    case 'malformed':
      return new HttpResponse('{"code":0,"message":"成功","data":{"signFl', {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    case 'business':
      return HttpResponse.json({ code: fault.code, message: fault.message, data: null });
    case 'network':
      return HttpResponse.error();
  }
}

// ------------------------------------------------------------------ organisations, people and seals

function orgIdentity(s: EmulatorState, query: URLSearchParams): Json {
  const orgId = query.get('orgId');
  const orgName = query.get('orgName');
  const card = query.get('orgIDCardNum');
  const org = [...s.orgs.values()].find(
    (o) => (orgId && o.orgId === orgId) || (orgName && o.orgName === orgName) || (card && o.orgIDCardNum === card),
  );
  if (!orgId && !orgName && !card) throw invalidParameter('orgId、orgName、orgIDCardNum不能同时为空');
  if (!org) throw new EsignBusinessError(ESIGN_CODES.USER_NOT_FOUND, '未找到用户信息: 机构不存在');
  return {
    orgId: org.orgId,
    orgName: org.orgName,
    realnameStatus: 1,
    authorizeUserInfo: false,
    orgInfo: { orgIDCardNum: org.orgIDCardNum, orgIDCardType: org.orgIDCardType },
  };
}

function personIdentity(s: EmulatorState, query: URLSearchParams): Json {
  const psnId = query.get('psnId');
  const account = query.get('psnAccount');
  const card = query.get('psnIDCardNum');
  if (!psnId && !account && !card) throw invalidParameter('psnId、psnAccount、psnIDCardNum不能同时为空');
  const people = [...s.people.values()];
  // The documented priority: psnId, then psnAccount, then the ID number.
  const person: PersonRecord | undefined = psnId
    ? s.people.get(psnId)
    : account
      ? people.find((p) => p.mobile === account || p.email === account)
      : people.find((p) => p.idNo !== undefined && p.idNo.toUpperCase() === card?.toUpperCase());
  if (!person) throw new EsignBusinessError(ESIGN_CODES.USER_NOT_FOUND, '未找到用户信息,请确认用户是否已注册');
  return {
    realnameStatus: person.realnamed ? 1 : 0,
    authorizeUserInfo: false,
    psnId: person.psnId,
    psnAccount: { accountMobile: person.mobile ?? null, accountEmail: person.email ?? null },
    psnInfo: {
      psnName: person.realnamed ? (person.name ?? null) : null,
      psnIDCardNum: person.realnamed ? (person.idNo ?? null) : null,
      psnIDCardType: person.realnamed ? person.idType : null,
      psnMobile: person.mobile ?? null,
    },
  };
}

function requireOrg(s: EmulatorState, orgId: string | null): OrgRecord {
  if (!orgId) throw invalidParameter('orgId不能为空');
  const org = s.orgs.get(orgId);
  if (!org) throw new EsignBusinessError(ESIGN_CODES.USER_NOT_FOUND, '未找到用户信息: 机构不存在');
  return org;
}

function ownSeals(s: EmulatorState, query: URLSearchParams): Json {
  const org = requireOrg(s, query.get('orgId'));
  const { pageNum, pageSize } = paging(query.get('pageNum'), query.get('pageSize'));
  const seals = [...s.seals.values()].filter((x) => x.orgId === org.orgId);
  return {
    total: seals.length,
    seals: seals.slice((pageNum - 1) * pageSize, pageNum * pageSize).map((x, i) => ({
      sealId: x.sealId,
      sealName: x.sealName,
      sealBizType: x.sealBizType,
      sealStatus: 1,
      defaultSealFlag: i === 0 && pageNum === 1,
    })),
  };
}

function authorizedSeals(s: EmulatorState, query: URLSearchParams): Json {
  const org = requireOrg(s, query.get('orgId'));
  const { pageNum, pageSize } = paging(query.get('pageNum'), query.get('pageSize'));
  const seals = [...s.seals.values()].filter((x) => x.authorizedOrgIds.has(org.orgId));
  return {
    total: seals.length,
    seals: seals.slice((pageNum - 1) * pageSize, pageNum * pageSize).map((x) => ({
      sealId: x.sealId,
      sealName: x.sealName,
      sealBizType: x.sealBizType,
      authorizerOrgId: x.orgId,
      authorizerOrgName: s.orgs.get(x.orgId)?.orgName ?? null,
    })),
  };
}

function sealInfo(s: EmulatorState, query: URLSearchParams): Json {
  const org = requireOrg(s, query.get('orgId'));
  const seal = s.seals.get(query.get('sealId') ?? '');
  if (!seal || seal.orgId !== org.orgId) {
    throw new EsignBusinessError(ESIGN_CODES.SEAL_NOT_AVAILABLE, '印章不存在或不属于该机构');
  }
  return { sealId: seal.sealId, sealName: seal.sealName, sealBizType: seal.sealBizType, sealStatus: 1 };
}
