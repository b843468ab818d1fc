/**
 * poppler and qpdf, which the PDF tests read the output back with. A missing tool never passes silently: outside CI
 * the checks are skipped with the reason and the install command printed; in CI (CI=true) the test file fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const PACKAGE_OF = { pdftotext: 'poppler-utils', pdffonts: 'poppler-utils', qpdf: 'qpdf' } as const;
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** Whether `tool` is on PATH; prints why `checks` are skipped when it is not, or throws in CI. */
export function hasTool(tool: keyof typeof PACKAGE_OF, checks: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0) return true;
  const reason = `${tool} is not installed, so ${checks} cannot run: install it with "apt-get install -y ${PACKAGE_OF[tool]}".`;
  if (inCi) throw new Error(`${reason} CI must check this (.ci/run installs the PDF tools).`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

/**
 * pdftotext's text of the file, or of one 1-based page, in drawing order (`-raw`: table cells stay in row order) and
 * with all whitespace removed (CJK spacing is unpredictable).
 */
export function pdfText(path: string, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  const r = spawnSync('pdftotext', ['-raw', ...range, path, '-'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pdftotext failed on ${path}: ${r.stderr}`);
  if (r.stderr.trim() !== '') throw new Error(`pdftotext complained about ${path}: ${r.stderr}`);
  return r.stdout.replace(/\s+/g, '');
}

/** The page count, from the form feeds pdftotext puts after every page. */
export function pdfPageCount(path: string): number {
  const r = spawnSync('pdftotext', [path, '-'], { encoding: 'utf8' });
  return r.stdout.split('\f').length - 1;
}

/** qpdf --check's report; qpdf exits non-zero (so this throws) on errors and on warnings. */
export function qpdfCheck(path: string): string {
  return execFileSync('qpdf', ['--check', path]).toString();
}

/** pdffonts' listing of the fonts the file uses. */
export function pdfFonts(path: string): string {
  return execFileSync('pdffonts', [path]).toString();
}
