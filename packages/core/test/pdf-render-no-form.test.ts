/**
 * Rendering values at coordinates ("blanks") on templates without an AcroForm, as ghostscript, Word and WPS export
 * them. The templates are made here by the real tools (a PostScript program through ghostscript, a flat ODT through
 * LibreOffice) and also committed under fixtures/, so the checks still run where the tools are missing. To refresh
 * the committed copies: SEALFLOW_UPDATE_FIXTURES=1 npx vitest run packages/core/test/pdf-render-no-form.test.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, PDFRef } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BlankSpec, PdfUpdateInconsistentError, inspectPdf, prepareTemplate } from '../src/pdf/index.js';
import { appendIncrementalUpdate } from '../src/pdf/incremental-writer.js';
import { checkPdfBytes } from '../src/pdf/load.js';
import { hasTool, pdfText, qpdfCheck } from './pdf-tools.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const work = mkdtempSync(join(tmpdir(), 'sealflow-no-form-'));
const updateFixtures = process.env.SEALFLOW_UPDATE_FIXTURES === '1';

const gs = hasTool('gs', 'rendering on a PDF freshly made by ghostscript');
const soffice = hasTool('soffice', 'rendering on a PDF freshly made by LibreOffice');
const poppler =
  hasTool('pdftotext', 'the pdftotext checks of values placed on PDFs without a form') &&
  hasTool('pdffonts', 'the pdffonts check of the font embedded in PDFs without a form');
const qpdf = hasTool('qpdf', 'qpdf --check of PDFs rendered without a form');

/** A two-page contract as a PostScript program: labels in Helvetica, the values' places and a remarks area blank. */
const POSTSCRIPT = `%!PS
<< /PageSize [595 842] >> setpagedevice
/Helvetica findfont 12 scalefont setfont
72 770 moveto (PERSONAL CONSUMER LOAN CONTRACT) show
72 720 moveto (Contract no.:) show
72 690 moveto (Borrower:) show
72 660 moveto (Loan amount:) show
72 420 moveto (Remarks:) show
showpage
/Helvetica findfont 12 scalefont setfont
72 770 moveto (Signature page) show
72 720 moveto (Signed on:) show
showpage
`;

/** The same contract as a flat ODT, with Chinese labels as a Word/WPS user would type them. */
const FLAT_ODT = `<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:automatic-styles>
  <style:page-layout style:name="A4"><style:page-layout-properties fo:page-width="210mm" fo:page-height="297mm" fo:margin-top="25mm" fo:margin-bottom="25mm" fo:margin-left="25mm" fo:margin-right="25mm"/></style:page-layout>
  <style:style style:name="Line" style:family="paragraph"><style:paragraph-properties fo:margin-bottom="4mm"/><style:text-properties fo:font-size="12pt" style:font-size-asian="12pt"/></style:style>
  <style:style style:name="NewPage" style:family="paragraph" style:parent-style-name="Line"><style:paragraph-properties fo:break-before="page"/></style:style>
 </office:automatic-styles>
 <office:master-styles><style:master-page style:name="Standard" style:page-layout-name="A4"/></office:master-styles>
 <office:body><office:text>
  <text:p text:style-name="Line">个人消费借款合同</text:p>
  <text:p text:style-name="Line">合同编号：</text:p>
  <text:p text:style-name="Line">借款人：</text:p>
  <text:p text:style-name="Line">借款金额：</text:p>
  <text:p text:style-name="Line">备注：</text:p>
  <text:p text:style-name="NewPage">签署页</text:p>
  <text:p text:style-name="Line">签署日期：</text:p>
 </office:text></office:body>
</office:document>
`;

function makeWithGhostscript(): Uint8Array {
  const ps = join(work, 'contract.ps');
  const pdf = join(work, 'ghostscript-no-form.pdf');
  writeFileSync(ps, POSTSCRIPT);
  execFileSync('gs', ['-q', '-dBATCH', '-dNOPAUSE', '-dSAFER', '-sDEVICE=pdfwrite', `-sOutputFile=${pdf}`, ps]);
  return new Uint8Array(readFileSync(pdf));
}

function makeWithLibreOffice(): Uint8Array {
  const source = join(work, 'libreoffice-no-form.fodt');
  writeFileSync(source, FLAT_ODT);
  // Its own profile directory, so a LibreOffice the developer has open (or a parallel run) does not get in the way.
  const profile = `-env:UserInstallation=file://${join(work, 'lo-profile')}`;
  execFileSync('soffice', [profile, '--headless', '--convert-to', 'pdf', '--outdir', work, source], {
    stdio: 'pipe',
    timeout: 150_000,
  });
  return new Uint8Array(readFileSync(join(work, 'libreoffice-no-form.pdf')));
}

