/**
 * The signing workflow on real SQL (PGlite and PostgreSQL), sealed for real by `localSigner` (PAdES): an effective
 * template, a credit grant and platform- and funder-funded loans driven by `runtime.runOnce()` to COMPLETED, the
 * archived PDFs downloaded and verified, the evidence chain checked, `sign` idempotent, two runtimes on one
 * PostgreSQL schema sharing the work without signing anything twice, and two hosts each with its own `localSigner`
 * over the shared database finishing each other's flows.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DocumentStore,
  type Persistence,
  type Runtime,
  type SignRequest,
  type SigningRecord,
  type SigningVendor,
  createSealflow,
  encryptedDocumentStore,
  type Sealflow,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createMemoryDocumentStore } from '@sealflow/core/memory';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { localSigner, verifyPdfSignatures } from '../../adapter-local/src/index.js';
import { createSealImage, createTestSigningIdentity } from '../../adapter-local/src/testing/index.js';
import { fsDocumentStore } from '../src/fs.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';

const PDF = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const idNumber = withIdNumberCheckChar;
const creditCode = withCreditCodeCheckChar;
const identity = (commonName: string, organization: string, keyType: 'rsa' | 'ec' = 'ec') =>
  createTestSigningIdentity({ commonName, organization, keyType });

const editor = { id: 'alice', roles: ['template-editor'] };
const legal = { id: 'lee', roles: ['legal'] };
const risk = { id: 'ray', roles: ['risk'] };
const FUNDER = { id: 'bank-1', name: '某某银行股份有限公司', creditCode: creditCode('91110000100000000') };
const TERMINAL = ['COMPLETED', 'FAILED'];

const definition = sealedContractDefinition;

/** One local signer (the "vendor"), counting the distinct flows it made per business number. */
function countingVendor() {
  const image = createSealImage({ size: 160 });
  const inner = localSigner({
    seals: {
      'platform-seal': { identity: identity('某某消费金融股份有限公司', '某某消费金融股份有限公司'), image },
      'funder-seal': { identity: identity('某某银行股份有限公司', '某某银行股份有限公司'), image },
    },
    personIdentity: identity('某某消费金融 代签', '某某消费金融股份有限公司'),
  });
  const flows = new Map<string, Set<string>>();
  let createCalls = 0;
  const vendor: SigningVendor = {
    ...inner,
    id: inner.id,
    capabilities: inner.capabilities,
    async createFlow(input, context) {
      createCalls++;
      const flow = await inner.createFlow(input, context);
      const set = flows.get(input.businessNo) ?? new Set<string>();
      set.add(flow.flowId);
      flows.set(input.businessNo, set);
      return flow;
    },
  };
  return { vendor, flows, createCalls: () => createCalls };
}

/** `identityChecks` counts the real-name checks of every host sharing it. */
type Shared = { vendor: SigningVendor; documents: DocumentStore; identityChecks?: string[] };

/** A host instance: runtime, template service and signing service over `persistence`, with a shared vendor + store. */
function host(persistence: Persistence, shared: Shared): Promise<Sealflow> {
  return createSealflow({
    persistence,
    documents: shared.documents,
    vendors: { local: shared.vendor },
    hashKey: 'adapter-storage-sql-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: creditCode('91310000MA1FL0000'),
        sealId: 'platform-seal',
      },
    },
    seals: { 'funder-seal': { owner: { funderId: FUNDER.id } } },
    approvalLevels: [
      { name: 'legal', roles: ['legal'] },
      { name: 'risk', roles: ['risk'] },
    ],
    identityVerifier: {
      check: async (person) => {
        shared.identityChecks?.push(person.idNumber);
        return { verified: true, method: 'three-element' };
      },
    },
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    logger: silentLogger,
    start: false, // the tests drive the workers with runOnce
  });
}
type Host = Sealflow;

/** Import and approve the three templates; returns their version ids. */
async function approveTemplates(h: Host) {
  const approve = async (code: string, documentType: string, roles: string[]) => {
    const draft = await h.templates.importTemplate(editor, {
      code,
      name: code,
      documentType,
      pdf: PDF,
      definition: definition(roles),
    });
    await h.templates.submit(editor, draft.id);
    await h.templates.approve(legal, draft.id);
    const effective = await h.templates.approve(risk, draft.id);
    expect(effective.status).toBe('EFFECTIVE');
    return draft.id;
  };
  return {
    credit: await approve('CREDIT_CONTRACT_V', 'CREDIT_CONTRACT', ['platform']),
    query: await approve('DATA_QUERY_V', 'DATA_QUERY_AUTHORIZATION', ['platform']),
    loan: await approve('LOAN_CONTRACT_V', 'LOAN_CONTRACT', ['platform', 'funder']),
  };
}

