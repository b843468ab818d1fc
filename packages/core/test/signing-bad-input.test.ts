import { describe, expect, it } from 'vitest';
import {
  type SigningRefusedError,
  type SigningVendor,
  type VerifyPdf,
  createSigningGateway,
  createSigningService,
  isSigningEvent,
} from '../src/index.js';
import { createMemorySigningVendor } from '../src/memory/index.js';
import {
  BORROWER,
  FUNDER,
  HASH_KEY,
  type SetupOptions,
  expectNoPersonalData,
  idNumber,
  recordingStore,
  setupSigning,
  type SigningSetup,
} from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

async function setup(options: SetupOptions = {}) {
  let recording: ReturnType<typeof recordingStore> | undefined;
  const s = await setupSigning({
    ...options,
    wrapDocuments: (inner) => {
      recording = recordingStore(options.wrapDocuments?.(inner) ?? inner);
      return recording.store;
    },
  });
  return { ...s, recording: recording! };
}

/** The record is kept FAILED with the code, its evidence says so and verifies, and no signed file was archived. */
async function expectKeptFailure(
  s: SigningSetup & { recording: ReturnType<typeof recordingStore> },
  recordId: string,
  code: string,
  stage: string,
  evidenceProblem: 'corrupted' | 'replaced' | null = null,
) {
  await s.drain();
  const record = (await s.signing.get(recordId))!;
  expect(record).toMatchObject({ status: 'FAILED', failure: { code, stage }, signed: [] });
  expect(record.failedAt).not.toBeNull();
  expect(s.recording.signed()).toEqual([]);
  const evidence = await s.signing.verifyEvidence(recordId);
  expect(evidence.ok).toBe(evidenceProblem === null);
  expect(evidence.chain).toEqual([]);
  expect(evidence.files.map((f) => f.problem)).toEqual(record.rendered.map(() => evidenceProblem));
  const entries = (await s.signing.exportEvidencePackage(recordId)).manifest.entries;
  expect(entries.at(-1)).toMatchObject({ type: 'signing.failed', data: { failure: { code } } });
  const failed = s.events.filter(isSigningEvent).filter((e) => e.type === 'signing.failed');
  expect(failed.map((e) => (e.payload as { recordId: string }).recordId)).toContain(recordId);
  expectNoPersonalData(JSON.stringify({ record, entries, failed }));
  return record;
}

/** A refusal at validation: thrown at once with the cause's code, and the record kept. */
async function refused(s: Awaited<ReturnType<typeof setup>>, promise: Promise<unknown>, code: string) {
  const error = (await expectError(promise, code)) as SigningRefusedError;
  expect(error.recordId).toMatch(/^sgn_/);
  expect(error.details?.recordId).toBe(error.recordId);
  const record = await expectKeptFailure(s, error.recordId, code, 'validating');
  expect(s.vendor.calls).toEqual([]);
  expect(s.recording.puts.filter((p) => p.kind !== 'template')).toEqual([]);
  return { error, record };
}