interface TemplateKind {
  name: string;
  fixture: string;
  made: boolean;
  make: () => Uint8Array;
  /** Value name → the printed label its value goes right of. */
  labels: Record<string, string>;
}

const KINDS: TemplateKind[] = [
  {
    name: 'ghostscript',
    fixture: 'ghostscript-no-form.pdf',
    made: gs,
    make: makeWithGhostscript,
    labels: {
      contractNo: 'Contract no.:',
      borrowerName: 'Borrower:',
      loanAmount: 'Loan amount:',
      remarks: 'Remarks:',
      signedOn: 'Signed on:',
    },
  },
  {
    name: 'LibreOffice',
    fixture: 'libreoffice-no-form.pdf',
    made: soffice,
    make: makeWithLibreOffice,
    labels: {
      contractNo: '合同编号：',
      borrowerName: '借款人：',
      loanAmount: '借款金额：',
      remarks: '备注：',
      signedOn: '签署日期：',
    },
  },
];

const VALUES: Record<string, string> = {
  contractNo: 'HT-2026-000123',
  borrowerName: '欧阳玥堃',
  loanAmount: '人民币伍万元整（¥50,000.00）',
  remarks: '借款人应当按期足额偿还借款本金及利息。Repayment is due on the 15th of each month.',
  signedOn: '2026年11月30日',
};
const SINGLE_LINE = ['contractNo', 'borrowerName', 'loanAmount', 'signedOn'] as const;

/** Blanks right of each printed label, found where a template author would look them up: inspectPdf's keywords. */
async function blanksNextToLabels(pdf: Uint8Array, labels: Record<string, string>): Promise<BlankSpec[]> {
  const { keywordHits } = await inspectPdf(pdf, { keywords: Object.values(labels) });
  return Object.entries(labels).map(([name, label]) => {
    const hit = keywordHits.find((h) => h.keyword === label);
    if (!hit) throw new Error(`the template does not print "${label}"`);
    const x = hit.x + hit.width + 6;
    if (name === 'remarks') {
      // Remarks wrap below their label, into the blank part of the page.
      return { name, page: hit.page, rect: { x: hit.x, y: hit.y - 64, width: 420, height: 60 }, multiline: true };
    }
    return { name, page: hit.page, rect: { x, y: hit.y - 3, width: 320, height: 16 }, fontSize: 11 };
  });
}

/** The object numbers an update's classic cross-reference section lists, in order (a repeated one stays repeated). */
function updateXrefNumbers(template: Uint8Array, out: Uint8Array): number[] {
  const update = Buffer.from(out.subarray(template.length)).toString('latin1');
  const section = update.slice(update.lastIndexOf('\nxref\n') + 6, update.lastIndexOf('\ntrailer'));
  const lines = section.split('\n');
  const numbers: number[] = [];
  for (let i = 0; i < lines.length; ) {
    const [first, count] = lines[i]!.split(' ').map(Number) as [number, number];
    for (let k = 0; k < count; k++) numbers.push(first + k);
    i += count + 1;
  }
  return numbers;
}

const sources: { title: string; kind: TemplateKind; fresh: boolean }[] = KINDS.flatMap((kind) => [
  { title: `${kind.name}, committed fixture`, kind, fresh: false },
  { title: `${kind.name}, made now`, kind, fresh: true },
]);

const templates = new Map<string, Uint8Array>();
beforeAll(() => {
  for (const { title, kind, fresh } of sources) {
    if (!fresh) continue;
    const committed = join(FIXTURES, kind.fixture);
    if (kind.made) {
      const bytes = kind.make();
      if (updateFixtures) writeFileSync(committed, bytes);
      templates.set(title, bytes);
    }
    templates.set(`${kind.name}, committed fixture`, new Uint8Array(readFileSync(committed)));
  }
}, 180_000);

