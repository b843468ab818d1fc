/**
 * The external PDF tools the tests check output with: poppler (pdftotext, pdffonts, pdfsig), qpdf, ghostscript and
 * LibreOffice. A check that needs a missing tool never passes silently: outside CI the test is skipped and the
 * reason (with the install command) is printed; in CI (CI=true), where .ci/run installs them all, a missing tool
 * fails the test file.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const PACKAGE_OF = {
  pdftotext: 'poppler-utils',
  pdffonts: 'poppler-utils',
  pdfsig: 'poppler-utils',
  qpdf: 'qpdf',
  gs: 'ghostscript',
  soffice: 'libreoffice-writer-nogui',
} as const;

export type PdfTool = keyof typeof PACKAGE_OF;

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * Whether `tool` is on PATH. When it is not, prints which checks do not run (`checks`) and how to install it; in CI
 * throws instead, so the run fails rather than skips.
 */
export function hasTool(tool: PdfTool, checks: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0) return true;
  const reason = `${tool} is not installed, so ${checks} cannot run: install it with "apt-get install -y ${PACKAGE_OF[tool]}".`;
  if (inCi) throw new Error(`${reason} CI must check this (.ci/run installs the PDF tools).`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

/**
 * pdftotext's text of the file (or one 1-based page) with whitespace removed, since CJK lines wrap and space
 * unpredictably, and what poppler complained about on stderr (e.g. "Syntax Warning: Unknown font type").
 */
export function pdfText(path: string, page?: number): { text: string; complaints: string } {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  const r = spawnSync('pdftotext', [...range, path, '-'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pdftotext failed on ${path}: ${r.stderr}`);
  return { text: r.stdout.replace(/\s+/g, ''), complaints: r.stderr.trim() };
}

/** qpdf --check's report; qpdf exits non-zero (so this throws) on errors, and on warnings (exit status 3). */
export function qpdfCheck(path: string): string {
  return execFileSync('qpdf', ['--check', path]).toString();
}
