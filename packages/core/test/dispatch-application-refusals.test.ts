import { dispatchIdSchema } from '../src/dispatch/institution.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settlementProblem } from '../src/dispatch/settlement.js';
import {
  admin,
  COMPLETE,
  CUSTOMER,
  cm,
  disbursed,
  expectError,
  expectNoPersonalData,
  FIGURES,
  followUp,
  inReview,
  instA,
  instB,
  otherCm,
  registered,
  reviewer,
  service,
  settler,
  setup,
  withInstitution,
} from './dispatch-application-fixtures.js';

const input = (overrides: Record<string, unknown> = {}) => ({
  applicationNumber: 'SQ-BAD-1',
  customer: CUSTOMER,
  productCode: 'HOUSE',
  amountFen: 1_000_000,
  region: '310000',
  businessCategory: 'mortgage',
  ...overrides,
});

/** Everything stored: workflows, entities, outbox and audit, to prove a refusal wrote nothing. */
async function everything(s: ReturnType<typeof setup>) {
  return s.persistence.transaction(async (tx) => {
    const workflows = await tx.workflows.list({ limit: 1000 });
    const audit = await Promise.all(workflows.map((w) => tx.audit.list(w.id)));
    return JSON.stringify({
      workflows,
      entities: await tx.entities.find('dispatch-application', { limit: 1000 }),
      outbox: await tx.outbox.list({ limit: 1000 }),
      audit,
    });
  });
}

describe('loan application: bad input writes nothing', () => {
  it.each([
    ['negative', -100],
    ['fractional', 100.5],
    ['zero', 0],
    ['not a number', '1000'],
    ['unsafe', 2 ** 60],
  ])('refuses a %s amount', async (_label, amountFen) => {
    const s = setup();
    await expectError(s.applications.open(cm, input({ amountFen }) as never), 'INVALID_INPUT');
    expect(await s.runtime.list()).toEqual([]);
  });

  it('refuses an unknown product, an amount beyond the product, bad customer data and a duplicate number', async () => {
    const s = setup();
    const unknown = await expectError(s.applications.open(cm, input({ productCode: 'YACHT' })), 'INVALID_INPUT');
    expect(unknown.message).toContain('HOUSE, CREDIT');
    await expectError(s.applications.open(cm, input({ amountFen: 600_000_000 })), 'INVALID_INPUT');
    const badId = await expectError(
      s.applications.open(cm, input({ customer: { ...CUSTOMER, idNumber: '110105194912310021' } })),
      'INVALID_INPUT',
    );
    const badMobile = await expectError(
      s.applications.open(cm, input({ customer: { ...CUSTOMER, mobile: '23812345678' } })),
      'INVALID_INPUT',
    );
    for (const error of [badId, badMobile]) {
      expectNoPersonalData(error.message);
      expect(error.message).not.toContain('110105194912310021');
      expect(error.message).not.toContain('23812345678');
    }
    await expectError(s.applications.open(cm, input({ applicationNumber: '../etc' })), 'INVALID_INPUT');
    // Ids and codes that dispatch and ranking could not use later are refused now, not when dispatch starts.
    await expectError(s.applications.open(cm, input({ applicationNumber: 'A'.repeat(61) })), 'INVALID_INPUT', /max 60/);
    await expectError(s.applications.open(cm, input({ region: '上海市' })), 'INVALID_INPUT', /region code/);
    await expectError(
      s.applications.open(cm, input({ businessCategory: 'house loan' })),
      'INVALID_INPUT',
      /business category/,
    );
    expect(await s.runtime.list()).toEqual([]);
    await s.applications.open(cm, input());
    const before = await everything(s);
    const duplicate = await expectError(s.applications.open(otherCm, input()), 'DUPLICATE');
    expect(duplicate.message).toContain('SQ-BAD-1');
    expect(await everything(s)).toBe(before);
    // The longest number still gives an id that dispatch and the ledger accept.
    const longest = await s.applications.open(cm, input({ applicationNumber: 'A'.repeat(60) }));
    expect(dispatchIdSchema.safeParse(longest.applicationId).success).toBe(true);
  });

  it('refuses malformed materials, reasons, disbursements and ratings without writing', async () => {
    const s = setup();
    const id = await registered(s);
    const before = await everything(s);
    await expectError(s.applications.submitMaterials(cm, id, []), 'INVALID_INPUT');
    await expectError(s.applications.submitMaterials(cm, id, [{ kind: 'ID CARD', complete: true }]), 'INVALID_INPUT');
    await expectError(s.applications.submitMaterials(cm, id, [...COMPLETE, COMPLETE[0]!]), 'INVALID_INPUT');
    expect(await everything(s)).toBe(before);

    const t = setup();
    const reviewing = await inReview(t);
    await expectError(t.applications.reject(reviewer, reviewing, '   '), 'INVALID_INPUT');
    await expectError(t.applications.askForMore(reviewer, reviewing, undefined as never), 'INVALID_INPUT');
    const processing = await withInstitution(t);
    await t.applications.recordFaceSigning(instA, processing);
    const beforeDisbursement = await everything(t);
    for (const amount of [-1, 0, 0.5, 30_000_001]) {
      await expectError(t.applications.recordDisbursement(instA, processing, amount), 'INVALID_INPUT');
    }
    expect(await everything(t)).toBe(beforeDisbursement);
  });

  it('masks ID numbers and mobiles typed into a reason', async () => {
    const s = setup();
    const id = await inReview(s);
    const app = await s.applications.reject(
      reviewer,
      id,
      `ID ${CUSTOMER.idNumber} and phone ${CUSTOMER.mobile} mismatch`,
    );
    expect(app.pendingRejection?.reason).toBe('ID 110105********002X and phone 138****5678 mismatch');
    expectNoPersonalData(await s.applications.history(reviewer, id));
  });
});

