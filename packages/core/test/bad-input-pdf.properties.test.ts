/**
 * Damaged template PDFs: `inspectPdf` (what `importTemplate` runs first) answers every mutation of a real template with
 * an inspection or a `PdfInvalidError` (PDF_INVALID) — never a TypeError from pdf-lib or a stack overflow.
 *
 * Mutations keep every object at its byte offset (same-length edits), so the cross-reference table stays valid and
 * pdf-lib gets past parsing to the structure: pointers retargeted to other objects (a /Kids naming its own /Pages
 * node, a /Parent pointing at itself), keys renamed away (/T, /Pages, /Kids, /Fields), and plain byte damage.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { PdfInvalidError, SealflowError, inspectPdf } from '../src/index.js';
import { compactContractPdf, pdfBytes, pdfText } from './bad-input-fixtures.js';
import { CONTRACT_FIELDS, expectError } from './template-fixtures.js';

type Mutation = (text: string) => string;

const KEYS = [
  '/Kids',
  '/Pages',
  '/Parent',
  '/T ',
  '/Fields',
  '/AcroForm',
  '/Type',
  '/Count',
  '/Rect',
  '/FT',
  '/Annots',
];

/** Point the k-th indirect reference at another object number of the same width. */
const retarget = fc.tuple(fc.nat(), fc.nat()).map(
  ([k, target]): Mutation =>
    (text) => {
      const refs = [...text.matchAll(/(\d+) 0 R/g)];
      if (refs.length === 0) return text;
      const ref = refs[k % refs.length]!;
      const width = ref[1]!.length;
      const replacement = String(1 + (target % 10 ** width))
        .padStart(width, ' ')
        .slice(-width);
      return text.slice(0, ref.index) + replacement + text.slice(ref.index! + width);
    },
);

/** Rename the k-th occurrence of a structural key, so the object loses it. */
const renameKey = fc.tuple(fc.constantFrom(...KEYS), fc.nat()).map(
  ([key, k]): Mutation =>
    (text) => {
      const at = [...text.matchAll(new RegExp(key.replace('/', '\\/'), 'g'))].map((m) => m.index!);
      if (at.length === 0) return text;
      const i = at[k % at.length]!;
      return `${text.slice(0, i)}/X${'x'.repeat(key.length - 2)}${text.slice(i + key.length)}`;
    },
);

/** Turn a page into a page tree node or back, at the k-th /Type entry. */
const swapType = fc.nat().map(
  (k): Mutation =>
    (text) => {
      const at = [...text.matchAll(/\/Type \/Pages?\b/g)];
      if (at.length === 0) return text;
      const m = at[k % at.length]!;
      const swapped = m[0] === '/Type /Pages' ? '/Type /Annot' : '/Type /Font';
      return (
        text.slice(0, m.index) + swapped.padEnd(m[0].length).slice(0, m[0].length) + text.slice(m.index! + m[0].length)
      );
    },
);

const byteDamage = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(
  ([at, byte]): Mutation =>
    (text) => {
      const i = at % text.length;
      return text.slice(0, i) + String.fromCharCode(byte) + text.slice(i + 1);
    },
);

const truncate = fc.nat().map(
  (at): Mutation =>
    (text) =>
      text.slice(0, at % text.length),
);

const mutations = fc.array(
  fc.oneof(
    { arbitrary: retarget, weight: 4 },
    { arbitrary: renameKey, weight: 3 },
    { arbitrary: swapType, weight: 2 },
    { arbitrary: byteDamage, weight: 2 },
    { arbitrary: truncate, weight: 1 },
  ),
  { minLength: 1, maxLength: 3 },
);

async function expectInspectionOrPdfInvalid(bytes: Uint8Array): Promise<void> {
  try {
    const inspection = await inspectPdf(bytes);
    expect(inspection.pageCount).toBeGreaterThan(0);
    for (const field of inspection.fields) expect(field.name).not.toBe('');
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(SealflowError);
    expect((error as SealflowError).code).toBe('PDF_INVALID');
  }
}

describe('damaged template PDFs are refused with PDF_INVALID', () => {
  let compact: string;
  beforeAll(async () => {
    compact = pdfText(await compactContractPdf());
  });

  it('mutations of the contract template (property)', async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async (applied) => {
        await expectInspectionOrPdfInvalid(pdfBytes(applied.reduce((text, mutate) => mutate(text), compact)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('the real template file, damaged (property, fewer runs: it is 20 times slower to parse)', async () => {
    const real = pdfText(new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(byteDamage, truncate, retarget), { minLength: 1, maxLength: 2 }),
        async (applied) => {
          await expectInspectionOrPdfInvalid(pdfBytes(applied.reduce((text, mutate) => mutate(text), real)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the damage reported as raw errors before, each with advice', async () => {
    const pagesRef = /\/Pages (\d+) 0 R/.exec(compact)!;
    const firstKid = /\/Kids \[ (\d+) 0 R/.exec(compact)!;
    const field = /\/T <FEFF/.exec(compact)!;
    const cases: [string, string, RegExp][] = [
      ['no page tree', compact.replace('/Pages', '/Xages'), /no page tree/],
      [
        'a page tree that contains itself',
        compact.slice(0, firstKid.index + 8) +
          pagesRef[1]!.padStart(firstKid[1]!.length, ' ') +
          compact.slice(firstKid.index + 8 + firstKid[1]!.length),
        /refers back/,
      ],
      ['a field without /T', `${compact.slice(0, field.index)}/X${compact.slice(field.index + 2)}`, /no name \(\/T\)/],
    ];
    for (const [_what, text, detail] of cases) {
      const error = await expectError(inspectPdf(pdfBytes(text)), 'PDF_INVALID');
      expect(error).toBeInstanceOf(PdfInvalidError);
      expect(error.details).toMatchObject({ reason: 'damaged' });
      expect(error.message).toMatch(detail);
      expect(error.message).toMatch(/export or print it to a new PDF/);
    }
    // The undamaged file still reads completely.
    expect((await inspectPdf(pdfBytes(compact))).fields.map((f) => f.name)).toEqual(CONTRACT_FIELDS);
  });
});
