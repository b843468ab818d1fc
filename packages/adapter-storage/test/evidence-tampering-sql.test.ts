/**
 * A database editor without the host's keys, on real SQL (PGlite and PostgreSQL): rows of `sealflow_audit` and
 * `sealflow_entities` changed, re-hashed and deleted with plain SQL after a signing completed. Each change must be
 * reported by `verifyEvidence`, and `download` must refuse to hand out a PDF the evidence no longer vouches for.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import {
  type AuditEntry,
  type DocumentStore,
  type Persistence,
  createRuntime,
  createSigningGateway,
  createSigningService,
  createTemplateService,
  sha256Hex,
  signingWorkflows,
  templateWorkflows,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { hashAuditEntry } from '../../core/src/runtime/audit-chain.js';
import { createMemoryDocumentStore, createMemorySigningVendor } from '@sealflow/core/memory';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';

type Query = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** A store in which someone replaced a file's bytes together with its bookkeeping, so the store itself sees nothing. */
function replaceableStore(inner: DocumentStore) {
  const replaced = new Map<string, Uint8Array>();
  const store: DocumentStore = {
    name: inner.name,
    put: (input) => inner.put(input),
    head: (id) => inner.head(id),
    delete: (id) => inner.delete(id),
    async get(fileId) {
      const got = await inner.get(fileId);
      const bytes = replaced.get(fileId);
      return bytes ? { ...got, bytes } : got;
    },
  };
  return { store, replaced };
}

async function host(persistence: Persistence, documents: DocumentStore) {
  const environment = {
    vendors: { memory: createSigningGateway(createMemorySigningVendor()) },
    documents,
    hashKey: 'adapter-storage-evidence-hash-key-0123',
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
        sealId: 'seal',
      },
    },
  };
  const runtime = createRuntime({ persistence, workflows: [...templateWorkflows(), ...signingWorkflows(environment)] });
  const templates = createTemplateService({
    runtime,
    documents,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
  });
  const signing = createSigningService({
    ...environment,
    runtime,
    templates,
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
  });
  const draft = await templates.importTemplate(
    { id: 'alice', roles: ['template-editor'] },
    {
      code: 'LOAN_CONTRACT_V',
      name: '借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)),
      definition: sealedContractDefinition(['platform']),
    },
  );
  await templates.submit({ id: 'alice', roles: ['template-editor'] }, draft.id);
  await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
  return { runtime, signing, versionId: draft.id };
}

const { url, skip: noPostgres } = await probePostgres();
const pgSchema = `evidence_${randomBytes(4).toString('hex')}`;

interface Backend {
  persistence: Persistence;
  query: Query;
  close(): Promise<void>;
}