describe('loan application: who may act', () => {
  it('refuses actors without the role, naming who may act', async () => {
    const s = setup();
    await expectError(s.applications.open(reviewer, input()), 'FORBIDDEN');
    const id = await inReview(s);
    const before = await everything(s);
    const error = await expectError(s.applications.pass(cm, id), 'FORBIDDEN');
    expect(error.message).toContain('Only loan-reviewer may pass a loan review');
    await expectError(s.applications.pass(service, id), 'FORBIDDEN');
    await expectError(s.applications.askForMore(service, id, 'x'), 'FORBIDDEN');
    await expectError(s.applications.upholdRejection(reviewer, id), 'FORBIDDEN');
    await expectError(s.applications.dispatchSucceeded(reviewer, id, 'inst-a'), 'FORBIDDEN');
    await expectError(s.applications.pass({ id: '', roles: ['loan-reviewer'] }, id), 'INVALID_INPUT');
    // Someone tied to an institution never acts as platform staff, whatever roles the host gave them.
    await expectError(
      s.applications.pass({ id: 'x', roles: ['loan-reviewer'], institutionId: 'inst-a' }, id),
      'FORBIDDEN',
    );
    expect(await everything(s)).toBe(before);
  });

  it("only the application's own customer manager takes its customer-facing steps", async () => {
    const s = setup();
    const id = await registered(s);
    const error = await expectError(s.applications.submitMaterials(otherCm, id, COMPLETE), 'FORBIDDEN');
    expect(error.message).toContain('Only the customer manager');
  });

  it('an institution cannot act on an application not dispatched to it', async () => {
    const s = setup();
    const id = await withInstitution(s);
    const before = await everything(s);
    const error = await expectError(s.applications.recordFaceSigning(instB, id), 'FORBIDDEN');
    expect(error.message).not.toContain('inst-a');
    await expectError(s.applications.recordProcessingFailure(instB, id, 'not ours'), 'FORBIDDEN');
    await expectError(s.applications.recordFaceSigning({ id: 'n', roles: ['institution'] }, id), 'FORBIDDEN');
    expect(await everything(s)).toBe(before);
    const reviewing = await inReview(s);
    // Before dispatch no institution may act, and the refusal does not reveal where the application stands.
    const early = await expectError(s.applications.recordFaceSigning(instA, reviewing), 'FORBIDDEN');
    expect(early.message).not.toContain('review');
  });

  it('ratings: the platform side by platform staff, the institution side by the chosen institution only', async () => {
    const s = setup();
    const id = await disbursed(s);
    await s.applications.confirmSettlement(followUp, id, FIGURES);
    await s.applications.confirmWithCustomer(cm, id);
    await s.applications.confirmPayment(settler, id);
    await expectError(s.applications.rate(instA, id, { side: 'platform', score: 5, comment: '' }), 'FORBIDDEN');
    await expectError(s.applications.rate(followUp, id, { side: 'institution', score: 5, comment: '' }), 'FORBIDDEN');
    await expectError(s.applications.rate(instB, id, { side: 'institution', score: 5, comment: '' }), 'FORBIDDEN');
    await expectError(s.applications.rate(instA, id, { side: 'institution', score: 6, comment: '' }), 'INVALID_INPUT');
    await expectError(
      s.applications.rate(instA, id, { side: 'institution', score: 4.5, comment: '' }),
      'INVALID_INPUT',
    );
    await expectError(s.applications.close(admin, id), 'EVENT_NOT_ACCEPTED');
  });

  it('steps in the wrong state are refused with the stage named', async () => {
    const s = setup();
    const id = await registered(s);
    const error = await expectError(s.applications.confirmPayment(settler, id), 'EVENT_NOT_ACCEPTED');
    expect(error.message).toMatch(/collecting materials .*confirm payment only when it is waiting for payment/);
    await expectError(s.applications.pass(reviewer, id), 'EVENT_NOT_ACCEPTED');
    await expectError(
      s.applications.get(cm, 'app:none').then(() => s.applications.pass(reviewer, 'app:none')),
      'NOT_FOUND',
    );
  });

  it('the machine itself refuses a caller that skips the service', async () => {
    const s = setup();
    const id = await inReview(s);
    const at = s.clock.now();
    await expectError(
      s.runtime.send(id, { type: 'PASS', actorId: 'cm-li', roles: ['customer-manager'], reason: null, at }),
      'EVENT_NOT_ACCEPTED',
    );
    await expectError(
      s.runtime.send(id, {
        type: 'FACE_SIGNED',
        actorId: 'a',
        roles: ['institution'],
        actorInstitutionId: 'inst-a',
        at,
      }),
      'EVENT_NOT_ACCEPTED',
    );
    expect((await s.applications.get(cm, id))?.status).toBe('inReview');
  });

  it('many concurrent reviewers: exactly one decision wins, the others are told why', async () => {
    const s = setup();
    const id = await inReview(s);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? s.applications.pass({ id: `rev-${i}`, roles: ['loan-reviewer'] }, id)
          : s.applications.reject({ id: `rev-${i}`, roles: ['loan-reviewer'] }, id, 'too risky'),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('EVENT_NOT_ACCEPTED');
    }
    const app = await s.applications.get(reviewer, id);
    expect(app?.reviewDecisions).toHaveLength(1);
  });
});

