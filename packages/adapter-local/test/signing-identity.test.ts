import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCadesSignature, loadSigningIdentity } from '../src/index.js';
import { createTestIdentity } from '../src/testing/index.js';
import { openssl, tempFile } from './helpers.js';

const COMPANY = '某某消费金融股份有限公司';

function opensslPkcs12(certPem: string, keyPem: string, password: string, legacy: boolean): Uint8Array {
  const out = tempFile('id.p12', '');
  openssl([
    'pkcs12',
    '-export',
    ...(legacy ? ['-legacy'] : []),
    '-in',
    tempFile('c.pem', certPem),
    '-inkey',
    tempFile('k.pem', keyPem),
    '-out',
    out,
    '-passout',
    `pass:${password}`,
  ]);
  return readFileSync(out);
}

describe('loadSigningIdentity', () => {
  const rsa = createTestIdentity({ commonName: 'Sandbox Signer', organization: COMPANY, password: 'secret' });
  const ec = createTestIdentity({ commonName: 'EC Signer', organization: COMPANY, keyType: 'ec', password: 'secret' });

  it('creates a certificate with a Chinese O and key usage digitalSignature + nonRepudiation', () => {
    const text = openssl(['x509', '-in', tempFile('c.pem', rsa.certificatePem), '-noout', '-text', '-nameopt', 'utf8']);
    expect(text).toContain(`O=${COMPANY}`);
    expect(text).toMatch(/Digital Signature, Non Repudiation/);
    // OpenSSL reads our PKCS#12 too.
    openssl(['pkcs12', '-in', tempFile('id.p12', rsa.pkcs12), '-passin', 'pass:secret', '-noout']);
  });

  it.each([
    ['our own PKCS#12', () => ({ pkcs12: rsa.pkcs12, password: 'secret' })],
    [
      'OpenSSL 3 default PKCS#12 (PBES2/AES-256)',
      () => ({ pkcs12: opensslPkcs12(rsa.certificatePem, rsa.privateKeyPem, '中文密码', false), password: '中文密码' }),
    ],
    [
      'legacy PKCS#12 (3DES key, RC2-40 certificate)',
      () => ({ pkcs12: opensslPkcs12(rsa.certificatePem, rsa.privateKeyPem, 'old', true), password: 'old' }),
    ],
    ['PEM', () => ({ certificatePem: rsa.certificatePem, privateKeyPem: rsa.privateKeyPem })],
  ])('loads %s keeping the certificate bytes', (_label, source) => {
    const id = loadSigningIdentity(source());
    expect(Buffer.from(id.certificate).equals(Buffer.from(rsa.certificate))).toBe(true);
    expect(id.subject).toBe(`CN=Sandbox Signer,O=${COMPANY},C=CN`);
    expect(id.keyType).toBe('rsa');
    expect(id.warnings).toEqual([]);
  });

  it('loads an EC identity from an OpenSSL PKCS#12', () => {
    const id = loadSigningIdentity({
      pkcs12: opensslPkcs12(ec.certificatePem, ec.privateKeyPem, 'x', false),
      password: 'x',
    });
    expect(id.keyType).toBe('ec');
  });

  it.each([
    ['our own', () => rsa.pkcs12],
    ['OpenSSL default', () => opensslPkcs12(rsa.certificatePem, rsa.privateKeyPem, 'right', false)],
    ['legacy', () => opensslPkcs12(rsa.certificatePem, rsa.privateKeyPem, 'right', true)],
  ])('wrong password on the %s PKCS#12 → CERTIFICATE_PASSWORD', (_label, p12) => {
    expect(() => loadSigningIdentity({ pkcs12: p12(), password: 'wrong' })).toThrow(
      expect.objectContaining({ code: 'CERTIFICATE_PASSWORD', message: expect.stringMatching(/password is wrong/) }),
    );
  });

  it('key that does not belong to the certificate → CERTIFICATE_KEY_MISMATCH', () => {
    expect(() => loadSigningIdentity({ certificatePem: rsa.certificatePem, privateKeyPem: ec.privateKeyPem })).toThrow(
      expect.objectContaining({ code: 'CERTIFICATE_KEY_MISMATCH' }),
    );
    const other = createTestIdentity({ commonName: 'Other' });
    expect(() =>
      loadSigningIdentity({ certificatePem: rsa.certificatePem, privateKeyPem: other.privateKeyPem }),
    ).toThrow(expect.objectContaining({ code: 'CERTIFICATE_KEY_MISMATCH' }));
  });

  it('expired certificate: a warning by default, CERTIFICATE_EXPIRED when asked to reject', () => {
    const old = createTestIdentity({ commonName: 'Old', validDays: -1 });
    const source = { certificatePem: old.certificatePem, privateKeyPem: old.privateKeyPem };
    expect(loadSigningIdentity(source).warnings.join()).toMatch(/expired/);
    expect(() => loadSigningIdentity(source, { validity: 'reject' })).toThrow(
      expect.objectContaining({ code: 'CERTIFICATE_EXPIRED' }),
    );
  });

  it('embeds the certificate and the issuer Name byte for byte in the CMS (the node-forge Chinese-DN bug)', () => {
    for (const identity of [
      loadSigningIdentity({ pkcs12: rsa.pkcs12, password: 'secret' }),
      loadSigningIdentity({ pkcs12: ec.pkcs12, password: 'secret' }),
    ]) {
      const cms = Buffer.from(buildCadesSignature(identity, Buffer.alloc(32, 7)));
      expect(cms.includes(Buffer.from(identity.certificate))).toBe(true);
      // issuer appears in the certificate (issuer + subject, self-signed) and in sid and in ESS issuerSerial
      const issuer = Buffer.from(identity.issuerDer);
      let count = 0;
      for (let i = cms.indexOf(issuer); i >= 0; i = cms.indexOf(issuer, i + 1)) count++;
      expect(count).toBe(4);
      const parsed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', tempFile('s.der', cms)]);
      expect(parsed).toMatch(/signingCertificateV2|id-smime-aa-signingCertificateV2/);
      expect(parsed).not.toMatch(/signingTime/);
    }
  });
});
