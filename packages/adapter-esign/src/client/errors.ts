/**
 * e签宝's failures as sealflow errors.
 *
 * Every failure becomes a `SealflowError` with a stable code, `retryable` set only where trying again can help,
 * `details` carrying e签宝's own code and reason, and a message that says what to do. e签宝's message texts are
 * quoted only after the personal data of the request (names, ID numbers, mobiles, card numbers) has been masked out
 * of them, because e签宝 echoes input back in its validation messages.
 */
import {
  maskIdNumber,
  maskMobile,
  maskName,
  maskText,
  NotFoundError,
  SealflowError,
  type SealflowErrorCode,
  TimeoutError,
} from '@sealflow/core';

/** The vendor id in every error's `details.vendor`. */
export const ESIGN_VENDOR_ID = 'esign';

/** Which call failed; only the path, never the query (which may carry a mobile or ID number). */
export interface EsignCallContext {
  method: string;
  path: string;
  /** Masks the request's personal data out of e签宝's texts. */
  scrub?: (text: string) => string;
}

/** How one e签宝 business code (`code` of the `{ code, message, data }` envelope) becomes an error. */
export interface EsignCodeRule {
  /** The sealflow code; `NOT_FOUND` throws a `NotFoundError`. */
  code: SealflowErrorCode;
  retryable: boolean;
  /** What the person reading the error should do. */
  hint: string;
  /** For throttling codes: how long to wait before trying again. */
  retryAfterMs?: number;
}

/**
 * The business codes e签宝 documents for the calls sealflow makes. Codes not listed become `VENDOR_REJECTED`
 * (not retryable). e签宝 documents no V3 code for an unknown sign flow, nor V3 codes for revoking or downloading in a
 * wrong state (1437111, 1437168 are the V1 codes; 1437518 comes from one unofficial source): add or override entries
 * with the client's `businessCodes` option once the sandbox has shown the real ones.
 */
export const ESIGN_BUSINESS_CODES: Readonly<Record<number, EsignCodeRule>> = {
  1435002: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'e签宝 refused a parameter of the request (参数错误); fix the field it names.',
  },
  1430608: {
    code: 'NOT_FOUND',
    retryable: false,
    hint: 'e签宝 does not know this file (合同不存在); upload it again or check the fileId and environment.',
  },
  1437511: {
    code: 'NOT_FOUND',
    retryable: false,
    hint: 'e签宝 does not know this document; check the fileId and environment.',
  },
  1437513: {
    code: 'VENDOR_FILE_NOT_READY',
    retryable: true,
    hint: 'the uploaded file is not converted to PDF yet; wait until its status is 2 or 5 and try again.',
  },
  1450008: {
    code: 'NOT_FOUND',
    retryable: false,
    hint: 'e签宝 has no account for this person; check the account details or let the person register on the sign page.',
  },
  1437111: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'the flow is not in progress, so it cannot be revoked; read its state with the flow detail.',
  },
  1437168: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'the flow is already revoked.',
  },
  1437518: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'the signed files can only be downloaded once the flow is complete; wait for SIGN_FLOW_COMPLETE.',
  },
  30504001: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'the identity data do not match (信息比对不通过); ask the person to check what they entered.',
  },
  30500100: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'a parameter of the identity check is missing (缺少参数); supply the field it names.',
  },
  30500101: {
    code: 'VENDOR_REJECTED',
    retryable: false,
    hint: 'a parameter of the identity check is malformed (参数错误); fix the field it names.',
  },
  30504002: {
    code: 'VENDOR_UNAVAILABLE',
    retryable: true,
    hint: "e签宝's identity data source failed; try again later.",
  },
  30504900: {
    code: 'VENDOR_RATE_LIMITED',
    retryable: true,
    retryAfterMs: 60_000,
    hint:
      'e签宝 throttles identity checks of the same person (over 10 a minute: 1 minute ban, over 20 in 10 minutes: ' +
      '10 minutes, over 50 a day: 30 minutes); wait before checking this person again.',
  },
  403: {
    code: 'VENDOR_FORBIDDEN',
    retryable: false,
    hint: "this server's egress IP is not in the app's IP whitelist (IP白名单不匹配); add it in the e签宝 console for this environment.",
  },
};

function base(context: EsignCallContext, extra: Record<string, unknown>): Record<string, unknown> {
  return { vendor: ESIGN_VENDOR_ID, method: context.method.toUpperCase(), path: context.path, ...extra };
}

function where(context: EsignCallContext): string {
  return `e签宝 ${context.method.toUpperCase()} ${context.path}`;
}

function quote(context: EsignCallContext, vendorMessage: string | undefined): string {
  if (!vendorMessage) return '';
  const scrubbed = maskText((context.scrub ?? ((text) => text))(vendorMessage));
  return ` (e签宝 said: "${scrubbed.slice(0, 200)}")`;
}

