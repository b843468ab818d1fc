import { readFileSync } from 'node:fs';
import { createSigningGateway, SealflowError, type SignerSpec } from '@sealflow/core';
import { runSigningVendorContract } from '@sealflow/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type LocalFlowRecord,
  type LocalFlowStore,
  localSigner,
  loadSigningIdentity,
  memoryLocalFlowStore,
  type SigningIdentity,
  verifyPdfSignatures,
} from '../src/index.js';
import { createSealImage, createTestIdentity } from '../src/testing/index.js';
import { opensslSignerCertificate, opensslVerify, pdfsig, requireTool } from './helpers.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEST_BORROWER, testOrganizationSigner } from '../../../fixtures/signers.js';

const FIXTURE = CONTRACT_TEMPLATE_PDF;
const fixture = readFileSync(FIXTURE);
const signingTime = () => new Date('2026-03-02T08:30:00Z');

const identity = (commonName: string, organization: string, keyType: 'rsa' | 'ec' = 'rsa'): SigningIdentity => {
  const t = createTestIdentity({ commonName, organization, keyType });
  return loadSigningIdentity({ pkcs12: t.pkcs12, password: t.password });
};
// The platform's signing certificate signs for borrowers on their authorised behalf; its seal certificate seals.
const proxy = identity('某某消费金融 代签', '某某消费金融股份有限公司');
const platformSeal = identity('某某消费金融股份有限公司', '某某消费金融股份有限公司', 'ec');
const funderSeal = identity('某某银行股份有限公司', '某某银行股份有限公司');
const sealImage = createSealImage({ size: 200 });
const seals = {
  'platform-seal': { identity: platformSeal, image: sealImage },
  'funder-seal': { identity: funderSeal, image: sealImage },
};

const borrower = TEST_BORROWER;
const platform = testOrganizationSigner('platform', 2, [{ documentKey: 'contract', keyword: '盖章', offsetX: 40 }]);
const funder = testOrganizationSigner('funder', 3, [{ documentKey: 'contract', field: 'signPlace' }]);

/** pdfsig, openssl and our own verifier all say every signature is valid; the last one covers the whole file. */
function expectAllValid(pdf: Uint8Array, count: number): void {
  const report = pdfsig(pdf);
  expect(report.signatures, report.raw).toHaveLength(count);
  report.signatures.forEach((s, i) => {
    expect(s.validation, report.raw).toBe('Signature is Valid.');
    expect(s.subFilter).toBe('ETSI.CAdES.detached');
    expect(s.totalDocumentSigned, report.raw).toBe(i === count - 1);
    const o = opensslVerify(pdf, i);
    expect(o.ok, o.output).toBe(true);
  });
  const ours = verifyPdfSignatures(pdf);
  expect(ours.map((r) => r.problems)).toEqual(ours.map(() => []));
}

beforeAll(() => {
  requireTool('pdfsig');
  requireTool('openssl');
});

runSigningVendorContract({
  name: 'local',
  create: async () => ({
    vendor: localSigner({ seals, personIdentity: proxy, signingTime }),
    samplePdf: fixture,
    signers: [borrower, platform],
    funder,
  }),
  verifyPdf: (bytes, flow) => {
    const placements = flow.signers.flatMap((s) => s.placements.filter((p) => p.documentKey === flow.documentKey));
    expectAllValid(bytes, placements.length);
  },
});

