/**
 * A host-supplied font (`createSealflow({ font })`): checked when the SDK is created, and the one contract values
 * are drawn in. A Latin-only font proves the second: a Chinese value cannot be drawn with it, so the signing fails
 * with GLYPH_MISSING instead of completing with the bundled CJK font.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createSealflow } from '../src/index.js';
import { approvedLoanTemplate, loan, minimal } from './sealflow-fixtures.js';

const LATIN_ONLY_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

function hasLatinOnlyFont(): boolean {
  if (existsSync(LATIN_ONLY_FONT)) return true;
  const reason = `${LATIN_ONLY_FONT} is missing, so the Latin-only font check cannot run: apt-get install -y fonts-dejavu-core.`;
  if (inCi) throw new Error(`${reason} CI must check this (.ci/run installs it).`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

async function signLoan(font: Uint8Array, businessNo: string) {
  const sealflow = await createSealflow(minimal({ font }));
  try {
    const record = await sealflow.signing.sign(loan(businessNo, await approvedLoanTemplate(sealflow)));
    return await sealflow.signing.waitFor(record.id, { timeoutMs: 30_000 });
  } finally {
    await sealflow.close();
  }
}

describe('createSealflow({ font })', () => {
  it('refuses bytes that are not a TrueType font when the SDK is created, naming the option', async () => {
    await expect(createSealflow(minimal({ font: new Uint8Array([1, 2, 3, 4]) }))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/TrueType/),
    });
    await expect(createSealflow(minimal({ font: 'font.ttf' as unknown as Uint8Array }))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/font/),
    });
  });

  it('draws contract values in the host font: the bundled font passed as bytes signs', async () => {
    const bundled = createRequire(import.meta.url).resolve('@sealflow/font-noto-sans-sc/NotoSansSC-Regular.ttf');
    const done = await signLoan(new Uint8Array(readFileSync(bundled)), 'LN-FONT-1');
    expect(done).toMatchObject({ status: 'COMPLETED', failure: null });
  });

  it.runIf(hasLatinOnlyFont())(
    'with a Latin-only font a Chinese value fails the signing with GLYPH_MISSING',
    async () => {
      const done = await signLoan(new Uint8Array(readFileSync(LATIN_ONLY_FONT)), 'LN-FONT-2');
      expect(done.status).toBe('FAILED');
      expect(done.failure).toMatchObject({ code: 'GLYPH_MISSING' });
      expect(JSON.stringify(done.failure)).toContain('createSealflow({ font })');
    },
  );
});
