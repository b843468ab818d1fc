/**
 * PAdES B-LT and B-LTA: `addLongTermValidation` against a CA made with the openssl CLI that answers OCSP (`openssl
 * ocsp` over the CA's index) and serves its CRL over HTTP. What is stored in the DSS is read back by openssl (`ocsp
 * -respin`, `crl`), the signatures still pass pdfsig after the DSS update, and `verifyPdfSignatures` judges the
 * revocation data at the signature's trusted time: a signer revoked before it is invalid, after it stays valid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RevocationError } from '@sealflow/core';
import { decodeStream, PdfReader, type PdfStream } from '@sealflow/pdf-toolkit';
import {
  addLongTermValidation,
  httpRevocationSource,
  loadSigningIdentity,
  type SigningIdentity,
  sealPdf,
  staticRevocationSource,
  verifyPdfSignatures,
} from '../src/index.js';
import { createLocalTimestampAuthority, type LocalTimestampAuthority } from '../src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { pdfsig, requireTool, tempFile } from './helpers.js';
import { createTestCa, type IssuedCertificate, type TestCa } from './revocation-ca.js';

let ca: TestCa;
let otherCa: TestCa;
let fixture: Uint8Array;
let goodCert: IssuedCertificate;
let good: SigningIdentity;
let tsa: LocalTimestampAuthority;
const fast = { retryDelayMs: 5, timeoutMs: 5_000 };

beforeAll(async () => {
  requireTool('openssl');
  requireTool('pdfsig');
  ca = await createTestCa('sealflow test CA');
  otherCa = await createTestCa('another test CA');
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  goodCert = ca.issue('平台签章');
  good = identityOf(goodCert);
  tsa = createLocalTimestampAuthority({ identity: identityOf(ca.issue('sealflow test TSA', 'tsa')) });
}, 60_000);

afterAll(async () => {
  await ca?.close();
  await otherCa?.close();
});

function identityOf(cert: IssuedCertificate): SigningIdentity {
  return loadSigningIdentity({
    certificatePem: cert.certificatePem,
    privateKeyPem: cert.privateKeyPem,
    chainPem: ca.caPem,
  });
}

function seal(pdf: Uint8Array, identity: SigningIdentity, name: string, signingTime = new Date()) {
  return sealPdf(pdf, {
    identity,
    field: { name, page: 0, rect: { x: 40, y: 40, width: 120, height: 60 } },
    signingTime,
    timestampAuthority: tsa,
  });
}

/** The catalog's /DSS, its streams decoded, and its /VRI keys. */
function dssOf(pdf: Uint8Array) {
  const reader = new PdfReader(pdf);
  const dss = reader.dict(reader.dict(reader.trailer.get('Root'))?.get('DSS'));
  const streams = (key: string) =>
    (reader.array(dss?.get(key)) ?? []).map((v) => decodeStream(reader.resolve(v) as PdfStream));
  const vri = reader.dict(dss?.get('VRI'));
  return {
    present: !!dss,
    certs: streams('Certs'),
    ocsps: streams('OCSPs'),
    crls: streams('CRLs'),
    vri: new Map(
      [...(vri?.map.keys() ?? [])].map((k) => {
        const entry = reader.dict(vri!.get(k))!;
        return [
          k,
          { ocsp: reader.array(entry.get('OCSP'))?.length ?? 0, crl: reader.array(entry.get('CRL'))?.length ?? 0 },
        ];
      }),
    ),
    /** Upper-case hex SHA-1 of every signature's /Contents, as /VRI keys them. */
    signatureKeys: [
      ...Buffer.from(pdf)
        .toString('latin1')
        .matchAll(/\/Contents\s*<([0-9a-fA-F]+)>/g),
    ].map((m) => createHash('sha1').update(Buffer.from(m[1]!, 'hex')).digest('hex').toUpperCase()),
  };
}

