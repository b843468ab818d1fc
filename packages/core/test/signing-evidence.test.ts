import { describe, expect, it } from 'vitest';
import { type AuditEntry, type DocumentStore, type Persistence, sha256Hex } from '../src/index.js';
import { BORROWER, FUNDER, expectNoPersonalData, setupSigning } from './signing-fixtures.js';
import { memorySealCertificate } from '../src/memory/index.js';
import { expectError } from './template-fixtures.js';

/** What a person with database access could do to the evidence rows: edit, remove or reorder them on read-back. */
function tamperable() {
  const state: { edit: ((entries: AuditEntry[]) => AuditEntry[]) | null } = { edit: null };
  const wrap = (inner: Persistence): Persistence => ({
    name: inner.name,
    close: () => inner.close(),
    transaction: (work) =>
      inner.transaction((tx) =>
        work({
          ...tx,
          audit: {
            ...tx.audit,
            async list(streamId, options) {
              const entries = await tx.audit.list(streamId, options);
              return state.edit && streamId.startsWith('evidence:') ? state.edit(entries) : entries;
            },
          },
        }),
      ),
  });
  return { state, wrap };
}

/** A store whose bytes for one file are swapped behind its back, its own bookkeeping untouched. */
function swappable() {
  const state: { fileId: string | null } = { fileId: null };
  const wrap = (inner: DocumentStore): DocumentStore => ({
    name: inner.name,
    put: (input) => inner.put(input),
    head: (id) => inner.head(id),
    delete: (id) => inner.delete(id),
    async get(fileId) {
      const got = await inner.get(fileId);
      if (fileId !== state.fileId) return got;
      const bytes = new Uint8Array(got.bytes);
      bytes[bytes.length - 5] = 0x41;
      return { ...got, bytes };
    },
  });
  return { state, wrap };
}

