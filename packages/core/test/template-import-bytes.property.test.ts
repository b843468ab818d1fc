/**
 * Template import of arbitrary bytes: `importTemplate` and `inspectPdf` given random bytes, PDF-looking token soup,
 * a real template cut short, with garbage after `%%EOF`, with a stretch overwritten by bytes of another length (so
 * the cross-reference offsets no longer hold), or a value that is not bytes at all. Each answer is an import or a
 * typed error within its bound, and a refused import writes nothing. The real template still imports afterwards.
 */
import fc from 'fast-check';
import { PDFDocument } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { answerOrTypedError, countInputs, propertyRuns } from '../../../reliability/property.js';
import { inspectPdf } from '../src/index.js';
import { compactContractPdf, pdfBytes } from './bad-input-fixtures.js';
import { editor, expectError, loanDefinition, setupTemplates } from './template-fixtures.js';

const TOKENS = [
  'obj',
  'endobj',
  'stream',
  'endstream',
  'xref',
  'trailer',
  'startxref',
  '<<',
  '>>',
  '[',
  ']',
  '/Type',
  '/Pages',
  '/Page',
  '/Kids',
  '/Count',
  '/AcroForm',
  '/Fields',
  '/Root',
  '/Size',
  '/Encrypt',
  '/ObjStm',
  '/Length',
  '/Filter',
  '/FlateDecode',
  'R',
  '0',
  '1',
  '2',
  '99999999',
  '-1',
  '%%EOF',
  '\n',
  ' ',
  '(',
  ')',
  'null',
  'true',
];

function bytesArbitrary(pdf: Uint8Array) {
  const soup = fc
    .array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })), { maxLength: 120 })
    .map((parts) => pdfBytes(`%PDF-1.7\n${parts.join(' ')}`));
  const cut = fc.nat({ max: pdf.length - 1 }).map((n) => pdf.subarray(0, n));
  const trailing = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((tail) => Buffer.concat([pdf, tail]));
  const spliced = fc
    .tuple(fc.nat({ max: pdf.length - 1 }), fc.nat({ max: 200 }), fc.uint8Array({ maxLength: 200 }))
    .map(([at, remove, insert]) => Buffer.concat([pdf.subarray(0, at), insert, pdf.subarray(at + remove)]));
  return fc.oneof(
    fc.uint8Array({ maxLength: 2_000 }),
    soup,
    cut,
    trailing,
    spliced,
    fc.constantFrom<unknown>('%PDF-1.7', new ArrayBuffer(8), [37, 80, 68, 70], null, 42),
  );
}

describe('template import: any bytes', () => {
  let pdf: Uint8Array;
  let t: ReturnType<typeof setupTemplates>;
  beforeAll(async () => {
    pdf = await compactContractPdf();
    t = setupTemplates();
  });

  it('inspectPdf and importTemplate answer with a result or a typed error; a refusal writes nothing (property)', async ({
    task,
  }) => {
    const runs = propertyRuns();
    let code = 0;
    await fc.assert(
      fc.asyncProperty(bytesArbitrary(pdf), async (bytes) => {
        await answerOrTypedError('inspectPdf', () => inspectPdf(bytes as Uint8Array));
        const before = await t.footprint();
        const imported = await answerOrTypedError('importTemplate', () =>
          t.service.importTemplate(editor, {
            code: `BYTES_${++code}`,
            name: '个人借款合同',
            documentType: 'LOAN_CONTRACT',
            pdf: bytes as Uint8Array,
            definition: loanDefinition(),
          }),
        );
        if (imported === undefined) expect(await t.footprint()).toEqual(before);
      }),
      { numRuns: runs },
    );
    countInputs(task, runs);
  });

  it('refuses text, an ArrayBuffer or a stream of text as INVALID_INPUT, where a RangeError used to escape', async () => {
    const textStream = new ReadableStream({
      start(controller) {
        controller.enqueue('%PDF-1.7');
        controller.close();
      },
    });
    for (const source of ['%PDF-1.7', new ArrayBuffer(8), null, textStream]) {
      await expectError(inspectPdf(source as never), 'INVALID_INPUT', /must be given as bytes/);
    }
  });

  it('reads a file whose classic cross-reference table is longer than 8 KB, which used to be refused as truncated', async () => {
    const doc = await PDFDocument.create();
    for (let i = 0; i < 600; i++) doc.addPage([200, 200]);
    const bytes = await doc.save({ useObjectStreams: false });
    const inspection = await inspectPdf(bytes);
    expect(inspection.pageCount).toBe(600);
  });

  it('still imports the template itself', async () => {
    const draft = await t.service.importTemplate(editor, {
      code: 'BYTES_REAL',
      name: '个人借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf,
      definition: loanDefinition(),
    });
    expect(draft.status).toBe('DRAFT');
  });
});
