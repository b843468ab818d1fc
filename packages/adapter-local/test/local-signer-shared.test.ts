/**
 * `localSigner` over `persistence` + `documents`: flows and their PDFs outlive the signer instance and are shared by
 * every instance on the same database, as when a lender runs several processes. Each "process" here is its own
 * `localSigner` (own in-process locks) over one persistence and one document store.
 */
import { readFileSync } from 'node:fs';
import {
  createSigningGateway,
  type DocumentStore,
  type Persistence,
  type SigningGateway,
  ValidationError,
} from '@sealflow/core';
import { createMemoryDocumentStore, createMemoryPersistence, type MemoryDocumentStore } from '@sealflow/core/memory';
import { runSigningVendorContract } from '@sealflow/core/testing';
import { describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEST_BORROWER, testOrganizationSigner } from '../../../fixtures/signers.js';
import { localSigner, persistentLocalFlowStore, verifyPdfSignatures } from '../src/index.js';
import { createSealImage, createTestSigningIdentity } from '../src/testing/index.js';

const fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const signingTime = () => new Date('2026-03-02T08:30:00Z');
const image = createSealImage({ size: 120 });
const seals = {
  'platform-seal': {
    identity: createTestSigningIdentity({ commonName: '某某消费金融股份有限公司', keyType: 'ec' }),
    image,
  },
  'funder-seal': { identity: createTestSigningIdentity({ commonName: '某某银行股份有限公司', keyType: 'ec' }), image },
};
const personIdentity = createTestSigningIdentity({ commonName: '某某消费金融 代签', keyType: 'ec' });

const borrower = TEST_BORROWER;
const platform = testOrganizationSigner('platform', 2, [{ documentKey: 'contract', page: 7, x: 60, y: 60 }]);
const funder = testOrganizationSigner('funder', 3, [{ documentKey: 'contract', page: 7, x: 200, y: 60 }]);

const ctx = (idempotencyKey: string) => ({ idempotencyKey });

/** One database and one document store, and a way to start a new "process" (signer instance) over them. */
function sharedStorage() {
  const persistence: Persistence = createMemoryPersistence();
  const documents: MemoryDocumentStore = createMemoryDocumentStore();
  const instance = (): SigningGateway =>
    createSigningGateway(localSigner({ seals, personIdentity, signingTime, persistence, documents }));
  return { persistence, documents, instance };
}

async function startLoan(signer: SigningGateway, key = 'loan-1') {
  const document = await signer.uploadDocument(
    { key: 'contract', fileName: '借款合同.pdf', bytes: fixture },
    ctx(`${key}-upload`),
  );
  const input = {
    title: '借款合同 LN2026030200001',
    businessNo: 'LN2026030200001',
    documents: [document],
    signers: [borrower, platform, { ...funder, autoSign: false }],
  };
  return { input, flow: await signer.createFlow(input, ctx(`${key}-create`)) };
}

async function signaturesOf(signer: SigningGateway, flowId: string): Promise<boolean[]> {
  const [signed] = await signer.downloadSigned(flowId, ctx(`download-${flowId}`));
  return verifyPdfSignatures(signed?.bytes ?? new Uint8Array()).map((s) => s.valid);
}

runSigningVendorContract({
  name: 'local (persistence + documents)',
  create: async () => ({
    vendor: localSigner({
      seals,
      personIdentity,
      signingTime,
      persistence: createMemoryPersistence(),
      documents: createMemoryDocumentStore(),
    }),
    samplePdf: fixture,
    signers: [borrower, platform],
    funder,
  }),
  verifyPdf: (bytes, flow) => {
    const placements = flow.signers.flatMap((s) => s.placements.filter((p) => p.documentKey === flow.documentKey));
    expect(verifyPdfSignatures(bytes).map((s) => s.valid)).toEqual(placements.map(() => true));
  },
});

