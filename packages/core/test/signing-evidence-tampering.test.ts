/**
 * What someone with write access to the database (but not the host's keys) can do to a completed signing, and how
 * it shows: the archived PDF swapped with the record's hash changed to match, an evidence entry edited and the chain
 * re-hashed with the SDK's own public hash, the last evidence entries deleted, a record's anchor rolled back.
 * The edits are applied to what the database hands back, exactly as a changed row would be.
 */
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  type ChainKeys,
  type DocumentStore,
  createRuntime,
  createSigningService,
  createTemplateService,
  sha256Hex,
  signingWorkflows,
  templateWorkflows,
} from '../src/index.js';
import { hashAuditEntry } from '../src/runtime/audit-chain.js';
import { databaseEditor } from './database-editor.js';
import { TEMPLATE_CODES, UI_LOAN_SCENE, setupSigning } from './signing-fixtures.js';
import { LEVELS, expectError } from './template-fixtures.js';

/** A document store in which someone replaced a file's bytes and its bookkeeping (so the store itself sees nothing). */
function replaceableStore() {
  const replaced = new Map<string, Uint8Array>();
  const wrap = (inner: DocumentStore): DocumentStore => ({
    name: inner.name,
    put: (input) => inner.put(input),
    head: (id) => inner.head(id),
    delete: (id) => inner.delete(id),
    async get(fileId) {
      const got = await inner.get(fileId);
      const bytes = replaced.get(fileId);
      return bytes ? { ...got, bytes } : got;
    },
  });
  return { replaced, wrap };
}

/** Re-chain entries from `fromSeq` with the SDK's public, unkeyed hash, as an editor without the key can. */
function rehashFrom(entries: AuditEntry[], fromSeq: number, link = (e: Omit<AuditEntry, 'hash'>) => hashAuditEntry(e)) {
  const out: AuditEntry[] = [];
  for (const entry of entries) {
    if (entry.seq < fromSeq) {
      out.push(entry);
      continue;
    }
    const partial = { ...entry, prevHash: out.at(-1)?.hash ?? entry.prevHash };
    out.push({ ...partial, hash: link(partial) });
  }
  return out;
}

async function completedSigning(options: Parameters<typeof setupSigning>[0] = {}) {
  const editor = databaseEditor();
  const documents = replaceableStore();
  const s = await setupSigning({ ...options, wrapPersistence: editor.wrap, wrapDocuments: documents.wrap });
  const record = await s.signing.sign(s.request());
  await s.drain();
  const done = (await s.signing.get(record.id))!;
  expect(done.status).toBe('COMPLETED');
  expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  expect(await s.signing.download(record.id)).toHaveLength(1);
  const stream = `evidence:${record.id}`;
  const entries = await s.persistence.transaction((tx) => tx.audit.list(stream));
  return { s, editor, documents, done, stream, entries };
}