/** `openssl ocsp -respin` on a stored response, checked against the CA, for `cert`: openssl's status line. */
function opensslOcspStatus(response: Uint8Array, cert: IssuedCertificate): string {
  const r = spawnSync(
    'openssl',
    ['ocsp', '-respin', tempFile('resp.der', response), '-issuer', ca.caFile, '-cert', cert.file].concat([
      '-CAfile',
      ca.caFile,
      '-no_nonce',
    ]),
    { encoding: 'utf8' },
  );
  return `${r.stdout}${r.stderr}`;
}

describe('addLongTermValidation (PAdES B-LT)', () => {
  it('stores OCSP answers for the signer and TSA chains in a DSS that openssl reads, and pdfsig still accepts', async () => {
    const signed = await seal(fixture, good, 'lt');
    const pdf = await addLongTermValidation(signed, { revocation: httpRevocationSource(fast) });
    expect(Buffer.from(pdf.subarray(0, signed.length)).equals(Buffer.from(signed))).toBe(true);

    const dss = dssOf(pdf);
    expect(dss.present).toBe(true);
    // signer + TSA certificate each have an OCSP answer; the CA, self-signed, needs none.
    expect(dss.ocsps).toHaveLength(2);
    expect(dss.certs.map((c) => Buffer.from(c).toString('base64'))).toContain(Buffer.from(ca.caDer).toString('base64'));
    expect([...dss.vri.keys()]).toEqual(dss.signatureKeys);
    expect(dss.vri.get(dss.signatureKeys[0]!)).toEqual({ ocsp: 2, crl: 0 });
    const statuses = dss.ocsps.map((r) => opensslOcspStatus(r, goodCert));
    expect(statuses.some((s) => /Response verify OK/.test(s) && /: good/.test(s))).toBe(true);

    const [report] = verifyPdfSignatures(pdf);
    expect(report).toMatchObject({ valid: true, problems: [] });
    expect(report!.revocation).toMatchObject({ verdict: 'good', atSource: 'timestamp', at: report!.timestamp!.time });
    expect(report!.revocation!.chain).toEqual([
      expect.objectContaining({ status: 'good', source: 'ocsp', revokedBeforeSigning: false }),
    ]);

    const poppler = pdfsig(pdf);
    expect(poppler.signatures).toHaveLength(1);
    expect(poppler.raw).toMatch(/Signature is Valid/);
    expect(poppler.signatures[0]!.totalDocumentSigned).toBe(false);
  });

  it('adds a document timestamp over the DSS for B-LTA, and every revision stays valid', async () => {
    const signed = await seal(fixture, good, 'lta');
    const pdf = await addLongTermValidation(signed, {
      revocation: httpRevocationSource(fast),
      documentTimestamp: tsa,
    });
    const reports = verifyPdfSignatures(pdf);
    expect(reports.map((r) => [r.subFilter, r.valid])).toEqual([
      ['ETSI.CAdES.detached', true],
      ['ETSI.RFC3161', true],
    ]);
    expect(reports[1]!.coversWholeDocument).toBe(true);
    expect(dssOf(pdf).present).toBe(true);
    // A second round (the LTA renewal) extends the DSS with the document timestamp's TSA chain and keeps the rest.
    const renewed = await addLongTermValidation(pdf, { revocation: httpRevocationSource(fast) });
    const dss = dssOf(renewed);
    expect(dss.vri.size).toBe(2);
    expect(dss.ocsps).toHaveLength(2); // the TSA's answer is shared, not stored twice
    expect(verifyPdfSignatures(renewed).map((r) => [r.valid, r.revocation?.verdict])).toEqual([
      [true, 'good'],
      [true, 'good'],
    ]);
    // poppler cannot validate ETSI.RFC3161 document timestamps; the signature before it stays valid.
    const poppler = pdfsig(renewed);
    expect(poppler.signatures.map((s) => s.validation)).toEqual([
      'Signature is Valid.',
      'Signature has not yet been verified.',
    ]);
  });

  it('works on PDFs written by ghostscript and by LibreOffice', async () => {
    for (const source of ['ghostscript-no-form.pdf', 'libreoffice-no-form.pdf']) {
      const original = new Uint8Array(readFileSync(join(import.meta.dirname, '../../core/test/fixtures', source)));
      const signed = await seal(original, good, 'other');
      const pdf = await addLongTermValidation(signed, { revocation: httpRevocationSource(fast) });
      const [report] = verifyPdfSignatures(pdf);
      expect(report).toMatchObject({ valid: true, revocation: { verdict: 'good' } });
      expect(pdfsig(pdf).signatures[0]!.validation).toBe('Signature is Valid.');
      expect(dssOf(pdf).vri.size).toBe(1);
    }
  });

  it('falls back to the CRL when the OCSP responder is down, and openssl crl reads the stored CRL', async () => {
    const signed = await seal(fixture, good, 'crl');
    ca.mode.ocsp = 'down';
    try {
      const pdf = await addLongTermValidation(signed, { revocation: httpRevocationSource(fast) });
      const dss = dssOf(pdf);
      expect(dss.ocsps).toHaveLength(0);
      expect(dss.crls).toHaveLength(1); // one CRL for both certificates of the same CA
      const text = execFileSync(
        'openssl',
        ['crl', '-inform', 'DER', '-in', tempFile('c.crl', dss.crls[0]!), '-noout', '-issuer'],
        {
          encoding: 'utf8',
        },
      );
      expect(text).toContain('sealflow test CA');
      expect(verifyPdfSignatures(pdf)[0]!.revocation).toMatchObject({
        verdict: 'good',
        chain: [expect.objectContaining({ source: 'crl', status: 'good' })],
      });
    } finally {
      ca.mode.ocsp = 'up';
    }
  });
});

