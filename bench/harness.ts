/**
 * The benchmark harness behind `pnpm bench`.
 *
 * Each file in `bench/suites/` default-exports a `BenchSuite`. A suite measures this project and, in the same run,
 * the baseline its issue names, and returns rows; the harness prints them as a table and writes
 * `bench/results/<suite>.json` so figures can be compared over time and across machines as ratios.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  name: string;
  unit: string;
  value: number;
  /** The name of the baseline row this one is compared with. */
  baseline?: string;
  baselineValue?: number;
  /** value / baselineValue, oriented so that > 1 is better for this project (the suite says how). */
  ratio?: number;
}

export interface BenchSuite {
  name: string;
  description: string;
  run(): Promise<BenchRow[]>;
}

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

export function writeResults(suite: string, rows: BenchRow[]): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${suite}.json`);
  writeFileSync(file, `${JSON.stringify(rows, null, 2)}\n`);
  return file;
}

export function printTable(suite: string, rows: BenchRow[]): void {
  const fmt = (n: number | undefined) => (n === undefined ? '' : n >= 100 ? n.toFixed(0) : n.toPrecision(3));
  const lines = rows.map((r) => [r.name, fmt(r.value), r.unit, r.baseline ?? '', fmt(r.baselineValue), fmt(r.ratio)]);
  const head = ['name', 'value', 'unit', 'baseline', 'baseline value', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const row = (cells: string[]) => cells.map((c, i) => String(c).padEnd(widths[i]!)).join('  ');
  console.log(`\n== ${suite}`);
  console.log(row(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(row(l));
}

/** Median and percentiles of a sample of durations. */
export function summarize(samples: number[]): { median: number; p95: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}