const backends: { name: string; skip: string | undefined; open: () => Promise<Backend> }[] = [
  {
    name: 'PGlite',
    skip: undefined,
    async open() {
      const db = await PGlite.create();
      const persistence = await pglitePersistence({ db });
      return {
        persistence,
        query: async (text, params) => (await db.query<Record<string, unknown>>(text, params)).rows,
        async close() {
          await persistence.close();
          await db.close();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    async open() {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      const persistence = await postgresPersistence({ pool, schema: pgSchema });
      return {
        persistence,
        async query(text, params) {
          const client = await pool.connect();
          try {
            await client.query(`SET search_path TO "${pgSchema}"`);
            return (await client.query(text, params)).rows;
          } finally {
            client.release();
          }
        },
        async close() {
          await persistence.close();
          await pool.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
          await pool.end();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`evidence against a database editor on ${backend.name}`, () => {
    let db: Backend;
    let h: Awaited<ReturnType<typeof host>>;
    let files: ReturnType<typeof replaceableStore>;

    beforeAll(async () => {
      db = await backend.open();
      files = replaceableStore(createMemoryDocumentStore());
      h = await host(db.persistence, files.store);
    });
    afterAll(async () => {
      await h?.runtime.stop();
      await db?.close();
    });

    async function completed(businessNo: string) {
      const record = await h.signing.sign({
        businessNo,
        scene: 'LOAN_CONTRACT',
        borrower: { name: '欧阳娜娜', idNumber: withIdNumberCheckChar('31010119900307002'), mobile: '13912345678' },
        values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
        consent: {
          at: Date.now(),
          channel: 'app',
          ip: '203.0.113.9',
          device: 'Android 15',
          documentVersionsShown: [h.versionId],
        },
        actor: { id: 'lending-system' },
      });
      for (let i = 0; i < 20 && (await h.signing.get(record.id))!.status !== 'COMPLETED'; i++) {
        await h.runtime.runOnce({ limit: 50 });
      }
      const done = (await h.signing.get(record.id))!;
      expect(done.status).toBe('COMPLETED');
      expect((await h.signing.verifyEvidence(done.id)).ok).toBe(true);
      const entries = await db.persistence.transaction((tx) => tx.audit.list(`evidence:${done.id}`));
      return { done, entries, stream: `evidence:${done.id}` };
    }

    const recordRow = async (id: string) =>
      (
        await db.query(`SELECT data::text AS data FROM sealflow_entities WHERE kind = 'signing-record' AND id = $1`, [
          id,
        ])
      )[0]!.data as string;
    const writeRecord = (id: string, data: string) =>
      db.query(`UPDATE sealflow_entities SET data = $2::json WHERE kind = 'signing-record' AND id = $1`, [id, data]);
    const writeEntries = async (entries: readonly AuditEntry[]) => {
      for (const e of entries) {
        await db.query(
          'UPDATE sealflow_audit SET data = $3::json, prev_hash = $4, hash = $5 WHERE stream_id = $1 AND seq = $2',
          [e.streamId, e.seq, JSON.stringify(e.data), e.prevHash, e.hash],
        );
      }
    };

    it('(a) the archived PDF replaced and the record row’s hash updated with SQL: download refuses', async () => {
      const { done } = await completed('LN-EDIT-A');
      const [original] = await h.signing.download(done.id);
      const forged = new Uint8Array(original!.bytes);
      forged[100] = forged[100]! ^ 0x01;
      files.replaced.set(original!.fileId, forged);
      const row = await recordRow(done.id);
      await writeRecord(done.id, row.replaceAll(original!.sha256, sha256Hex(forged)));
      expect((await h.signing.get(done.id))!.signed[0]!.sha256).toBe(sha256Hex(forged));

      await expect(h.signing.download(done.id)).rejects.toMatchObject({ code: 'EVIDENCE_TAMPERED' });
      const verification = await h.signing.verifyEvidence(done.id);
      expect(verification.record.map((p) => p.kind)).toEqual(['anchor-forged', 'signed-documents-differ']);
      expect(verification.files.find((f) => f.kind === 'signed')?.problem).toBe('replaced');

      await writeRecord(done.id, row);
      await expect(h.signing.download(done.id)).rejects.toMatchObject({ code: 'ARCHIVED_DOCUMENT_MISMATCH' });
      files.replaced.clear();
      expect((await h.signing.download(done.id))[0]!.sha256).toBe(original!.sha256);
    });

    it('(b) an evidence row edited and the chain re-hashed with the SDK’s public hash: reported', async () => {
      const { done, entries } = await completed('LN-EDIT-B');
      const rehashed: AuditEntry[] = [];
      for (const entry of entries) {
        const data = entry.seq === 1 ? { ...(entry.data as object), consent: { ip: '198.51.100.1' } } : entry.data;
        const partial = { ...entry, data, prevHash: rehashed.at(-1)?.hash ?? entry.prevHash };
        rehashed.push({ ...partial, hash: hashAuditEntry(partial) });
      }
      await writeEntries(rehashed);
      const verification = await h.signing.verifyEvidence(done.id);
      expect(verification.ok).toBe(false);
      expect(verification.chain.map((p) => p.kind)).toEqual(entries.map(() => 'unkeyed'));
      expect(verification.record).toEqual([{ kind: 'head-mismatch' }]);
      await expect(h.signing.download(done.id)).rejects.toMatchObject({ code: 'EVIDENCE_TAMPERED' });
      await writeEntries(entries);
      expect((await h.signing.verifyEvidence(done.id)).ok).toBe(true);
    });

    it('(c) the last one, then the last two evidence rows deleted with SQL: detected', async () => {
      const { done, entries, stream } = await completed('LN-EDIT-C');
      const n = entries.length;
      await db.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [stream, n]);
      let verification = await h.signing.verifyEvidence(done.id);
      expect(verification.chain).toEqual([]);
      expect(verification.record).toEqual([
        { kind: 'truncated', anchored: n, found: n - 1 },
        { kind: 'terminal-entry-missing', status: 'COMPLETED', entryType: 'signing.completed' },
      ]);
      await expect(h.signing.download(done.id)).rejects.toMatchObject({ code: 'EVIDENCE_TAMPERED' });

      await db.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [stream, n - 1]);
      verification = await h.signing.verifyEvidence(done.id);
      expect(verification.record.map((p) => p.kind)).toEqual([
        'truncated',
        'terminal-entry-missing',
        'signed-documents-differ',
      ]);
    });

    it('evidence left by a release without keyed chains is adopted once, however many callers at once', async () => {
      const { done, entries, stream } = await completed('LN-LEGACY');
      const plain: AuditEntry[] = [];
      for (const entry of entries) {
        const partial = { ...entry, prevHash: plain.at(-1)?.hash ?? entry.prevHash };
        plain.push({ ...partial, hash: hashAuditEntry(partial) });
      }
      await writeEntries(plain);
      await writeRecord(done.id, JSON.stringify({ ...JSON.parse(await recordRow(done.id)), evidence: null }));
      expect((await h.signing.verifyEvidence(done.id)).record).toEqual([{ kind: 'anchor-missing' }]);

      const anchors = await Promise.all(
        Array.from({ length: 4 }, () => h.signing.adoptEvidence(done.id, { id: 'ops-li' })),
      );
      expect(new Set(anchors.map((a) => a.seal)).size).toBe(1);
      const after = await db.persistence.transaction((tx) => tx.audit.list(stream));
      expect(after.filter((e) => e.type === 'evidence.adopted')).toHaveLength(1);
      expect(await h.signing.verifyEvidence(done.id)).toMatchObject({ ok: true, entries: entries.length + 1 });
    });

    it('(d) the last workflow audit row deleted with SQL: verifyAudit reports the truncation', async () => {
      const { done } = await completed('LN-EDIT-D');
      const workflow = (await h.runtime.get(done.id))!;
      expect(await h.runtime.verifyAudit(done.id)).toMatchObject({ ok: true, workflow: [] });
      const [last] = await db.query('SELECT max(seq)::int AS seq FROM sealflow_audit WHERE stream_id = $1', [done.id]);
      await db.query('DELETE FROM sealflow_audit WHERE stream_id = $1 AND seq = $2', [done.id, last!.seq]);
      const verification = await h.runtime.verifyAudit(done.id);
      expect(verification.ok).toBe(false);
      expect(verification.problems).toEqual([]);
      expect(verification.workflow).toEqual([
        { kind: 'truncated', rowVersion: workflow.rowVersion, auditedRowVersion: workflow.rowVersion - 1 },
      ]);
    });
  });
}
