import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NotFoundError, SealflowError } from '../errors.js';
import type {
  RawCallback,
  SignerSpec,
  SigningVendor,
  VendorDocumentRef,
  VendorFlow,
  VendorFlowStatus,
} from '../ports/signing-vendor.js';
import { createSigningGateway, type SigningGateway } from '../signing/gateway.js';
import { createMemoryLogger, type MemoryLogger } from '../memory/memory-logger.js';

/** The document key every contract flow uses: the `signers`' placements must name it. */
export const CONTRACT_DOCUMENT_KEY = 'contract';

/** What the signing-vendor contract suite needs from a vendor under test. */
export interface SigningVendorContractSetup {
  vendor: SigningVendor;
  /** A PDF this vendor accepts; signers' placements point into it with `documentKey: 'contract'`. */
  samplePdf: Uint8Array;
  /** A borrower (`kind: 'person'`) and a platform (`kind: 'organization'`) valid for this vendor. */
  signers: SignerSpec[];
  /** An organisation with its own seal (a funder), for the append test; required when `appendSigners` is declared. */
  funder?: SignerSpec;
  /** Sign for the persons that must act in the vendor's UI (emulators do it for them); required when needed. */
  completeExternally?: (flowId: string) => Promise<void>;
  /** A callback that looks like the vendor's but is not genuine; required when `callbacks` is declared. */
  forgeCallback?: (flowId: string) => RawCallback | Promise<RawCallback>;
  /** How many flows the vendor holds (emulators, fakes): lets the idempotency test prove no second flow appeared. */
  flowCount?: () => number | Promise<number>;
  /** A well-formed flow id this vendor never issued. Default: 32 hex digits. */
  unknownFlowId?: string;
}

/** Options of `runSigningVendorContract`. */
export interface SigningVendorContractOptions {
  /** Shown in test names, such as `memory`, `local` or `esign (emulator)`. */
  name: string;
  /** A fresh vendor per test. */
  create: () => Promise<SigningVendorContractSetup>;
  /**
   * Checks signed output locally; required when the vendor declares `padesOutput`. Gets each signed document and the
   * signers of its flow, and throws (or fails an `expect`) unless it carries a valid signature for each placement.
   */
  verifyPdf?: (bytes: Uint8Array, flow: { documentKey: string; signers: SignerSpec[] }) => void | Promise<void>;
  /** How long to poll `getFlow` for a vendor that finishes asynchronously. Default 30 s. */
  settleTimeoutMs?: number;
  /** When set, the suite is skipped and this reason is printed (for example, "no e签宝 sandbox credentials"). */
  skip?: string;
}

const FINAL: VendorFlowStatus[] = ['completed', 'rejected', 'revoked', 'expired', 'failed'];

/**
 * The executable form of the rules in `ports/signing-vendor.ts`. Every `SigningVendor` runs it, through the gateway
 * core will use: `runSigningVendorContract({ name: 'local', create: async () => ({ vendor: localSigner(…), … }) })`.
 */
