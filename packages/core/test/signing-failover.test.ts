/**
 * Vendor routes with failover: a signing moves to the route's next vendor only when the vendor it is with is known
 * not to hold a flow for it; the move is saved before the next vendor is called and shows in the record, the domain
 * events and the evidence.
 */
import { describe, expect, it } from 'vitest';
import {
  mayFailOver,
  SealflowError,
  type SigningVendor,
  ValidationError,
  vendorCanSignTemplate,
} from '../src/index.js';
import { sealRegistry } from '../src/signing/seals.js';
import type { SigningContext } from '../src/signing/signing-machine.js';
import { twice } from './effects-twice.js';
import { BORROWER, FUNDER, ORGANIZATIONS, type SetupOptions, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

/** e签宝-like primary (keeps templates of its own) and a local-signer-like fallback (signs what sealflow renders). */
const LOCAL = { id: 'local', capabilities: { vendorTemplates: false } };

/** A 503 whose text echoes the borrower, as vendors' error pages sometimes do. */
const unavailable = () =>
  new SealflowError(
    'VENDOR_UNAVAILABLE',
    `esign.createFlow failed (HTTP 503) for ${BORROWER.name} ${BORROWER.idNumber} ${BORROWER.mobile}`,
    { retryable: true },
  );

function failoverSetup(options: SetupOptions = {}) {
  return setupSigning({
    moreVendors: [LOCAL],
    routing: { default: ['esign', 'local'] },
    ...options,
    vendor: { id: 'esign', ...options.vendor },
  });
}

const personalData = [BORROWER.name, BORROWER.idNumber, BORROWER.mobile];

describe('vendor failover', () => {
  it('moves to the fallback when the primary is unavailable and holds no flow, and records both', async () => {
    // Three gateway tries, all refused with a 503, then the lookup finds no flow under the signing's key.
    const s = await failoverSetup({
      vendor: { failures: { createFlow: [unavailable(), unavailable(), unavailable()] } },
    });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-1' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.vendor).toEqual({ id: 'local', flowId: expect.any(String) });
    expect(done.failedOverFrom).toBe('esign');
    expect(done.vendorAttempts).toEqual([
      { vendorId: 'esign', outcome: 'unavailable', code: 'VENDOR_UNAVAILABLE', at: expect.any(Number) },
      { vendorId: 'local', outcome: 'signed', code: null, at: expect.any(Number) },
    ]);
    expect(s.vendor.flowCount()).toBe(0);
    expect(local!.flowCount()).toBe(1);
    // The primary was asked whether it holds a flow before anyone else was called.
    const asked = s.vendor.calls.map((c) => c.method);
    expect(asked.filter((m) => m === 'createFlow')).toHaveLength(3);
    expect(asked.at(-1)).toBe('findFlow');

    const moved = s.events.filter((e) => e.type === 'signing.vendor-failed-over');
    expect(moved.map((e) => e.payload)).toEqual([
      expect.objectContaining({ fromVendorId: 'esign', toVendorId: 'local', code: 'VENDOR_UNAVAILABLE' }),
    ]);
    const { manifest } = await s.signing.exportEvidencePackage(record.id);
    const evidence = manifest.entries.find((e) => e.type === 'vendor.failed-over');
    expect(evidence?.data).toEqual({
      fromVendorId: 'esign',
      code: 'VENDOR_UNAVAILABLE',
      confirmedAt: done.vendorAttempts[0]!.at,
      toVendorId: 'local',
    });
    expect(manifest.entries.find((e) => e.type === 'vendor.flow-started')?.data).toMatchObject({ vendorId: 'local' });

    // The vendor's text quoted the borrower: nothing of it reaches the record, the events or the workflow.
    const context = (await s.runtime.get(record.id))!.context as { vendorAttempts: { message: string }[] };
    const seen = JSON.stringify([done, s.events, manifest, { ...context, sealed: null }]);
    for (const value of personalData) expect(seen).not.toContain(value);
    const attempts = context.vendorAttempts;
    expect(attempts[0]!.message).toContain('503');
  });

  it('fails over on a refusal at the vendor gate (credentials) once the vendor confirms it holds no flow', async () => {
    const refused = new SealflowError('VENDOR_AUTH_FAILED', 'esign refused the app credentials.', { retryable: false });
    const s = await failoverSetup({ vendor: { failures: { createFlow: [refused] } } });
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-AUTH' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome, a.code])).toEqual([
      ['esign', 'unavailable', 'VENDOR_AUTH_FAILED'],
      ['local', 'signed', null],
    ]);
  });

  it('stays with the primary when its create timed out but the flow exists there: one flow, no failover', async () => {
    // The first run's three tries all reach the vendor, which makes the flow (the same one each time, by its key),
    // and all their answers are lost; the runtime's retry of the step then hears of the flow.
    let lost = 0;
    const s = await failoverSetup({
      wrapVendor: (vendor) => ({
        ...vendor,
        id: vendor.id,
        capabilities: vendor.capabilities,
        async createFlow(input, context) {
          const flow = await vendor.createFlow(input, context);
          if (lost >= 3) return flow;
          lost++;
          throw new SealflowError('VENDOR_TIMEOUT', 'esign.createFlow did not answer within 15000 ms.', {
            retryable: true,
          });
        },
      }),
    });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-TIMEOUT' }));
    await s.drain();
    // The lookup found the flow: no move was made, the step waits for the runtime's retry.
    expect(s.vendor.calls.map((c) => c.method).at(-1)).toBe('findFlow');
    expect((await s.signing.get(record.id))!.stage).toBe('vendorPhase.startingVendorFlow');
    s.clock.advance(60_000);
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('esign');
    expect(done.failedOverFrom).toBeNull();
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome])).toEqual([['esign', 'signed']]);
    expect(s.vendor.flowCount()).toBe(1);
    expect(local!.flowCount()).toBe(0);
    expect(local!.calls).toEqual([]);
    expect(s.events.some((e) => e.type === 'signing.vendor-failed-over')).toBe(false);
  });

  it('never fails over from a vendor that cannot say whether it holds a flow (no findFlow)', async () => {
    const s = await failoverSetup({
      vendor: { failures: { createFlow: Array.from({ length: 60 }, unavailable) } },
      // The same vendor without its lookup: a 503 then leaves it unknown whether an earlier try made the flow.
      wrapVendor: (vendor) => {
        const { findFlow: _lookup, ...withoutLookup } = vendor as SigningVendor & Record<string, unknown>;
        return { ...withoutLookup, id: vendor.id, capabilities: vendor.capabilities } as SigningVendor;
      },
    });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-UNKNOWN' }));
    // The runtime retries the step with backoff (manual clock) until its retries run out.
    for (let i = 0; i < 12; i++) {
      await s.drain();
      s.clock.advance(10 * 60_000);
    }
    await s.drain();
    const stuck = (await s.signing.get(record.id))!;

    expect(stuck.vendor.id).toBe('esign');
    expect(stuck.failedOverFrom).toBeNull();
    expect(local!.calls).toEqual([]);
    expect(s.vendor.calls.filter((c) => c.method === 'createFlow').length).toBeGreaterThan(3);
    expect(s.events.some((e) => e.type === 'signing.vendor-failed-over')).toBe(false);
  });

  it('does not fail over when the vendor refused the request itself (VENDOR_REJECTED): that is the host’s to fix', async () => {
    const rejected = new SealflowError('VENDOR_REJECTED', 'esign refused seal "platform-seal": not authorised.', {
      retryable: false,
    });
    const s = await failoverSetup({ vendor: { failures: { createFlow: [rejected] } } });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-REJECTED' }));
    await s.drain();
    const failed = (await s.signing.get(record.id))!;

    expect(failed.status).toBe('FAILED');
    expect(failed.failure?.code).toBe('VENDOR_REJECTED');
    expect(failed.vendorAttempts).toEqual([
      { vendorId: 'esign', outcome: 'failed', code: 'VENDOR_REJECTED', at: expect.any(Number) },
    ]);
    expect(local!.calls).toEqual([]);
  });

  it('refuses a route whose fallback is not bound to the template, before any vendor is called', async () => {
    // Both vendors keep templates of their own; the templates are set up at e签宝 only.
    const s = await failoverSetup({
      moreVendors: [{ id: 'cfca' }],
      routing: { default: ['esign', 'cfca'] },
      vendorBindings: { esign: { docTemplateId: 'tpl-001', componentKeys: { borrowerName: 'jkrxm' } } },
      vendor: { failures: { createFlow: [unavailable(), unavailable(), unavailable()] } },
    });
    const [cfca] = s.moreVendors;
    const error = await expectError(
      s.signing.sign(s.request({ businessNo: 'LN-UNBOUND-1' })),
      'SIGNING_ROUTE_UNBOUND',
      /fallback cfca, but template LOAN_CONTRACT_V\.v0001 \(bound at esign\) is not bound at it.*bind the template at that vendor/,
    );
    expect(error.details).toMatchObject({ scene: 'LOAN_CONTRACT', fallbacks: [{ vendorId: 'cfca' }] });
    await s.drain();
    expect(s.vendor.calls).toEqual([]);
    expect(cfca!.calls).toEqual([]);
    expect(await s.signing.find({ businessNo: 'LN-UNBOUND-1' })).toEqual([]);
  });

  it('refuses a route whose fallback lacks a capability the scene needs', async () => {
    const s = await failoverSetup({
      moreVendors: [{ id: 'local', capabilities: { vendorTemplates: false, personAutoSign: false } }],
    });
    await expectError(
      s.signing.sign(s.request({ businessNo: 'LN-INCAPABLE-1' })),
      'SIGNING_ROUTE_UNBOUND',
      /fallback local, but it lacks personAutoSign/,
    );
  });

  it('refuses routing that names unknown vendors, repeats one, or is empty, all at once', async () => {
    const s = await failoverSetup();
    const error = await expectError(
      s.anotherHost({
        routing: { default: ['esign', 'esign'], scenes: { LOAN_CONTRACT: [] }, templates: { X: ['esign', 'cfca'] } },
      }),
      'INVALID_INPUT',
    );
    expect(error.message).toContain('routing.default names esign twice');
    expect(error.message).toContain('routing.scenes.LOAN_CONTRACT is an empty list');
    expect(error.message).toContain('routing names unknown vendor "cfca" (routing.templates.X)');
    // A route that is neither a vendor id nor a list of them is refused by the options check.
    await expectError(s.anotherHost({ routing: { default: 42 } as never }), 'INVALID_INPUT', /routing/);
  });

  it('replays a saved failover after a lost answer: one move, one flow, at the fallback only', async () => {
    const s = await failoverSetup({
      workflows: twice(['startVendorFlow']),
      vendor: { failures: { createFlow: Array.from({ length: 6 }, unavailable) } },
    });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-TWICE' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.status).toBe('COMPLETED');
    expect(done.vendorAttempts.map((a) => [a.vendorId, a.outcome])).toEqual([
      ['esign', 'unavailable'],
      ['local', 'signed'],
    ]);
    expect(s.vendor.flowCount()).toBe(0);
    // The fallback's start ran twice too, under one key: one flow.
    expect(local!.calls.filter((c) => c.method === 'createFlow')).toHaveLength(2);
    expect(local!.flowCount()).toBe(1);
    expect(s.events.filter((e) => e.type === 'signing.vendor-failed-over')).toHaveLength(1);
  });

  it('keeps what was saved, not what a discarded run decided: a re-run that reaches the primary stays there', async () => {
    // The first run exhausts three failures and would fail over; its answer is lost, and the re-run (same key)
    // creates the flow at the primary. Only the saved outcome counts, so nothing is sent to the fallback.
    const s = await failoverSetup({
      workflows: twice(['startVendorFlow']),
      vendor: { failures: { createFlow: [unavailable(), unavailable(), unavailable()] } },
    });
    const [local] = s.moreVendors;
    const record = await s.signing.sign(s.request({ businessNo: 'LN-FAILOVER-REPLAY' }));
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.status).toBe('COMPLETED');
    expect(done.vendor.id).toBe('esign');
    expect(done.failedOverFrom).toBeNull();
    expect(s.vendor.flowCount()).toBe(1);
    expect(local!.calls).toEqual([]);
  });
});

