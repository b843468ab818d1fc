/** Persistence seen from a benchmark: how many transactions a run opens and how long the database is busy with them. */
import { readdirSync, readFileSync } from 'node:fs';
import type { Persistence } from '../packages/core/src/index.js';

/** A persistence that counts its transactions and times them; read the figures before and after a run. */
export type CountingPersistence = Persistence & {
  /** Transactions opened (committed or not). */
  count: number;
  /** The durations of every transaction added up; overlapping transactions are counted once each. */
  ms: number;
  /**
   * Wall time during which at least one transaction was open: overlapping intervals merged, so it never exceeds
   * the wall time of the run, however many transactions run in parallel or inside each other.
   */
  readonly busyMs: number;
};

export function countingPersistence(inner: Persistence): CountingPersistence {
  let open = 0;
  let busySince = 0;
  let busyMs = 0;
  const counted = {
    name: inner.name,
    count: 0,
    ms: 0,
    get busyMs() {
      return open > 0 ? busyMs + performance.now() - busySince : busyMs;
    },
    async transaction<T>(work: Parameters<Persistence['transaction']>[0]): Promise<T> {
      counted.count++;
      const started = performance.now();
      if (open++ === 0) busySince = started;
      try {
        return (await inner.transaction(work)) as T;
      } finally {
        const ended = performance.now();
        counted.ms += ended - started;
        if (--open === 0) busyMs += ended - busySince;
      }
    },
    close: () => inner.close(),
  };
  return counted as unknown as CountingPersistence;
}

/**
 * CPU time (ms) used so far by every `postgres` process on this machine, from /proc; null when there is no /proc or
 * no local server. A server on another machine cannot be measured this way, and the row is then left out.
 */
export function postgresServerCpuMs(): number | null {
  let ticks = 0;
  let found = false;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      // Fields after the ")" that ends the command name: state is the 1st, utime the 12th, stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      found = true;
    }
  } catch {
    return null;
  }
  // Linux reports these in clock ticks of 1/100 s on every common architecture (USER_HZ).
  return found ? ticks * 10 : null;
}
