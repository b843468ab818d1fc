/**
 * A person's signature shows a mark: a name seal drawn from the signer's name (the default) or an image the host
 * supplies. Checked on the PDF objects (the widget's appearance stream), on the rendered page (red pixels where the
 * seal is) and with pdfsig/openssl (the signatures still verify). The name is drawn as outlines, so it is neither
 * extractable text nor part of any error.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSigningGateway, type SignerSpec } from '@sealflow/core';
import { decodePDFRawStream, PDFDict, PDFDocument, PDFName, PDFRawStream, type PDFRef } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { localSigner, type PersonAppearance, SealingError, sealPdf, verifyPdfSignatures } from '../src/index.js';
import { createSealImage, createTestSigningIdentity } from '../src/testing/index.js';
import { opensslVerify, pdfsig, requireTool, tempFile } from './helpers.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEST_BORROWER } from '../../../fixtures/signers.js';

const fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const signingTime = new Date('2026-03-02T08:30:00Z');
const NAME = TEST_BORROWER.name; // 欧阳娜娜
const proxy = createTestSigningIdentity({ commonName: '某某消费金融 代签', organization: '某某消费金融股份有限公司' });
const box = { page: 7, rect: { x: 340, y: 60, width: 100, height: 100 } };

beforeAll(() => {
  requireTool('pdfsig');
  requireTool('openssl');
});

/** The normal appearance of the signature widget named `fieldName`: its content (decoded) and its resources. */
async function widgetAppearance(pdf: Uint8Array, fieldName: string) {
  const doc = await PDFDocument.load(pdf, { updateMetadata: false });
  const field = doc.getForm().getField(fieldName);
  const widget = field.acroField.getWidgets()[0]!;
  const ap = widget.dict.lookup(PDFName.of('AP'), PDFDict);
  const normal = ap.lookup(PDFName.of('N'));
  if (!(normal instanceof PDFRawStream)) throw new Error('no appearance stream');
  const content = Buffer.from(decodePDFRawStream(normal).decode()).toString('latin1');
  const xobjects = normal.dict.lookup(PDFName.of('Resources'), PDFDict).lookupMaybe(PDFName.of('XObject'), PDFDict);
  const images = (xobjects?.keys() ?? []).map((k) => doc.context.lookup(xobjects!.get(k) as PDFRef));
  return { content, images, rect: widget.getRectangle(), pageIndex: 7 };
}

/** Share of clearly red pixels inside the rectangle on the page, rendered by poppler at 72 dpi (1 px = 1 pt). */
function redShare(pdf: Uint8Array, page: number, r: { x: number; y: number; width: number; height: number }): number {
  const file = tempFile('page.pdf', pdf);
  const size = spawnSync('pdfinfo', ['-f', String(page + 1), '-l', String(page + 1), file], { encoding: 'utf8' });
  const height = Number(/Page\s+\d+\s+size:\s+[\d.]+ x ([\d.]+)/.exec(size.stdout)?.[1]);
  const top = Math.round(height - r.y - r.height);
  const args = ['-r', '72', '-f', String(page + 1), '-l', String(page + 1), '-singlefile'];
  const crop = ['-x', String(Math.round(r.x)), '-y', String(top), '-W', String(r.width), '-H', String(r.height)];
  const ppm = spawnSync('pdftoppm', [...args, ...crop, file], { maxBuffer: 1 << 24 }).stdout as Buffer;
  // Binary PPM: "P6\n<w> <h>\n255\n" then RGB triples.
  const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(ppm.subarray(0, 32).toString('latin1'));
  if (!header) throw new Error('pdftoppm gave no image');
  const pixels = ppm.subarray(header[0].length);
  let red = 0;
  for (let i = 0; i + 2 < pixels.length; i += 3) {
    if (pixels[i]! > 150 && pixels[i + 1]! < 110 && pixels[i + 2]! < 110) red++;
  }
  return red / (pixels.length / 3);
}

function pdftotext(pdf: Uint8Array): string {
  return spawnSync('pdftotext', ['-enc', 'UTF-8', tempFile('doc.pdf', pdf), '-'], { encoding: 'utf8' }).stdout;
}

