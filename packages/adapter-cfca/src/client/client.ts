/**
 * The CFCA 安心签 platform API client: signed transactions over mutual TLS, answers unwrapped from CFCA's envelope,
 * every failure a typed `SealflowError`.
 *
 * A transaction is `POST {baseUrl}platId/{platId}/txCode/{txCode}/transaction` with the form fields `data` (the
 * request JSON) and `signature` (a detached CMS signature over exactly those UTF-8 bytes). The JSON is serialised
 * once and exactly that text is signed and sent; axios is told to leave both the request and the answer alone, since
 * an HTTP library that re-serialises a body breaks the signature. Downloads are plain GETs, authenticated by the TLS
 * client certificate only.
 */
import { Agent as HttpsAgent } from 'node:https';
import {
  type Clock,
  createRateLimiter,
  withinTimeLimit,
  isWholePdf,
  type Scheduler,
  SealflowError,
  ValidationError,
  systemClock,
  systemScheduler,
} from '@sealflow/core';
import axiosDefault, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import {
  abortedError,
  badResponseError,
  CFCA_ERROR_CODES,
  CFCA_SUCCESS_CODE,
  type CfcaCallContext,
  type CfcaCodeRule,
  httpError,
  networkError,
  personalDataScrubber,
  timeoutError,
  vendorCodeError,
} from './errors.js';
import { type CfcaSignerOptions, createCfcaSigner } from './signature.js';

/** CFCA's hosts as seen in public integrations. Both end in `/FEP/`. */
export const CFCA_HOSTS = {
  /** The test system; an IP address, so its certificate cannot match the host name (see `tls.verifyHostname`). */
  test: 'https://210.74.42.33:9443/FEP/',
  /** The production host used by public integrations; confirm it with CFCA when the platform goes live. */
  production: 'https://cs.anxinsign.com/FEP/',
} as const;

