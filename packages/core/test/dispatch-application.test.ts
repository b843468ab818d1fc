import { describe, expect, it } from 'vitest';
import type { LoanApplication } from '../src/dispatch/application.js';
import { isApplicationEvent } from '../src/dispatch/application-workflow.js';
import { ratingRecords } from '../src/dispatch/rating.js';
import {
  admin,
  COMPLETE,
  cm,
  disbursed,
  expectError,
  expectNoPersonalData,
  FIGURES,
  followUp,
  INCOMPLETE,
  inReview,
  instA,
  registered,
  reviewer,
  service,
  settler,
  setup,
  supervisor,
  withInstitution,
} from './dispatch-application-fixtures.js';

const types = (s: ReturnType<typeof setup>, id: string) =>
  s.events.filter((e) => e.workflowId === id).map((e) => e.type);

describe('loan application: intake', () => {
  it('opens in registering with the customer masked and hashed, then registers after a real-name check', async () => {
    const s = setup();
    const opened = await s.applications.open(cm, {
      applicationNumber: 'SQ-INTAKE-1',
      customer: { name: '张三丰', idNumber: '11010519491231002X', mobile: '13812345678' },
      productCode: 'HOUSE',
      amountFen: 30_000_000,
      region: '310000',
      businessCategory: 'mortgage',
    });
    expect(opened).toMatchObject({ status: 'registering', customerManagerId: 'cm-li', amountFen: 30_000_000 });
    expect(opened.customer).toMatchObject({
      maskedName: '张**',
      maskedIdNumber: '110105********002X',
      maskedMobile: '138****5678',
    });
    expectNoPersonalData(opened);
    const next = await s.applications.registerCustomer(cm, opened.applicationId, {
      name: '张三丰',
      idNumber: '11010519491231002X',
      mobile: '13812345678',
    });
    expect(next.status).toBe('collectingMaterials');
    expect(next.identity).toEqual({ method: 'three-element', verifiedAt: Date.UTC(2026, 0, 1) });
    expect(s.identityVerifier.calls).toBe(1);
  });

  it('refuses an unverified customer and a customer other than the one opened for; nothing changes', async () => {
    const s = setup();
    const opened = await s.applications.open(cm, {
      applicationNumber: 'SQ-INTAKE-2',
      customer: { name: '张三丰', idNumber: '11010519491231002X', mobile: '13812345678' },
      productCode: 'CREDIT',
      amountFen: 1_000_000,
      region: '310000',
      businessCategory: 'consumer',
    });
    const other = { name: '李四', idNumber: '11010519491231002X', mobile: '13812345678' };
    const mismatch = await expectError(
      s.applications.registerCustomer(cm, opened.applicationId, other),
      'INVALID_INPUT',
    );
    expectNoPersonalData(mismatch.message);
    expect(mismatch.message).not.toContain('李四');
    expect(s.identityVerifier.calls).toBe(0);
    s.identityVerifier.verified = false;
    const refused = await expectError(
      s.applications.registerCustomer(cm, opened.applicationId, {
        name: '张三丰',
        idNumber: '11010519491231002X',
        mobile: '13812345678',
      }),
      'IDENTITY_NOT_VERIFIED',
    );
    expectNoPersonalData(refused.message);
    const after = await s.applications.get(cm, opened.applicationId);
    expect(after).toMatchObject({ status: 'registering', identity: null });
    expect((await s.runtime.get(opened.applicationId))?.rowVersion).toBe(1);
  });

  it('sends back incomplete materials, and the third incomplete submission in a row goes to manual intervention', async () => {
    const s = setup();
    const id = await registered(s);
    let app = await s.applications.submitMaterials(cm, id, INCOMPLETE);
    expect(app).toMatchObject({ status: 'collectingMaterials', incompleteSubmissions: 1 });
    app = await s.applications.submitMaterials(cm, id, [{ kind: 'property-certificate', complete: false }]);
    expect(app).toMatchObject({ status: 'collectingMaterials', incompleteSubmissions: 2 });
    app = await s.applications.submitMaterials(cm, id, INCOMPLETE);
    expect(app).toMatchObject({ status: 'manualIntervention', incompleteSubmissions: 3 });
    await expectError(s.applications.submitMaterials(cm, id, COMPLETE), 'EVENT_NOT_ACCEPTED');
    // A person resumes: the count starts again, so three more incomplete submissions are needed.
    app = await s.applications.resolveIntervention(followUp, id, 'RESUME', 'customer brings the certificate');
    expect(app).toMatchObject({
      status: 'collectingMaterials',
      incompleteSubmissions: 0,
      totalIncompleteSubmissions: 3,
    });
    app = await s.applications.submitMaterials(cm, id, INCOMPLETE);
    expect(app.status).toBe('collectingMaterials');
    app = await s.applications.submitMaterials(cm, id, COMPLETE);
    expect(app).toMatchObject({ status: 'confirmingProduct', incompleteSubmissions: 0, totalIncompleteSubmissions: 4 });
    await s.drain();
    expect(types(s, id)).toEqual([
      'dispatch.application.returned-for-materials',
      'dispatch.application.returned-for-materials',
      'dispatch.application.manual-intervention',
      'dispatch.application.returned-for-materials',
    ]);
    const first = s.events.find((e) => e.workflowId === id)!;
    expect(first.payload).toMatchObject({ by: 'materials-check', missingMaterials: ['property-certificate'] });
  });

  it('a manual intervention can reject the application for good', async () => {
    const s = setup();
    const id = await registered(s);
    for (let i = 0; i < 3; i++) await s.applications.submitMaterials(cm, id, INCOMPLETE);
    const app = await s.applications.resolveIntervention(supervisor, id, 'REJECT', 'materials never supplied');
    expect(app.status).toBe('rejected');
    expect(app.reviewDecisions.at(-1)).toMatchObject({ decision: 'INTERVENTION_REJECTED', role: 'review-supervisor' });
    await s.drain();
    expect(s.events.at(-1)).toMatchObject({
      type: 'dispatch.application.rejected',
      payload: { stage: 'manual-intervention' },
    });
  });

  it('confirms the product, or another one whose required materials are on file', async () => {
    const s = setup();
    const id = await registered(s);
    await s.applications.submitMaterials(cm, id, COMPLETE);
    const app = await s.applications.confirmProduct(cm, id, 'CREDIT');
    expect(app).toMatchObject({ status: 'productConfirmed', productCode: 'CREDIT', requiredMaterials: ['id-card'] });
    const submitted = await s.applications.submitForReview(cm, id);
    expect(submitted.status).toBe('inReview');
    await s.drain();
    expect(s.events.at(-1)).toMatchObject({
      type: 'dispatch.application.submitted',
      payload: { applicationId: id, productCode: 'CREDIT', amountFen: 30_000_000 },
    });
  });
});

