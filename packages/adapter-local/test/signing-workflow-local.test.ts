/**
 * The whole signing workflow offline: templates approved, values validated, contracts rendered, sealed as PAdES by
 * `localSigner` (borrower on the customer's authorised behalf, then the platform or the funder), verified with the
 * injected `verifyPdfSignatures`, archived, and the archived PDFs checked again with poppler's `pdfsig` and
 * `openssl cms -verify`.
 */
import { readFileSync } from 'node:fs';
import {
  createSealflow,
  createSigningGateway,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
  type SignRequest,
  type SigningGatewayOptions,
  type SigningRecord,
  type SigningVendor,
} from '@sealflow/core';
import {
  createManualClock,
  createMemoryDocumentStore,
  createMemoryPersistence,
  type ManualClock,
} from '@sealflow/core/memory';
import { type LostResponsesVendor, withLostResponses } from '@sealflow/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { localSigner, verifyPdfSignatures } from '../src/index.js';
import { createSealImage, createTestSigningIdentity } from '../src/testing/index.js';
import { opensslSignerCertificate, opensslVerify, pdfsig, requireTool } from './helpers.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';

const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const idNumber = withIdNumberCheckChar;
const creditCode = withCreditCodeCheckChar;
const identity = (commonName: string, organization: string, keyType: 'rsa' | 'ec' = 'rsa') =>
  createTestSigningIdentity({ commonName, organization, keyType });

const editor = { id: 'alice', roles: ['template-editor'] };
const legal = { id: 'lee', roles: ['legal'] };
const risk = { id: 'ray', roles: ['risk'] };

const definition = sealedContractDefinition;

/** pdfsig and openssl both say every signature is valid; only the last one covers the whole file. */
function expectVerifiedByTools(bytes: Uint8Array, count: number): void {
  const report = pdfsig(bytes);
  expect(report.signatures, report.raw).toHaveLength(count);
  report.signatures.forEach((signature, i) => {
    expect(signature.validation, report.raw).toBe('Signature is Valid.');
    expect(signature.subFilter).toBe('ETSI.CAdES.detached');
    expect(signature.totalDocumentSigned, report.raw).toBe(i === count - 1);
    const o = opensslVerify(bytes, i);
    expect(o.ok, o.output).toBe(true);
  });
}

