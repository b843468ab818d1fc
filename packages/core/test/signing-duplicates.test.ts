/**
 * Duplicates under concurrency: the content that claims (businessNo, scene) first wins, every other content is a
 * DUPLICATE, every caller with the winning content gets the same record, and the customer is verified once.
 */
import { describe, expect, it } from 'vitest';
import { type IdentityVerifier, type SigningRecord, SealflowError } from '../src/index.js';
import { setupSigning, type SigningSetup } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

type Outcome = { content: number; record?: SigningRecord; code?: string };

/** `sign` with one of two loan amounts, as an outcome instead of a throw. */
function signWithAmount(s: SigningSetup, content: number, sign = s.signing.sign): Promise<Outcome> {
  const amount = ['50000.00', '60000.00'][content]!;
  const request = s.request({
    values: { loan: { amount, startDate: '2026-01-05', termMonths: 12 }, credit: { limit: '100000.00' } },
  });
  return sign(request).then(
    (record) => ({ content, record }),
    (error: unknown) => ({ content, code: error instanceof SealflowError ? error.code : String(error) }),
  );
}

/** Exactly one content won; all its callers share one record; every caller with the other content got DUPLICATE. */
function expectOneContentWon(outcomes: Outcome[]): SigningRecord {
  const winner = outcomes.find((o) => o.record)!;
  expect(winner, 'some call must have started the signing').toBeDefined();
  for (const outcome of outcomes) {
    if (outcome.content === winner.content) expect(outcome.record?.id, outcome.code).toBe(winner.record!.id);
    else expect(outcome.code).toBe('DUPLICATE');
  }
  return winner.record!;
}

/** A verifier whose first answer waits until the test lets it go. */
function gatedVerifier() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let first = true;
  const verifier: IdentityVerifier = {
    async check() {
      if (first) {
        first = false;
        await gate;
      }
      return { verified: true, method: 'three-element', verifiedAt: 1 };
    },
  };
  return { verifier, open };
}

describe('duplicate signing requests under concurrency (memory persistence)', () => {
  it('200 concurrent sign() calls with two amounts: one content wins, the other is DUPLICATE, one verification', async () => {
    const s = await setupSigning();
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => signWithAmount(s, i % 2)));
    const record = expectOneContentWon(outcomes);
    expect(outcomes.filter((o) => o.record)).toHaveLength(100);
    expect(s.verifierCalls).toHaveLength(1);

    await s.drain();
    expect((await s.signing.get(record.id))?.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
    expect(await s.signing.find({ businessNo: record.businessNo })).toHaveLength(1);
    // Later, the losing content is still refused and the winning one still returns the record, unverified again.
    expect((await signWithAmount(s, 1 - outcomes.find((o) => o.record)!.content)).code).toBe('DUPLICATE');
    const again = outcomes.find((o) => o.record)!.content;
    expect((await signWithAmount(s, again)).record?.status).toBe('COMPLETED');
    expect(s.vendor.flowCount()).toBe(1);
    expect(s.verifierCalls).toHaveLength(1);
  });

  it('two host processes on one database: still one content, one record, one verification', async () => {
    const s = await setupSigning();
    const other = await s.anotherInstance();
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => signWithAmount(s, i % 2, i % 4 < 2 ? s.signing.sign : other.sign)),
    );
    expectOneContentWon(outcomes);
    expect(s.verifierCalls).toHaveLength(1);
  });

  it('callers with the same content wait for the one validating it and share its refusal', async () => {
    const s = await setupSigning({ unverified: true });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => signWithAmount(s, 0)));
    expect(outcomes.map((o) => o.code)).toEqual(Array(20).fill('CUSTOMER_NOT_VERIFIED'));
    expect(s.verifierCalls).toHaveLength(1);
    const [failed] = await s.signing.find({ businessNo: 'LN20260101001' });
    expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'CUSTOMER_NOT_VERIFIED' } });
  });

  it('a verifier outage fails every waiting caller once and leaves the key free for the next request', async () => {
    let down = true;
    const s = await setupSigning({
      identityVerifier: {
        async check() {
          if (down) throw new SealflowError('VERIFIER_UNAVAILABLE', 'The verifier is down.', { retryable: true });
          return { verified: true, method: 'three-element' };
        },
      },
    });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => signWithAmount(s, 0)));
    expect(outcomes.map((o) => o.code)).toEqual(Array(10).fill('VERIFIER_UNAVAILABLE'));
    expect(s.verifierCalls).toHaveLength(1);
    expect(await s.signing.find({ businessNo: 'LN20260101001' })).toEqual([]);

    down = false;
    // Nothing was started under the key, so even other content may have it now.
    const record = (await signWithAmount(s, 1)).record;
    expect(record?.status).toBe('PENDING');
    expect((await signWithAmount(s, 0)).code).toBe('DUPLICATE');
  });

  it('a claim whose holder never finished can be taken over once its hold expires; the holder then gets DUPLICATE', async () => {
    const gated = gatedVerifier();
    const s = await setupSigning({ identityVerifier: gated.verifier });
    const stuck = signWithAmount(s, 0);
    // Let the first caller claim the key and reach the verifier, where it hangs (a process that stalled).
    while (s.verifierCalls.length === 0) await new Promise((resolve) => setImmediate(resolve));

    const other = await s.anotherInstance({ scheduler: s.clock });
    // Within the hold, other content is refused.
    expect((await signWithAmount(s, 1, other.sign)).code).toBe('DUPLICATE');
    s.clock.advance(61_000);
    const taken = await signWithAmount(s, 1, other.sign);
    expect(taken.record?.status).toBe('PENDING');

    gated.open();
    expect((await stuck).code).toBe('DUPLICATE');
    expect(await s.signing.find({ businessNo: 'LN20260101001' })).toHaveLength(1);
  });

  it('a caller in another process that waited out the hold gets the retryable SIGNING_IN_PROGRESS, not a second start', async () => {
    const gated = gatedVerifier();
    const s = await setupSigning({ identityVerifier: gated.verifier });
    const stuck = signWithAmount(s, 0);
    while (s.verifierCalls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    // Its waits pass at once while the clock stands still: the claimant is slow, not gone.
    const other = await s.anotherInstance({
      scheduler: {
        schedule: (task) => {
          setImmediate(task);
          return () => {};
        },
      },
    });
    const waited = await expectError(other.sign(s.request()), 'SIGNING_IN_PROGRESS');
    expect(waited.retryable).toBe(true);
    expect(s.verifierCalls).toHaveLength(1);
    gated.open();
    const record = (await stuck).record!;
    expect((await other.sign(s.request())).id).toBe(record.id);
  });

  it('concurrent re-signs of a FAILED record start one attempt and verify once', async () => {
    const s = await setupSigning();
    const first = await s.signing.sign(s.request({ businessNo: 'RS-1' }));
    s.vendor.failNext('createFlow', new SealflowError('VENDOR_REJECTED', 'seal not authorised', { retryable: false }));
    await s.drain();
    expect((await s.signing.get(first.id))?.status).toBe('FAILED');
    const before = s.verifierCalls.length;
    const attempts = await Promise.all(Array.from({ length: 50 }, () => s.signing.resign(first.id, { id: 'ops-1' })));
    expect(new Set(attempts.map((a) => a.id))).toEqual(new Set([attempts[0]!.id]));
    expect(attempts[0]!.attempt).toBe(2);
    expect(s.verifierCalls.length - before).toBe(1);
    await expectError(
      s.signing.sign(s.request({ businessNo: 'RS-1', borrower: { ...s.request().borrower, mobile: '13800002222' } })),
      'DUPLICATE',
    );
  });
});
