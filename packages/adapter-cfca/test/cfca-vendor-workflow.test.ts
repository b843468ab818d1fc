/**
 * core's signing workflow on `cfcaVendor()` against the 安心签 emulator, the way a lender runs it: the platform seals
 * as itself, the borrower is signed for under her proxy-sign authorisation (代签), a funder seals later with its own
 * seal, nothing is pushed (core polls), and the archived PDFs verify.
 */
import { readFileSync } from 'node:fs';
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { createSealflow, type SignRequest, type SigningSceneInput, silentLogger } from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore, createMemoryPersistence } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { createMemoryCfcaStore } from '../src/index.js';
import { makeTransact } from './emulator-support.js';
import { funderCode, PROJECT, platformCode, vendorWorld } from './vendor-support.js';

const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const world = vendorWorld({ clock });
const { emulator } = world;
const server = setupServer(...emulator.handlers);
/** Transactions the way another system of the lender (or 安心签's own signing page) would make them. */
const transact = makeTransact(emulator, world.key, () => clock.now());
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => emulator.faults.clear());
afterAll(() => server.close());

/** With CFCA the platform signs for the borrower (personAutoSign): nobody has to open a page. */
const CFCA_SCENES: SigningSceneInput[] = [
  {
    code: 'CREDIT_GRANT',
    name: '授信签章',
    documents: [
      {
        key: 'credit-contract',
        documentType: 'CREDIT_CONTRACT',
        templateCode: 'CREDIT_CONTRACT',
        fileName: '授信合同.pdf',
      },
      {
        key: 'data-query-authorization',
        documentType: 'DATA_QUERY_AUTHORIZATION',
        templateCode: 'DATA_QUERY_AUTHORIZATION',
        fileName: '数据查询授权书.pdf',
      },
    ],
    parties: [
      { role: 'platform', kind: 'organization', signing: 'auto', order: 1 },
      { role: 'borrower', kind: 'person', signing: 'auto', order: 2 },
    ],
  },
  {
    code: 'LOAN_CONTRACT',
    name: '借款合同签章',
    documents: [
      { key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: 'LOAN_CONTRACT', fileName: '借款合同.pdf' },
    ],
    fundings: ['platform', 'funder'],
    deadlineMs: 24 * 3_600_000,
    parties: [
      { role: 'platform', kind: 'organization', signing: 'auto', order: 1, funding: 'platform' },
      { role: 'borrower', kind: 'person', signing: 'auto', order: 2 },
      { role: 'funder', kind: 'organization', signing: 'ownCall', order: 3, funding: 'funder' },
    ],
  },
];

