/**
 * CFCA 安心签's failures as sealflow errors.
 *
 * Every failure becomes a `SealflowError` with a stable code, `retryable` set only where trying again can help,
 * `details` carrying CFCA's own code, and a message that says what to do. CFCA's texts are quoted only after the
 * personal data of the request (names, ID numbers, mobiles, card numbers) has been masked out of them, because the
 * platform echoes input back in its messages.
 *
 * CFCA publishes no error-code table. The codes below are the few seen in public integrations; everything else
 * becomes `VENDOR_REJECTED` (not retryable) with CFCA's code in `details.vendorCode`. Add or correct rules with the
 * client's `errorCodes` option once the test system has shown the real ones.
 */
import {
  ConflictError,
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
export const CFCA_VENDOR_ID = 'cfca';

/** `head.retCode` of a successful transaction. */
export const CFCA_SUCCESS_CODE = '60000000';

/** Which call failed: the transaction code or the download, never the request data. */
export interface CfcaCallContext {
  /** `3001`…, or `download` / `batchDownload`. */
  operation: string;
  /** Masks the request's personal data out of CFCA's texts. */
  scrub?: (text: string) => string;
}

/** How one CFCA error code (`errorCode`, or a failing `head.retCode`) becomes an error. */
export interface CfcaCodeRule {
  /** The sealflow code; `NOT_FOUND` throws a `NotFoundError`, `DUPLICATE` a `ConflictError`. */
  code: SealflowErrorCode;
  retryable: boolean;
  /** What the person reading the error should do. */
  hint: string;
  /** For "not yet" codes: how long to wait before asking again. */
  retryAfterMs?: number;
}

/** The CFCA error codes seen in public integrations. Anything else is `VENDOR_REJECTED`, not retryable. */
export const CFCA_ERROR_CODES: Readonly<Record<string, CfcaCodeRule>> = {
  '60030407': {
    code: 'VENDOR_NOT_READY',
    retryable: true,
    retryAfterMs: 10_000,
    hint: 'the contract batch is still being created (该批次还没有执行完毕); ask for its result again later.',
  },
  '60030401': {
    code: 'DUPLICATE',
    retryable: false,
    hint:
      'the user has already authorised proxy signing for this project (已经开通代签权限); go on with the ' +
      'authorisation that exists.',
  },
  '60030202': {
    code: 'NOT_FOUND',
    retryable: false,
    hint:
      'CFCA has no approved user with this userId (用户信息不存在或不是审核通过状态); open the account first or ' +
      'check the userId and environment.',
  },
  '50030301': {
    code: 'NOT_FOUND',
    retryable: false,
    hint: 'CFCA has no contract with this number for this platform; check the contract number and environment.',
  },
};

function details(context: CfcaCallContext, extra: Record<string, unknown>): Record<string, unknown> {
  return { vendor: CFCA_VENDOR_ID, operation: context.operation, ...extra };
}

function where(context: CfcaCallContext): string {
  return /^\d+$/.test(context.operation)
    ? `CFCA transaction ${context.operation}`
    : `CFCA ${context.operation === 'batchDownload' ? 'batch download' : context.operation}`;
}

function quote(context: CfcaCallContext, vendorMessage: string | undefined): string {
  if (!vendorMessage) return '';
  const scrubbed = maskText((context.scrub ?? ((text) => text))(vendorMessage));
  return ` (CFCA said: "${scrubbed.slice(0, 200)}")`;
}

/** An `{ errorCode, errorMessage }` answer, or a `head.retCode` other than success, mapped with `table`. */
export function vendorCodeError(
  context: CfcaCallContext,
  vendorCode: string,
  vendorMessage: string | undefined,
  httpStatus: number,
  table: Readonly<Record<string, CfcaCodeRule>> = CFCA_ERROR_CODES,
): SealflowError {
  const rule = table[vendorCode];
  const info = details(context, {
    httpStatus,
    vendorCode,
    ...(rule?.retryAfterMs === undefined ? {} : { retryAfterMs: rule.retryAfterMs }),
  });
  const hint = rule?.hint ?? 'CFCA refused the request; see its code and message, and fix the request.';
  const message = `${where(context)} failed with code ${vendorCode}: ${hint}${quote(context, vendorMessage)}`;
  if (rule?.code === 'NOT_FOUND') return new NotFoundError(message, { details: info });
  if (rule?.code === 'DUPLICATE') return new ConflictError('DUPLICATE', message, { details: info });
  return new SealflowError(rule?.code ?? 'VENDOR_REJECTED', message, {
    retryable: rule?.retryable ?? false,
    details: info,
  });
}

/** An HTTP status without a CFCA answer in the body (a proxy's or a load balancer's page, or an empty body). */
export function httpError(context: CfcaCallContext, status: number, bodyText: string): SealflowError {
  const excerpt = quote(context, bodyText.trim() === '' ? undefined : bodyText.trim());
  if (status === 429) {
    return new SealflowError(
      'VENDOR_RATE_LIMITED',
      `${where(context)} was rate limited (HTTP 429). It can be tried again after a pause; if this keeps happening, ` +
        'lower the client qps option.',
      { retryable: true, details: details(context, { httpStatus: status }) },
    );
  }
  if (status >= 500) {
    return new SealflowError(
      'VENDOR_UNAVAILABLE',
      `${where(context)} failed on CFCA's side (HTTP ${status}). It can be tried again later.`,
      { retryable: true, details: details(context, { httpStatus: status }) },
    );
  }
  return new SealflowError(
    'VENDOR_REJECTED',
    `${where(context)} was refused with HTTP ${status}. Check baseUrl (it ends in /FEP/) and platId.${excerpt}`,
    { retryable: false, details: details(context, { httpStatus: status }) },
  );
}

/**
 * An answer the client cannot use. Only a body that is not JSON at all is retryable (a cut-off or garbled
 * transfer); well-formed JSON of the wrong shape would come back the same.
 */
export function badResponseError(
  context: CfcaCallContext,
  status: number,
  problem: string,
  retryable = false,
): SealflowError {
  return new SealflowError(
    'VENDOR_BAD_RESPONSE',
    `${where(context)} answered HTTP ${status} with a body the client cannot use: ${problem}. If a proxy sits in ` +
      'between, check that it passes CFCA answers through unchanged.',
    { retryable, details: details(context, { httpStatus: status }) },
  );
}

/** No answer within the call's time limit: the retryable `VENDOR_TIMEOUT`; the request may have been processed. */
export function timeoutError(context: CfcaCallContext, timeoutMs: number, cause?: unknown): TimeoutError {
  return new TimeoutError(
    'VENDOR_TIMEOUT',
    `${where(context)} did not answer within ${timeoutMs} ms. It may still have been carried out: look the result ` +
      'up (3210 / 3211) before creating anything again. If CFCA is merely slow, raise timeoutMs.',
    { cause, details: details(context, { timeoutMs }) },
  );
}

// Node's codes for a TLS handshake that failed on certificates or protocol: the same request fails the same way.
const TLS_ERROR =
  /^(ERR_SSL_|ERR_TLS_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$)/;

/**
 * The connection failed. A TLS failure (`VENDOR_TLS_FAILED`: certificate refused, unknown CA, name mismatch,
 * protocol) is not retryable; anything else (DNS, refused, reset) is the retryable `VENDOR_UNAVAILABLE`.
 */
export function networkError(context: CfcaCallContext, cause: unknown): SealflowError {
  // axios copies the socket's code onto its own error; the original is its cause.
  const codes = [cause, (cause as { cause?: unknown } | null)?.cause].map(
    (c) => (c as { code?: unknown } | null)?.code,
  );
  const codeText =
    codes.find((c): c is string => typeof c === 'string' && TLS_ERROR.test(c)) ??
    codes.find((c): c is string => typeof c === 'string');
  if (codeText && TLS_ERROR.test(codeText)) {
    return new SealflowError(
      'VENDOR_TLS_FAILED',
      `${where(context)} failed in the TLS handshake (${codeText}). Check that tls holds the platform's ` +
        "communication certificate and key CFCA issued, that tls.ca trusts CFCA's server certificate chain, and " +
        'whether the host is an IP address that needs tls.verifyHostname: false.',
      { cause, retryable: false, details: details(context, { networkError: codeText }) },
    );
  }
  return new SealflowError(
    'VENDOR_UNAVAILABLE',
    `${where(context)} could not reach CFCA${codeText ? ` (${codeText})` : ''}. Check the network and baseUrl; the ` +
      'call can be tried again.' +
      (codeText === 'ECONNRESET'
        ? ' If every call is reset, CFCA is refusing the TLS client certificate: check the tls option.'
        : ''),
    { cause, retryable: true, details: details(context, { networkError: codeText }) },
  );
}

/** The caller aborted the call: `VENDOR_ABORTED`, not retryable (nobody is waiting for the answer any more). */
export function abortedError(context: CfcaCallContext, cause: unknown): SealflowError {
  return new SealflowError('VENDOR_ABORTED', `${where(context)} was aborted by the caller.`, {
    cause,
    retryable: false,
    details: details(context, {}),
  });
}

// Keys under which CFCA requests carry personal data (PersonVO, EnterpriseTransactorVO, BankCardInfoVO,
// SignatoryVO). Enterprise names and their registration numbers are not personal data.
const PERSONAL_KEYS: Record<string, (value: string) => string> = {
  personname: maskName,
  transactorname: maskName,
  username: maskName,
  identno: maskIdNumber,
  bankcardid: maskIdNumber,
  panno: maskIdNumber,
  cvn2: () => '***',
  mobilephone: maskMobile,
  anxinsignmobilephone: maskMobile,
  email: maskEmail,
  anxinsignemail: maskEmail,
  address: maskName,
};

function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  return at <= 0 ? maskName(value) : `${value[0]}***${value.slice(at)}`;
}

/**
 * A function that replaces, in any text, the personal values found in a request body (by their CFCA field names,
 * at any depth) with their masked forms.
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
