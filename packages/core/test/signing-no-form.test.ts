/**
 * Signing end to end on a template without a form (LibreOffice's export): the values are placed at coordinates, and
 * the contract that completes must show them. A signature verifies whatever the page shows, so the signing flow's
 * success alone proves nothing about the values: the rendered PDF is read back here, and the signed one must be it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectPdf } from '../src/index.js';
import { BORROWER, setupSigning } from './signing-fixtures.js';
import { hasTool, pdfText } from './pdf-tools.js';
import { editor, legalLee, riskRay } from './template-fixtures.js';

const TEMPLATE = new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures/libreoffice-no-form.pdf')));

const labels = ['借款人：', '借款金额：'];
const amount = '人民币伍万元整';
const poppler = hasTool('pdftotext', 'the pdftotext check of a contract signed on a template without a form');

describe('signing on a template without a form', () => {
  let rendered: Uint8Array;

  it('completes, the rendered contract shows every value where it was placed, and it is what was signed', async () => {
    const s = await setupSigning();
    const { keywordHits } = await inspectPdf(TEMPLATE, { keywords: labels });
    const nextTo = (label: string) => {
      const hit = keywordHits.find((h) => h.keyword === label)!;
      return { page: hit.page, rect: { x: hit.x + hit.width + 6, y: hit.y - 3, width: 320, height: 16 } };
    };
    const seal = (x: number) => ({ page: 1, rect: { x, y: 400, width: 120, height: 60 } });
    const draft = await s.templates.importTemplate(editor, {
      code: 'LOAN_CONTRACT_V',
      name: '借款合同（无表单）',
      documentType: 'LOAN_CONTRACT',
      pdf: TEMPLATE,
      definition: {
        variables: [
          {
            key: 'borrowerName',
            label: '借款人姓名',
            type: 'text',
            source: 'borrower.name',
            placement: nextTo(labels[0]!),
          },
          {
            key: 'loanAmount',
            label: '借款金额',
            type: 'amount',
            source: 'loan.amount',
            rule: { kind: 'amountInChineseCapitals' },
            placement: nextTo(labels[1]!),
          },
        ],
        parties: [
          { role: 'borrower', kind: 'person', order: 1, seal: seal(300) },
          { role: 'platform', kind: 'organization', order: 2, seal: seal(80) },
          { role: 'funder', kind: 'organization', order: 3, seal: seal(80 + 160) },
        ],
      },
    });
    await s.templates.submit(editor, draft.id);
    await s.templates.approve(legalLee, draft.id);
    await s.templates.approve(riskRay, draft.id);

    const started = await s.signing.sign(s.request({ funding: 'platform', shown: [draft.id] }));
    await s.drain();
    const done = (await s.signing.get(started.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.templates.map((t) => t.versionId)).toEqual([draft.id]);

    rendered = (await s.documents.get(done.rendered[0]!.fileId)).bytes;
    const found = await inspectPdf(rendered, { keywords: [BORROWER.name, amount, ...labels] });
    for (const [value, label] of [
      [BORROWER.name, labels[0]!],
      [amount, labels[1]!],
    ] as const) {
      const at = found.keywordHits.find((h) => h.keyword === value);
      const printed = found.keywordHits.find((h) => h.keyword === label)!;
      expect(at, value === BORROWER.name ? 'borrower name' : 'amount').toBeDefined();
      expect(at!.page).toBe(printed.page);
      expect(at!.x).toBeGreaterThan(printed.x + printed.width);
    }
    // The memory vendor's "signature" is appended text; what matters is that the signed file is the rendered one.
    const [signed] = await s.signing.download(done.id);
    expect(Buffer.from(signed!.bytes.subarray(0, rendered.length)).equals(Buffer.from(rendered))).toBe(true);
  });

  it.skipIf(!poppler)('pdftotext reads every value of the rendered contract, and poppler does not complain', () => {
    expect(rendered, 'the signing test above ran').toBeDefined();
    const path = join(mkdtempSync(join(tmpdir(), 'sealflow-signing-no-form-')), 'rendered.pdf');
    writeFileSync(path, rendered);
    const { text, complaints } = pdfText(path);
    expect(complaints).toBe('');
    expect(text).toContain(BORROWER.name);
    expect(text).toContain(amount);
  });
});
