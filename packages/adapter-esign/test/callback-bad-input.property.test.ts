/**
 * e签宝 callbacks under generated bad input. A forged callback (any headers, query and body, signed or not with the
 * wrong secret) is refused with `CALLBACK_REJECTED`, never applied; a correctly signed callback with any body is an
 * event or a typed refusal, never a raw error; `verifyCallback` given anything at all answers or refuses with a typed
 * error. A genuine callback is still read.
 */
import { isSealflowError, type RawCallback } from '@sealflow/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerOrTypedError, bounded, countInputs, propertyRuns } from '../../../reliability/property.js';
import { callbackHeaders, ESIGN_CALLBACK_HEADERS, esignVendor, verifyCallback } from '../src/index.js';

const APP_ID = '7438000001';
const SECRET = 'test-secret-0123456789';
const NOW = Date.UTC(2026, 10, 30, 2);
const vendor = esignVendor({ appId: APP_ID, appSecret: SECRET, host: 'http://127.0.0.1:9', clock: { now: () => NOW } });
const KINDS = ['signer-signed', 'flow-completed', 'flow-rejected', 'flow-revoked', 'flow-expired', 'other'];

const anything = fc.anything({
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString')),
  maxDepth: 2,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withTypedArray: true,
});
const headerName = fc.oneof(fc.constantFrom(...Object.values(ESIGN_CALLBACK_HEADERS)), fc.string({ maxLength: 12 }));
const headerValueOf = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
  fc.constant(undefined),
  fc.constantFrom(String(NOW), 'hmac-sha256', 'HMAC-SHA256', APP_ID, '0', '-1', '1e400', 'a'.repeat(64)),
);
const headers = fc.dictionary(headerName, headerValueOf, { maxKeys: 6 });
const query = fc.dictionary(
  fc.string({ maxLength: 8 }),
  fc.oneof(fc.string({ maxLength: 12 }), fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 })),
  { maxKeys: 3 },
);
/** Bodies shaped like sign-flow events with any member replaced, JSON of any shape, and non-JSON text and bytes. */
const eventBody = fc.record(
  {
    action: fc.oneof(fc.constantFrom('SIGN_MISSON_COMPLETE', 'SIGN_FLOW_COMPLETE', 'OTHER'), anything),
    signFlowId: fc.oneof(fc.string({ maxLength: 40 }), anything),
    timestamp: fc.oneof(fc.integer(), fc.double(), fc.string(), anything),
    signOrder: fc.oneof(fc.integer(), anything),
    signResult: fc.oneof(fc.constantFrom(2, 4, '2', '4'), anything),
    customBizNum: fc.oneof(fc.constantFrom('sealflow:borrower:1', 'sealflow::', ':::'), fc.string(), anything),
    operateTime: fc.oneof(fc.integer(), fc.double(), anything),
    signFlowStatus: fc.oneof(fc.constantFrom(2, 3, 5, 7, '2'), anything),
    signFlowFinishTime: fc.oneof(fc.integer(), fc.double(), anything),
    operator: fc.oneof(fc.record({ psnId: fc.oneof(fc.string(), anything) }), anything),
    organization: fc.oneof(fc.record({ orgId: fc.oneof(fc.string(), anything) }), anything),
  },
  { requiredKeys: [] },
);
const rawBody = fc.oneof(
  eventBody.map((body) => JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) ?? ''),
  fc.json(),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
);

