/**
 * core's signing workflow on `esignVendor()` against the e签宝 emulator, the way a lender runs it: the platform seals
 * automatically, the borrower signs on e签宝's page through the link sealflow hands out, a funder seals later with its
 * own seal, e签宝's callbacks reach `handleVendorCallback`, and the archived PDFs pass pdfsig.
 */
import { readFileSync } from 'node:fs';
import {
  createSealflow,
  silentLogger,
  type SigningSceneInput,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
  type SignRequest,
} from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore, createMemoryPersistence } from '@sealflow/core/memory';
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { type EsignPersonSilentSignOptions, esignScenes, esignVendor } from '../src/index.js';
import { createEsignEmulator, ESIGN_CODES } from '../src/testing/index.js';
import { pdfsig } from './emulator-support.js';

const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
const funderCode = withCreditCodeCheckChar('91110000100000000');
const NOTIFY = 'https://lender.example/esign/notify';

const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
const emulator = createEsignEmulator({
  clock,
  app: { orgName: '某某消费金融股份有限公司', orgIDCardNum: platformCode },
});
const funderOrg = emulator.addOrg({ orgName: '某某银行股份有限公司', orgIDCardNum: funderCode });
emulator.authorizeSeal(funderOrg.sealId, emulator.app.orgId);

/** Where e签宝's callbacks go: the sealflow instance of the test that is running. */
let deliver: ((request: Request) => Promise<Response>) | undefined;
const server = setupServer(
  ...emulator.handlers,
  http.post(NOTIFY, ({ request }) => (deliver ? deliver(request) : new HttpResponse(null, { status: 503 }))),
);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  emulator.faults.clear();
  deliver = undefined;
});
afterAll(() => server.close());

interface SetupOptions {
  vendorTimeoutMs?: number;
  personSilentSign?: EsignPersonSilentSignOptions;
  scenes?: SigningSceneInput[];
}

