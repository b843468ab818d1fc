/**
 * A party signs only with its own seals: the registry is checked at start-up, in `signAsFunder` (also under
 * concurrency) and for the auto-seal, and the seal the vendor reports having used must be the one asked for.
 */
import { describe, expect, it } from 'vitest';
import {
  type SigningVendor,
  type VendorFlow,
  createSigningService,
  type SealRegistration,
  SealflowError,
  signingWorkflows,
} from '../src/index.js';
import { memorySealCertificate } from '../src/memory/index.js';
import { FUNDER, ORGANIZATIONS, SEALS, setupSigning } from './signing-fixtures.js';
import { expectError } from './template-fixtures.js';

const OTHER_BANK_SEALS = {
  ...SEALS,
  'other-bank-seal': { owner: { funderId: 'other-bank' } },
};

/** A vendor that reports `used` as the seal of `role`, whatever it was asked to seal with. */
function misreporting(role: string, used: string) {
  return (vendor: SigningVendor): SigningVendor => {
    const rewrite = (flow: VendorFlow): VendorFlow => ({
      ...flow,
      signers: flow.signers.map((s) => (s.role === role && s.seal ? { ...s, seal: { ...s.seal, sealId: used } } : s)),
    });
    return {
      ...vendor,
      id: vendor.id,
      capabilities: vendor.capabilities,
      createFlow: async (input, context) => rewrite(await vendor.createFlow(input, context)),
      getFlow: async (flowId, context) => rewrite(await vendor.getFlow(flowId, context)),
      appendSigner: async (flowId, signer, context) => rewrite(await vendor.appendSigner!(flowId, signer, context)),
    };
  };
}

async function awaitingFunder(options: Parameters<typeof setupSigning>[0] = {}) {
  const s = await setupSigning({ seals: OTHER_BANK_SEALS, ...options });
  const record = await s.signing.sign(s.request({ funding: 'funder', funder: FUNDER, businessNo: 'LN-SEAL-1' }));
  await s.drain();
  expect((await s.signing.get(record.id))?.status).toBe('AWAITING_FUNDER');
  return { s, record };
}