describe('vendor attempts on the record', () => {
  it('lists no vendor for a signing refused before any vendor was called, and the vendor while it signs', async () => {
    const s = await failoverSetup();
    const refused = await s.signing
      .sign(s.request({ businessNo: 'LN-ATTEMPTS-REFUSED', shown: ['LOAN_CONTRACT_V.v0009'] }))
      .catch((error: unknown) => error as SealflowError);
    expect((refused as SealflowError).code).toBe('CONSENT_NOT_COVERING');
    const [record] = await s.signing.find({ businessNo: 'LN-ATTEMPTS-REFUSED' });
    expect(record?.status).toBe('FAILED');
    expect(record?.vendorAttempts).toEqual([]);
    expect(record?.failedOverFrom).toBeNull();

    const pending = await s.signing.sign(s.request({ businessNo: 'LN-ATTEMPTS-PENDING' }));
    expect(pending.vendorAttempts).toEqual([]);
    await s.drain();
    const done = (await s.signing.get(pending.id))!;
    expect(done.vendorAttempts).toEqual([{ vendorId: 'esign', outcome: 'signed', code: null, at: expect.any(Number) }]);
  });
});

describe('the failover rule and bindings', () => {
  it('fails over only on an unavailability the vendor confirmed', () => {
    const down = new SealflowError('VENDOR_UNAVAILABLE', 'HTTP 503', { retryable: true });
    expect(mayFailOver(down, 'none')).toBe(true);
    expect(mayFailOver(down, 'found')).toBe(false);
    expect(mayFailOver(down, 'cannot-tell')).toBe(false);
    expect(mayFailOver(new SealflowError('VENDOR_BAD_RESPONSE', 'garbled'), 'none')).toBe(false);
    expect(mayFailOver(new SealflowError('VENDOR_ABORTED', 'caller gave up'), 'none')).toBe(false);
    expect(mayFailOver(new Error('plain'), 'none')).toBe(false);
  });

  it('binds a template without vendor bindings everywhere, and a bound one at its vendors and the local signer', () => {
    const esign = { id: 'esign', capabilities: { vendorTemplates: true } };
    const cfca = { id: 'cfca', capabilities: { vendorTemplates: true } };
    const local = { id: 'local', capabilities: { vendorTemplates: false } };
    const unbound = { vendorBindings: {} };
    const atEsign = { vendorBindings: { esign: { docTemplateId: 't', componentKeys: {} } } };
    expect([esign, cfca, local].map((v) => vendorCanSignTemplate(v, unbound))).toEqual([true, true, true]);
    expect([esign, cfca, local].map((v) => vendorCanSignTemplate(v, atEsign))).toEqual([true, false, true]);
  });
});