async function setup(options: SetupOptions = {}) {
  const { vendorTimeoutMs } = options;
  const persistence = createMemoryPersistence();
  const documents = createMemoryDocumentStore({ clock });
  const vendor = esignVendor({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    host: emulator.baseUrl,
    // e签宝 and this server share the test's clock; the client's own timeouts run on real timers.
    clock,
    qps: 1000,
    burst: 100_000,
    unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
    ...(options.personSilentSign ? { personSilentSign: options.personSilentSign } : {}),
    ...(vendorTimeoutMs === undefined ? {} : { timeoutMs: vendorTimeoutMs }),
  });
  const sealflow = await createSealflow({
    persistence,
    documents,
    vendors: { esign: vendor },
    // Retries without waiting on the test's clock, which only the test moves.
    vendorCalls: { sleep: async () => {} },
    callbackUrl: () => NOTIFY,
    hashKey: 'adapter-esign-test-hash-key-0123456789',
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: { name: emulator.app.orgName, creditCode: platformCode, sealId: emulator.app.sealId },
    },
    seals: { [funderOrg.sealId]: { owner: { funderId: 'bank-1' } } },
    // The whole switch from localSigner: e签宝's scenes, derived from core's defaults.
    scenes: options.scenes ?? esignScenes(),
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
  const callbacks: { status: number; body: unknown }[] = [];
  deliver = async (request) => {
    const url = new URL(request.url);
    try {
      const result = await signing.handleVendorCallback('esign', {
        headers: Object.fromEntries(request.headers),
        query: Object.fromEntries(url.searchParams),
        rawBody: new Uint8Array(await request.arrayBuffer()),
      });
      callbacks.push({ status: 200, body: result });
      return HttpResponse.json({ code: '200', msg: 'success' });
    } catch (error) {
      callbacks.push({ status: 500, body: error });
      return new HttpResponse(null, { status: 500 });
    }
  };
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
  /** Runs the workflow until it rests, letting e签宝's callbacks arrive in between. */
  const drain = async () => {
    for (let i = 0; i < 40; i++) {
      await emulator.callbacks.idle();
      const pass = await runtime.runOnce({ limit: 50 });
      await emulator.callbacks.idle();
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  const request = (overrides: Partial<SignRequest>, shown: string[]): SignRequest => ({
    businessNo: 'LN-ESIGN-1',
    scene: 'LOAN_CONTRACT',
    borrower: { name: '欧阳娜娜', idNumber: withIdNumberCheckChar('31010119900307002'), mobile: '13912345678' },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: { at: clock.now(), channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: shown },
    actor: { id: 'lending-system' },
    ...overrides,
  });
  /** The borrower opens the link sealflow hands out and signs on e签宝's page. */
  const borrowerSigns = async (recordId: string) => {
    const { url } = await signing.signerUrl(recordId, 'borrower');
    emulator.signByUrl(url);
    await emulator.callbacks.idle();
  };
  return { signing, versions, drain, request, borrowerSigns, callbacks };
}

function expectValidPdf(bytes: Uint8Array, count: number) {
  const report = pdfsig(bytes);
  expect(report.validations, report.raw).toEqual(Array.from({ length: count }, () => 'Signature is Valid.'));
  expect(report.totalDocumentSigned, report.raw).toBe(true);
}

describe('signing workflow on esignVendor with the e签宝 emulator', () => {
  it('CREDIT_GRANT: platform auto-seal, borrower signs by link, callbacks complete it; both PDFs verify', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-1' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const waiting = (await s.signing.get(record.id))!;
    expect(waiting.failure).toBeNull();
    expect(waiting).toMatchObject({ status: 'SIGNING', vendor: { id: 'esign' } });
    const flowId = waiting.vendor.flowId!;
    expect(emulator.flow(flowId).signers.map((x) => [x.signerType, x.signStatus])).toEqual([
      [1, 2], // the platform sealed as the flow started
      [0, 1], // the borrower may sign now
    ]);

    await s.borrowerSigns(record.id);
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.sealsUsed).toEqual([expect.objectContaining({ role: 'platform', sealId: emulator.app.sealId })]);
    expect(done.signed.map((d) => [d.documentKey, d.signatures])).toEqual([
      ['credit-contract', 2],
      ['data-query-authorization', 2],
    ]);
    // e签宝 told sealflow: the borrower's and the flow's completion were accepted through handleVendorCallback. The
    // platform's seal was reported while the flow was being created, before the record knew it: refused as
    // retryable, so e签宝 delivers it again later.
    const accepted = s.callbacks.filter((c) => c.status === 200);
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    for (const refused of s.callbacks.filter((c) => c.status !== 200)) {
      expect(refused.body).toMatchObject({ code: 'CALLBACK_UNKNOWN_FLOW', retryable: true });
    }
    for (const file of await s.signing.download(record.id)) expectValidPdf(file.bytes, 2);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('LOAN_CONTRACT with a funder: waits for the funder, who seals with its own authorised seal', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request(
        {
          businessNo: 'LN-ESIGN-FUNDER',
          funding: 'funder',
          funder: { id: 'bank-1', name: funderOrg.orgName, creditCode: funderCode },
        },
        [s.versions.loan],
      ),
    );
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('SIGNING');
    await s.borrowerSigns(record.id);
    await s.drain();
    const awaiting = (await s.signing.get(record.id))!;
    expect(awaiting.failure).toBeNull();
    expect(awaiting.status).toBe('AWAITING_FUNDER');
    // e签宝 holds the flow open (no autoFinish) until the funder, who is not there yet, has sealed.
    expect(emulator.flow(awaiting.vendor.flowId!).status).toBe(1);

    clock.advance(3_600_000);
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: 'bank-1' }, record.id, { sealId: funderOrg.sealId });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.sealsUsed).toEqual([expect.objectContaining({ role: 'funder', sealId: funderOrg.sealId })]);
    const flow = emulator.flow(done.vendor.flowId!);
    expect(flow.status).toBe(2);
    expect(flow.signers.find((x) => x.orgId === funderOrg.orgId)?.signStatus).toBe(2);
    const [file] = await s.signing.download(record.id);
    expectValidPdf(file!.bytes, 2);
  });

  it('a create whose answer was lost is found by its key, not created twice; the signing completes', async () => {
    const s = await setup({ vendorTimeoutMs: 300 });
    const before = emulator.findFlows({}).length;
    const paths: string[] = [];
    const count = ({ request }: { request: Request }) => {
      paths.push(new URL(request.url).pathname);
    };
    server.events.on('request:start', count);
    // e签宝 makes the flow, but the answer never arrives: the client times out and the call is tried again.
    emulator.faults.next({ kind: 'timeout', processed: true }, { path: '/v3/sign-flow/create-by-file' });
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-LOST' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const waiting = (await s.signing.get(record.id))!;
    expect(waiting.failure).toBeNull();
    expect(waiting.status).toBe('SIGNING');
    expect(emulator.findFlows({}).length).toBe(before + 1);
    expect(emulator.findFlows({}).at(-1)).toBe(waiting.vendor.flowId);
    // One create reached e签宝; the try after the timeout looked the flow up by its key instead.
    server.events.removeListener('request:start', count);
    expect(paths.filter((p) => p === '/v3/sign-flow/create-by-file')).toHaveLength(1);
    expect(paths.filter((p) => p === '/v3/sign-flow/sign-flow-list').length).toBeGreaterThanOrEqual(2);

    await s.borrowerSigns(record.id);
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(emulator.findFlows({}).length).toBe(before + 1);
  });
});