describe('loan application: review (贷审)', () => {
  it('PASS requests dispatch', async () => {
    const s = setup();
    const id = await inReview(s);
    const app = await s.applications.pass(reviewer, id, 'income verified');
    expect(app).toMatchObject({ status: 'dispatching', dispatchRound: 1 });
    expect(app.reviewDecisions).toEqual([
      { actorId: 'rev-zhao', role: 'loan-reviewer', decision: 'PASS', reason: 'income verified', at: s.clock.now() },
    ]);
    await s.drain();
    expect(types(s, id)).toEqual([
      'dispatch.application.submitted',
      'dispatch.application.passed',
      'dispatch.application.dispatch-requested',
    ]);
  });

  it('ASK_MORE sends it back to collecting materials', async () => {
    const s = setup();
    const id = await inReview(s);
    const app = await s.applications.askForMore(reviewer, id, 'bank statements for 6 months');
    expect(app.status).toBe('collectingMaterials');
    await s.drain();
    expect(s.events.at(-1)).toMatchObject({
      type: 'dispatch.application.returned-for-materials',
      payload: { by: 'review' },
    });
  });

  it('a rejection upheld by the review supervisor is final', async () => {
    const s = setup();
    const id = await inReview(s);
    let app = await s.applications.reject(reviewer, id, 'debt ratio too high');
    expect(app).toMatchObject({ status: 'rejectionCheck', pendingRejection: { reason: 'debt ratio too high' } });
    app = await s.applications.upholdRejection(supervisor, id);
    expect(app.status).toBe('rejected');
    expect(app.reviewDecisions.map((d) => [d.decision, d.reason])).toEqual([
      ['REJECT', 'debt ratio too high'],
      ['REJECTION_UPHELD', 'debt ratio too high'],
    ]);
    expect((await s.runtime.get(id))?.status).toBe('done');
    await expectError(s.applications.pass(reviewer, id), 'EVENT_NOT_ACCEPTED');
    await s.drain();
    expect(s.events.at(-1)).toMatchObject({ type: 'dispatch.application.rejected', payload: { stage: 'review' } });
  });

  it('customer service may reject; an overturned rejection goes back to review (待审出方案)', async () => {
    const s = setup();
    const id = await inReview(s);
    await s.applications.reject(service, id, 'customer unreachable');
    let app = await s.applications.overturnRejection(supervisor, id, 'customer called back; make a new plan');
    expect(app).toMatchObject({ status: 'inReview', pendingRejection: null });
    expect(app.reviewDecisions.map((d) => [d.decision, d.role])).toEqual([
      ['REJECT', 'customer-service'],
      ['REJECTION_OVERTURNED', 'review-supervisor'],
    ]);
    app = await s.applications.pass(reviewer, id);
    expect(app.status).toBe('dispatching');
    await s.drain();
    expect(types(s, id)).not.toContain('dispatch.application.rejected');
  });
});