describe('evidence (存证)', () => {
  it('keeps consent, identity check, template versions and hashes, documents, flow, actors and times', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER }));
    await s.drain();
    s.clock.advance(1_000);
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');

    const { manifest, files } = await s.signing.exportEvidencePackage(record.id);
    expect(manifest.entries.map((e) => [e.type, e.actor])).toEqual([
      ['signing.requested', 'lending-system'],
      ['documents.rendered', 'system'],
      ['vendor.flow-started', 'memory'],
      ['signing.awaiting-funder', 'system'],
      ['funder.signing', 'bank-clerk'],
      ['vendor.sealed', 'memory'],
      ['documents.archived', 'system'],
      ['signing.completed', 'system'],
    ]);
    const requested = manifest.entries[0]!.data as Record<string, unknown>;
    expect(requested).toMatchObject({
      businessNo: 'LN20260101001',
      scene: 'LOAN_CONTRACT',
      consent: {
        channel: 'app',
        ip: '203.0.113.7',
        device: 'iPhone15,2 iOS 18.1',
        documentVersionsShown: [s.versions.LOAN_CONTRACT_V],
      },
      identityCheck: { method: 'three-element', verifiedAt: 1 },
      templates: [
        { documentKey: 'loan-contract', versionId: s.versions.LOAN_CONTRACT_V, sha256: done.templates[0]!.sha256 },
      ],
      customer: { maskedName: '张**', idNumberHash: done.customer.idNumberHash },
    });
    expect(manifest.entries[1]!.data).toEqual({ documents: done.rendered });
    expect(manifest.entries[2]!.data).toEqual({ vendorId: 'memory', flowId: done.vendor.flowId });
    expect(manifest.entries[4]!.data).toMatchObject({ funderId: FUNDER.id, sealId: 'funder-seal' });
    // The seal and certificate the funder actually signed with, as the vendor reported them, in record and evidence.
    const funderSeal = { role: 'funder', sealId: 'funder-seal', ...memorySealCertificate('funder-seal') };
    expect(done.sealsUsed).toEqual([funderSeal]);
    expect(manifest.entries[5]!.data).toEqual({ vendorId: 'memory', flowId: done.vendor.flowId, seals: [funderSeal] });
    expect(manifest.entries[6]!.data).toMatchObject({ documents: done.signed });
    expect(manifest.entries[4]!.at).toBe(manifest.entries[1]!.at + 1_000);
    expect(manifest.chainHead).toBe(manifest.entries.at(-1)!.hash);
    expect(manifest.verification).toMatchObject({ ok: true, problems: [] });

    expect(files.map((f) => f.name)).toEqual(['rendered/loan-contract.pdf', 'signed/loan-contract.pdf']);
    expect(sha256Hex(files[0]!.bytes)).toBe(done.rendered[0]!.sha256);
    expect(sha256Hex(files[1]!.bytes)).toBe(done.signed[0]!.sha256);
    expect(manifest.files.map((f) => f.sha256)).toEqual([done.rendered[0]!.sha256, done.signed[0]!.sha256]);
    expectNoPersonalData(JSON.stringify(manifest));
    expect(JSON.stringify(manifest)).not.toContain(BORROWER.idNumber.slice(6, 14));
  });

  it('finds an edited, a removed and a reordered evidence entry', async () => {
    const tamper = tamperable();
    const s = await setupSigning({ wrapPersistence: tamper.wrap });
    const record = await s.signing.sign(s.request());
    await s.drain();
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);

    // Someone edits the consent's IP in the database.
    tamper.state.edit = (entries) =>
      entries.map((e) =>
        e.seq === 1 ? { ...e, data: { ...(e.data as object), consent: { ip: '198.51.100.1' } } } : e,
      );
    let verification = await s.signing.verifyEvidence(record.id);
    expect(verification.ok).toBe(false);
    expect(verification.chain).toEqual([{ seq: 1, kind: 'hash-mismatch' }]);
    expect(verification.problems[0]).toContain('edited');

    tamper.state.edit = (entries) => entries.filter((e) => e.seq !== 2);
    verification = await s.signing.verifyEvidence(record.id);
    expect(verification.chain.map((p) => p.kind)).toContain('gap');

    tamper.state.edit = (entries) => [entries[0]!, entries[2]!, entries[1]!, ...entries.slice(3)];
    verification = await s.signing.verifyEvidence(record.id);
    expect(verification.chain.map((p) => p.kind)).toContain('broken-link');

    tamper.state.edit = null;
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
    await expectError(s.signing.verifyEvidence('sgn_nothing_1'), 'NOT_FOUND');
  });

  it('finds an archived file that was replaced or damaged, and leaves it out of the export', async () => {
    const swap = swappable();
    const s = await setupSigning({ wrapDocuments: swap.wrap });
    const record = await s.signing.sign(s.request());
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    swap.state.fileId = done.signed[0]!.fileId;
    let verification = await s.signing.verifyEvidence(record.id);
    expect(verification.ok).toBe(false);
    expect(verification.chain).toEqual([]);
    expect(verification.files).toEqual([
      expect.objectContaining({ kind: 'rendered', problem: null }),
      expect.objectContaining({ kind: 'signed', fileId: done.signed[0]!.fileId, problem: 'replaced' }),
    ]);
    const exported = await s.signing.exportEvidencePackage(record.id);
    expect(exported.files.map((f) => f.name)).toEqual(['rendered/loan-contract.pdf']);
    expect(exported.manifest.verification.ok).toBe(false);
    await expectError(s.signing.download(record.id), 'ARCHIVED_DOCUMENT_MISMATCH');

    swap.state.fileId = null;
    await s.store.corrupt(done.rendered[0]!.fileId);
    verification = await s.signing.verifyEvidence(record.id);
    expect(verification.files.map((f) => f.problem)).toEqual(['corrupted', null]);
    await s.store.delete(done.signed[0]!.fileId);
    verification = await s.signing.verifyEvidence(record.id);
    expect(verification.files.map((f) => f.problem)).toEqual(['corrupted', 'missing']);
  });

  it('keeps the evidence of each re-sign attempt in its own chain, linked to the first', async () => {
    const s = await setupSigning({ draft: ['LOAN_CONTRACT_V'] });
    const first = await s.signing.sign(s.request()).catch((e: { recordId: string }) => e.recordId);
    expect(typeof first).toBe('string');
    const firstId = first as string;
    // Operations approve the template the customer was shown; the 补签 of the refused attempt now goes through.
    await s.templates.submit({ id: 'alice', roles: ['template-editor'] }, s.versions.LOAN_CONTRACT_V!);
    await s.templates.approve({ id: 'lee', roles: ['legal'] }, s.versions.LOAN_CONTRACT_V!);
    await s.templates.approve({ id: 'ray', roles: ['risk'] }, s.versions.LOAN_CONTRACT_V!);
    const second = await s.signing.resign(firstId, { id: 'ops-wang' });
    await s.drain();
    expect((await s.signing.get(second.id))!).toMatchObject({ status: 'COMPLETED', previousAttemptId: firstId });
    const secondEvidence = (await s.signing.exportEvidencePackage(second.id)).manifest.entries;
    expect(secondEvidence[0]).toMatchObject({
      type: 'signing.requested',
      actor: 'ops-wang',
      data: { attempt: 2, previousAttemptId: firstId },
    });
    expect((await s.signing.verifyEvidence(firstId)).ok).toBe(true);
    expect((await s.signing.verifyEvidence(second.id)).ok).toBe(true);
  });
});