describe('evidence against a database editor without the host key', () => {
  it('(a) an archived PDF replaced and the record row’s hash changed to match: download refuses', async () => {
    const { s, editor, documents, done } = await completedSigning();
    const original = (await s.signing.download(done.id))[0]!;
    const forged = new Uint8Array(original.bytes);
    const at = forged.length - 10;
    forged[at] = forged[at]! ^ 0x20;
    documents.replaced.set(original.fileId, forged);
    editor.edits.entity = (row) =>
      row.kind === 'signing-record' && row.id === done.id
        ? {
            ...row,
            data: {
              ...(row.data as object),
              signed: done.signed.map((d) => ({ ...d, sha256: sha256Hex(forged) })),
            },
          }
        : row;

    expect((await s.signing.get(done.id))!.signed[0]!.sha256).toBe(sha256Hex(forged));
    const error = await expectError(s.signing.download(done.id), 'EVIDENCE_TAMPERED');
    expect(error.message).toContain('anchor');
    const verification = await s.signing.verifyEvidence(done.id);
    expect(verification.ok).toBe(false);
    expect(verification.chain).toEqual([]);
    expect(verification.record.map((p) => p.kind)).toEqual(['anchor-forged', 'signed-documents-differ']);
    expect(verification.files.find((f) => f.kind === 'signed')).toMatchObject({
      expectedSha256: original.sha256,
      problem: 'replaced',
    });

    // Even with the record left alone, the bytes are held to the hash in the evidence.
    editor.edits.entity = null;
    await expectError(s.signing.download(done.id), 'ARCHIVED_DOCUMENT_MISMATCH');
    documents.replaced.clear();
    expect((await s.signing.download(done.id))[0]!.sha256).toBe(original.sha256);
  });

  it('(b) an evidence entry edited and the chain re-hashed with the SDK’s own hash: verifyEvidence reports it', async () => {
    const { s, editor, done, stream, entries } = await completedSigning();
    expect(entries.every((e) => e.hash.startsWith('hmac-sha256:hashkey:'))).toBe(true);
    const edited = entries.map((e) =>
      e.seq === 1 ? { ...e, data: { ...(e.data as object), consent: { ip: '198.51.100.1' } } } : e,
    );

    editor.edits.audit = (id, list) => (id === stream ? rehashFrom(edited, 1) : list);
    let verification = await s.signing.verifyEvidence(done.id);
    expect(verification.ok).toBe(false);
    expect(verification.chain).toEqual(entries.map((e) => ({ seq: e.seq, kind: 'unkeyed' })));
    expect(verification.record).toEqual([{ kind: 'head-mismatch' }]);
    await expectError(s.signing.download(done.id), 'EVIDENCE_TAMPERED');

    // Dressed up as keyed links, the same re-hash fails every MAC check.
    editor.edits.audit = (id, list) =>
      id === stream ? rehashFrom(edited, 1, (e) => `hmac-sha256:hashkey:${hashAuditEntry(e)}`) : list;
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.chain).toEqual(entries.map((e) => ({ seq: e.seq, kind: 'hash-mismatch' })));

    // With the anchor moved to the forged head too, its seal gives it away.
    const forged = rehashFrom(edited, 1);
    editor.edits.audit = (id, list) => (id === stream ? forged : list);
    editor.edits.entity = (row) =>
      row.id === done.id
        ? { ...row, data: { ...(row.data as object), evidence: { ...done.evidence!, head: forged.at(-1)!.hash } } }
        : row;
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.record).toEqual([{ kind: 'anchor-forged' }]);
  });

  it('(c) the last one or two evidence entries deleted while the record says COMPLETED: detected', async () => {
    const { s, editor, done, stream, entries } = await completedSigning();
    expect(done.evidence).toMatchObject({ entries: entries.length, head: entries.at(-1)!.hash });
    const n = entries.length;

    editor.edits.audit = (id, list) => (id === stream ? list.slice(0, -1) : list);
    let verification = await s.signing.verifyEvidence(done.id);
    expect(verification.chain).toEqual([]);
    expect(verification.record).toEqual([
      { kind: 'truncated', anchored: n, found: n - 1 },
      { kind: 'terminal-entry-missing', status: 'COMPLETED', entryType: 'signing.completed' },
    ]);
    expect(verification.problems.join('\n')).toContain('the last ones were removed');
    await expectError(s.signing.download(done.id), 'EVIDENCE_TAMPERED');

    editor.edits.audit = (id, list) => (id === stream ? list.slice(0, -2) : list);
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.record.map((p) => p.kind)).toEqual([
      'truncated',
      'terminal-entry-missing',
      'signed-documents-differ',
    ]);

    // Rolling the record's anchor back to match the shorter chain needs a new seal, which needs the key.
    const shorter = entries.slice(0, -2);
    editor.edits.entity = (row) =>
      row.id === done.id
        ? {
            ...row,
            data: {
              ...(row.data as object),
              evidence: { ...done.evidence!, entries: shorter.length, head: shorter.at(-1)!.hash },
            },
          }
        : row;
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.record.map((p) => p.kind)).toContain('anchor-forged');

    // All of it deleted, or the record deleted: still reported, not "not found".
    editor.edits.entity = null;
    editor.edits.audit = (id, list) => (id === stream ? [] : list);
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.record[0]).toEqual({ kind: 'truncated', anchored: n, found: 0 });
    editor.edits.audit = null;
    editor.edits.entity = (row) => (row.id === done.id ? null : row);
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.record).toEqual([{ kind: 'record-missing' }]);
  });

  it('keeps the anchor in step with every transition of a signing that waits, and of a refused one', async () => {
    const s = await setupSigning({ unverified: true });
    const refused = await s.signing.sign(s.request()).catch((e: { recordId: string }) => e.recordId);
    const record = (await s.signing.get(refused as string))!;
    expect(record.status).toBe('FAILED');
    expect(await s.signing.verifyEvidence(record.id)).toMatchObject({ ok: true, record: [] });
    expect(record.evidence!.entries).toBe(2);
  });
});

