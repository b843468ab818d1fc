/**
 * e签宝 open API v3 request signing ("Signature" auth mode) and callback signatures, as pure functions.
 *
 * Both sides live here so that the client that signs and any server that checks (a test double of the gateway, a
 * callback endpoint) compute the same bytes from the same rules:
 *
 * - A request is signed over seven fields — method, `Accept`, `Content-MD5`, `Content-Type`, `Date`, optional extra
 *   headers, and the path with its query parameters sorted by name and NOT percent-encoded — with Base64
 *   HMAC-SHA256 keyed by the app secret.
 * - A callback from e签宝 is signed with lower-case hex HMAC-SHA256 over the timestamp header, the values of the
 *   notify URL's own query parameters (sorted by name, concatenated) and the raw body.
 *
 * No I/O; the current time is always passed in.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SealflowError, ValidationError } from '@sealflow/core';

/** Header names of the Signature auth mode, as the gateway expects them. */
export const ESIGN_HEADERS = {
  appId: 'X-Tsign-Open-App-Id',
  authMode: 'X-Tsign-Open-Auth-Mode',
  timestamp: 'X-Tsign-Open-Ca-Timestamp',
  signature: 'X-Tsign-Open-Ca-Signature',
  signatureHeaders: 'X-Tsign-Open-Ca-Signature-Headers',
  accept: 'Accept',
  contentMd5: 'Content-MD5',
  contentType: 'Content-Type',
  date: 'Date',
} as const;

/** Header names e签宝 puts on the callbacks it sends to a notify URL. */
export const ESIGN_CALLBACK_HEADERS = {
  appId: 'X-Tsign-Open-App-Id',
  timestamp: 'X-Tsign-Open-TIMESTAMP',
  signature: 'X-Tsign-Open-SIGNATURE',
  algorithm: 'X-Tsign-Open-SIGNATURE-ALGORITHM',
} as const;

/** The `Content-Type` sent with JSON bodies (and, like the official demo, on requests without a body). */
export const JSON_CONTENT_TYPE = 'application/json; charset=UTF-8';

/** How long a request or callback timestamp stays acceptable: 15 minutes either way. */
export const DEFAULT_TIMESTAMP_TOLERANCE_MS = 15 * 60_000;

/**
 * How a query parameter with an empty value appears in the string to sign. The public sources disagree: the
 * official Java demo signs `key=`, other working clients sign `key`. Avoid empty values where you can.
 */
export type EmptyQueryValue = 'key=' | 'key';

const encoder = new TextEncoder();

function bytesOf(body: Uint8Array | string | undefined): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/** Base64 of the 16 raw MD5 bytes of `body` (not hex). For the empty body that is `1B2M2Y8AsgTpgAmY7PhCfg==`. */
export function md5Base64(body: Uint8Array | string): string {
  return createHash('md5').update(bytesOf(body)).digest('base64');
}

/**
 * The `Content-MD5` header for a request body: Base64 of the MD5 bytes of exactly the bytes sent. A request without
 * a body (length 0) gets `''`: the header is left out and its line in the string to sign stays empty, which is what
 * the documentation allows for body-less GET and DELETE.
 */
export function contentMd5(body: Uint8Array | string | undefined): string {
  const bytes = bytesOf(body);
  return bytes.length === 0 ? '' : md5Base64(bytes);
}

// '+' is a space in a query string as servlet containers read it; the client never sends a literal '+'.
function decodeQueryPart(part: string): string {
  const spaced = part.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Not valid percent-encoding: the caller passed a raw value (e.g. "100%"); it is signed as it is.
    return spaced;
  }
}

/** The query parameters of `pathAndQuery`, decoded, in their order of appearance. */
export function parseQuery(query: string): Array<[string, string]> {
  const text = query.startsWith('?') ? query.slice(1) : query;
  if (text === '') return [];
  return text
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0
        ? [decodeQueryPart(pair), '']
        : [decodeQueryPart(pair.slice(0, eq)), decodeQueryPart(pair.slice(eq + 1))];
    });
}

