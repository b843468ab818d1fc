import { describe, expect, it, vi } from 'vitest';
import { setupSigning } from './signing-fixtures.js';

/**
 * A signing step whose vendor call never answers: the step's effect times out (runtime default, 30 s on the manual
 * clock), the abort reaches the vendor call through the gateway, and the retry finishes the signing with one flow.
 */
describe('signing: a vendor call stuck past the effect timeout', () => {
  it('is aborted at the vendor, retried with the same key, and the signing completes with one flow', async () => {
    const tries: { idempotencyKey: string; signal: AbortSignal | undefined }[] = [];
    const s = await setupSigning({
      wrapVendor: (vendor) => ({
        ...vendor,
        createFlow: async (input, context) => {
          tries.push({ idempotencyKey: context.idempotencyKey, signal: context.signal });
          // The first try hangs and ignores its signal, as a vendor SDK without cancellation would.
          if (tries.length === 1) await new Promise(() => {});
          return vendor.createFlow(input, context);
        },
      }),
    });
    const started = await s.signing.sign(s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-STUCK' }));

    const stuckPasses = s.drain();
    // The step renders and stores the PDF before it calls the vendor; on a loaded machine that takes real time.
    await vi.waitFor(() => expect(tries).toHaveLength(1), { timeout: 20_000, interval: 5 });
    expect(tries[0]!.signal?.aborted).toBe(false);
    s.clock.advance(30_000);
    await stuckPasses;
    expect(tries[0]!.signal?.aborted).toBe(true);
    expect(tries[0]!.signal?.reason).toMatchObject({ code: 'EFFECT_TIMEOUT' });
    expect((await s.signing.get(started.id))?.status).toBe('SIGNING');

    s.clock.advance(1_000); // the effect's retry backoff
    await s.drain();
    expect((await s.signing.get(started.id))?.status).toBe('COMPLETED');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.idempotencyKey).toBe(tries[0]!.idempotencyKey);
    expect(s.vendor.flowCount()).toBe(1);
  });
});