describe('seals per vendor', () => {
  /** Each organisation with the seal id each vendor of the route issued it. */
  const PER_VENDOR = {
    platform: { ...ORGANIZATIONS.platform, sealId: { esign: 'platform-esign-seal', local: 'platform-local-seal' } },
    paymentCompany: { ...ORGANIZATIONS.paymentCompany, sealId: { esign: 'pay-esign-seal', local: 'pay-local-seal' } },
  };

  it('plans the seal at every vendor of the route and sends the fallback its own: the seal check passes there', async () => {
    const s = await failoverSetup({
      organizations: PER_VENDOR,
      vendor: { failures: { createFlow: [unavailable(), unavailable(), unavailable()] } },
    });
    const record = await s.signing.sign(s.request({ businessNo: 'LN-SEALS-1' }));
    // Saved with the workflow before any vendor is called: a failover reads the fallback's seal from here.
    const planned = (await s.runtime.get(record.id))!.context as SigningContext;
    expect(planned.parties.find((p) => p.role === 'platform')?.organization).toEqual({
      name: ORGANIZATIONS.platform.name,
      creditCode: ORGANIZATIONS.platform.creditCode,
      sealId: 'platform-esign-seal',
      sealIds: { esign: 'platform-esign-seal', local: 'platform-local-seal' },
    });
    await s.drain();
    const done = (await s.signing.get(record.id))!;

    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    expect(done.failedOverFrom).toBe('esign');
    // The local signer sealed with the seal it was sent, which is the one the workflow asked for at that vendor.
    expect(done.sealsUsed.map((u) => [u.role, u.sealId])).toEqual([['platform', 'platform-local-seal']]);
    const { manifest } = await s.signing.exportEvidencePackage(record.id);
    expect(manifest.entries.find((e) => e.type === 'vendor.sealed')?.data).toMatchObject({
      vendorId: 'local',
      seals: [{ role: 'platform', sealId: 'platform-local-seal' }],
    });
  });

  it('refuses at start-up an organisation without a seal at a vendor its scenes are routed to, naming what to add', async () => {
    const organizations = {
      ...PER_VENDOR,
      platform: { ...PER_VENDOR.platform, sealId: { esign: 'platform-esign-seal' } },
    };
    const error = await failoverSetup({ organizations }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    const refused = error as ValidationError;
    expect(refused.message).toContain('organizations.platform.sealId has no seal id for vendor local');
    expect(refused.message).toContain('add organizations.platform.sealId.local');
    expect(refused.details?.missingSeals).toEqual([
      { role: 'platform', vendorId: 'local', scenes: expect.arrayContaining(['LOAN_CONTRACT', 'CREDIT_GRANT']) },
    ]);
    // Routed to e签宝 only, the same organisations start: no route reaches a vendor where a seal is missing.
    await expect(
      setupSigning({ organizations, vendor: { id: 'esign' }, routing: { default: 'esign' } }),
    ).resolves.toBeTruthy();
  });

  it('refuses at start-up one seal id given to two organisations at the same vendor, not at different vendors', () => {
    const at = (platform: Record<string, string>, paymentCompany: Record<string, string>) =>
      sealRegistry({
        platform: { ...ORGANIZATIONS.platform, sealId: platform },
        paymentCompany: { ...ORGANIZATIONS.paymentCompany, sealId: paymentCompany },
      }).problems;
    expect(at({ esign: 'S1' }, { esign: 'S1' })).toEqual([
      expect.stringContaining('organizations.paymentCompany.sealId.esign "S1"'),
    ]);
    // Each vendor numbers its own seals: the same id at two vendors is two seals.
    expect(at({ esign: 'S1' }, { cfca: 'S1' })).toEqual([]);
    expect(at({ esign: '' }, { cfca: 'S2' })).toEqual([
      expect.stringContaining('organizations.platform.sealId has no seal id for esign'),
    ]);
    const registry = sealRegistry(PER_VENDOR, {
      'bank-esign-seal': { owner: { funderId: FUNDER.id }, vendor: 'esign' },
    });
    expect(registry.problems).toEqual([]);
    expect(registry.registry.belongsTo('platform-esign-seal', 'platform', 'esign')).toBe(true);
    expect(registry.registry.belongsTo('platform-esign-seal', 'platform', 'local')).toBe(false);
    expect(registry.registry.belongsTo('bank-esign-seal', { funderId: FUNDER.id }, 'esign')).toBe(true);
    expect(registry.registry.belongsTo('bank-esign-seal', { funderId: FUNDER.id }, 'local')).toBe(false);
  });

  it("takes a funder's seal at the vendor the signing is with, and refuses its seal registered at another vendor", async () => {
    const s = await failoverSetup({
      seals: {
        'bank-esign-seal': { owner: { funderId: FUNDER.id }, vendor: 'esign' },
        'bank-local-seal': { owner: { funderId: FUNDER.id }, vendor: 'local' },
      },
    });
    const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-SEALS-F' }));
    await s.drain();
    expect((await s.signing.get(record.id))?.status).toBe('AWAITING_FUNDER');
    const clerk = { id: 'bank-clerk', funderId: FUNDER.id };

    const elsewhere = await expectError(
      s.signing.signAsFunder(clerk, record.id, { sealId: 'bank-local-seal' }),
      'SEAL_NOT_OWNED',
    );
    expect(elsewhere.message).toContain('at vendor esign');
    await expectError(
      s.signing.signAsFunder(clerk, record.id, { sealId: { local: 'bank-local-seal' } }),
      'INVALID_INPUT',
    );

    await s.signing.signAsFunder(clerk, record.id, {
      sealId: { esign: 'bank-esign-seal', local: 'bank-local-seal' },
    });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.funderSignature?.sealId).toBe('bank-esign-seal');
    expect(done.sealsUsed.find((u) => u.role === 'funder')?.sealId).toBe('bank-esign-seal');
  });
});
