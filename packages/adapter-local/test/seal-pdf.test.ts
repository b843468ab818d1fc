import { readFileSync } from 'node:fs';
import { PDFDocument, PDFString, StandardFonts } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSigningIdentity, type SigningIdentity, sealPdf, verifyPdfSignatures } from '../src/index.js';
import { createSealImage, createTestIdentity } from '../src/testing/index.js';
import { opensslVerify, openssl, pdfsig, requireTool, tempFile } from './helpers.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';

const FIXTURE = CONTRACT_TEMPLATE_PDF;
const COMPANY = '某某消费金融股份有限公司';
const signingTime = new Date('2025-11-10T08:30:00Z');

let fixture: Uint8Array;
let borrower: SigningIdentity; // RSA, Chinese DN, our own PKCS#12
let platform: SigningIdentity; // EC P-256, Chinese DN, PEM
let funder: SigningIdentity; // RSA, Chinese DN, PKCS#12 written by `openssl pkcs12 -export -legacy`
let seal: Uint8Array;

/** Every external verifier agrees that every signature is valid, and the last one covers the whole file. */
function expectAllValid(pdf: Uint8Array, count: number): void {
  const report = pdfsig(pdf);
  expect(report.signatures, report.raw).toHaveLength(count);
  report.signatures.forEach((s, i) => {
    expect(s.validation, report.raw).toBe('Signature is Valid.');
    expect(s.totalDocumentSigned, report.raw).toBe(i === count - 1);
    expect(s.subFilter).toBe('ETSI.CAdES.detached');
    const o = opensslVerify(pdf, i);
    expect(o.ok, o.output).toBe(true);
  });
  const ours = verifyPdfSignatures(pdf);
  expect(ours).toHaveLength(count);
  ours.forEach((r, i) => {
    expect(r.problems).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.coversWholeDocument).toBe(i === count - 1);
  });
}

function expectAppendOnly(before: Uint8Array, after: Uint8Array): void {
  expect(after.length).toBeGreaterThan(before.length);
  expect(Buffer.from(after.subarray(0, before.length)).equals(Buffer.from(before))).toBe(true);
}

beforeAll(() => {
  requireTool('pdfsig');
  requireTool('openssl');
  fixture = readFileSync(FIXTURE);
  const b = createTestIdentity({ commonName: 'Sandbox Signer', organization: COMPANY, password: '借款人-pw' });
  borrower = loadSigningIdentity({ pkcs12: b.pkcs12, password: b.password });
  const p = createTestIdentity({ commonName: '平台签章', organization: '某某科技有限公司', keyType: 'ec' });
  platform = loadSigningIdentity({ certificatePem: p.certificatePem, privateKeyPem: p.privateKeyPem });
  const f = createTestIdentity({ commonName: '资金方', organization: '某某银行股份有限公司' });
  const legacy = legacyPkcs12(f.certificatePem, f.privateKeyPem, 'funder');
  funder = loadSigningIdentity({ pkcs12: legacy, password: 'funder' });
  seal = createSealImage({ size: 200 });
});

function legacyPkcs12(certPem: string, keyPem: string, password: string, legacy = true): Uint8Array {
  const cert = tempFile('cert.pem', certPem);
  const key = tempFile('key.pem', keyPem);
  const out = tempFile('out.p12', '');
  openssl([
    'pkcs12',
    '-export',
    ...(legacy ? ['-legacy'] : []),
    '-in',
    cert,
    '-inkey',
    key,
    '-out',
    out,
    '-passout',
    `pass:${password}`,
  ]);
  return readFileSync(out);
}

async function pdfLibDocument(options: { objectStreams: boolean; emptySignatureField?: string }): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < 2; i++) doc.addPage([595, 842]).drawText(`Loan contract page ${i + 1}`, { x: 50, y: 780, font });
  const form = doc.getForm();
  form.createTextField('borrowerName').addToPage(doc.getPage(0), { x: 50, y: 700, width: 200, height: 18 });
  if (options.emptySignatureField) {
    // pdf-lib has no API for signature fields; build one by hand (merged field + widget).
    const page = doc.getPage(1);
    const widget = doc.context.obj({
      Type: 'Annot',
      Subtype: 'Widget',
      FT: 'Sig',
      T: PDFString.of(options.emptySignatureField),
      Rect: [350, 80, 500, 180],
      F: 4,
      P: page.ref,
    });
    const ref = doc.context.register(widget);
    page.node.addAnnot(ref);
    form.acroForm.addField(ref);
  }
  return doc.save({ useObjectStreams: options.objectStreams });
}