function byKey(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The last line of the string to sign: the path (no scheme or host) and, if there is a query, `?` and its parameters
 * sorted by name in ASCII order, with values NOT percent-encoded. `pathAndQuery` may be percent-encoded as it goes
 * on the wire (`/v3/x?orgName=%E6%9D%AD`) or carry raw values (`/v3/x?orgName=杭`); both give the same line.
 */
export function canonicalPathAndQuery(pathAndQuery: string, emptyValue: EmptyQueryValue = 'key='): string {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const params = q < 0 ? [] : parseQuery(pathAndQuery.slice(q + 1));
  if (params.length === 0) return path;
  const sorted = [...params].sort(byKey);
  const pairs = sorted.map(([key, value]) => (value === '' && emptyValue === 'key' ? key : `${key}=${value}`));
  return `${path}?${pairs.join('&')}`;
}

/**
 * `path?k=v&…` as it goes on the wire: keys in the given order, names and values percent-encoded (spaces as `%20`,
 * `+` as `%2B`, so that every server decodes the same value that was signed). `undefined` values are left out.
 */
export function buildPathAndQuery(
  path: string,
  query?: Record<string, string | number | boolean | undefined> | Array<[string, string]>,
): string {
  const entries: Array<[string, string]> = Array.isArray(query)
    ? query
    : Object.entries(query ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]]));
  if (entries.length === 0) return path;
  return `${path}?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

/** The fields of the string to sign. Empty strings stand for absent headers. */
export interface StringToSignInput {
  method: string;
  accept: string;
  contentMd5: string;
  contentType: string;
  /** The `Date` header; normally not sent, so `''` (the line stays, empty). */
  date?: string;
  /** Extra signed headers (listed in `X-Tsign-Open-Ca-Signature-Headers`); one `name:value` line each, sorted. */
  headers?: Record<string, string>;
  /** Path and query, percent-encoded or raw (see {@link canonicalPathAndQuery}). */
  pathAndQuery: string;
  /** How an empty query value is signed; default `key=` as the official demo does. */
  emptyQueryValue?: EmptyQueryValue;
}

/**
 * The string e签宝 signs: `METHOD\nAccept\nContent-MD5\nContent-Type\nDate\n[name:value\n…]path?sortedQuery`.
 * Every empty field keeps its line break; the extra-headers block adds nothing when there are none.
 */
export function stringToSign(input: StringToSignInput): string {
  const headerLines = Object.entries(input.headers ?? {})
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([name, value]) => `${name}:${value}\n`)
    .join('');
  return (
    `${input.method.toUpperCase()}\n${input.accept}\n${input.contentMd5}\n${input.contentType}\n${input.date ?? ''}\n` +
    headerLines +
    canonicalPathAndQuery(input.pathAndQuery, input.emptyQueryValue)
  );
}

/** Base64 (with padding) HMAC-SHA256 of the UTF-8 `text`, keyed by the UTF-8 app secret. */
export function hmacSha256Base64(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('base64');
}

/** What {@link signRequest} needs: the app's credentials, the request as it will be sent, and the time. */
export interface SignRequestInput {
  appId: string;
  appSecret: string;
  method: string;
  /** Path and query exactly as they go on the wire, e.g. from {@link buildPathAndQuery}. */
  pathAndQuery: string;
  /** The exact body bytes that will be sent (serialise once, sign and send the same bytes). */
  body?: Uint8Array | string;
  /** Epoch milliseconds; sent in `X-Tsign-Open-Ca-Timestamp`. */
  timestamp: number;
  /** Default `*`/`*`. */
  accept?: string;
  /** Default `application/json; charset=UTF-8`, also without a body; `''` leaves the header out. */
  contentType?: string;
  /** A `Date` header to send and sign; normally absent. */
  date?: string;
  /** Extra headers to send and sign, named in `X-Tsign-Open-Ca-Signature-Headers`. */
  signedHeaders?: Record<string, string>;
  emptyQueryValue?: EmptyQueryValue;
}

/** The signed request: the headers to send, and what was signed (for debugging a rejected signature). */
export interface SignedRequest {
  headers: Record<string, string>;
  stringToSign: string;
  signature: string;
  contentMd5: string;
}

/**
 * Sign one request: Content-MD5 over the body bytes, the string to sign, the Base64 HMAC-SHA256 signature, and the
 * full header set of the Signature auth mode (`X-Tsign-Open-App-Id`, `X-Tsign-Open-Auth-Mode: Signature`,
 * `X-Tsign-Open-Ca-Timestamp` in ms, `X-Tsign-Open-Ca-Signature`, `Accept`, `Content-Type`, `Content-MD5`).
 */
export function signRequest(input: SignRequestInput): SignedRequest {
  const accept = input.accept ?? '*/*';
  const contentType = input.contentType ?? JSON_CONTENT_TYPE;
  const md5 = contentMd5(input.body);
  const signed = stringToSign({
    method: input.method,
    accept,
    contentMd5: md5,
    contentType,
    date: input.date ?? '',
    headers: input.signedHeaders,
    pathAndQuery: input.pathAndQuery,
    emptyQueryValue: input.emptyQueryValue,
  });
  const signature = hmacSha256Base64(input.appSecret, signed);
  const headers: Record<string, string> = {
    [ESIGN_HEADERS.appId]: input.appId,
    [ESIGN_HEADERS.authMode]: 'Signature',
    [ESIGN_HEADERS.timestamp]: String(input.timestamp),
    [ESIGN_HEADERS.signature]: signature,
    [ESIGN_HEADERS.accept]: accept,
  };
  if (contentType !== '') headers[ESIGN_HEADERS.contentType] = contentType;
  if (md5 !== '') headers[ESIGN_HEADERS.contentMd5] = md5;
  if (input.date) headers[ESIGN_HEADERS.date] = input.date;
  const extra = Object.keys(input.signedHeaders ?? {});
  if (extra.length > 0) {
    Object.assign(headers, input.signedHeaders);
    headers[ESIGN_HEADERS.signatureHeaders] = extra.sort().join(',');
  }
  return { headers, stringToSign: signed, signature, contentMd5: md5 };
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway's side: check a received request.

/**
 * Why the gateway refuses a request, as the `message` of its HTTP 401 answer `{"success":false,"code":401,…}`:
 * `缺少参数` (App-Id, timestamp or signature missing), `AUTHSTRATEGY_NOT_FOUND` (Auth-Mode not `Signature`),
 * `TOKEN_CANT_BE_NULL` (no Auth-Mode, so token mode is assumed), `无效的应用` (unknown app), `INVALID_TIMESTAMP`,
 * `INVALID_SIGNATURE` (also a Content-MD5 that does not match the body; the real gateway's text for that case is
 * not documented).
 */
export type EsignGatewayReason =
  | '缺少参数'
  | 'AUTHSTRATEGY_NOT_FOUND'
  | 'TOKEN_CANT_BE_NULL'
  | '无效的应用'
  | 'INVALID_TIMESTAMP'
  | 'INVALID_SIGNATURE';

/** A refusal: the gateway's reason, and for people debugging a test what exactly did not match. */
export interface GatewayCheckFailure {
  reason: EsignGatewayReason;
  detail: string;
}

/** Headers as a server framework hands them over: a fetch `Headers` or a plain record (any name case). */
export type ReceivedHeaders = Headers | Record<string, string | string[] | undefined>;

/** A request as a server received it. */
export interface ReceivedRequest {
  method: string;
  /** Path and query as received (percent-encoded). */
  pathAndQuery: string;
  headers: ReceivedHeaders;
  /** The raw body bytes as received. */
  body?: Uint8Array | string;
}

/** What the checker needs besides the request. */
export interface GatewayCheckOptions {
  /** The secret of an app id, or `undefined` for an unknown app (answered `无效的应用`). */
  secretFor: (appId: string) => string | undefined;
  /** The server's current time, epoch ms. */
  now: number;
  /** Default 15 minutes either way. */
  toleranceMs?: number;
  emptyQueryValue?: EmptyQueryValue;
}

/** A header's value by case-insensitive name; the first one if repeated; `undefined` if absent. */
export function headerValue(headers: ReceivedHeaders, name: string): string | undefined {
  // Frameworks hand over headers in many shapes; anything that is not text counts as absent, never as a crash.
  if (headers === null || typeof headers !== 'object') return undefined;
  if (typeof (headers as Headers).get === 'function') {
    const value: unknown = (headers as Headers).get(name);
    return typeof value === 'string' ? value : undefined;
  }
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    const first: unknown = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' ? first : undefined;
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Check a received request as the e签宝 gateway does: required headers, the auth mode, the app, the timestamp
 * (epoch ms within the tolerance), the signature recomputed from the headers actually received, and — for a
 * non-empty body — that `Content-MD5` is the MD5 of the body. Returns `null` for a request the gateway lets through.
 * An empty body's `Content-MD5` is not checked, since working clients send mismatching values there.
 */
export function checkSignedRequest(request: ReceivedRequest, options: GatewayCheckOptions): GatewayCheckFailure | null {
  const header = (name: string) => headerValue(request.headers, name);
  const appId = header(ESIGN_HEADERS.appId);
  const authMode = header(ESIGN_HEADERS.authMode);
  if (!appId) return { reason: '缺少参数', detail: `${ESIGN_HEADERS.appId} is missing` };
  if (authMode === undefined) {
    return { reason: 'TOKEN_CANT_BE_NULL', detail: `${ESIGN_HEADERS.authMode} is missing, so token mode applies` };
  }
  if (authMode !== 'Signature') {
    return { reason: 'AUTHSTRATEGY_NOT_FOUND', detail: `${ESIGN_HEADERS.authMode} is "${authMode}", not "Signature"` };
  }
  const timestamp = header(ESIGN_HEADERS.timestamp);
  const signature = header(ESIGN_HEADERS.signature);
  if (!timestamp) return { reason: '缺少参数', detail: `${ESIGN_HEADERS.timestamp} is missing` };
  if (!signature) return { reason: '缺少参数', detail: `${ESIGN_HEADERS.signature} is missing` };
  const secret = options.secretFor(appId);
  if (secret === undefined) return { reason: '无效的应用', detail: `no app "${appId}" in this environment` };
  const tolerance = options.toleranceMs ?? DEFAULT_TIMESTAMP_TOLERANCE_MS;
  if (!/^\d+$/.test(timestamp) || Math.abs(options.now - Number(timestamp)) > tolerance) {
    return {
      reason: 'INVALID_TIMESTAMP',
      detail: `timestamp ${timestamp} is not epoch milliseconds within ${tolerance} ms of ${options.now}`,
    };
  }
  const extraNames = (header(ESIGN_HEADERS.signatureHeaders) ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const extra = Object.fromEntries(extraNames.map((name) => [name, header(name) ?? '']));
  const md5Header = header(ESIGN_HEADERS.contentMd5) ?? '';
  const expected = hmacSha256Base64(
    secret,
    stringToSign({
      method: request.method,
      accept: header(ESIGN_HEADERS.accept) ?? '',
      contentMd5: md5Header,
      contentType: header(ESIGN_HEADERS.contentType) ?? '',
      date: header(ESIGN_HEADERS.date) ?? '',
      headers: extra,
      pathAndQuery: request.pathAndQuery,
      emptyQueryValue: options.emptyQueryValue,
    }),
  );
  if (!sameText(expected, signature)) {
    return { reason: 'INVALID_SIGNATURE', detail: 'the signature does not match the request as received' };
  }
  const body = bytesOf(request.body);
  if (body.length > 0 && !sameText(md5Header, md5Base64(body))) {
    return {
      reason: 'INVALID_SIGNATURE',
      detail: md5Header === '' ? 'Content-MD5 is missing for a body' : 'Content-MD5 does not match the body',
    };
  }
  return null;
}

/** The body of the gateway's HTTP 401 answer for `reason`. */
export function gatewayFailureBody(reason: EsignGatewayReason): { success: false; code: 401; message: string } {
  return { success: false, code: 401, message: reason };
}

// ---------------------------------------------------------------------------------------------------------------
// Callbacks (notify) from e签宝 to the host.

/** The notify URL's own query parameters: a query string (with or without `?`), `URLSearchParams`, or a record. */
export type CallbackQuery =
  | string
  | URLSearchParams
  | Record<string, string | string[] | undefined>
  | Array<[string, string]>;

function queryEntries(query: CallbackQuery | undefined): Array<[string, string]> {
  if (query === undefined) return [];
  if (typeof query === 'string') return parseQuery(query);
  if (Array.isArray(query)) return query;
  if (query instanceof URLSearchParams) return [...query.entries()];
  return Object.entries(query).flatMap(([key, value]) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => [key, v] as [string, string]),
  );
}

/** What a callback is signed over. */
export interface CallbackSignatureInput {
  /** The `X-Tsign-Open-TIMESTAMP` header (epoch ms). */
  timestamp: string | number;
  /** The notify URL's own query parameters; e签宝 adds none. */
  query?: CallbackQuery;
  /** The body exactly as received; never re-serialised. */
  rawBody: Uint8Array | string;
  /** The app secret. */
  secret: string;
}

/**
 * The signature e签宝 puts in `X-Tsign-Open-SIGNATURE`: lower-case hex HMAC-SHA256 over the timestamp, the query
 * values sorted by parameter name and concatenated without separators, and the raw body bytes.
 */
export function callbackSignature(input: CallbackSignatureInput): string {
  const values = queryEntries(input.query)
    .sort(byKey)
    .map(([, value]) => value)
    .join('');
  return createHmac('sha256', input.secret)
    .update(`${String(input.timestamp)}${values}`, 'utf8')
    .update(bytesOf(input.rawBody))
    .digest('hex');
}

/** The full header set e签宝 sends with a callback signed for `input` (for servers that emulate e签宝). */
export function callbackHeaders(input: CallbackSignatureInput & { appId: string }): Record<string, string> {
  return {
    [ESIGN_CALLBACK_HEADERS.appId]: input.appId,
    [ESIGN_CALLBACK_HEADERS.timestamp]: String(input.timestamp),
    [ESIGN_CALLBACK_HEADERS.signature]: callbackSignature(input),
    [ESIGN_CALLBACK_HEADERS.algorithm]: 'hmac-sha256',
    'Content-Type': 'application/json',
  };
}

/** Why a callback was refused; in `details.reason` of the `CALLBACK_REJECTED` error. */
export type CallbackRejection =
  | 'MISSING_HEADER'
  | 'WRONG_APP'
  | 'UNSUPPORTED_ALGORITHM'
  | 'STALE_TIMESTAMP'
  | 'BAD_SIGNATURE';

/** A received callback and how to judge it. */
export interface VerifyCallbackInput {
  headers: ReceivedHeaders;
  query?: CallbackQuery;
  rawBody: Uint8Array | string;
  secret: string;
  /** The receiver's current time, epoch ms. */
  now: number;
  /**
   * How far the timestamp may be from `now`, either way. e签宝 does not document a window; the default 15 minutes
   * matches the request side. Retries keep the first attempt's body timestamp but carry a fresh header timestamp.
   */
  toleranceMs?: number;
  /** When given, a callback for another app id is refused. */
  appId?: string;
}

/**
 * The receiver's own arguments, checked before anything is judged: a `now` or tolerance that is not a number would
 * make every freshness comparison false and so let a stale callback through.
 */
function checkVerifyInput(input: VerifyCallbackInput): void {
  const value = input as Partial<Record<keyof VerifyCallbackInput, unknown>> | null;
  const problems: string[] = [];
  if (value === null || typeof value !== 'object') problems.push('the input must be an object');
  else {
    if (typeof value.rawBody !== 'string' && !(value.rawBody instanceof Uint8Array)) {
      problems.push('rawBody must be the body as received (a string or bytes)');
    }
    if (typeof value.secret !== 'string' || value.secret.length === 0) problems.push('secret must be the app secret');
    if (typeof value.now !== 'number' || !Number.isFinite(value.now)) problems.push('now must be epoch milliseconds');
    if (value.toleranceMs !== undefined && !(typeof value.toleranceMs === 'number' && value.toleranceMs >= 0)) {
      problems.push('toleranceMs must be a number of milliseconds, 0 or more');
    }
    if (value.appId !== undefined && typeof value.appId !== 'string') problems.push('appId must be a string');
    const query = value.query;
    if (
      query !== undefined &&
      typeof query !== 'string' &&
      !(query instanceof URLSearchParams) &&
      (query === null || typeof query !== 'object')
    ) {
      problems.push('query must be the notify URL query (a string, URLSearchParams or a record)');
    }
  }
  if (problems.length) {
    throw new ValidationError(`verifyCallback cannot judge this callback: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
}

