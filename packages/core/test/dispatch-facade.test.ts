/**
 * `sealflow.dispatch` end to end on one runtime: a pass starts the dispatch, the dispatch's outcome reaches the
 * application, a choice with the customer's terms starts the funder-funded loan contract, the chosen institution
 * signs it with its own seal, and settlement restores its position — each hand-over durable and applied once.
 */
import { describe, expect, it } from 'vitest';
import {
  createSealflow,
  dateInChina,
  type DispatchActor,
  type LoanContractTerms,
  type OrganizationSealId,
  SealflowError,
  silentLogger,
} from '../src/index.js';
import { createManualClock, createMemoryNotifier, createMemorySigningVendor } from '../src/memory/index.js';
import {
  admin,
  COMPLETE,
  cm,
  FIGURES,
  followUp,
  PRODUCTS,
  reviewer,
  settler,
} from './dispatch-application-fixtures.js';
import { twice } from './effects-twice.js';
import { expectError } from './expect-error.js';
import { BORROWER, creditCode, definitionWith, FUNDER, HASH_KEY, ORGANIZATIONS, SEALS } from './signing-fixtures.js';

/** A borrower the loan template's business checks accept (born 1990). */
const CUSTOMER = BORROWER;
import { CONTRACT_PDF, editor } from './template-fixtures.js';

const HOUR = 3_600_000;
const bank: DispatchActor = { id: 'bank-clerk', roles: ['institution'], institutionId: FUNDER.id };
const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});