async function setup(
  wrap: (vendor: SigningVendor, clock: ManualClock) => SigningVendor = (v) => v,
  gatewayOptions: SigningGatewayOptions = {},
) {
  const clock = createManualClock(Date.UTC(2026, 2, 2, 8, 30));
  const persistence = createMemoryPersistence();
  const documents = createMemoryDocumentStore({ clock });
  const image = createSealImage({ size: 160 });
  const vendor = localSigner({
    seals: {
      'platform-seal': { identity: identity('某某消费金融股份有限公司', '某某消费金融股份有限公司', 'ec'), image },
      'funder-seal': { identity: identity('某某银行股份有限公司', '某某银行股份有限公司'), image },
    },
    personIdentity: identity('某某消费金融 代签', '某某消费金融股份有限公司'),
    signingTime: () => new Date(clock.now()),
  });
  const { runtime, templates, signing } = await createSealflow({
    persistence,
    documents,
    // The gateway made here, so its waits and per-try timeouts run on real timers while the workflow's run on the clock.
    vendors: { local: createSigningGateway(wrap(vendor, clock), { clock, ...gatewayOptions }) },
    hashKey: 'adapter-local-test-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: creditCode('91310000MA1FL0000'),
        sealId: 'platform-seal',
      },
    },
    seals: { 'funder-seal': { owner: { funderId: 'bank-1' } } },
    approvalLevels: [
      { name: 'legal', roles: ['legal'] },
      { name: 'risk', roles: ['risk'] },
    ],
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    clock, // also the scheduler of the runtime's timers and effect timeouts
    logger: silentLogger,
    start: false, // drain() drives the worker
  });
  const approve = async (code: string, documentType: string, roles: string[]) => {
    const draft = await templates.importTemplate(editor, {
      code,
      name: code,
      documentType,
      pdf,
      definition: definition(roles),
    });
    await templates.submit(editor, draft.id);
    await templates.approve(legal, draft.id);
    await templates.approve(risk, draft.id);
    return draft.id;
  };
  const versions = {
    credit: await approve('CREDIT_CONTRACT_V', 'CREDIT_CONTRACT', ['platform']),
    query: await approve('DATA_QUERY_V', 'DATA_QUERY_AUTHORIZATION', ['platform']),
    loan: await approve('LOAN_CONTRACT_V', 'LOAN_CONTRACT', ['platform', 'funder']),
  };
  const drain = async () => {
    for (let i = 0; i < 30; i++) {
      const pass = await runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  const request = (overrides: Partial<SignRequest>, shown: string[]): SignRequest => ({
    businessNo: 'LN-LOCAL-1',
    scene: 'LOAN_CONTRACT',
    borrower: { name: '欧阳娜娜', idNumber: idNumber('31010119900307002'), mobile: '13912345678' },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: { at: clock.now(), channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: shown },
    actor: { id: 'lending-system' },
    ...overrides,
  });
  return { clock, documents, signing, versions, drain, request };
}

/** Every vendor call's first answer is lost after the signer did the work; one gateway try, so whole effects re-run. */
async function lossySetup() {
  let lossy: LostResponsesVendor | undefined;
  const flowIds = new Set<string>();
  const s = await setup(
    (vendor, clock) => {
      const counting: SigningVendor = {
        ...vendor,
        id: vendor.id,
        capabilities: vendor.capabilities,
        async createFlow(input, context) {
          const flow = await vendor.createFlow(input, context);
          flowIds.add(flow.flowId);
          return flow;
        },
      };
      lossy = withLostResponses(counting, { onLost: () => clock.advance(90_000) });
      return lossy;
    },
    { retry: { attempts: 1 } },
  );
  const settle = async (recordId: string, until: (r: SigningRecord) => boolean) => {
    for (let i = 0; i < 60; i++) {
      await s.drain();
      const record = (await s.signing.get(recordId))!;
      if (until(record)) return record;
      s.clock.advance(30_000);
    }
    throw new Error(`signing ${recordId} did not settle`);
  };
  return { ...s, lossy: lossy!, flowIds, settle };
}

beforeAll(() => {
  requireTool('pdfsig');
  requireTool('openssl');
});

describe('signing workflow with the local PAdES signer, offline end to end', () => {
  it('signs the credit grant bundle; both archived PDFs verify with pdfsig and openssl', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-LOCAL-1' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done).toMatchObject({ status: 'COMPLETED', vendor: { id: 'local' } });
    expect(done.signed.map((d) => [d.documentKey, d.signatures])).toEqual([
      ['credit-contract', 2],
      ['data-query-authorization', 2],
    ]);
    const files = await s.signing.download(record.id);
    for (const file of files) expectVerifiedByTools(file.bytes, 2);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('waits for the funder, who signs with its own seal; the borrower signature stays valid', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request(
        {
          funding: 'funder',
          funder: { id: 'bank-1', name: '某某银行股份有限公司', creditCode: creditCode('91110000100000000') },
        },
        [s.versions.loan],
      ),
    );
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');
    s.clock.advance(3_600_000);
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: 'bank-1' }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    const [file] = await s.signing.download(record.id);
    expectVerifiedByTools(file!.bytes, 2);
    const signers = pdfsig(file!.bytes).signatures.map((sig) => sig.commonName);
    expect(signers).toEqual(['某某消费金融 代签', '某某银行股份有限公司']);
    // The record names the funder's seal and the certificate that openssl finds in the funder's signature.
    const certificate = opensslSignerCertificate(file!.bytes, 1);
    expect(done.sealsUsed).toEqual([
      {
        role: 'funder',
        sealId: 'funder-seal',
        certificateSha256: certificate.sha256,
        certificateSerial: certificate.serial,
      },
    ]);
    const exported = await s.signing.exportEvidencePackage(record.id);
    expect(exported.manifest.entries.find((e) => e.type === 'vendor.sealed')?.data).toMatchObject({
      seals: done.sealsUsed,
    });
    expect(exported.files.map((f) => f.name)).toEqual(['rendered/loan-contract.pdf', 'signed/loan-contract.pdf']);
    expectVerifiedByTools(exported.files[1]!.bytes, 2);
  });

  it('re-runs every vendor call whose answer was lost with the same request: one flow, COMPLETED, valid', async () => {
    const s = await lossySetup();
    const record = await s.signing.sign(
      s.request(
        {
          businessNo: 'LN-LOCAL-LOST',
          funding: 'funder',
          funder: { id: 'bank-1', name: '某某银行股份有限公司', creditCode: creditCode('91110000100000000') },
        },
        [s.versions.loan],
      ),
    );
    const final = (r: SigningRecord) => r.status === 'COMPLETED' || r.status === 'FAILED';
    const waiting = await s.settle(record.id, (r) => r.status === 'AWAITING_FUNDER' || final(r));
    expect(waiting.failure).toBeNull();
    expect(waiting.status).toBe('AWAITING_FUNDER');
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: 'bank-1' }, record.id, { sealId: 'funder-seal' });
    const done = await s.settle(record.id, final);
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(new Set(s.lossy.lost.map((c) => c.method))).toEqual(
      new Set(['uploadDocument', 'createFlow', 'appendSigner', 'downloadSigned']),
    );
    expect(s.lossy.conflicts()).toEqual([]);
    expect([...s.flowIds]).toEqual([done.vendor.flowId]);
    const [file] = await s.signing.download(record.id);
    expectVerifiedByTools(file!.bytes, 2);
  });

  it('refuses signed output whose signatures no longer verify: FAILED, nothing archived', async () => {
    // A vendor whose download is damaged after sealing (a transport or storage fault at the vendor).
    const s = await setup((vendor) => ({
      ...vendor,
      id: vendor.id,
      capabilities: vendor.capabilities,
      async downloadSigned(flowId, context) {
        return (await vendor.downloadSigned(flowId, context)).map((d) => {
          const bytes = new Uint8Array(d.bytes);
          const at = bytes.length - 20; // inside the last revision's trailer, covered by the last signature
          bytes[at] = bytes[at] === 0x31 ? 0x32 : 0x31;
          return { ...d, bytes };
        });
      },
    }));
    const archivedBefore = s.documents.size();
    const record = await s.signing.sign(s.request({ businessNo: 'LN-LOCAL-2' }, [s.versions.loan]));
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({
      status: 'FAILED',
      failure: { code: 'SIGNATURE_INVALID', stage: 'verifying' },
      signed: [],
    });
    expect(s.documents.size()).toBe(archivedBefore + 1); // only the rendered contract
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });
});