describe('loan application: dispatch and institution processing', () => {
  it('no institution accepted: back to review, and the next pass is a new dispatch round', async () => {
    const s = setup();
    const id = await inReview(s);
    await s.applications.pass(reviewer, id);
    let app = await s.applications.dispatchExhausted(admin, id);
    expect(app.status).toBe('inReview');
    app = await s.applications.pass(reviewer, id);
    expect(app).toMatchObject({ status: 'dispatching', dispatchRound: 2 });
  });

  it('face signing then disbursement moves it to settlement', async () => {
    const s = setup();
    const id = await withInstitution(s);
    let app = await s.applications.recordFaceSigning(instA, id);
    expect(app).toMatchObject({ status: 'institutionProcessing', stage: 'institutionProcessing.awaitingDisbursement' });
    app = await s.applications.recordDisbursement(instA, id, 29_000_000);
    expect(app).toMatchObject({
      status: 'settlement',
      stage: 'settlement.awaitingSettlement',
      disbursedFen: 29_000_000,
    });
  });

  it('disbursement needs the face signing first', async () => {
    const s = setup();
    const id = await withInstitution(s);
    const error = await expectError(s.applications.recordDisbursement(instA, id, 1_000), 'EVENT_NOT_ACCEPTED');
    expect(error.message).toContain('face-to-face signing');
  });

  it('processing failure returns it to dispatching without the failed institution', async () => {
    const s = setup();
    const id = await withInstitution(s);
    await s.applications.recordFaceSigning(instA, id);
    const app = await s.applications.recordProcessingFailure(instA, id, 'collateral valuation too low');
    expect(app).toMatchObject({
      status: 'dispatching',
      institutionId: null,
      failedInstitutions: ['inst-a'],
      faceSignedAt: null,
      dispatchRound: 2,
    });
    // The institution lost it: it can no longer act on it, nor see it.
    await expectError(s.applications.recordFaceSigning(instA, id), 'FORBIDDEN');
    expect(await s.applications.get(instA, id)).toBeNull();
    await s.drain();
    expect(s.events.at(-1)).toMatchObject({
      type: 'dispatch.application.dispatch-requested',
      payload: { dispatchRound: 2, excludedInstitutions: ['inst-a'] },
    });
    const again = await s.applications.dispatchSucceeded(followUp, id, 'inst-b');
    expect(again).toMatchObject({ status: 'institutionProcessing', institutionId: 'inst-b' });
  });

  it('a follow-up manager may record a processing failure too', async () => {
    const s = setup();
    const id = await withInstitution(s);
    const app = await s.applications.recordProcessingFailure(followUp, id, 'institution stopped answering');
    expect(app.status).toBe('dispatching');
  });

  it('dispatch steps commit writes alongside, or not at all', async () => {
    const s = setup();
    const id = await inReview(s);
    await s.applications.pass(reviewer, id);
    await expect(
      s.applications.dispatchSucceeded(followUp, id, 'inst-a', {
        alongside: async () => {
          throw new Error('position too low');
        },
      }),
    ).rejects.toThrow('position too low');
    expect((await s.applications.get(followUp, id))?.status).toBe('dispatching');
    const seen: string[] = [];
    await s.applications.dispatchSucceeded(followUp, id, 'inst-a', {
      alongside: async (_tx, app) => void seen.push(`${app.status}:${app.institutionId}`),
    });
    expect(seen).toEqual(['institutionProcessing:inst-a']);
  });
});

