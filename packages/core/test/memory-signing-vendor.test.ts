import { describe, expect, it } from 'vitest';
import { createSigningGateway, withCreditCodeCheckChar, withIdNumberCheckChar, type SignerSpec } from '../src/index.js';
import { createMemorySigningVendor } from '../src/memory/index.js';
import { runSigningVendorContract } from '../src/testing/index.js';

const PDF = new TextEncoder().encode('%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');
const idNumber = withIdNumberCheckChar;
const creditCode = withCreditCodeCheckChar;

const borrower: SignerSpec = {
  role: 'borrower',
  kind: 'person',
  name: '欧阳娜娜',
  idNumber: idNumber('11010519491231002'),
  mobile: '13912345678',
  autoSign: true,
  order: 1,
  placements: [{ documentKey: 'contract', page: 7, x: 340, y: 120, width: 80, height: 40 }],
};
const platform: SignerSpec = {
  role: 'platform',
  kind: 'organization',
  name: '某某消费金融股份有限公司',
  idNumber: creditCode('91310000MA1FL0000'),
  sealId: 'platform-seal',
  autoSign: true,
  order: 2,
  placements: [{ documentKey: 'contract', field: 'lenderSeal' }],
};
const funder: SignerSpec = {
  ...platform,
  role: 'funder',
  name: '某某银行股份有限公司',
  idNumber: creditCode('91110000100000000'),
  sealId: 'funder-seal',
  order: 3,
};

runSigningVendorContract({
  name: 'memory (all capabilities)',
  create: async () => {
    const vendor = createMemorySigningVendor();
    return {
      vendor,
      samplePdf: PDF,
      signers: [borrower, platform],
      funder,
      flowCount: () => vendor.flowCount(),
      forgeCallback: (flowId) => {
        const genuine = vendor.callbackFor(flowId, 'flow-completed');
        return { ...genuine, rawBody: String(genuine.rawBody).replace('flow-completed', 'flow-revoked') };
      },
    };
  },
});

runSigningVendorContract({
  name: 'memory (like e签宝 v3: persons sign in the vendor UI, no templates, no append)',
  create: async () => {
    const vendor = createMemorySigningVendor({
      capabilities: { personAutoSign: false, vendorTemplates: false, appendSigners: false, callbacks: false },
    });
    return {
      vendor,
      samplePdf: PDF,
      signers: [{ ...borrower, autoSign: false }, platform],
      flowCount: () => vendor.flowCount(),
      completeExternally: async (flowId) => vendor.sign(flowId, 'borrower'),
    };
  },
});

describe('memory signing vendor', () => {
  const context = (idempotencyKey: string) => ({ idempotencyKey });

  it('marks its output as a test double instead of signing it', async () => {
    const vendor = createMemorySigningVendor();
    const doc = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'));
    const flow = await vendor.createFlow(
      { title: 't', businessNo: 'B1', documents: [doc], signers: [borrower, platform] },
      context('c'),
    );
    const [signed] = await vendor.downloadSigned(flow.flowId, context('d'));
    const text = new TextDecoder().decode(signed?.bytes);
    expect(text.startsWith(new TextDecoder().decode(PDF))).toBe(true);
    expect(text).toContain('test double');
    expect(text).toContain('borrower,platform');
  });

  it('signs by order: an auto signer after a waiting person signs only once the person has', async () => {
    const vendor = createMemorySigningVendor({ capabilities: { personAutoSign: false } });
    const doc = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'));
    const flow = await vendor.createFlow(
      { title: 't', businessNo: 'B1', documents: [doc], signers: [{ ...borrower, autoSign: false }, platform] },
      context('c'),
    );
    expect(flow.signers).toEqual([
      { role: 'borrower', status: 'signing' },
      { role: 'platform', status: 'waiting' },
    ]);
    expect(() => vendor.sign(flow.flowId, 'platform')).toThrow(/cannot sign/);
    vendor.sign(flow.flowId, 'borrower');
    const done = await vendor.getFlow(flow.flowId, context('g'));
    expect(done.status).toBe('completed');
    expect(done.signers.map((s) => s.status)).toEqual(['signed', 'signed']);
  });

  it('refuses a different request under an idempotency key already used', async () => {
    const vendor = createMemorySigningVendor();
    const doc = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'));
    const input = { title: 't', businessNo: 'B1', documents: [doc], signers: [borrower, platform] };
    await vendor.createFlow(input, context('same'));
    await expect(vendor.createFlow({ ...input, businessNo: 'B2' }, context('same'))).rejects.toMatchObject({
      code: 'VENDOR_REJECTED',
      details: { vendorCode: 'IDEMPOTENCY_KEY_REUSED' },
    });
    expect(vendor.flowCount()).toBe(1);
  });

  it('accepts its own callbacks and rejects stale or tampered ones', async () => {
    let now = Date.UTC(2026, 0, 1);
    const vendor = createMemorySigningVendor({ clock: { now: () => now } });
    const gateway = createSigningGateway(vendor);
    const doc = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'));
    const flow = await vendor.createFlow(
      { title: 't', businessNo: 'B1', documents: [doc], signers: [borrower, platform] },
      context('c'),
    );
    const callback = vendor.callbackFor(flow.flowId, 'flow-completed');
    const event = await gateway.parseCallback(callback);
    expect(event).toMatchObject({ flowId: flow.flowId, kind: 'flow-completed', occurredAt: now });
    expect((await gateway.parseCallback(callback)).eventId).toBe(event.eventId);
    await expect(gateway.parseCallback({ ...callback, headers: {} })).rejects.toMatchObject({
      code: 'CALLBACK_REJECTED',
    });
    now += 10 * 60_000;
    await expect(gateway.parseCallback(callback)).rejects.toMatchObject({ code: 'CALLBACK_REJECTED' });
  });

  it('throws scripted failures in order, then works', async () => {
    const boom = new Error('socket hang up');
    const vendor = createMemorySigningVendor({ failures: { uploadDocument: [boom] } });
    await expect(vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'))).rejects.toBe(
      boom,
    );
    await expect(
      vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u')),
    ).resolves.toMatchObject({ key: 'contract' });
    expect(vendor.calls.map((c) => c.method)).toEqual(['uploadDocument', 'uploadDocument']);
  });

  it('expires a flow whose deadline passed', async () => {
    let now = Date.UTC(2026, 0, 1);
    const vendor = createMemorySigningVendor({ clock: { now: () => now }, capabilities: { personAutoSign: false } });
    const doc = await vendor.uploadDocument({ key: 'contract', fileName: 'c.pdf', bytes: PDF }, context('u'));
    const flow = await vendor.createFlow(
      {
        title: 't',
        businessNo: 'B1',
        documents: [doc],
        signers: [{ ...borrower, autoSign: false }],
        deadlineAt: now + 1000,
      },
      context('c'),
    );
    now += 1001;
    expect((await vendor.getFlow(flow.flowId, context('g'))).status).toBe('expired');
  });
});
