/**
 * Crash safety of the signing workflow: an effect that runs again after a crash or a lost response sends the vendor
 * the request its first run sent (same idempotency key, same body), so the vendor answers with the flow it already
 * made; a vendor that refuses anyway is asked for that flow; and no FAILED record hides a flow the vendor completed.
 */
import { describe, expect, it } from 'vitest';
import { type SigningRecord, SealflowError, type SigningVendor } from '../src/index.js';
import { type KeyedVendorMethod, type LostResponsesVendor, withLostResponses } from '../src/testing/index.js';
import { FUNDER, type SetupOptions, type SigningSetup, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

/** A lost answer costs time (a timeout): enough that a request computed from the clock would differ on the re-run. */
const LOST_ANSWER_MS = 90_000;

/** One gateway try: every lost answer fails the whole effect, which the runtime runs again later. */
async function lossySetup(options: SetupOptions = {}, methods?: KeyedVendorMethod[]) {
  let lossy: LostResponsesVendor | undefined;
  const s = await setupSigning({
    ...options,
    gatewayRetry: { attempts: 1 },
    wrapVendor: (vendor, clock) => {
      lossy = withLostResponses(vendor, {
        onLost: () => clock.advance(LOST_ANSWER_MS),
        ...(methods ? { methods } : {}),
      });
      return lossy;
    },
  });
  return { ...s, lossy: lossy! };
}

/** Let the runtime retry (its backoff runs on the manual clock) until the record leaves `from`. */
async function settle(s: SigningSetup, recordId: string, until: (r: SigningRecord) => boolean) {
  for (let i = 0; i < 60; i++) {
    await s.drain();
    const record = (await s.signing.get(recordId))!;
    if (until(record)) return record;
    s.clock.advance(30_000);
  }
  throw new Error(`signing ${recordId} did not settle: ${JSON.stringify(await s.signing.get(recordId))}`);
}

const final = (r: SigningRecord) => r.status === 'COMPLETED' || r.status === 'FAILED';

describe('signing after lost vendor responses (memory vendor)', () => {
  it('re-runs upload, create, funder append and both downloads with identical requests: one flow, COMPLETED', async () => {
    const s = await lossySetup();
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-LOST-1' }));
    const waiting = await settle(s, record.id, (r) => r.status === 'AWAITING_FUNDER' || final(r));
    expect(waiting.failure).toBeNull();
    expect(waiting.status).toBe('AWAITING_FUNDER');
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    const done = await settle(s, record.id, final);

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
    expect(done.vendor.flowId).not.toBeNull();
    // Every vendor-facing step lost an answer and ran again…
    expect(new Set(s.lossy.lost.map((c) => c.method))).toEqual(
      new Set(['uploadDocument', 'createFlow', 'appendSigner', 'downloadSigned']),
    );
    expect(s.lossy.lost.filter((c) => c.method === 'downloadSigned')).toHaveLength(2);
    // …and sent the very request it sent the first time, hours of retries later.
    expect(s.lossy.conflicts()).toEqual([]);
    expect(s.vendor.calls.some((c) => c.method === 'findFlow')).toBe(false);
    const [file] = await s.signing.download(record.id);
    expect(Buffer.from(file!.bytes).toString('latin1')).toContain('signed by: borrower,funder');
  });

  it('re-runs a status poll whose answer was lost, then completes once the borrower signed', async () => {
    const s = await lossySetup({ vendor: { capabilities: { callbacks: false } } });
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-LOST-1' }));
    const open = await settle(s, record.id, (r) => r.stage === 'vendorPhase.awaitingCompletion' || final(r));
    expect(open.failure).toBeNull();
    s.vendor.sign(open.vendor.flowId!, 'borrower');
    const done = await settle(s, record.id, final);
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(s.lossy.lost.some((c) => c.method === 'getFlow')).toBe(true);
    expect(s.lossy.conflicts()).toEqual([]);
    expect(s.vendor.flowCount()).toBe(1);
  });

  it('re-runs the deadline cancel whose answer was lost: the flow is revoked once and the signing FAILED', async () => {
    // Only the cancel loses answers: any earlier delay would let the vendor expire the flow before the cancel.
    const s = await lossySetup({}, ['cancelFlow']);
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-LOST-2' }));
    const open = await settle(s, record.id, (r) => r.stage === 'vendorPhase.awaitingCompletion' || final(r));
    s.clock.advance(3_600_000);
    const failed = await settle(s, record.id, final);
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'SIGNING_DEADLINE_PASSED' } });
    expect(s.lossy.lost.some((c) => c.method === 'cancelFlow')).toBe(true);
    expect(s.lossy.conflicts()).toEqual([]);
    expect((await s.gateway.getFlow(open.vendor.flowId!, { idempotencyKey: 'check' })).status).toBe('revoked');
    expect(s.vendor.flowCount()).toBe(1);
  });
});

