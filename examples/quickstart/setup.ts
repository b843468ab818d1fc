/**
 * The wiring, in one place: what a lender's backend creates once at start-up.
 *
 * - persistence: PGlite (embedded PostgreSQL) on disk; swap in `postgresPersistence({ connectionString })`
 * - documents: the filesystem store standing in for the 影像平台 (image platform); swap in `s3DocumentStore(…)`
 * - the signer: `localSigner` seals PAdES offline with the platform's and each funder's certificate, keeping its
 *   flows in the same persistence and document store
 * - `createSealflow` makes the rest: the runtime with its background worker, the template and signing services and,
 *   with `dispatch`, funder dispatch (applications, offers, positions, settlement)
 * - the clock is a manual one, so the demo can let a 24-hour offer run out in a moment
 */
import {
  type Clock,
  createSealflow,
  type IdentityVerifier,
  type Sealflow,
  SealflowError,
  type SigningVendor,
  silentLogger,
  systemScheduler,
} from '@sealflow/core';
import { createManualClock, createMemoryNotifier, type ManualClock, type MemoryNotifier } from '@sealflow/core/memory';
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { fsDocumentStore } from '@sealflow/adapter-storage/fs';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';
import { CUSTOMERS, INSTITUTIONS, PLATFORM, PRODUCTS } from './cast.js';

/**
 * A self-signed certificate (EC P-256: made in milliseconds, where an RSA key takes the better part of a second) and
 * the demo's seal picture. In production: `loadSigningIdentity({ pkcs12, password })` with the company's CFCA
 * certificate, loaded once, and the company's registered seal image.
 */
function demoSeal(organization: string, image: Uint8Array) {
  return { identity: createTestSigningIdentity({ commonName: organization, organization, keyType: 'ec' }), image };
}

/**
 * The host's real-name verification (实名认证). Here a stand-in for the operator three-element check: a person is
 * verified when name, ID number and mobile match what the "operator" holds.
 */
export function threeElementCheck(clock: Clock): IdentityVerifier {
  return {
    async check(person) {
      const known = CUSTOMERS.find((c) => c.idNumber === person.idNumber);
      const verified =
        known !== undefined && known.name === person.name && (!person.mobile || known.mobile === person.mobile);
      return verified ? { verified, method: 'three-element', verifiedAt: clock.now() } : { verified: false };
    },
  };
}

/**
 * The signing platform, with a switch that makes its next flow fail, as an outage at a real vendor would. Only the
 * demo needs the switch: it shows what a FAILED signing looks like and how 补签 recovers it.
 */
function withOutageSwitch(vendor: SigningVendor): { vendor: SigningVendor; failNextFlow(): void } {
  let failNext = false;
  return {
    vendor: {
      ...vendor,
      async createFlow(input, context) {
        if (failNext) {
          failNext = false;
          throw new SealflowError(
            'VENDOR_UNAVAILABLE',
            'The signing platform is under maintenance and refused the flow; re-sign (补签) once it is back.',
            { retryable: false },
          );
        }
        return vendor.createFlow(input, context);
      },
    },
    failNextFlow: () => {
      failNext = true;
    },
  };
}

/** What the story works with: the SDK, the simulated clock, the notifications sent and the outage switch. */
export interface Quickstart {
  sealflow: Sealflow & { dispatch: NonNullable<Sealflow['dispatch']> };
  clock: ManualClock;
  notifier: MemoryNotifier;
  identityVerifier: IdentityVerifier;
  /** The next vendor flow fails (the demo's forced failure before a 补签). */
  failNextFlow(): void;
  close(): Promise<void>;
}

/** sealflow over a PGlite database in `dataDir` and documents under `documentsRoot`; `close()` closes both. */
export async function openQuickstart({
  dataDir,
  documentsRoot,
}: {
  dataDir: string;
  documentsRoot: string;
}): Promise<Quickstart> {
  const persistence = await pglitePersistence({ dataDir });
  const documents = fsDocumentStore({ root: documentsRoot });
  // Workflow time (offer deadlines, choice windows, signing deadlines) follows this clock; the worker itself polls in
  // real time. In production leave `clock` out: the system clock.
  const clock = createManualClock(Date.now());

  const sealImage = createSealImage({ size: 240 });
  const seals: Record<string, ReturnType<typeof demoSeal>> = { 'platform-seal': demoSeal(PLATFORM.name, sealImage) };
  for (const institution of INSTITUTIONS) seals[institution.sealId] = demoSeal(institution.name, sealImage);
  const signer = withOutageSwitch(
    localSigner({
      seals,
      // Signs for borrowers on their authorised behalf (静默签署: consent + real-name verification is the signature).
      personIdentity: createTestSigningIdentity({
        commonName: `${PLATFORM.name} 代签`,
        organization: PLATFORM.name,
        keyType: 'ec',
      }),
      // Flows in the database and their PDFs in the document store: they survive a restart, every process sees them.
      persistence,
      documents,
    }),
  );

  const identityVerifier = threeElementCheck(clock);
  const notifier = createMemoryNotifier(); // SMS, app push, the staff queue… in production
  const sealflow = await createSealflow({
    persistence,
    documents,
    vendors: { local: signer.vendor }, // the only vendor, so every scene is routed to it
    verifyPdf: verifyPdfSignatures,
    identityVerifier,
    hashKey: process.env.SIGNING_HASH_KEY ?? 'quickstart-demo-hash-key-not-a-secret', // ≥ 16 bytes; keep it secret
    organizations: { platform: { ...PLATFORM, sealId: 'platform-seal' } },
    // Whose seal is whose: the platform's is registered by `organizations`, each funder's here. A funder can only
    // seal its own loan contracts, and only with its own seal.
    seals: Object.fromEntries(INSTITUTIONS.map((i) => [i.sealId, { owner: { funderId: i.id } }])),
    approvalLevels: [
      { name: 'legal', roles: ['legal'] }, // 法务
      { name: 'risk', roles: ['risk', 'cro'] }, // 风控
    ],
    // Scene → document → our template code (the scenes' defaults are CREDIT_CONTRACT, LOAN_CONTRACT, …).
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_AUTH_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier },
    clock,
    scheduler: systemScheduler,
    logger: silentLogger, // the demo prints its own lines; a host passes its logger (personal data is masked)
    worker: { concurrency: 4, pollMs: 100 }, // the background worker: effects (render, seal, archive), timers, events
  });
  if (!sealflow.dispatch) throw new Error('createSealflow was given dispatch options but returned no dispatch.');
  return {
    sealflow: { ...sealflow, dispatch: sealflow.dispatch },
    clock,
    notifier,
    identityVerifier,
    failNextFlow: signer.failNextFlow,
    async close() {
      await sealflow.close(); // waits for the worker's current pass
      await persistence.close(); // ours, not the facade's: it was passed in
    },
  };
}
