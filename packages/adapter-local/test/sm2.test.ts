/**
 * 国密 SM2 with SM3: keys and certificates made by the openssl CLI (PEM and `openssl pkcs12 -export`) load, seal and
 * verify; the SM2 signatures carry the Z value of the default user id, which `openssl dgst -sm3 -sigopt distid:…`
 * checks independently (both ways); the CMS uses the GM/T 0010 object identifiers; bad material fails with stable codes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  loadSigningIdentity,
  localSigner,
  SealingError,
  type SigningIdentity,
  sealPdf,
  verifyPdfSignatures,
} from '../src/index.js';
import { readCmsSigner } from '../src/cms-reader.js';
import { sm2KeyOf, sm2Sign, sm2Verify } from '../src/sm2.js';
import { createLocalTimestampAuthority, createTestIdentity, createTestSigningIdentity } from '../src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { testOrganizationSigner } from '../../../fixtures/signers.js';
import { extractSignature, pdfsig, requireTool, tempFile } from './helpers.js';

const DISTID = 'distid:1234567812345678';
const signingTime = new Date('2026-11-10T08:30:00Z');
let fixture: Uint8Array;
/** An SM2 key and self-signed SM2-with-SM3 certificate made by the openssl CLI. */
let keyPem: string;
let certPem: string;
let keyFile: string;
let certFile: string;
let publicKeyFile: string;

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

