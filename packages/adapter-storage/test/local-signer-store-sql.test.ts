/**
 * `localSigner`'s flows on real SQL: several signer instances, over separate connections to one PostgreSQL schema (and
 * over one PGlite database), race on the same flow. The guards are the database's: a duplicate insert and a
 * conditional update on the flow's version.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSigningGateway, type Persistence, type SigningGateway } from '@sealflow/core';
import { createMemoryDocumentStore } from '@sealflow/core/memory';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEST_BORROWER, testOrganizationSigner } from '../../../fixtures/signers.js';
import { localSigner, verifyPdfSignatures } from '../../adapter-local/src/index.js';
import { createTestSigningIdentity } from '../../adapter-local/src/testing/index.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';

const fixture = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const seals = {
  'platform-seal': { identity: createTestSigningIdentity({ commonName: '某某消费金融股份有限公司', keyType: 'ec' }) },
  'funder-seal': { identity: createTestSigningIdentity({ commonName: '某某银行股份有限公司', keyType: 'ec' }) },
};
const personIdentity = createTestSigningIdentity({ commonName: '某某消费金融 代签', keyType: 'ec' });
const borrower = TEST_BORROWER;
const funder = testOrganizationSigner('funder', 2, [{ documentKey: 'contract', page: 7, x: 200, y: 60 }]);
const ctx = (idempotencyKey: string) => ({ idempotencyKey });

const { url, skip: noPostgres } = await probePostgres();
const schema = `local_signer_${randomBytes(4).toString('hex')}`;
const backends = [
  { name: 'PGlite', skip: undefined, connections: async () => [await pglitePersistence()] },
  {
    name: 'PostgreSQL',
    skip: noPostgres,
    connections: async () => [
      await postgresPersistence({ connectionString: url, schema }),
      await postgresPersistence({ connectionString: url, schema }),
    ],
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`localSigner instances racing on ${backend.name}`, () => {
    let connections: Persistence[] = [];
    afterAll(async () => {
      for (const persistence of connections) await persistence.close();
      if (backend.name === 'PostgreSQL') {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      }
    });

    it('one flow per key, the funder signs once, and no signed copy is left behind', async () => {
      connections = await backend.connections();
      const documents = createMemoryDocumentStore();
      // Four instances, spread over the connections as four processes would be.
      const instances: SigningGateway[] = Array.from({ length: 4 }, (_, i) =>
        createSigningGateway(
          localSigner({
            seals,
            personIdentity,
            persistence: connections[i % connections.length] as Persistence,
            documents,
          }),
        ),
      );
      const input = async (signer: SigningGateway) => ({
        title: '借款合同',
        businessNo: 'LN-RACE-1',
        documents: [
          await signer.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: fixture }, ctx('race-upload')),
        ],
        signers: [borrower, { ...funder, autoSign: false }],
      });
      const created = await Promise.all(
        instances.map(async (signer) => signer.createFlow(await input(signer), ctx('race-create'))),
      );
      expect(new Set(created.map((flow) => flow.flowId)).size).toBe(1);
      const flowId = created[0]?.flowId ?? '';
      expect(documents.size()).toBe(2); // the upload and one sealed copy

      const keys = ['funder-a', 'funder-a', 'funder-b', 'funder-c'];
      const results = await Promise.allSettled(
        instances.map((signer, i) => signer.appendSigner(flowId, funder, ctx(keys[i] as string))),
      );
      const winners = new Set(keys.filter((_, i) => results[i]?.status === 'fulfilled'));
      expect(winners.size).toBe(1);
      results.forEach((result, i) => {
        if (winners.has(keys[i] as string)) return;
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({ details: { vendorCode: 'FLOW_FINISHED' } });
      });
      const [signed] = await instances[3]!.downloadSigned(flowId, ctx('race-download'));
      expect(verifyPdfSignatures(signed!.bytes).map((s) => s.valid)).toEqual([true, true]);
      expect(documents.size()).toBe(2); // the upload and the final copy
    });
  });
}
