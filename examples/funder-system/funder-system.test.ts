/**
 * The funder system's webhook endpoint: it takes only requests signed with its secret over the exact body and a
 * timestamp near its clock, and works on each event once.
 */
import { createHmac } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createFunderSystem } from './src/funder-system.js';

const SECRET = 'funder-webhook-secret-0123456789';

// The backend is never reached: the events below are of a type the funder only records.
const funder = createFunderSystem({
  funderId: 'bank-a',
  backendUrl: 'http://127.0.0.1:9',
  apiKey: 'unused-key-0123456789abcdef',
  webhookSecret: SECRET,
  maxAmountFen: 1,
});
afterAll(() => funder.app.close());

/** Signed as docs/webhooks.md describes: HMAC-SHA256 over `<t>.<raw body>`. */
function signed(body: string, { secret = SECRET, t = Math.floor(Date.now() / 1000) } = {}) {
  const v1 = createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
  return { 'content-type': 'application/json', 'sealflow-signature': `t=${t},v1=${v1}` };
}

const body = (id: string) =>
  JSON.stringify({
    id,
    type: 'dispatch.chosen',
    workflowId: 'dispatch:app:SQ1:1',
    occurredAt: Date.now(),
    data: { dispatchId: 'dispatch:app:SQ1:1', applicationId: 'app:SQ1', institutionId: 'bank-a' },
  });

const post = (payload: string, headers: Record<string, string>) =>
  funder.app.inject({ method: 'POST', url: '/sealflow/events', payload, headers });

describe('the funder system’s webhook endpoint', () => {
  it('accepts a correctly signed event once, however often it is delivered', async () => {
    const payload = body('ev-1');
    expect((await post(payload, signed(payload))).statusCode).toBe(204);
    expect((await post(payload, signed(payload))).statusCode).toBe(204);
    await funder.idle();
    expect(funder.received).toEqual(['ev-1']);
    expect(funder.actions).toEqual([{ kind: 'chosen', applicationId: 'app:SQ1' }]);
  });

  it('refuses a changed body, another secret, a stale timestamp and a missing signature with 401', async () => {
    const payload = body('ev-2');
    const cases: [string, Record<string, string>, string][] = [
      [payload.replace('bank-a', 'bank-b'), signed(payload), 'WEBHOOK_SIGNATURE_MISMATCH'],
      [payload, signed(payload, { secret: 'another-secret-0123456789abcdef' }), 'WEBHOOK_SIGNATURE_MISMATCH'],
      [payload, signed(payload, { t: Math.floor(Date.now() / 1000) - 3600 }), 'WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE'],
      [payload, { 'content-type': 'application/json' }, 'WEBHOOK_SIGNATURE_MISSING'],
    ];
    for (const [sent, headers, code] of cases) {
      const answer = await post(sent, headers);
      expect(answer.statusCode, code).toBe(401);
      expect(answer.json()).toMatchObject({ status: 401, code });
    }
    expect(funder.received).not.toContain('ev-2');
  });
});
