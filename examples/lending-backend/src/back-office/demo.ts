/**
 * The back office over a seeded sealflow, for trying the page and for its browser test: PGlite in memory, the local
 * signer with test certificates, a manual clock fixed at 2026-11-30 10:00 China time (the workflows' windows follow
 * it; the worker polls in real time), funder dispatch, and the plugin on a loopback Fastify. Everything is seeded
 * through sealflow's own API, as a lender's systems would: templates in force and awaiting approval, a signed loan
 * contract, a failed credit grant, institutions with positions, an application on offer and a complaint.
 *
 * `pnpm --filter @sealflow/example-lending-backend back-office:demo` starts it and prints where to sign in.
 */
import {
  createSealflow,
  type DispatchActor,
  type Sealflow,
  silentLogger,
  systemScheduler,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore, type ManualClock } from '@sealflow/core/memory';
import { localSigner, verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealImage, createTestSigningIdentity } from '@sealflow/adapter-local/testing';
import { pglitePersistence } from '@sealflow/adapter-storage/pglite';
import Fastify, { type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { CONTRACT_TEMPLATE_PDF } from '../../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../../fixtures/signing-templates.js';
import { backOffice, type Operator } from './index.js';

/** 2026-11-30 10:00 in China. */
export const START = Date.UTC(2026, 10, 30, 2);
export const HOUR = 3_600_000;

const PLATFORM = { name: '某某消费金融股份有限公司', creditCode: withCreditCodeCheckChar('91330100MA2KQ8N3X') };
const BANK = {
  id: 'bank-hz',
  name: '杭州某某银行股份有限公司',
  creditCode: withCreditCodeCheckChar('91330000704201560'),
};
const INSTITUTIONS = [
  { ...BANK, sealId: 'bank-hz-seal', deposit: 900_000_000 },
  {
    id: 'xd-sh',
    name: '上海某某小额贷款有限公司',
    creditCode: withCreditCodeCheckChar('91310000MA1B00001'),
    deposit: 600_000_000,
  },
  {
    id: 'xd-sz',
    name: '深圳某某小额贷款有限公司',
    creditCode: withCreditCodeCheckChar('91440300MA5C00002'),
    deposit: 400_000_000,
  },
  {
    id: 'xd-small',
    name: '某某小额贷款有限公司',
    creditCode: withCreditCodeCheckChar('91330100MA2D00003'),
    deposit: 10_000_000,
  },
];

export const BORROWER = { name: '王雨桐', idNumber: withIdNumberCheckChar('33010619930715302'), mobile: '13857126043' };

/** The one operator the test signs in as: approver, signing operator and dispatch follow-up. */
export const OPERATOR: Operator = {
  id: 'risk.li',
  name: '李审核',
  roles: ['template-approver', 'signing-operator', 'follow-up-manager', 'platform-admin', 'customer-service'],
  password: 'demo-password-1',
};

/** Customer service: reads the board and the records, but may not open signed contracts or re-sign. */
export const VIEWER: Operator = {
  id: 'cs.zhao',
  name: '赵客服',
  roles: ['customer-service'],
  password: 'demo-password-2',
};

/** A template editor: uploads template PDFs and submits them (and so may not approve them). */
export const EDITOR: Operator = {
  id: 'ops.zhou',
  name: '周运营',
  roles: ['template-editor'],
  password: 'demo-password-3',
};

const editor = { id: EDITOR.id, roles: [...EDITOR.roles] };
const seedApprover = { id: 'legal.wang', roles: ['template-approver'] };
const admin: DispatchActor = { id: 'admin.chen', roles: ['platform-admin'] };
const customerManager: DispatchActor = { id: 'cm.zhang', roles: ['customer-manager'] };
const reviewer: DispatchActor = { id: 'review.liu', roles: ['loan-reviewer'] };
const service: DispatchActor = { id: 'cs.he', roles: ['customer-service'] };

export interface BackOfficeDemo {
  url: string;
  sealflow: Sealflow;
  clock: ManualClock;
  app: FastifyInstance;
  seeded: {
    completedRecordId: string;
    failedRecordId: string;
    /** Pending approval; approving it lets the failed credit grant be re-signed. */
    creditTemplate: string;
    /** Pending approval: a revision to be rejected. */
    authorizationRevision: string;
    applicationId: string;
  };
  close(): Promise<void>;
}

/** Start the seeded demo on `port` (default: any free port) of 127.0.0.1. */
export async function startBackOfficeDemo({ port = 0 }: { port?: number } = {}): Promise<BackOfficeDemo> {
  const clock = createManualClock(START);
  const persistence = await pglitePersistence();
  const documents = createMemoryDocumentStore({ clock });
  const identity = (name: string) =>
    createTestSigningIdentity({ commonName: name, organization: name, keyType: 'rsa' });
  const signer = localSigner({
    seals: {
      'platform-seal': { identity: identity(PLATFORM.name), image: createSealImage({ size: 120 }) },
      'bank-hz-seal': { identity: identity(BANK.name), image: createSealImage({ size: 120 }) },
    },
    personIdentity: identity(`${PLATFORM.name} 代签`),
    persistence,
    documents,
  });
  const sealflow = await createSealflow({
    persistence,
    documents,
    vendors: { local: signer },
    verifyPdf: verifyPdfSignatures,
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element', verifiedAt: clock.now() }) },
    hashKey: 'back-office-test-hash-key-not-a-secret',
    organizations: { platform: { ...PLATFORM, sealId: 'platform-seal' } },
    seals: { 'bank-hz-seal': { owner: { funderId: BANK.id } } },
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_V', 'data-query-authorization': 'AUTH_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_V' },
    },
    clock,
    // The worker polls in real time; only the workflows' own windows follow the manual clock.
    scheduler: systemScheduler,
    logger: silentLogger,
    worker: { pollMs: 10 },
    dispatch: {
      products: [{ code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'] }],
      choiceDesk: 'follow-up-desk',
    },
  });

  try {
    const seeded = await seed(sealflow, clock);
    const app = Fastify({ logger: false });
    await app.register(
      backOffice(sealflow, {
        operators: [OPERATOR, VIEWER, EDITOR],
        productNames: { HOUSE: '房抵贷' },
        staffName: (id) => ({ 'cm.zhang': '张经理' })[id] ?? id,
        secureCookie: false,
      }),
      { prefix: '/admin' },
    );
    const url = await app.listen({ host: '127.0.0.1', port });
    return {
      url: `${url}/admin/`,
      sealflow,
      clock,
      app,
      seeded,
      async close() {
        await app.close();
        await sealflow.close();
        await persistence.close();
      },
    };
  } catch (error) {
    await sealflow.close();
    await persistence.close();
    throw error;
  }
}

async function seed(sealflow: Sealflow, clock: ManualClock): Promise<BackOfficeDemo['seeded']> {
  const { templates, signing } = sealflow;
  const dispatch = sealflow.dispatch!;
  const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  const effective = async (code: string, name: string, documentType: string, roles: string[]) => {
    const draft = await templates.importTemplate(editor, {
      code,
      name,
      documentType,
      pdf,
      definition: sealedContractDefinition(roles),
    });
    await templates.submit(editor, draft.id);
    return draft.id;
  };

  // 借款合同 and 数据查询授权书 in force; a revision of the 授权书 and a new 授信合同 wait for approval.
  const loan = await effective('LOAN_V', '个人借款合同', 'LOAN_CONTRACT', ['platform', 'funder']);
  await templates.approve(seedApprover, loan);
  const authorization = await effective('AUTH_V', '数据查询授权书', 'DATA_QUERY_AUTHORIZATION', ['platform']);
  await templates.approve(seedApprover, authorization);
  const revision = await templates.reviseEffective(editor, 'AUTH_V');
  const current = revision.definition.variables;
  await templates.updateDraft(editor, revision.id, {
    variables: current.map((v) => (v.key === 'borrowerName' ? { ...v, label: '授权人姓名' } : v)),
  });
  await templates.submit(editor, revision.id);
  const credit = await effective('CREDIT_V', '个人授信合同', 'CREDIT_CONTRACT', ['platform']);

  const consent = (versions: string[]) => ({
    at: clock.now(),
    channel: 'app',
    ip: '203.0.113.24',
    device: 'iPhone15,2 iOS 18.1',
    documentVersionsShown: versions,
  });
  const values = { loan: { amount: '50000.00' }, credit: { limit: '80000.00' } };

  // A platform-funded loan contract, signed and archived.
  const started = await signing.sign({
    businessNo: 'LN20261130000101',
    scene: 'LOAN_CONTRACT',
    funding: 'platform',
    borrower: BORROWER,
    values: { ...values, lender: PLATFORM },
    consent: consent([loan]),
    actor: { id: 'loan-core' },
  });
  const completed = await signing.waitFor(started.id, { timeoutMs: 30_000 });
  if (completed.status !== 'COMPLETED') throw new Error(`The seeded loan contract ended ${completed.status}.`);

  // A credit grant refused because its 授信合同 is not approved yet: FAILED, and re-signable once it is.
  const failedRecordId = await signing
    .sign({
      businessNo: 'CG20261130000102',
      scene: 'CREDIT_GRANT',
      borrower: { name: '李浩然', idNumber: withIdNumberCheckChar('42011119880226181'), mobile: '18667195532' },
      values,
      consent: consent([credit, authorization]),
      actor: { id: 'credit-core' },
    })
    .then(
      (record) => record.id,
      (error: { recordId?: string }) => error.recordId,
    );
  if (!failedRecordId) throw new Error('The credit grant with an unapproved template was not refused with a record.');
  const failed = await signing.waitFor(failedRecordId, { timeoutMs: 30_000 });
  if (failed.status !== 'FAILED') throw new Error(`The seeded credit grant ended ${failed.status}, not FAILED.`);

  // Institutions with their positions, and an application passed by 贷审: its dispatch offers it to the best three.
  for (const { deposit, ...profile } of INSTITUTIONS) {
    await dispatch.institutions.register(admin, {
      ...profile,
      regions: ['33'],
      categories: ['mortgage'],
      capacity: 10,
    });
    await dispatch.institutions.topUp(admin, {
      institutionId: profile.id,
      account: 'deposit',
      amountFen: deposit,
      key: `seed:${profile.id}`,
    });
  }
  const opened = await dispatch.applications.open(customerManager, {
    applicationNumber: 'SQ20261130001',
    customer: BORROWER,
    productCode: 'HOUSE',
    amountFen: 30_000_000,
    region: '330106',
    businessCategory: 'mortgage',
  });
  const applicationId = opened.applicationId;
  await dispatch.applications.registerCustomer(customerManager, applicationId, BORROWER);
  await dispatch.applications.submitMaterials(customerManager, applicationId, [
    { kind: 'id-card', documentId: 'doc-id-1', complete: true },
    { kind: 'property-certificate', documentId: 'doc-house-1', complete: true },
  ]);
  await dispatch.applications.confirmProduct(customerManager, applicationId);
  await dispatch.applications.submitForReview(customerManager, applicationId);
  await dispatch.applications.pass(reviewer, applicationId);
  await until('the dispatch offering', async () => {
    const view = await dispatch.offers.get(`dispatch:${applicationId}:1`, admin).catch(() => null);
    return view?.state === 'offering' && view.offers.length > 0;
  });

  await dispatch.complaints.receive(service, {
    complaintNo: 'TS20261130001',
    subject: '放款进度咨询未及时回复',
    content: '客户反映提交材料后两天无人联系。',
    contact: { name: '王雨桐', mobile: '13857126043' },
    applicationId,
  });

  return {
    completedRecordId: completed.id,
    failedRecordId,
    creditTemplate: credit,
    authorizationRevision: revision.id,
    applicationId,
  };
}

/** Poll until `check` holds: the background worker moves the workflows on in real time. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const demo = await startBackOfficeDemo({ port: Number(process.env.PORT ?? 3900) });
  console.log(`Back office: ${demo.url}`);
  for (const { id, name, password } of [OPERATOR, VIEWER, EDITOR]) console.log(`  ${name}: ${id} / ${password}`);
  console.log('Press Ctrl+C to stop; everything is kept in memory and forgotten on exit.');
  process.once('SIGINT', () => void demo.close().then(() => process.exit(0)));
}
