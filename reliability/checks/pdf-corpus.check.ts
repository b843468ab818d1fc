/**
 * The malformed and unusual PDF corpus, made on the fly by qpdf, ghostscript and LibreOffice from the contract
 * template (and cached between runs): object streams, linearised, incremental updates (a rendered and a sealed
 * contract), encrypted with and without a user password, a broken cross-reference table, truncated, without an
 * AcroForm, rotated pages, thousands of pages, no pages, garbage after %%EOF, and files that are not PDFs. Every file
 * goes through inspection, template import, rendering and sealing; each answers with a result or a typed error
 * within its bound, and the files that are sound PDFs are still read.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { sealPdf } from '../../packages/adapter-local/src/index.js';
import { createTestSigningIdentity } from '../../packages/adapter-local/src/testing/index.js';
import { inspectPdf, isSealflowError, prepareTemplate } from '../../packages/core/src/index.js';
import { hasTool } from '../../packages/core/test/pdf-tools.js';
import { editor, loanDefinition, setupTemplates } from '../../packages/core/test/template-fixtures.js';
import { answerOrTypedError, assertTypedError, bounded, countInputs } from '../property.js';

const CACHE = join(tmpdir(), 'sealflow-pdf-corpus-v1');
const tools = {
  qpdf: hasTool('qpdf', 'the qpdf-made files of the PDF corpus'),
  gs: hasTool('gs', 'the ghostscript-made files of the PDF corpus'),
  soffice: hasTool('soffice', 'the LibreOffice-made file of the PDF corpus'),
};

/** `inspect`: what inspection must answer. `either`: a result or a typed refusal are both right. */
type Expect = { inspect: 'ok' | 'refused' | 'either'; reason?: string };
interface CorpusFile extends Expect {
  name: string;
  tool?: keyof typeof tools;
  make(path: string): void;
}

const fixture = readFileSync(CONTRACT_TEMPLATE_PDF);
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe', timeout: 300_000 });
/** qpdf exits 3 for "succeeded with warnings", which is what damaged input gives. */
const qpdf = (args: string[]) => {
  try {
    run('qpdf', args);
  } catch (error) {
    if ((error as { status?: number }).status !== 3) throw error;
  }
};
const gsPages = (path: string, pages: number) => {
  const ps = `${path}.ps`;
  writeFileSync(ps, `%!PS\n<< /PageSize [595 842] >> setpagedevice\n1 1 ${pages} { pop showpage } for\n`);
  run('gs', ['-q', '-dBATCH', '-dNOPAUSE', '-dSAFER', '-sDEVICE=pdfwrite', `-sOutputFile=${path}`, ps]);
};
const plain = () => join(CACHE, 'plain.pdf');
const ensurePlain = () => {
  if (!existsSync(plain())) qpdf(['--object-streams=disable', CONTRACT_TEMPLATE_PDF, plain()]);
  return readFileSync(plain());
};