describe('loan application: settlement, ratings, close', () => {
  it('runs from the figures to closed, calling onSettled once in the payment transaction', async () => {
    const settledWith: LoanApplication[] = [];
    const s = setup({ onSettled: async (_tx, app) => void settledWith.push(app) });
    const id = await disbursed(s);
    let app = await s.applications.confirmSettlement(followUp, id, FIGURES);
    expect(app).toMatchObject({ stage: 'settlement.awaitingCustomer', settlement: FIGURES });
    app = await s.applications.confirmWithCustomer(cm, id);
    expect(app.stage).toBe('settlement.awaitingPayment');
    expect(settledWith).toEqual([]);
    app = await s.applications.confirmPayment(settler, id);
    expect(app.status).toBe('settled');
    expect(settledWith.map((a) => [a.status, a.institutionId])).toEqual([['settled', 'inst-a']]);
    app = await s.applications.rate(followUp, id, { side: 'platform', score: 5, comment: 'fast and clear' });
    expect(app.status).toBe('settled');
    await expectError(s.applications.rate(cm, id, { side: 'platform', score: 4, comment: '' }), 'DUPLICATE');
    app = await s.applications.rate(instA, id, { side: 'institution', score: 4, comment: 'good materials' });
    expect(app.status).toBe('rated');
    expect(app.ratings.map((r) => [r.side, r.score, r.actorId])).toEqual([
      ['platform', 5, 'fu-zhou'],
      ['institution', 4, 'a-staff'],
    ]);
    const stored = await s.persistence.transaction((tx) => ratingRecords.find(tx, { tags: { institution: 'inst-a' } }));
    expect(stored.map((r) => [r.record.from, r.record.score, r.record.applicationId])).toEqual([
      ['institution', 4, id],
      ['platform', 5, id],
    ]);
    app = await s.applications.close(admin, id);
    expect(app.status).toBe('closed');
    expect((await s.runtime.get(id))?.status).toBe('done');
    await s.drain();
    const settled = s.events.find((e) => e.workflowId === id && e.type === 'dispatch.application.settled');
    expect(settled?.payload).toEqual({
      type: 'dispatch.application.settled',
      applicationId: id,
      applicationNumber: app.applicationNumber,
      institutionId: 'inst-a',
      ...FIGURES,
    });
  });

  it('a failing onSettled rolls the payment confirmation back', async () => {
    const s = setup({
      onSettled: async () => {
        throw new Error('ledger unavailable');
      },
    });
    const id = await disbursed(s);
    await s.applications.confirmSettlement(followUp, id, FIGURES);
    await s.applications.confirmWithCustomer(cm, id);
    await expect(s.applications.confirmPayment(settler, id)).rejects.toThrow('ledger unavailable');
    expect((await s.applications.get(settler, id))?.stage).toBe('settlement.awaitingPayment');
  });

  it('a settlement that does not add up is refused and changes nothing', async () => {
    const s = setup();
    const id = await disbursed(s);
    const before = await s.runtime.get(id);
    const error = await expectError(
      s.applications.confirmSettlement(followUp, id, { ...FIGURES, commissionFen: FIGURES.commissionFen + 1 }),
      'INVALID_INPUT',
    );
    expect(error.message).toContain('must equal');
    await expectError(
      s.applications.confirmSettlement(followUp, id, { ...FIGURES, disbursedFen: 28_000_000 }),
      'INVALID_INPUT',
    );
    expect((await s.runtime.get(id))?.rowVersion).toBe(before?.rowVersion);
  });
});