function request(overrides: Partial<SignRequest>, shown: string[]): SignRequest {
  return {
    businessNo: 'LN-SQL-1',
    scene: 'LOAN_CONTRACT',
    borrower: { name: '欧阳娜娜', idNumber: idNumber('31010119900307002'), mobile: '13912345678' },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: { at: Date.now(), channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: shown },
    actor: { id: 'lending-system' },
    ...overrides,
  };
}

type Outcome = { content: number; record?: SigningRecord; code?: string };

/** `sign` with one of two loan amounts, as an outcome instead of a throw. */
function signWithAmount(h: Host, businessNo: string, content: number, shown: string[]): Promise<Outcome> {
  const amount = ['88000.00', '99000.00'][content]!;
  return h.signing
    .sign(request({ businessNo, values: { loan: { amount }, credit: { limit: '100000.00' } } }, shown))
    .then(
      (record) => ({ content, record }),
      (error: unknown) => ({ content, code: (error as { code?: string }).code ?? String(error) }),
    );
}

/** Exactly one content won; all its callers share one record; every caller with the other content got DUPLICATE. */
function expectOneContentWon(outcomes: Outcome[]): SigningRecord {
  const winner = outcomes.find((o) => o.record);
  expect(winner, 'some call must have started the signing').toBeDefined();
  for (const outcome of outcomes) {
    if (outcome.content === winner!.content) expect(outcome.record?.id, outcome.code).toBe(winner!.record!.id);
    else expect(outcome.code).toBe('DUPLICATE');
  }
  return winner!.record!;
}

/** Run worker passes (real clock) until every record is in one of `statuses`. */
async function runUntil(
  runtimes: Runtime[],
  h: Host,
  ids: string[],
  statuses: string[] = TERMINAL,
  timeoutMs = 60_000,
): Promise<SigningRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    await Promise.all(runtimes.map((r) => r.runOnce({ limit: 50 })));
    const records = await Promise.all(ids.map((id) => h.signing.get(id)));
    if (records.every((r) => r && statuses.includes(r.status))) return records as SigningRecord[];
    if (runtimes.length === 0) await new Promise((resolve) => setTimeout(resolve, 20)); // others run the workers
    if (Date.now() > until) {
      throw new Error(`not settled: ${records.map((r) => `${r?.id}=${r?.status}/${r?.stage}`).join(', ')}`);
    }
  }
}

