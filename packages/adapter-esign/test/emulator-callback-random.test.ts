/**
 * Random callback faults: a seeded share of e签宝's callbacks is lost, sent twice or sent after the one that follows
 * it, so a soak test meets e签宝's delivery at its worst at a known rate, and can repeat a run from its seed.
 */
import { createManualClock } from '@sealflow/core/memory';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallbackQueue } from '../src/testing/callbacks.js';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));

/** A queue whose deliveries land in `sent` (bodies, in the order they were posted). */
function queue() {
  const sent: string[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (_url, init) => {
    sent.push(String(init?.body));
    return new Response('{"code":"200"}', { status: 200 });
  });
  const q = new CallbackQueue(clock, () => 'signature', { maxAttempts: 1 });
  const emit = (n: number) =>
    q.emit({
      url: 'https://lender.example/notify',
      appId: 'app',
      action: 'SIGN_FLOW_COMPLETE',
      signFlowId: `flow-${n}`,
      body: `event-${n}`,
    });
  return { q, sent, emit };
}

afterEach(() => vi.restoreAllMocks());

describe('callbacks.random', () => {
  it('loses, repeats and reorders about the asked share of events, and tells which happened to each', async () => {
    const { q, sent, emit } = queue();
    q.random({ rate: 0.3, seed: 2026 });
    for (let n = 0; n < 300; n++) emit(n);
    await new Promise((resolve) => setTimeout(resolve, 250)); // a reordered last event waits for a follower first
    await q.idle();
    const by = (fault: string | undefined) => q.events.filter((e) => e.fault === fault);
    const faulted = q.events.filter((e) => e.fault !== undefined).length;
    // 30 % of 300 is 90; binomial, 60 to 120 holds far beyond 99.9 %.
    expect(faulted).toBeGreaterThanOrEqual(60);
    expect(faulted).toBeLessThanOrEqual(120);
    for (const kind of ['lost', 'duplicated', 'reordered']) expect(by(kind).length).toBeGreaterThan(0);
    // Every event was posted as often as its fault says: lost never, duplicated twice, the others once.
    const count = (body: string) => sent.filter((b) => b === body).length;
    for (const e of by('lost')) expect(count(e.body)).toBe(0);
    for (const e of by('duplicated')) expect(count(e.body)).toBe(2);
    for (const e of [...by(undefined), ...by('reordered')]) expect(count(e.body)).toBe(1);
    // A reordered event is posted after the event that followed it.
    for (const e of by('reordered')) {
      const n = Number(e.body.slice('event-'.length));
      if (n === 299) continue;
      const next = q.events[n + 1]!;
      if (next.fault === 'lost' || next.fault === 'reordered') continue;
      expect(sent.indexOf(e.body)).toBeGreaterThan(sent.indexOf(next.body));
    }
  });

  it('repeats the same faults from the same seed, and stops when switched off', async () => {
    const faultsOf = async (seed: number) => {
      const { q, emit } = queue();
      const stop = q.random({ rate: 0.5, seed, kinds: ['lost', 'duplicated'] });
      for (let n = 0; n < 40; n++) emit(n);
      stop();
      for (let n = 40; n < 50; n++) emit(n);
      await q.idle();
      vi.restoreAllMocks();
      return q.events.map((e) => e.fault);
    };
    const first = await faultsOf(9);
    expect(await faultsOf(9)).toEqual(first);
    expect(await faultsOf(10)).not.toEqual(first);
    expect(first.slice(40).every((f) => f === undefined)).toBe(true);
    expect(first.includes('reordered')).toBe(false);
  });

  it('a reordered event with no follower is sent after its wait', async () => {
    const { q, sent, emit } = queue();
    q.random({ rate: 1, seed: 1, kinds: ['reordered'], reorderWaitMs: 20 });
    emit(1);
    await q.idle();
    expect(sent).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await q.idle();
    expect(sent).toEqual(['event-1']);
  });

  it('refuses a rate outside 0..1, a seed that is not an integer and no kinds', () => {
    const { q } = queue();
    expect(() => q.random({ rate: -0.1, seed: 1 })).toThrow(/rate/);
    expect(() => q.random({ rate: 0.2, seed: Number.NaN })).toThrow(/seed/);
    expect(() => q.random({ rate: 0.2, seed: 1, kinds: [] })).toThrow(/at least one/);
  });
});
