/**
 * The e签宝 open API v3 client: signed JSON requests over axios, answers unwrapped from the `{ code, message, data }`
 * envelope, every failure a typed `SealflowError`.
 *
 * The body is serialised once and exactly those bytes are hashed (Content-MD5), signed and sent — an HTTP library
 * that re-serialises a body is the classic cause of `INVALID_SIGNATURE`, so axios is told to leave both the request
 * and the response alone.
 */
import axiosDefault, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import {
  type Clock,
  createRateLimiter,
  type RateLimiter,
  type Scheduler,
  SealflowError,
  ValidationError,
  systemClock,
  systemScheduler,
  withinTimeLimit,
} from '@sealflow/core';
import { z } from 'zod';
import {
  abortedError,
  authError,
  badResponseError,
  businessError,
  ESIGN_BUSINESS_CODES,
  type EsignCallContext,
  type EsignCodeRule,
  httpError,
  networkError,
  personalDataScrubber,
  timeoutError,
} from './errors.js';
import { buildPathAndQuery, type EmptyQueryValue, JSON_CONTENT_TYPE, signRequest } from './signature.js';

/** e签宝's hosts by environment. Apps, secrets, whitelists and data are separate per environment. */
export const ESIGN_HOSTS = {
  production: 'https://openapi.esign.cn',
  sandbox: 'https://smlopenapi.esign.cn',
} as const;

/** Options of {@link createEsignClient}. */
export interface EsignClientOptions {
  /** The app id (项目ID / 应用ID) of the environment the host belongs to. */
  appId: string;
  /** The app secret (APP KEY / 应用密钥). Never logged. */
  appSecret: string;
  /** `sandbox`, `production`, or a base URL (an emulator, a forward proxy); no trailing path is added. */
  host: 'sandbox' | 'production' | URL | string;
  /** How long one call may take, from sending to the parsed answer. Default 15 000 ms. */
  timeoutMs?: number;
  /**
   * Calls per second, shared by all calls of this client; calls beyond it wait for their turn. e签宝 publishes no
   * limit; default 5.
   */
  qps?: number;
  /** Calls that may go at once after a quiet period. Default 1 (evenly spaced). */
  burst?: number;
  /** Timestamps for signing and the rate limiter's time. */
  clock?: Clock;
  /** Runs the timeouts and the rate limiter's waits; tests pass a manual clock. */
  scheduler?: Scheduler;
  /** The axios instance to send with (proxy agents, interceptors for logging). Default: axios' default instance. */
  axios?: AxiosInstance;
  /** Extra or corrected business-code rules, merged over {@link ESIGN_BUSINESS_CODES}. */
  businessCodes?: Record<number, EsignCodeRule>;
  /**
   * `Content-Type` sent (and signed) on requests without a body. Default `application/json; charset=UTF-8` as the
   * official demo does; the documentation also allows `''` (header left out).
   */
  contentTypeWithoutBody?: string;
  /** How an empty query value is signed (`key=` or `key`); the sources disagree, so avoid empty values. */
  emptyQueryValue?: EmptyQueryValue;
}

/** Query parameters; `undefined` values are left out. */
export type EsignQuery = Record<string, string | number | boolean | undefined>;