const { url, skip: noPostgres } = await probePostgres();
const schema = `signing_${randomBytes(4).toString('hex')}`;
const dropSchema = async () => {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
};
const backends = [
  { name: 'PGlite', skip: undefined, open: () => pglitePersistence(), cleanup: async () => {} },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    open: () => postgresPersistence({ connectionString: url, schema }),
    cleanup: dropSchema,
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`signing workflow with localSigner on ${backend.name}`, () => {
    let persistence: Persistence;
    let counting: ReturnType<typeof countingVendor>;
    let h: Host;
    let versions: Awaited<ReturnType<typeof approveTemplates>>;
    let shared: Shared;

    beforeAll(async () => {
      persistence = await backend.open();
      counting = countingVendor();
      shared = { vendor: counting.vendor, documents: createMemoryDocumentStore() };
      h = await host(persistence, shared);
      versions = await approveTemplates(h);
    });
    afterAll(async () => {
      await h?.close();
      await persistence?.close();
      await backend.cleanup();
    });

    it('templates are EFFECTIVE through the template service', async () => {
      for (const code of ['CREDIT_CONTRACT_V', 'DATA_QUERY_V', 'LOAN_CONTRACT_V']) {
        expect((await h.templates.requireEffective(code)).status).toBe('EFFECTIVE');
      }
    });

    it('a credit grant bundle completes; both archived PDFs verify; the evidence verifies', async () => {
      const record = await h.signing.sign(
        request({ scene: 'CREDIT_GRANT', businessNo: 'CR-SQL-1' }, [versions.credit, versions.query]),
      );
      const [done] = await runUntil([h.runtime], h, [record.id]);
      expect(done!.failure).toBeNull();
      expect(done).toMatchObject({ status: 'COMPLETED', stage: 'completed', vendor: { id: 'local' } });
      expect(done!.vendor.flowId).toMatch(/^lf_/);
      expect(done!.signed.map((d) => [d.documentKey, d.signatures])).toEqual([
        ['credit-contract', 2],
        ['data-query-authorization', 2],
      ]);
      const files = await h.signing.download(record.id);
      expect(files).toHaveLength(2);
      for (const file of files) {
        const report = verifyPdfSignatures(file.bytes);
        expect(report.map((s) => [s.valid, s.subFilter])).toEqual([
          [true, 'ETSI.CAdES.detached'],
          [true, 'ETSI.CAdES.detached'],
        ]);
        expect(report.at(-1)!.coversWholeDocument).toBe(true);
      }
      expect(await h.signing.verifyEvidence(record.id)).toMatchObject({ ok: true });
      expect(counting.flows.get('CR-SQL-1')?.size).toBe(1);
      expect((await h.signing.find({ businessNo: 'CR-SQL-1' })).map((r) => r.id)).toEqual([record.id]);
    });

    it('a platform-funded loan: the same request twice (and twice at once) makes one vendor flow', async () => {
      const req = request({ businessNo: 'LN-SQL-IDEM' }, [versions.loan]);
      const first = await h.signing.sign(req);
      const [again, concurrent] = await Promise.all([h.signing.sign(req), h.signing.sign(req)]);
      expect(again!.id).toBe(first.id);
      expect(concurrent!.id).toBe(first.id);
      const [done] = await runUntil([h.runtime], h, [first.id]);
      expect(done!.failure).toBeNull();
      expect(done!.status).toBe('COMPLETED');
      expect((await h.signing.sign(req)).status).toBe('COMPLETED');
      expect(counting.flows.get('LN-SQL-IDEM')?.size).toBe(1);
      expect((await h.signing.find({ businessNo: 'LN-SQL-IDEM' })).length).toBe(1);

      const [file] = await h.signing.download(first.id);
      const report = verifyPdfSignatures(file!.bytes);
      expect(report.map((s) => s.valid)).toEqual([true, true]);
      expect(await h.signing.verifyEvidence(first.id)).toMatchObject({ ok: true });
    });

    it('200 concurrent sign() calls with two amounts: one content wins, the rest DUPLICATE, one verification', async () => {
      const checks: string[] = [];
      const counted = await host(persistence, {
        vendor: counting.vendor,
        documents: shared.documents,
        identityChecks: checks,
      });
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) => signWithAmount(counted, 'LN-SQL-RACE', i % 2, [versions.loan])),
      );
      const record = expectOneContentWon(outcomes);
      expect(checks).toHaveLength(1);
      const [done] = await runUntil([h.runtime], h, [record.id]);
      expect(done!.failure).toBeNull();
      expect(counting.flows.get('LN-SQL-RACE')?.size).toBe(1);
      expect(await h.signing.find({ businessNo: 'LN-SQL-RACE' })).toHaveLength(1);
    });

    it('a funder-funded loan waits for the funder and completes on signAsFunder', async () => {
      const record = await h.signing.sign(
        request({ businessNo: 'LN-SQL-FUNDER', funding: 'funder', funder: FUNDER }, [versions.loan]),
      );
      const [waiting] = await runUntil([h.runtime], h, [record.id], ['AWAITING_FUNDER', ...TERMINAL]);
      expect(waiting!.failure).toBeNull();
      expect(waiting!.status).toBe('AWAITING_FUNDER');
      await expect(
        h.signing.signAsFunder({ id: 'other-clerk', funderId: 'other-bank' }, record.id, { sealId: 'funder-seal' }),
      ).rejects.toMatchObject({ code: 'FUNDER_NOT_ASSIGNED' });
      await h.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
      const [done] = await runUntil([h.runtime], h, [record.id]);
      expect(done!.failure).toBeNull();
      expect(done).toMatchObject({ status: 'COMPLETED', funderId: FUNDER.id });
      const [file] = await h.signing.download(record.id);
      const report = verifyPdfSignatures(file!.bytes);
      expect(report.map((s) => s.valid)).toEqual([true, true]);
      expect(await h.signing.verifyEvidence(record.id)).toMatchObject({ ok: true });
      expect(counting.flows.get('LN-SQL-FUNDER')?.size).toBe(1);
    });
  });
}

