/**
 * GB/T 38540-2020 electronic seals: an SES_Seal built by a seal maker's SM2 identity and an SES_Signature made with
 * it read back field for field, verify, and fail on every change that matters; openssl reads the DER and verifies both
 * SM2 signatures independently (`openssl dgst -sm3 -sigopt distid:1234567812345678`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  buildSesSeal,
  buildSesSignature,
  parseSesSeal,
  parseSesSignature,
  SealingError,
  type SesSealInfo,
  type SigningIdentity,
  verifySesSeal,
  verifySesSignature,
} from '../src/index.js';
import { createSealImage, createTestIdentity, createTestSigningIdentity } from '../src/testing/index.js';
import { requireTool, tempFile } from './helpers.js';

let maker: SigningIdentity;
let user: SigningIdentity;
let info: SesSealInfo;
const content = Buffer.from('%PDF-1.7 借款合同 …');
const time = new Date('2026-11-10T08:30:00Z');

beforeAll(() => {
  requireTool('openssl');
  maker = createTestSigningIdentity({ commonName: '制章系统', organization: '某某科技有限公司', keyType: 'sm2' });
  user = createTestSigningIdentity({
    commonName: '合同专用章',
    organization: '某某消费金融股份有限公司',
    keyType: 'sm2',
  });
  info = {
    esId: '310000000000001',
    vendorId: 'sealflow',
    type: 1,
    name: '某某消费金融股份有限公司合同专用章',
    certificates: [user.certificate],
    createDate: new Date('2026-01-01T00:00:00Z'),
    validStart: new Date('2026-01-01T00:00:00Z'),
    validEnd: new Date('2028-01-01T00:00:00Z'),
    picture: { type: 'PNG', data: new Uint8Array(createSealImage({ size: 120 })), widthMm: 42, heightMm: 42 },
  };
});

function certificatePem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`;
}

/** openssl's own SM2 verdict (default user id) over `data` with the key of the DER certificate. */
function opensslSm2(certificate: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const pub = execFileSync('openssl', [
    'x509',
    '-in',
    tempFile('c.pem', certificatePem(certificate)),
    '-pubkey',
    '-noout',
  ]);
  const r = spawnSync(
    'openssl',
    [
      'dgst',
      '-sm3',
      '-verify',
      tempFile('p.pem', pub),
      '-sigopt',
      'distid:1234567812345678',
      '-signature',
      tempFile('s.bin', signature),
      tempFile('d.bin', data),
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0;
}

describe('SES_Seal (GB/T 38540-2020, version 4)', () => {
  it('builds a seal that reads back, verifies, and that openssl parses and verifies', () => {
    const der = buildSesSeal(info, maker);
    const seal = parseSesSeal(der);
    expect(seal.info).toEqual(info);
    expect(Buffer.from(seal.makerCertificate).equals(maker.certificate)).toBe(true);
    expect(seal.signatureAlgorithm).toBe('1.2.156.10197.1.501');
    expect(verifySesSeal(der, time)).toEqual({ valid: true, problems: [] });

    const parsed = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', tempFile('seal.der', der)], {
      encoding: 'utf8',
    });
    expect(parsed).toMatch(/IA5STRING\s+:ES/);
    expect(parsed).toMatch(/UTF8STRING\s+:某某消费金融股份有限公司合同专用章/);
    expect(parsed).toMatch(/OBJECT\s+:SM2-with-SM3/);
    expect(opensslSm2(maker.certificate, seal.signedData, seal.signature)).toBe(true);
  });

  it('a changed seal name, or a time outside the validity, fails verification', () => {
    const der = Buffer.from(buildSesSeal(info, maker));
    const at = der.indexOf(Buffer.from('合同专用章'));
    der[at] = der[at]! ^ 0x01;
    expect(verifySesSeal(der, time).problems).toContain(
      'the seal maker signature does not verify with the seal maker certificate',
    );
    const late = verifySesSeal(buildSesSeal(info, maker), new Date('2030-01-01T00:00:00Z'));
    expect(late.valid).toBe(false);
    expect(late.problems[0]).toMatch(/^the seal is valid from 2026-01-01/);
  });

  it('refuses an RSA seal maker, an empty validity and non-ASCII IA5 text with INVALID_INPUT', () => {
    const rsa = createTestSigningIdentity({ commonName: 'RSA' });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(SealingError);
        return (e as SealingError).code;
      }
    };
    expect(code(() => buildSesSeal(info, rsa))).toBe('INVALID_INPUT');
    expect(code(() => buildSesSeal({ ...info, validEnd: info.validStart }, maker))).toBe('INVALID_INPUT');
    expect(code(() => buildSesSeal({ ...info, esId: '印章1' }, maker))).toBe('INVALID_INPUT');
    expect(code(() => parseSesSeal(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x04])))).toBe('INVALID_INPUT');
  });
});

describe('SES_Signature (GB/T 38540-2020, version 4)', () => {
  const sign = (signer = user) =>
    buildSesSignature(
      {
        seal: buildSesSeal(info, maker),
        dataHash: createHash('sm3').update(content).digest(),
        propertyInfo: 'contract.pdf',
        time,
      },
      signer,
    );

  it('signs a document hash with a seal; it reads back and verifies, and openssl verifies the signature', () => {
    const der = sign();
    const parsed = parseSesSignature(der);
    expect(parsed).toMatchObject({
      propertyInfo: 'contract.pdf',
      timeInfo: time,
      signatureAlgorithm: '1.2.156.10197.1.501',
    });
    expect(parsed.seal.info.esId).toBe(info.esId);
    expect(verifySesSignature(der, content)).toEqual({ valid: true, problems: [] });
    expect(opensslSm2(user.certificate, parsed.signedData, parsed.signature)).toBe(true);
  });

  it('changed content, a changed signature or a tampered embedded seal each fail', () => {
    expect(verifySesSignature(sign(), Buffer.from('other')).problems).toEqual([
      'dataHash is not the SM3 of the content: the content was changed',
    ]);
    const der = Buffer.from(sign());
    der[der.length - 5] = der[der.length - 5]! ^ 0x01; // inside the signer's signature value
    expect(verifySesSignature(der, content).problems).toEqual([
      'the signer signature does not verify with the signer certificate',
    ]);
    const sealTampered = Buffer.from(sign());
    const at = sealTampered.indexOf(Buffer.from('sealflow'));
    sealTampered[at] = 0x53; // 's' → 'S' inside the seal's Vid
    const problems = verifySesSignature(sealTampered, content).problems;
    expect(problems).toContain('the seal maker signature does not verify with the seal maker certificate');
    expect(problems).toContain('the signer signature does not verify with the signer certificate');
  });

  it('a signer whose certificate is not in the seal is refused with INVALID_INPUT', () => {
    const stranger = createTestSigningIdentity({ commonName: '他人', keyType: 'sm2' });
    expect(() => sign(stranger)).toThrow(SealingError);
    try {
      sign(stranger);
    } catch (e) {
      expect((e as SealingError).code).toBe('INVALID_INPUT');
      expect((e as SealingError).message).toMatch(/not among the certificates of seal "310000000000001"/);
    }
  });
});

it('createTestIdentity SM2 material used here is the kind openssl accepts', () => {
  const t = createTestIdentity({ commonName: 'x', keyType: 'sm2' });
  const file = tempFile('x.pem', t.certificatePem);
  expect(execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' })).toContain('OK');
});