describe('a vendor that refuses a re-run create', () => {
  /** The first create reaches the vendor with another body (as a host's older release would have sent), then its answer is lost. */
  const divergingFirstCreate = (vendor: SigningVendor): SigningVendor => {
    let first = true;
    return {
      ...vendor,
      id: vendor.id,
      capabilities: vendor.capabilities,
      async createFlow(input, context) {
        if (!first) return vendor.createFlow(input, context);
        first = false;
        await vendor.createFlow({ ...input, title: `${input.title} (v0)` }, context);
        throw new SealflowError('VENDOR_FAILURE', 'connection reset', { retryable: true });
      },
    };
  };

  it('adopts the flow the key already made (findFlow) instead of failing: one flow, COMPLETED', async () => {
    const s = await setupSigning({ gatewayRetry: { attempts: 1 }, wrapVendor: divergingFirstCreate });
    const record = await s.signing.sign(s.request({ businessNo: 'LN-REFUSED-1' }));
    const done = await settle(s, record.id, final);
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
    expect(s.vendor.calls.filter((c) => c.method === 'findFlow')).toHaveLength(1);
  });

  it('without findFlow the refusal fails the signing with the vendor’s reason, and no second flow is made', async () => {
    const s = await setupSigning({
      gatewayRetry: { attempts: 1 },
      wrapVendor: (vendor) => {
        const { findFlow: _none, ...withoutLookup } = divergingFirstCreate(vendor);
        return withoutLookup as SigningVendor;
      },
    });
    const record = await s.signing.sign(s.request({ businessNo: 'LN-REFUSED-2' }));
    const done = await settle(s, record.id, final);
    expect(done).toMatchObject({ status: 'FAILED', failure: { code: 'VENDOR_REJECTED', stage: 'startingVendorFlow' } });
    expect(s.vendor.flowCount()).toBe(1);
  });
});