describe('bad input is refused with a typed error, and the record is kept', () => {
  it('a template that is not EFFECTIVE', async () => {
    const s = await setup({ draft: ['LOAN_CONTRACT_V'] });
    const { record } = await refused(s, s.signing.sign(s.request()), 'TEMPLATE_NOT_EFFECTIVE');
    expect(record.failure!.message).toContain('LOAN_CONTRACT_V');
    // Asking again gives the same answer, still one record.
    await expectError(s.signing.sign(s.request()), 'TEMPLATE_NOT_EFFECTIVE');
    expect(await s.signing.find({ businessNo: 'LN20260101001' })).toHaveLength(1);
  });

  it('a missing variable', async () => {
    const s = await setup();
    const { error } = await refused(
      s,
      s.signing.sign(s.request({ values: { loan: { startDate: '2026-01-05' }, credit: { limit: '100000.00' } } })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error.details?.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ variable: 'loanAmount' })]),
    );
  });

  it('an ID number with a bad check digit, never shown in full', async () => {
    const s = await setup();
    const good = BORROWER.idNumber;
    const bad = good.slice(0, 17) + (good.endsWith('0') ? '1' : '0');
    const { error, record } = await refused(
      s,
      s.signing.sign(s.request({ borrower: { ...BORROWER, idNumber: bad } })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error.details?.problems).toEqual([expect.objectContaining({ variable: 'borrowerIdNo' })]);
    expect(error.message).not.toContain(bad);
    expect(record.customer.maskedIdNumber).toBe(`${bad.slice(0, 6)}********${bad.slice(-4)}`);
  });

  it('a malformed mobile', async () => {
    const s = await setup();
    const { error } = await refused(
      s,
      s.signing.sign(s.request({ borrower: { ...BORROWER, mobile: '1291234567' } })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error.details?.problems).toEqual([expect.objectContaining({ variable: 'borrowerPhone' })]);
  });

  it.each([
    ['a float artefact string', '0.30000000000000004'],
    ['a JavaScript number', 50000.5],
    ['three decimals', '50000.001'],
  ])('an amount given as %s', async (_label, amount) => {
    const s = await setup();
    const { error } = await refused(
      s,
      s.signing.sign(
        s.request({ values: { loan: { amount, startDate: '2026-01-05' }, credit: { limit: '100000.00' } } }),
      ),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error.details?.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ variable: 'loanAmount' })]),
    );
  });

  it.each([
    [
      'ageBetween',
      { borrower: { ...BORROWER, idNumber: idNumber('11010120100307451') } },
      '借款人年龄须在18至60周岁之间',
    ],
    [
      'amountWithin',
      { values: { loan: { amount: '150000.00', startDate: '2026-01-05' }, credit: { limit: '100000.00' } } },
      '借款金额不得超过授信额度',
    ],
    [
      'dateNotBefore',
      { values: { loan: { amount: '50000.00', startDate: '2025-12-31' }, credit: { limit: '100000.00' } } },
      '起息日不得早于签署日',
    ],
  ])('a failed business check: %s', async (kind, overrides, message) => {
    const s = await setup();
    const { error, record } = await refused(s, s.signing.sign(s.request(overrides)), 'TEMPLATE_CHECK_FAILED');
    expect(error.details?.failures).toEqual([expect.objectContaining({ kind, message })]);
    expect(record.failure!.message).toContain(message);
  });

  it('a business check shared by the documents of a bundle is reported once', async () => {
    const s = await setup();
    const tooYoung = { ...BORROWER, idNumber: idNumber('11010120100307451') };
    const { error } = await refused(
      s,
      s.signing.sign(s.request({ scene: 'CREDIT_GRANT', businessNo: 'CR-YOUNG', borrower: tooYoung })),
      'TEMPLATE_CHECK_FAILED',
    );
    expect(error.details?.failures).toEqual([expect.objectContaining({ kind: 'ageBetween' })]);
    expect(error.message.match(/借款人年龄须在18至60周岁之间/g)).toHaveLength(1);
  });

  it('a consent that does not cover the version being signed', async () => {
    const s = await setup();
    await refused(s, s.signing.sign(s.request({ shown: ['LOAN_CONTRACT_V.v0000'] })), 'CONSENT_NOT_COVERING');
  });

  it('a customer without real-name verification, asked only after everything else passed', async () => {
    const s = await setup({ unverified: true });
    await expectError(
      s.signing.sign(s.request({ businessNo: 'X-1', borrower: { ...BORROWER, mobile: 'bad' } })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(s.verifierCalls).toEqual([]);
    const { error } = await refused(s, s.signing.sign(s.request()), 'CUSTOMER_NOT_VERIFIED');
    expect(error.message).toContain('张**');
    expect(s.verifierCalls).toHaveLength(1);
  });

  it('a request that cannot be identified is refused without a record', async () => {
    const s = await setup();
    await expectError(s.signing.sign({ ...s.request(), businessNo: 'has space' }), 'INVALID_INPUT');
    await expectError(s.signing.sign({ ...s.request(), consent: undefined as never }), 'INVALID_INPUT');
    expect(await s.signing.find()).toEqual([]);
  });

  it('a request with missing or mistyped fields names each field and what it is for', async () => {
    const s = await setup();
    const request = s.request();
    const { ip: _ip, device: _device, ...consent } = request.consent;
    const error = await expectError(
      s.signing.sign({ ...request, consent: consent as never, actor: { id: 7 as never }, scene: '' }),
      'INVALID_INPUT',
    );
    expect(error.message).toContain('consent.ip is required: the IP address the customer consented from');
    expect(error.message).toContain('consent.device is required: the device the customer consented on');
    expect(error.message).toContain('actor.id must be a string: who asks for the signing');
    expect(error.message).toContain('scene must not be empty');
    expect(error.message).not.toContain('received undefined');
    expect(error.details?.paths).toEqual(
      expect.arrayContaining(['request.consent.ip', 'request.consent.device', 'request.actor.id', 'request.scene']),
    );
    expect(await s.signing.find()).toEqual([]);
  });

  it('a funder signing a loan assigned to another funder', async () => {
    const s = await setup();
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER }));
    await s.drain();
    await expectError(
      s.signing.signAsFunder({ id: 'mallory', funderId: 'not-the-funder' }, record.id, { sealId: 'x' }),
      'FUNDER_NOT_ASSIGNED',
    );
    // A funder cannot reach a platform-funded loan either.
    const platform = await s.signing.sign(s.request({ businessNo: 'LN-P' }));
    await expectError(
      s.signing.signAsFunder({ id: 'clerk', funderId: FUNDER.id }, platform.id, { sealId: 'x' }),
      'FUNDER_NOT_ASSIGNED',
    );
    const kept = (await s.signing.get(record.id))!;
    expect(kept).toMatchObject({ status: 'AWAITING_FUNDER', funderSignature: null, signed: [] });
    expect(s.vendor.calls.filter((c) => c.method === 'appendSigner')).toEqual([]);
  });

  it('a rendered document that was changed before it was sent for signing', async () => {
    const s = await setup();
    const record = await s.signing.sign(s.request());
    await s.runtime.runOnce(); // renders; the vendor flow has not started
    const rendered = (await s.signing.get(record.id))!.rendered;
    expect(rendered).toHaveLength(1);
    await s.store.corrupt(rendered[0]!.fileId);
    await expectKeptFailure(s, record.id, 'DOCUMENT_CHANGED_AFTER_RENDERING', 'startingVendorFlow', 'corrupted');
    expect(s.vendor.calls).toEqual([]);
  });

  it('a rendered document replaced behind the store (its own hash consistent)', async () => {
    let replace: string | null = null;
    const s = await setup({
      wrapDocuments: (inner) => ({
        ...inner,
        name: inner.name,
        put: (input) => inner.put(input),
        head: (id) => inner.head(id),
        delete: (id) => inner.delete(id),
        async get(fileId) {
          const got = await inner.get(fileId);
          return fileId === replace ? { ...got, bytes: new Uint8Array([...got.bytes, 0x20]) } : got;
        },
      }),
    });
    const record = await s.signing.sign(s.request());
    await s.runtime.runOnce();
    replace = (await s.signing.get(record.id))!.rendered[0]!.fileId;
    await expectKeptFailure(s, record.id, 'DOCUMENT_CHANGED_AFTER_RENDERING', 'startingVendorFlow', 'replaced');
    expect(s.vendor.calls).toEqual([]);
  });
});