describe.each(sources)('values at coordinates on a PDF without a form: $title', ({ title, kind, fresh }) => {
  const skip = fresh && !kind.made;
  let template: Uint8Array;
  let out: Uint8Array;
  let path: string;
  beforeAll(async () => {
    if (skip) return;
    template = templates.get(title)!;
    const prepared = await prepareTemplate(template, { blanks: await blanksNextToLabels(template, kind.labels) });
    expect(prepared.fields.map((f) => f.kind)).toEqual(Object.keys(kind.labels).map(() => 'blank'));
    out = prepared.render(VALUES);
    path = join(work, `${kind.name}-${fresh ? 'fresh' : 'fixture'}-rendered.pdf`);
    writeFileSync(path, out);
  });

  it.skipIf(skip)('the template is an unchanged prefix and no template has a form', async () => {
    expect(Buffer.from(out.subarray(0, template.length)).equals(Buffer.from(template))).toBe(true);
    expect((await PDFDocument.load(template)).catalog.getAcroForm()).toBeUndefined();
  });

  it.skipIf(skip)(
    'each object number appears once in the update: rewritten pages, then numbers from /Size',
    async () => {
      const numbers = updateXrefNumbers(template, out);
      expect(new Set(numbers).size, `xref lists ${numbers.join(' ')}`).toBe(numbers.length);
      const size = checkPdfBytes(template).size;
      const pages = (await PDFDocument.load(template)).getPages().map((p) => p.ref.objectNumber);
      const rewritten = numbers.filter((n) => n < size).sort((a, b) => a - b);
      expect(rewritten).toEqual([...pages].sort((a, b) => a - b)); // both pages carry values
      const fresh = numbers.filter((n) => n >= size).sort((a, b) => a - b);
      expect(fresh).toEqual(fresh.map((_, i) => size + i)); // consecutive from the template's /Size
    },
  );

  it.skipIf(skip)('inspectPdf finds every single-line value on its page, right of its label', async () => {
    const words = SINGLE_LINE.map((name) => VALUES[name]!);
    const { keywordHits } = await inspectPdf(out, { keywords: [...words, ...Object.values(kind.labels)] });
    for (const name of SINGLE_LINE) {
      const label = keywordHits.find((h) => h.keyword === kind.labels[name]);
      const value = keywordHits.find((h) => h.keyword === VALUES[name]);
      expect(value, name).toBeDefined();
      expect(value!.page, name).toBe(label!.page);
      expect(value!.x, name).toBeGreaterThan(label!.x + label!.width);
      expect(Math.abs(value!.y - label!.y), name).toBeLessThan(4);
    }
  });

  it.skipIf(skip || !poppler)('pdftotext finds every value, poppler reads the font without complaint', () => {
    const { text, complaints } = pdfText(path);
    expect(complaints).toBe('');
    for (const [name, value] of Object.entries(VALUES)) expect(text, name).toContain(value.replace(/\s+/g, ''));
    expect(pdfText(path, 2).text).toContain(VALUES.signedOn);
    const fonts = execFileSync('pdffonts', [path]).toString();
    expect(fonts).toMatch(/[A-Z]{6}\+NotoSansSC-Regular\s+CID TrueType\s+Identity-H\s+yes yes yes/);
  });

  it.skipIf(skip || !qpdf)('qpdf --check passes', () => {
    expect(qpdfCheck(path)).toMatch(/No syntax or stream encoding errors/);
  });
});

describe('rendering on a PDF that was itself rendered (a pre-filled template)', () => {
  const first = { borrowerName: '欧阳玥堃' };
  const second = { loanAmount: '人民币伍万元整' };
  let out: Uint8Array;
  beforeAll(async () => {
    const kind = KINDS[0]!;
    const template = new Uint8Array(readFileSync(join(FIXTURES, kind.fixture)));
    const blanks = await blanksNextToLabels(template, kind.labels);
    const only = (names: object) => blanks.filter((b) => b.name in names);
    const prefilled = (await prepareTemplate(template, { blanks: only(first) })).render(first);
    out = (await prepareTemplate(prefilled, { blanks: only(second) })).render(second);
  });

  it('the earlier values keep their font: inspectPdf reads both', async () => {
    const words = [first.borrowerName, second.loanAmount];
    const { keywordHits } = await inspectPdf(out, { keywords: words });
    expect(keywordHits.map((h) => h.keyword).sort()).toEqual([...words].sort());
  });

  it.skipIf(!poppler)('pdftotext reads both', () => {
    const path = join(work, 'rendered-twice.pdf');
    writeFileSync(path, out);
    const { text, complaints } = pdfText(path);
    expect(complaints).toBe('');
    expect(text).toContain(first.borrowerName);
    expect(text).toContain(second.loanAmount);
  });
});

describe('the incremental writer refuses an update that would not read back', () => {
  const template = new TextEncoder().encode('%PDF-1.4\n%%EOF\n');
  const lastXref = { offset: 9, kind: 'table' as const, size: 10 };
  const trailer = { Root: PDFRef.of(1) };
  const object = (n: number) => ({ ref: PDFRef.of(n), text: '<< >>' });

  it('an object number listed twice', () => {
    const write = () => appendIncrementalUpdate(template, lastXref, [object(4), object(10), object(10)], trailer, 11);
    expect(write).toThrow(PdfUpdateInconsistentError);
    expect(write).toThrow(/object 10 would be written twice.*sealflow bug/);
  });

  it('an object number at or beyond the /Size the update declares', () => {
    const write = () => appendIncrementalUpdate(template, lastXref, [object(10), object(11)], trailer, 11);
    expect(write).toThrow(
      expect.objectContaining({
        code: 'PDF_UPDATE_INCONSISTENT',
        details: { objectNumber: 11, problem: 'out-of-range' },
      }),
    );
  });
});
