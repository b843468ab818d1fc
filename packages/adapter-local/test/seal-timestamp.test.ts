/**
 * PAdES baseline B-T: `sealPdf` with a `timestampAuthority` puts the TSA's token over the signature value into the
 * CMS as the unsigned signature-time-stamp attribute, `verifyPdfSignatures` reports its time and refuses a changed
 * token, and openssl (cms -verify for the signature, ts -verify for the token) and pdfsig agree.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type TimestampAuthority, TimestampError } from '@sealflow/core';
import {
  addDocumentTimestamp,
  httpTimestampAuthority,
  localSigner,
  type SigningIdentity,
  sealPdf,
  verifyPdfSignatures,
} from '../src/index.js';
import { readCmsSigner } from '../src/cms-reader.js';
import {
  createLocalTimestampAuthority,
  createTestSigningIdentity,
  type LocalTimestampAuthority,
} from '../src/testing/index.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { testOrganizationSigner } from '../../../fixtures/signers.js';
import { extractSignature, opensslVerify, pdfsig, requireTool, tempFile } from './helpers.js';

const TOKEN_OID = '1.2.840.113549.1.9.16.2.14';
const signingTime = new Date('2025-11-10T08:30:00Z');
let fixture: Uint8Array;
let identity: SigningIdentity;
let tsa: LocalTimestampAuthority;

beforeAll(() => {
  requireTool('openssl');
  requireTool('pdfsig');
  fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  identity = createTestSigningIdentity({ commonName: '平台签章', organization: '某某科技有限公司', keyType: 'rsa' });
  tsa = createLocalTimestampAuthority();
});

function seal(pdf: Uint8Array, name: string, timestampAuthority: TimestampAuthority = tsa): Promise<Uint8Array> {
  return sealPdf(pdf, {
    identity,
    field: { name, page: 7, rect: { x: 80, y: 90 + (name === 'second' ? 160 : 0), width: 140, height: 140 } },
    signingTime,
    timestampAuthority,
  });
}

describe('sealPdf with a timestampAuthority (PAdES B-T)', () => {
  it('embeds a token over the signature value that openssl ts -verify accepts, and reports its time', async () => {
    const before = Date.now();
    const pdf = await seal(fixture, 'first');
    const [report] = verifyPdfSignatures(pdf);
    expect(report).toMatchObject({ valid: true, problems: [], coversWholeDocument: true });
    expect(report!.timestamp?.tsaName).toContain('CN=sealflow local TSA');
    const time = Date.parse(report!.timestamp!.time);
    expect(time).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);

    const { cms } = extractSignature(pdf, 0);
    expect(opensslVerify(pdf, 0).ok).toBe(true);
    const signer = readCmsSigner(cms);
    const token = signer.unsignedAttributes.find((a) => a.type === TOKEN_OID)?.value;
    expect(token).toBeDefined();
    const imprint = createHash('sha256').update(signer.signature).digest('hex');
    const r = spawnSync(
      'openssl',
      [
        'ts',
        '-verify',
        '-digest',
        imprint,
        '-in',
        tempFile('token.der', token!),
        '-token_in',
        '-CAfile',
        tempFile('root.pem', tsa.rootCertificatePem),
      ],
      { encoding: 'utf8' },
    );
    expect(`${r.stdout}${r.stderr}`).toContain('Verification: OK');

    const printed = spawnSync(
      'openssl',
      ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', tempFile('sig.der', cms)],
      { encoding: 'utf8' },
    ).stdout;
    expect(printed).toMatch(/unsignedAttrs:\s*\n\s*object: id-smime-aa-timeStampToken/);
  });

  it('keeps both signatures of a twice-sealed document valid and timestamped, in pdfsig too', async () => {
    const pdf = await seal(await seal(fixture, 'first'), 'second');
    const reports = verifyPdfSignatures(pdf);
    expect(reports.map((r) => [r.fieldName, r.valid, r.timestamp !== undefined])).toEqual([
      ['first', true, true],
      ['second', true, true],
    ]);
    const poppler = pdfsig(pdf);
    expect(poppler.signatures.map((s) => s.validation)).toEqual(['Signature is Valid.', 'Signature is Valid.']);
  });

  it('reports a changed token as a problem, though the signature itself still verifies', async () => {
    const pdf = Buffer.from(await seal(fixture, 'first'));
    const { cms } = extractSignature(pdf, 0);
    const token = readCmsSigner(cms).unsignedAttributes.find((a) => a.type === TOKEN_OID)!.value;
    // Flip the last digit of the token's genTime (inside the TSA-signed TSTInfo) in the hex of /Contents.
    const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
    const genTimeAt = token.findIndex(
      (b, i) => b === 0x18 && token[i + 1]! >= 15 && token[i + 1]! <= 19 && token.slice(i + 2, i + 16).every(isDigit),
    );
    expect(genTimeAt).toBeGreaterThan(0);
    const tokenHex = Buffer.from(token).toString('hex');
    const changedToken = Buffer.from(token);
    const at = genTimeAt + 2 + 13;
    changedToken[at] = changedToken[at] === 0x30 ? 0x31 : 0x30;
    const text = pdf.toString('latin1');
    const where = text.indexOf(tokenHex);
    expect(where).toBeGreaterThan(0);
    pdf.write(changedToken.toString('hex'), where, 'latin1');

    const [report] = verifyPdfSignatures(pdf);
    expect(report!.valid).toBe(false);
    expect(report!.timestamp).toBeUndefined();
    expect(report!.problems.join('\n')).toMatch(/signature timestamp is not valid \[TIMESTAMP_SIGNATURE_INVALID\]/);
  });

  it('fails with a retryable TimestampError when the TSA is down', async () => {
    const down = httpTimestampAuthority({ url: 'http://127.0.0.1:9/tsa', timeoutMs: 2000 });
    const error = await seal(fixture, 'first', down).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimestampError);
    expect(error).toMatchObject({ code: 'TSA_UNAVAILABLE', retryable: true });
  });

  it('refuses a token for another digest from any TimestampAuthority (TSA_RESPONSE_MISMATCH)', async () => {
    const wrong: TimestampAuthority = {
      name: 'wrong',
      timestamp: (_digest, options) => tsa.timestamp(createHash('sha256').update('other').digest(), options),
      verify: (token, digest) => tsa.verify(token, digest),
    };
    const error = await seal(fixture, 'first', wrong).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'TSA_RESPONSE_MISMATCH', retryable: false });
  });
});

describe('localSigner with a timestampAuthority', () => {
  const platform = testOrganizationSigner('platform', 1, [{ documentKey: 'contract', keyword: '盖章', offsetX: 40 }]);
  const ctx = (idempotencyKey: string) => ({ idempotencyKey });

  async function createFlow(timestampAuthority: TimestampAuthority) {
    const vendor = localSigner({ seals: { 'platform-seal': { identity } }, timestampAuthority });
    const document = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const input = { title: '借款合同', businessNo: 'LN1', documents: [document], signers: [platform] };
    return { vendor, flow: vendor.createFlow(input, ctx('c')) };
  }

  it('timestamps every signature of a flow', async () => {
    const { vendor, flow } = await createFlow(tsa);
    const created = await flow;
    expect(created.status).toBe('completed');
    const [signed] = await vendor.downloadSigned(created.flowId, ctx('d'));
    const [report] = verifyPdfSignatures(signed!.bytes);
    expect(report).toMatchObject({ valid: true, fieldName: 'sealflow_platform_1' });
    expect(report!.timestamp?.tsaName).toContain('CN=sealflow local TSA');
  });

  it('reports a TSA that is down as VENDOR_UNAVAILABLE (retryable), with the TSA code', async () => {
    const down = httpTimestampAuthority({ url: 'http://127.0.0.1:9/tsa', timeoutMs: 2000 });
    const { flow } = await createFlow(down);
    await expect(flow).rejects.toMatchObject({
      code: 'VENDOR_UNAVAILABLE',
      retryable: true,
      details: { vendorCode: 'TSA_UNAVAILABLE' },
    });
  });
});

describe('addDocumentTimestamp (/DocTimeStamp, ETSI.RFC3161)', () => {
  it('timestamps a sealed document as its own revision, checked by verifyPdfSignatures and openssl ts', async () => {
    const sealed = await seal(fixture, 'first');
    const pdf = await addDocumentTimestamp(sealed, { timestampAuthority: tsa });
    expect(Buffer.from(pdf.subarray(0, sealed.length)).equals(Buffer.from(sealed))).toBe(true);
    const reports = verifyPdfSignatures(pdf);
    expect(reports.map((r) => [r.fieldName, r.subFilter, r.valid, r.coversWholeDocument])).toEqual([
      ['first', 'ETSI.CAdES.detached', true, false],
      ['DocTimeStamp1', 'ETSI.RFC3161', true, true],
    ]);
    expect(reports[1]!.signer).toContain('CN=sealflow local TSA');

    const { cms: token, signed } = extractSignature(pdf, 1);
    const r = spawnSync(
      'openssl',
      [
        'ts',
        '-verify',
        '-data',
        tempFile('signed.bin', signed),
        '-in',
        tempFile('doc-token.der', token),
        '-token_in',
        '-CAfile',
        tempFile('root.pem', tsa.rootCertificatePem),
      ],
      { encoding: 'utf8' },
    );
    expect(`${r.stdout}${r.stderr}`).toContain('Verification: OK');

    // poppler 22.12 lists the document timestamp with the TSA as signer but cannot validate ETSI.RFC3161 ("Signature
    // Type: unknown", "not yet been verified"); the signature before it stays valid.
    const poppler = pdfsig(pdf);
    expect(poppler.signatures.map((s) => [s.validation, s.commonName, s.totalDocumentSigned])).toEqual([
      ['Signature is Valid.', '平台签章', false],
      ['Signature has not yet been verified.', 'sealflow local TSA', true],
    ]);
  });

  it('reports a document changed after its timestamp', async () => {
    const pdf = Buffer.from(await addDocumentTimestamp(fixture, { timestampAuthority: tsa }));
    pdf[10] = 0x82; // a byte of the binary comment after %PDF-1.7: covered by the timestamp, harmless to parsers
    const [report] = verifyPdfSignatures(pdf);
    expect(report!.valid).toBe(false);
    expect(report!.problems.join('\n')).toMatch(/document timestamp is not valid \[TIMESTAMP_IMPRINT_MISMATCH\]/);
  });
});
