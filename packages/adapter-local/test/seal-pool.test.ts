import { readFileSync } from 'node:fs';
import { createSigningGateway } from '@sealflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSealingPool,
  loadSigningIdentity,
  localSigner,
  type SealingPool,
  SealingError,
  type SigningIdentity,
  sealPdf,
  verifyPdfSignatures,
} from '../src/index.js';
import { createSealImage, createTestIdentity } from '../src/testing/index.js';
import { opensslVerify, pdfsig, requireTool } from './helpers.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEST_BORROWER, testOrganizationSigner } from '../../../fixtures/signers.js';

const signingTime = new Date('2026-03-02T08:30:00Z');
const field = { page: 0, rect: { x: 60, y: 60, width: 120, height: 120 } };
let fixture: Uint8Array;
let rsa: SigningIdentity; // from PKCS#12
let ec: SigningIdentity; // from PEM
let image: Uint8Array;
let pool: SealingPool;

beforeAll(() => {
  requireTool('pdfsig');
  requireTool('openssl');
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  const r = createTestIdentity({ commonName: '某某消费金融股份有限公司', organization: '某某消费金融股份有限公司' });
  rsa = loadSigningIdentity({ pkcs12: r.pkcs12, password: r.password });
  const e = createTestIdentity({ commonName: '平台签章', organization: '某某科技有限公司', keyType: 'ec' });
  ec = loadSigningIdentity({ certificatePem: e.certificatePem, privateKeyPem: e.privateKeyPem });
  image = createSealImage({ size: 200 });
  pool = createSealingPool({ size: 2 });
});

afterAll(async () => {
  await pool.close();
});

/** pdfsig, `openssl cms -verify` and our own verifier all accept every signature. */
function expectAllValid(pdf: Uint8Array, count: number): void {
  const report = pdfsig(pdf);
  expect(report.signatures, report.raw).toHaveLength(count);
  report.signatures.forEach((s, i) => {
    expect(s.validation, report.raw).toBe('Signature is Valid.');
    expect(s.subFilter).toBe('ETSI.CAdES.detached');
    const o = opensslVerify(pdf, i);
    expect(o.ok, o.output).toBe(true);
  });
  expect(verifyPdfSignatures(pdf).map((r) => r.valid)).toEqual(Array(count).fill(true));
}

describe('createSealingPool', () => {
  it('seals in a worker exactly as in-process: same bytes, valid for pdfsig and openssl', async () => {
    const options = { identity: rsa, field, appearance: { image }, reason: 'organisation seal', signingTime };
    const pooled = await pool.seal(fixture, options);
    expectAllValid(pooled, 1);
    // RSA PKCS#1 v1.5 signatures are deterministic, so the whole file must match the in-process one byte for byte.
    expect(Buffer.from(pooled).equals(Buffer.from(sealPdf(fixture, options)))).toBe(true);
    expect(pdfsig(pooled).signatures[0]?.commonName).toBe('某某消费金融股份有限公司');
  });

  it('seals with the same image and name seal again and again as in-process, the assets shared once with the workers', async () => {
    const withImage = { identity: rsa, field, appearance: { image, text: 'Seal' }, signingTime };
    const withNameSeal = { identity: rsa, field, appearance: { nameSeal: { name: '欧阳娜娜' } }, signingTime };
    // Several rounds on both workers: a worker that kept a stale or wrong asset under an id would differ here.
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([pool.seal(fixture, withImage), pool.seal(fixture, withNameSeal)]);
      expect(Buffer.from(a).equals(Buffer.from(sealPdf(fixture, withImage)))).toBe(true);
      expect(Buffer.from(b).equals(Buffer.from(sealPdf(fixture, withNameSeal)))).toBe(true);
    }
    // A different image with the same size must not be mistaken for the first one.
    const other = createSealImage({ size: 200, color: [0x20, 0x40, 0xc0] });
    const withOther = { identity: rsa, field, appearance: { image: other }, signingTime };
    const pooled = await pool.seal(fixture, withOther);
    expect(Buffer.from(pooled).equals(Buffer.from(sealPdf(fixture, withOther)))).toBe(true);
    expect(Buffer.from(pooled).equals(Buffer.from(sealPdf(fixture, { ...withOther, appearance: { image } })))).toBe(
      false,
    );
  });

  it('runs two seals at once on a pool of 2, with different identities, and each result verifies', async () => {
    const [a, b] = await Promise.all([
      pool.seal(fixture, { identity: rsa, field, signingTime }),
      pool.seal(fixture, { identity: ec, field: { ...field, name: 'ec' }, signingTime }),
    ]);
    expectAllValid(a, 1);
    expectAllValid(b, 1);
    expect(pdfsig(b).signatures[0]?.commonName).toBe('平台签章');
    // A second seal on a pool-sealed PDF keeps the first valid.
    expectAllValid(await pool.seal(a, { identity: ec, field: { ...field, name: 'second' }, signingTime }), 2);
  });

  it('reports a bad PDF as SealingError PDF_MALFORMED, as sealPdf does', async () => {
    const bytes = new TextEncoder().encode('%PDF-1.7\nnot really a PDF\n');
    const error = await pool.seal(bytes, { identity: rsa, field, signingTime }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SealingError);
    expect((error as SealingError).code).toBe('PDF_MALFORMED');
    expect((error as SealingError).message).toMatch(/Re-save it with a PDF tool/);
  });

  it('keeps a person’s name out of errors: a name seal on a missing page fails with the code only', async () => {
    const name = '张三丰';
    const options = {
      identity: rsa,
      field: { page: 99, rect: field.rect },
      appearance: { nameSeal: { name } },
      signingTime,
    };
    const error = await pool.seal(fixture, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SealingError);
    expect((error as SealingError).code).toBe('INVALID_INPUT');
    expect(String((error as Error).message)).not.toContain(name);
  });

  it('refuses a size that is not a whole number ≥ 1, and seals after close', async () => {
    expect(() => createSealingPool({ size: 0 })).toThrow(SealingError);
    const small = createSealingPool({ size: 1 });
    await small.close();
    await expect(small.seal(fixture, { identity: rsa, field, signingTime })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});

describe('localSigner({ pool })', () => {
  it('completes a flow with every seal made in the pool', async () => {
    const platform = testOrganizationSigner('platform', 2, [{ documentKey: 'contract', keyword: '盖章', offsetX: 40 }]);
    const gateway = createSigningGateway(
      localSigner({
        seals: { 'platform-seal': { identity: ec, image } },
        personIdentity: rsa,
        signingTime: () => signingTime,
        pool,
      }),
    );
    const ctx = (idempotencyKey: string) => ({ idempotencyKey });
    const document = await gateway.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const flow = await gateway.createFlow(
      { title: 't', businessNo: 'B1', documents: [document], signers: [TEST_BORROWER, platform] },
      ctx('c'),
    );
    expect(flow.status).toBe('completed');
    const [signed] = await gateway.downloadSigned(flow.flowId, ctx('d'));
    if (!signed) throw new Error('no signed document');
    expectAllValid(signed.bytes, 2);
  });
});
