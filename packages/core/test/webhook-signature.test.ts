import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SealflowError, WebhookSignatureError, verifyWebhookSignature } from '../src/index.js';

const secret = 'whsec-0123456789abcdef';
const body = '{"id":"w1/2/0:signing.completed","type":"signing.completed"}';
const now = Date.UTC(2026, 0, 1, 12);
const t = Math.floor(now / 1000);
/** Computed here from the documented scheme, not with the library's own signer. */
const sign = (key: string, timestamp: number, text: string) =>
  createHmac('sha256', key).update(`${timestamp}.${text}`).digest('hex');

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookSignatureError);
    expect(error).toBeInstanceOf(SealflowError);
    return (error as SealflowError).code;
  }
  throw new Error('expected a WebhookSignatureError');
}

describe('verifyWebhookSignature', () => {
  it('accepts HMAC-SHA256 over "<t>.<body>", from a string or the raw bytes', () => {
    const header = `t=${t},v1=${sign(secret, t, body)}`;
    expect(verifyWebhookSignature({ secret, header, body, now })).toEqual({ timestamp: t });
    expect(verifyWebhookSignature({ secret, header: [header], body: Buffer.from(body), now })).toEqual({
      timestamp: t,
    });
  });

  it('refuses a changed body, another secret or a changed timestamp', () => {
    const header = `t=${t},v1=${sign(secret, t, body)}`;
    expect(codeOf(() => verifyWebhookSignature({ secret, header, body: `${body} `, now }))).toBe(
      'WEBHOOK_SIGNATURE_MISMATCH',
    );
    expect(codeOf(() => verifyWebhookSignature({ secret: `${secret}x`, header, body, now }))).toBe(
      'WEBHOOK_SIGNATURE_MISMATCH',
    );
    const moved = header.replace(`t=${t}`, `t=${t + 1}`);
    expect(codeOf(() => verifyWebhookSignature({ secret, header: moved, body, now }))).toBe(
      'WEBHOOK_SIGNATURE_MISMATCH',
    );
  });

  it('refuses a timestamp outside the tolerance either way, and accepts one at its edge', () => {
    const at = (timestamp: number) => `t=${timestamp},v1=${sign(secret, timestamp, body)}`;
    expect(verifyWebhookSignature({ secret, header: at(t - 300), body, now })).toEqual({ timestamp: t - 300 });
    expect(codeOf(() => verifyWebhookSignature({ secret, header: at(t - 301), body, now }))).toBe(
      'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
    );
    expect(codeOf(() => verifyWebhookSignature({ secret, header: at(t + 61), body, now, toleranceSeconds: 60 }))).toBe(
      'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE',
    );
  });

  it('accepts any of several secrets or signatures, so secrets can be rotated', () => {
    const old = 'whsec-old-0123456789ab';
    const header = `t=${t},v1=${sign(old, t, body)},v1=${sign(secret, t, body)}`;
    expect(verifyWebhookSignature({ secret, header, body, now }).timestamp).toBe(t);
    const oldOnly = `t=${t},v1=${sign(old, t, body)}`;
    expect(verifyWebhookSignature({ secret: [secret, old], header: oldOnly, body, now }).timestamp).toBe(t);
  });

  it('says when the header is missing or malformed', () => {
    expect(codeOf(() => verifyWebhookSignature({ secret, header: undefined, body, now }))).toBe(
      'WEBHOOK_SIGNATURE_MISSING',
    );
    for (const header of ['v1=abc', `t=${t}`, `t=${t},v1=xyz`, `t=soon,v1=${sign(secret, t, body)}`, 'garbage']) {
      expect(codeOf(() => verifyWebhookSignature({ secret, header, body, now }))).toBe('WEBHOOK_SIGNATURE_MALFORMED');
    }
    expect(() => verifyWebhookSignature({ secret: '', header: 'x', body, now })).toThrow(TypeError);
  });
});