/** `openssl dgst -sm3 -verify` with the default SM2 user id: the GB/T 32918 check, Z included. */
function opensslSm2Verify(publicKeyPem: string, data: Uint8Array, signature: Uint8Array, distid = DISTID) {
  const r = spawnSync(
    'openssl',
    [
      'dgst',
      '-sm3',
      '-verify',
      tempFile('pub.pem', publicKeyPem),
      ...(distid ? ['-sigopt', distid] : []),
      '-signature',
      tempFile('sig.bin', signature),
      tempFile('data.bin', data),
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0 && /Verified OK/.test(r.stdout);
}

function seal(pdf: Uint8Array, identity: SigningIdentity, name = 'sm2'): Uint8Array {
  return sealPdf(pdf, {
    identity,
    field: { name, page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
    signingTime,
  });
}

/**
 * The independent check of the n-th signature with the openssl CLI: the messageDigest attribute is the SM3 of the
 * signed byte ranges (`openssl dgst -sm3`), and the SM2 signature over the signed attributes verifies with the
 * certificate's key and the default user id (`openssl dgst -sm3 -verify -sigopt distid:1234567812345678`).
 */
function opensslChecksCms(pdf: Uint8Array, n: number, certificatePem: string): boolean {
  const { cms, signed } = extractSignature(pdf, n);
  const signer = readCmsSigner(cms);
  const sm3 = openssl(['dgst', '-sm3', '-hex', tempFile('signed.bin', signed)])
    .trim()
    .split('= ')[1];
  const attrs = Buffer.from(signer.signedAttributes);
  attrs[0] = 0x31;
  const pub = openssl(['x509', '-in', tempFile('cert.pem', certificatePem), '-pubkey', '-noout']);
  return (
    sm3 === Buffer.from(signer.messageDigest ?? []).toString('hex') && opensslSm2Verify(pub, attrs, signer.signature)
  );
}

beforeAll(() => {
  requireTool('openssl');
  requireTool('pdfsig');
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  keyFile = tempFile('sm2-key.pem', '');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', keyFile]);
  certFile = tempFile('sm2-cert.pem', '');
  openssl([
    'req',
    '-new',
    '-x509',
    '-key',
    keyFile,
    '-sm3',
    '-sigopt',
    DISTID,
    '-subj',
    '/C=CN/O=某某消费金融股份有限公司/CN=国密电子签章',
    '-utf8',
    '-days',
    '3650',
    '-out',
    certFile,
  ]);
  keyPem = readFileSync(keyFile, 'utf8');
  certPem = readFileSync(certFile, 'utf8');
  publicKeyFile = tempFile('sm2-pub.pem', openssl(['pkey', '-in', keyFile, '-pubout']));
});

describe('SM2-with-SM3 signatures (GB/T 32918, default user id)', () => {
  it('openssl verifies ours, we verify openssl’s, and a changed message or an empty-id signature fails', () => {
    const key = sm2KeyOf(createPrivateKey(keyPem));
    const publicPem = readFileSync(publicKeyFile, 'utf8');
    const message = Buffer.from('借款合同 第 1 页');
    const ours = sm2Sign(key, message);
    expect(opensslSm2Verify(publicPem, message, ours)).toBe(true);
    // Without the user id the Z value differs, so the same signature must not verify: the id is really in it.
    expect(opensslSm2Verify(publicPem, message, ours, '')).toBe(false);

    const theirs = execFileSync('openssl', [
      'dgst',
      '-sm3',
      '-sign',
      keyFile,
      '-sigopt',
      DISTID,
      tempFile('m', message),
    ]);
    const publicPoint = sm2KeyOf(createPublicKey(publicPem)).publicPoint;
    expect(sm2Verify(publicPoint, message, theirs)).toBe(true);
    expect(sm2Verify(publicPoint, Buffer.from('借款合同 第 2 页'), theirs)).toBe(false);
    // node:crypto's own SM2 signing uses an empty user id: not the standard's signature, and refused here.
    expect(sm2Verify(publicPoint, message, sign('sm3', message, createPrivateKey(keyPem)))).toBe(false);
  });
});

describe('sealPdf with SM2 identities', () => {
  it('seals with an openssl-made PEM key and certificate; our verifier and the openssl CLI agree', () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    expect(identity).toMatchObject({ keyType: 'sm2', digestAlgorithm: 'sm3', commonName: '国密电子签章' });
    const pdf = seal(fixture, identity);
    const [report] = verifyPdfSignatures(pdf);
    expect(report).toMatchObject({
      valid: true,
      problems: [],
      coversWholeDocument: true,
      signer: expect.stringContaining('CN=国密电子签章'),
    });
    expect(opensslChecksCms(pdf, 0, certPem)).toBe(true);

    // GM/T 0010 identifiers, as openssl names them: sm3 digest, SM2-with-SM3 signature.
    const { cms } = extractSignature(pdf, 0);
    const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', tempFile('cms.der', cms)]);
    const objects = [...parsed.matchAll(/OBJECT\s+:(\S+)/g)].map((m) => m[1]);
    expect(objects.filter((o) => o === 'sm3')).toHaveLength(2); // digestAlgorithms and the SignerInfo's
    expect(objects.at(-1)).toBe('SM2-with-SM3'); // the SignerInfo's signatureAlgorithm
    expect(objects).not.toContain('sha256');
  });

  it('seals with a PKCS#12 made by `openssl pkcs12 -export`, and a wrong password is CERTIFICATE_PASSWORD', () => {
    const p12File = tempFile('sm2.p12', '');
    openssl(['pkcs12', '-export', '-inkey', keyFile, '-in', certFile, '-passout', 'pass:秘密123', '-out', p12File]);
    const pkcs12 = new Uint8Array(readFileSync(p12File));
    const identity = loadSigningIdentity({ pkcs12, password: '秘密123' });
    expect(identity.keyType).toBe('sm2');
    const pdf = seal(fixture, identity);
    expect(verifyPdfSignatures(pdf)[0]).toMatchObject({ valid: true, problems: [] });
    expect(opensslChecksCms(pdf, 0, certPem)).toBe(true);

    const wrong = (() => {
      try {
        loadSigningIdentity({ pkcs12, password: 'wrong' });
      } catch (error) {
        return error;
      }
    })();
    expect(wrong).toBeInstanceOf(SealingError);
    expect((wrong as SealingError).code).toBe('CERTIFICATE_PASSWORD');
  });

  it('a createTestIdentity SM2 certificate is one openssl verifies (its SM2-with-SM3 self-signature)', () => {
    const test = createTestIdentity({ commonName: '测试签章', keyType: 'sm2' });
    const file = tempFile('test-sm2.pem', test.certificatePem);
    expect(openssl(['verify', '-CAfile', file, file])).toContain('OK');
    const identity = loadSigningIdentity({ certificatePem: test.certificatePem, privateKeyPem: test.privateKeyPem });
    const pdf = seal(seal(fixture, identity, 'first'), createTestSigningIdentity({ commonName: 'RSA 签章' }), 'second');
    const reports = verifyPdfSignatures(pdf);
    expect(reports.map((r) => r.valid)).toEqual([true, true]);
    expect(opensslChecksCms(pdf, 0, test.certificatePem)).toBe(true);
  });

  it('a changed signed byte makes the SM2 signature invalid', () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const pdf = seal(fixture, identity);
    const tampered = Uint8Array.from(pdf);
    tampered[200] = tampered[200]! ^ 0x01;
    const [report] = verifyPdfSignatures(tampered);
    expect(report?.valid).toBe(false);
    expect(report?.problems).toContain('the document digest does not match: the signed bytes were changed');
  });

  it('a changed SM2 signature value is refused by our verifier', () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const pdf = Buffer.from(seal(fixture, identity));
    const { cms } = extractSignature(pdf, 0);
    const signature = readCmsSigner(cms).signature;
    const hex = Buffer.from(signature).toString('hex').toUpperCase();
    const text = pdf.toString('latin1');
    const at = text.indexOf(hex) >= 0 ? text.indexOf(hex) : text.indexOf(hex.toLowerCase());
    expect(at).toBeGreaterThan(0);
    // Change one hex digit in the middle of r.
    const i = at + 20;
    pdf[i] = pdf[i] === 0x30 ? 0x31 : 0x30;
    const [report] = verifyPdfSignatures(pdf);
    expect(report?.problems).toContain('the CMS signature does not verify with the signer certificate');
  });

  it('pdfsig (poppler 22 with NSS) does not know SM3 and cannot validate the signature: recorded, not faked', () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const { raw, signatures } = pdfsig(seal(fixture, identity));
    expect(signatures).toHaveLength(1);
    expect(signatures[0]?.validation).not.toBe('Signature is Valid.');
    expect(raw).toMatch(/Signing Hash Algorithm: unknown/);
  });

  it('B-T: an SM2 signature timestamped by the local TSA verifies with its timestamp', async () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const pdf = await sealPdf(fixture, {
      identity,
      field: { name: 'sm2-bt', page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
      signingTime,
      timestampAuthority: createLocalTimestampAuthority(),
    });
    const [report] = verifyPdfSignatures(pdf);
    expect(report).toMatchObject({ valid: true, problems: [] });
    expect(report?.timestamp?.tsaName).toContain('CN=sealflow local TSA');
    expect(opensslChecksCms(pdf, 0, certPem)).toBe(true);
  });

  it('localSigner seals an organisation signer with an SM2 seal and the result verifies', async () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const signer = localSigner({ seals: { 'platform-seal': { identity } }, signingTime: () => signingTime });
    expect(signer.capabilities.sm2).toBe(true);
    const rsaOnly = localSigner({
      seals: { 'platform-seal': { identity: createTestSigningIdentity({ commonName: 'R' }) } },
    });
    expect(rsaOnly.capabilities.sm2).toBe(false);
    const ctx = (key: string) => ({ idempotencyKey: `sm2-${key}` });
    const document = await signer.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const platform = testOrganizationSigner('platform', 1, [
      { documentKey: 'contract', page: 7, x: 80, y: 90, width: 140, height: 140 },
    ]);
    const flow = await signer.createFlow(
      { title: '国密', businessNo: 'SM2-1', documents: [document], signers: [platform] },
      ctx('create'),
    );
    expect(flow.status).toBe('completed');
    const [signed] = await signer.downloadSigned(flow.flowId, ctx('download'));
    expect(verifyPdfSignatures(signed!.bytes).map((r) => r.valid)).toEqual([true]);
    expect(opensslChecksCms(signed!.bytes, 0, certPem)).toBe(true);
  });
});

