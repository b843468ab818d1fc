import { createHmac, timingSafeEqual } from 'node:crypto';
import { SealflowError, type SealflowErrorOptions } from '../errors.js';
import { systemClock } from '../ports/clock.js';

/**
 * The webhook signature scheme, shared by the relay that signs and the receivers that verify.
 *
 * `Sealflow-Signature: t=<unix seconds>,v1=<hex>` where `v1` is HMAC-SHA256 with the subscriber's secret over
 * `<t>.<raw body>`. The timestamp is inside the signed text, so a receiver that checks it against its own clock
 * rejects a captured request replayed later; the body is signed byte for byte, so receivers must verify the raw
 * body before parsing it. A header may carry several `v1` values (one per secret while a secret is rotated); one
 * match is enough.
 */

export const SIGNATURE_HEADER = 'Sealflow-Signature';
export const SIGNATURE_SCHEME = 'v1';

/** Why a webhook request was refused; receivers answer 400 or 401 and log the code. */
export type WebhookSignatureErrorCode =
  | 'WEBHOOK_SIGNATURE_MISSING'
  | 'WEBHOOK_SIGNATURE_MALFORMED'
  | 'WEBHOOK_SIGNATURE_MISMATCH'
  | 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE';

/**
 * A webhook whose `Sealflow-Signature` header is missing, malformed, wrong, or too old (see {@link
 * verifyWebhookSignature}).
 */
export class WebhookSignatureError extends SealflowError {
  constructor(code: WebhookSignatureErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function webhookSignature(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The `Sealflow-Signature` header value for a body sent at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},${SIGNATURE_SCHEME}=${webhookSignature(secret, timestamp, body)}`;
}

/** Options of {@link verifyWebhookSignature}: the secret(s), the header and the raw body as received. */
export interface VerifyWebhookSignatureOptions {
  /** The subscriber's secret; during a rotation, the old and the new one (either may have signed). */
  secret: string | readonly string[];
  /** The `Sealflow-Signature` header as received (Node's `req.headers['sealflow-signature']`). */
  header: string | readonly string[] | undefined | null;
  /** The raw request body, exactly as received: not re-serialised JSON, which may differ by a byte. */
  body: string | Uint8Array;
  /** How far the signed timestamp may be from `now`, either way, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The receiver's time in epoch milliseconds (default `Date.now()`). */
  now?: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Check a webhook request's signature and timestamp; returns the signed timestamp (unix seconds). Throws
 * `WebhookSignatureError` when the header is missing or malformed, no signature matches (comparison in constant
 * time), or the timestamp is outside the tolerance. Deduplicate accepted requests by `Sealflow-Event-Id`: delivery is
 * at least once.
 */
export function verifyWebhookSignature(options: VerifyWebhookSignatureOptions): { timestamp: number } {
  const secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError('verifyWebhookSignature needs the subscriber secret (a non-empty string, or several).');
  }
  const header = Array.isArray(options.header) ? options.header.join(',') : (options.header as string | undefined);
  if (!header) {
    throw new WebhookSignatureError(
      'WEBHOOK_SIGNATURE_MISSING',
      `The request has no ${SIGNATURE_HEADER} header; refuse it. Requests from sealflow always carry one.`,
    );
  }
  const { timestamp, signatures } = parseHeader(header);
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? systemClock.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new WebhookSignatureError(
      'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
      `The request was signed at ${timestamp} (unix seconds), ${nowSeconds - timestamp} s from this server's ` +
        `clock, beyond the ${tolerance} s tolerance: refuse it as a possible replay. If genuine requests fail ` +
        'this way, check this server clock (NTP).',
      { details: { timestamp, now: nowSeconds, toleranceSeconds: tolerance } },
    );
  }
  for (const secret of secrets) {
    const expected = Buffer.from(webhookSignature(secret, timestamp, options.body), 'hex');
    if (signatures.some((candidate) => timingSafeEqual(Buffer.from(candidate, 'hex'), expected))) {
      return { timestamp };
    }
  }
  throw new WebhookSignatureError(
    'WEBHOOK_SIGNATURE_MISMATCH',
    'The request signature does not match its body: refuse it. If genuine requests fail this way, check that the ' +
      'secret is the subscriber secret configured in sealflow and that the raw body is verified before parsing.',
  );
}

function parseHeader(header: string): { timestamp: number; signatures: string[] } {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2) as [string, string?];
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === SIGNATURE_SCHEME && HEX_SHA256.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new WebhookSignatureError(
      'WEBHOOK_SIGNATURE_MALFORMED',
      `The ${SIGNATURE_HEADER} header is not of the form t=<unix seconds>,v1=<64 hex digits>; refuse the request.`,
    );
  }
  return { timestamp, signatures };
}
