import { describe, expect, it } from 'vitest';
import type { Clock, Scheduler } from '../ports/clock.js';

/** Options of `runTimeContract`. */
export interface TimeContractOptions {
  name: string;
  /** A clock and a scheduler that share one notion of time, plus a way to let `ms` of it pass. */
  create: () => { clock: Clock; scheduler: Scheduler; pass: (ms: number) => Promise<void> };
  /** How early a task may run by the clock's own reading: real timers round to the millisecond (default 0). */
  toleranceMs?: number;
  skip?: string;
}

/**
 * The rules every `Clock` and `Scheduler` keeps, as tests. Run it against a host's own implementation (a clock
 * synchronised to a time service, a scheduler on the host's event loop) before handing it to sealflow.
 */
export function runTimeContract(options: TimeContractOptions): void {
  if (typeof options.skip === 'string') {
    console.warn(`[sealflow] skipping ${options.name} time contract: ${options.skip}`);
    describe.skip(`${options.name} time contract`, () => {
      it('is skipped', () => {});
    });
    return;
  }
  describe(`${options.name} time contract`, () => {
    it('tells epoch milliseconds that never go backwards', async () => {
      const { clock, pass } = options.create();
      const first = clock.now();
      expect(Number.isInteger(first)).toBe(true);
      expect(first).toBeGreaterThan(Date.UTC(2000, 0, 1));
      await pass(5);
      expect(clock.now()).toBeGreaterThanOrEqual(first);
    });

    it('runs a task no earlier than its delay, once', async () => {
      const { clock, scheduler, pass } = options.create();
      const scheduledAt = clock.now();
      const runs: number[] = [];
      scheduler.schedule(() => runs.push(clock.now()), 20);
      await pass(5);
      expect(runs).toEqual([]);
      await pass(40);
      expect(runs).toHaveLength(1);
      expect(runs[0]! - scheduledAt).toBeGreaterThanOrEqual(20 - (options.toleranceMs ?? 0));
      await pass(40);
      expect(runs).toHaveLength(1);
    });

    it('runs tasks due at the same time in the order they were scheduled, earlier ones first', async () => {
      const { scheduler, pass } = options.create();
      const order: string[] = [];
      scheduler.schedule(() => order.push('late'), 30);
      scheduler.schedule(() => order.push('first'), 10);
      scheduler.schedule(() => order.push('second'), 10);
      await pass(60);
      expect(order).toEqual(['first', 'second', 'late']);
    });

    it('never runs a cancelled task, and cancelling twice is harmless', async () => {
      const { scheduler, pass } = options.create();
      let ran = false;
      const cancel = scheduler.schedule(() => {
        ran = true;
      }, 10);
      cancel();
      cancel();
      await pass(40);
      expect(ran).toBe(false);
    });

    it('treats a negative delay as due now', async () => {
      const { scheduler, pass } = options.create();
      let ran = false;
      scheduler.schedule(() => {
        ran = true;
      }, -50);
      await pass(5);
      expect(ran).toBe(true);
    });
  });
}
