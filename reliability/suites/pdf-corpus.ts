import type { ReliabilitySuite } from '../suite.js';
import { firstLines, runVitest } from '../vitest-run.js';

const suite: ReliabilitySuite = {
  name: 'pdf-corpus',
  title: 'Malformed and unusual PDFs',
  description: `
A corpus of template PDFs is made from the contract template with the tools people's files come from — qpdf,
ghostscript and LibreOffice — and cached in the system's temp folder, so nothing binary is committed and a second run
starts at once. It holds object streams, a linearised file, rotated pages, files encrypted with and without a user
password (AES-256 and 40-bit RC4), a file with no pages, a broken cross-reference table, a \`startxref\` pointing
nowhere, truncated files, garbage after \`%%EOF\`, a ghostscript re-distillation and a LibreOffice export (neither has
an AcroForm), 1,200 pages, 6,000 pages (over the 5,000-page limit), and files that are not PDFs (empty, PNG, ZIP,
HTML). A rendered contract and a sealed one stand for incremental updates.

Every file goes through \`inspectPdf\`, \`importTemplate\`, \`prepareTemplate\` and \`render\`, and adapter-local's
\`sealPdf\`. Each call must settle within 10 seconds with a result or a typed error; files a person would call sound
must still be inspected; encrypted, empty and non-PDF files must be refused with \`PDF_INVALID\` and the matching
\`details.reason\`. A file whose tool is missing is skipped with its reason outside CI and fails the run in CI. The
check is \`reliability/checks/pdf-corpus.check.ts\`; both scales run the whole corpus.`,
  async run() {
    const result = await runVitest(['reliability/checks/pdf-corpus.check.ts']);
    const failed = result.tests.filter((t) => t.status === 'failed');
    const skipped = result.tests.filter((t) => t.status === 'skipped');
    const findings = [...result.fileErrors, ...failed.map((t) => `${t.name}: ${firstLines(t.failures.join('\n'))}`)];
    if (result.exitCode !== 0 && findings.length === 0) findings.push(`vitest exited with code ${result.exitCode}`);
    return {
      passed: findings.length === 0,
      findings,
      figures: [
        { label: 'Corpus files through every path', value: result.tests.reduce((n, t) => n + t.generatedInputs, 0) },
        { label: 'Skipped (tool missing)', value: skipped.length ? skipped.map((t) => t.name).join('; ') : 'none' },
        { label: 'Failed', value: failed.length },
        ...result.tests
          .filter((t) => t.outcome)
          .map((t) => ({ label: t.name.replace(/^.*? seal /, '').replace(/: a result .*$/, ''), value: t.outcome! })),
        {
          label: 'Wall time (the corpus is made on a first run, then cached)',
          value: `${(result.durationMs / 1000).toFixed(1)} s`,
        },
      ],
    };
  },
};
export default suite;