describe('settlement arithmetic', () => {
  const fen = fc.integer({ min: 0, max: 2 ** 40 });

  it('accepts every fen triple that adds up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fen,
        fen,
        (disbursedFen, institutionCommissionFen, customerServiceFeeFen) => {
          const figures = {
            disbursedFen,
            institutionCommissionFen,
            customerServiceFeeFen,
            commissionFen: institutionCommissionFen + customerServiceFeeFen,
          };
          expect(settlementProblem(figures, disbursedFen)).toBeUndefined();
        },
      ),
    );
  });

  it("refuses every triple that doesn't", () => {
    fc.assert(
      fc.property(fen, fen, fen, (institutionCommissionFen, customerServiceFeeFen, commissionFen) => {
        fc.pre(commissionFen !== institutionCommissionFen + customerServiceFeeFen);
        const figures = { disbursedFen: 100, institutionCommissionFen, customerServiceFeeFen, commissionFen };
        expect(settlementProblem(figures, 100)).toMatch(/must equal/);
      }),
    );
  });

  it('refuses negative, fractional and non-number figures', () => {
    const bad = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true, noNaN: false }),
      fc.constant(Number.NaN),
      fc.string(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(
        bad,
        fc.constantFrom('disbursedFen', 'institutionCommissionFen', 'customerServiceFeeFen', 'commissionFen'),
        (value, field) => {
          const figures = { ...FIGURES, [field]: value } as never;
          expect(settlementProblem(figures, FIGURES.disbursedFen)).toBeDefined();
        },
      ),
    );
  });

  it('the service refuses a settlement that does not add up through the same rule (property, on the service)', async () => {
    const s = setup();
    const id = await disbursed(s);
    await fc.assert(
      fc.asyncProperty(fen, fen, fc.integer({ min: 1, max: 1000 }), async (a, b, off) => {
        const error = await expectError(
          s.applications.confirmSettlement(followUp, id, {
            disbursedFen: FIGURES.disbursedFen,
            institutionCommissionFen: a,
            customerServiceFeeFen: b,
            commissionFen: a + b + off,
          }),
          'INVALID_INPUT',
        );
        expect(error.details).toEqual({ field: 'settlement' });
      }),
      { numRuns: 30 },
    );
    expect((await s.applications.get(followUp, id))?.settlement).toBeNull();
  });
});
