import { readFileSync } from 'node:fs';
import { SealflowError } from '@sealflow/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SealingError, type SigningIdentity, sealPdf, verifyPdfSignatures } from '../src/index.js';
import { createTestSigningIdentity } from '../src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';

const signingTime = new Date('2025-11-10T08:30:00Z');
let identity: SigningIdentity;
let fixture: Uint8Array;

beforeAll(() => {
  identity = createTestSigningIdentity({ commonName: 'Bad input', organization: 'Example Co.' });
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
});

/** The error thrown by `run`, which must throw. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('unreadable PDFs are refused with SealingError codes, not the reader’s internal error', () => {
  const field = { page: 0, rect: { x: 10, y: 10, width: 100, height: 50 } };

  it('no startxref → PDF_MALFORMED, with a message that says what to do', () => {
    const bytes = new TextEncoder().encode('%PDF-1.7\nnot really a PDF\n');
    for (const run of [() => sealPdf(bytes, { identity, field, signingTime }), () => verifyPdfSignatures(bytes)]) {
      const error = thrown(run);
      expect(error).toBeInstanceOf(SealingError);
      expect(error).toBeInstanceOf(SealflowError);
      expect((error as SealingError).code).toBe('PDF_MALFORMED');
      expect((error as SealingError).message).toMatch(/Re-save it with a PDF tool/);
    }
  });

  it('a /Prev chain that loops → PDF_MALFORMED', () => {
    // Point the newest section's /Prev at itself: a reader that followed it blindly would never stop.
    const looped = `${Buffer.from(fixture).toString('latin1').trimEnd()}\n`;
    const tail = `xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Root 1 0 R /Prev ${looped.length} >>\nstartxref\n${looped.length}\n%%EOF\n`;
    const bytes = new Uint8Array(Buffer.from(looped + tail, 'latin1'));
    const error = thrown(() => verifyPdfSignatures(bytes));
    expect((error as SealingError).code).toBe('PDF_MALFORMED');
  });

  it('an encrypted PDF → PDF_UNSUPPORTED', () => {
    const text = Buffer.from(fixture).toString('latin1').trimEnd();
    const prev = Number(/startxref\s+(\d+)\s+%%EOF$/.exec(text)![1]);
    const at = text.length + 1;
    const tail = `xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Root 1 0 R /Encrypt 2 0 R /Prev ${prev} >>\nstartxref\n${at}\n%%EOF\n`;
    const bytes = new Uint8Array(Buffer.from(`${text}\n${tail}`, 'latin1'));
    const error = thrown(() => sealPdf(bytes, { identity, field, signingTime }));
    expect(error).toBeInstanceOf(SealingError);
    expect((error as SealingError).code).toBe('PDF_UNSUPPORTED');
  });
});
