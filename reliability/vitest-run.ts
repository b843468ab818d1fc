/**
 * Runs test files through vitest in a child process and reads its JSON report: each test's outcome, duration, failure
 * messages and the inputs it counted (`task.meta.generatedInputs`). Suites built on tests share vitest's isolation
 * and fixtures with `pnpm test`, and a crash of the code under test cannot take the runner down with it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestOutcome {
  file: string;
  name: string;
  status: 'passed' | 'failed' | 'skipped' | string;
  durationMs: number;
  failures: string[];
  generatedInputs: number;
  outcome?: string;
}

export interface VitestRun {
  tests: TestOutcome[];
  /** Errors outside any test: an unhandled rejection, a file that failed to load. */
  fileErrors: string[];
  exitCode: number;
  durationMs: number;
}

interface JsonReport {
  testResults: Array<{
    name: string;
    status: string;
    message: string;
    assertionResults: Array<{
      fullName: string;
      status: string;
      duration?: number;
      failureMessages: string[];
      meta?: { generatedInputs?: number; outcome?: string };
    }>;
  }>;
}

export const ROOT = new URL('..', import.meta.url).pathname;

export async function runVitest(files: readonly string[], env: Record<string, string> = {}): Promise<VitestRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sealflow-reliability-'));
  const output = join(dir, 'report.json');
  const started = Date.now();
  const exitCode = await new Promise<number>((resolve) => {
    const child = spawn(
      'npx',
      [
        'vitest',
        'run',
        '--config',
        'reliability/vitest.config.ts',
        '--reporter=json',
        `--outputFile=${output}`,
        '--reporter=dot',
        ...files,
      ],
      { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('close', (code) => resolve(code ?? 1));
  });
  const durationMs = Date.now() - started;
  let report: JsonReport;
  try {
    report = JSON.parse(readFileSync(output, 'utf8')) as JsonReport;
  } catch {
    return { tests: [], fileErrors: [`vitest wrote no report (exit code ${exitCode})`], exitCode, durationMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const tests = report.testResults.flatMap((file) =>
    file.assertionResults.map((t) => ({
      file: file.name.replace(ROOT, ''),
      name: t.fullName,
      status: t.status,
      durationMs: t.duration ?? 0,
      failures: t.failureMessages,
      generatedInputs: t.meta?.generatedInputs ?? 0,
      ...(t.meta?.outcome ? { outcome: t.meta.outcome } : {}),
    })),
  );
  const fileErrors = report.testResults
    .filter((file) => file.status === 'failed' && file.message)
    .map((file) => `${file.name.replace(ROOT, '')}: ${file.message}`);
  return { tests, fileErrors, exitCode, durationMs };
}

/** The first lines of a failure message: enough to show the counterexample without the whole stack. */
export function firstLines(message: string, lines = 6): string {
  return message
    .split('\n')
    .filter((line) => !/^\s+at |node_modules/.test(line))
    .slice(0, lines)
    .join(' | ');
}
