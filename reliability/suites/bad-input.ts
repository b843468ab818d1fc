import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ReliabilitySuite } from '../suite.js';
import { firstLines, ROOT, runVitest } from '../vitest-run.js';

const FULL_RUNS = 10_000;
const CI_RUNS = 300;

/** The property test files: `*.property.test.ts` everywhere, and core's older `bad-input-*.properties.test.ts`. */
function propertyFiles(includeOlder: boolean): string[] {
  const packages = readdirSync(join(ROOT, 'packages'));
  return packages.flatMap((pkg) => {
    let files: string[];
    try {
      files = readdirSync(join(ROOT, 'packages', pkg, 'test'));
    } catch {
      return [];
    }
    return files
      .filter(
        (f) => f.endsWith('.property.test.ts') || (includeOlder && /^bad-input-.*\.properties\.test\.ts$/.test(f)),
      )
      .map((f) => `packages/${pkg}/test/${f}`);
  });
}

const suite: ReliabilitySuite = {
  name: 'bad-input',
  title: 'Bad input: typed errors at every entry point',
  description: `
Property-based tests ([fast-check](https://fast-check.dev)) call every public entry point with generated input —
valid input with one part replaced by anything, real ids in the wrong places, values JSON cannot hold, bytes that are
not a PDF — and require each call to settle within 10 seconds with a result or a \`SealflowError\` whose \`code\` is
an upper-case constant and whose message is a sentence. A raw \`TypeError\`, a hang, an unhandled rejection or an
accepted forgery is a finding. Each file also shows that valid input still succeeds after the generated calls.

| Entry point | File |
|---|---|
| \`sealflow.dispatch\`: every method of applications, offers, institutions (ledger top-ups, transfers, movement pages, verification), complaints, ratings and \`signLoanContract\` | \`packages/core/test/dispatch-bad-input.property.test.ts\` |
| Template import of arbitrary bytes (\`importTemplate\`, \`inspectPdf\`) | \`packages/core/test/template-import-bytes.property.test.ts\` |
| e签宝 callbacks (\`parseCallback\` of the vendor, \`verifyCallback\`) | \`packages/adapter-esign/test/callback-bad-input.property.test.ts\` |
| CFCA 安心签 answers to transactions and downloads, and \`verifyCfcaSignature\` of request bodies (CFCA pushes no callbacks, so these are what reaches sealflow from CFCA) | \`packages/adapter-cfca/test/response-bad-input.property.test.ts\` |
| Template definitions, contract values, \`sign\` requests, core's vendor callbacks, damaged template PDFs (full scale only; \`pnpm test\` runs them at 2,000 inputs each) | \`packages/core/test/bad-input-*.properties.test.ts\` |

\`pnpm test\` runs the same files with a few hundred inputs per property (\`SEALFLOW_PROPERTY_RUNS\` overrides).
The full scale runs ${FULL_RUNS.toLocaleString('en')} inputs per property; the reduced scale ${CI_RUNS} per
property of the \`*.property.test.ts\` files. "Inputs counted" adds up what the tests recorded they checked; the
older files run the same number per property but do not record it.`,
  async run(scale) {
    const runs = scale === 'full' ? FULL_RUNS : CI_RUNS;
    const files = propertyFiles(scale === 'full');
    const result = await runVitest(files, { SEALFLOW_PROPERTY_RUNS: String(runs) });
    const failed = result.tests.filter((t) => t.status === 'failed');
    const counted = result.tests.filter((t) => t.generatedInputs > 0);
    const findings = [
      ...result.fileErrors,
      ...failed.map((t) => `${t.file} › ${t.name}: ${firstLines(t.failures.join('\n'))}`),
    ];
    if (result.exitCode !== 0 && findings.length === 0) findings.push(`vitest exited with code ${result.exitCode}`);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return {
      passed: findings.length === 0,
      findings,
      figures: [
        { label: 'Runs per property', value: runs.toLocaleString('en') },
        { label: 'Test files', value: files.length },
        {
          label: 'Tests (passed / failed / skipped)',
          value: `${result.tests.length - failed.length - result.tests.filter((t) => t.status === 'skipped').length} / ${failed.length} / ${result.tests.filter((t) => t.status === 'skipped').length}`,
        },
        ...counted.map((t) => ({
          label: `${t.file.replace(/^packages\//, '')} › ${t.name}`,
          value: `${t.generatedInputs.toLocaleString('en')} inputs in ${seconds(t.durationMs)}`,
        })),
        {
          label: 'Inputs counted',
          value: counted.reduce((n, t) => n + t.generatedInputs, 0).toLocaleString('en'),
        },
        { label: 'Wall time', value: seconds(result.durationMs) },
      ],
    };
  },
};
export default suite;
