import { describe, expect, it } from 'vitest';
import { isSigningEvent } from '../src/index.js';
import { expectNoPersonalData, setupSigning, type SigningSetup } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

/** UI_LOAN: the platform seals at once, the borrower signs in the vendor's page, so the flow stays open. */
async function openFlow(s: SigningSetup, businessNo = 'UI-1') {
  const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo }));
  await s.drain();
  const current = (await s.signing.get(record.id))!;
  expect(current).toMatchObject({ status: 'SIGNING', stage: 'vendorPhase.awaitingCompletion' });
  return { recordId: record.id, flowId: current.vendor.flowId! };
}

async function callbackTransitions(s: SigningSetup, recordId: string) {
  const audit = await s.persistence.transaction((tx) => tx.audit.list(recordId));
  return audit.filter((e) => (e.data as { event?: { type?: string } }).event?.type === 'VENDOR_CALLBACK');
}

describe('vendor callbacks', () => {
  it('rejects forged, tampered and replayed callbacks; applies a genuine one once and acknowledges duplicates', async () => {
    const s = await setupSigning();
    const { recordId, flowId } = await openFlow(s);
    const url = await s.signing.signerUrl(recordId, 'borrower');
    expect(url.url).toContain(encodeURIComponent(flowId));
    s.vendor.sign(flowId, 'borrower');
    const genuine = s.vendor.callbackFor(flowId, 'flow-completed');

    const forged = { ...genuine, headers: { ...genuine.headers, 'x-memory-signature': 'ab'.repeat(32) } };
    await expectError(s.signing.handleVendorCallback('memory', forged), 'CALLBACK_REJECTED');
    const tampered = { ...genuine, rawBody: String(genuine.rawBody).replace('flow-completed', 'flow-rejected') };
    await expectError(s.signing.handleVendorCallback('memory', tampered), 'CALLBACK_REJECTED');
    await expectError(s.signing.handleVendorCallback('no-such-vendor', genuine), 'NOT_FOUND');
    expect((await s.signing.get(recordId))!.stage).toBe('vendorPhase.awaitingCompletion');

    // The vendor delivers twice at the same moment: one is applied, the other acknowledged.
    const results = await Promise.all([
      s.signing.handleVendorCallback('memory', genuine),
      s.signing.handleVendorCallback('memory', genuine),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['accepted', 'duplicate']);
    expect(await s.signing.handleVendorCallback('memory', genuine)).toEqual({ status: 'duplicate' });
    expect(await callbackTransitions(s, recordId)).toHaveLength(1);

    await s.drain();
    expect((await s.signing.get(recordId))!.status).toBe('COMPLETED');

    // Replayed later, outside the vendor's signature window: refused before it is even looked up.
    s.clock.advance(6 * 60_000);
    await expectError(s.signing.handleVendorCallback('memory', genuine), 'CALLBACK_REJECTED');
    // A late but genuine notification about a finished signing is acknowledged and changes nothing.
    const late = s.vendor.callbackFor(flowId, 'signer-signed', 'borrower');
    expect(await s.signing.handleVendorCallback('memory', late)).toEqual({ status: 'accepted', recordId });
    expect(await callbackTransitions(s, recordId)).toHaveLength(1);
    expect((await s.signing.get(recordId))!.status).toBe('COMPLETED');
  });

  it('fails with an actionable reason when the customer refuses at the vendor', async () => {
    const s = await setupSigning();
    const { recordId, flowId } = await openFlow(s);
    s.vendor.reject(flowId, 'borrower', '张三丰 13912345678 不同意');
    expect((await s.signing.handleVendorCallback('memory', s.vendor.callbackFor(flowId, 'flow-rejected'))).status).toBe(
      'accepted',
    );
    await s.drain();
    const record = (await s.signing.get(recordId))!;
    expect(record.status).toBe('FAILED');
    expect(record.failure).toMatchObject({ code: 'VENDOR_FLOW_REJECTED', stage: 'checkingStatus' });
    expect(record.failure!.message).toContain('re-sign');
    expect(record.failure!.message).toContain('张** 139****5678 不同意');
    expectNoPersonalData(JSON.stringify(await s.runtime.get(recordId)));
    const failed = s.events.filter(isSigningEvent).find((e) => e.type === 'signing.failed');
    expect(failed?.payload).toMatchObject({ failure: { code: 'VENDOR_FLOW_REJECTED' } });
  });
});

describe('polling, deadlines and re-signing', () => {
  it('polls a vendor without callbacks with backoff until the flow completes', async () => {
    const s = await setupSigning({ vendor: { capabilities: { callbacks: false } } });
    const { recordId, flowId } = await openFlow(s);
    const polls = () => s.vendor.calls.filter((c) => c.method === 'getFlow').length;
    const nextPollIn = async () => {
      const timers = await s.persistence.transaction((tx) => tx.timers.list({ workflowId: recordId }));
      return timers.map((t) => t.dueAt - s.clock.now()).sort((a, b) => a - b)[0];
    };
    expect(await nextPollIn()).toBe(2_000);
    s.clock.advance(2_000);
    await s.drain();
    expect(polls()).toBe(1);
    expect(await nextPollIn()).toBe(4_000);
    s.clock.advance(4_000);
    await s.drain();
    expect(polls()).toBe(2);
    expect(await nextPollIn()).toBe(8_000);

    s.vendor.sign(flowId, 'borrower');
    s.clock.advance(8_000);
    await s.drain();
    expect(polls()).toBe(3);
    expect((await s.signing.get(recordId))!.status).toBe('COMPLETED');
    await expectError(
      s.signing.handleVendorCallback('memory', { headers: {}, query: {}, rawBody: '{}' }),
      'VENDOR_UNSUPPORTED',
    );
  });

  it('fails at the deadline, cancels the vendor flow, and a re-sign makes a new linked attempt', async () => {
    const s = await setupSigning();
    const { recordId, flowId } = await openFlow(s, 'UI-DEADLINE');
    for (let minutes = 0; minutes < 60; minutes += 5) {
      s.clock.advance(5 * 60_000);
      await s.drain();
    }
    const failed = (await s.signing.get(recordId))!;
    expect(failed).toMatchObject({
      status: 'FAILED',
      failure: { code: 'SIGNING_DEADLINE_PASSED', stage: 'vendorPhase' },
    });
    expect(failed.failure!.message).toMatch(/60 minute/);
    expect(s.vendor.calls.filter((c) => c.method === 'cancelFlow')).toHaveLength(1);
    expect((await s.gateway.getFlow(flowId, { idempotencyKey: 'check' })).status).toBe('revoked');
    await expectError(s.signing.download(recordId), 'SIGNING_NOT_COMPLETED');

    // 补签
    const second = await s.signing.resign(recordId, { id: 'ops-wang' });
    expect(second).toMatchObject({
      attempt: 2,
      previousAttemptId: recordId,
      requestedBy: 'ops-wang',
      status: 'PENDING',
    });
    expect((await s.signing.get(recordId))!.nextAttemptId).toBe(second.id);
    expect((await s.signing.resign(recordId, { id: 'ops-wang' })).id).toBe(second.id);
    await s.drain();
    const secondFlow = (await s.signing.get(second.id))!.vendor.flowId!;
    expect(secondFlow).not.toBe(flowId);
    s.vendor.sign(secondFlow, 'borrower');
    await s.signing.handleVendorCallback('memory', s.vendor.callbackFor(secondFlow, 'flow-completed'));
    await s.drain();
    expect((await s.signing.get(second.id))!.status).toBe('COMPLETED');
    // The host repeating its original request gets the latest attempt, not a third flow.
    expect((await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-DEADLINE' }))).id).toBe(second.id);
    expect(s.vendor.flowCount()).toBe(2);
    await expectError(s.signing.resign(second.id, { id: 'ops-wang' }), 'SIGNING_NOT_FAILED');
    const history = await s.signing.find({ businessNo: 'UI-DEADLINE' });
    expect(history.map((r) => [r.attempt, r.status])).toEqual(
      expect.arrayContaining([
        [1, 'FAILED'],
        [2, 'COMPLETED'],
      ]),
    );
    expectNoPersonalData(JSON.stringify(history));
  });
});