const CORPUS: CorpusFile[] = [
  { name: 'the template itself', inspect: 'ok', make: (p) => writeFileSync(p, fixture) },
  {
    name: 'object streams',
    tool: 'qpdf',
    inspect: 'ok',
    make: (p) => qpdf(['--object-streams=generate', CONTRACT_TEMPLATE_PDF, p]),
  },
  { name: 'linearised', tool: 'qpdf', inspect: 'ok', make: (p) => qpdf(['--linearize', CONTRACT_TEMPLATE_PDF, p]) },
  {
    name: 'rotated pages',
    tool: 'qpdf',
    inspect: 'ok',
    make: (p) => qpdf(['--rotate=+90:1-4', CONTRACT_TEMPLATE_PDF, p]),
  },
  {
    name: 'encrypted, no user password',
    tool: 'qpdf',
    inspect: 'refused',
    reason: 'encrypted',
    make: (p) => qpdf(['--encrypt', '', 'owner', '256', '--', CONTRACT_TEMPLATE_PDF, p]),
  },
  {
    name: 'encrypted with a user password',
    tool: 'qpdf',
    inspect: 'refused',
    reason: 'encrypted',
    make: (p) => qpdf(['--encrypt', 'user', 'owner', '256', '--', CONTRACT_TEMPLATE_PDF, p]),
  },
  {
    name: 'RC4-encrypted (40-bit)',
    tool: 'qpdf',
    inspect: 'refused',
    reason: 'encrypted',
    make: (p) => qpdf(['--allow-weak-crypto', '--encrypt', '', 'owner', '40', '--', CONTRACT_TEMPLATE_PDF, p]),
  },
  { name: 'no pages', tool: 'qpdf', inspect: 'refused', reason: 'no-pages', make: (p) => qpdf(['--empty', p]) },
  {
    name: 'broken cross-reference table',
    tool: 'qpdf',
    inspect: 'either',
    make: (p) => {
      const text = ensurePlain().toString('latin1');
      const at = text.lastIndexOf('\nxref');
      // Every offset in the table points 7 bytes off: a reader must reconstruct or refuse.
      const broken = text.slice(at).replace(/^(\d{10}) (\d{5}) n/gm, (_m, off: string, gen: string) => {
        const moved = String(Number(off) + 7).padStart(10, '0');
        return `${moved} ${gen} n`;
      });
      writeFileSync(p, Buffer.from(text.slice(0, at) + broken, 'latin1'));
    },
  },
  {
    name: 'startxref pointing nowhere',
    tool: 'qpdf',
    inspect: 'either',
    make: (p) => {
      const text = ensurePlain().toString('latin1');
      writeFileSync(p, Buffer.from(text.replace(/startxref\s+\d+/, 'startxref\n99999999'), 'latin1'));
    },
  },
  {
    name: 'truncated to half',
    inspect: 'refused',
    make: (p) => writeFileSync(p, fixture.subarray(0, fixture.length >> 1)),
  },
  {
    name: 'truncated before %%EOF',
    inspect: 'either',
    make: (p) => writeFileSync(p, fixture.subarray(0, fixture.length - 6)),
  },
  {
    name: 'garbage after %%EOF',
    inspect: 'either',
    make: (p) =>
      writeFileSync(p, Buffer.concat([fixture, Buffer.from('\nGARBAGE \u0000\u00ff trailer << >> %%EOF junk')])),
  },
  {
    name: 'NUL padding after %%EOF',
    inspect: 'either',
    make: (p) => writeFileSync(p, Buffer.concat([fixture, Buffer.alloc(512)])),
  },
  {
    name: 'ghostscript re-distilled (no AcroForm)',
    tool: 'gs',
    inspect: 'ok',
    make: (p) =>
      run('gs', [
        '-q',
        '-dBATCH',
        '-dNOPAUSE',
        '-dSAFER',
        '-sDEVICE=pdfwrite',
        `-sOutputFile=${p}`,
        CONTRACT_TEMPLATE_PDF,
      ]),
  },
  // ghostscript writes a classic cross-reference table, 20 bytes per object: thousands of objects put its trailer
  // tens of kilobytes after the table's start.
  { name: '1,200 blank pages', tool: 'gs', inspect: 'ok', make: (p) => gsPages(p, 1_200) },
  { name: '6,000 blank pages (over the 5,000 limit)', tool: 'gs', inspect: 'refused', make: (p) => gsPages(p, 6_000) },
  {
    name: 'LibreOffice document (no AcroForm)',
    tool: 'soffice',
    inspect: 'ok',
    make: (p) => {
      const source = join(CACHE, 'letter.fodt');
      writeFileSync(
        source,
        `<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:body><office:text><text:p>个人借款合同 Loan contract</text:p><text:p>借款人：</text:p></office:text></office:body>
</office:document>
`,
      );
      run('soffice', [
        `-env:UserInstallation=file://${join(CACHE, 'lo-profile')}`,
        '--headless',
        '--convert-to',
        'pdf',
        '--outdir',
        CACHE,
        source,
      ]);
      writeFileSync(p, readFileSync(join(CACHE, 'letter.pdf')));
    },
  },
  { name: 'empty file', inspect: 'refused', reason: 'not-pdf', make: (p) => writeFileSync(p, '') },
  {
    name: 'a PNG image',
    inspect: 'refused',
    reason: 'not-pdf',
    make: (p) => writeFileSync(p, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')),
  },
  {
    name: 'a ZIP (a .docx)',
    inspect: 'refused',
    reason: 'not-pdf',
    make: (p) => writeFileSync(p, Buffer.from('504b0304140006000800', 'hex')),
  },
  {
    name: 'HTML error page',
    inspect: 'refused',
    reason: 'not-pdf',
    make: (p) => writeFileSync(p, '<html><body>502 Bad Gateway</body></html>'),
  },
  { name: 'only a header', inspect: 'refused', make: (p) => writeFileSync(p, '%PDF-1.7\n') },
];

/** The corpus file's bytes, made once and kept in the cache; `undefined` when its tool is missing. */
function corpusBytes(file: CorpusFile): Uint8Array | undefined {
  if (file.tool && !tools[file.tool]) return undefined;
  mkdirSync(CACHE, { recursive: true });
  const path = join(CACHE, `${file.name.replace(/[^a-z0-9]+/gi, '-')}.pdf`);
  if (!existsSync(path)) file.make(path);
  return new Uint8Array(readFileSync(path));
}

describe('the PDF corpus through inspect, import, render and seal', () => {
  const identity = createTestSigningIdentity({ commonName: 'Corpus', organization: 'Example Co.' });
  let templates: ReturnType<typeof setupTemplates>;
  let code = 0;
  beforeAll(() => {
    templates = setupTemplates();
  });

  for (const file of CORPUS) {
    it(`${file.name}: a result or a typed error on every path`, async ({ task, skip }) => {
      const bytes = corpusBytes(file);
      if (!bytes) {
        console.warn(`SKIPPED: ${file.name} needs ${file.tool}, which is not installed.`);
        skip();
        return;
      }
      let refusal: unknown;
      await bounded('inspectPdf', () => inspectPdf(bytes)).catch((error: unknown) => {
        assertTypedError(error, 'inspectPdf');
        refusal = error;
      });
      task.meta.outcome = refusal
        ? `refused: ${(refusal as { code: string }).code} ${(refusal as { details?: { reason?: string } }).details?.reason ?? ''}`.trim()
        : 'inspected';
      if (file.inspect === 'ok') expect(refusal, String(refusal)).toBeUndefined();
      if (file.inspect === 'refused') {
        expect(isSealflowError(refusal) && refusal.code, 'inspection must refuse it').toBe('PDF_INVALID');
        if (file.reason) {
          expect((refusal as { details?: { reason?: string } }).details?.reason).toBe(file.reason);
        }
      }
      await answerOrTypedError('importTemplate', () =>
        templates.service.importTemplate(editor, {
          code: `CORPUS_${++code}`,
          name: file.name,
          documentType: 'LOAN_CONTRACT',
          pdf: bytes,
          definition: loanDefinition(),
        }),
      );
      const prepared = await answerOrTypedError('prepareTemplate', () => prepareTemplate(bytes));
      if (prepared) {
        const values = Object.fromEntries(prepared.fields.slice(0, 3).map((f) => [f.name, '张三 13912345678']));
        await answerOrTypedError('render', () => prepared.render(values));
      }
      await answerOrTypedError('sealPdf', () =>
        sealPdf(bytes, {
          identity,
          field: { page: 0, rect: { x: 40, y: 40, width: 120, height: 60 } },
          signingTime: new Date('2026-11-30T02:00:00Z'),
        }),
      );
      countInputs(task, 1);
    });
  }

  it('incremental updates: a rendered and then sealed contract is read again', async () => {
    const prepared = await prepareTemplate(fixture);
    const rendered = prepared.render(Object.fromEntries(prepared.fields.map((f) => [f.name, '测试'])));
    const sealed = sealPdf(rendered, {
      identity,
      field: { page: 7, rect: { x: 40, y: 40, width: 120, height: 60 } },
      signingTime: new Date('2026-11-30T02:00:00Z'),
    });
    for (const bytes of [rendered, sealed]) {
      const inspection = await inspectPdf(bytes);
      expect(inspection.pages.length).toBe(8);
    }
    const again = sealPdf(sealed, {
      identity,
      field: { page: 7, rect: { x: 200, y: 40, width: 120, height: 60 } },
      signingTime: new Date('2026-11-30T02:00:00Z'),
    });
    expect(again.length).toBeGreaterThan(sealed.length);
  });
});
