/**
 * `verifyPdfSignatures` reads the CMS straight from its DER and keeps verdicts by the document's SHA-256: a damaged
 * signature value, a /Contents that is not a SignedData, and changed bytes must still fail, whatever was verified
 * before; and a verdict handed out must not be changeable by the caller that got it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { sealPdf, type SigningIdentity, verifyPdfSignatures } from '../src/index.js';
import { createTestSigningIdentity } from '../src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { opensslVerify, requireTool } from './helpers.js';

const signingTime = new Date('2025-11-10T08:30:00Z');
let fixture: Uint8Array;
let rsa: SigningIdentity;
let ec: SigningIdentity;

beforeAll(() => {
  requireTool('openssl');
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  rsa = createTestSigningIdentity({ commonName: '借款人', organization: '某某消费金融股份有限公司', keyType: 'rsa' });
  ec = createTestSigningIdentity({ commonName: '平台签章', organization: '某某科技有限公司', keyType: 'ec' });
});

function sealed(identity: SigningIdentity, pdf = fixture, name = 'sig'): Uint8Array {
  return sealPdf(pdf, {
    identity,
    field: { name, page: 7, rect: { x: 80, y: 90, width: 140, height: 140 } },
    signingTime,
  });
}

/** The CMS of the last signature as bytes, and a way to put changed CMS bytes back (same length). */
function contentsOf(pdf: Uint8Array): { cms: Buffer; withCms(cms: Buffer): Uint8Array } {
  const [, b = 0, c = 0] = verifyPdfSignatures(pdf).at(-1)!.byteRange;
  const cms = Buffer.from(Buffer.from(pdf.subarray(b + 1, c - 1)).toString('latin1'), 'hex');
  return {
    cms,
    withCms(changed) {
      const out = Uint8Array.from(pdf);
      out.set(Buffer.from(changed.toString('hex').toUpperCase(), 'latin1'), b + 1);
      return out;
    },
  };
}

describe('verifyPdfSignatures', () => {
  it('verifies RSA and EC signatures, one after the other in the same file, as openssl does', () => {
    const twice = sealed(ec, sealed(rsa), 'second');
    const reports = verifyPdfSignatures(twice);
    expect(reports.map((r) => [r.valid, r.coversWholeDocument, r.problems])).toEqual([
      [true, false, []],
      [true, true, []],
    ]);
    expect(reports.map((r) => r.signer)).toEqual([
      'CN=借款人,O=某某消费金融股份有限公司,C=CN',
      'CN=平台签章,O=某某科技有限公司,C=CN',
    ]);
    expect(opensslVerify(twice, 0).ok && opensslVerify(twice, 1).ok).toBe(true);
  });

  it('refuses a damaged signature value, though the same document was verified valid before', () => {
    const pdf = sealed(rsa);
    expect(verifyPdfSignatures(pdf)[0]!.valid).toBe(true);
    const { cms, withCms } = contentsOf(pdf);
    // The signature value is the last element of the SignerInfo: the bytes before the zero padding.
    const end = cms.length - [...cms].reverse().findIndex((byte) => byte !== 0);
    cms[end - 5] = cms[end - 5]! ^ 0x01;
    const damaged = withCms(cms);
    const report = verifyPdfSignatures(damaged)[0]!;
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual(['the CMS signature does not verify with the signer certificate']);
    expect(opensslVerify(damaged, 0).ok).toBe(false);
  });

  it('refuses a /Contents that is DER but not a CMS SignedData', () => {
    const pdf = sealed(rsa);
    const { cms, withCms } = contentsOf(pdf);
    const notSignedData = Buffer.alloc(cms.length);
    Buffer.from([0x30, 0x03, 0x06, 0x01, 0x2a]).copy(notSignedData);
    const report = verifyPdfSignatures(withCms(notSignedData))[0]!;
    expect(report.valid).toBe(false);
    expect(report.problems.join()).toMatch(/could not be parsed \(the CMS is not a SignedData\)/);
  });

  it('refuses a CMS whose outer element is not the SEQUENCE the grammar puts there', () => {
    const pdf = sealed(rsa);
    const { cms, withCms } = contentsOf(pdf);
    cms[0] = 0x31;
    const report = verifyPdfSignatures(withCms(cms))[0]!;
    expect(report.valid).toBe(false);
    expect(report.problems.join()).toMatch(/could not be parsed \(ContentInfo has tag 0x31, expected 0x30\)/);
  });

  it('hands out copies: a caller changing its report does not change the next verdict', () => {
    const pdf = sealed(rsa);
    const first = verifyPdfSignatures(pdf)[0]!;
    first.valid = false;
    first.problems.push('changed by a caller');
    first.byteRange[0] = 99;
    const again = verifyPdfSignatures(pdf)[0]!;
    expect([again.valid, again.problems, again.byteRange[0]]).toEqual([true, [], 0]);
  });
});
