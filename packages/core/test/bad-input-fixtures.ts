import fc from 'fast-check';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { propertyRuns } from '../../../reliability/property.js';
import { CONTRACT_FIELDS } from './template-fixtures.js';

/**
 * The contract template's structure at a fraction of its parsing cost: the same 8 pages and the same 25 named text
 * fields, without the images and fonts. Saved without object streams so every object is plain text a mutation can
 * reach (a page tree entry, a /Kids, a field's /T).
 */
export async function compactContractPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const pages = Array.from({ length: 8 }, () => doc.addPage([480, 420]));
  const form = doc.getForm();
  CONTRACT_FIELDS.forEach((name, i) => {
    const page = pages[i < 20 ? Math.floor(i / 5) : 7]!;
    form.createTextField(name).addToPage(page, { x: 20, y: 20 + (i % 5) * 60, width: 200, height: 24, font });
  });
  pages[7]!.drawText('Signature', { x: 20, y: 380, size: 10, font });
  return doc.save({ useObjectStreams: false });
}

const latin1 = new TextDecoder('latin1');
export const pdfText = (bytes: Uint8Array): string => latin1.decode(bytes);
export const pdfBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'));

/** Runs per public entry point in the property tests; the reliability run raises it to 10,000. */
export const PROPERTY_RUNS = { numRuns: propertyRuns(2_000) };
/** Keys that reach `Object.prototype` when a lookup is not limited to own properties. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

/**
 * Anything a caller might pass, including what JSON cannot hold (BigInt, Date, Map) and objects without a prototype;
 * `more` widens it where an entry point must also survive typed arrays, boxed values and the like.
 */
export function anyValue(more: Parameters<typeof fc.anything>[0] = {}) {
  return fc.anything({
    key: fc.oneof(fc.string(), fc.constantFrom(...PROTOTYPE_KEYS)),
    maxDepth: 2,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    ...more,
  });
}