async function setup(options: { twice?: string[]; funderSealId?: OrganizationSealId } = {}) {
  const clock = createManualClock(Date.UTC(2026, 10, 30, 2));
  const notifier = createMemoryNotifier();
  const vendor = createMemorySigningVendor({ clock });
  const sealflow = await createSealflow({
    vendors: { memory: vendor },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    seals: SEALS,
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_V' } },
    clock,
    logger: silentLogger,
    start: false,
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier },
    ...(options.twice ? { workflows: twice(options.twice) } : {}),
  });
  const dispatch = sealflow.dispatch!;
  const drain = async () => {
    for (let i = 0; i < 60; i++) {
      const pass = await sealflow.runtime.runOnce({ limit: 50 });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  const draft = await sealflow.templates.importTemplate(editor, {
    code: 'LOAN_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: definitionWith(['platform', 'funder']),
  });
  await sealflow.templates.submit(editor, draft.id);
  await sealflow.templates.approve({ id: 'amy', roles: ['template-approver'] }, draft.id);
  // The funder bank first in every ranking: the most deposit, and its seal is bound to it.
  const institutions = [
    {
      id: FUNDER.id,
      name: FUNDER.name,
      creditCode: FUNDER.creditCode,
      sealId: options.funderSealId ?? 'funder-seal',
      deposit: 900_000_000,
    },
    { id: 'inst-b', name: '乙小贷公司', creditCode: creditCode('91310000MA1B00000'), deposit: 800_000_000 },
    { id: 'inst-c', name: '丙小贷公司', creditCode: creditCode('91310000MA1C00000'), deposit: 700_000_000 },
    { id: 'inst-d', name: '丁小贷公司', creditCode: creditCode('91310000MA1D00000'), deposit: 600_000_000 },
  ];
  for (const { deposit, ...profile } of institutions) {
    await dispatch.institutions.register(admin, {
      ...profile,
      regions: ['310000'],
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
  return { sealflow, dispatch, clock, notifier, drain, vendor };
}

type Setup = Awaited<ReturnType<typeof setup>>;

let seq = 0;
async function passed(s: Setup): Promise<string> {
  const opened = await s.dispatch.applications.open(cm, {
    applicationNumber: `SQ-F-${++seq}`,
    customer: CUSTOMER,
    productCode: 'HOUSE',
    amountFen: 30_000_000,
    region: '310000',
    businessCategory: 'mortgage',
  });
  const id = opened.applicationId;
  await s.dispatch.applications.registerCustomer(cm, id, CUSTOMER);
  await s.dispatch.applications.submitMaterials(cm, id, COMPLETE);
  await s.dispatch.applications.confirmProduct(cm, id);
  await s.dispatch.applications.submitForReview(cm, id);
  await s.dispatch.applications.pass(reviewer, id);
  await s.drain();
  return id;
}

function terms(s: Setup): LoanContractTerms {
  const now = s.clock.now();
  return {
    consent: { at: now, channel: 'app', ip: '203.0.113.7', device: 'iPhone', documentVersionsShown: ['LOAN_V.v0001'] },
    values: {
      loan: { amount: '300000.00', startDate: dateInChina(new Date(now)), termMonths: 12 },
      credit: { limit: '500000.00' },
    },
  };
}

const dispatchOf = (id: string, n = 1) => `dispatch:${id}:${n}`;

describe('sealflow.dispatch', () => {
  it('is absent unless configured, and refuses a dispatch option without products', async () => {
    const plain = await createSealflow({
      vendors: { memory: createMemorySigningVendor() },
      identityVerifier: { check: async () => ({ verified: true }) },
      hashKey: HASH_KEY,
      logger: silentLogger,
      start: false,
    });
    expect(plain.dispatch).toBeUndefined();
    await plain.close();
    await expectError(
      createSealflow({
        vendors: { memory: createMemorySigningVendor() },
        identityVerifier: { check: async () => ({ verified: true }) },
        hashKey: HASH_KEY,
        logger: silentLogger,
        start: false,
        dispatch: { products: [], choiceDesk: 'desk' },
      }),
      'INVALID_INPUT',
      /dispatch\.products needs at least one loan product/,
    );
  });

  it('lets the funder seal the 补签 attempt when the first loan contract signing failed', async () => {
    const s = await setup();
    const id = await passed(s);
    const offer = (await s.dispatch.offers.offersFor(bank))[0]!;
    await s.dispatch.offers.accept(offer.offerId, bank);
    s.vendor.failNext('createFlow', new SealflowError('VENDOR_REJECTED', 'seal not authorised', { retryable: false }));
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(s));
    await s.drain();

    const firstId = (await s.dispatch.applications.get(cm, id))!.loanContract!.recordId!;
    expect((await s.sealflow.signing.get(firstId))?.status).toBe('FAILED');
    const second = await s.sealflow.signing.resign(firstId, { id: 'ops-wang' });
    await s.drain();
    expect((await s.sealflow.signing.get(second.id))?.status).toBe('AWAITING_FUNDER');

    const sealed = await s.dispatch.signLoanContract(bank, id);
    expect(sealed.id).toBe(second.id);
    await s.drain();
    expect((await s.sealflow.signing.get(second.id))?.status).toBe('COMPLETED');
    expect((await s.sealflow.signing.get(firstId))?.status).toBe('FAILED');
  });

  it('runs pass → offers → choice → loan contract signed with the funder’s seal → settlement', async () => {
    const s = await setup();
    const chosen: string[] = [];
    s.sealflow.events.on('dispatch.chosen', (event) => {
      chosen.push(event.payload.institutionId);
    });
    const id = await passed(s);

    const started = await s.dispatch.offers.get(dispatchOf(id), followUp);
    expect(started.state).toBe('offering');
    expect(started.offers.map((o) => o.institutionId)).toEqual([FUNDER.id, 'inst-b', 'inst-c']);
    expect((await s.dispatch.applications.get(cm, id))?.status).toBe('dispatching');

    const offer = (await s.dispatch.offers.offersFor(bank))[0]!;
    await s.dispatch.offers.accept(offer.offerId, bank);
    const other = (await s.dispatch.offers.offersFor(staffOf('inst-b')))[0]!;
    await s.dispatch.offers.accept(other.offerId, staffOf('inst-b'));
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(s));
    await s.drain();

    expect(chosen).toEqual([FUNDER.id]);
    const processing = (await s.dispatch.applications.get(cm, id))!;
    expect(processing.stage).toBe('institutionProcessing.awaitingFaceSigning');
    expect(processing.institutionId).toBe(FUNDER.id);
    expect(processing.funder).toEqual({
      id: FUNDER.id,
      name: FUNDER.name,
      creditCode: FUNDER.creditCode,
      sealId: 'funder-seal',
    });
    expect(processing.loanContract).toMatchObject({ businessNo: `${processing.applicationNumber}-1`, error: null });
    const recordId = processing.loanContract!.recordId!;
    const record = (await s.sealflow.signing.get(recordId))!;
    expect(record).toMatchObject({ scene: 'LOAN_CONTRACT', funding: 'funder', funderId: FUNDER.id });
    // The hand-over is the system's; the contract is asked for by the customer manager who recorded the choice.
    const handOver = (await s.dispatch.applications.history(admin, id)).find((e) => e.event === 'DISPATCH_SUCCEEDED');
    expect(handOver).toMatchObject({ actorId: 'system:dispatch', role: 'platform-admin' });
    expect(record.requestedBy).toBe(cm.id);
    // The application keeps no personal data; the contract names the borrower from the sealed identity.
    expect(JSON.stringify(processing)).not.toContain(CUSTOMER.idNumber);

    // The institution not chosen got its position back; the chosen one's stays frozen.
    expect((await s.dispatch.institutions.balances(admin, 'inst-b')).holds).toEqual({});
    expect((await s.dispatch.institutions.balances(bank, FUNDER.id)).holds).toEqual({ [id]: 30_000_000 });

    // Another institution cannot even learn that the application exists.
    await expectError(s.dispatch.signLoanContract(staffOf('inst-b'), id), 'NOT_FOUND', /your institution may see/);
    await s.dispatch.signLoanContract(bank, id);
    await s.drain();
    expect((await s.sealflow.signing.get(recordId))?.status).toBe('COMPLETED');

    await s.dispatch.applications.recordFaceSigning(bank, id);
    await s.dispatch.applications.recordDisbursement(bank, id, FIGURES.disbursedFen);
    await s.dispatch.applications.confirmSettlement(followUp, id, FIGURES);
    await s.dispatch.applications.confirmWithCustomer(cm, id);
    await s.dispatch.applications.confirmPayment(settler, id);
    expect((await s.dispatch.institutions.balances(admin, FUNDER.id)).holds).toEqual({});
    const funder = await s.dispatch.institutions.get(bank, FUNDER.id);
    expect(funder.stats).toMatchObject({ successes: 1, amountFen: FIGURES.disbursedFen });
    expect(s.notifier.for({ kind: 'staff', id: 'follow-up-desk' }).map((n) => n.type)).toContain(
      'dispatch.choice-open',
    );
    // The chosen institution hears it was chosen, the other one that accepted that it was not.
    const told = (institutionId: string) =>
      s.notifier.for({ kind: 'institution', id: institutionId }).map((n) => n.type);
    expect(told(FUNDER.id)).toEqual(expect.arrayContaining(['offer.new', 'offer.chosen']));
    expect(told(FUNDER.id)).not.toContain('offer.not-chosen');
    expect(told('inst-b')).toEqual(expect.arrayContaining(['offer.new', 'offer.not-chosen']));
    // Settlement frees the place the application held; the open offer of inst-c was withdrawn at the choice.
    expect(funder.openCount).toBe(0);
    expect((await s.dispatch.institutions.get(admin, 'inst-b')).openCount).toBe(0);
    expect((await s.dispatch.institutions.get(admin, 'inst-c')).openCount).toBe(0);
    expect(funder.stats).toMatchObject({ offered: 1, accepted: 1, responses: 1 });
    await s.sealflow.close();
  });

  it('signs the loan contract with the seal its profile names for the vendor the contract is at', async () => {
    // Seal ids per vendor, as for an institution whose contracts may go to e签宝 or 安心签; this one is at `memory`.
    const s = await setup({ funderSealId: { esign: 'esign-funder-seal', memory: 'funder-seal' } });
    const id = await passed(s);
    await s.dispatch.offers.accept((await s.dispatch.offers.offersFor(bank))[0]!.offerId, bank);
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(s));
    await s.drain();
    const application = (await s.dispatch.applications.get(cm, id))!;
    expect(application.funder?.sealId).toEqual({ esign: 'esign-funder-seal', memory: 'funder-seal' });
    await s.dispatch.signLoanContract(bank, id);
    await s.drain();
    const record = (await s.sealflow.signing.get(application.loanContract!.recordId!))!;
    expect(record.status).toBe('COMPLETED');
    expect(record.funderSignature?.sealId).toBe('funder-seal');
    await s.sealflow.close();
  });

  it('refuses to sign when the profile has seal ids, but none for the vendor the contract is at', async () => {
    const s = await setup({ funderSealId: { esign: 'esign-funder-seal' } });
    const id = await passed(s);
    await s.dispatch.offers.accept((await s.dispatch.offers.offersFor(bank))[0]!.offerId, bank);
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(s));
    await s.drain();
    await expectError(s.dispatch.signLoanContract(bank, id), 'INVALID_INPUT', /add sealId\.memory/);
    await s.sealflow.close();
  });

  it('refuses an institution profile whose seal ids are not text, naming the field', async () => {
    const s = await setup();
    await expectError(
      s.dispatch.institutions.register(admin, {
        id: 'inst-e',
        name: '戊小贷公司',
        creditCode: creditCode('91310000MA1E00000'),
        regions: ['310000'],
        categories: ['mortgage'],
        capacity: 10,
        sealId: { esign: 42 } as unknown as string,
      }),
      'INVALID_INPUT',
      /Institution sealId/,
    );
    await s.sealflow.close();
  });

  it('counts a processing failure against the institution and dispatches again without it', async () => {
    const s = await setup();
    const id = await passed(s);
    const offer = (await s.dispatch.offers.offersFor(bank))[0]!;
    await s.dispatch.offers.accept(offer.offerId, bank);
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm);
    await s.drain();
    expect((await s.dispatch.institutions.get(admin, FUNDER.id)).openCount).toBe(1);

    await s.dispatch.applications.recordProcessingFailure(bank, id, '客户放弃面签');
    await s.drain();
    const bankNow = await s.dispatch.institutions.get(admin, FUNDER.id);
    expect(bankNow.openCount).toBe(0);
    expect(bankNow.stats).toMatchObject({ accepted: 1, failures: 1, abandoned: 1, successes: 0 });
    const application = (await s.dispatch.applications.get(cm, id))!;
    expect(application).toMatchObject({ status: 'dispatching', dispatchRound: 2, failedInstitutions: [FUNDER.id] });
    const second = await s.dispatch.offers.get(dispatchOf(id, 2), followUp);
    // Institutions offered in the first dispatch are not offered again; only inst-d is left.
    expect(second.offers.map((o) => o.institutionId)).toEqual(['inst-d']);
    await s.sealflow.close();
  });

  it('sends an application nobody accepted back to review, and the next dispatch offers the next cluster', async () => {
    const s = await setup();
    const id = await passed(s);
    for (const institutionId of [FUNDER.id, 'inst-b', 'inst-c']) {
      const offer = (await s.dispatch.offers.offersFor(staffOf(institutionId)))[0]!;
      await s.dispatch.offers.decline(offer.offerId, '额度已满', staffOf(institutionId));
    }
    // The fourth institution was offered as the others declined; it lets its offer expire.
    s.clock.advance(24 * HOUR);
    await s.drain();
    expect((await s.dispatch.offers.get(dispatchOf(id), followUp)).outcome).toBe('EXHAUSTED');
    expect((await s.dispatch.applications.get(cm, id))?.status).toBe('inReview');

    await s.dispatch.applications.pass(reviewer, id);
    await s.drain();
    const second = await s.dispatch.offers.get(dispatchOf(id, 2), followUp);
    // Everyone was offered in the first dispatch, so the second has nobody and ends at once.
    expect(second.offers).toEqual([]);
    expect(second.outcome).toBe('EXHAUSTED');
    expect((await s.dispatch.applications.get(cm, id))?.status).toBe('inReview');
    await s.sealflow.close();
  });

  it('applies each hand-over once when every effect between workflows runs twice', async () => {
    const s = await setup({ twice: ['requestDispatch', 'reportOutcome', 'startLoanContract'] });
    const id = await passed(s);
    const offer = (await s.dispatch.offers.offersFor(bank))[0]!;
    await s.dispatch.offers.accept(offer.offerId, bank);
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(s));
    await s.drain();
    const application = (await s.dispatch.applications.get(cm, id))!;
    expect(application.stage).toBe('institutionProcessing.awaitingFaceSigning');
    expect(application.dispatchRound).toBe(1);
    const signings = await s.sealflow.signing.find({ businessNo: application.loanContract!.businessNo });
    expect(signings).toHaveLength(1);
    expect(application.loanContract?.recordId).toBe(signings[0]!.id);
    const history = await s.dispatch.applications.history(admin, id);
    expect(history.filter((entry) => entry.event === 'DISPATCH_SUCCEEDED')).toHaveLength(1);
    await s.sealflow.close();
  });

  it('records a loan contract that cannot start on the application, and refuses bad terms before choosing', async () => {
    const s = await setup();
    const id = await passed(s);
    const offer = (await s.dispatch.offers.offersFor(bank))[0]!;
    await s.dispatch.offers.accept(offer.offerId, bank);
    await expectError(
      s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, {
        consent: { ...terms(s).consent, ip: '' },
      }),
      'INVALID_INPUT',
      /contract\.consent\.ip must not be empty/,
    );
    expect((await s.dispatch.offers.get(dispatchOf(id), followUp)).state).toBe('offering');
    // No loan values: the template's business check refuses the signing, which the application records.
    await s.dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, { consent: terms(s).consent });
    await s.drain();
    const application = (await s.dispatch.applications.get(cm, id))!;
    expect(application.stage).toBe('institutionProcessing.awaitingFaceSigning');
    expect(application.loanContract?.recordId).toBeNull();
    expect(application.loanContract?.error?.code).toMatch(/.+/);
    await expectError(s.dispatch.signLoanContract(bank, id), 'LOAN_CONTRACT_NOT_STARTED', /no loan contract/);
    await s.sealflow.close();
  });

  it('scopes institutions, positions and ledgers to their own staff', async () => {
    const s = await setup();
    const b = staffOf('inst-b');
    await expectError(s.dispatch.institutions.get(b, FUNDER.id), 'FORBIDDEN', /own institution/);
    await expectError(s.dispatch.institutions.balances(b, FUNDER.id), 'FORBIDDEN', /own institution/);
    await expectError(s.dispatch.institutions.movements(b, FUNDER.id), 'FORBIDDEN', /own institution/);
    await expectError(s.dispatch.institutions.list(b), 'FORBIDDEN', /Only/);
    await expectError(
      s.dispatch.institutions.topUp(b, { institutionId: 'inst-b', account: 'cash', amountFen: 1, key: 'k' }),
      'FORBIDDEN',
      /Only platform-admin or settler/,
    );
    expect((await s.dispatch.institutions.balances(b, 'inst-b')).deposit).toBe(800_000_000);
    await s.sealflow.close();
  });
});