describe('legacy v1 silent signing for the borrower (personSilentSign)', () => {
  const silentBorrower = (mobile: string) => ({
    name: '司马静',
    idNumber: withIdNumberCheckChar('11010519850615002'),
    mobile,
  });
  /** The borrower has a real-named e签宝 account; its psnId is the v1 accountId here. */
  const register = (mobile: string) => {
    const b = silentBorrower(mobile);
    return emulator.addPerson({ name: b.name, idNo: b.idNumber, mobile }).psnId;
  };

  it('with the option, CREDIT_GRANT with an auto-signing borrower completes without the borrower; PDFs verify', async () => {
    const psnId = register('13700000001');
    emulator.authorizeSilentSign(psnId);
    const s = await setup({ personSilentSign: { enabled: true }, scenes: esignScenes({ personSilentSign: true }) });
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-SILENT', borrower: silentBorrower('13700000001') }, [
        s.versions.credit,
        s.versions.query,
      ]),
    );
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    const flow = emulator.flow(done.vendor.flowId!);
    expect(flow.status).toBe(2);
    // Core's default order: the borrower first (signed for under the authorisation), then the platform's seal.
    expect(flow.signers.map((x) => [x.signerType, x.signOrder, x.signStatus, x.psnId ?? x.orgId])).toEqual([
      [1, 2, 2, emulator.app.orgId],
      [0, 1, 2, psnId],
    ]);
    expect(done.signed.map((d) => [d.documentKey, d.signatures])).toEqual([
      ['credit-contract', 2],
      ['data-query-authorization', 2],
    ]);
    for (const file of await s.signing.download(record.id)) expectValidPdf(file.bytes, 2);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('without the option, the same scene is refused: e签宝 V3 cannot sign for the borrower', async () => {
    const s = await setup({ scenes: esignScenes({ personSilentSign: true }) });
    const error = await s.signing
      .sign(
        s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-NOSILENT', borrower: silentBorrower('13700000002') }, [
          s.versions.credit,
          s.versions.query,
        ]),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: 'VENDOR_UNSUPPORTED' });
    expect((error as Error).message).toContain('personAutoSign');
  });

  it('a missing authorisation fails the signing with VENDOR_SILENT_SIGN_UNAUTHORIZED, and nothing is signed', async () => {
    register('13700000003');
    const s = await setup({ personSilentSign: { enabled: true }, scenes: esignScenes({ personSilentSign: true }) });
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-UNAUTH', borrower: silentBorrower('13700000003') }, [
        s.versions.credit,
        s.versions.query,
      ]),
    );
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed.status).toBe('FAILED');
    expect(failed.failure).toMatchObject({ code: 'VENDOR_SILENT_SIGN_UNAUTHORIZED' });
    expect(JSON.stringify(failed.failure)).not.toContain('13700000003');
    expect(failed.vendor.flowId ?? null).toBeNull();
    // The draft e签宝 holds was never started: the platform did not seal either.
    const draft = emulator.flow(emulator.findFlows({}).at(-1)!);
    expect(draft.status).toBe(0);
    expect(draft.signers.map((x) => [x.signerType, x.signStatus])).toEqual([[1, 0]]);
  });
});

describe("e签宝's callbacks lost or repeated", () => {
  it('a repeated callback is accepted again without harm; the signing completes once', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-DUP' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const flowId = (await s.signing.get(record.id))!.vendor.flowId!;
    emulator.callbacks.duplicate(2, { signFlowId: flowId });
    const before = s.callbacks.length;
    await s.borrowerSigns(record.id);
    await s.drain();
    // The borrower's completion and the flow's end, each delivered twice and each answered 200.
    const delivered = s.callbacks.slice(before);
    expect(delivered.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    const done = (await s.signing.get(record.id))!;
    expect([done.status, done.failure]).toEqual(['COMPLETED', null]);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });

  it('when every callback is lost, polling finds the completed flow', async () => {
    const s = await setup();
    const record = await s.signing.sign(
      s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-ESIGN-LOSTCB' }, [s.versions.credit, s.versions.query]),
    );
    await s.drain();
    const flowId = (await s.signing.get(record.id))!.vendor.flowId!;
    emulator.callbacks.lose(10, { signFlowId: flowId });
    const before = s.callbacks.length;
    await s.borrowerSigns(record.id);
    await s.drain();
    expect(s.callbacks.length).toBe(before);
    expect(emulator.flow(flowId).status).toBe(2);
    expect((await s.signing.get(record.id))!.status).toBe('SIGNING');
    for (let i = 0; i < 12 && (await s.signing.get(record.id))!.status !== 'COMPLETED'; i++) {
      clock.advance(10 * 60_000);
      await s.drain();
    }
    const done = (await s.signing.get(record.id))!;
    expect([done.status, done.failure]).toEqual(['COMPLETED', null]);
    expect((await s.signing.verifyEvidence(record.id)).ok).toBe(true);
  });
});