async function setup(vendorOptions: Parameters<typeof world.vendor>[0] = {}, scenes = CFCA_SCENES) {
  const store = createMemoryCfcaStore();
  // 安心签 and this server share the test's clock (txTime is checked against it); the client's own timeouts and
  // the rate limiter run on real timers.
  const vendor = world.vendor({ clock, store, ...vendorOptions });
  const sealflow = await createSealflow({
    persistence: createMemoryPersistence(),
    documents: createMemoryDocumentStore({ clock }),
    vendors: { cfca: vendor },
    vendorCalls: { sleep: async () => {} },
    hashKey: 'adapter-cfca-test-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: { name: emulator.platform.name, creditCode: platformCode, sealId: emulator.platform.sealId },
    },
    seals: { [world.funder.sealId]: { owner: { funderId: 'bank-1' } } },
    scenes,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'telecom-three-element' }) },
    templateCodes: {
      CREDIT_GRANT: { 'credit-contract': 'CREDIT_CONTRACT_V', 'data-query-authorization': 'DATA_QUERY_V' },
      LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' },
    },
    clock,
    logger: silentLogger,
    start: false,
  });
  const { runtime, templates, signing } = sealflow;
  const editor = { id: 'alice', roles: ['template-editor'] };
  const approve = async (code: string, documentType: string, roles: string[]) => {
    const draft = await templates.importTemplate(editor, {
      code,
      name: code,
      documentType,
      pdf,
      definition: sealedContractDefinition(roles),
    });
    await templates.submit(editor, draft.id);
    await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
    return draft.id;
  };
  const versions = {
    credit: await approve('CREDIT_CONTRACT_V', 'CREDIT_CONTRACT', ['platform']),
    query: await approve('DATA_QUERY_V', 'DATA_QUERY_AUTHORIZATION', ['platform']),
    loan: await approve('LOAN_CONTRACT_V', 'LOAN_CONTRACT', ['platform', 'funder']),
  };
  /** Runs the workflow until it rests. */
  const drain = async () => {
    for (let i = 0; i < 40; i++) {
      const pass = await runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((count) => count === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  const request = (overrides: Partial<SignRequest>, shown: string[]): SignRequest => ({
    businessNo: 'LN-CFCA-1',
    scene: 'LOAN_CONTRACT',
    borrower: { name: world.borrower.name, idNumber: world.borrower.idNumber, mobile: world.borrower.mobile! },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: { at: clock.now(), channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: shown },
    actor: { id: 'lending-system' },
    ...overrides,
  });
  return { signing, versions, drain, request, vendor, store };
}

function expectValid(bytes: Uint8Array, count: number) {
  expect(verifyPdfSignatures(bytes).map((r) => r.valid)).toEqual(Array.from({ length: count }, () => true));
}

describe('signing workflow on cfcaVendor with the 安心签 emulator', () => {
  it('CREDIT_GRANT: two contracts at 安心签, platform seal and borrower 代签, completed; both PDFs verify', async () => {
    const s = await setup();
    const before = emulator.contractNumbers().length;
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-CFCA-1' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('cfca');
    expect(done.sealsUsed).toEqual([expect.objectContaining({ role: 'platform', sealId: emulator.platform.sealId })]);
    const made = emulator.contractNumbers().slice(before);
    expect(made).toHaveLength(2);
    for (const no of made) {
      expect(emulator.contract(no).contractState).toBe(1);
      expect(no.startsWith(done.vendor.flowId!)).toBe(true);
    }
    const files = await s.signing.download(record.id);
    expect(files).toHaveLength(2);
    for (const file of files) expectValid(file.bytes, 2);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('LOAN_CONTRACT with a funder: waits for the funder, who seals with its own seal (the platform is only a copy)', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request(
        {
          businessNo: 'LN-CFCA-FUNDER',
          funding: 'funder',
          funder: { id: 'bank-1', name: '某某银行股份有限公司', creditCode: funderCode },
        },
        [s.versions.loan],
      ),
    );
    await s.drain();
    const awaiting = (await s.signing.get(record.id))!;
    expect(awaiting.failure).toBeNull();
    expect(awaiting.status).toBe('AWAITING_FUNDER');
    const contractNo = emulator.contractNumbers().at(-1)!;
    // The platform does not sign a funder-funded loan: 安心签 lists it as a copy (9); the borrower signed, the funder
    // has not.
    expect(emulator.contract(contractNo).signatories.map((x) => x.signmentState)).toEqual([9, 1, 0]);

    clock.advance(3_600_000);
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: 'bank-1' }, record.id, { sealId: world.funder.sealId });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.sealsUsed).toEqual(
      expect.arrayContaining([expect.objectContaining({ role: 'funder', sealId: world.funder.sealId })]),
    );
    expect(emulator.contract(contractNo).contractState).toBe(1);
    const [file] = await s.signing.download(record.id);
    expectValid(file!.bytes, 2);
  });

  it('a create whose answer was lost is found by its contract number; one contract, completed', async () => {
    const s = await setup({ timeoutMs: 300 });
    const before = emulator.contractNumbers().length;
    emulator.faults.next({ kind: 'timeout', processed: true }, { txCode: '3203' });
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-CFCA-LOST' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(emulator.contractNumbers().length).toBe(before + 2);
  });

  it('a funder who never seals: at the deadline the flow is closed and the signing fails with a typed error', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request(
        {
          businessNo: 'LN-CFCA-LATE',
          funding: 'funder',
          funder: { id: 'bank-1', name: '某某银行股份有限公司', creditCode: funderCode },
        },
        [s.versions.loan],
      ),
    );
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');
    clock.advance(25 * 3_600_000);
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed.status).toBe('FAILED');
    expect(failed.failure?.code).toBe('SIGNING_DEADLINE_PASSED');
    const flow = await s.vendor.getFlow(failed.vendor.flowId!, { idempotencyKey: 'after-deadline' });
    expect(flow.status).toBe('revoked');
  });

  it('a borrower who signs outside sealflow (on 安心签 itself): core polls until 安心签 reports it', async () => {
    const scenes = CFCA_SCENES.map((scene) =>
      scene.code === 'CREDIT_GRANT'
        ? {
            ...scene,
            parties: scene.parties.map((p) => (p.role === 'borrower' ? { ...p, signing: 'vendorUi' as const } : p)),
          }
        : scene,
    );
    const s = await setup({}, scenes);
    const before = emulator.contractNumbers().length;
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-CFCA-POLL' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('SIGNING');
    // Polling while she has not signed changes nothing.
    clock.advance(10 * 60_000);
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('SIGNING');

    for (const contractNo of emulator.contractNumbers().slice(before)) {
      const answer = await transact('3208', {
        signContractByCoordinate: {
          contractNo,
          signInfo: { userId: world.borrowerUserId, projectCode: PROJECT, isCheckProjectCode: 1 },
          signLocations: [
            {
              signOnPage: '8',
              signLocationLBX: '340',
              signLocationLBY: '230',
              signLocationRUX: '460',
              signLocationRUY: '290',
            },
          ],
        },
      });
      expect(answer.json.head?.retCode, answer.text).toBe('60000000');
    }
    for (let i = 0; i < 30 && (await s.signing.get(record.id))!.status === 'SIGNING'; i++) {
      clock.advance(5 * 60_000);
      await s.drain();
    }
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    for (const file of await s.signing.download(record.id)) expectValid(file.bytes, 2);
  });
});