/**
 * Why the gateway refused the credentials or signature (`details.reason`): `INVALID_SIGNATURE`,
 * `INVALID_TIMESTAMP`, `UNKNOWN_APP` (无效的应用), `MISSING_AUTH_HEADERS` (缺少参数), `AUTH_MODE`
 * (AUTHSTRATEGY_NOT_FOUND, TOKEN_CANT_BE_NULL, TOKEN错误: the request did not arrive in Signature mode), `OTHER`.
 */
export type EsignAuthFailure =
  | 'INVALID_SIGNATURE'
  | 'INVALID_TIMESTAMP'
  | 'UNKNOWN_APP'
  | 'MISSING_AUTH_HEADERS'
  | 'AUTH_MODE'
  | 'OTHER';

const AUTH_FAILURES: Record<string, { reason: EsignAuthFailure; hint: string }> = {
  INVALID_SIGNATURE: {
    reason: 'INVALID_SIGNATURE',
    hint:
      'the request signature did not match. Check that appSecret belongs to appId in this environment, and that ' +
      'nothing between this client and e签宝 (proxy, interceptor) rewrites the body, query or signed headers.',
  },
  INVALID_TIMESTAMP: {
    reason: 'INVALID_TIMESTAMP',
    hint: "the request timestamp is more than 15 minutes from e签宝's clock. Synchronise this server's clock (NTP).",
  },
  无效的应用: {
    reason: 'UNKNOWN_APP',
    hint:
      'e签宝 does not know this appId here. Sandbox and production have separate apps: check that host and appId ' +
      'belong to the same environment and that the app is enabled.',
  },
  缺少参数: {
    reason: 'MISSING_AUTH_HEADERS',
    hint: 'authentication headers did not arrive. Check that no proxy strips the X-Tsign-Open-* headers.',
  },
  AUTHSTRATEGY_NOT_FOUND: {
    reason: 'AUTH_MODE',
    hint: 'the request did not arrive in Signature auth mode. Check that no proxy rewrites X-Tsign-Open-Auth-Mode.',
  },
  TOKEN_CANT_BE_NULL: {
    reason: 'AUTH_MODE',
    hint: 'the request arrived without X-Tsign-Open-Auth-Mode. Check that no proxy strips the X-Tsign-Open-* headers.',
  },
  TOKEN错误: {
    reason: 'AUTH_MODE',
    hint: 'the request arrived in token auth mode. Check that no proxy strips the X-Tsign-Open-* headers.',
  },
};

/** An HTTP 401 from e签宝's gateway: `VENDOR_AUTH_FAILED`, never retryable (the same request fails the same way). */
export function authError(context: EsignCallContext, gatewayMessage: string | undefined): SealflowError {
  const known = gatewayMessage === undefined ? undefined : AUTH_FAILURES[gatewayMessage.trim()];
  const reason = known?.reason ?? 'OTHER';
  const hint = known?.hint ?? 'e签宝 refused the credentials. Check appId, appSecret and host.';
  return new SealflowError(
    'VENDOR_AUTH_FAILED',
    `${where(context)} was refused: ${hint}${quote(context, gatewayMessage)}`,
    {
      retryable: false,
      details: base(context, { httpStatus: 401, reason, gatewayMessage: gatewayMessage?.slice(0, 100) }),
    },
  );
}

/** A non-zero `code` in the envelope, mapped with `table` (default {@link ESIGN_BUSINESS_CODES}). */
export function businessError(
  context: EsignCallContext,
  vendorCode: number,
  vendorMessage: string | undefined,
  httpStatus: number,
  table: Readonly<Record<number, EsignCodeRule>> = ESIGN_BUSINESS_CODES,
): SealflowError {
  if (vendorCode === 401) return authError(context, vendorMessage);
  const rule = table[vendorCode];
  const details = base(context, {
    httpStatus,
    vendorCode,
    ...(rule?.retryAfterMs === undefined ? {} : { retryAfterMs: rule.retryAfterMs }),
  });
  const hint = rule?.hint ?? 'e签宝 refused the request; see its code and message, and fix the request.';
  const message = `${where(context)} failed with code ${vendorCode}: ${hint}${quote(context, vendorMessage)}`;
  if (rule?.code === 'NOT_FOUND') return new NotFoundError(message, { details });
  return new SealflowError(rule?.code ?? 'VENDOR_REJECTED', message, { retryable: rule?.retryable ?? false, details });
}