describe('sealPdf appearance.nameSeal', () => {
  it('draws a red square seal with the name as outlines; the signature verifies', async () => {
    const signed = sealPdf(fixture, {
      identity: proxy,
      field: { name: 'borrower', ...box },
      appearance: { nameSeal: { name: NAME } },
      signingTime,
    });
    const { content, images } = await widgetAppearance(signed, 'borrower');
    expect(images).toEqual([]);
    expect(content).toContain('0.843 0.122 0.122 rg');
    expect(content).toMatch(/ re S/); // the border
    expect(content.match(/\n f\n|\nf\n/g)?.length ?? 0).toBe(4); // 欧阳娜娜: four glyphs filled
    expect(content).toMatch(/ c\n/); // curves from the glyph outlines
    expect(redShare(signed, box.page, box.rect)).toBeGreaterThan(0.1);
    expect(redShare(fixture, box.page, box.rect)).toBe(0);
    expect(pdftotext(signed)).not.toContain(NAME);
    expect(pdftotext(signed)).not.toContain('娜');

    const report = pdfsig(signed);
    expect(report.signatures.map((s) => s.validation)).toEqual(['Signature is Valid.']);
    expect(opensslVerify(signed, 0).ok).toBe(true);
    expect(verifyPdfSignatures(signed).map((r) => r.valid)).toEqual([true]);
  });

  it('completes short names to a 2 × 2 seal (之印 after two characters, 印 after three); long names fill a larger grid', async () => {
    for (const [name, glyphs] of [
      ['王明', 4],
      ['张小明', 4],
      ['阿依古丽·买买提', 8],
    ] as const) {
      const signed = sealPdf(fixture, {
        identity: proxy,
        field: { name: 'p', ...box },
        appearance: { nameSeal: { name } },
        signingTime,
      });
      const { content } = await widgetAppearance(signed, 'p');
      expect(content.match(/\n f\n|\nf\n/g)?.length ?? 0, name).toBe(glyphs);
    }
  });

  it('a character the font lacks is refused without putting the name in the error', () => {
    const name = `王${String.fromCodePoint(0x10fffd)}`;
    let error: unknown;
    try {
      sealPdf(fixture, {
        identity: proxy,
        field: { name: 'p', ...box },
        appearance: { nameSeal: { name } },
        signingTime,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SealingError);
    expect((error as SealingError).code).toBe('INVALID_INPUT');
    expect((error as SealingError).message).toMatch(/character 2 of the signer's name/);
    expect((error as SealingError).message).not.toContain('王');
    expect(JSON.stringify(error)).not.toContain('王');
  });

  it('an image and a name seal together are refused', () => {
    expect(() =>
      sealPdf(fixture, {
        identity: proxy,
        field: { name: 'p', ...box },
        appearance: { nameSeal: { name: NAME }, image: createSealImage({ size: 64 }) },
        signingTime,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('localSigner: the borrower’s signature has a visible mark', () => {
  const borrower: SignerSpec = {
    ...TEST_BORROWER,
    placements: [{ documentKey: 'contract', page: box.page, x: box.rect.x, y: box.rect.y, width: 100, height: 100 }],
  };

  async function signBorrower(personAppearance?: PersonAppearance | ((s: SignerSpec) => PersonAppearance)) {
    const asked: SignerSpec[] = [];
    const gateway = createSigningGateway(
      localSigner({
        seals: {},
        personIdentity: proxy,
        signingTime: () => signingTime,
        ...(personAppearance === undefined
          ? {}
          : {
              personAppearance:
                typeof personAppearance === 'function'
                  ? (s: SignerSpec) => {
                      asked.push(s);
                      return personAppearance(s);
                    }
                  : personAppearance,
            }),
      }),
    );
    const ctx = (idempotencyKey: string) => ({ idempotencyKey });
    const document = await gateway.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: fixture },
      ctx('u'),
    );
    const flow = await gateway.createFlow(
      { title: '借款合同', businessNo: 'LN1', documents: [document], signers: [borrower] },
      ctx('c'),
    );
    expect(flow.status).toBe('completed');
    const [signed] = await gateway.downloadSigned(flow.flowId, ctx('d'));
    if (!signed) throw new Error('no signed document');
    expect(pdfsig(signed.bytes).signatures.map((s) => s.validation)).toEqual(['Signature is Valid.']);
    expect(opensslVerify(signed.bytes, 0).ok).toBe(true);
    return { pdf: signed.bytes, appearance: await widgetAppearance(signed.bytes, 'sealflow_borrower_1'), asked };
  }

  it('by default a name seal drawn from SignerSpec.name', async () => {
    const { pdf, appearance } = await signBorrower();
    expect(appearance.content).toContain('0.843 0.122 0.122 rg');
    expect(appearance.content.match(/\n f\n|\nf\n/g)?.length ?? 0).toBe(4);
    expect(redShare(pdf, box.page, box.rect)).toBeGreaterThan(0.1);
  });

  it('the host’s image, e.g. the handwritten signature the app captured, chosen per signer', async () => {
    const handwritten = createSealImage({ size: 80, color: [0x10, 0x10, 0x80] });
    const { appearance, asked } = await signBorrower(() => ({ image: handwritten }));
    expect(asked.map((s) => s.role)).toEqual(['borrower']);
    expect(appearance.content).toContain('/Seal Do');
    expect(appearance.content).not.toContain(' rg');
    expect(appearance.images).toHaveLength(1);
    expect(appearance.images[0]).toBeInstanceOf(PDFRawStream);
    expect((appearance.images[0] as PDFRawStream).dict.get(PDFName.of('Subtype'))).toBe(PDFName.of('Image'));
  });

  it("'none' leaves the box empty and the signature valid", async () => {
    const { pdf, appearance } = await signBorrower('none');
    expect(appearance.content.trim()).toBe('');
    expect(redShare(pdf, box.page, box.rect)).toBe(0);
  });

  it('an appearance that is none of the three is refused before anything is sealed', async () => {
    await expect(signBorrower({ image: 'not bytes' } as unknown as PersonAppearance)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