describe('localSigner over persistence and a document store', () => {
  it('a flow created by one instance is signed by the funder through a second and downloaded from a third', async () => {
    const shared = sharedStorage();
    const { flow } = await startLoan(shared.instance());
    expect(flow.status).toBe('signing');

    const second = shared.instance();
    expect((await second.getFlow(flow.flowId, ctx('poll'))).status).toBe('signing');
    const done = await second.appendSigner(flow.flowId, funder, ctx('funder-signs'));
    expect(done.status).toBe('completed');

    expect(await signaturesOf(shared.instance(), flow.flowId)).toEqual([true, true, true]);
  });

  it('a createFlow retried after a restart returns the flow of its first attempt, sealed once', async () => {
    const shared = sharedStorage();
    const { input, flow } = await startLoan(shared.instance());
    const documentsBefore = shared.documents.size();

    const restarted = shared.instance();
    const upload = await restarted.uploadDocument(
      { key: 'contract', fileName: '借款合同.pdf', bytes: fixture },
      ctx('loan-1-upload'),
    );
    expect(upload.vendorFileId).toBe(input.documents[0]?.vendorFileId);
    const again = await restarted.createFlow(input, ctx('loan-1-create'));
    expect(again).toEqual(flow);
    expect(shared.documents.size()).toBe(documentsBefore);
    await expect(
      restarted.createFlow({ ...input, businessNo: 'LN-OTHER' }, ctx('loan-1-create')),
    ).rejects.toMatchObject({ code: 'VENDOR_REJECTED', details: { vendorCode: 'IDEMPOTENCY_KEY_REUSED' } });

    await restarted.appendSigner(flow.flowId, funder, ctx('funder-signs'));
    // The funder's call is retried on yet another instance: answered from the stored key, not signed again.
    const retried = await shared.instance().appendSigner(flow.flowId, funder, ctx('funder-signs'));
    expect(retried.status).toBe('completed');
    expect(await signaturesOf(restarted, flow.flowId)).toEqual([true, true, true]);
  });

  it('instances racing on one flow: one flow per key, the funder signs exactly once', async () => {
    const shared = sharedStorage();
    const instances = Array.from({ length: 4 }, () => shared.instance());
    const first = instances[0] as SigningGateway;
    const document = await first.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('u'));
    const input = {
      title: 't',
      businessNo: 'B1',
      documents: [document],
      signers: [borrower, platform, { ...funder, autoSign: false }],
    };
    const created = await Promise.all(instances.map((signer) => signer.createFlow(input, ctx('same-create'))));
    expect(new Set(created.map((f) => f.flowId)).size).toBe(1);
    const flowId = created[0]?.flowId ?? '';
    // The upload and one signed copy: the copies sealed by the instances that lost the race were removed.
    expect(shared.documents.size()).toBe(2);

    // Every instance receives the funder's signing call at once, two under the same key (a retry), two under others.
    const keys = ['funder-a', 'funder-a', 'funder-b', 'funder-c'];
    const results = await Promise.allSettled(
      instances.map((signer, i) => signer.appendSigner(flowId, funder, ctx(keys[i] as string))),
    );
    const winners = new Set(keys.filter((_, i) => results[i]?.status === 'fulfilled'));
    // One key signed (both calls under it, when it was the retried one); every other key is told the flow is over.
    expect(winners.size).toBe(1);
    results.forEach((result, i) => {
      if (winners.has(keys[i] as string)) return;
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        code: 'VENDOR_REJECTED',
        details: { vendorCode: 'FLOW_FINISHED' },
      });
    });
    expect(await signaturesOf(first, flowId)).toEqual([true, true, true]);
    const rows = await shared.persistence.transaction((tx) => tx.entities.find('local-signer.flow'));
    expect(rows.map((r) => r.id)).toEqual([flowId]);
    const stored = rows[0]?.data as { appended: Record<string, string> } | undefined;
    expect(Object.keys(stored?.appended ?? {})).toEqual([...winners]);
    expect(shared.documents.size()).toBe(2);
  });

  it('keeps PDFs in the document store, no personal data in the database, and no superseded signed copies', async () => {
    const shared = sharedStorage();
    const signer = shared.instance();
    const { flow } = await startLoan(signer);
    await signer.appendSigner(flow.flowId, funder, ctx('funder-signs'));

    const rows = await shared.persistence.transaction(async (tx) => [
      ...(await tx.entities.find('local-signer.flow')),
      ...(await tx.entities.find('local-signer.upload')),
    ]);
    expect(rows).toHaveLength(2);
    const text = JSON.stringify(rows);
    for (const secret of [borrower.name, borrower.idNumber, borrower.mobile ?? '']) expect(text).not.toContain(secret);
    expect(text).not.toContain('%PDF');
    // The upload and the fully signed copy; the copies signed by borrower and platform alone were removed.
    expect(shared.documents.size()).toBe(2);
  });

  it('refuses signed bytes that were replaced in the document store', async () => {
    const shared = sharedStorage();
    const signer = shared.instance();
    const { flow } = await startLoan(signer);
    await signer.appendSigner(flow.flowId, funder, ctx('funder-signs'));
    const [row] = await shared.persistence.transaction((tx) => tx.entities.find('local-signer.flow'));
    const stored = row?.data as { documents: { fileId: string }[] } | undefined;
    const fileId = stored?.documents[0]?.fileId ?? '';
    await shared.documents.corrupt(fileId);
    await expect(shared.instance().downloadSigned(flow.flowId, ctx('d'))).rejects.toMatchObject({
      code: 'DOCUMENT_INTEGRITY',
      retryable: false,
    });
  });

  it('reports a flow row it did not write (or that was damaged) instead of trusting it', async () => {
    const shared = sharedStorage();
    const flowId = `lf_${'0'.repeat(32)}`;
    await shared.persistence.transaction((tx) =>
      tx.entities.insert({
        kind: 'local-signer.flow',
        id: flowId,
        data: { flowId, status: 'completed', documents: 'none' },
        tags: {},
        uniqueKey: null,
        createdAt: 0,
      }),
    );
    await expect(shared.instance().getFlow(flowId, ctx('g'))).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT' });
  });

  it('refuses half a configuration with a ValidationError naming what is missing', () => {
    const { persistence, documents } = sharedStorage();
    const missing = (options: { persistence?: Persistence; documents?: DocumentStore }) => {
      try {
        localSigner({ seals, ...options });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(missing({ persistence })).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'documents' } });
    expect(missing({ documents })).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'persistence' } });
    expect(() =>
      localSigner({ seals, persistence, documents, store: persistentLocalFlowStore({ persistence, documents }) }),
    ).toThrow(ValidationError);
  });
});
