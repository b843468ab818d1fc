/**
 * `pnpm reliability [--ci] [suite …]`: runs the reliability suites in `reliability/suites/` (all, or the ones named),
 * prints each one's figures and findings, and exits non-zero on any finding. A full-scale run rewrites each suite's
 * section of docs/reliability.md with what it measured; `--ci` (or `RELIABILITY_SCALE=ci`) runs a reduced scale
 * that still fails on any finding and leaves the page alone unless `--docs` is given.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ReliabilityResult, ReliabilityScale, ReliabilitySuite } from './suite.js';
import { ROOT } from './vitest-run.js';

const SUITES_DIR = join(ROOT, 'reliability', 'suites');
const DOCS = join(ROOT, 'docs', 'reliability.md');
const SECTIONS_END = '<!-- reliability:sections-end -->';

async function loadSuites(): Promise<ReliabilitySuite[]> {
  const files = readdirSync(SUITES_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const suites: ReliabilitySuite[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(SUITES_DIR, file)).href)) as { default?: ReliabilitySuite };
    if (!module.default?.name || typeof module.default.run !== 'function') {
      throw new Error(`reliability/suites/${file} must export default { name, title, description, run(scale) }`);
    }
    suites.push(module.default);
  }
  return suites;
}

function machine(): string {
  const cpu = cpus();
  const memory = Math.round(totalmem() / 2 ** 30);
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${memory} GiB, ${platform()} ${arch()}, Node.js ${process.version}`;
}

function section(suite: ReliabilitySuite, result: ReliabilityResult, scale: ReliabilityScale, at: Date): string {
  const rows = result.figures.map((f) => `| ${f.label} | ${String(f.value).replaceAll('|', '\\|')} |`);
  const findings = result.findings.length ? result.findings.map((f) => `- ${f}`).join('\n') : 'None: every check held.';
  return [
    `<!-- suite:${suite.name} -->`,
    `## ${suite.title}`,
    '',
    suite.description.trim(),
    '',
    `**Command:** \`pnpm reliability ${suite.name}\` (reduced: \`pnpm reliability --ci ${suite.name}\`)`,
    '',
    `**Last run:** ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${scale} scale, on ${machine()}.`,
    '',
    `**Result:** ${result.passed ? 'passed' : 'FAILED'}.`,
    '',
    '| Figure | Value |',
    '|---|---|',
    ...rows,
    '',
    `**Findings:** ${findings}`,
    `<!-- /suite:${suite.name} -->`,
  ].join('\n');
}

/** Replaces the suite's section, or adds it before the end marker, keeping the hand-written intro. */
function writeSection(name: string, text: string): void {
  let page = readFileSync(DOCS, 'utf8');
  const start = `<!-- suite:${name} -->`;
  const end = `<!-- /suite:${name} -->`;
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from >= 0 && to > from) page = page.slice(0, from) + text + page.slice(to + end.length);
  else if (page.includes(SECTIONS_END)) page = page.replace(SECTIONS_END, `${text}\n\n${SECTIONS_END}`);
  else page = `${page.trimEnd()}\n\n${text}\n`;
  writeFileSync(DOCS, page);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const scale: ReliabilityScale = args.includes('--ci') || process.env.RELIABILITY_SCALE === 'ci' ? 'ci' : 'full';
  const writeDocs = scale === 'full' || args.includes('--docs');
  const names = args.filter((a) => !a.startsWith('--'));
  const all = await loadSuites();
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`Unknown suite: ${unknown.join(', ')}. Suites: ${all.map((s) => s.name).join(', ')}.`);
    return 2;
  }
  const chosen = names.length ? all.filter((s) => names.includes(s.name)) : all;

  // A rejection nobody handled is a finding of whichever suite was running.
  const stray: string[] = [];
  process.on('unhandledRejection', (reason) => {
    stray.push(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
  });

  let failed = 0;
  for (const suite of chosen) {
    const at = new Date();
    console.log(`\n=== ${suite.name} (${scale} scale): ${suite.title}`);
    let result: ReliabilityResult;
    try {
      result = await suite.run(scale);
    } catch (error) {
      result = {
        passed: false,
        figures: [],
        findings: [`the suite itself failed: ${(error as Error).stack ?? error}`],
      };
    }
    if (stray.length) result = { ...result, passed: false, findings: [...result.findings, ...stray.splice(0)] };
    for (const f of result.figures) console.log(`  ${f.label}: ${f.value}`);
    for (const f of result.findings) console.log(`  FINDING: ${f}`);
    console.log(`  => ${result.passed ? 'passed' : 'FAILED'}`);
    if (!result.passed) failed++;
    if (writeDocs) writeSection(suite.name, section(suite, result, scale, at));
  }
  if (writeDocs) console.log(`\nWrote ${chosen.length} section(s) of docs/reliability.md.`);
  console.log(`\n${chosen.length - failed} of ${chosen.length} suite(s) passed.`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
