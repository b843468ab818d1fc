/**
 * What the crash suite's parent, its killable hosts and its vendor process share: the messages between them, the
 * platform and borrowers, and the host itself (an SDK instance on PostgreSQL or on PGlite on disk, signing through
 * 安心签 over HTTP with its flow records in the same database).
 */
import { readFileSync } from 'node:fs';
import { verifyPdfSignatures } from '../../packages/adapter-local/src/index.js';
import { cfcaVendor, persistentCfcaStore } from '../../packages/adapter-cfca/src/index.js';
import { esignVendor, persistentEsignCreateLog } from '../../packages/adapter-esign/src/index.js';
import { ESIGN_CODES } from '../../packages/adapter-esign/src/testing/index.js';
import {
  createSealflow,
  type Persistence,
  type Sealflow,
  type SigningSceneInput,
  type SigningVendor,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../../packages/core/src/index.js';
import { fsDocumentStore } from '../../packages/adapter-storage/src/fs.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { sealedContractDefinition } from '../../fixtures/signing-templates.js';
import type { DispatchCheck } from './dispatch.js';

export const CRASH_PLATFORM = {
  name: '某某消费金融股份有限公司',
  creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
};
export const CRASH_PROJECT = 'SEALFLOW';
export const CRASH_HASH_KEY = 'reliability-crash-hash-key-0123456789';
const SURNAMES = ['欧阳', '诸葛', '司马', '上官', '王', '李', '张', '刘'];

export interface CrashBorrower {
  name: string;
  idNumber: string;
  mobile: string;
}

/** A few borrowers, each authorised at 安心签; signing n goes to borrower n mod their number. */
export const CRASH_BORROWERS: CrashBorrower[] = SURNAMES.map((surname, i) => ({
  name: `${surname}娜娜`,
  idNumber: withIdNumberCheckChar(`31010119900307${String(100 + i * 2)}`),
  mobile: `1391234${String(5600 + i)}`,
}));

export const businessNoOf = (n: number) => `CRASH-${String(n).padStart(5, '0')}`;

/** Where a host keeps its state: a PostgreSQL schema or a PGlite data directory, and the fs document store. */
export type CrashBackend =
  | { kind: 'postgres'; url: string; schema: string; documentsDir: string }
  | { kind: 'pglite'; dataDir: string; documentsDir: string };

/** e签宝 as the vendor process serves it: the app's credentials, its company's seal and the stable callback address. */
export interface EsignVendorConfig {
  baseUrl: string;
  appId: string;
  appSecret: string;
  sealId: string;
  callbackUrl: string;
}

/** 安心签's address and the platform's credentials there (`baseUrl` … `privateKeyPem`), and e签宝 when it is served. */
export interface VendorConfig {
  baseUrl: string;
  platId: string;
  sealId: string;
  certificatePem: string;
  privateKeyPem: string;
  esign?: EsignVendorConfig;
}

export type ParentToVendor =
  | { kind: 'arm'; what: 'create' | 'any' }
  | { kind: 'disarm' }
  | { kind: 'release' }
  /** Where the host alive now takes e签宝's callbacks (null: none is). */
  | { kind: 'host'; callbackUrl: string | null }
  | { kind: 'census' };

export interface ContractCensus {
  contractNo: string;
  /** The flow's title, `<scene name> <business number>`. */
  contractName?: string;
  contractState: number;
  signatureCount: number;
}

export type VendorToParent =
  | { kind: 'ready'; config: VendorConfig }
  | { kind: 'committed'; txCode: string }
  | {
      kind: 'census';
      requests: number;
      contracts: ContractCensus[];
      /** e签宝's sign flows: id, title (`<scene name> <business number>`) and status (2 completed). */
      esignFlows?: { signFlowId: string; title: string; status: number }[];
      callbacks?: { emitted: number; forwarded: number; refused: number; undelivered: number };
    };

/** The dispatch part of a host's task: its own database, the clock file the parent moves, and its applications. */
export interface DispatchTask {
  backend: CrashBackend;
  clockFile: string;
  /** Applications this host drives (every one handed out so far; driving is a function of what is stored). */
  numbers: number[];
}

/** What a host is told when it starts: argv[2] of host.ts, as JSON. */
export interface HostTask {
  mode: 'setup' | 'work' | 'check';
  backend: CrashBackend;
  vendor: VendorConfig;
  /** Signings this host submits (`sign` is idempotent per business number, so resubmitting is harmless). */
  numbers: number[];
  /** The template version the borrower was shown (from the setup run). */
  templateVersion?: string;
  /** Check mode: every signing the parent ever handed out. */
  all?: number[];
  /** Dispatch in a second SDK instance of the same process, when given. */
  dispatch?: DispatchTask;
}

/** One signing as the check run found it. */
export interface CheckedSigning {
  n: number;
  businessNo: string;
  found: boolean;
  status?: string;
  stage?: string;
  failure?: string;
  flowId?: string;
  /** The vendor the signing ended on (`cfca` or `esign`). */
  vendorId?: string;
  evidenceOk?: boolean;
  evidenceProblems?: string[];
}

export type HostToParent =
  /** `callbackUrl`: where this host takes e签宝's callbacks, when e签宝 is served. */
  | { kind: 'ready'; callbackUrl?: string }
  | { kind: 'set-up'; templateVersion: string }
  | { kind: 'submitted'; n: number }
  | {
      kind: 'checked';
      signings: CheckedSigning[];
      workflows: number;
      auditFailures: string[];
      leftTimers: string[];
      deadEffects: string[];
      dispatch?: DispatchCheck;
    };

/** Every signing is one loan contract sealed by the platform and signed for the borrower under her authorisation. */
const LOAN_CONTRACT_SCENE: SigningSceneInput = {
  code: 'LOAN_CONTRACT',
  name: '借款合同签章',
  documents: [
    { key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: 'LOAN_CONTRACT', fileName: '借款合同.pdf' },
  ],
  parties: [
    { role: 'platform', kind: 'organization', signing: 'auto', order: 1 },
    { role: 'borrower', kind: 'person', signing: 'auto', order: 2 },
  ],
};
/** The same contract signed at e签宝 (the borrower through her silent-sign authorisation). */
export const ESIGN_SCENE = 'LOAN_CONTRACT_ESIGN';
const SCENES: SigningSceneInput[] = [LOAN_CONTRACT_SCENE, { ...LOAN_CONTRACT_SCENE, code: ESIGN_SCENE }];

/** With e签宝 served, odd signings go to e签宝 and even ones to 安心签; without it, all to 安心签. */
export const sceneOf = (n: number, vendor: VendorConfig) =>
  vendor.esign && n % 2 === 1 ? ESIGN_SCENE : LOAN_CONTRACT_SCENE.code;

/**
 * An organisation has one `sealId` for every vendor, but a seal id is each vendor's own: 安心签's seal code is the
 * platform's configured seal, and this wrapper gives e签宝 its own seal for it on the way out and reports it back
 * under the configured id, so the seal check compares like with like.
 */
function withSealAlias(vendor: SigningVendor, configured: string, own: string): SigningVendor {
  const out = <T extends { signers: { sealId?: string }[] }>(input: T): T => ({
    ...input,
    signers: input.signers.map((s) => (s.sealId === configured ? { ...s, sealId: own } : s)),
  });
  const back = <T extends { signers: { seal?: { sealId: string } }[] } | null>(flow: T): T =>
    flow === null
      ? flow
      : {
          ...flow,
          signers: flow.signers.map((s) =>
            s.seal?.sealId === own ? { ...s, seal: { ...s.seal, sealId: configured } } : s,
          ),
        };
  return {
    ...vendor,
    createFlow: async (input: Parameters<SigningVendor['createFlow']>[0], context: never) =>
      back(await vendor.createFlow(out(input), context)),
    getFlow: async (flowId: string, context: never) => back(await vendor.getFlow(flowId, context)),
    ...(vendor.findFlow
      ? { findFlow: async (lookup: never, context: never) => back(await vendor.findFlow!(lookup, context)) }
      : {}),
    ...(vendor.appendSigner
      ? {
          appendSigner: async (flowId: string, signer: { sealId?: string }, context: never) =>
            back(await vendor.appendSigner!(flowId, out({ signers: [signer] }).signers[0] as never, context)),
        }
      : {}),
  };
}

export async function openPersistence(backend: CrashBackend): Promise<Persistence> {
  return backend.kind === 'postgres'
    ? postgresPersistence({ connectionString: backend.url, schema: backend.schema, max: 6 })
    : pglitePersistence({ dataDir: backend.dataDir });
}

/**
 * One SDK instance; `work` starts its background worker, which is what the parent kills. When the vendor process
 * serves e签宝, it is a second vendor (`esign`) for the e签宝 scene, its callbacks addressed to the vendor process,
 * which forwards them to the host alive.
 */
export async function openHost(task: HostTask): Promise<Sealflow> {
  const persistence = await openPersistence(task.backend);
  const esign = task.vendor.esign;
  const vendor = cfcaVendor({
    baseUrl: task.vendor.baseUrl,
    platId: task.vendor.platId,
    tls: { cert: task.vendor.certificatePem, key: task.vendor.privateKeyPem },
    signer: { key: task.vendor.privateKeyPem, certificate: task.vendor.certificatePem },
    qps: 1000,
    burst: 1000,
    platformCreditCode: CRASH_PLATFORM.creditCode,
    proxySign: () => ({ projectCode: CRASH_PROJECT }),
    // The flow records live in the host's database, so the next host finds the flows the killed one made.
    store: persistentCfcaStore({ persistence }),
  });
  const vendors: Record<string, SigningVendor> = { cfca: vendor };
  if (esign) {
    const made = esignVendor({
      id: 'esign',
      appId: esign.appId,
      appSecret: esign.appSecret,
      host: esign.baseUrl,
      qps: 1000,
      burst: 1000,
      unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
      personSilentSign: { enabled: true },
      // Creates are noted in the host's database before they are sent: a host killed after the note (or after the
      // create) leaves the next host the note, so its retry reads e签宝's flow list and finds the flow.
      createLog: persistentEsignCreateLog({ persistence }),
    });
    vendors.esign = withSealAlias(made, task.vendor.sealId, esign.sealId);
  }
  return createSealflow({
    persistence,
    documents: fsDocumentStore({ root: task.backend.documentsDir }),
    vendors,
    ...(esign
      ? {
          routing: { default: 'cfca', scenes: { [ESIGN_SCENE]: 'esign' } },
          callbackUrl: () => esign.callbackUrl,
          // A callback lost with a host is also found by asking e签宝 after a few seconds.
          polling: { safetyNetMs: 3_000 },
        }
      : {}),
    // One try per effect: a failure goes back to the runtime, which retries the effect as it would after a crash.
    vendorCalls: { retry: { attempts: 1 } },
    hashKey: CRASH_HASH_KEY,
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: { name: CRASH_PLATFORM.name, creditCode: CRASH_PLATFORM.creditCode, sealId: task.vendor.sealId },
    },
    scenes: SCENES,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'telecom-three-element' }) },
    templateCodes: {
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
      [ESIGN_SCENE]: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    logger: silentLogger,
    runtimeOptions: { leaseMs: 2_000, retry: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 30 } },
    worker: { concurrency: 6, pollMs: 20 },
    start: task.mode !== 'setup',
  });
}

/** Imports and approves the loan contract template; returns its version id. */
export async function setUpTemplate(sealflow: Sealflow): Promise<string> {
  const editor = { id: 'alice', roles: ['template-editor'] };
  const draft = await sealflow.templates.importTemplate(editor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)),
    definition: sealedContractDefinition(['platform']),
  });
  await sealflow.templates.submit(editor, draft.id);
  await sealflow.templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
  return draft.id;
}

/** Signing n, always with the same content, so submitting it again after a kill returns the same signing. */
export function signRequest(n: number, templateVersion: string, scene = 'LOAN_CONTRACT') {
  const borrower = CRASH_BORROWERS[n % CRASH_BORROWERS.length]!;
  return {
    businessNo: businessNoOf(n),
    scene,
    borrower,
    values: { loan: { amount: `${80_000 + (n % 1_000)}.00` }, credit: { limit: '100000.00' } },
    consent: {
      at: Date.UTC(2026, 11, 1, 4),
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [templateVersion],
    },
    actor: { id: 'lending-system' },
  };
}