export function runSigningVendorContract(options: SigningVendorContractOptions): void {
  const { name, create, skip } = options;
  if (typeof skip === 'string') {
    console.warn(`[sealflow] skipping ${name} signing vendor contract: ${skip}`);
    describe.skip(`${name} signing vendor contract`, () => {
      it('is skipped', () => {});
    });
    return;
  }
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
  // Keys and business numbers unique per run, so a vendor sandbox that keeps state between runs sees new requests.
  const run = randomUUID().replaceAll('-', '').slice(0, 10);
  let counter = 0;
  const key = (what: string) => `sfc-${run}-${what}-${++counter}`;

  interface Harness extends SigningVendorContractSetup {
    gateway: SigningGateway;
    logger: MemoryLogger;
    upload(idempotencyKey?: string): Promise<VendorDocumentRef>;
    create(signers: SignerSpec[], idempotencyKey?: string): Promise<VendorFlow>;
    /** Lets persons act where needed, then polls until the flow is final. */
    finish(flow: VendorFlow): Promise<VendorFlow>;
    /** Polls until the flow is final (or the settle timeout passes). */
    poll(flowId: string): Promise<VendorFlow>;
    borrower: SignerSpec;
    platform: SignerSpec;
  }

  const harness = async (): Promise<Harness> => {
    const setup = await create();
    const logger = createMemoryLogger();
    const gateway = createSigningGateway(setup.vendor, { logger, sleep: async () => {}, retry: { attempts: 2 } });
    const borrower = setup.signers.find((s) => s.kind === 'person');
    const platform = setup.signers.find((s) => s.kind === 'organization');
    if (!borrower || !platform)
      throw new Error('setup.signers needs a person (borrower) and an organization (platform)');
    const poll = async (flowId: string): Promise<VendorFlow> => {
      const deadline = Date.now() + settleTimeoutMs;
      for (;;) {
        const flow = await gateway.getFlow(flowId, { idempotencyKey: key('poll') });
        if (FINAL.includes(flow.status) || Date.now() > deadline) return flow;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const upload = (idempotencyKey = key('upload')) =>
      gateway.uploadDocument(
        { key: CONTRACT_DOCUMENT_KEY, fileName: 'contract.pdf', bytes: setup.samplePdf },
        { idempotencyKey },
      );
    return {
      ...setup,
      gateway,
      logger,
      poll,
      borrower,
      platform,
      upload,
      async create(signers, idempotencyKey = key('create')) {
        const document = await upload();
        return gateway.createFlow(
          {
            title: `sealflow contract test ${run}`,
            businessNo: `SFC${run}${counter}`,
            documents: [document],
            signers,
          },
          { idempotencyKey },
        );
      },
      async finish(flow) {
        if (flow.status === 'signing' && flow.signers.some((s) => s.status !== 'signed')) {
          const waiting = setup.signers.filter((s) => !s.autoSign);
          if (waiting.length && !setup.completeExternally) {
            throw new Error(
              `signers ${waiting.map((s) => s.role).join(', ')} are not auto-signed: pass completeExternally`,
            );
          }
          await setup.completeExternally?.(flow.flowId);
        }
        return poll(flow.flowId);
      },
    };
  };

  const rejection = async (promise: Promise<unknown>): Promise<SealflowError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'expected the call to be refused').toBeInstanceOf(SealflowError);
    return error as SealflowError;
  };

  describe(`${name} signing vendor contract`, () => {
    it('passes the gateway checks: an id, complete capabilities, the methods its capabilities promise', async () => {
      const { vendor } = await create();
      expect(() => createSigningGateway(vendor)).not.toThrow();
      expect(vendor.capabilities.maxSignersPerFlow).toBeGreaterThanOrEqual(2);
    });

    it('signs a borrower and the platform: upload, createFlow, completed, signed PDFs downloaded', async () => {
      const h = await harness();
      const created = await h.create(h.signers);
      expect(created.flowId.length).toBeGreaterThan(0);
      expect(created.signers.map((s) => s.role).sort()).toEqual(h.signers.map((s) => s.role).sort());
      const flow = await h.finish(created);
      expect(flow.status).toBe('completed');
      for (const signer of flow.signers) {
        expect(signer.status, signer.role).toBe('signed');
        expect(Number.isSafeInteger(signer.signedAt), `${signer.role}.signedAt`).toBe(true);
      }
      // Every organisation that signed reports the seal it signed with: core checks it and keeps it as evidence.
      for (const spec of h.signers.filter((s) => s.kind === 'organization')) {
        const reported = flow.signers.find((s) => s.role === spec.role)?.seal;
        expect(reported?.sealId, `${spec.role} reports the seal it signed with`).toBe(spec.sealId);
      }

      const documents = await h.gateway.downloadSigned(flow.flowId, { idempotencyKey: key('download') });
      expect(documents.map((d) => d.key)).toEqual([CONTRACT_DOCUMENT_KEY]);
      for (const document of documents) {
        expect(Buffer.from(document.bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
        expect(
          Buffer.from(document.bytes).equals(Buffer.from(h.samplePdf)),
          'the download is the unsigned upload',
        ).toBe(false);
        if (h.vendor.capabilities.padesOutput) {
          if (!options.verifyPdf)
            throw new Error('the vendor declares padesOutput: pass verifyPdf to check its output');
          await options.verifyPdf(document.bytes, { documentKey: document.key, signers: h.signers });
        }
      }
      // Downloading twice gives the same signed bytes: the vendor stores the result, it does not sign again.
      const again = await h.gateway.downloadSigned(flow.flowId, { idempotencyKey: key('download') });
      expect(again.map((d) => Buffer.from(d.bytes).toString('base64'))).toEqual(
        documents.map((d) => Buffer.from(d.bytes).toString('base64')),
      );

      const logs = h.logger.text();
      expect(h.logger.records.some((r) => r.message === 'vendor_call')).toBe(true);
      for (const signer of h.signers.filter((s) => s.kind === 'person')) {
        expect(logs).not.toContain(signer.name);
        expect(logs).not.toContain(signer.idNumber);
        if (signer.mobile) expect(logs).not.toContain(signer.mobile);
      }
    });

    it('uploadDocument is idempotent: the same key and bytes give the same file', async () => {
      const h = await harness();
      const idempotencyKey = key('upload-twice');
      const first = await h.upload(idempotencyKey);
      const second = await h.upload(idempotencyKey);
      expect(second).toEqual(first);
      expect(first.key).toBe(CONTRACT_DOCUMENT_KEY);
    });

    it('createFlow is idempotent: the same key twice gives the same flow and no second one', async () => {
      const h = await harness();
      const document = await h.upload();
      const input = {
        title: `sealflow idempotency ${run}`,
        businessNo: `SFC${run}IDEM`,
        documents: [document],
        signers: h.signers,
      };
      const idempotencyKey = key('create-twice');
      const first = await h.gateway.createFlow(input, { idempotencyKey });
      const before = await h.flowCount?.();
      const second = await h.gateway.createFlow(input, { idempotencyKey });
      expect(second.flowId).toBe(first.flowId);
      if (h.flowCount) expect(await h.flowCount()).toBe(before);
      // …and a different key is a different flow, so the check above is not vacuous.
      const other = await h.gateway.createFlow(input, { idempotencyKey: key('create-other') });
      expect(other.flowId).not.toBe(first.flowId);
    });

    it('findFlow finds the flow made under a create key, never one made under another key', async (context) => {
      const h = await harness();
      if (!h.vendor.findFlow) {
        const reason = 'the vendor has no findFlow; a refused create then fails the signing instead of adopting';
        console.warn(`[sealflow] skipping "${name}: findFlow": ${reason}`);
        context.skip(reason);
        return;
      }
      const document = await h.upload();
      const businessNo = `SFC${run}FIND`;
      const input = { title: `sealflow find ${run}`, businessNo, documents: [document], signers: h.signers };
      const createKey = key('create-find');
      const unused = key('create-never');
      const first = await h.gateway.createFlow(input, { idempotencyKey: createKey });
      // A second attempt for the same business number under its own key: a lookup must not confuse the two.
      const second = await h.gateway.createFlow(input, { idempotencyKey: key('create-find-2') });
      expect(second.flowId).not.toBe(first.flowId);

      const found = await h.gateway.findFlow({ createKey, businessNo }, { idempotencyKey: key('find') });
      expect(found?.flowId).toBe(first.flowId);
      expect(await h.gateway.findFlow({ createKey: unused, businessNo }, { idempotencyKey: key('find') })).toBeNull();

      // The same key with a different request is refused, and the lookup still finds the flow the key made.
      const refused = await rejection(
        h.gateway.createFlow({ ...input, title: `${input.title} changed` }, { idempotencyKey: createKey }),
      );
      expect(refused.retryable).toBe(false);
      const again = await h.gateway.findFlow({ createKey, businessNo }, { idempotencyKey: key('find') });
      expect(again?.flowId).toBe(first.flowId);
    });

    it('cancelFlow revokes an open flow and is idempotent; an unfinished flow cannot be downloaded', async () => {
      const h = await harness();
      const open = await h.create([{ ...h.borrower, autoSign: false }]);
      expect(open.status).toBe('signing');
      const download = await rejection(h.gateway.downloadSigned(open.flowId, { idempotencyKey: key('download') }));
      expect(download.retryable).toBe(false);

      const cancelKey = key('cancel');
      await h.gateway.cancelFlow(open.flowId, 'customer withdrew', { idempotencyKey: cancelKey });
      await h.gateway.cancelFlow(open.flowId, 'customer withdrew', { idempotencyKey: cancelKey });
      await h.gateway.cancelFlow(open.flowId, 'customer withdrew', { idempotencyKey: key('cancel-again') });
      expect((await h.gateway.getFlow(open.flowId, { idempotencyKey: key('get') })).status).toBe('revoked');
    });

    it('cancelFlow of a completed flow is refused, not retryable, and the flow stays completed', async () => {
      const h = await harness();
      const flow = await h.finish(await h.create(h.signers));
      expect(flow.status).toBe('completed');
      const error = await rejection(h.gateway.cancelFlow(flow.flowId, 'too late', { idempotencyKey: key('cancel') }));
      expect(error.retryable).toBe(false);
      expect((await h.gateway.getFlow(flow.flowId, { idempotencyKey: key('get') })).status).toBe('completed');
    });

    it('getFlow of a flow the vendor never issued throws NotFoundError', async () => {
      const h = await harness();
      const unknown = h.unknownFlowId ?? '5f1e0c2b9a7d4e3f8a6b1c0d2e3f4a5b';
      const error = await rejection(h.gateway.getFlow(unknown, { idempotencyKey: key('get') }));
      expect(error).toBeInstanceOf(NotFoundError);
    });

    it('createFlow with a file id the vendor never issued is refused and not retried', async () => {
      const h = await harness();
      const error = await rejection(
        h.gateway.createFlow(
          {
            title: `sealflow missing file ${run}`,
            businessNo: `SFC${run}MISSING`,
            documents: [
              { key: CONTRACT_DOCUMENT_KEY, vendorFileId: 'sealflow-never-uploaded', fileName: 'contract.pdf' },
            ],
            signers: h.signers,
          },
          { idempotencyKey: key('create-missing') },
        ),
      );
      expect(error.retryable).toBe(false);
      expect(error.code).toMatch(/^(VENDOR_|NOT_FOUND)/);
    });

    it('personAutoSign is honest: declared, a borrower is signed without interaction; not declared, refused', async () => {
      const h = await harness();
      const autoBorrower = { ...h.borrower, autoSign: true };
      if (h.vendor.capabilities.personAutoSign) {
        const flow = await h.create([autoBorrower]);
        expect((await h.poll(flow.flowId)).status).toBe('completed');
        return;
      }
      const viaGateway = await rejection(h.create([autoBorrower]));
      expect(viaGateway.code).toBe('VENDOR_UNSUPPORTED');
      expect(viaGateway.message).toContain('personAutoSign');
      const document = await h.upload();
      const direct = await rejection(
        h.vendor.createFlow(
          { title: `sealflow ${run}`, businessNo: `SFC${run}AUTO`, documents: [document], signers: [autoBorrower] },
          { idempotencyKey: key('create-direct') },
        ),
      );
      expect(direct.code).toBe('VENDOR_UNSUPPORTED');
    });

    it('appendSigner is honest: declared, a funder signs later with its own seal; not declared, refused', async () => {
      const h = await harness();
      if (!h.vendor.capabilities.appendSigners) {
        const error = await rejection(
          h.gateway.appendSigner('any-flow', h.funder ?? h.platform, { idempotencyKey: key('append') }),
        );
        expect(error.code).toBe('VENDOR_UNSUPPORTED');
        if (h.vendor.appendSigner) {
          const direct = await rejection(
            h.vendor.appendSigner('any-flow', h.funder ?? h.platform, { idempotencyKey: key('append') }),
          );
          expect(direct.code).toBe('VENDOR_UNSUPPORTED');
        }
        return;
      }
      if (!h.funder) throw new Error('the vendor declares appendSigners: pass a funder signer in the setup');
      const lastOrder = Math.max(...h.signers.map((s) => s.order));
      const funder = { ...h.funder, order: lastOrder + 1 };
      // The funder is in the flow from the start, waiting; its own signing call comes later (LOAN_CONTRACT, funded).
      const created = await h.create([...h.signers, { ...funder, autoSign: false }]);
      expect(created.status).toBe('signing');
      if (created.signers.some((s) => s.role !== funder.role && s.status !== 'signed')) {
        await h.completeExternally?.(created.flowId);
      }
      const appendKey = key('append');
      const appended = await h.gateway.appendSigner(
        created.flowId,
        { ...funder, autoSign: true },
        {
          idempotencyKey: appendKey,
        },
      );
      expect(appended.signers.some((s) => s.role === funder.role)).toBe(true);
      const again = await h.gateway.appendSigner(
        created.flowId,
        { ...funder, autoSign: true },
        {
          idempotencyKey: appendKey,
        },
      );
      expect(again.flowId).toBe(created.flowId);
      const flow = await h.finish(appended);
      expect(flow.status).toBe('completed');
      expect(flow.signers.find((s) => s.role === funder.role)?.status).toBe('signed');
      const funderSeal = flow.signers.find((s) => s.role === funder.role)?.seal;
      expect(funderSeal?.sealId, "the funder's own seal is reported").toBe(funder.sealId);
      const platformSeal = flow.signers.find((s) => s.role === h.platform.role)?.seal;
      if (funderSeal?.certificateSha256 && platformSeal?.certificateSha256 && funder.sealId !== h.platform.sealId) {
        expect(funderSeal.certificateSha256, 'each seal reports its own certificate').not.toBe(
          platformSeal.certificateSha256,
        );
      }
      const [document] = await h.gateway.downloadSigned(flow.flowId, { idempotencyKey: key('download') });
      expect(document).toBeDefined();
      if (document && h.vendor.capabilities.padesOutput && options.verifyPdf) {
        await options.verifyPdf(document.bytes, { documentKey: document.key, signers: [...h.signers, funder] });
      }
    });

    it('callbacks are honest: declared, a forged callback is rejected; not declared, refused', async () => {
      const h = await harness();
      const flow = await h.create(h.signers);
      if (!h.vendor.capabilities.callbacks) {
        const error = await rejection(h.gateway.parseCallback({ headers: {}, query: {}, rawBody: '{}' }));
        expect(error.code).toBe('VENDOR_UNSUPPORTED');
        return;
      }
      if (!h.forgeCallback) throw new Error('the vendor declares callbacks: pass forgeCallback in the setup');
      const error = await rejection(h.gateway.parseCallback(await h.forgeCallback(flow.flowId)));
      expect(error.code).toBe('CALLBACK_REJECTED');
      expect(error.retryable).toBe(false);
    });

    it('vendorTemplates is honest: not declared, fillTemplate is refused before the vendor is called', async (context) => {
      const h = await harness();
      if (h.vendor.capabilities.vendorTemplates) {
        const reason = 'the vendor declares vendorTemplates; its own tests fill its templates';
        console.warn(`[sealflow] skipping "${name}: vendorTemplates is honest": ${reason}`);
        context.skip(reason);
        return;
      }
      const error = await rejection(
        h.gateway.fillTemplate(
          { key: CONTRACT_DOCUMENT_KEY, fileName: 'contract.pdf', vendorTemplateId: 'tpl-1', values: {} },
          { idempotencyKey: key('fill') },
        ),
      );
      expect(error.code).toBe('VENDOR_UNSUPPORTED');
    });
  });
}