describe('evidence written before keyed chains', () => {
  it('verifies as unkeyed and unanchored until adopted; adoption pins it under the key', async () => {
    const { s, editor, done, stream, entries } = await completedSigning();
    const n = entries.length;
    const stored = (await s.persistence.transaction((tx) => tx.entities.get('signing-record', done.id)))!;
    // What an older release left: the same entries under plain SHA-256 links, and a record without an anchor.
    editor.edits.audit = (id, list) => (id === stream ? [...rehashFrom(list.slice(0, n), 1), ...list.slice(n)] : list);
    editor.edits.entity = (row) =>
      row.id === done.id && row.version === stored.version
        ? { ...row, data: { ...(row.data as object), evidence: null } }
        : row;
    let verification = await s.signing.verifyEvidence(done.id);
    expect(verification.chain.map((p) => p.kind)).toEqual(entries.map(() => 'unkeyed'));
    expect(verification.record).toEqual([{ kind: 'anchor-missing' }]);
    await expectError(s.signing.download(done.id), 'EVIDENCE_TAMPERED');

    const anchor = await s.signing.adoptEvidence(done.id, { id: 'ops-li' });
    expect(anchor.entries).toBe(n + 1);
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification).toMatchObject({ ok: true, chain: [], record: [], entries: n + 1 });
    const adopted = (await s.signing.exportEvidencePackage(done.id)).manifest.entries.at(-1)!;
    expect(adopted).toMatchObject({ type: 'evidence.adopted', actor: 'ops-li', data: { plainEntries: n } });
    expect(adopted.hash.startsWith('hmac-sha256:hashkey:')).toBe(true);
    expect(await s.signing.download(done.id)).toHaveLength(1);
    expect(await s.signing.adoptEvidence(done.id, { id: 'ops-li' })).toEqual(anchor);

    // Once adopted, the plain part is pinned: editing it now breaks the keyed link after it.
    editor.edits.audit = (id, list) =>
      id === stream
        ? [...rehashFrom(list.slice(0, n), 1), ...list.slice(n)].map((e) =>
            e.seq === 1 ? { ...e, data: { ...(e.data as object), consent: { ip: '198.51.100.1' } } } : e,
          )
        : list;
    verification = await s.signing.verifyEvidence(done.id);
    expect(verification.chain.map((p) => p.kind)).toContain('hash-mismatch');
  });

  it('refuses to adopt a plain chain that already disagrees with its record', async () => {
    const { s, editor, done, stream, entries } = await completedSigning();
    editor.edits.audit = (id, list) => (id === stream ? rehashFrom(list.slice(0, entries.length - 1), 1) : list);
    editor.edits.entity = (row) =>
      row.id === done.id ? { ...row, data: { ...(row.data as object), evidence: null } } : row;
    const error = await expectError(s.signing.adoptEvidence(done.id, { id: 'ops-li' }), 'EVIDENCE_TAMPERED');
    expect(error.message).toContain('signing.completed');
  });
});