describe('localSigner', () => {
  const ctx = (idempotencyKey: string) => ({ idempotencyKey });

  async function started(options: { store?: LocalFlowStore; signers?: SignerSpec[]; key?: string } = {}) {
    const gateway = createSigningGateway(
      localSigner({ seals, personIdentity: proxy, signingTime, ...(options.store ? { store: options.store } : {}) }),
    );
    const document = await gateway.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: fixture },
      ctx('upload-1'),
    );
    const flow = await gateway.createFlow(
      {
        title: '借款合同 LN2026030200001',
        businessNo: 'LN2026030200001',
        documents: [document],
        signers: options.signers ?? [borrower, platform, { ...funder, autoSign: false }],
      },
      ctx(options.key ?? 'create-1'),
    );
    return { gateway, flow };
  }

  it('seals borrower and platform on the fixture, then the funder later; every signature stays valid', async () => {
    const { gateway, flow } = await started();
    expect(flow.status).toBe('signing');
    const at = signingTime().getTime();
    expect(flow.signers).toEqual([
      { role: 'borrower', status: 'signed', signedAt: at },
      { role: 'platform', status: 'signed', signedAt: at, seal: expect.objectContaining({ sealId: 'platform-seal' }) },
      { role: 'funder', status: 'signing' },
    ]);
    await expect(gateway.downloadSigned(flow.flowId, ctx('download-early'))).rejects.toMatchObject({
      code: 'VENDOR_REJECTED',
      retryable: false,
    });

    const done = await gateway.appendSigner(flow.flowId, funder, ctx('funder-signs'));
    expect(done.status).toBe('completed');
    const [signed] = await gateway.downloadSigned(flow.flowId, ctx('download'));
    if (!signed) throw new Error('no signed document');
    expect(Buffer.from(signed.bytes.subarray(0, fixture.length)).equals(fixture)).toBe(true);
    expectAllValid(signed.bytes, 3);
    const report = pdfsig(signed.bytes);
    expect(report.signatures.map((s) => s.commonName)).toEqual([
      '某某消费金融 代签',
      '某某消费金融股份有限公司',
      '某某银行股份有限公司',
    ]);
    const fields = verifyPdfSignatures(signed.bytes).map((r) => r.fieldName);
    expect(fields).toEqual(['sealflow_borrower_1', 'sealflow_platform_1', 'sealflow_funder_1']);

    // The flow reports, per organisation, the seal and the certificate that openssl finds in its signature.
    const reported = (role: string) => done.signers.find((s) => s.role === role)?.seal;
    for (const [role, sealId, index] of [
      ['platform', 'platform-seal', 1],
      ['funder', 'funder-seal', 2],
    ] as const) {
      const certificate = opensslSignerCertificate(signed.bytes, index);
      expect(reported(role)).toEqual({
        sealId,
        certificateSha256: certificate.sha256,
        certificateSerial: certificate.serial,
      });
    }
    expect(reported('borrower')).toBeUndefined();
  });

  it('places a keyword seal over the last occurrence and a field seal in the field box', async () => {
    const { gateway, flow } = await started({ signers: [platform, { ...funder, order: 3 }] });
    const [signed] = await gateway.downloadSigned(flow.flowId, ctx('download'));
    const text = Buffer.from(signed?.bytes ?? []).toString('latin1');
    // "盖章" is last printed on page 8 at x 73–95, y 238–250: the seal is centred there, moved 40 pt right.
    expect(text).toMatch(/\/T \(sealflow_platform_1\)[\s\S]*?\/Rect \[64\.5 184\.59 183\.5 303\.59\]/);
    // signPlace is a text field at 149.75, 299.75, 250.5 × 18.5.
    expect(text).toMatch(/\/T \(sealflow_funder_1\)[\s\S]*?\/Rect \[149\.75 299\.75 400\.25 318\.25\]/);
  });

  it('creates one flow for concurrent requests with the same key', async () => {
    const signer = localSigner({ seals, personIdentity: proxy, signingTime });
    const document = await signer.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const input = { title: 't', businessNo: 'B1', documents: [document], signers: [borrower, platform] };
    const [a, b] = await Promise.all([signer.createFlow(input, ctx('same')), signer.createFlow(input, ctx('same'))]);
    expect(b.flowId).toBe(a.flowId);
    const [signed] = await signer.downloadSigned(a.flowId, ctx('d'));
    expect(verifyPdfSignatures(signed?.bytes ?? new Uint8Array())).toHaveLength(2);
    await expect(signer.createFlow({ ...input, businessNo: 'B2' }, ctx('same'))).rejects.toMatchObject({
      code: 'VENDOR_REJECTED',
      details: { vendorCode: 'IDEMPOTENCY_KEY_REUSED' },
    });
  });

  it('keeps no name, ID number or mobile in its store', async () => {
    const inner = memoryLocalFlowStore();
    const flows: LocalFlowRecord[] = [];
    const store: LocalFlowStore = {
      ...inner,
      putFlow: async (record) => {
        flows.push(structuredClone(record));
        return inner.putFlow(record);
      },
    };
    await started({ store });
    const stored = JSON.stringify(flows, (_k, v: unknown) => (v instanceof Uint8Array ? undefined : v));
    expect(flows.length).toBeGreaterThan(0);
    for (const secret of [borrower.name, borrower.idNumber, borrower.mobile ?? ''])
      expect(stored).not.toContain(secret);
  });

  it('refuses what it cannot do, without retrying: unknown seal, missing field or keyword, waiting signer first', async () => {
    const cases: [SignerSpec[], string][] = [
      [[{ ...platform, sealId: 'nobody' }], 'SEAL_NOT_FOUND'],
      [[{ ...platform, placements: [{ documentKey: 'contract', field: 'noSuchField' }] }], 'FIELD_NOT_FOUND'],
      [[{ ...platform, placements: [{ documentKey: 'contract', keyword: '不存在的词' }] }], 'KEYWORD_NOT_FOUND'],
      [[{ ...platform, placements: [{ documentKey: 'contract', page: 99, x: 1, y: 1 }] }], 'INVALID_INPUT'],
    ];
    for (const [signers, vendorCode] of cases) {
      const error = await started({ signers, key: `bad-${vendorCode}` }).catch((e: unknown) => e);
      expect(error, vendorCode).toBeInstanceOf(SealflowError);
      expect(error).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false, details: { vendorCode } });
    }
    const late = await started({ signers: [{ ...borrower, autoSign: false }, platform], key: 'late' }).catch(
      (e: unknown) => e,
    );
    expect(late).toMatchObject({ code: 'VENDOR_UNSUPPORTED', retryable: false });
  });

  it('without personIdentity, declares no personAutoSign and the gateway refuses an auto-signed borrower', async () => {
    const vendor = localSigner({ seals, signingTime });
    expect(vendor.capabilities.personAutoSign).toBe(false);
    const gateway = createSigningGateway(vendor);
    const document = await gateway.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    await expect(
      gateway.createFlow({ title: 't', businessNo: 'B', documents: [document], signers: [borrower] }, ctx('c')),
    ).rejects.toMatchObject({ code: 'VENDOR_UNSUPPORTED', details: { capability: 'personAutoSign' } });
  });

  it('refuses to hand out a stored document whose signatures no longer verify', async () => {
    const inner = memoryLocalFlowStore();
    const { gateway, flow } = await started({ store: inner, signers: [borrower, platform] });
    const record = await inner.getFlow(flow.flowId);
    const document = record?.documents[0];
    if (!record || !document) throw new Error('flow not stored');
    document.bytes = Uint8Array.from(document.bytes);
    const at = Buffer.from(document.bytes).indexOf('/Type');
    document.bytes[at + 1] = 'X'.charCodeAt(0);
    await inner.putFlow(record);
    await expect(gateway.downloadSigned(flow.flowId, ctx('download'))).rejects.toMatchObject({
      code: 'VENDOR_FAILURE',
      retryable: false,
    });
  });

  it('expires an open flow after its deadline and then refuses the funder', async () => {
    let now = Date.UTC(2026, 2, 2);
    const gateway = createSigningGateway(
      localSigner({ seals, personIdentity: proxy, signingTime: () => new Date(now) }),
    );
    const document = await gateway.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const flow = await gateway.createFlow(
      {
        title: 't',
        businessNo: 'B',
        documents: [document],
        signers: [borrower, { ...funder, autoSign: false }],
        deadlineAt: now + 60_000,
      },
      ctx('c'),
    );
    now += 60_001;
    expect((await gateway.getFlow(flow.flowId, ctx('g'))).status).toBe('expired');
    await expect(gateway.appendSigner(flow.flowId, funder, ctx('a'))).rejects.toMatchObject({
      details: { vendorCode: 'FLOW_FINISHED' },
    });
  });
});
