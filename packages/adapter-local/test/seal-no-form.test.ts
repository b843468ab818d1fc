/**
 * A contract rendered on a template without a form (LibreOffice's export, the committed core fixture) and then
 * sealed: the signature must verify AND the values must still be readable, because a valid signature over a PDF
 * whose values are invisible proves nothing.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectPdf, prepareTemplate } from '@sealflow/core';
import { describe, expect, it } from 'vitest';
import { loadSigningIdentity, sealPdf, verifyPdfSignatures } from '../src/index.js';
import { createSealImage, createTestIdentity } from '../src/testing/index.js';
import { pdfsig, requireTool, tempFile } from './helpers.js';

const TEMPLATE = join(import.meta.dirname, '../../core/test/fixtures/libreoffice-no-form.pdf');
const VALUES = { borrowerName: '欧阳玥堃', loanAmount: '人民币伍万元整（¥50,000.00）', signedOn: '2026年11月30日' };
const LABELS = { borrowerName: '借款人：', loanAmount: '借款金额：', signedOn: '签署日期：' };

describe('sealing a contract rendered on a PDF without a form', () => {
  it('pdfsig finds a valid signature over the whole file and pdftotext still finds every value', async () => {
    requireTool('pdfsig');
    const template = new Uint8Array(readFileSync(TEMPLATE));
    const { keywordHits } = await inspectPdf(template, { keywords: Object.values(LABELS) });
    const blanks = Object.entries(LABELS).map(([name, label]) => {
      const hit = keywordHits.find((h) => h.keyword === label)!;
      return { name, page: hit.page, rect: { x: hit.x + hit.width + 6, y: hit.y - 3, width: 320, height: 16 } };
    });
    const rendered = (await prepareTemplate(template, { blanks })).render(VALUES);
    const b = createTestIdentity({ commonName: '借款人签章', organization: '某某消费金融股份有限公司' });
    const sealed = sealPdf(rendered, {
      identity: loadSigningIdentity({ pkcs12: b.pkcs12, password: b.password }),
      field: { name: 'borrowerSeal', page: 1, rect: { x: 300, y: 500, width: 120, height: 120 } },
      appearance: { image: createSealImage({ size: 120 }) },
      signingTime: new Date('2026-11-30T06:00:00Z'),
    });

    const report = pdfsig(sealed);
    expect(report.signatures, report.raw).toHaveLength(1);
    expect(report.signatures[0]!.validation, report.raw).toBe('Signature is Valid.');
    expect(report.signatures[0]!.totalDocumentSigned, report.raw).toBe(true);
    expect(verifyPdfSignatures(sealed)[0]!.valid).toBe(true);

    const text = spawnSync('pdftotext', [tempFile('sealed.pdf', sealed), '-'], { encoding: 'utf8' });
    expect(text.stderr.trim()).toBe('');
    const flat = text.stdout.replace(/\s+/g, '');
    for (const [name, value] of Object.entries(VALUES)) expect(flat, name).toContain(value);
  });
});
