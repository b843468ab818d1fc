import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { PdfInvalidError, inspectPdf } from '../src/pdf/index.js';
import { ValidationError } from '../src/errors.js';
import { CONTRACT_TEMPLATE_PDF, CONTRACT_VALUES_JSON } from '../../../fixtures/paths.js';
import { hasTool } from './pdf-tools.js';

const FIXTURE = CONTRACT_TEMPLATE_PDF;
const VALUES = CONTRACT_VALUES_JSON;
const template = new Uint8Array(readFileSync(FIXTURE));
const fixtureFields = JSON.parse(readFileSync(VALUES, 'utf8')).fields as {
  name: string;
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
}[];

const pdftotext = hasTool('pdftotext', "the comparison of keyword boxes with pdftotext's word boxes");
const qpdf = hasTool('qpdf', 'the check that a PDF encrypted by qpdf is refused');

async function expectPdfInvalid(bytes: Uint8Array, reason: string, message: RegExp): Promise<void> {
  const error = await inspectPdf(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PdfInvalidError);
  expect(error).toBeInstanceOf(ValidationError);
  const e = error as PdfInvalidError;
  expect(e.code).toBe('PDF_INVALID');
  expect(e.details).toEqual({ reason });
  expect(e.message).toMatch(message);
}

/** A hand-written one-page PDF with a classic xref table; `trailerExtra` lets a test add /Encrypt. */
function tinyPdf(trailerExtra = ''): Uint8Array {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>',
    '<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>',
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) body += `${String(o).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailerExtra}>>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(body);
}

describe('inspectPdf on the contract fixture', () => {
  it('reports hash, pages and every widget with its page and box', async () => {
    const result = await inspectPdf(template);
    expect(result.byteLength).toBe(template.byteLength);
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.pageCount).toBe(8);
    expect(result.pages[0]).toEqual({ index: 0, width: 595.28, height: 841.89, x: 0, y: 0 });
    expect(result.fields).toHaveLength(fixtureFields.length);
    for (const expected of fixtureFields) {
      const field = result.fields.find((f) => f.name === expected.name);
      expect(field, expected.name).toBeDefined();
      expect(field!.type).toBe('text');
      expect(field!.page).toBe(expected.page);
      // The fixture lists the rectangle the generator asked for; pdf-lib widens it by half the border width.
      expect(Math.abs(field!.rect.x - expected.x)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(field!.rect.y - expected.y)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(field!.rect.width - expected.width)).toBeLessThanOrEqual(1);
    }
  });

  it('accepts a ReadableStream and an async iterable, with the same hash as the bytes', async () => {
    const fromBytes = await inspectPdf(template);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < template.length; i += 10_000) controller.enqueue(template.subarray(i, i + 10_000));
        controller.close();
      },
    });
    async function* chunks() {
      for (let i = 0; i < template.length; i += 7_777) yield template.subarray(i, i + 7_777);
    }
    expect((await inspectPdf(stream)).sha256).toBe(fromBytes.sha256);
    expect((await inspectPdf(chunks())).sha256).toBe(fromBytes.sha256);
  });

  const headings = ['第一条', '借款金额与用途', '出借人（甲方）', '个人消费借款合同', 'Minim'];

  it('finds Chinese headings, each where it is printed', async () => {
    const result = await inspectPdf(template, { keywords: headings });
    const heading = result.keywordHits.find((h) => h.keyword === '第一条' && h.page === 0);
    expect(heading).toBeDefined();
    expect(result.keywordHits.filter((h) => h.keyword === '个人消费借款合同')).toHaveLength(8); // the running header
    expect(result.keywordHits.some((h) => h.keyword === '出借人（甲方）' && h.page === 0)).toBe(true);
    expect(result.keywordHits.some((h) => h.keyword === 'Minim' && h.page === 0)).toBe(true);
  });

  it.skipIf(!pdftotext)("places keyword boxes where poppler's pdftotext -bbox places the words", async () => {
    const result = await inspectPdf(template, { keywords: headings });
    // pdftotext -bbox gives word boxes with y measured from the top of the page.
    const bbox = execFileSync('pdftotext', ['-bbox', '-f', '1', '-l', '1', FIXTURE, '-']).toString();
    for (const keyword of ['第一条', '借款金额与用途', '个人消费借款合同']) {
      const m = new RegExp(`xMin="([\\d.]+)" yMin="([\\d.]+)" xMax="([\\d.]+)" yMax="([\\d.]+)">${keyword}`).exec(bbox);
      const hit = result.keywordHits.find((h) => h.keyword === keyword && h.page === 0);
      expect(m, `pdftotext prints "${keyword}" as one word on page 1`).not.toBeNull();
      expect(hit, `inspectPdf finds "${keyword}" on page 1`).toBeDefined();
      const [xMin, yMin, xMax, yMax] = m!.slice(1, 5).map(Number) as [number, number, number, number];
      expect(hit!.x).toBeCloseTo(xMin, 0);
      expect(hit!.x + hit!.width).toBeCloseTo(xMax, 0);
      expect(hit!.y).toBeCloseTo(841.89 - yMax, 0);
      expect(hit!.y + hit!.height).toBeCloseTo(841.89 - yMin, 0);
    }
  });

  it('finds text drawn with a standard-14 simple font (no ToUnicode, WinAnsi)', async () => {
    const doc = await PDFDocument.create();
    const page = doc.addPage([300, 300]);
    const helvetica = await doc.embedFont('Helvetica');
    page.drawText('Borrower signature', { x: 50, y: 100, size: 12, font: helvetica });
    const bytes = await doc.save();
    const result = await inspectPdf(bytes, { keywords: ['signature'] });
    expect(result.keywordHits).toHaveLength(1);
    const hit = result.keywordHits[0]!;
    // pdf-lib draws without kerning, so positions add up single-character widths.
    const width = (text: string) => [...text].reduce((sum, c) => sum + helvetica.widthOfTextAtSize(c, 12), 0);
    expect(hit.x).toBeCloseTo(50 + width('Borrower '), 1);
    expect(hit.width).toBeCloseTo(width('signature'), 1);
    expect(hit.y).toBeLessThan(100);
    expect(hit.y + hit.height).toBeGreaterThan(108);
  });
});

describe('inspectPdf rejects unusable files', () => {
  it('not a PDF', async () => {
    await expectPdfInvalid(
      new TextEncoder().encode('PK\u0003\u0004 a docx file'),
      'not-pdf',
      /%PDF- header, so it is not a PDF/,
    );
  });

  it('truncated: cut in half', async () => {
    await expectPdfInvalid(template.subarray(0, template.length >> 1), 'truncated', /truncated.*upload the file again/);
  });

  it('truncated: startxref points at garbage', async () => {
    const text = Buffer.from(template).toString('latin1');
    const at = text.lastIndexOf('startxref');
    const broken = Buffer.from(text.slice(0, at) + text.slice(at).replace(/\d+/, '1000'), 'latin1');
    await expectPdfInvalid(new Uint8Array(broken), 'truncated', /cross-reference/);
  });

  it('encrypted: hand-written /Encrypt trailer', async () => {
    await expectPdfInvalid(tinyPdf('/Encrypt 4 0 R /ID [<00><00>] '), 'encrypted', /encrypted.*qpdf --decrypt/);
    expect((await inspectPdf(tinyPdf())).pageCount).toBe(1);
  });

  it.skipIf(!qpdf)('encrypted: made by qpdf --encrypt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealflow-'));
    const out = join(dir, 'encrypted.pdf');
    execFileSync('qpdf', ['--encrypt', 'user', 'owner', '256', '--', FIXTURE, out]);
    await expectPdfInvalid(new Uint8Array(readFileSync(out)), 'encrypted', /encrypted/);
  });

  it('no pages', async () => {
    // pdf-lib adds a blank page on save unless told not to.
    const empty = await (await PDFDocument.create()).save({ addDefaultPage: false });
    await expectPdfInvalid(empty, 'no-pages', /no pages/);
  });
});