/** An HTTP status that is neither success nor a business envelope: 403, 429, 5xx, other 4xx. */
export function httpError(
  context: EsignCallContext,
  status: number,
  bodyText: string,
  retryAfterMs?: number,
): SealflowError {
  const excerpt = quote(context, bodyText.trim() === '' ? undefined : bodyText.trim());
  if (status === 429) {
    return new SealflowError(
      'VENDOR_RATE_LIMITED',
      `${where(context)} was rate limited (HTTP 429). It can be tried again after a pause; if this keeps happening, ` +
        'lower the client qps option.',
      { retryable: true, details: base(context, { httpStatus: status, retryAfterMs }) },
    );
  }
  if (status === 403) {
    return new SealflowError(
      'VENDOR_FORBIDDEN',
      `${where(context)} was forbidden (HTTP 403): ${ESIGN_BUSINESS_CODES[403]?.hint}${excerpt}`,
      { retryable: false, details: base(context, { httpStatus: status }) },
    );
  }
  if (status >= 500) {
    return new SealflowError(
      'VENDOR_UNAVAILABLE',
      `${where(context)} failed on e签宝's side (HTTP ${status}). It can be tried again later.`,
      { retryable: true, details: base(context, { httpStatus: status }) },
    );
  }
  return new SealflowError(
    'VENDOR_REJECTED',
    `${where(context)} was refused with HTTP ${status}. Check the path and method against the e签宝 V3 documentation.${excerpt}`,
    { retryable: false, details: base(context, { httpStatus: status }) },
  );
}

/**
 * A 2xx answer that is not the `{ code, message, data }` envelope, or whose `data` is not what was expected. Only a
 * body that is not JSON at all is retryable: that is a cut-off or garbled transfer, while well-formed JSON of the
 * wrong shape would come back the same.
 */
export function badResponseError(
  context: EsignCallContext,
  status: number,
  problem: string,
  retryable = false,
): SealflowError {
  return new SealflowError(
    'VENDOR_BAD_RESPONSE',
    `${where(context)} answered HTTP ${status} with a body the client cannot use: ${problem}. If a proxy sits in ` +
      'between, check that it passes e签宝 answers through unchanged.',
    { retryable, details: base(context, { httpStatus: status }) },
  );
}

/** No answer within the call's time limit: the retryable `VENDOR_TIMEOUT`; the request may have been processed. */
export function timeoutError(context: EsignCallContext, timeoutMs: number, cause?: unknown): TimeoutError {
  return new TimeoutError(
    'VENDOR_TIMEOUT',
    `${where(context)} did not answer within ${timeoutMs} ms. It may still have been carried out: look the result up ` +
      'before creating anything again. If e签宝 is merely slow, raise timeoutMs.',
    { cause, details: base(context, { timeoutMs }) },
  );
}

/** The connection failed (DNS, refused, reset): retryable `VENDOR_UNAVAILABLE`. */
export function networkError(context: EsignCallContext, cause: unknown): SealflowError {
  const code = (cause as { code?: unknown } | null)?.code;
  return new SealflowError(
    'VENDOR_UNAVAILABLE',
    `${where(context)} could not reach e签宝${typeof code === 'string' ? ` (${code})` : ''}. Check the network and ` +
      'the host option; the call can be tried again.',
    { cause, retryable: true, details: base(context, { networkError: typeof code === 'string' ? code : undefined }) },
  );
}

/** The caller aborted the call: `VENDOR_ABORTED`, not retryable (nobody is waiting for the answer any more). */
export function abortedError(context: EsignCallContext, cause: unknown): SealflowError {
  return new SealflowError('VENDOR_ABORTED', `${where(context)} was aborted by the caller.`, {
    cause,
    retryable: false,
    details: base(context, {}),
  });
}

// Keys under which e签宝 requests carry personal data. Organisation names and credit codes are not personal data.
const PERSONAL_KEYS: Record<string, (value: string) => string> = {
  psnname: maskName,
  name: maskName,
  transactorname: maskName,
  legalrepname: maskName,
  psnaccount: maskMobile,
  psnmobile: maskMobile,
  mobileno: maskMobile,
  mobile: maskMobile,
  accountmobile: maskMobile,
  contactmobile: maskMobile,
  idno: maskIdNumber,
  psnidcardnum: maskIdNumber,
  cardno: maskIdNumber,
  bankcardnum: maskIdNumber,
};

/**
 * A function that replaces, in any text, the personal values found in a request's body and query (by their e签宝
 * field names, at any depth) with their masked forms.
 */
export function personalDataScrubber(...sources: unknown[]): (text: string) => string {
  const pairs = new Map<string, string>();
  const visit = (value: unknown, key: string | undefined, seen: Set<object>) => {
    if (typeof value === 'string') {
      // Own keys only: a member named __proto__ or constructor must not find Object.prototype's.
      const name = key?.toLowerCase();
      const mask = name !== undefined && Object.hasOwn(PERSONAL_KEYS, name) ? PERSONAL_KEYS[name] : undefined;
      if (mask && value.length > 0) pairs.set(value, mask(value));
      return;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) for (const item of value) visit(item, key, seen);
    else for (const [k, v] of Object.entries(value)) visit(v, k, seen);
  };
  for (const source of sources) visit(source, undefined, new Set());
  // Longest first, so a value that contains another is replaced whole.
  const ordered = [...pairs].sort((a, b) => b[0].length - a[0].length);
  return (text) => ordered.reduce((acc, [value, masked]) => acc.split(value).join(masked), text);
}