/** Mutual TLS from a PKCS#12 (`.pfx`/`.p12`) holding the communication certificate and its key. */
export interface CfcaPfxTls {
  pfx: Uint8Array;
  passphrase?: string;
  /** CA certificates (PEM) to trust for CFCA's server certificate. Default: Node's bundled roots. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Check that the server certificate names the host. Default true; CFCA's test host is an IP (see README). */
  verifyHostname?: boolean;
  /** Lowest TLS version offered. Default Node's (TLS 1.2). */
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

/** Mutual TLS from PEM: the communication certificate (chain) and its key. */
export interface CfcaPemTls {
  cert: string | Uint8Array;
  key: string | Uint8Array;
  passphrase?: string;
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  verifyHostname?: boolean;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
}

/** Options of {@link createCfcaClient}. */
export interface CfcaClientOptions {
  /** The API base, ending in `/FEP/` (a missing trailing slash is added), e.g. {@link CFCA_HOSTS}. */
  baseUrl: string | URL;
  /** The platform's own CFCA user id (32 hex characters). */
  platId: string;
  /** The TLS client certificate CFCA issued to the platform (通信证书). */
  tls: CfcaPfxTls | CfcaPemTls;
  /** The key and certificate the request signatures are made with; usually the same certificate as `tls`. */
  signer: CfcaSignerOptions;
  /** How long one call may take, from sending to the complete answer. Default 30 000 ms. */
  timeoutMs?: number;
  /** Calls per second, shared by all calls of this client; calls beyond it wait their turn. Default 5. */
  qps?: number;
  /** Calls that may go at once after a quiet period. Default 1 (evenly spaced). */
  burst?: number;
  /** The time `head.txTime` is written from, and the rate limiter's time. */
  clock?: Clock;
  /** Runs timeouts and the rate limiter's waits; tests pass a manual clock. */
  scheduler?: Scheduler;
  /** The offset of `head.txTime` from UTC in minutes. Default 480 (Asia/Shanghai, China Standard Time). */
  utcOffsetMinutes?: number;
  /** Sent as the optional `locale` form field; `en_US` asks for English error messages. Default: not sent. */
  locale?: string;
  /** Sent as the optional `channel` form field. Default: not sent. */
  channel?: string;
  /** `Content-Type` of the PDF part of transaction 3203. Default `application/octet-stream`. */
  contractFileContentType?: string;
  /** Extra or corrected error-code rules, merged over {@link CFCA_ERROR_CODES}. */
  errorCodes?: Record<string, CfcaCodeRule>;
  /** The axios instance to send with (interceptors for logging). Default: axios' default instance. */
  axios?: AxiosInstance;
}

/** `head` of a successful answer. */
export interface CfcaResponseHead {
  txTime?: string;
  locale?: string;
  retCode: string;
  retMessage?: string;
  [key: string]: unknown;
}

/** A successful answer: `head` plus the transaction's own members. */
export type CfcaResponse<T extends object = Record<string, unknown>> = T & { head: CfcaResponseHead };

/** One call's options. */
export interface CfcaCallOptions {
  /** Aborts the call (and its wait for a turn) with `VENDOR_ABORTED`. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** Options of a transaction; `contractFile` makes it a multipart request (transaction 3203 requires one). */
export interface CfcaTransactionOptions extends CfcaCallOptions {
  contractFile?: { bytes: Uint8Array; filename?: string };
}

/** A configured CFCA client. */
export interface CfcaClient {
  /** The API base, ending in `/`. */
  readonly baseUrl: string;
  readonly platId: string;
  /**
   * Send one signed transaction and return the whole answer when `head.retCode` is `60000000`. `body` holds the
   * transaction's members (`person`, `createContract`, …); `head.txTime` is added. Throws `SealflowError`:
   * `VENDOR_REJECTED`, `NOT_FOUND`, `DUPLICATE`, `VENDOR_NOT_READY`, `VENDOR_TIMEOUT`, `VENDOR_UNAVAILABLE`,
   * `VENDOR_TLS_FAILED`, `VENDOR_BAD_RESPONSE`, `VENDOR_RATE_LIMITED`, `VENDOR_ABORTED`, with CFCA's code in
   * `details.vendorCode`.
   */
  transaction<T extends object = Record<string, unknown>>(
    txCode: string,
    body: Record<string, unknown>,
    options?: CfcaTransactionOptions,
  ): Promise<CfcaResponse<T>>;
  /** The PDF of a contract (`GET …/contractNo/{no}/downloading`); refuses an answer that is not a PDF. */
  download(contractNo: string, options?: CfcaCallOptions): Promise<Uint8Array>;
  /** A ZIP of several contracts (`GET …/contractNos/{a@b}/batchDownloading`). */
  batchDownload(contractNos: readonly string[], options?: CfcaCallOptions): Promise<Uint8Array>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_QPS = 5;
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded;charset=UTF-8';
const SAFE_ID = /^[0-9A-Za-z_-]+$/;

/**
 * `head.txTime`: `yyyyMMddHHmmss` in the given offset from UTC (default China Standard Time, which has no daylight
 * saving time).
 */
export function formatTxTime(epochMs: number, utcOffsetMinutes = 480): string {
  const d = new Date(epochMs + utcOffsetMinutes * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    String(d.getUTCFullYear()).padStart(4, '0') +
    two(d.getUTCMonth() + 1) +
    two(d.getUTCDate()) +
    two(d.getUTCHours()) +
    two(d.getUTCMinutes()) +
    two(d.getUTCSeconds())
  );
}

/** Resolve `baseUrl` to an absolute http(s) URL ending in `/`. */
export function cfcaBaseUrl(baseUrl: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(baseUrl));
  } catch {
    throw new ValidationError(`baseUrl must be an absolute https URL ending in /FEP/, got "${String(baseUrl)}".`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ValidationError(`baseUrl must be an https URL, got protocol "${url.protocol}".`);
  }
  if (url.search || url.hash) throw new ValidationError('baseUrl must not carry a query or fragment.');
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

/**
 * Create a CFCA 安心签 client: signs every transaction (detached CMS), presents the platform certificate in mutual
 * TLS, paces calls with a token bucket, enforces a per-call timeout, and turns every failure into a typed
 * `SealflowError`.
 */
export function createCfcaClient(options: CfcaClientOptions): CfcaClient {
  const problems: string[] = [];
  if (!options.platId || !SAFE_ID.test(options.platId)) {
    problems.push('platId must be the platform user id CFCA assigned (32 hex characters)');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) problems.push(`timeoutMs is ${String(timeoutMs)}`);
  const offset = options.utcOffsetMinutes ?? 480;
  if (!(Number.isInteger(offset) && Math.abs(offset) <= 14 * 60)) problems.push(`utcOffsetMinutes is ${offset}`);
  if (!options.tls || !('pfx' in options.tls || ('cert' in options.tls && 'key' in options.tls))) {
    problems.push('tls needs { pfx, passphrase } or { cert, key }: CFCA requires the client certificate');
  }
  if (problems.length) {
    throw new ValidationError(`CFCA client options are not usable: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const baseUrl = cfcaBaseUrl(options.baseUrl);
  const platformPath = `${baseUrl}platId/${options.platId}/`;
  const signer = createCfcaSigner(options.signer);
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const http = options.axios ?? axiosDefault;
  const codes = { ...CFCA_ERROR_CODES, ...options.errorCodes };
  const limiter = createRateLimiter({
    qps: options.qps ?? DEFAULT_QPS,
    burst: options.burst,
    clock,
    scheduler,
    vendor: { id: 'cfca', name: 'CFCA' },
  });
  const agent = createAgent(options.tls);

  /** One HTTP exchange under the rate limit and the time limit; network failures become typed errors. */
  async function send(
    context: CfcaCallContext,
    call: CfcaCallOptions,
    request: { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; data?: Buffer },
  ): Promise<AxiosResponse<ArrayBuffer>> {
    const callTimeout = call.timeoutMs ?? timeoutMs;
    if (call.signal?.aborted) throw abortedError(context, call.signal.reason);
    await limiter.acquire(call.signal).catch((error: unknown) => {
      throw abortedError(context, (error as { cause?: unknown }).cause ?? error);
    });

    // The call ends at its timeout even if the HTTP library ignores the abort.
    const limit = {
      timeoutMs: callTimeout,
      scheduler,
      signal: call.signal,
      abortError: (reason: unknown) => abortedError(context, reason),
      timeoutError: () => timeoutError(context, callTimeout),
    };
    try {
      return await withinTimeLimit(limit, (signal) =>
        http.request<ArrayBuffer>({
          method: request.method,
          url: request.url,
          headers: { Accept: 'application/json', ...request.headers },
          data: request.data,
          // Exactly the signed bytes go out; the answer is read here, not by axios.
          transformRequest: [(data: unknown) => data],
          transformResponse: [(data: unknown) => data],
          responseType: 'arraybuffer',
          validateStatus: () => true,
          maxRedirects: 0,
          // Mutual TLS needs the direct connection through this agent; an environment proxy would bypass it.
          proxy: false,
          httpsAgent: agent,
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
  }

  async function transaction<T extends object>(
    txCode: string,
    body: Record<string, unknown>,
    callOptions: CfcaTransactionOptions = {},
  ): Promise<CfcaResponse<T>> {
    const call = callOptionsOf(callOptions, `transaction ${txCode}`);
    if (!/^\d{4}$/.test(txCode)) throw new ValidationError(`txCode must be 4 digits, e.g. "3001", got "${txCode}".`);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError(`The body of transaction ${txCode} must be an object of its members.`);
    }
    if (txCode === '3203' && !call.contractFile) {
      throw new ValidationError('Transaction 3203 uploads a PDF: pass it as contractFile.');
    }
    const context: CfcaCallContext = { operation: txCode, scrub: personalDataScrubber(body) };
    const { head: extraHead, ...members } = body;
    const head = { ...asRecord(extraHead), txTime: formatTxTime(clock.now(), offset) };
    const data = JSON.stringify({ head, ...members });
    const signature = signer.sign(data);
    const fields: Record<string, string> = { data, signature };
    if (options.channel !== undefined) fields.channel = options.channel;
    if (options.locale !== undefined) fields.locale = options.locale;

    let payload: Buffer;
    let contentType: string;
    if (call.contractFile) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      const bytes = call.contractFile.bytes;
      form.append(
        'contractFile',
        new Blob([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)], {
          type: options.contractFileContentType ?? 'application/octet-stream',
        }),
        call.contractFile.filename ?? 'contract.pdf',
      );
      // Serialised here so the exact bytes and boundary are known before sending.
      const encoded = new Response(form);
      payload = Buffer.from(await encoded.arrayBuffer());
      contentType = encoded.headers.get('content-type') ?? 'multipart/form-data';
    } else {
      payload = Buffer.from(new URLSearchParams(fields).toString(), 'utf8');
      contentType = FORM_CONTENT_TYPE;
    }
    const response = await send(context, call, {
      method: 'POST',
      url: `${platformPath}txCode/${txCode}/transaction`,
      headers: { 'Content-Type': contentType, 'Accept-Charset': 'UTF-8' },
      data: payload,
    });
    return parseTransaction<T>(context, response, codes);
  }

  async function fetchFile(
    context: CfcaCallContext,
    url: string,
    call: CfcaCallOptions,
    magic: { bytes: Buffer; kind: string; complete?: (bytes: Buffer) => boolean },
  ): Promise<Uint8Array> {
    const response = await send(context, call, { method: 'GET', url });
    const bytes = Buffer.from(response.data ?? new ArrayBuffer(0));
    if (response.status >= 200 && response.status < 300 && bytes.subarray(0, magic.bytes.length).equals(magic.bytes)) {
      // A body cut off on the way (a proxy, a dropped connection it hid) would otherwise be taken for the contract
      // and fail every check made on it for good; fetched again, it comes whole.
      if (magic.complete && !magic.complete(bytes)) {
        throw badResponseError(context, response.status, `the ${magic.kind} was cut off before its end`, true);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    // Errors come as CFCA's JSON, whatever the status.
    const text = bytes.toString('utf8');
    const json = parseJson(text);
    if (json.ok) throwIfVendorError(context, json.value, response.status, codes);
    if (response.status < 200 || response.status >= 300) throw httpError(context, response.status, json.ok ? '' : text);
    throw badResponseError(context, response.status, `it is not a ${magic.kind}`, !json.ok);
  }

  return {
    baseUrl,
    platId: options.platId,
    transaction,
    async download(contractNo, callOptions = {}) {
      const call = callOptionsOf(callOptions, 'download');
      if (!contractNo || !SAFE_ID.test(contractNo)) {
        return Promise.reject(new ValidationError(`contractNo must be a CFCA contract number, got "${contractNo}".`));
      }
      return fetchFile({ operation: 'download' }, `${platformPath}contractNo/${contractNo}/downloading`, call, {
        bytes: Buffer.from('%PDF-'),
        kind: 'PDF',
        complete: isWholePdf,
      });
    },
    async batchDownload(contractNos, callOptions = {}) {
      const call = callOptionsOf(callOptions, 'batchDownload');
      const bad = contractNos.find((no) => !no || !SAFE_ID.test(no));
      if (contractNos.length === 0 || bad !== undefined) {
        return Promise.reject(
          new ValidationError('contractNos must be one or more CFCA contract numbers (letters and digits).'),
        );
      }
      const list = contractNos.join('@');
      return fetchFile({ operation: 'batchDownload' }, `${platformPath}contractNos/${list}/batchDownloading`, call, {
        bytes: Buffer.from([0x50, 0x4b, 0x03, 0x04]),
        kind: 'ZIP archive',
      });
    },
  };
}

function createAgent(tls: CfcaPfxTls | CfcaPemTls): HttpsAgent {
  const toBuffer = (value: string | Uint8Array) =>
    typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const ca = tls.ca === undefined ? undefined : (Array.isArray(tls.ca) ? tls.ca : [tls.ca]).map(toBuffer);
  return new HttpsAgent({
    keepAlive: true,
    ...('pfx' in tls ? { pfx: toBuffer(tls.pfx) } : { cert: toBuffer(tls.cert), key: toBuffer(tls.key) }),
    passphrase: tls.passphrase,
    ca,
    minVersion: tls.minVersion,
    rejectUnauthorized: true,
    // The chain is still verified; only the name check is skipped (CFCA's test host is addressed by IP).
    ...(tls.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}),
  });
}

type JsonResult = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): JsonResult {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Throws the mapped error when `value` is CFCA's error form or a head with a failing retCode. */
function throwIfVendorError(
  context: CfcaCallContext,
  value: unknown,
  status: number,
  codes: Readonly<Record<string, CfcaCodeRule>>,
): void {
  const record = asRecord(value);
  if (!record) return;
  const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const errorCode = text(record.errorCode);
  if (errorCode !== undefined) throw vendorCodeError(context, errorCode, text(record.errorMessage), status, codes);
  const head = asRecord(record.head);
  const retCode = text(head?.retCode);
  if (retCode !== undefined && retCode !== CFCA_SUCCESS_CODE) {
    throw vendorCodeError(context, retCode, text(head?.retMessage), status, codes);
  }
}

function parseTransaction<T extends object>(
  context: CfcaCallContext,
  response: AxiosResponse<ArrayBuffer>,
  codes: Readonly<Record<string, CfcaCodeRule>>,
): CfcaResponse<T> {
  const status = response.status;
  const text = Buffer.from(response.data ?? new ArrayBuffer(0)).toString('utf8');
  const json = parseJson(text);
  // CFCA's HTTP status on errors is not documented: the body decides, whatever the status.
  if (json.ok) throwIfVendorError(context, json.value, status, codes);
  if (status < 200 || status >= 300) throw httpError(context, status, json.ok ? '' : text);
  if (!json.ok) throw badResponseError(context, status, 'the body is not JSON', true);
  const record = asRecord(json.value);
  const head = asRecord(record?.head);
  if (!record || !head || String(head.retCode) !== CFCA_SUCCESS_CODE) {
    throw badResponseError(context, status, 'it has neither head.retCode nor errorCode');
  }
  return record as CfcaResponse<T>;
}

/** The per-call options as given, `{}` for none; JavaScript callers can pass null, which a default does not cover. */
function callOptionsOf<T extends object>(value: T | null | undefined, operation: string): T {
  if (value === undefined || value === null) return {} as T;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(`The options of ${operation} must be an object (signal, timeoutMs, …) or left out.`);
  }
  return value;
}
