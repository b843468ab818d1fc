import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, PDFName, type PDFRawStream, PDFDict, TextAlignment, decodePDFRawStream } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type PreparedTemplate, inspectPdf, prepareTemplate } from '../src/pdf/index.js';
import { SealflowError } from '../src/errors.js';
import { FIXTURES_DIR } from '../../../fixtures/paths.js';
import { hasTool } from './pdf-tools.js';

const FIXTURES = FIXTURES_DIR;
const template = new Uint8Array(readFileSync(join(FIXTURES, 'contract-8p-25f.pdf')));
const { documents } = JSON.parse(readFileSync(join(FIXTURES, 'contract-8p-25f.values.json'), 'utf8')) as {
  documents: Record<string, string>[];
};
const doc0 = documents[0]!;
const doc1 = documents[1]!;
const dir = mkdtempSync(join(tmpdir(), 'sealflow-render-'));

const poppler =
  hasTool('pdftotext', 'the pdftotext checks of rendered values') &&
  hasTool('pdffonts', 'the pdffonts check of the embedded font');
const qpdf = hasTool('qpdf', 'qpdf --check of rendered PDFs');

function save(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function pdftotext(path: string, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return execFileSync('pdftotext', [...range, path, '-'])
    .toString()
    .replace(/\s+/g, ' ');
}

function expectError(fn: () => unknown, code: string, message: RegExp, secret?: string): SealflowError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SealflowError);
    const e = error as SealflowError;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    if (secret !== undefined) expect(e.message).not.toContain(secret);
    return e;
  }
  throw new Error(`expected ${code}`);
}

let prepared: PreparedTemplate;
beforeAll(async () => {
  prepared = await prepareTemplate(template, {
    blanks: [{ name: 'witness', page: 7, rect: { x: 300, y: 120, width: 200, height: 20 }, fontSize: 12 }],
  });
});

describe('render on the contract fixture', () => {
  it('appends an incremental update: the template is an unchanged prefix and output stays small', () => {
    const out = prepared.render(doc0);
    expect(Buffer.from(out.subarray(0, template.length)).equals(Buffer.from(template))).toBe(true);
    const update = Buffer.from(out.subarray(template.length)).toString('latin1');
    expect(update).toMatch(/\/Prev 165683\b/); // the fixture's own startxref
    expect(out.length).toBeLessThan(template.length * 1.5);
  });

  it('every field reads back with pdf-lib', async () => {
    const out = prepared.render(doc0);
    const form = (await PDFDocument.load(out)).getForm();
    for (const [name, value] of Object.entries(doc0)) expect(form.getTextField(name).getText(), name).toBe(value);
  });

  it('is deterministic and renders from one template do not interfere', () => {
    const a1 = prepared.render(doc0);
    const b = prepared.render(doc1);
    const a2 = prepared.render(doc0);
    expect(Buffer.from(a2).equals(Buffer.from(a1))).toBe(true);
    expect(Buffer.from(b).equals(Buffer.from(a1))).toBe(false);
    const fields = Object.keys(doc0);
    expect(prepared.fields.map((f) => f.name)).toEqual([...fields, 'witness']);
  });

  it.skipIf(!poppler)('poppler extracts the Chinese values through the subset font ToUnicode map', () => {
    const path = save('doc0.pdf', prepared.render({ ...doc0, witness: '见证人：司马昇' }));
    const text = pdftotext(path);
    for (const name of ['borrowerName', 'borrowerAddress', 'loanAmountUpper', 'bankName', 'startDate']) {
      expect(text, name).toContain(doc0[name]!.replace(/\s+/g, ' '));
    }
    expect(pdftotext(path, 8)).toContain('见证人：司马昇');
    const fonts = execFileSync('pdffonts', [path]).toString();
    expect(fonts).toMatch(/[A-Z]{6}\+NotoSansSC-Regular\s+CID TrueType\s+Identity-H\s+yes yes yes/);
  });

  it.skipIf(!qpdf)('qpdf --check finds no errors', () => {
    const path = save('doc1.pdf', prepared.render({ ...doc1, witness: '见证人' }));
    const report = execFileSync('qpdf', ['--check', path]).toString();
    expect(report).toMatch(/No syntax or stream encoding errors/);
  });

  it.skipIf(!poppler)('renders the rare given-name characters 玥 堃 喆 昇 珺 璟 燊 镕 瑄 祎 彧', () => {
    const rare = '玥堃喆昇珺璟燊镕瑄祎彧';
    const path = save(
      'rare.pdf',
      prepared.render({ borrowerName: `欧阳${rare.slice(0, 6)}`, guarantorName: `诸葛${rare.slice(6)}` }),
    );
    const text = pdftotext(path);
    expect(text).toContain(`欧阳${rare.slice(0, 6)}`);
    expect(text).toContain(`诸葛${rare.slice(6)}`);
  });

  it('a blank drawn into page content is found by inspectPdf (Type0 font with ToUnicode)', async () => {
    const out = prepared.render({ witness: '见证人签字处' });
    const result = await inspectPdf(out, { keywords: ['见证人签字处'] });
    expect(result.keywordHits).toHaveLength(1);
    const hit = result.keywordHits[0]!;
    expect(hit.page).toBe(7);
    expect(hit.x).toBeGreaterThanOrEqual(300);
    expect(hit.y).toBeGreaterThanOrEqual(120);
    expect(hit.y + hit.height).toBeLessThanOrEqual(140.5);
    expect(hit.width).toBeCloseTo(6 * 12, 0); // six full-width characters at 12 pt
  });
});