describe('loan application: history, queries and personal data', () => {
  it('lists the transitions with actor and role, and keeps personal data out of records, events and history', async () => {
    const s = setup();
    const id = await disbursed(s);
    const history = await s.applications.history(followUp, id);
    expect(history.map((h) => [h.event, h.to])).toEqual([
      ['OPENED', 'registering'],
      ['CUSTOMER_REGISTERED', 'collectingMaterials'],
      ['SUBMIT_MATERIALS', 'confirmingProduct'],
      ['CONFIRM_PRODUCT', 'productConfirmed'],
      ['SUBMIT_FOR_REVIEW', 'inReview'],
      ['PASS', 'dispatching'],
      ['DISPATCH_SUCCEEDED', 'institutionProcessing.awaitingFaceSigning'],
      ['FACE_SIGNED', 'institutionProcessing.awaitingDisbursement'],
      ['DISBURSED', 'settlement.awaitingSettlement'],
    ]);
    expect(history[5]).toMatchObject({ actorId: 'rev-zhao', role: 'loan-reviewer', from: 'inReview' });
    await s.drain();
    expect(s.events.every(isApplicationEvent)).toBe(true);
    expectNoPersonalData(s.events);
    expectNoPersonalData(history);
    expectNoPersonalData(await s.applications.get(followUp, id));
    expectNoPersonalData(await s.runtime.get(id));
    const audit = await s.persistence.transaction((tx) => tx.audit.list(id));
    expectNoPersonalData(audit);
  });

  it('finds by status, customer manager and institution; an institution sees only its own', async () => {
    const s = setup();
    const a = await withInstitution(s);
    const b = await inReview(s);
    const c = await withInstitution(s);
    await s.applications.recordProcessingFailure(followUp, c, 'moved on');
    await s.applications.dispatchSucceeded(followUp, c, 'inst-b');
    const ids = (list: LoanApplication[]) => list.map((x) => x.applicationId).sort();
    expect(ids(await s.applications.find(followUp, { status: 'inReview' }))).toEqual([b]);
    expect(ids(await s.applications.find(followUp, { customerManagerId: 'cm-li' }))).toEqual([a, b, c].sort());
    expect(ids(await s.applications.find(followUp, { institutionId: 'inst-a' }))).toEqual([a]);
    expect(ids(await s.applications.find(instA))).toEqual([a]);
    expect(ids(await s.applications.find(instA, { institutionId: 'inst-b' }))).toEqual([]);
    expect(await s.applications.get(instA, b)).toBeNull();
    expect(await s.applications.history(instA, c)).toEqual([]);
    expect((await s.applications.get(instA, a))?.applicationId).toBe(a);
    // Staff with the institution role but no institution see nothing.
    expect(await s.applications.find({ id: 'x', roles: ['institution'] })).toEqual([]);
  });

  it('an offeredTo hook widens what an institution sees to the applications offered to it', async () => {
    let offered: string[] = [];
    const s = setup({ offeredTo: async (_tx, institutionId) => (institutionId === 'inst-b' ? offered : []) });
    const id = await inReview(s);
    await s.applications.pass(reviewer, id);
    expect(await s.applications.find({ id: 'b', roles: ['institution'], institutionId: 'inst-b' })).toEqual([]);
    offered = [id];
    const instB = { id: 'b', roles: ['institution'], institutionId: 'inst-b' };
    expect((await s.applications.find(instB)).map((x) => x.applicationId)).toEqual([id]);
    expect((await s.applications.get(instB, id))?.status).toBe('dispatching');
    expect(await s.applications.find(instB, { status: 'inReview' })).toEqual([]);
  });
});