describe('sealPdf', () => {
  it('seals the contract fixture (xref + object streams) with a Chinese-DN RSA PKCS#12 certificate', () => {
    expect(Buffer.from(fixture).includes('/Type /XRef') || Buffer.from(fixture).includes('/Type/XRef')).toBe(true);
    const out = sealPdf(fixture, {
      identity: borrower,
      field: { name: '借款人签章', page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
      appearance: { image: seal, text: 'Borrower' },
      reason: '借款人签署借款合同',
      location: '上海',
      contactInfo: 'legal@example.com',
      signingTime,
    });
    expectAppendOnly(fixture, out);
    expectAllValid(out, 1);
    const s = pdfsig(out).signatures[0]!;
    expect(s.dn).toBe(`CN=Sandbox Signer,O=${COMPANY},C=CN`);
    expect(s.fieldName).toBe('借款人签章');
    const ours = verifyPdfSignatures(out)[0]!;
    expect(ours.signer).toBe(`CN=Sandbox Signer,O=${COMPANY},C=CN`);
    expect(ours.signingTime).toBe("D:20251110083000+00'00'");
  });

  it('seals a pdf-lib document with a classic xref table using an EC P-256 PEM identity', async () => {
    const pdf = await pdfLibDocument({ objectStreams: false });
    const out = sealPdf(pdf, {
      identity: platform,
      field: { page: 1, rect: { x: 300, y: 80, width: 120, height: 120 } },
      signingTime,
    });
    expectAppendOnly(pdf, out);
    expectAllValid(out, 1);
    expect(pdfsig(out).signatures[0]!.commonName).toBe('平台签章');
    expect(Buffer.from(out.subarray(pdf.length)).toString('latin1')).toMatch(/\nxref\n/); // classic after classic
  });

  it('seals a pdf-lib document with object streams, and writes an xref stream after an xref stream', async () => {
    const pdf = await pdfLibDocument({ objectStreams: true });
    const out = sealPdf(pdf, {
      identity: borrower,
      field: { page: 0, rect: { x: 0, y: 0, width: 0, height: 0 } },
      signingTime,
    });
    expectAllValid(out, 1);
    expect(Buffer.from(out.subarray(pdf.length)).toString('latin1')).toMatch(/\/Type \/XRef|\/Type\/XRef/);
  });

  it('adds borrower, platform and funder signatures as three updates; all stay valid', () => {
    const one = sealPdf(fixture, {
      identity: borrower,
      field: { name: 'borrower', page: 7, rect: { x: 60, y: 90, width: 130, height: 130 } },
      appearance: { image: seal },
      signingTime,
    });
    const two = sealPdf(one, {
      identity: platform,
      field: { name: 'platform', page: 7, rect: { x: 230, y: 90, width: 130, height: 130 } },
      appearance: { image: seal },
      signingTime,
    });
    expectAllValid(two, 2);
    const three = sealPdf(two, {
      identity: funder,
      field: { name: 'funder', page: 7, rect: { x: 400, y: 90, width: 130, height: 130 } },
      appearance: { image: seal, text: 'Funder' },
      signingTime,
    });
    expectAppendOnly(two, three);
    expectAllValid(three, 3);
    expect(pdfsig(three).signatures.map((s) => s.fieldName)).toEqual(['borrower', 'platform', 'funder']);
  });

  it('seals a file whose latest revision is a classic-table update over an xref-stream original', () => {
    // The shape core's renderer writes: original with xref/object streams + appended classic-table update.
    const text = Buffer.from(fixture).toString('latin1');
    const startxref = Number(/startxref\s+(\d+)\s+%%EOF\s*$/.exec(text)![1]);
    const xrefDict = text.slice(startxref, text.indexOf('stream', startxref));
    const size = Number(/\/Size (\d+)/.exec(xrefDict)![1]);
    const root = /\/Root (\d+ \d+ R)/.exec(xrefDict)![1];
    const infoOffset = fixture.length + 1;
    const body = `\n${size} 0 obj\n<< /Producer (sealflow renderer) /Title <FEFF501F6B3E540867F6> >>\nendobj\n`;
    const xrefOffset = fixture.length + body.length;
    const update =
      body +
      `xref\n0 1\n0000000000 65535 f\r\n${size} 1\n${String(infoOffset).padStart(10, '0')} 00000 n\r\n` +
      `trailer\n<< /Size ${size + 1} /Root ${root} /Info ${size} 0 R /Prev ${startxref} >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
    const updated = Buffer.concat([fixture, Buffer.from(update, 'latin1')]);
    const out = sealPdf(updated, {
      identity: borrower,
      field: { page: 0, rect: { x: 400, y: 40, width: 100, height: 100 } },
      signingTime,
    });
    expectAppendOnly(updated, out);
    expectAllValid(out, 1);
    expect(Buffer.from(out.subarray(updated.length)).toString('latin1')).toMatch(/\nxref\n/);
  });

  it('signs an existing empty signature field, and refuses to sign it twice', async () => {
    const pdf = await pdfLibDocument({ objectStreams: false, emptySignatureField: 'lenderSeal' });
    const out = sealPdf(pdf, {
      identity: funder,
      field: { existingFieldName: 'lenderSeal' },
      appearance: { image: seal },
      signingTime,
    });
    expectAllValid(out, 1);
    expect(pdfsig(out).signatures[0]!.fieldName).toBe('lenderSeal');
    expect(() => sealPdf(out, { identity: borrower, field: { existingFieldName: 'lenderSeal' }, signingTime })).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_FIELD' }),
    );
    expect(() =>
      sealPdf(out, { identity: borrower, field: { existingFieldName: 'borrowerName' }, signingTime }),
    ).toThrow(expect.objectContaining({ code: 'SIGNATURE_FIELD' }));
    expect(() => sealPdf(out, { identity: borrower, field: { existingFieldName: 'nope' }, signingTime })).toThrow(
      expect.objectContaining({ code: 'SIGNATURE_FIELD' }),
    );
  });

  it('rejects a page that does not exist and a non-image appearance', () => {
    expect(() =>
      sealPdf(fixture, {
        identity: borrower,
        field: { page: 8, rect: { x: 0, y: 0, width: 10, height: 10 } },
        signingTime,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() =>
      sealPdf(fixture, {
        identity: borrower,
        field: { page: 0, rect: { x: 0, y: 0, width: 10, height: 10 } },
        appearance: { image: new Uint8Array([1, 2, 3, 4]) },
        signingTime,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('detects tampering: one flipped byte in a signed range makes pdfsig, openssl and verifyPdfSignatures fail', () => {
    const out = Buffer.from(
      sealPdf(fixture, {
        identity: borrower,
        field: { page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
        signingTime,
      }),
    );
    expectAllValid(out, 1);
    // Inside the letterhead image stream of the original: the file still parses, the content changed.
    const at = out.indexOf('stream', 0, 'latin1') + 200;
    out[at] = out[at]! ^ 0xff;
    const report = pdfsig(out);
    expect(report.signatures[0]!.validation, report.raw).not.toBe('Signature is Valid.');
    expect(opensslVerify(out, 0).ok).toBe(false);
    const ours = verifyPdfSignatures(out)[0]!;
    expect(ours.valid).toBe(false);
    expect(ours.problems.join()).toMatch(/digest does not match/);
  });

  it('detects a change in the appended part after the last signature (not total document signed)', () => {
    const out = sealPdf(fixture, {
      identity: borrower,
      field: { page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
      signingTime,
    });
    const appended = Buffer.concat([out, Buffer.from('\n% trailing junk\n', 'latin1')]);
    expect(verifyPdfSignatures(appended)[0]!.coversWholeDocument).toBe(false);
    expect(pdfsig(appended).signatures[0]!.totalDocumentSigned).toBe(false);
  });
});