describe('e签宝 callbacks: any headers, query and body', () => {
  it('refuses every forged callback with CALLBACK_REJECTED (property)', async ({ task }) => {
    const runs = propertyRuns();
    await fc.assert(
      fc.asyncProperty(headers, query, rawBody, fc.boolean(), async (h, q, body, signWithWrongSecret) => {
        const forged = signWithWrongSecret
          ? { ...h, ...callbackHeaders({ appId: APP_ID, timestamp: NOW, query: q, rawBody: body, secret: 'guessed' }) }
          : h;
        const outcome = await bounded('parseCallback', () =>
          vendor.parseCallback!({ headers: forged, query: q, rawBody: body }).then(
            () => null,
            (error: unknown) => error,
          ),
        );
        expect(outcome, 'a forged callback was accepted').not.toBeNull();
        expect(isSealflowError(outcome) && outcome.code, String(outcome)).toBe('CALLBACK_REJECTED');
      }),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('reads a correctly signed callback with any body as an event or a typed refusal (property)', async ({ task }) => {
    const runs = propertyRuns();
    await fc.assert(
      fc.asyncProperty(query, rawBody, fc.integer({ min: -60_000, max: 60_000 }), async (q, body, skew) => {
        const signed = callbackHeaders({
          appId: APP_ID,
          timestamp: NOW + skew,
          query: q,
          rawBody: body,
          secret: SECRET,
        });
        const callback: RawCallback = { headers: signed, query: q, rawBody: body };
        const event = await answerOrTypedError('parseCallback', () => vendor.parseCallback!(callback));
        if (event === undefined) return;
        expect(typeof event.eventId).toBe('string');
        expect(typeof event.flowId === 'string' && event.flowId.length > 0).toBe(true);
        expect(KINDS).toContain(event.kind);
        expect(Number.isFinite(event.occurredAt)).toBe(true);
      }),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('verifyCallback answers anything with nothing or a typed refusal (property)', async ({ task }) => {
    const runs = propertyRuns();
    const input = fc.record(
      {
        headers: fc.oneof(headers, anything),
        query: fc.oneof(query, fc.string(), anything),
        rawBody: fc.oneof(rawBody, anything),
        secret: fc.oneof(fc.constant(SECRET), anything),
        now: fc.oneof(fc.constant(NOW), anything),
        toleranceMs: fc.oneof(fc.constant(undefined), anything),
        appId: fc.oneof(fc.constant(APP_ID), anything),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(input, anything), async (value) => {
        await answerOrTypedError('verifyCallback', () => verifyCallback(value as Parameters<typeof verifyCallback>[0]));
      }),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('refuses to judge with a clock or tolerance that is not a number, where a stale callback used to pass', () => {
    const body = '{"action":"SIGN_FLOW_COMPLETE","signFlowId":"flow-1"}';
    const stale = callbackHeaders({ appId: APP_ID, timestamp: NOW - 86_400_000, rawBody: body, secret: SECRET });
    for (const clock of [{ now: Number.NaN }, { now: NOW, toleranceMs: Number.NaN }]) {
      let thrown: unknown;
      try {
        verifyCallback({ headers: stale, rawBody: body, secret: SECRET, ...clock });
      } catch (error) {
        thrown = error;
      }
      expect(isSealflowError(thrown) && thrown.code, JSON.stringify(clock)).toBe('INVALID_INPUT');
    }
    // Headers as a framework may hand them over: absent, or with numbers for values.
    for (const received of [undefined, { [ESIGN_CALLBACK_HEADERS.timestamp]: NOW, 'X-Tsign-Open-SIGNATURE': 7 }]) {
      expect(() => verifyCallback({ headers: received as never, rawBody: body, secret: SECRET, now: NOW })).toThrow(
        /is missing/,
      );
    }
  });

  it('still reads a genuine callback', async () => {
    const body = JSON.stringify({
      action: 'SIGN_FLOW_COMPLETE',
      signFlowId: 'flow-1',
      signFlowStatus: 2,
      signFlowFinishTime: NOW - 1_000,
      timestamp: NOW - 2_000,
    });
    const event = await vendor.parseCallback!({
      headers: callbackHeaders({ appId: APP_ID, timestamp: NOW, rawBody: body, secret: SECRET }),
      query: {},
      rawBody: body,
    });
    expect([event.kind, event.flowId, event.occurredAt]).toEqual(['flow-completed', 'flow-1', NOW - 1_000]);
  });
});