describe('a vendor returning documents that do not check out: nothing is archived', () => {
  const tamperDownload =
    (change: (bytes: Uint8Array, call: number) => Uint8Array, capabilities = {}) =>
    (vendor: SigningVendor): SigningVendor => {
      let call = 0;
      return {
        ...vendor,
        capabilities: { ...vendor.capabilities, ...capabilities },
        async downloadSigned(flowId, context) {
          call++;
          return (await vendor.downloadSigned(flowId, context)).map((d) => ({ ...d, bytes: change(d.bytes, call) }));
        },
      };
    };

  /** Stands in for a PAdES verifier over the memory vendor's output: one valid signature per role in its marker. */
  const markerVerifier: VerifyPdf = (pdf) => {
    const text = Buffer.from(pdf).toString('latin1');
    const roles = /signed by: ([a-zA-Z,]+)/.exec(text)?.[1]?.split(',') ?? [];
    const tampered = text.includes('TAMPERED');
    return roles.map(() => ({ valid: !tampered, problems: tampered ? ['message digest mismatch'] : [] }));
  };

  it('a document that is not the rendered one with signatures added (hash does not check)', async () => {
    const s = await setup({
      wrapVendor: tamperDownload(() => new TextEncoder().encode('%PDF-1.7\n% some other contract\n%%EOF\n')),
    });
    const record = await s.signing.sign(s.request());
    const failed = await expectKeptFailure(s, record.id, 'SIGNED_DOCUMENT_MISMATCH', 'verifying');
    expect(failed.failure!.message).toContain('loan-contract');
    const exported = await s.signing.exportEvidencePackage(record.id);
    expect(exported.manifest.entries.at(-1)?.data).toMatchObject({
      returned: [{ documentKey: 'loan-contract', extendsRendered: false }],
    });
  });

  it('a document that changes between verification and archiving', async () => {
    const s = await setup({
      wrapVendor: tamperDownload((bytes, call) => (call === 1 ? bytes : new Uint8Array([...bytes, 0x0a]))),
    });
    const record = await s.signing.sign(s.request());
    await expectKeptFailure(s, record.id, 'SIGNED_DOCUMENT_CHANGED', 'archiving');
  });

  it('a PAdES document whose signature does not verify', async () => {
    const s = await setup({
      verifyPdf: markerVerifier,
      wrapVendor: tamperDownload(
        (bytes) =>
          new Uint8Array(
            Buffer.from(Buffer.from(bytes).toString('latin1').replace('(test double)', 'TAMPERED'), 'latin1'),
          ),
        { padesOutput: true },
      ),
    });
    const record = await s.signing.sign(s.request());
    const failed = await expectKeptFailure(s, record.id, 'SIGNATURE_INVALID', 'verifying');
    expect(failed.failure!.message).toContain('message digest mismatch');
  });

  it('a PAdES document with fewer signatures than parties', async () => {
    const s = await setup({
      verifyPdf: markerVerifier,
      wrapVendor: tamperDownload(
        (bytes) =>
          new Uint8Array(
            Buffer.from(Buffer.from(bytes).toString('latin1').replace('borrower,platform', 'platform'), 'latin1'),
          ),
        { padesOutput: true },
      ),
    });
    const record = await s.signing.sign(s.request());
    await expectKeptFailure(s, record.id, 'SIGNATURE_INVALID', 'verifying');
  });

  it('accepts PAdES output whose signatures all verify, and records how many', async () => {
    const s = await setup({ verifyPdf: markerVerifier, wrapVendor: tamperDownload((b) => b, { padesOutput: true }) });
    const record = await s.signing.sign(s.request());
    await s.drain();
    expect((await s.signing.get(record.id))!).toMatchObject({ status: 'COMPLETED', signed: [{ signatures: 2 }] });
    expect(s.recording.signed()).toHaveLength(1);
  });

  it('refuses to configure a PAdES vendor without a signature verifier', async () => {
    const s = await setup();
    const vendor = createMemorySigningVendor({ capabilities: { padesOutput: true } });
    expect(() =>
      createSigningService({
        runtime: s.runtime,
        templates: s.templates,
        identityVerifier: { check: async () => ({ verified: true }) },
        vendors: { memory: createSigningGateway(vendor) },
        documents: s.documents,
        hashKey: HASH_KEY,
      }),
    ).toThrow(/verifyPdf/);
  });
});
