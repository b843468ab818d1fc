/**
 * The shape of a reliability suite. A suite is one file in `reliability/suites/` whose default export is a
 * `ReliabilitySuite`; the runner finds it by its file, runs it at the scale asked for, prints its figures and writes
 * its section of docs/reliability.md. Adding a suite needs nothing else.
 */

/** `full` is the published proof (`pnpm reliability`); `ci` is the reduced run CI does on every change. */
export type ReliabilityScale = 'full' | 'ci';

/** One measured figure of a run, shown as a table row. */
export interface ReliabilityFigure {
  label: string;
  value: string | number;
}

/** What a suite's run found. */
export interface ReliabilityResult {
  /** False when anything was found: the runner then exits non-zero. */
  passed: boolean;
  figures: ReliabilityFigure[];
  /** One line per finding, with the input that shows it; empty when `passed`. */
  findings: string[];
}

export interface ReliabilitySuite {
  /** The name given on the command line (`pnpm reliability bad-input`); also the section's anchor. */
  name: string;
  /** The section heading in docs/reliability.md. */
  title: string;
  /** What the suite checks and how, in Markdown: the body of its documentation section. */
  description: string;
  run(scale: ReliabilityScale): Promise<ReliabilityResult>;
}
