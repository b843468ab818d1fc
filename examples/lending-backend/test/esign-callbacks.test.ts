/**
 * `/callbacks/esign` with e签宝 as the signing vendor: the raw body reaches sealflow unchanged, so a correctly signed
 * callback verifies, and a changed or unsigned one is refused. No e签宝 server is called.
 */
import { callbackHeaders } from '@sealflow/adapter-esign';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STARTUP_MS, startBackend } from './fixtures.js';

const APP_ID = '7438000001';
const APP_SECRET = 'esign-test-app-secret-0123456789';
let backend: Awaited<ReturnType<typeof startBackend>>;

beforeAll(async () => {
  backend = await startBackend({
    signer: { kind: 'esign', appId: APP_ID, appSecret: APP_SECRET, host: 'sandbox', platformSealId: 'esign-seal-1' },
  });
}, STARTUP_MS);
afterAll(async () => {
  await backend?.close();
});

// Spacing and key order as e签宝 sent them: re-serialised JSON would not match the signature.
const rawBody = '{ "action":"SIGN_FLOW_COMPLETE", "signFlowId":"flow-unknown-1", "signFlowStatus":2, "timestamp":1 }';

const post = (payload: string, headers: Record<string, string>, query = '') =>
  backend.app.inject({ method: 'POST', url: `/callbacks/esign${query}`, payload, headers });

describe('e签宝 callbacks', () => {
  it('verifies a signed callback over the raw body and asks e签宝 to redeliver one about a flow not known yet', async () => {
    const headers = callbackHeaders({
      appId: APP_ID,
      secret: APP_SECRET,
      timestamp: Date.now(),
      query: { tenant: 'lender-1' },
      rawBody,
    });
    const answer = await post(rawBody, headers, '?tenant=lender-1');
    // Verified, then refused as retryable: no signing record has this flow (yet), so e签宝 should try again.
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.json()).toMatchObject({ code: 'CALLBACK_UNKNOWN_FLOW', retryable: true });
  });

  it('refuses a callback whose body, query or signature does not match with 401', async () => {
    const headers = callbackHeaders({ appId: APP_ID, secret: APP_SECRET, timestamp: Date.now(), query: {}, rawBody });
    const changed = await post(rawBody.replace('flow-unknown-1', 'flow-unknown-2'), headers);
    expect(changed.statusCode).toBe(401);
    expect(changed.json()).toMatchObject({ code: 'CALLBACK_REJECTED', retryable: false });
    const withQuery = await post(rawBody, headers, '?tenant=other');
    expect(withQuery.statusCode).toBe(401);
    const unsigned = await post(rawBody, { 'content-type': 'application/json' });
    expect(unsigned.statusCode).toBe(401);
  });
});