describe('revoked signers', () => {
  it('reports a signer revoked before the timestamped signing time as invalid, with the typed reason', async () => {
    const cert = ca.issue('已吊销签章');
    ca.revoke(cert, new Date(Date.now() - 3_600_000));
    const signed = await seal(fixture, identityOf(cert), 'revoked');
    expect(verifyPdfSignatures(signed)[0]!.valid).toBe(true); // B-T alone knows nothing of it
    const pdf = await addLongTermValidation(signed, { revocation: httpRevocationSource(fast) });
    const [report] = verifyPdfSignatures(pdf);
    expect(report!.valid).toBe(false);
    expect(report!.revocation!.verdict).toBe('revoked-before-signing');
    expect(report!.revocation!.chain[0]).toMatchObject({ status: 'revoked', revokedBeforeSigning: true });
    expect(report!.problems.join(' ')).toContain('[CERTIFICATE_REVOKED]');
    const dss = dssOf(pdf);
    expect(dss.ocsps.map((r) => opensslOcspStatus(r, cert)).join('\n')).toMatch(/: revoked/);
  });

  it('keeps a signature valid when its signer was revoked after the signing time, and says so', async () => {
    const cert = ca.issue('后吊销签章');
    const signed = await seal(fixture, identityOf(cert), 'later');
    const signedAt = Date.parse(verifyPdfSignatures(signed)[0]!.timestamp!.time);
    ca.revoke(cert, new Date(signedAt + 60_000));
    const pdf = await addLongTermValidation(signed, { revocation: httpRevocationSource(fast) });
    const [report] = verifyPdfSignatures(pdf);
    expect(report).toMatchObject({ valid: true, problems: [] });
    expect(report!.revocation!.verdict).toBe('revoked-after-signing');
    expect(report!.revocation!.chain[0]).toMatchObject({
      status: 'revoked',
      revokedAt: new Date(Math.floor((signedAt + 60_000) / 1000) * 1000).toISOString(),
      revokedBeforeSigning: false,
    });
  });
});