/** One call's options. */
export interface EsignRequestOptions<T> {
  query?: EsignQuery;
  /** Serialised with `JSON.stringify` once; omit for requests without a body. */
  body?: unknown;
  /** Checks `data` of a successful answer; without it `data` is returned unchecked. */
  schema?: z.ZodType<T>;
  /** Aborts the call (and its wait for a turn) with `VENDOR_ABORTED`. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** HTTP methods e签宝 V3 uses. */
export type EsignMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A configured e签宝 client. */
export interface EsignClient {
  /** The base URL calls go to. */
  readonly baseUrl: string;
  readonly appId: string;
  /**
   * Send one signed request and return `data` of a `code: 0` answer. Throws `SealflowError`: `VENDOR_AUTH_FAILED`,
   * `VENDOR_FORBIDDEN`, `VENDOR_RATE_LIMITED`, `VENDOR_UNAVAILABLE`, `VENDOR_TIMEOUT`, `VENDOR_BAD_RESPONSE`,
   * `VENDOR_REJECTED`, `NOT_FOUND`, `VENDOR_ABORTED`, … with `details.vendorCode` for e签宝's business codes.
   */
  request<T = unknown>(method: EsignMethod, path: string, options?: EsignRequestOptions<T>): Promise<T>;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_QPS = 5;

const envelopeSchema = z.looseObject({
  code: z.union([
    z.number().int(),
    z
      .string()
      .regex(/^-?\d+$/)
      .transform(Number),
  ]),
  message: z.string().nullish(),
  data: z.unknown().optional(),
});

/** Resolve the `host` option to a base URL without a trailing slash. */
export function esignBaseUrl(host: EsignClientOptions['host']): string {
  if (host === 'sandbox' || host === 'production') return ESIGN_HOSTS[host];
  let url: URL;
  try {
    url = new URL(String(host));
  } catch {
    throw new ValidationError(
      `host must be "sandbox", "production" or an absolute http(s) URL, got "${String(host)}".`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError(`host must be an http(s) URL, got protocol "${url.protocol}".`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Create an e签宝 V3 client: signs every request (Signature auth mode), paces calls with a token bucket, enforces a
 * per-call timeout, and turns every failure into a typed `SealflowError`.
 */
export function createEsignClient(options: EsignClientOptions): EsignClient {
  const problems: string[] = [];
  if (!options.appId) problems.push('appId is empty');
  if (!options.appSecret) problems.push('appSecret is empty');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) problems.push(`timeoutMs is ${String(timeoutMs)}`);
  if (problems.length) {
    throw new ValidationError(`e签宝 client options are not usable: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const baseUrl = esignBaseUrl(options.host);
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const http = options.axios ?? axiosDefault;
  const codes = { ...ESIGN_BUSINESS_CODES, ...options.businessCodes };
  const limiter: RateLimiter = createRateLimiter({
    qps: options.qps ?? DEFAULT_QPS,
    burst: options.burst,
    clock,
    scheduler,
    vendor: { id: 'esign', name: 'e签宝' },
  });
  const encoder = new TextEncoder();

  async function request<T>(method: EsignMethod, path: string, call: EsignRequestOptions<T> = {}): Promise<T> {
    if (!path.startsWith('/') || path.includes('?') || path.includes('#')) {
      throw new ValidationError(
        `e签宝 path must start with "/" and carry no query ("${path.split('?')[0]}"); pass query parameters as query.`,
      );
    }
    const context: EsignCallContext = {
      method,
      path,
      scrub: personalDataScrubber(call.body, call.query),
    };
    const callTimeout = call.timeoutMs ?? timeoutMs;
    const pathAndQuery = buildPathAndQuery(path, call.query);
    const body = call.body === undefined ? undefined : encoder.encode(JSON.stringify(call.body));

    if (call.signal?.aborted) throw abortedError(context, call.signal.reason);
    await limiter.acquire(call.signal).catch((error: unknown) => {
      throw abortedError(context, (error as { cause?: unknown }).cause ?? error);
    });

    const signed = signRequest({
      appId: options.appId,
      appSecret: options.appSecret,
      method,
      pathAndQuery,
      body,
      timestamp: clock.now(),
      contentType: body === undefined ? (options.contentTypeWithoutBody ?? JSON_CONTENT_TYPE) : JSON_CONTENT_TYPE,
      emptyQueryValue: options.emptyQueryValue,
    });

    // The call ends at its timeout even if the HTTP library ignores the abort.
    const limit = {
      timeoutMs: callTimeout,
      scheduler,
      signal: call.signal,
      abortError: (reason: unknown) => abortedError(context, reason),
      timeoutError: () => timeoutError(context, callTimeout),
    };
    let response: AxiosResponse<string>;
    try {
      response = await withinTimeLimit(limit, (signal) =>
        http.request<string>({
          method,
          url: baseUrl + pathAndQuery,
          // `false` keeps axios from adding a Content-Type of its own (form-encoded on a body-less POST) that was not signed.
          headers: { 'Content-Type': false, ...signed.headers },
          data: body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          // Exactly the signed bytes go out; the answer is parsed here, not by axios.
          transformRequest: [(data: unknown) => data],
          transformResponse: [(data: unknown) => data],
          responseType: 'text',
          responseEncoding: 'utf8',
          validateStatus: () => true,
          maxRedirects: 0,
          signal,
        }),
      );
    } catch (thrown) {
      if (thrown instanceof SealflowError) throw thrown;
      if (call.signal?.aborted) throw abortedError(context, call.signal.reason);
      if (isAxiosError(thrown) && (thrown.code === 'ECONNABORTED' || thrown.code === 'ETIMEDOUT')) {
        throw timeoutError(context, callTimeout, thrown);
      }
      throw networkError(context, thrown);
    }
    return parseResponse(context, response, call.schema, codes);
  }

  return { baseUrl, appId: options.appId, request };
}

function parseResponse<T>(
  context: EsignCallContext,
  response: AxiosResponse<string>,
  schema: z.ZodType<T> | undefined,
  codes: Readonly<Record<number, EsignCodeRule>>,
): T {
  const status = response.status;
  const text = typeof response.data === 'string' ? response.data : String(response.data ?? '');
  let json: unknown;
  let parsedJson = true;
  try {
    json = JSON.parse(text);
  } catch {
    parsedJson = false;
  }
  const envelope = parsedJson ? envelopeSchema.safeParse(json) : undefined;
  if (status === 401) {
    const message = envelope?.success ? (envelope.data.message ?? undefined) : undefined;
    throw authError(context, message);
  }
  // Business errors come as non-zero codes, normally with HTTP 200; a 4xx with an envelope is read the same way.
  if (envelope?.success && envelope.data.code !== 0 && status < 500 && status !== 429) {
    throw businessError(context, envelope.data.code, envelope.data.message ?? undefined, status, codes);
  }
  if (status < 200 || status >= 300) {
    throw httpError(context, status, parsedJson ? '' : text, retryAfter(response));
  }
  if (!parsedJson) throw badResponseError(context, status, 'the body is not JSON', true);
  if (!envelope?.success) throw badResponseError(context, status, 'the body is not a { code, message, data } envelope');
  const data = envelope.data.data ?? null;
  if (!schema) return data as T;
  const checked = schema.safeParse(data);
  if (!checked.success) {
    const where = checked.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || 'data'}: ${issue.message}`)
      .join('; ');
    throw badResponseError(context, status, `data does not have the expected shape (${where})`);
  }
  return checked.data;
}

function retryAfter(response: AxiosResponse): number | undefined {
  const value = (response.headers as Record<string, unknown>)['retry-after'];
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
