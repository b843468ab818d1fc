/**
 * `signing.waitFor`: woken by the signing's final domain event, immediate for a final record, a typed timeout or
 * abort otherwise — and never a runtime subscription or a timer left behind.
 */
import { describe, expect, it, vi } from 'vitest';
import { SealflowError, type SigningRecord, SigningWaitTimeoutError } from '../src/index.js';
import { FUNDER, type SigningSetup, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

/** Counts the runtime subscriptions open now (the fixture's own event log is one, taken before the spy). */
function subscriptions(s: SigningSetup) {
  let open = 0;
  const onEvent = s.runtime.onEvent.bind(s.runtime);
  vi.spyOn(s.runtime, 'onEvent').mockImplementation((handler) => {
    open++;
    const off = onEvent(handler);
    let done = false;
    return () => {
      if (!done) open--;
      done = true;
      off();
    };
  });
  return () => open;
}

/** Whether the promise has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('signing.waitFor', () => {
  it('resolves with the COMPLETED record once the worker finishes it, and lets go of its subscription and timer', async () => {
    const s = await setupSigning();
    const open = subscriptions(s);
    const timers = s.clock.pending();
    const record = await s.signing.sign(s.request());
    const waiting = s.signing.waitFor(record.id, { timeoutMs: 60_000 });
    expect(await settled(waiting)).toBe(false);
    expect(open()).toBe(1);
    expect(s.clock.pending()).toBe(timers + 1);

    await s.drain();
    const done = await waiting;
    expect(done).toEqual(await s.signing.get(record.id));
    expect(done).toMatchObject({ id: record.id, status: 'COMPLETED', failure: null });
    expect(done.signed).toHaveLength(1);
    expect(open()).toBe(0);
    expect(s.clock.pending()).toBe(timers);
  });

  it('resolves with the FAILED record and its failure; a failure is an outcome, not a rejection', async () => {
    const s = await setupSigning();
    const open = subscriptions(s);
    s.vendor.failNext('createFlow', new SealflowError('VENDOR_REJECTED', 'seal not authorised', { retryable: false }));
    const record = await s.signing.sign(s.request());
    const waiting = s.signing.waitFor(record.id, { timeoutMs: 60_000 });
    await s.drain();
    const failed = await waiting;
    expect(failed).toMatchObject({
      status: 'FAILED',
      failure: { code: 'VENDOR_REJECTED', stage: 'startingVendorFlow' },
    });
    expect(open()).toBe(0);
  });

  it('answers at once for a record already final, without a worker pass or time passing', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    await s.drain();
    const open = subscriptions(s);
    const timers = s.clock.pending();
    const runOnce = vi.spyOn(s.runtime, 'runOnce');
    const done = await s.signing.waitFor(record.id, { timeoutMs: 1 });
    expect(done.status).toBe('COMPLETED');
    expect(runOnce).not.toHaveBeenCalled();
    expect(open()).toBe(0);
    expect(s.clock.pending()).toBe(timers);

    // A request refused at validation is FAILED from the start.
    const unverified = await setupSigning({ unverified: true });
    const refused = await expectError(unverified.signing.sign(unverified.request()), 'CUSTOMER_NOT_VERIFIED');
    const recordId = (refused.details as { recordId: string }).recordId;
    expect(await unverified.signing.waitFor(recordId, { timeoutMs: 1 })).toMatchObject({
      status: 'FAILED',
      failure: { stage: 'validating' },
    });
  });

  it('rejects with the retryable SIGNING_WAIT_TIMEOUT when time runs out; the signing carries on', async () => {
    const s = await setupSigning();
    const open = subscriptions(s);
    const timers = s.clock.pending();
    // The borrower signs in the vendor's page, so the flow stays open.
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'UI-WAIT' }));
    await s.drain();
    const waiting = s.signing.waitFor(record.id, { timeoutMs: 5_000 });
    s.clock.advance(4_999);
    expect(await settled(waiting)).toBe(false);
    s.clock.advance(1);
    const error = await expectError(waiting, 'SIGNING_WAIT_TIMEOUT');
    expect(error).toBeInstanceOf(SigningWaitTimeoutError);
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ recordId: record.id, timeoutMs: 5_000, status: 'SIGNING' });
    expect(error.message).toContain(`signing.get('${record.id}')`);
    expect(open()).toBe(0);
    expect(s.clock.pending()).toBe(timers);
    expect((await s.signing.get(record.id))!.status).toBe('SIGNING');
  });

  it('waits through AWAITING_FUNDER for a funder-funded loan until the funder has signed', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-F-WAIT' }));
    const waiting = s.signing.waitFor(record.id, { timeoutMs: 3_600_000 });
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');
    expect(await settled(waiting)).toBe(false);

    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    expect(await waiting).toMatchObject({
      status: 'COMPLETED',
      funding: 'funder',
      funderSignature: { funderId: FUNDER.id, sealId: 'funder-seal' },
    });
  });

  it('serves many waiters on several records from one subscription, and each gets its own record', async () => {
    const s = await setupSigning();
    const open = subscriptions(s);
    const timers = s.clock.pending();
    const records = await Promise.all(
      ['LN-M-1', 'LN-M-2', 'LN-M-3'].map((businessNo) => s.signing.sign(s.request({ businessNo }))),
    );
    const waits: Promise<SigningRecord>[] = [];
    for (let i = 0; i < 60; i++) waits.push(s.signing.waitFor(records[i % 3]!.id, { timeoutMs: 60_000 }));
    expect(open()).toBe(1);
    expect(s.clock.pending()).toBe(timers + 60);
    // One waiter gives up early; the others are not disturbed.
    const controller = new AbortController();
    const early = s.signing.waitFor(records[0]!.id, { timeoutMs: 60_000, signal: controller.signal });
    controller.abort(new Error('the HTTP client went away'));
    const aborted = await expectError(early, 'SIGNING_WAIT_ABORTED');
    expect((aborted.cause as Error).message).toBe('the HTTP client went away');

    await s.drain();
    const done = await Promise.all(waits);
    done.forEach((record, i) => {
      expect(record.id).toBe(records[i % 3]!.id);
      expect(record.status).toBe('COMPLETED');
    });
    expect(open()).toBe(0);
    expect(s.clock.pending()).toBe(timers);
  });

  it('finds a signing finished by another process when its time is up, instead of reporting a timeout', async () => {
    const s = await setupSigning();
    const other = await s.anotherHost({ scheduler: s.clock });
    const record = await s.signing.sign(s.request());
    const waiting = s.signing.waitFor(record.id, { timeoutMs: 30_000 });
    // The other process's worker runs everything, so its own handlers get the completion, not this process's.
    for (let i = 0; i < 20; i++) await other.runtime.runOnce({ limit: 50 });
    expect((await s.signing.get(record.id))!.status).toBe('COMPLETED');
    expect(await settled(waiting)).toBe(false);
    s.clock.advance(30_000);
    expect((await waiting).status).toBe('COMPLETED');
    await other.close();
  });

  it('refuses bad arguments with typed errors, and rejects pending waits when the service closes', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    const wait = s.signing.waitFor as (id: unknown, options?: unknown) => Promise<SigningRecord>;
    for (const options of [undefined, {}, { timeoutMs: 0 }, { timeoutMs: -1 }, { timeoutMs: Number.NaN }]) {
      const error = await expectError(wait(record.id, options), 'INVALID_INPUT');
      expect(error.message).toContain('timeoutMs');
    }
    await expectError(wait(record.id, { timeoutMs: 10, signal: 'stop' }), 'INVALID_INPUT');
    await expectError(wait(42, { timeoutMs: 10 }), 'INVALID_INPUT');
    await expectError(wait('sgn_unknown_1', { timeoutMs: 10 }), 'NOT_FOUND');
    const stopped = new AbortController();
    stopped.abort();
    await expectError(s.signing.waitFor(record.id, { timeoutMs: 10, signal: stopped.signal }), 'SIGNING_WAIT_ABORTED');

    const open = subscriptions(s);
    const timers = s.clock.pending();
    const pending = s.signing.waitFor(record.id, { timeoutMs: 60_000 });
    expect(await settled(pending)).toBe(false);
    await s.sealflow.close();
    await expectError(pending, 'SIGNING_SERVICE_CLOSED');
    await expectError(s.signing.waitFor(record.id, { timeoutMs: 10 }), 'SIGNING_SERVICE_CLOSED');
    expect(open()).toBe(0);
    expect(s.clock.pending()).toBe(timers);
  });
});