function rejectCallback(reason: CallbackRejection, message: string): SealflowError {
  return new SealflowError('CALLBACK_REJECTED', message, { retryable: false, details: { vendor: 'esign', reason } });
}

/**
 * Verify a callback's signature and freshness; throws `SealflowError` `CALLBACK_REJECTED` (with `details.reason`)
 * for a forged, tampered, stale or incomplete one. Verify before parsing the body, on the raw bytes.
 */
export function verifyCallback(input: VerifyCallbackInput): void {
  checkVerifyInput(input);
  const header = (name: string) => headerValue(input.headers, name);
  const timestamp = header(ESIGN_CALLBACK_HEADERS.timestamp);
  const signature = header(ESIGN_CALLBACK_HEADERS.signature);
  if (!timestamp || !signature) {
    throw rejectCallback(
      'MISSING_HEADER',
      `e签宝 callback refused: ${ESIGN_CALLBACK_HEADERS.timestamp} or ${ESIGN_CALLBACK_HEADERS.signature} is missing. ` +
        'Make sure the endpoint receives the request headers unchanged (a proxy may strip them).',
    );
  }
  const algorithm = header(ESIGN_CALLBACK_HEADERS.algorithm);
  if (algorithm !== undefined && algorithm.toLowerCase() !== 'hmac-sha256') {
    throw rejectCallback(
      'UNSUPPORTED_ALGORITHM',
      `e签宝 callback refused: signature algorithm "${algorithm}" is not supported (only hmac-sha256).`,
    );
  }
  const appId = header(ESIGN_CALLBACK_HEADERS.appId);
  if (input.appId !== undefined && appId !== undefined && appId !== input.appId) {
    throw rejectCallback(
      'WRONG_APP',
      'e签宝 callback refused: it was sent for another app id. Check that this notify URL is configured for this app.',
    );
  }
  const tolerance = input.toleranceMs ?? DEFAULT_TIMESTAMP_TOLERANCE_MS;
  if (!/^\d+$/.test(timestamp) || Math.abs(input.now - Number(timestamp)) > tolerance) {
    throw rejectCallback(
      'STALE_TIMESTAMP',
      `e签宝 callback refused: its timestamp is more than ${tolerance} ms away from this server's clock. Check the ` +
        'server clock (NTP), or raise the tolerance if callbacks are delayed in transit.',
    );
  }
  const expected = callbackSignature({ timestamp, query: input.query, rawBody: input.rawBody, secret: input.secret });
  if (!sameText(expected, signature.toLowerCase())) {
    throw rejectCallback(
      'BAD_SIGNATURE',
      'e签宝 callback refused: the signature does not match. Check the app secret, that the body is verified as the ' +
        'raw bytes received, and that the query parameters of the notify URL reach the verifier.',
    );
  }
}