describe.skipIf(noPostgres !== undefined)('two runtimes on one PostgreSQL schema, signing concurrently', () => {
  const twoSchema = `signing2_${randomBytes(4).toString('hex')}`;
  const persistences: Persistence[] = [];
  const dropAfter = [twoSchema];
  afterAll(async () => {
    for (const p of persistences) await p.close();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    for (const name of dropAfter) await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await pool.end();
  });

  it('200 concurrent sign() calls across both instances: one content wins, one record, one verification', async () => {
    const raceSchema = `signing_race_${randomBytes(4).toString('hex')}`;
    const both = [
      await postgresPersistence({ connectionString: url, schema: raceSchema }),
      await postgresPersistence({ connectionString: url, schema: raceSchema }),
    ];
    persistences.push(...both);
    const checks: string[] = [];
    const counting = countingVendor();
    const shared = { vendor: counting.vendor, documents: createMemoryDocumentStore(), identityChecks: checks };
    const [a, b] = (await Promise.all(both.map((p) => host(p, shared)))) as [Host, Host];
    const versions = await approveTemplates(a);
    dropAfter.push(raceSchema);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => signWithAmount(i % 4 < 2 ? a : b, 'LN-PG-RACE', i % 2, [versions.loan])),
    );
    const record = expectOneContentWon(outcomes);
    expect(checks).toHaveLength(1);
    const [done] = await runUntil([a.runtime, b.runtime], a, [record.id]);
    expect(done!.failure).toBeNull();
    expect(counting.flows.get('LN-PG-RACE')?.size).toBe(1);
    expect(await b.signing.find({ businessNo: 'LN-PG-RACE' })).toHaveLength(1);
  });

  it('20 signings: each COMPLETED exactly once, one vendor flow each', async () => {
    persistences.push(await postgresPersistence({ connectionString: url, schema: twoSchema }));
    persistences.push(await postgresPersistence({ connectionString: url, schema: twoSchema }));
    // One vendor and one document store (影像平台) behind both host instances, as in production.
    const counting = countingVendor();
    const shared = { vendor: counting.vendor, documents: createMemoryDocumentStore() };
    const [a, b] = (await Promise.all(persistences.map((p) => host(p, shared)))) as [Host, Host];
    const versions = await approveTemplates(a);
    const completedEvents = new Map<string, number>();
    for (const h of [a, b]) {
      h.runtime.onEvent((event) => {
        if (event.type === 'signing.completed') {
          completedEvents.set(event.id, (completedEvents.get(event.id) ?? 0) + 1);
        }
      });
    }

    const N = 20;
    const businessNos = Array.from({ length: N }, (_, i) => `LN-PAR-${String(i).padStart(3, '0')}`);
    // Requests arrive at both instances; half of them twice (once at each).
    const records = await Promise.all(
      businessNos.map(async (businessNo, i) => {
        const req = request({ businessNo }, [versions.loan]);
        const primary = i % 2 === 0 ? a : b;
        const [record, duplicate] = await Promise.all([
          primary.signing.sign(req),
          i % 4 === 0 ? (primary === a ? b : a).signing.sign(req) : null,
        ]);
        if (duplicate) expect(duplicate.id).toBe(record.id);
        return record;
      }),
    );

    // Each instance runs its own worker loop, concurrently.
    const ids = records.map((r) => r.id);
    let done = false;
    const passes = { a: 0, b: 0 };
    const loop = async (h: Host, name: 'a' | 'b') => {
      while (!done) {
        const pass = await h.runtime.runOnce({ limit: 8 });
        if (pass.effectsSucceeded > 0) passes[name]++;
      }
    };
    const loops = [loop(a, 'a'), loop(b, 'b')];
    try {
      await runUntil([], a, ids, TERMINAL, 120_000);
    } finally {
      done = true;
      await Promise.all(loops);
    }
    // Let both deliver their outbox events.
    for (let i = 0; i < 5; i++) await Promise.all([a.runtime.runOnce(), b.runtime.runOnce()]);

    const final = await Promise.all(ids.map((id) => a.signing.get(id)));
    expect(final.filter((r) => r!.status !== 'COMPLETED').map((r) => [r!.id, r!.failure])).toEqual([]);
    expect(passes.a).toBeGreaterThan(0);
    expect(passes.b).toBeGreaterThan(0);
    for (const businessNo of businessNos) expect(counting.flows.get(businessNo)?.size, businessNo).toBe(1);
    for (const record of final) {
      expect(record!.signed).toHaveLength(1);
      const { manifest } = await a.signing.exportEvidencePackage(record!.id);
      expect(manifest.verification.ok).toBe(true);
      const types = manifest.entries.map((e) => e.type);
      expect(types.filter((t) => t === 'vendor.flow-started')).toHaveLength(1);
      expect(types.filter((t) => t === 'documents.archived')).toHaveLength(1);
      expect(types.filter((t) => t === 'signing.completed')).toHaveLength(1);
    }
    // Completed once: one signing.completed event (at-least-once delivery may repeat its id, never a second id).
    expect(completedEvents.size).toBe(N);
    const history = await Promise.all(ids.map((id) => a.runtime.get(id)));
    expect(history.every((s) => s!.status === 'done')).toBe(true);
    const [file] = await b.signing.download(ids[0]!);
    expect(verifyPdfSignatures(file!.bytes).every((s) => s.valid)).toBe(true);
  });
});

