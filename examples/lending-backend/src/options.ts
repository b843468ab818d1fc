/**
 * What the lending backend is configured with: `buildApp(options)` takes it, `loadOptionsFromEnv()` reads it from the
 * environment for `main.ts`.
 */
import { readFileSync } from 'node:fs';
import type { Clock, LoanProduct } from '@sealflow/core';
import { withCreditCodeCheckChar } from '@sealflow/core';
import type { BackOfficeOptions } from './back-office/index.js';
import type { CfcaSetup } from './cfca.js';

/** A funding institution (资金方) with its access to this backend. */
export interface FunderAccount {
  /** The institution id dispatch uses (`bank-hz-001`). */
  id: string;
  name: string;
  /** 统一社会信用代码, with its check character. */
  creditCode: string;
  /** The key its system sends as `Authorization: Bearer <key>` on `/funder/*`; at least 24 characters. */
  apiKey: string;
  /** Its own seal, bound to it in the seal registry, so only it can seal as the funder. */
  sealId: string;
  /** Where its system receives the dispatch and signing events about its own loans, and the webhook secret. */
  webhook?: { url: string; secret: string };
  /** GB/T 2260 region codes and business categories it lends in, and how many open applications it takes. */
  regions: string[];
  categories: string[];
  capacity: number;
}

/** Which signing vendor seals: the offline local signer (default), e签宝, or CFCA 安心签. */
export type SignerChoice =
  | { kind: 'local' }
  | {
      kind: 'esign';
      appId: string;
      appSecret: string;
      host: 'production' | 'sandbox';
      /** The e签宝 seal id of the AppId's own company. */
      platformSealId: string;
    }
  | ({ kind: 'cfca' } & CfcaSetup);

export interface BackendOptions {
  /** PostgreSQL (`postgres://…`); without it the data is kept in PGlite. */
  databaseUrl?: string;
  /** PGlite's directory when there is no `databaseUrl`; without it PGlite keeps everything in memory. */
  pgliteDataDir?: string;
  /** The filesystem document store's root (standing in for the 影像平台). */
  documentsRoot: string;
  signer?: SignerChoice;
  /** The key (≥ 16 bytes) for keyed hashes and sealed personal data: keep it secret, never change it. */
  hashKey: string;
  /** The platform company whose seal is `platform-seal`. */
  platform: { name: string; creditCode: string };
  /** Keys the lending app (the host's own app back end) sends as `Authorization: Bearer <key>` on `/lending/*`. */
  lendingAppKeys: string[];
  funders: FunderAccount[];
  products?: LoanProduct[];
  /** This service's public base URL, for vendors that call back (`https://lender.example`). */
  publicUrl?: string;
  /**
   * Import and approve the demo contract templates and give each funder a demo deposit (头寸) when missing. For the
   * demo and tests; in production templates come through the back office's approval and deposits from payments.
   */
  seedDemo?: boolean;
  /** The workflows' time (offer and choice windows, deadlines); default the system clock. Tests pass a manual one. */
  clock?: Clock;
  /** The background worker's and the webhook loop's idle poll, in ms. */
  pollMs?: number;
  /** The back office (运营后台) under `/admin`: who may sign in, and its settings. Without it, no back office. */
  backOffice?: BackOfficeOptions;
  /** Fastify's (pino) logger: `false` for none; personal data is masked either way. */
  logger?: false | { level?: string; stream?: { write(line: string): void } };
}

