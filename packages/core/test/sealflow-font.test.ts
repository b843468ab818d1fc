/**
 * A host-supplied font (`createSealflow({ font })`): checked when the SDK is created, and the one contract values
 * are drawn in. A Latin-only font proves the second: a Chinese value cannot be drawn with it, so the signing fails
 * with GLYPH_MISSING instead of completing with the bundled CJK font.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createSealflow, dateInChina, type SealflowOptions, type SignRequest, silentLogger } from '../src/index.js';
import { createMemorySigningVendor } from '../src/memory/index.js';
import { BORROWER, definitionWith, HASH_KEY, ORGANIZATIONS } from './signing-fixtures.js';
import { CONTRACT_PDF, editor } from './template-fixtures.js';

const LATIN_ONLY_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

function hasLatinOnlyFont(): boolean {
  if (existsSync(LATIN_ONLY_FONT)) return true;
  const reason = `${LATIN_ONLY_FONT} is missing, so the Latin-only font check cannot run: apt-get install -y fonts-dejavu-core.`;
  if (inCi) throw new Error(`${reason} CI must check this (.ci/run installs it).`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

function options(font: Uint8Array): SealflowOptions {
  return {
    vendors: { memory: createMemorySigningVendor() },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_V' } },
    logger: silentLogger,
    worker: { pollMs: 5 },
    font,
  };
}

async function signLoan(font: Uint8Array, businessNo: string) {
  const sealflow = await createSealflow(options(font));
  try {
    const draft = await sealflow.templates.importTemplate(editor, {
      code: 'LOAN_V',
      name: '个人借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: CONTRACT_PDF,
      definition: definitionWith(['platform']),
    });
    await sealflow.templates.submit(editor, draft.id);
    await sealflow.templates.approve({ id: 'amy', roles: ['template-approver'] }, draft.id);
    const startDate = dateInChina(new Date());
    const request: SignRequest = {
      businessNo,
      scene: 'LOAN_CONTRACT',
      borrower: BORROWER,
      values: { loan: { amount: '50000.00', startDate, termMonths: 12 }, credit: { limit: '100000.00' } },
      consent: {
        at: Date.now(),
        channel: 'app',
        ip: '203.0.113.7',
        device: 'iPhone',
        documentVersionsShown: [draft.id],
      },
      actor: { id: 'lending-system' },
    };
    const record = await sealflow.signing.sign(request);
    return await sealflow.signing.waitFor(record.id, { timeoutMs: 30_000 });
  } finally {
    await sealflow.close();
  }
}

describe('createSealflow({ font })', () => {
  it('refuses bytes that are not a TrueType font when the SDK is created, naming the option', async () => {
    await expect(createSealflow(options(new Uint8Array([1, 2, 3, 4])))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/TrueType/),
    });
    await expect(createSealflow(options('font.ttf' as unknown as Uint8Array))).rejects.toMatchObject({
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
