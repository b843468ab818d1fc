import { expect } from 'vitest';
import {
  type ChainKeys,
  type ChainNotary,
  type DocumentStore,
  type DomainEvent,
  type IdentityVerifier,
  type Persistence,
  type SigningRetryOptions,
  type SigningRouting,
  type OrganizationParty,
  type SealRegistration,
  type SigningSceneInput,
  type SigningVendor,
  type SignRequest,
  type TemplateDefinitionInput,
  type VendorBindings,
  type VerifyPdf,
  createSealflow,
  createSigningGateway,
  type SealflowOptions,
  silentLogger,
  systemScheduler,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../src/index.js';
import {
  createManualClock,
  createMemoryDocumentStore,
  createMemoryPersistence,
  createMemorySigningVendor,
  type ManualClock,
  type MemorySigningVendorOptions,
} from '../src/memory/index.js';
import { CONTRACT_PDF, LEVELS, editor, legalLee, loanDefinition, riskRay } from './template-fixtures.js';

export const idNumber = withIdNumberCheckChar;
export const creditCode = withCreditCodeCheckChar;

export const BORROWER = { name: '张三丰', idNumber: idNumber('11010119900307451'), mobile: '13912345678' };
export const OTHER_BORROWER = { name: '李四', idNumber: idNumber('31010119850101002'), mobile: '13800001111' };
export const FUNDER = { id: 'funder-bank', name: '某某银行股份有限公司', creditCode: creditCode('91110000100000000') };
export const HASH_KEY = 'test-only-hash-key-0123456789abcdef';

export const ORGANIZATIONS = {
  platform: { name: '某某消费金融股份有限公司', creditCode: creditCode('91310000MA1FL0000'), sealId: 'platform-seal' },
  paymentCompany: { name: '某某支付有限公司', creditCode: creditCode('91440300MA5DC0000'), sealId: 'pay-seal' },
};

/** The seal registry: the assigned funder's own seal (organisations' seals are registered to them implicitly). */
export const SEALS = { 'funder-seal': { owner: { funderId: FUNDER.id } } };

export const TEMPLATE_CODES = {
  CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_V' },
  LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
  CARD_BINDING: { 'payment-agreement': 'PAYMENT_AGREEMENT_V' },
  UI_LOAN: { 'loan-contract': 'LOAN_CONTRACT_V' },
};

/** A host-configured scene: the borrower signs in the vendor's page, so the flow waits (callbacks, polling). */
export const UI_LOAN_SCENE: SigningSceneInput = {
  code: 'UI_LOAN',
  name: '借款合同（页面签署）',
  documents: [
    { key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: 'LOAN_CONTRACT', fileName: '借款合同.pdf' },
  ],
  parties: [
    { role: 'platform', kind: 'organization', signing: 'auto', order: 1 },
    { role: 'borrower', kind: 'person', signing: 'vendorUi', order: 2 },
  ],
  deadlineMs: 3_600_000,
};

const SEAL = { x: 100, y: 100, width: 120, height: 40 };

/** The loan definition with a funder and a payment company that can seal too (a template has at most 3 parties). */
export function definitionWith(
  roles: ('platform' | 'funder' | 'paymentCompany')[],
): Omit<TemplateDefinitionInput, 'code' | 'name' | 'documentType'> {
  const base = loanDefinition();
  return {
    ...base,
    parties: [
      { role: 'borrower', kind: 'person', order: 1, seal: { page: 7, rect: { ...SEAL, x: 340, y: 230 } } },
      ...roles.map((role, i) => ({
        role,
        kind: 'organization' as const,
        order: i + 2,
        seal: { page: 7, rect: { ...SEAL, y: 100 + i * 60 } },
      })),
    ],
  };
}

export interface SetupOptions {
  vendor?: MemorySigningVendorOptions;
  wrapVendor?: (vendor: SigningVendor, clock: ManualClock) => SigningVendor;
  /** The gateway's own retries; default 3 tries. One try hands every failure to the runtime's effect retry. */
  gatewayRetry?: SigningRetryOptions;
  verifyPdf?: VerifyPdf;
  unverified?: boolean;
  wrapDocuments?: (documents: DocumentStore) => DocumentStore;
  wrapPersistence?: (persistence: Persistence) => Persistence;
  /** Templates to leave un-approved (DRAFT). */
  draft?: string[];
  /** The seal registry instead of `SEALS`. */
  seals?: Record<string, SealRegistration>;
  /** The organisations instead of `ORGANIZATIONS`. */
  organizations?: Record<string, OrganizationParty>;
  /** Answers real-name checks instead of the default (every call is still counted in `verifierCalls`). */
  identityVerifier?: IdentityVerifier;
  evidenceKeys?: ChainKeys;
  evidenceNotary?: ChainNotary;
  /** How many parsed template versions the signing effects keep. */
  preparedTemplates?: number;
  /** More memory vendors next to `vendor` (each with its own `id`), behind gateways like the first one's. */
  moreVendors?: MemorySigningVendorOptions[];
  routing?: SigningRouting;
  /** Replaces the vendor bindings of every template the setup approves. */
  vendorBindings?: VendorBindings;
  /** Wraps the built-in workflows, e.g. `twice([...])` to replay effects. */
  workflows?: SealflowOptions['workflows'];
}

export async function setupSigning(options: SetupOptions = {}) {
  const clock = createManualClock();
  const basePersistence = createMemoryPersistence();
  const persistence = options.wrapPersistence?.(basePersistence) ?? basePersistence;
  const store = createMemoryDocumentStore({ clock });
  const documents = options.wrapDocuments?.(store) ?? store;
  const vendor = createMemorySigningVendor({ clock, ...options.vendor });
  const gatewayOptions = {
    clock,
    sleep: async () => {},
    random: () => 0.5,
    ...(options.gatewayRetry ? { retry: options.gatewayRetry } : {}),
  };
  const gateway = createSigningGateway(options.wrapVendor?.(vendor, clock) ?? vendor, gatewayOptions);
  const moreVendors = (options.moreVendors ?? []).map((more) => createMemorySigningVendor({ clock, ...more }));
  const environment = {
    vendors: Object.fromEntries(
      [gateway, ...moreVendors.map((more) => createSigningGateway(more, gatewayOptions))].map((g) => [g.id, g]),
    ),
    documents,
    hashKey: HASH_KEY,
    organizations: options.organizations ?? ORGANIZATIONS,
    seals: options.seals ?? SEALS,
    ...(options.verifyPdf ? { verifyPdf: options.verifyPdf } : {}),
    ...(options.evidenceKeys ? { evidenceKeys: options.evidenceKeys } : {}),
    ...(options.preparedTemplates !== undefined ? { preparedTemplates: options.preparedTemplates } : {}),
  };
  const verifierCalls: string[] = [];
  const identityVerifier: IdentityVerifier = {
    async check(person) {
      verifierCalls.push(person.idNumber);
      if (options.identityVerifier) return options.identityVerifier.check(person);
      return options.unverified ? { verified: false } : { verified: true, method: 'three-element', verifiedAt: 1 };
    },
  };
  // Driven by `drain()` (no background worker); the manual clock is the scheduler of waits and timeouts too.
  const sealflowOptions: SealflowOptions = {
    ...environment,
    persistence,
    clock,
    logger: silentLogger,
    start: false,
    approvalLevels: LEVELS,
    identityVerifier,
    scenes: [UI_LOAN_SCENE],
    templateCodes: TEMPLATE_CODES,
    ...(options.routing ? { routing: options.routing } : {}),
    ...(options.workflows ? { workflows: options.workflows } : {}),
    ...(options.evidenceNotary ? { evidenceNotary: options.evidenceNotary } : {}),
  };
  const sealflow = await createSealflow(sealflowOptions);
  const { runtime, templates, signing } = sealflow;
  /**
   * Another host process on the same database, vendor and document store: its own runtime and services. Its waits
   * for a claim held elsewhere run on real timers unless `overrides.scheduler` says otherwise.
   */
  const anotherHost = (overrides: Partial<SealflowOptions> = {}) =>
    createSealflow({ ...sealflowOptions, scheduler: systemScheduler, ...overrides });
  const anotherInstance = async (overrides: Partial<SealflowOptions> = {}) => (await anotherHost(overrides)).signing;
  const events: DomainEvent[] = [];
  runtime.onEvent((event) => void events.push(event));

  const versions: Record<string, string> = {};
  const approve = async (code: string, documentType: string, definition = definitionWith(['platform'])) => {
    const draft = await templates.importTemplate(editor, {
      code,
      name: code,
      documentType,
      pdf: CONTRACT_PDF,
      definition: options.vendorBindings ? { ...definition, vendorBindings: options.vendorBindings } : definition,
    });
    versions[code] = draft.id;
    if (options.draft?.includes(code)) return;
    await templates.submit(editor, draft.id);
    await templates.approve(legalLee, draft.id);
    await templates.approve(riskRay, draft.id);
  };
  await approve('CREDIT_CONTRACT_V', 'CREDIT_CONTRACT');
  await approve('DATA_QUERY_V', 'DATA_QUERY_AUTHORIZATION');
  await approve('LOAN_CONTRACT_V', 'LOAN_CONTRACT', definitionWith(['platform', 'funder']));
  await approve('PAYMENT_AGREEMENT_V', 'PAYMENT_AGREEMENT', definitionWith(['paymentCompany']));

  /** Run workers until nothing is left to do now. */
  async function drain(max = 40) {
    for (let i = 0; i < max; i++) {
      const pass = await runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  }

  function request(overrides: Partial<SignRequest> & { shown?: string[] } = {}): SignRequest {
    const { shown, ...rest } = overrides;
    const scene = rest.scene ?? 'LOAN_CONTRACT';
    const codes = Object.values(TEMPLATE_CODES[scene as keyof typeof TEMPLATE_CODES] ?? {});
    return {
      businessNo: 'LN20260101001',
      scene,
      borrower: BORROWER,
      values: {
        loan: { amount: '50000.00', startDate: '2026-01-05', termMonths: 12 },
        credit: { limit: '100000.00' },
      },
      consent: {
        at: clock.now(),
        channel: 'app',
        ip: '203.0.113.7',
        device: 'iPhone15,2 iOS 18.1',
        documentVersionsShown: shown ?? codes.map((c) => versions[c] ?? `${c}.v0001`),
      },
      actor: { id: 'lending-system' },
      ...rest,
    };
  }

  return {
    sealflow,
    environment,
    identityVerifier,
    clock,
    persistence,
    store,
    documents,
    vendor,
    gateway,
    moreVendors,
    runtime,
    templates,
    signing,
    events,
    versions,
    verifierCalls,
    anotherHost,
    anotherInstance,
    drain,
    request,
  };
}

export type SigningSetup = Awaited<ReturnType<typeof setupSigning>>;

/** Counts what the signing wrote to the document store, by kind. */
export function recordingStore(inner: DocumentStore) {
  const puts: { kind: string; fileId: string }[] = [];
  const store: DocumentStore = {
    name: inner.name,
    async put(input) {
      const stored = await inner.put(input);
      puts.push({ kind: input.metadata?.kind ?? 'template', fileId: stored.fileId });
      return stored;
    },
    get: (fileId) => inner.get(fileId),
    head: (fileId) => inner.head(fileId),
    delete: (fileId) => inner.delete(fileId),
  };
  return { store, puts, signed: () => puts.filter((p) => p.kind === 'signed') };
}

export function expectNoPersonalData(text: string): void {
  for (const secret of [BORROWER.name, BORROWER.idNumber, BORROWER.mobile]) expect(text).not.toContain(secret);
}
