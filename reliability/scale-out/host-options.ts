/**
 * What every host process of the scale-out suite shares: one PostgreSQL schema, one document store folder, the seal
 * identities (made once by the parent and handed over in a file, as a lender's hosts share one certificate), and
 * the sealflow options, so the parent (which approves templates and registers institutions) and the host processes
 * run the same configuration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  createSealflow,
  type LoanProduct,
  type Persistence,
  type Sealflow,
  silentLogger,
  withCreditCodeCheckChar,
  type WorkflowDefinition,
} from '../../packages/core/src/index.js';
import { createMemoryNotifier } from '../../packages/core/src/memory/index.js';
import { createTestIdentity, createSealImage } from '../../packages/adapter-local/src/testing/index.js';
import { loadSigningIdentity, localSigner, verifyPdfSignatures } from '../../packages/adapter-local/src/index.js';
import { fsDocumentStore } from '../../packages/adapter-storage/src/fs.js';

export type Work = 'signing' | 'dispatch';

/** What the parent hands each host process on its command line (as JSON). */
export interface HostArguments {
  connectionString: string;
  schema: string;
  /** The fs document store every process shares (影像平台 stand-in). */
  documents: string;
  /** The JSON file with the seal identities. */
  identities: string;
  work: Work;
  name: string;
  /** Connections in this process's pool. */
  poolSize: number;
}

/** Messages between the parent and a host process. */
export type ToHost = { type: 'go'; count: number; prefix: string; inFlight: number; offset: number } | { type: 'stop' };
export type FromHost =
  | { type: 'ready' }
  | { type: 'submitted'; count: number; failures: string[] }
  | { type: 'stopped'; cpuMs: number; effectRuns: Record<string, number> };

const SEAL_HOLDERS = {
  platform: ['某某消费金融股份有限公司', '某某消费金融股份有限公司'],
  person: ['某某消费金融 代签', '某某消费金融股份有限公司'],
} as const;

/** Make the seal identities once (EC P-256 test certificates) and write them where the host processes read them. */
export function writeIdentities(file: string): void {
  const out: Record<string, { pkcs12: string; password: string }> = {};
  for (const [role, [commonName, organization]] of Object.entries(SEAL_HOLDERS)) {
    const made = createTestIdentity({ commonName, organization, keyType: 'ec' });
    out[role] = { pkcs12: Buffer.from(made.pkcs12).toString('base64'), password: made.password };
  }
  writeFileSync(file, JSON.stringify(out));
}

function readIdentities(file: string) {
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { pkcs12: string; password: string }>;
  const load = (role: string) =>
    loadSigningIdentity({
      pkcs12: new Uint8Array(Buffer.from(stored[role]!.pkcs12, 'base64')),
      password: stored[role]!.password,
    });
  return { platform: load('platform'), person: load('person') };
}

export const HASH_KEY = 'reliability-scale-out-hash-key-0123456789';
export const PLATFORM = {
  name: '某某消费金融股份有限公司',
  creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
  sealId: 'platform-seal',
};
export const PRODUCTS: LoanProduct[] = [
  { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'], maxAmountFen: 500_000_000 },
];

/**
 * One host: sealflow over `persistence` with `localSigner` keeping its flows in the shared database and its PDFs in
 * the shared folder, so a flow one process creates can be finished by another; dispatch with a memory notifier.
 */
export function openHost(
  persistence: Persistence,
  args: Pick<HostArguments, 'documents' | 'identities'>,
  options: { worker: boolean; workflows?: (builtIn: WorkflowDefinition[]) => readonly WorkflowDefinition[] },
): Promise<Sealflow> {
  const identities = readIdentities(args.identities);
  const documents = fsDocumentStore({ root: args.documents });
  const signer = localSigner({
    seals: { 'platform-seal': { identity: identities.platform, image: createSealImage({ size: 160 }) } },
    personIdentity: identities.person,
    persistence,
    documents,
  });
  return createSealflow({
    persistence,
    documents,
    vendors: { local: signer },
    hashKey: HASH_KEY,
    verifyPdf: verifyPdfSignatures,
    organizations: { platform: PLATFORM },
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier: createMemoryNotifier() },
    logger: silentLogger,
    start: options.worker,
    worker: { concurrency: 8, pollMs: 20 },
    ...(options.workflows ? { workflows: options.workflows } : {}),
  });
}