export const DEFAULT_PRODUCTS: LoanProduct[] = [
  { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'], maxAmountFen: 500_000_000 },
  { code: 'CREDIT', name: '信用贷', requiredMaterials: ['id-card'], maxAmountFen: 50_000_000 },
];

export const DEMO_PLATFORM = {
  name: '某某消费金融股份有限公司',
  creditCode: withCreditCodeCheckChar('91330100MA2KQ8N3X'),
};

function required(env: NodeJS.ProcessEnv, name: string, why: string): string {
  const value = env[name];
  if (!value) throw new Error(`Set ${name}: ${why}.`);
  return value;
}

/**
 * Options from the environment. Funders come from `FUNDERS_JSON` (a JSON array of {@link FunderAccount}); without it,
 * one demo funder `bank-hz-001` with the API key `FUNDER_API_KEY` and the webhook `FUNDER_WEBHOOK_URL` /
 * `FUNDER_WEBHOOK_SECRET`, matching `examples/funder-system`'s defaults.
 */
export function loadOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): BackendOptions {
  const signerKind = env.SIGNING_VENDOR ?? 'local';
  let signer: SignerChoice;
  if (signerKind === 'esign') {
    signer = {
      kind: 'esign',
      appId: required(env, 'ESIGN_APP_ID', 'the e签宝 AppId'),
      appSecret: required(env, 'ESIGN_APP_SECRET', 'the e签宝 AppSecret'),
      host: env.ESIGN_HOST === 'production' ? 'production' : 'sandbox',
      platformSealId: required(env, 'ESIGN_PLATFORM_SEAL_ID', "the e签宝 seal id of the platform's company"),
    };
  } else if (signerKind === 'cfca') {
    const file = (name: string, why: string) => readFileSync(required(env, name, why));
    signer = {
      kind: 'cfca',
      connection: {
        baseUrl: required(env, 'CFCA_BASE_URL', 'the 安心签 API base, ending in /FEP/'),
        platId: required(env, 'CFCA_PLAT_ID', "the platform's 安心签 user id"),
        tls: {
          pfx: file('CFCA_PFX', 'the path of the communication certificate (.pfx) CFCA issued'),
          ...(env.CFCA_PFX_PASSWORD ? { passphrase: env.CFCA_PFX_PASSWORD } : {}),
          ...(env.CFCA_CA ? { ca: readFileSync(env.CFCA_CA, 'utf8') } : {}),
        },
        signer: {
          key: file('CFCA_SIGNER_KEY', 'the path of the request-signing key (PEM)').toString('utf8'),
          certificate: file('CFCA_SIGNER_CERT', 'the path of the request-signing certificate (PEM)').toString('utf8'),
        },
      },
      projectCode: required(env, 'CFCA_PROJECT_CODE', 'the 安心签 project borrowers authorise signing in'),
      platformSealId: required(env, 'CFCA_PLATFORM_SEAL_ID', "the platform's 安心签 seal id"),
      ...(env.CFCA_ORGANIZATIONS_JSON
        ? { organizations: JSON.parse(env.CFCA_ORGANIZATIONS_JSON) as Record<string, string> }
        : {}),
    };
  } else if (signerKind === 'local') {
    signer = { kind: 'local' };
  } else {
    throw new Error(`SIGNING_VENDOR must be local, esign or cfca, not "${signerKind}".`);
  }
  const demoFunder: FunderAccount = {
    id: 'bank-hz-001',
    name: '某某商业银行股份有限公司',
    creditCode: withCreditCodeCheckChar('91330000704201560'),
    apiKey: env.FUNDER_API_KEY ?? 'demo-funder-key-bank-hz-001-not-a-secret',
    sealId: 'bank-hz-001-seal',
    webhook: {
      url: env.FUNDER_WEBHOOK_URL ?? 'http://127.0.0.1:3100/sealflow/events',
      secret: env.FUNDER_WEBHOOK_SECRET ?? 'demo-webhook-secret-bank-hz-001',
    },
    regions: ['330100', '310000'],
    categories: ['mortgage', 'consumer'],
    capacity: 20,
  };
  const funders = env.FUNDERS_JSON ? (JSON.parse(env.FUNDERS_JSON) as FunderAccount[]) : [demoFunder];
  return {
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    pgliteDataDir: env.PGLITE_DIR ?? './.data/db',
    documentsRoot: env.DOCUMENTS_DIR ?? './.data/documents',
    signer,
    hashKey: env.SIGNING_HASH_KEY ?? 'lending-backend-demo-hash-key-not-a-secret',
    platform: DEMO_PLATFORM,
    lendingAppKeys: (env.LENDING_APP_KEYS ?? 'demo-lending-app-key-not-a-secret').split(',').filter(Boolean),
    funders,
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
    seedDemo: env.SEED_DEMO !== '0',
    backOffice: {
      // A stand-in sign-in: operators from configuration. Replace it with the lender's single sign-on.
      operators: env.BACK_OFFICE_OPERATORS_JSON
        ? JSON.parse(env.BACK_OFFICE_OPERATORS_JSON)
        : [
            {
              id: 'ops.demo',
              name: '演示运营',
              roles: [
                'template-editor',
                'template-approver',
                'signing-operator',
                'follow-up-manager',
                'loan-reviewer',
                'platform-admin',
                'customer-service',
                'settler',
              ],
              password: env.BACK_OFFICE_DEMO_PASSWORD ?? 'demo-password-not-a-secret',
            },
          ],
      productNames: Object.fromEntries(DEFAULT_PRODUCTS.map((product) => [product.code, product.name])),
      // The session cookie is marked Secure only where the service is reached over https.
      secureCookie: env.PUBLIC_URL?.startsWith('https:') ?? false,
    },
    logger: { level: env.LOG_LEVEL ?? 'info' },
  };
}
