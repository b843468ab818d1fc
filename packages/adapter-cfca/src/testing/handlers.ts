/**
 * The emulator over HTTP: msw handlers for 安心签's front-end processor under the base URL. A transaction passes, in
 * order: the platform check (platId registered), the request signature (a detached CMS SignedData over the exact
 * `data` text, verified against the platform's registered certificate with the client's own verifier, so both sides
 * share one reading of the rules), the JSON and `head.txTime` checks, then fault injection, then the transaction.
 * Downloads are plain GETs without a signature, as on 安心签.
 */
import { type HttpHandler, HttpResponse, http } from 'msw';
import { CFCA_CODES, CFCA_SUCCESS, CfcaBusinessError, parameterError } from './codes.js';
import { zip } from './documents.js';
import type { CfcaFault, FaultTable } from './faults.js';
import type { RateLimiter, TrafficCounter } from './limits.js';
import { type Json, obj, type PlatformRecord, parseTxTime } from './model.js';
import type { EmulatorState } from './state.js';
import { requestSignatureFailure } from './verify.js';

export interface HandlerContext {
  /** Ends with `/`, as clients append `platId/…` to it. */
  baseUrl: string;
  state: EmulatorState;
  faults: FaultTable;
  /** Accepted distance of `head.txTime` from the emulator's clock, either way; undefined: not checked. */
  txTimeToleranceMs: number | undefined;
  /** HTTP status of answers in the error form. */
  errorStatus: number;
  /** The FEP's QPS limit per platform; undefined: none. */
  rateLimiter: RateLimiter | undefined;
  /** Real-time wait before any call is looked at. */
  latencyMs: number;
  traffic: TrafficCounter;
}

export function createHandlers(ctx: HandlerContext): HttpHandler[] {
  const base = ctx.baseUrl;
  return [
    http.post(`${base}platId/:platId/txCode/:txCode/transaction`, async ({ request, params }) => {
      const txCode = String(params.txCode);
      const signal = request.signal;
      let work: (holdBatch: boolean) => Promise<Response>;
      const late = await waitLatency(ctx, signal);
      if (late) return late;
      try {
        const { platform, body, file } = await authenticate(ctx, request, String(params.platId));
        if (!admitted(ctx, platform.platId)) return failure(ctx, rateLimited());
        work = (holdBatch) => transact(ctx, platform, txCode, body, file, holdBatch);
      } catch (error) {
        return failure(ctx, error);
      }
      return withFault(ctx.faults.take('transaction', txCode), signal, false, work);
    }),

    http.get(
      `${base}platId/:platId/contractNo/:contractNo/downloading`,
      async ({ request, params }) =>
        (await refusedDownload(ctx, request.signal, String(params.platId))) ??
        withFault(ctx.faults.take('download', undefined), request.signal, DOWNLOAD, async () => {
          try {
            const platform = platformOf(ctx, String(params.platId));
            const c = ctx.state.contract(platform, decodeURIComponent(String(params.contractNo)));
            return pdf(c.bytes, `${c.contractNo}.pdf`);
          } catch (error) {
            return downloadFailure(error);
          }
        }),
    ),

    http.get(
      `${base}platId/:platId/contractNos/:contractNos/batchDownloading`,
      async ({ request, params }) =>
        (await refusedDownload(ctx, request.signal, String(params.platId))) ??
        withFault(ctx.faults.take('batch-download', undefined), request.signal, DOWNLOAD, async () => {
          try {
            const platform = platformOf(ctx, String(params.platId));
            const numbers = decodeURIComponent(String(params.contractNos))
              .split('@')
              .filter((n) => n !== '');
            if (numbers.length === 0) throw parameterError('contractNos不能为空');
            const entries = numbers.map((no) => {
              const c = ctx.state.contract(platform, no);
              return { name: `${c.contractNo}.pdf`, bytes: c.bytes };
            });
            return new HttpResponse(zip(entries), {
              status: 200,
              headers: {
                'Content-Type': 'application/zip',
                'Content-Disposition': 'attachment; filename="contracts.zip"',
              },
            });
          } catch (error) {
            return downloadFailure(error);
          }
        }),
    ),
  ];
}

function platformOf(ctx: HandlerContext, platId: string): PlatformRecord {
  const platform = ctx.state.platforms.get(platId);
  if (!platform) throw new CfcaBusinessError(CFCA_CODES.PLATFORM_NOT_FOUND, `平台${platId}不存在或未开通`);
  return platform;
}

/** The checks every transaction passes before it runs; throws a CfcaBusinessError naming the first that failed. */
async function authenticate(
  ctx: HandlerContext,
  request: Request,
  platId: string,
): Promise<{ platform: PlatformRecord; body: Json; file: Uint8Array | undefined }> {
  const platform = platformOf(ctx, platId);
  const type = request.headers.get('Content-Type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
    throw parameterError('请求须为application/x-www-form-urlencoded或multipart/form-data');
  }
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    throw parameterError('请求体无法解析');
  }
  const data = form.get('data');
  const signature = form.get('signature');
  if (typeof data !== 'string' || data === '') throw parameterError('data不能为空');
  if (typeof signature !== 'string' || signature === '') {
    throw new CfcaBusinessError(CFCA_CODES.SIGNATURE_INVALID, '签名验证失败: signature不能为空');
  }
  const reason = requestSignatureFailure(data, signature, platform.certificateDer);
  if (reason !== undefined) throw new CfcaBusinessError(CFCA_CODES.SIGNATURE_INVALID, `签名验证失败: ${reason}`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw parameterError('data不是合法的JSON');
  }
  const body = obj(parsed);
  if (!body) throw parameterError('data必须是JSON对象');
  const head = obj(body.head);
  if (!head || head.txTime === undefined) throw parameterError('head.txTime不能为空');
  const at = parseTxTime(head.txTime);
  if (at === undefined) throw parameterError('head.txTime格式应为yyyyMMddHHmmss');
  if (ctx.txTimeToleranceMs !== undefined && Math.abs(at - ctx.state.now()) > ctx.txTimeToleranceMs) {
    throw new CfcaBusinessError(CFCA_CODES.TX_TIME_INVALID, 'head.txTime与服务器时间相差过大');
  }

  const part = form.get('contractFile');
  const file = part !== null && typeof part !== 'string' ? new Uint8Array(await part.arrayBuffer()) : undefined;
  return { platform, body, file };
}