describe('render errors', () => {
  it('VALUE_TOO_LONG names the field but not the value', () => {
    const value = '某某消费金融股份有限公司上海分公司第二营业部';
    expectError(() => prepared.render({ contractNo: value }), 'VALUE_TOO_LONG', /"contractNo".*allow shrinking/, value);
  });

  it('shrinks when allowed, and still refuses text that cannot fit at the minimum size', async () => {
    const value = '某某消费金融股份有限公司上海分公司';
    const out = prepared.render({ contractNo: value }, { shrinkToFit: ['contractNo'] });
    expect((await PDFDocument.load(out)).getForm().getTextField('contractNo').getText()).toBe(value);
    expectError(
      () => prepared.render({ contractNo: value.repeat(4) }, { shrinkToFit: true }),
      'VALUE_TOO_LONG',
      /even at 6 pt/,
      value,
    );
  });

  it('GLYPH_MISSING names the character and field, not the value', () => {
    const value = '张三\u{17000}丰';
    const e = expectError(
      () => prepared.render({ borrowerName: value }),
      'GLYPH_MISSING',
      /U\+17000 "\u{17000}" in field "borrowerName"/u,
      value,
    );
    expect(e.details).toEqual({ field: 'borrowerName', codePoint: 'U+17000' });
  });

  it('FIELD_UNKNOWN for a name the template does not have', () => {
    expectError(
      () => prepared.render({ borrowerNmae: 'x' }),
      'FIELD_UNKNOWN',
      /no text field or blank named "borrowerNmae".*borrowerName/,
    );
  });

  it('a blank on a page the template lacks is refused when preparing', async () => {
    await expect(
      prepareTemplate(template, { blanks: [{ name: 'x', page: 8, rect: { x: 0, y: 0, width: 10, height: 10 } }] }),
    ).rejects.toThrow(/page index 8, but the template has 8 pages/);
  });

  it('a page whose boxes or font resources have the wrong type is PDF_INVALID (damaged), not a pdf-lib error', async () => {
    /** A one-page PDF with a classic xref table; `pageExtra` goes into the page dictionary. */
    const onePage = (pageExtra: string) => {
      const objects = [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] ${pageExtra} >>`,
      ];
      let body = '%PDF-1.4\n';
      const offsets = objects.map((o, i) => {
        const at = body.length;
        body += `${i + 1} 0 obj\n${o}\nendobj\n`;
        return at;
      });
      const xref = body.length;
      body += `xref\n0 4\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
      body += `trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
      return new TextEncoder().encode(body);
    };
    const blanks = [{ name: 'x', page: 0, rect: { x: 10, y: 10, width: 50, height: 20 } }];
    await expect(prepareTemplate(onePage(''), { blanks })).resolves.toBeDefined();
    for (const extra of ['/CropBox (not a box)', '/Resources << /Font 5 >>']) {
      await expect(prepareTemplate(onePage(extra), { blanks }), extra).rejects.toMatchObject({
        code: 'PDF_INVALID',
        details: { reason: 'damaged' },
      });
    }
  });

  it('a blank not wholly inside its page is refused when preparing: its value would be invisible', async () => {
    const prepare = (rect: { x: number; y: number; width: number; height: number }) =>
      prepareTemplate(template, { blanks: [{ name: 'stamp', page: 7, rect }] });
    for (const rect of [
      { x: 300, y: 830, width: 200, height: 20 }, // runs off the top of the A4 page (841.89 pt)
      { x: -5, y: 100, width: 200, height: 20 },
      { x: 500, y: 100, width: 200, height: 20 },
      { x: 300, y: -900, width: 200, height: 20 },
    ]) {
      const error = await prepare(rect).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(rect)).toBeInstanceOf(SealflowError);
      expect((error as SealflowError).code).toBe('INVALID_INPUT');
      expect((error as SealflowError).message).toMatch(/Blank "stamp".*not inside the visible area of page index 7/);
    }
    await expect(prepare({ x: 0, y: 0, width: 595.28, height: 841.89 })).resolves.toBeDefined();
  });
});

describe('layout on a classic-xref template with aligned, multi-line, limited and comb fields', () => {
  let form: PreparedTemplate;
  let bytes: Uint8Array;
  beforeAll(async () => {
    const pdf = await PDFDocument.create();
    const page = pdf.addPage([400, 400]);
    const f = pdf.getForm();
    const add = (name: string, y: number, height: number, setup: (t: ReturnType<typeof f.createTextField>) => void) => {
      const t = f.createTextField(name);
      setup(t);
      t.addToPage(page, { x: 50, y, width: 200, height });
    };
    add('left', 350, 20, () => {});
    add('center', 320, 20, (t) => t.setAlignment(TextAlignment.Center));
    add('right', 290, 20, (t) => t.setAlignment(TextAlignment.Right));
    add('notes', 150, 120, (t) => t.enableMultiline());
    // pdf-lib derives the DA size from the box height (105 pt here); a real template states it.
    f.getTextField('notes').setFontSize(10);
    add('code', 100, 20, (t) => t.setMaxLength(6));
    add('comb', 60, 20, (t) => {
      t.setMaxLength(6);
      t.enableCombing();
    });
    bytes = await pdf.save({ useObjectStreams: false });
    form = await prepareTemplate(bytes);
  });

  async function appearanceOf(out: Uint8Array, name: string): Promise<string> {
    const doc = await PDFDocument.load(out);
    const widget = doc.getForm().getTextField(name).acroField.getWidgets()[0]!;
    const ap = widget.dict.lookup(PDFName.of('AP'), PDFDict);
    const stream = doc.context.lookup(ap.get(PDFName.of('N'))) as PDFRawStream;
    return new TextDecoder('latin1').decode(decodePDFRawStream(stream).decode());
  }

  const firstX = (ops: string) => Number(/1 0 0 1 ([\d.]+) [\d.]+ Tm/.exec(ops)![1]);

  it('writes a classic xref section after a classic template', () => {
    const out = form.render({ left: 'abc' });
    const update = Buffer.from(out.subarray(bytes.length)).toString('latin1');
    expect(update).toMatch(/\nxref\n/);
    expect(update).toMatch(/trailer\n<< \/Size \d+ \/Root/);
  });

  it.skipIf(!qpdf)('qpdf --check finds no errors in the classic-xref output', () => {
    const out = form.render({ left: 'abc' });
    expect(execFileSync('qpdf', ['--check', save('classic.pdf', out)]).toString()).toMatch(/No syntax or stream/);
  });

  it('aligns left, center and right from /Q', async () => {
    const out = form.render({ left: '合同', center: '合同', right: '合同' });
    const [l, c, r] = await Promise.all(
      ['left', 'center', 'right'].map(async (n) => firstX(await appearanceOf(out, n))),
    );
    expect(l).toBeLessThan(c!);
    expect(c).toBeLessThan(r!);
    expect(c! - l!).toBeCloseTo(r! - c!, 1);
  });

  const cjk = '借款人应当按照本合同约定的期限和方式按时足额偿还借款本金及利息，不得挪用借款。';
  const latin = 'the borrower shall repay principal and interest in full according to the schedule agreed herein';

  it('wraps CJK by character and Latin by word in multi-line fields', async () => {
    const out = form.render({ notes: `${cjk}\n${latin}` });
    const lines = (await appearanceOf(out, 'notes')).match(/Tm <[0-9a-f]+> Tj/g)!;
    expect(lines.length).toBeGreaterThan(3);
  });

  it.skipIf(!poppler)('pdftotext reads wrapped CJK whole and Latin broken only between words', () => {
    const out = form.render({ notes: `${cjk}\n${latin}` });
    const text = execFileSync('pdftotext', ['-layout', save('notes.pdf', out), '-']).toString();
    const latinLines = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[a-z ]+$/.test(l));
    expect(latinLines.length).toBeGreaterThan(1);
    const words = new Set(latin.split(' '));
    for (const line of latinLines) for (const word of line.split(/\s+/)) expect(words.has(word), word).toBe(true);
    expect(text.replace(/\s+/g, '')).toContain(cjk);
  });

  it('refuses more characters than /MaxLen and spreads comb fields over their cells', async () => {
    expectError(() => form.render({ code: '1234567' }), 'VALUE_TOO_LONG', /"code".*at most 6 characters/, '1234567');
    const out = form.render({ comb: '123456' });
    const xs = [...(await appearanceOf(out, 'comb')).matchAll(/1 0 0 1 ([\d.]+) [\d.]+ Tm/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(6);
    const steps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const step of steps) expect(step).toBeCloseTo(200 / 6, 0); // cells are equal; glyphs are centred in them
  });

  it('multi-line text that overflows the box is too long unless shrinking is allowed', () => {
    const long = '借'.repeat(400);
    expectError(() => form.render({ notes: long }), 'VALUE_TOO_LONG', /"notes"/);
    expect(() => form.render({ notes: long }, { shrinkToFit: true, minFontSize: 3 })).not.toThrow();
  });
});
