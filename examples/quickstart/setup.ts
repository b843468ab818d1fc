/**
 * The wiring, in one place: what a lender's backend creates once at start-up.
 *
 * - persistence: PGlite (embedded PostgreSQL) on disk; swap in `postgresPersistence({ connectionString })`
 * - documents: the filesystem store standing in for the 影像平台 (image platform); swap in `s3DocumentStore(…)`
 * - the signer: `localSigner` seals PAdES offline with the platform's and the funder's certificates, keeping its
 *   flows in the same persistence and document store
 * - `createSealflow` makes the rest: the runtime with its background worker, the template and signing services
 */
import { createSealflow, type IdentityVerifier, type Sealflow, withCreditCodeCheckChar } from '@sealflow/core';
import { fsDocumentStore } from '@sealflow/adapter-storage/fs';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';

/** 统一社会信用代码 with its check character computed (GB 32100). */
export const creditCode = withCreditCodeCheckChar;

export const PLATFORM = { name: '某某消费金融股份有限公司', creditCode: creditCode('91330100MA2KQ8N3X') };
export const FUNDER = {
  id: 'bank-hz-001',
  name: '某某商业银行股份有限公司',
  creditCode: creditCode('91330000704201560'),
};

/**
 * A self-signed certificate for the demo. In production: `loadSigningIdentity({ pkcs12, password })` with the
 * company's CFCA certificate, loaded once.
 */
function demoIdentity(commonName: string, organization: string) {
  return createTestSigningIdentity({ commonName, organization, keyType: 'rsa' });
}

/** sealflow over a PGlite database in `dataDir` and documents under `documentsRoot`; `close()` closes both. */
export async function openQuickstart({
  dataDir,
  documentsRoot,
}: {
  dataDir: string;
  documentsRoot: string;
}): Promise<Sealflow> {
  const persistence = await pglitePersistence({ dataDir });
  const documents = fsDocumentStore({ root: documentsRoot });

  const signer = localSigner({
    seals: {
      'platform-seal': {
        identity: demoIdentity(PLATFORM.name, PLATFORM.name),
        image: createSealImage({ size: 240 }), // use the company's registered seal image in production
      },
      'funder-seal': { identity: demoIdentity(FUNDER.name, FUNDER.name), image: createSealImage({ size: 240 }) },
    },
    // Signs for borrowers on their authorised behalf (静默签署: consent + real-name verification is the signature).
    personIdentity: demoIdentity(`${PLATFORM.name} 代签`, PLATFORM.name),
    // Flows in the database and their PDFs in the document store, so they survive a restart and every process sees them.
    persistence,
    documents,
  });

  // The host's real-name verification (实名认证): three-element check, face match, … Here everyone passes.
  const identityVerifier: IdentityVerifier = {
    check: async () => ({ verified: true, method: 'three-element', verifiedAt: Date.now() }),
  };

  const sealflow = await createSealflow({
    persistence,
    documents,
    vendors: { local: signer }, // the only vendor, so every scene is routed to it
    verifyPdf: verifyPdfSignatures,
    identityVerifier,
    hashKey: process.env.SIGNING_HASH_KEY ?? 'quickstart-demo-hash-key-not-a-secret', // ≥ 16 bytes; keep it secret
    organizations: { platform: { ...PLATFORM, sealId: 'platform-seal' } },
    // Whose seal is whose: the platform's is registered by `organizations`; each funder's seals are listed here, and
    // signAsFunder refuses any seal not registered to the assigned funder.
    seals: { 'funder-seal': { owner: { funderId: FUNDER.id } } },
    approvalLevels: [
      { name: 'legal', roles: ['legal'] }, // 法务
      { name: 'risk', roles: ['risk', 'cro'] }, // 风控
    ],
    // Scene → document → our template code (the scenes' defaults are CREDIT_CONTRACT, LOAN_CONTRACT, …).
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_AUTH_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    worker: { pollMs: 20 }, // the background worker: effects (render, seal, archive), timers, events
  });
  return {
    ...sealflow,
    async close() {
      await sealflow.close(); // waits for the worker's current pass
      await persistence.close(); // ours, not the facade's: it was passed in
    },
  };
}