describe('bad SM2 material fails with stable codes', () => {
  const codeOf = (load: () => unknown): string | undefined => {
    try {
      load();
    } catch (error) {
      expect(error).toBeInstanceOf(SealingError);
      return (error as SealingError).code;
    }
    return undefined;
  };

  it('an SM2 certificate with an RSA key, or an RSA certificate with an SM2 key, is CERTIFICATE_KEY_MISMATCH', () => {
    const rsaKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    expect(codeOf(() => loadSigningIdentity({ certificatePem: certPem, privateKeyPem: rsaKeyPem }))).toBe(
      'CERTIFICATE_KEY_MISMATCH',
    );
    const rsa = createTestIdentity({ commonName: 'RSA' });
    expect(codeOf(() => loadSigningIdentity({ certificatePem: rsa.certificatePem, privateKeyPem: keyPem }))).toBe(
      'CERTIFICATE_KEY_MISMATCH',
    );
    // Another SM2 key against this SM2 certificate: the points differ.
    const other = createTestIdentity({ commonName: 'other', keyType: 'sm2' });
    expect(codeOf(() => loadSigningIdentity({ certificatePem: certPem, privateKeyPem: other.privateKeyPem }))).toBe(
      'CERTIFICATE_KEY_MISMATCH',
    );
  });

  it('an SM2 key asked to sign with SHA-256 (the RSA/ECDSA digest), or an RSA key with SM3, is INVALID_INPUT', () => {
    let error: unknown;
    try {
      loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem }, { digestAlgorithm: 'sha256' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SealingError);
    expect((error as SealingError).code).toBe('INVALID_INPUT');
    expect((error as SealingError).message).toMatch(/SM2 key signs with SM3/);
    const rsa = createTestIdentity({ commonName: 'RSA' });
    expect(
      codeOf(() =>
        loadSigningIdentity(
          { certificatePem: rsa.certificatePem, privateKeyPem: rsa.privateKeyPem },
          { digestAlgorithm: 'sm3' },
        ),
      ),
    ).toBe('INVALID_INPUT');
    // The matching choices load.
    expect(
      loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem }, { digestAlgorithm: 'sm3' }).keyType,
    ).toBe('sm2');
  });

  it('the SM3 digest of a sealed document is what the SignerInfo carries (not SHA-256)', () => {
    const identity = loadSigningIdentity({ certificatePem: certPem, privateKeyPem: keyPem });
    const { cms, signed } = extractSignature(seal(fixture, identity), 0);
    const digest = Buffer.from(readCmsSigner(cms).messageDigest ?? []);
    expect(digest.equals(createHash('sm3').update(signed).digest())).toBe(true);
    expect(digest.equals(createHash('sha256').update(signed).digest())).toBe(false);
  });
});
