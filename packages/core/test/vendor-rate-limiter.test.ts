import { createManualClock } from '../src/memory/index.js';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/index.js';

async function settle() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('createRateLimiter', () => {
  it('lets a burst through, then one call per 1/qps', async () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ qps: 10, burst: 3, clock, scheduler: clock });
    const passedAt: number[] = [];
    const turns = Array.from({ length: 5 }, () => limiter.acquire().then(() => passedAt.push(clock.now())));
    await settle();
    expect(passedAt).toEqual([0, 0, 0]);
    clock.advance(100);
    await settle();
    clock.advance(100);
    await Promise.all(turns);
    expect(passedAt).toEqual([0, 0, 0, 100, 200]);
  });

  it('refills while idle, up to the burst only', async () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ qps: 10, burst: 2, clock, scheduler: clock });
    clock.advance(10_000);
    const passedAt: number[] = [];
    const turns = Array.from({ length: 3 }, () => limiter.acquire().then(() => passedAt.push(clock.now())));
    await settle();
    expect(passedAt).toEqual([10_000, 10_000]);
    clock.advance(100);
    await Promise.all(turns);
    expect(passedAt).toEqual([10_000, 10_000, 10_100]);
  });

  it('an aborted wait fails with VENDOR_ABORTED and gives its turn back', async () => {
    const clock = createManualClock(0);
    const limiter = createRateLimiter({ qps: 1, clock, scheduler: clock, vendor: { id: 'esign', name: 'e签宝' } });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({
      code: 'VENDOR_ABORTED',
      retryable: false,
      message: expect.stringContaining('e签宝 call was aborted'),
      details: { vendor: 'esign' },
    });
    let passed = false;
    const next = limiter.acquire().then(() => {
      passed = true;
    });
    clock.advance(999);
    await settle();
    expect(passed).toBe(false);
    clock.advance(1);
    await next;
    expect(clock.pending()).toBe(0);
  });

  it('refuses a qps or burst it cannot keep', () => {
    expect(() => createRateLimiter({ qps: 0 })).toThrow(/qps must be a positive number/);
    expect(() => createRateLimiter({ qps: Number.NaN })).toThrow(/qps/);
    expect(() => createRateLimiter({ qps: 1, burst: 0.5 })).toThrow(/burst/);
  });
});