async function transact(
  ctx: HandlerContext,
  platform: PlatformRecord,
  txCode: string,
  body: Json,
  file: Uint8Array | undefined,
  holdBatch: boolean,
): Promise<Response> {
  try {
    const members = await ctx.state.run(platform, txCode, body, file, { holdBatch });
    return HttpResponse.json({
      head: { txTime: obj(body.head)?.txTime, locale: 'zh_CN', retCode: CFCA_SUCCESS, retMessage: 'OK' },
      ...members,
    });
  } catch (error) {
    return failure(ctx, error);
  }
}

function failure(ctx: HandlerContext, error: unknown): Response {
  if (error instanceof CfcaBusinessError) {
    return HttpResponse.json({ errorCode: error.errorCode, errorMessage: error.message }, { status: ctx.errorStatus });
  }
  throw error;
}

/** Waits the FEP's latency; an aborted call stops waiting and fails as a network error. */
async function waitLatency(ctx: HandlerContext, signal: AbortSignal): Promise<Response | undefined> {
  if (ctx.latencyMs <= 0) return undefined;
  return faultAnswer({ kind: 'latency', ms: ctx.latencyMs }, signal, undefined);
}

/** Counts a registered platform's call and takes a token; false when the call is over the limit. */
function admitted(ctx: HandlerContext, platId: string): boolean {
  ctx.traffic.requests += 1;
  if (!ctx.rateLimiter || ctx.rateLimiter.take(platId)) return true;
  ctx.traffic.rateLimited += 1;
  return false;
}

function rateLimited(): CfcaBusinessError {
  return new CfcaBusinessError(CFCA_CODES.RATE_LIMITED, '请求过于频繁，请稍后再试');
}

/** A download's latency and rate limit: the refusal (429 in the error form), or undefined when it goes on. */
async function refusedDownload(ctx: HandlerContext, signal: AbortSignal, platId: string) {
  const late = await waitLatency(ctx, signal);
  if (late) return late;
  if (!ctx.state.platforms.has(platId) || admitted(ctx, platId)) return undefined;
  const error = rateLimited();
  return HttpResponse.json({ errorCode: error.errorCode, errorMessage: error.message }, { status: 429 });
}

function downloadFailure(error: unknown): Response {
  if (error instanceof CfcaBusinessError) {
    const status = error.errorCode === CFCA_CODES.CONTRACT_NOT_FOUND ? 404 : 400;
    return HttpResponse.json({ errorCode: error.errorCode, errorMessage: error.message }, { status });
  }
  throw error;
}

function pdf(bytes: Uint8Array, fileName: string): Response {
  return new HttpResponse(bytes, {
    status: 200,
    headers: {
      'Content-Type': 'application/pdf',
      'Content-Disposition': `attachment; filename="${fileName}"`,
    },
  });
}

/** Marks a download: it changes nothing, so a fault always lets it run and then spoils or withholds its answer. */
const DOWNLOAD = true;

/** Runs `work` under `fault`: before it (the work never happens), or after it (processed, the answer lost). */
async function withFault(
  fault: CfcaFault | undefined,
  signal: AbortSignal,
  download: boolean,
  work: (holdBatch: boolean) => Promise<Response>,
): Promise<Response> {
  if (!fault) return work(false);
  // Only a 3202 creates a batch; on any other call the fault changes nothing.
  if (fault.kind === 'stuck-batch') return work(true);
  if (download || ('processed' in fault && fault.processed === true)) {
    const response = await work(false);
    return (await faultAnswer(fault, signal, response)) ?? response;
  }
  return (await faultAnswer(fault, signal, undefined)) ?? work(false);
}

async function faultAnswer(
  fault: Exclude<CfcaFault, { kind: 'stuck-batch' }>,
  signal: AbortSignal,
  processed: Response | undefined,
): Promise<Response | undefined> {
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
      return new HttpResponse(fault.body ?? `<html><body><h1>${fault.status}</h1>Apache Tomcat</body></html>`, {
        status: fault.status,
        headers: { 'Content-Type': fault.body === undefined ? 'text/html' : 'application/json' },
      });
    case 'rate-limit':
      return new HttpResponse('<html><body><h1>429 Too Many Requests</h1></body></html>', {
        status: 429,
        headers: { 'Content-Type': 'text/html' },
      });
    case 'malformed': {
      if (processed && processed.headers.get('Content-Type') === 'application/pdf') {
        const bytes = new Uint8Array(await processed.arrayBuffer());
        return new HttpResponse(bytes.subarray(0, Math.floor(bytes.length / 2)), {
          status: 200,
          headers: { 'Content-Type': 'application/pdf' },
        });
      }
      return new HttpResponse('{"head":{"txTime":"', {
        status: 200,
        headers: { 'Content-Type': 'application/json;charset=UTF-8' },
      });
    }
    case 'error':
      return HttpResponse.json({ errorCode: fault.errorCode, errorMessage: fault.errorMessage });
    case 'network':
      return HttpResponse.error();
  }
}