/**
 * Each host process runs its own `localSigner`, kept in the shared database (flows) and document store (PDFs): the
 * process that signs for the funder and archives the contract is not the one that created the vendor flow.
 */
const sealIdentities = {
  platform: identity('某某消费金融股份有限公司', '某某消费金融股份有限公司'),
  funder: identity('某某银行股份有限公司', '某某银行股份有限公司'),
  person: identity('某某消费金融 代签', '某某消费金融股份有限公司'),
};
function processSigner(persistence: Persistence, documents: DocumentStore): SigningVendor {
  const image = createSealImage({ size: 160 });
  return localSigner({
    seals: {
      'platform-seal': { identity: sealIdentities.platform, image },
      'funder-seal': { identity: sealIdentities.funder, image },
    },
    personIdentity: sealIdentities.person,
    persistence,
    documents,
  });
}

const ownSignerSchema = `signer_store_${randomBytes(4).toString('hex')}`;
const ownSignerBackends = [
  {
    name: 'PGlite',
    skip: undefined,
    // One PGlite database in this process: both hosts share it, as two processes share one PostgreSQL.
    open: async () => {
      const persistence = await pglitePersistence();
      return [persistence, persistence];
    },
  },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    open: async () => [
      await postgresPersistence({ connectionString: url, schema: ownSignerSchema }),
      await postgresPersistence({ connectionString: url, schema: ownSignerSchema }),
    ],
  },
];

for (const backend of ownSignerBackends) {
  describe.skipIf(backend.skip !== undefined)(
    `two hosts with their own localSigner on one ${backend.name} database`,
    () => {
      let persistences: Persistence[] = [];
      let directory: string;
      afterAll(async () => {
        for (const p of new Set(persistences)) await p.close();
        if (directory) await rm(directory, { recursive: true, force: true });
        if (backend.skip === undefined && backend.name === 'PostgreSQL') {
          const pool = new pg.Pool({ connectionString: url, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS "${ownSignerSchema}" CASCADE`);
          await pool.end();
        }
      });

      it('host A starts a funder-funded loan; host B signs for the funder, archives and downloads it', async () => {
        persistences = await backend.open();
        const [pa, pb] = persistences as [Persistence, Persistence];
        directory = await mkdtemp(join(tmpdir(), 'sealflow-signer-store-'));
        // Encrypted at rest, as a lender would run it: the archive and the signer's PDFs are ciphertext on disk.
        const documents = encryptedDocumentStore(fsDocumentStore({ root: directory }), {
          keys: { current: 'k1', keys: { k1: randomBytes(32) } },
        });
        const a = await host(pa, { vendor: processSigner(pa, documents), documents });
        const b = await host(pb, { vendor: processSigner(pb, documents), documents });
        const versions = await approveTemplates(a);
        const record = await a.signing.sign(
          request({ businessNo: 'LN-OWN-SIGNER', funding: 'funder', funder: FUNDER }, [versions.loan]),
        );
        const [waiting] = await runUntil([a.runtime], a, [record.id], ['AWAITING_FUNDER', ...TERMINAL]);
        expect(waiting!.failure).toBeNull();
        expect(waiting!.status).toBe('AWAITING_FUNDER');
        await b.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
        const [done] = await runUntil([b.runtime], b, [record.id]);
        expect(done!.failure).toBeNull();
        expect(done).toMatchObject({ status: 'COMPLETED', funderId: FUNDER.id });
        const [file] = await b.signing.download(record.id);
        expect(verifyPdfSignatures(file!.bytes).map((s) => s.valid)).toEqual([true, true]);
        expect(await b.signing.verifyEvidence(record.id)).toMatchObject({ ok: true });
        const onDisk = (await readdir(directory, { recursive: true })).filter((f) => f.endsWith('.bin'));
        expect(onDisk.length).toBeGreaterThan(3);
        for (const file of onDisk) expect((await readFile(join(directory, file))).includes('%PDF')).toBe(false);
        await a.close();
        await b.close();
      });
    },
  );
}
