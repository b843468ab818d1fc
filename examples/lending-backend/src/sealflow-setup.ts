/**
 * The sealflow instance the backend embeds: persistence (PostgreSQL or PGlite), the filesystem document store, the
 * signing vendor chosen by the options, funder dispatch, and signed webhooks to each funder's system.
 */
import {
  createSealflow,
  type DomainEvent,
  type IdentityVerifier,
  type Logger,
  type Persistence,
  type Sealflow,
  type SigningSceneInput,
  type SigningVendor,
  systemScheduler,
  type WebhookSubscriber,
} from '@sealflow/core';
import { fsDocumentStore } from '@sealflow/adapter-storage/fs';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';
import { postgresPersistence } from '@sealflow/adapter-storage/postgres';
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import type { FastifyBaseLogger } from 'fastify';
import { type CfcaSigning, cfcaSigning } from './cfca.js';
import { type BackendOptions, DEFAULT_PRODUCTS, type FunderAccount } from './options.js';

/** The platform's seal id in the seal registry and the local signer. */
export const PLATFORM_SEAL = 'platform-seal';

/**
 * Demo certificates, made at start-up. In production each seal is the company's CFCA certificate:
 * `loadSigningIdentity({ pkcs12, password })`, and its registered seal image.
 */
function demoSeal(name: string) {
  return {
    identity: createTestSigningIdentity({ commonName: name, organization: name, keyType: 'rsa' }),
    image: createSealImage({ size: 240 }),
  };
}

interface VendorSetup {
  vendors: Record<string, SigningVendor>;
  platformSealId: string;
  scenes?: SigningSceneInput[];
  cfca?: CfcaSigning;
}

async function signingVendor(
  options: BackendOptions,
  persistence: Persistence,
  documents: ReturnType<typeof fsDocumentStore>,
): Promise<VendorSetup> {
  const signer = options.signer ?? { kind: 'local' };
  if (signer.kind === 'esign') {
    const { esignScenes, esignVendor, persistentEsignCreateLog } = await import('@sealflow/adapter-esign');
    const esign = esignVendor({
      appId: signer.appId,
      appSecret: signer.appSecret,
      host: signer.host,
      // Each create is noted in the database before it is sent, so only a retry looks for an earlier flow.
      createLog: persistentEsignCreateLog({ persistence }),
    });
    // e签宝 V3 cannot sign for a person: the borrower signs on e签宝's page, after the platform's automatic seal.
    return { vendors: { esign }, scenes: esignScenes(), platformSealId: signer.platformSealId };
  }
  if (signer.kind === 'cfca') {
    const cfca = cfcaSigning(signer, options.platform, persistence, options.clock);
    return { vendors: { cfca: cfca.vendor }, platformSealId: signer.platformSealId, cfca };
  }
  const seals: Record<string, ReturnType<typeof demoSeal>> = { [PLATFORM_SEAL]: demoSeal(options.platform.name) };
  for (const funder of options.funders) seals[funder.sealId] = demoSeal(funder.name);
  const local = localSigner({
    seals,
    // Signs for borrowers on their authorised behalf (静默签署): consent plus real-name verification is the signature.
    personIdentity: createTestSigningIdentity({
      commonName: `${options.platform.name} 代签`,
      organization: options.platform.name,
      keyType: 'rsa',
    }),
    persistence,
    documents,
  });
  return { vendors: { local }, platformSealId: PLATFORM_SEAL };
}

/**
 * sealflow's log lines through Fastify's logger (which masks personal data), so one stream carries both. Its
 * per-transition info lines are Fastify's debug: at the usual info level only sealflow's warnings and errors show.
 */
function sealflowLogger(log: FastifyBaseLogger): Logger {
  const line = (level: 'debug' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    log[level]({ sealflow: fields ?? {} }, message);
  return { debug: line('debug'), info: line('debug'), warn: line('warn'), error: line('error') };
}

/** Which events a funder's system hears: the dispatch of its own offers, and its own loan contracts to seal. */
export function funderEvents(funder: FunderAccount): (event: DomainEvent) => boolean {
  return (event) => {
    const payload = event.payload as { institutionId?: unknown; funderId?: unknown };
    if (event.type.startsWith('dispatch.offer.') || event.type === 'dispatch.chosen') {
      return payload.institutionId === funder.id;
    }
    if (event.type === 'dispatch.not-chosen') return payload.institutionId === funder.id;
    if (event.type === 'signing.awaiting-funder') return payload.funderId === funder.id;
    return false;
  };
}

/** sealflow as the backend embeds it, and the CFCA authorisation steps when CFCA signs. */
export interface Embedded {
  /** `close()` closes the persistence as well. */
  sealflow: Sealflow;
  cfca: CfcaSigning | undefined;
}

/** Create sealflow as the backend uses it. */
export async function openSealflow(options: BackendOptions, log: FastifyBaseLogger): Promise<Embedded> {
  const persistence = options.databaseUrl
    ? await postgresPersistence({ connectionString: options.databaseUrl })
    : await pglitePersistence(options.pgliteDataDir ? { dataDir: options.pgliteDataDir } : {});
  try {
    const documents = fsDocumentStore({ root: options.documentsRoot });
    const { vendors, scenes, platformSealId, cfca } = await signingVendor(options, persistence, documents);
    // The host's real-name verification (实名认证): a three-element check at a provider, a face match … Here every
    // borrower passes; replace it with yours (esignIdentityVerifier, or your KYC provider).
    const identityVerifier: IdentityVerifier = {
      check: async () => ({ verified: true, method: 'three-element', verifiedAt: Date.now() }),
    };
    const subscribers: WebhookSubscriber[] = options.funders.flatMap((funder) =>
      funder.webhook
        ? [
            {
              id: `funder-${funder.id}`,
              url: funder.webhook.url,
              secret: funder.webhook.secret,
              events: funderEvents(funder),
            },
          ]
        : [],
    );
    const pollMs = options.pollMs ?? 200;
    const sealflow = await createSealflow({
      persistence,
      documents,
      vendors,
      ...(scenes ? { scenes } : {}),
      verifyPdf: verifyPdfSignatures,
      identityVerifier,
      hashKey: options.hashKey,
      organizations: { platform: { ...options.platform, sealId: platformSealId } },
      // Each funder's own seal is bound to it: signAsFunder refuses a seal of anyone else.
      seals: Object.fromEntries(options.funders.map((f) => [f.sealId, { owner: { funderId: f.id } }])),
      templateCodes: {
        CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_AUTH_V' },
        LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
      },
      ...(options.publicUrl
        ? { callbackUrl: (vendorId: string) => `${options.publicUrl}/callbacks/${encodeURIComponent(vendorId)}` }
        : {}),
      // The worker and the webhook loop poll in real time even when the workflows' time is a manual clock (tests).
      ...(options.clock ? { clock: options.clock, scheduler: systemScheduler } : {}),
      logger: sealflowLogger(log),
      worker: { pollMs },
      ...(subscribers.length > 0 ? { webhooks: { subscribers, retry: { baseDelayMs: 1_000 }, loop: { pollMs } } } : {}),
      dispatch: { products: options.products ?? DEFAULT_PRODUCTS, choiceDesk: 'follow-up-desk' },
    });
    return {
      sealflow: {
        ...sealflow,
        async close() {
          await sealflow.close();
          await persistence.close();
        },
      },
      cfca,
    };
  } catch (error) {
    await persistence.close();
    throw error;
  }
}