describe('revocation sources', () => {
  it('retries an OCSP responder that is down, then fails with REVOCATION_UNAVAILABLE; the signature stays B-T', async () => {
    const signed = await seal(fixture, good, 'down');
    ca.mode.ocsp = 'down';
    const before = ca.requests.ocsp;
    try {
      const error = await addLongTermValidation(signed, {
        revocation: httpRevocationSource({ ...fast, crl: false, retries: 2 }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RevocationError);
      expect(error).toMatchObject({ code: 'REVOCATION_UNAVAILABLE', retryable: true });
      expect((error as Error).message).toContain('/ocsp');
      // One signer certificate: the first try and two retries, and no further certificate asked after the failure.
      expect(ca.requests.ocsp - before).toBe(3);
      expect(verifyPdfSignatures(signed)[0]).toMatchObject({ valid: true, revocation: { verdict: 'no-data' } });
    } finally {
      ca.mode.ocsp = 'up';
    }
  });

  it("refuses a CRL that is another CA's", async () => {
    ca.mode.crl = otherCa.crl();
    try {
      const source = httpRevocationSource({ ...fast, ocsp: false });
      await expect(source.fetch(goodCert.der, ca.caDer)).rejects.toMatchObject({
        code: 'REVOCATION_RESPONSE_MISMATCH',
      });
    } finally {
      ca.mode.crl = 'up';
    }
    const supplied = staticRevocationSource({ crls: [otherCa.crl()] });
    await expect(supplied.fetch(goodCert.der, ca.caDer)).rejects.toMatchObject({ code: 'REVOCATION_NOT_AVAILABLE' });
    const own = staticRevocationSource({ crls: [otherCa.crl(), ca.crl()] });
    expect((await own.fetch(goodCert.der, ca.caDer)).crls).toHaveLength(1);
  });

  it('refuses an OCSP response whose signature was tampered with, or that is about another certificate', async () => {
    const { ocspResponses } = await httpRevocationSource(fast).fetch(goodCert.der, ca.caDer);
    const response = Buffer.from(ocspResponses[0]!);
    // Change a digit of producedAt (the first GeneralizedTime), inside the signed tbsResponseData.
    const tampered = Buffer.from(response);
    const producedAt = tampered.indexOf(Buffer.from([0x18, 0x0f]));
    tampered[producedAt + 5] = tampered[producedAt + 5] === 0x30 ? 0x31 : 0x30;
    const otherCert = ca.issue('另一个签章');
    await expect(
      staticRevocationSource({ ocspResponses: [tampered] }).fetch(goodCert.der, ca.caDer),
    ).rejects.toMatchObject({
      code: 'REVOCATION_NOT_AVAILABLE',
    });
    await expect(
      staticRevocationSource({ ocspResponses: [response] }).fetch(otherCert.der, ca.caDer),
    ).rejects.toMatchObject({
      code: 'REVOCATION_NOT_AVAILABLE',
    });
    // Verified the other way round, with the error the HTTP source would give: the typed reasons.
    const { checkOcspResponse, certificateParts } = await import('../src/revocation/revocation-data.js');
    expect(() => checkOcspResponse(tampered, certificateParts(goodCert.der), certificateParts(ca.caDer))).toThrow(
      expect.objectContaining({ code: 'REVOCATION_RESPONSE_INVALID' }),
    );
    expect(() => checkOcspResponse(response, certificateParts(otherCert.der), certificateParts(ca.caDer))).toThrow(
      expect.objectContaining({ code: 'REVOCATION_RESPONSE_MISMATCH' }),
    );
  });

  it('names the missing issuer when a signature does not embed its chain', async () => {
    const bare = loadSigningIdentity({
      certificatePem: goodCert.certificatePem,
      privateKeyPem: goodCert.privateKeyPem,
    });
    const signed = await seal(fixture, bare, 'bare');
    await expect(addLongTermValidation(signed, { revocation: httpRevocationSource(fast) })).rejects.toMatchObject({
      code: 'REVOCATION_NOT_AVAILABLE',
      message: expect.stringContaining('options.certificates'),
    });
    const pdf = await addLongTermValidation(signed, {
      revocation: httpRevocationSource(fast),
      certificates: [ca.caPem],
    });
    expect(verifyPdfSignatures(pdf)[0]!.revocation!.verdict).toBe('good');
  });
});
