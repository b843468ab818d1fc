/**
 * What a signing does when its vendor keeps failing past the runtime's retries, and when its deadline passes before a
 * vendor is even called: it ends (or, when nobody can tell what the vendor holds, waits as a dead letter), it never
 * sits forever on an effect nobody will run.
 */
import { describe, expect, it } from 'vitest';
import { SealflowError, type SigningVendor } from '../src/index.js';
import { setupSigning, type SigningSetup } from './signing-fixtures.js';

const unavailable = () => new SealflowError('VENDOR_UNAVAILABLE', 'the vendor answered HTTP 503', { retryable: true });
/** The runtime's default retry policy: 5 runs, backoff from 1 s up to 5 min. */
const RUNS = 5;

/** Advance the manual clock in steps, running what falls due, until the runtime's backoff is used up. */
async function outlastRetries(s: SigningSetup) {
  for (let i = 0; i < 12; i++) {
    s.clock.advance(60_000);
    await s.drain();
  }
}

/** createFlow does its work at the vendor, then the answer is lost: every time. */
const answersLost = (vendor: SigningVendor): SigningVendor => ({
  ...vendor,
  async createFlow(input, context) {
    await vendor.createFlow(input, context);
    throw new SealflowError('VENDOR_TIMEOUT', 'no answer within 5000 ms', { retryable: true });
  },
});

describe('a vendor that fails past the runtime retries', () => {
  it('fails the signing with the vendor code once its last run finds no flow there; no dead letter', async () => {
    const s = await setupSigning({
      gatewayRetry: { attempts: 1 },
      vendor: { failures: { createFlow: Array.from({ length: RUNS }, unavailable) } },
    });
    const record = await s.signing.sign(s.request({ businessNo: 'GIVE-UP-1' }));
    await s.drain();
    await outlastRetries(s);

    expect(await s.signing.get(record.id)).toMatchObject({
      status: 'FAILED',
      failure: { code: 'VENDOR_UNAVAILABLE', stage: 'startingVendorFlow' },
      vendorAttempts: [{ vendorId: 'memory', outcome: 'unavailable' }],
    });
    const methods = s.vendor.calls.map((c) => c.method);
    expect(methods.filter((m) => m === 'createFlow')).toHaveLength(RUNS);
    // Asked once, on the last run, before anything was concluded.
    expect(methods.filter((m) => m === 'findFlow')).toHaveLength(1);
    expect(s.vendor.flowCount()).toBe(0);
    expect(await s.runtime.deadLetters.list()).toEqual([]);
  });

  it('adopts the flow its lost answers made, and the signing completes with that one flow', async () => {
    const s = await setupSigning({ gatewayRetry: { attempts: 1 }, wrapVendor: answersLost });
    const record = await s.signing.sign(s.request({ businessNo: 'GIVE-UP-2' }));
    await s.drain();
    await outlastRetries(s);

    const done = (await s.signing.get(record.id))!;
    expect(done).toMatchObject({ status: 'COMPLETED', failure: null });
    expect(s.vendor.flowCount()).toBe(1);
    expect(s.vendor.calls.filter((c) => c.method === 'createFlow')).toHaveLength(RUNS);
    expect(await s.runtime.deadLetters.list()).toEqual([]);
  });

  it('leaves a dead letter when the vendor cannot say what it holds, and an operator retry finishes it', async () => {
    const s = await setupSigning({
      gatewayRetry: { attempts: 1 },
      vendor: {
        failures: { createFlow: Array.from({ length: RUNS }, unavailable), findFlow: [unavailable()] },
      },
    });
    const record = await s.signing.sign(s.request({ businessNo: 'GIVE-UP-3' }));
    await s.drain();
    await outlastRetries(s);

    // Failing it could hide a flow the vendor holds; a person decides.
    expect(await s.signing.get(record.id)).toMatchObject({
      status: 'SIGNING',
      stage: 'vendorPhase.startingVendorFlow',
    });
    const [dead, ...more] = await s.runtime.deadLetters.list();
    expect(more).toEqual([]);
    expect(dead).toMatchObject({ type: 'startVendorFlow', workflowId: record.id });

    await s.runtime.deadLetters.retry(dead!.id);
    await s.drain();
    expect(await s.signing.get(record.id)).toMatchObject({ status: 'COMPLETED' });
    expect(s.vendor.flowCount()).toBe(1);
  });
});

describe('the deadline is one instant, however long the request waited', () => {
  it('fails a signing whose deadline passed before rendering, without calling the vendor', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'LATE-1' }));
    // The request waits in a queue past its one-hour deadline before a worker takes it.
    s.clock.advance(3_600_000);
    await s.drain();

    expect(await s.signing.get(record.id)).toMatchObject({
      status: 'FAILED',
      failure: { code: 'SIGNING_DEADLINE_PASSED', stage: 'rendering' },
    });
    expect((await s.signing.get(record.id))!.failure!.message).toMatch(/nothing was sent to the vendor/);
    expect(s.vendor.calls).toEqual([]);
  });

  it('closes the vendor flow at requestedAt + deadlineMs, not deadlineMs after rendering', async () => {
    const s = await setupSigning();
    const requestedAt = s.clock.now();
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN', businessNo: 'LATE-2' }));
    s.clock.advance(40 * 60_000);
    await s.drain();
    expect(await s.signing.get(record.id)).toMatchObject({ stage: 'vendorPhase.awaitingCompletion' });
    const timers = await s.persistence.transaction((tx) => tx.timers.list({ workflowId: record.id }));
    expect(timers.map((t) => t.dueAt)).toContain(requestedAt + 3_600_000);

    for (let i = 0; i < 5; i++) {
      s.clock.advance(5 * 60_000);
      await s.drain();
    }
    // 65 minutes after the request: the flow was closed at the deadline the vendor was given.
    expect(await s.signing.get(record.id)).toMatchObject({
      status: 'FAILED',
      failure: { code: 'SIGNING_DEADLINE_PASSED', stage: 'vendorPhase' },
    });
  });
});
