/** Parsed templates are kept per process, bounded: the least recently used version is read and parsed again. */
import { describe, expect, it } from 'vitest';
import type { DocumentStore } from '../src/index.js';
import { setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

/** Counts reads of each file. */
function countingTemplateReads(inner: DocumentStore) {
  const reads = new Map<string, number>();
  const store: DocumentStore = {
    name: inner.name,
    put: (input) => inner.put(input),
    async get(fileId) {
      reads.set(fileId, (reads.get(fileId) ?? 0) + 1);
      return inner.get(fileId);
    },
    head: (fileId) => inner.head(fileId),
    delete: (fileId) => inner.delete(fileId),
  };
  return { store, reads };
}

/** Signs LOAN, CARD, LOAN, CREDIT_GRANT (two versions), LOAN, CARD in turn; answers the template reads per code. */
async function signInTurn(preparedTemplates?: number) {
  let counting: ReturnType<typeof countingTemplateReads> | undefined;
  const s = await setupSigning({
    ...(preparedTemplates === undefined ? {} : { preparedTemplates }),
    wrapDocuments: (inner) => {
      counting = countingTemplateReads(inner);
      return counting.store;
    },
  });
  const scenes = ['LOAN_CONTRACT', 'CARD_BINDING', 'LOAN_CONTRACT', 'CREDIT_GRANT', 'LOAN_CONTRACT', 'CARD_BINDING'];
  const readsBefore = new Map(counting!.reads);
  for (const [i, scene] of scenes.entries()) {
    await s.signing.sign(s.request({ scene, businessNo: `PT${i}` }));
    await s.drain();
  }
  const records = await s.signing.find();
  expect(records.map((r) => r.status)).toEqual(scenes.map(() => 'COMPLETED'));
  const readsOf = async (code: string) => {
    const fileId = (await s.templates.getVersion(s.versions[code]!))!.pdf.fileId;
    return (counting!.reads.get(fileId) ?? 0) - (readsBefore.get(fileId) ?? 0);
  };
  return { loan: await readsOf('LOAN_CONTRACT_V'), card: await readsOf('PAYMENT_AGREEMENT_V') };
}

describe('prepared templates', () => {
  it('by default each version is read once however the scenes alternate', async () => {
    expect(await signInTurn()).toEqual({ loan: 1, card: 1 });
  });

  it('past the bound the least recently used version is dropped and read again when next used', async () => {
    // Bound 3: the second LOAN makes CARD the oldest, so the two CREDIT_GRANT versions push out CARD, not LOAN.
    expect(await signInTurn(3)).toEqual({ loan: 1, card: 2 });
    // Bound 1: every change of version parses again.
    expect(await signInTurn(1)).toEqual({ loan: 3, card: 2 });
  });

  it('contracts rendered at the same time share one read of their template', async () => {
    let counting: ReturnType<typeof countingTemplateReads> | undefined;
    const s = await setupSigning({
      preparedTemplates: 1,
      wrapDocuments: (inner) => {
        counting = countingTemplateReads(inner);
        return counting.store;
      },
    });
    const fileId = (await s.templates.getVersion(s.versions.LOAN_CONTRACT_V!))!.pdf.fileId;
    const before = counting!.reads.get(fileId) ?? 0;
    await Promise.all(Array.from({ length: 8 }, (_, i) => s.signing.sign(s.request({ businessNo: `PC${i}` }))));
    await s.drain();
    expect((await s.signing.find()).map((r) => r.status)).toEqual(Array(8).fill('COMPLETED'));
    expect((counting!.reads.get(fileId) ?? 0) - before).toBe(1);
  });

  it('refuses a bound that is not a whole number of at least 1', async () => {
    for (const preparedTemplates of [0, -1, 1.5, Number.NaN]) {
      await expectError(setupSigning({ preparedTemplates }), 'INVALID_INPUT');
    }
  });
});
