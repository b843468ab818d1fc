import { execFileSync } from 'node:child_process';
import { sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSealflowError } from '@sealflow/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createCfcaSigner, signCfcaData, verifyCfcaSignature } from '../src/client/signature.js';
import { createCfcaTestCertificate } from '../src/client/test-certificates.js';

const platform = createCfcaTestCertificate({
  commonName: 'AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1',
  organization: '中国金融认证中心',
});
const other = createCfcaTestCertificate({ commonName: 'AnxinSign@另一家平台@91110000MA00000000@1' });

const data = JSON.stringify({
  head: { txTime: '20261201093000' },
  person: { personName: '张三', identTypeCode: '0', authenticationMode: '公安部' },
});

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!openssl)
  console.warn('signature.test: the openssl CLI is missing, so the OpenSSL interoperability tests are skipped.');
const dir = mkdtempSync(path.join(tmpdir(), 'cfca-signature-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

/** What `openssl cms -sign` makes of `data` with the platform certificate, as base64 DER. */
function opensslSign(extra: string[]): string {
  const out = execFileSync('openssl', [
    'cms',
    '-sign',
    '-binary',
    '-in',
    file('data.txt', data),
    '-signer',
    file('cert.pem', platform.certificatePem),
    '-inkey',
    file('key.pem', platform.privateKeyPem),
    '-outform',
    'DER',
    ...extra,
  ]);
  return out.toString('base64');
}

describe('CFCA request signature', () => {
  it('round-trips Chinese data signed with a certificate whose subject is Chinese, SHA-256 by default', () => {
    const signer = createCfcaSigner({ key: platform.privateKeyPem, certificate: platform.certificatePem });
    const signature = signer.sign(data);
    expect(signature).toMatch(/^[A-Za-z0-9+/]+={0,2}$/); // one line, standard alphabet
    const check = verifyCfcaSignature({ data, signature, certificate: platform.certificatePem });
    expect(check).toEqual({ ok: true, digest: 'sha256', signerCertificate: platform.certificate });
    expect(check.ok && new X509Certificate(check.signerCertificate).subject).toContain(
      'CN=AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1',
    );
    // Text and its UTF-8 bytes are the same signed content.
    expect(
      verifyCfcaSignature({ data: Buffer.from(data, 'utf8'), signature, certificate: platform.certificate }).ok,
    ).toBe(true);
  });

  it('signs with SHA-1 when asked, and says so when verifying', () => {
    const signature = signCfcaData(data, {
      key: platform.privateKey,
      certificate: platform.certificate,
      digest: 'sha1',
    });
    const der = Buffer.from(signature, 'base64');
    // 1.3.14.3.2.26 is in the SignedData; the SHA-256 OID is not.
    expect(der.includes(Buffer.from('06052b0e03021a', 'hex'))).toBe(true);
    expect(der.includes(Buffer.from('0609608648016503040201', 'hex'))).toBe(false);
    const check = verifyCfcaSignature({ data, signature, certificate: platform.certificatePem });
    expect(check.ok && check.digest).toBe('sha1');
  });

  it('refuses tampered data, another certificate and a signature that is not CMS, with a typed reason', () => {
    const signature = signCfcaData(data, { key: platform.privateKeyPem, certificate: platform.certificatePem });
    const tampered = verifyCfcaSignature({
      data: data.replace('张三', '李四'),
      signature,
      certificate: platform.certificatePem,
    });
    expect(tampered).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });

    expect(verifyCfcaSignature({ data, signature, certificate: other.certificatePem })).toMatchObject({
      ok: false,
      reason: 'SIGNER_MISMATCH',
    });
    // Naming the expected certificate but signed by another key: the RSA check is what catches it. The RSA-2048
    // signature is the last 256 bytes of the SignedData.
    const forged = Buffer.from(signature, 'base64');
    forged.set(sign('sha256', Buffer.from(data, 'utf8'), other.privateKey), forged.length - 256);
    expect(
      verifyCfcaSignature({ data, signature: forged.toString('base64'), certificate: platform.certificatePem }),
    ).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });

    expect(verifyCfcaSignature({ data, signature: 'not base64!' })).toMatchObject({ ok: false, reason: 'MALFORMED' });
    expect(verifyCfcaSignature({ data, signature: Buffer.from('{"a":1}').toString('base64') })).toMatchObject({
      ok: false,
      reason: 'MALFORMED',
    });
    const truncated = Buffer.from(signature, 'base64').subarray(0, 200).toString('base64');
    expect(verifyCfcaSignature({ data, signature: truncated })).toMatchObject({ ok: false, reason: 'MALFORMED' });
  });

  it('verifies with the embedded certificate when none is given, and reports which one signed', () => {
    const signature = signCfcaData(data, { key: other.privateKeyPem, certificate: other.certificatePem });
    const check = verifyCfcaSignature({ data, signature });
    expect(check.ok && Buffer.from(check.signerCertificate).equals(Buffer.from(other.certificate))).toBe(true);
  });

  it('refuses a key that does not belong to the certificate before anything is signed', () => {
    let thrown: unknown;
    try {
      createCfcaSigner({ key: other.privateKeyPem, certificate: platform.certificatePem });
    } catch (error) {
      thrown = error;
    }
    expect(isSealflowError(thrown) && thrown.code).toBe('INVALID_INPUT');
    expect(() => createCfcaSigner({ key: 'nonsense', certificate: platform.certificatePem })).toThrow(/signer\.key/);
  });

  it.runIf(openssl)('is accepted by `openssl cms -verify` (detached, Chinese issuer found by its exact bytes)', () => {
    for (const digest of ['sha256', 'sha1'] as const) {
      const signature = signCfcaData(data, {
        key: platform.privateKeyPem,
        certificate: platform.certificatePem,
        digest,
      });
      const verified = execFileSync(
        'openssl',
        [
          'cms',
          '-verify',
          '-binary',
          '-noverify',
          '-inform',
          'DER',
          '-in',
          file('sig.der', Buffer.from(signature, 'base64')),
          '-content',
          file('data.txt', data),
          '-certfile',
          file('cert.pem', platform.certificatePem),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      expect(verified.toString('utf8')).toBe(data);
      const printed = execFileSync('openssl', [
        'cms',
        '-cmsout',
        '-print',
        '-inform',
        'DER',
        '-in',
        file('sig.der', Buffer.from(signature, 'base64')),
      ]).toString('utf8');
      expect(printed).toMatch(/signedAttrs:\s*<ABSENT>/);
      expect(printed).toMatch(/eContent:\s*<ABSENT>/);
    }
  });

  it.runIf(openssl)('accepts what `openssl cms -sign -noattr` makes, and names what is wrong with other shapes', () => {
    const good = opensslSign(['-noattr', '-md', 'sha1']);
    expect(verifyCfcaSignature({ data, signature: good, certificate: platform.certificatePem })).toMatchObject({
      ok: true,
      digest: 'sha1',
    });
    expect(verifyCfcaSignature({ data, signature: opensslSign(['-md', 'sha256']) })).toMatchObject({
      ok: false,
      reason: 'SIGNED_ATTRIBUTES',
    });
    expect(verifyCfcaSignature({ data, signature: opensslSign(['-noattr', '-nodetach']) })).toMatchObject({
      ok: false,
      reason: 'NOT_DETACHED',
    });
    expect(verifyCfcaSignature({ data, signature: opensslSign(['-noattr', '-md', 'sha512']) })).toMatchObject({
      ok: false,
      reason: 'UNSUPPORTED_ALGORITHM',
    });
  });
});