describe('seal ownership', () => {
  it("refuses a funder signing with another bank's seal, the platform's seal or an unregistered one; nothing is written", async () => {
    const { s, record } = await awaitingFunder();
    const before = await s.signing.exportEvidencePackage(record.id);
    const clerk = { id: 'bank-clerk', funderId: FUNDER.id };
    for (const sealId of ['other-bank-seal', ORGANIZATIONS.platform.sealId, ORGANIZATIONS.paymentCompany.sealId, 'x']) {
      const error = await expectError(s.signing.signAsFunder(clerk, record.id, { sealId }), 'SEAL_NOT_OWNED');
      expect(error.message).toContain(`funder ${FUNDER.id}`);
    }
    await s.drain();
    const after = (await s.signing.get(record.id))!;
    expect(after).toMatchObject({ status: 'AWAITING_FUNDER', funderSignature: null });
    expect((await s.signing.exportEvidencePackage(record.id)).manifest.entries).toHaveLength(
      before.manifest.entries.length,
    );
    expect(s.vendor.calls.filter((c) => c.method === 'appendSigner')).toEqual([]);

    await s.signing.signAsFunder(clerk, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.sealsUsed).toEqual([
      { role: 'funder', sealId: 'funder-seal', ...memorySealCertificate('funder-seal') },
    ]);
  });

  it('under 60 concurrent signAsFunder calls, only the own seal signs, once', async () => {
    const { s, record } = await awaitingFunder();
    const clerk = { id: 'bank-clerk', funderId: FUNDER.id };
    const seals = ['funder-seal', 'other-bank-seal', ORGANIZATIONS.platform.sealId];
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        s.signing.signAsFunder(clerk, record.id, { sealId: seals[i % 3]! }).then(
          () => ({ sealId: seals[i % 3], code: 'OK' }),
          (error: SealflowError) => ({ sealId: seals[i % 3], code: error.code }),
        ),
      ),
    );
    for (const outcome of outcomes.filter((o) => o.sealId !== 'funder-seal'))
      expect(outcome.code).toBe('SEAL_NOT_OWNED');
    const own = outcomes.filter((o) => o.sealId === 'funder-seal').map((o) => o.code);
    expect(own.filter((c) => c === 'OK')).toHaveLength(1);
    expect(new Set(own.filter((c) => c !== 'OK'))).toEqual(new Set(['SIGNING_NOT_AWAITING_FUNDER']));
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    expect(done.funderSignature?.sealId).toBe('funder-seal');
    expect(s.vendor.calls.filter((c) => c.method === 'appendSigner')).toHaveLength(1);
  });

  it("records the platform's auto-seal and its certificate as the vendor reports them", async () => {
    const s = await setupSigning();
    const record = await s.signing.sign(s.request());
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.status).toBe('COMPLETED');
    const platformSeal = { role: 'platform', sealId: 'platform-seal', ...memorySealCertificate('platform-seal') };
    expect(done.sealsUsed).toEqual([platformSeal]);
    const { manifest } = await s.signing.exportEvidencePackage(record.id);
    expect(manifest.entries.find((e) => e.type === 'vendor.sealed')?.data).toMatchObject({ seals: [platformSeal] });
  });

  it('fails the signing, archives nothing and revokes the open flow when the vendor used another auto-seal', async () => {
    const s = await setupSigning({ wrapVendor: misreporting('platform', 'pay-seal') });
    const record = await s.signing.sign(s.request({ scene: 'UI_LOAN' }));
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', signed: [], failure: { code: 'SEAL_NOT_AS_ASKED' } });
    expect(failed.failure?.message).toContain('platform sealed with "pay-seal" instead of "platform-seal"');
    const revoked = await s.vendor.getFlow(failed.vendor.flowId!, { idempotencyKey: 'test' });
    expect(revoked).toMatchObject({ status: 'revoked', reason: 'a signer used a seal that was not asked for' });
  });

  it("fails the signing when the vendor reports another seal for the funder than the funder's choice", async () => {
    const { s, record } = await awaitingFunder({ wrapVendor: misreporting('funder', 'other-bank-seal') });
    await s.signing.signAsFunder({ id: 'bank-clerk', funderId: FUNDER.id }, record.id, { sealId: 'funder-seal' });
    await s.drain();
    const failed = (await s.signing.get(record.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', signed: [], failure: { code: 'SEAL_NOT_AS_ASKED' } });
    const { manifest } = await s.signing.exportEvidencePackage(record.id);
    // What the vendor claims to have used is evidence too.
    expect(manifest.entries.find((e) => e.type === 'vendor.sealed')?.data).toMatchObject({
      seals: [{ role: 'funder', sealId: 'other-bank-seal' }],
    });
  });

  it('refuses at start-up a seal registered to two owners or to an organisation that is not configured', async () => {
    const s = await setupSigning();
    const base = { vendors: { [s.gateway.id]: s.gateway }, documents: s.documents, hashKey: 'k'.repeat(32) };
    const service = (environment: Record<string, unknown>) => () =>
      createSigningService({
        ...base,
        ...environment,
        runtime: s.runtime,
        templates: s.templates,
        identityVerifier: { check: async () => ({ verified: true }) },
      });
    const misconfigured: { organizations: typeof ORGANIZATIONS; seals?: Record<string, SealRegistration> }[] = [
      // The platform's seal handed to a funder.
      { organizations: ORGANIZATIONS, seals: { 'platform-seal': { owner: { funderId: FUNDER.id } } } },
      // Two organisations sealing with one seal.
      {
        organizations: {
          ...ORGANIZATIONS,
          paymentCompany: { ...ORGANIZATIONS.paymentCompany, sealId: 'platform-seal' },
        },
      },
      // A seal of an organisation the configuration does not know.
      { organizations: ORGANIZATIONS, seals: { 'guarantor-seal': { owner: 'guarantor' } } },
      { organizations: ORGANIZATIONS, seals: { 'bad-seal': { owner: { funderId: '' } } } },
    ];
    for (const environment of misconfigured) {
      const error = (() => {
        try {
          service(environment)();
        } catch (e) {
          return e;
        }
      })();
      expect(error, JSON.stringify(environment.seals ?? environment.organizations)).toBeInstanceOf(SealflowError);
      expect((error as SealflowError).code).toBe('INVALID_INPUT');
      expect(() => signingWorkflows({ ...base, ...environment })).toThrow(/seal/);
    }
    // Registering an organisation's own seal to it again is fine.
    expect(service({ organizations: ORGANIZATIONS, seals: { 'platform-seal': { owner: 'platform' } } })).not.toThrow();
  });
});
