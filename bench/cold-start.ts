/**
 * Cold start: a fresh Node process imports the built packages (`@sealflow/core`, `@sealflow/adapter-local`, as a host
 * installs them) and produces its first sealed document — load a PEM identity, prepare the 8-page template, render
 * it, seal it. Each sample is its own process, so nothing is cached between them. It needs `pnpm build` first; a
 * build older than the sources is refused rather than measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestIdentity } from '../packages/adapter-local/src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../fixtures/paths.js';
import type { BenchRow } from './harness.js';
import { summarize } from './harness.js';

const ROOT = join(import.meta.dirname, '..');
const SAMPLES = 5;
const PACKAGES = ['core', 'adapter-local'];

interface ColdStartSample {
  importMs: number;
  firstSealedMs: number;
  /** CPU time of the whole child process up to that point, Node's own start included. */
  importCpuMs: number;
  firstSealedCpuMs: number;
}

/** The child: everything it does is timed from before its first import. */
const CHILD = `
const started = performance.now();
const [core, local] = await Promise.all([import(process.env.CORE), import(process.env.LOCAL)]);
const imported = performance.now();
const importCpu = process.cpuUsage();
const { readFileSync } = await import('node:fs');
const input = JSON.parse(readFileSync(process.env.INPUT, 'utf8'));
const identity = local.loadSigningIdentity({ certificatePem: input.certificatePem, privateKeyPem: input.privateKeyPem });
const template = await core.prepareTemplate(new Uint8Array(readFileSync(input.pdf)));
const rendered = template.render({});
const sealed = local.sealPdf(rendered, {
  identity,
  field: { name: 'cold', page: 7, rect: { x: 80, y: 90, width: 119, height: 119 } },
  signingTime: new Date(),
});
if (!local.verifyPdfSignatures(sealed)[0]?.valid) throw new Error('the first sealed document does not verify');
const cpu = process.cpuUsage();
console.log(JSON.stringify({
  importMs: imported - started,
  firstSealedMs: performance.now() - started,
  importCpuMs: (importCpu.user + importCpu.system) / 1000,
  firstSealedCpuMs: (cpu.user + cpu.system) / 1000,
}));
`;

/**
 * The floor beside it, measured the same way in the same run: a child that only loads the two libraries a render
 * cannot do without and does the least with each — pdf-lib loads the template, fontkit parses the bundled CJK font —
 * with no sealflow code at all.
 */
const FLOOR_CHILD = `
const started = performance.now();
const { createRequire } = await import('node:module');
const require = createRequire(process.env.CORE);
const { PDFDocument } = require('pdf-lib');
const fontkit = require('@pdf-lib/fontkit');
const { readFileSync } = await import('node:fs');
const input = JSON.parse(readFileSync(process.env.INPUT, 'utf8'));
await PDFDocument.load(readFileSync(input.pdf));
(fontkit.default ?? fontkit).create(readFileSync(process.env.FONT));
const cpu = process.cpuUsage();
console.log(JSON.stringify({ ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 }));
`;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Why the build cannot be measured, or null when it is there and newer than the sources. */
function buildProblem(): string | null {
  for (const name of PACKAGES) {
    const dist = join(ROOT, 'packages', name, 'dist', 'index.js');
    if (!existsSync(dist)) return `packages/${name} is not built`;
    if (statSync(dist).mtimeMs < newestMtime(join(ROOT, 'packages', name, 'src'))) {
      return `packages/${name}/dist is older than its sources`;
    }
  }
  return null;
}

export async function coldStartRows(): Promise<BenchRow[]> {
  const problem = buildProblem();
  if (problem) {
    console.warn(`[bench] skipping cold start: ${problem}; run \`pnpm build\` first`);
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'sealflow-cold-'));
  const input = join(dir, 'input.json');
  const { certificatePem, privateKeyPem } = createTestIdentity({ commonName: '冷启动', organization: '某某公司' });
  writeFileSync(input, JSON.stringify({ certificatePem, privateKeyPem, pdf: CONTRACT_TEMPLATE_PDF }));
  const env = {
    ...process.env,
    CORE: join(ROOT, 'packages/core/dist/index.js'),
    LOCAL: join(ROOT, 'packages/adapter-local/dist/index.js'),
    INPUT: input,
  };
  const samples = Array.from({ length: SAMPLES }, () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD], { env, encoding: 'utf8' });
    return JSON.parse(out) as ColdStartSample;
  });
  const median = (key: keyof ColdStartSample) => summarize(samples.map((s) => s[key])).median;
  const font = createRequire(join(ROOT, 'packages/core/package.json')).resolve(
    '@sealflow/font-noto-sans-sc/NotoSansSC-Regular.ttf',
  );
  const floors = Array.from({ length: SAMPLES }, () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', FLOOR_CHILD], {
      env: { ...env, FONT: font },
      encoding: 'utf8',
    });
    return JSON.parse(out) as { ms: number; cpuMs: number };
  });
  const floorName = 'cold start floor: load pdf-lib + fontkit, load the template, parse the CJK font; nothing else';
  const floorMs = summarize(floors.map((f) => f.ms)).median;
  const firstSealedMs = median('firstSealedMs');
  return [
    { name: floorName, unit: 'ms', value: floorMs },
    { name: `${floorName}, CPU time`, unit: 'ms', value: summarize(floors.map((f) => f.cpuMs)).median },
    {
      name: `cold start: import core + adapter-local (median of ${SAMPLES} processes)`,
      unit: 'ms',
      value: median('importMs'),
    },
    {
      name: 'cold start: import to the first sealed document (render + seal)',
      unit: 'ms',
      value: firstSealedMs,
      baseline: floorName,
      baselineValue: floorMs,
      ratio: floorMs / firstSealedMs,
    },
    // CPU time (user + system) of the child: what a loaded machine inflates far less than wall time.
    { name: 'cold start: import, CPU time', unit: 'ms', value: median('importCpuMs') },
    {
      name: 'cold start: import to the first sealed document, CPU time',
      unit: 'ms',
      value: median('firstSealedCpuMs'),
    },
  ];
}