describe('no FAILED record over a flow the vendor completed', () => {
  it('the deadline finds the flow completed at the vendor (no callback yet): it archives instead of failing', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-RACE-1' }));
    await s.drain();
    const open = (await s.signing.get(record.id))!;
    expect(open.stage).toBe('vendorPhase.awaitingCompletion');
    // The borrower signs in the vendor's page at the last moment; the callback is lost and the deadline comes first.
    s.vendor.sign(open.vendor.flowId!, 'borrower');
    s.clock.advance(3_600_000);
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
  });

  it('a flow the deadline finds completed still passes the seal rule: another auto-seal fails it', async () => {
    // The vendor reports the platform's seal correctly while the flow is open, and another one once it completed.
    const s = await setupSigning({
      wrapVendor: (vendor) => ({
        ...vendor,
        id: vendor.id,
        capabilities: vendor.capabilities,
        async getFlow(flowId, context) {
          const flow = await vendor.getFlow(flowId, context);
          if (flow.status !== 'completed') return flow;
          return {
            ...flow,
            signers: flow.signers.map((x) =>
              x.role === 'platform' && x.seal ? { ...x, seal: { ...x.seal, sealId: 'pay-seal' } } : x,
            ),
          };
        },
      }),
    });
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-RACE-SEAL' }));
    await s.drain();
    const open = (await s.signing.get(record.id))!;
    s.vendor.sign(open.vendor.flowId!, 'borrower');
    s.clock.advance(3_600_000);
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'SEAL_NOT_AS_ASKED' }, signed: [] });
  });

  it('the deadline passes while the flow is still being created: the flow the vendor then completes is archived', async () => {
    const unavailable = () => new SealflowError('VENDOR_UNAVAILABLE', 'vendor down', { retryable: true });
    const s = await setupSigning({
      gatewayRetry: { attempts: 1 },
      vendor: { failures: { createFlow: [unavailable(), unavailable()] } },
    });
    const record = await s.signing.sign(s.request({ businessNo: 'LN-RACE-2' }));
    await s.drain();
    expect((await s.signing.get(record.id))!.stage).toBe('vendorPhase.startingVendorFlow');
    s.clock.advance(48 * 3_600_000); // the 24-hour deadline and the next retry are both due
    await s.drain();
    const done = await settle(s, record.id, final);
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
  });

  it('the deadline passes while the flow is being created and the flow then waits: it is closed, then FAILED', async () => {
    const unavailable = () => new SealflowError('VENDOR_UNAVAILABLE', 'vendor down', { retryable: true });
    const s = await setupSigning({
      gatewayRetry: { attempts: 1 },
      vendor: { failures: { createFlow: [unavailable(), unavailable()] } },
    });
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-RACE-3' }));
    await s.drain();
    s.clock.advance(2 * 3_600_000);
    const failed = await settle(s, record.id, final);
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'SIGNING_DEADLINE_PASSED' } });
    // Revoked by the workflow, or already expired by the vendor (its deadline is the same): closed either way.
    const closed = await s.gateway.getFlow(failed.vendor.flowId!, { idempotencyKey: 'check' });
    expect(['revoked', 'expired']).toContain(closed.status);
    expect(s.vendor.flowCount()).toBe(1);
  });

  it('a refused funder call is checked with the vendor: a flow that completed anyway is archived', async () => {
    // The funder's call completes the flow at the vendor, but the answer comes back as a refusal.
    const s = await setupSigning({
      wrapVendor: (vendor) => ({
        ...vendor,
        id: vendor.id,
        capabilities: vendor.capabilities,
        async appendSigner(flowId, signer, context) {
          await vendor.appendSigner!(flowId, signer, context);
          throw new SealflowError('VENDOR_REJECTED', 'signer already signed', { retryable: false });
        },
      }),
    });
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-RACE-4' }));
    await s.drain();
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
  });

  it('a refused funder call over a flow that did not complete still fails, with the refusal', async () => {
    const s = await setupSigning({
      vendor: {
        failures: { appendSigner: [new SealflowError('VENDOR_REJECTED', 'seal not authorised', { retryable: false })] },
      },
    });
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-RACE-5' }));
    await s.drain();
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'VENDOR_REJECTED', stage: 'funderSigning' } });
    expect(failed.failure!.message).toContain('seal not authorised');
  });
});

describe('re-sign (补签) of a FAILED record whose flow the vendor completed', () => {
  it('is refused with SIGNING_COMPLETED_AT_VENDOR and makes no second flow', async () => {
    // The vendor's status page says "expired" once, then the borrower's signature lands: the record failed on a
    // state the vendor left.
    let misreport = true;
    const s = await setupSigning({
      vendor: { capabilities: { callbacks: false } },
      wrapVendor: (vendor) => ({
        ...vendor,
        id: vendor.id,
        capabilities: vendor.capabilities,
        async getFlow(flowId, context) {
          const flow = await vendor.getFlow(flowId, context);
          if (!misreport) return flow;
          misreport = false;
          return { ...flow, status: 'expired' };
        },
      }),
    });
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-RESIGN-1' }));
    await s.drain();
    s.clock.advance(2_000);
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({
      status: 'FAILED',
      failure: { code: 'VENDOR_FLOW_EXPIRED', stage: 'checkingStatus' },
    });
    s.vendor.sign(failed.vendor.flowId!, 'borrower');

    const error = await expectError(s.signing.resign(record.id, { id: 'ops-wang' }), 'SIGNING_COMPLETED_AT_VENDOR');
    expect(error.message).toContain(failed.vendor.flowId!);
    expect((await s.signing.get(record.id))!.nextAttemptId).toBeNull();
    expect(s.vendor.flowCount()).toBe(1);
  });
});