describe('evidence keys', () => {
  const KEY_2025 = 'evidence-key-2025-0123456789abcdef';
  const KEY_2026 = 'evidence-key-2026-0123456789abcdef';

  it('rotates: new entries use the current key, older ones verify with the key id they recorded', async () => {
    const s = await setupSigning({ evidenceKeys: { current: 'k2025', keys: { k2025: KEY_2025 } } });
    const first = await s.signing.sign(s.request());
    await s.drain();
    const firstEntries = await s.persistence.transaction((tx) => tx.audit.list(`evidence:${first.id}`));
    expect(firstEntries.every((e) => e.hash.startsWith('hmac-sha256:k2025:'))).toBe(true);

    // The host rotates: a new runtime and service over the same database, with both keys.
    const rotated = {
      ...s.environment,
      evidenceKeys: { current: 'k2026', keys: { k2025: KEY_2025, k2026: KEY_2026 } },
    };
    const hostWith = (environment: typeof s.environment & { evidenceKeys: ChainKeys }) => {
      const runtime = createRuntime({
        persistence: s.persistence,
        clock: s.clock,
        scheduler: s.clock,
        workflows: [...templateWorkflows(), ...signingWorkflows(environment)],
      });
      const templates = createTemplateService({ runtime, documents: s.documents, approvalLevels: LEVELS });
      const signing = createSigningService({
        ...environment,
        runtime,
        templates,
        identityVerifier: s.identityVerifier,
        scenes: [UI_LOAN_SCENE],
        templateCodes: TEMPLATE_CODES,
      });
      return { runtime, signing };
    };
    const next = hostWith(rotated);
    const second = await next.signing.sign(s.request({ businessNo: 'LN20260101002' }));
    for (let i = 0; i < 20; i++) await next.runtime.runOnce({ limit: 50 });
    expect((await next.signing.get(second.id))!.status).toBe('COMPLETED');
    const secondEntries = await s.persistence.transaction((tx) => tx.audit.list(`evidence:${second.id}`));
    expect(secondEntries.every((e) => e.hash.startsWith('hmac-sha256:k2026:'))).toBe(true);
    expect((await next.signing.verifyEvidence(first.id)).ok).toBe(true);
    expect((await next.signing.verifyEvidence(second.id)).ok).toBe(true);
    expect(await next.signing.download(first.id)).toHaveLength(1);

    // A host that dropped the retired key is told which key id it needs, not that the evidence is forged.
    const forgetful = hostWith({ ...rotated, evidenceKeys: { current: 'k2026', keys: { k2026: KEY_2026 } } });
    const error = await expectError(forgetful.signing.verifyEvidence(first.id), 'CHAIN_KEY_MISSING');
    expect(error.message).toContain('"k2025"');
    expect(error.message).not.toContain(KEY_2025);
    await expectError(forgetful.signing.download(first.id), 'CHAIN_KEY_MISSING');
    expect((await forgetful.signing.verifyEvidence(second.id)).ok).toBe(true);
  });

  it('moves from the default key (derived from hashKey) to host keys without losing older evidence', async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    await s.drain();
    const keyed = createSigningService({
      ...s.environment,
      evidenceKeys: { current: 'k2026', keys: { k2026: KEY_2026 } },
      runtime: s.runtime,
      templates: s.templates,
      identityVerifier: s.identityVerifier,
      scenes: [UI_LOAN_SCENE],
      templateCodes: TEMPLATE_CODES,
    });
    expect((await keyed.verifyEvidence(record.id)).ok).toBe(true);
    // A different hashKey derives a different default key: the old evidence no longer opens.
    const other = createSigningService({
      ...s.environment,
      hashKey: 'another-hash-key-0123456789abcdef',
      runtime: s.runtime,
      templates: s.templates,
      identityVerifier: s.identityVerifier,
      scenes: [UI_LOAN_SCENE],
      templateCodes: TEMPLATE_CODES,
    });
    const verification = await other.verifyEvidence(record.id);
    expect(verification.ok).toBe(false);
    expect(verification.chain.every((p) => p.kind === 'hash-mismatch')).toBe(true);
  });

  it('refuses unusable keys when the service is configured', async () => {
    const s = await setupSigning();
    const configure = (evidenceKeys: unknown) => () =>
      signingWorkflows({ ...s.environment, evidenceKeys } as Parameters<typeof signingWorkflows>[0]);
    for (const [keys, fragment] of [
      [{ current: 'k1', keys: { k1: 'short' } }, 'keys.k1 must be a secret of at least 16 bytes'],
      [{ current: 'k2', keys: { k1: KEY_2025 } }, 'current key "k2" is not among the keys'],
      [{ current: 'a:b', keys: { 'a:b': KEY_2025 } }, 'key id "a:b" must be'],
      [{ current: 'hashkey', keys: { hashkey: KEY_2025 } }, 'key id "hashkey" is reserved'],
    ] as const) {
      expect(configure(keys)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(configure(keys)).toThrow(fragment);
    }
  });
});
