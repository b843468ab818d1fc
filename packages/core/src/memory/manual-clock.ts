import type { Clock, Scheduler } from '../ports/clock.js';

/**
 * A clock and scheduler for tests and demos: time stands still until `advance` or `set` moves it, running due tasks
 * in order.
 */
export interface ManualClock extends Clock, Scheduler {
  /** Move time forward, running every task that falls due, in due order, at its due time. */
  advance(ms: number): void;
  /** Jump to an absolute time (not backwards). */
  set(epochMs: number): void;
  /** Tasks scheduled and not yet run or cancelled. */
  pending(): number;
}

/** A clock and scheduler that only move when a test says so. Starts at 2026-01-01T00:00:00Z unless told. */
export function createManualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start;
  let seq = 0;
  const tasks = new Map<number, { due: number; task: () => void }>();
  const runDue = (until: number) => {
    for (;;) {
      let next: [number, { due: number; task: () => void }] | undefined;
      for (const entry of tasks) if (entry[1].due <= until && (!next || entry[1].due < next[1].due)) next = entry;
      if (!next) break;
      tasks.delete(next[0]);
      now = Math.max(now, next[1].due);
      next[1].task();
    }
    now = Math.max(now, until);
  };
  return {
    now: () => now,
    schedule(task, delayMs) {
      const id = seq++;
      tasks.set(id, { due: now + Math.max(0, delayMs), task });
      return () => void tasks.delete(id);
    },
    advance(ms) {
      runDue(now + ms);
    },
    set(epochMs) {
      if (epochMs < now) throw new Error(`manual clock cannot go back from ${now} to ${epochMs}`);
      runDue(epochMs);
    },
    pending: () => tasks.size,
  };
}
