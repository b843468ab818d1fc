/**
 * Stored dispatch data built through core's own services — applications, dispatches with their offers, settlement —
 * on one runtime and a manual clock, so the report readers are tested against records as sealflow writes them.
 */
import {
  applicationWorkflows,
  createApplicationService,
  createOfferService,
  createRuntime,
  type DispatchActor,
  dispatchWorkflow,
  ledgerPositions,
  ledgerTopUp,
  type Persistence,
  registerInstitution,
  settlementRestoresPosition,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';

export const HOUR = 3_600_000;
export const cmLi: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
export const cmWang: DispatchActor = { id: 'cm-wang', roles: ['customer-manager'] };
const reviewer: DispatchActor = { id: 'rev-zhao', roles: ['loan-reviewer'] };
const supervisor: DispatchActor = { id: 'sup-sun', roles: ['review-supervisor'] };
const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
const settler: DispatchActor = { id: 'set-wu', roles: ['settler'] };
const staff = (institutionId: string): DispatchActor => ({
  id: `staff-${institutionId}`,
  roles: ['institution'],
  institutionId,
});

const CUSTOMER = { name: '王小明', idNumber: withIdNumberCheckChar('11010519491231002'), mobile: '13812345678' };

export const INSTITUTIONS = [
  { id: 'inst-a', name: '甲银行上海分行', creditCode: withCreditCodeCheckChar('91310000MA1FL8LQ2') },
  { id: 'inst-b', name: '乙小额贷款有限公司', creditCode: withCreditCodeCheckChar('91310000MA1FL8LR0') },
  { id: 'inst-c', name: '丙消费金融有限公司', creditCode: withCreditCodeCheckChar('91310000MA1FL8LT9') },
];

/** Core's services over `persistence`, with a ranking that offers `ranking.ids` in turn. */
export function dispatchServices(persistence: Persistence, start: number) {
  const clock = createManualClock(start);
  const ranking = { ids: [] as string[] };
  const runtime = createRuntime({
    persistence,
    clock,
    scheduler: clock,
    workflows: [
      ...applicationWorkflows(),
      dispatchWorkflow({
        positions: ledgerPositions(),
        rankCandidates: async (input) => ranking.ids.filter((id) => !input.excluded.includes(id)).slice(0, input.limit),
        notify: async () => {},
      }),
    ],
  });
  const applications = createApplicationService({
    runtime,
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element', verifiedAt: start }) },
    products: [
      { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card'] },
      { code: 'CREDIT', name: '信用贷', requiredMaterials: ['id-card'] },
    ],
    hashKey: 'a test secret of at least sixteen bytes',
    onSettled: settlementRestoresPosition(),
  });
  const offers = createOfferService({ runtime });
  const drain = async () => {
    for (let i = 0; i < 20; i++) {
      const pass = await runtime.runOnce();
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the worker did not settle in 20 passes');
  };
  return { clock, runtime, applications, offers, ranking, drain };
}

export type DispatchServices = ReturnType<typeof dispatchServices>;

export async function registerInstitutions(s: DispatchServices, persistence: Persistence) {
  await persistence.transaction(async (tx) => {
    for (const inst of INSTITUTIONS) {
      await registerInstitution(
        tx,
        { ...inst, regions: ['310000', '440300'], categories: ['mortgage', 'credit'], capacity: 100 },
        s.clock.now(),
      );
      const topUp = {
        institutionId: inst.id,
        account: 'deposit' as const,
        amountFen: 1_000_000_000,
        key: `top-up:${inst.id}`,
      };
      await ledgerTopUp(tx, topUp, s.clock.now());
    }
  });
}

/** Open an application (registered, materials complete); returns its id. */
export async function open(
  s: DispatchServices,
  manager: DispatchActor,
  fields: { number: string; product: 'HOUSE' | 'CREDIT'; amountFen: number; region: string },
) {
  const opened = await s.applications.open(manager, {
    applicationNumber: fields.number,
    customer: CUSTOMER,
    productCode: fields.product,
    amountFen: fields.amountFen,
    region: fields.region,
    businessCategory: fields.product === 'HOUSE' ? 'mortgage' : 'credit',
  });
  const id = opened.applicationId;
  await s.applications.registerCustomer(manager, id, CUSTOMER);
  await s.applications.submitMaterials(manager, id, [{ kind: 'id-card', documentId: 'doc-1', complete: true }]);
  await s.applications.confirmProduct(manager, id);
  await s.applications.submitForReview(manager, id);
  return id;
}

/** Rejected in review, the rejection upheld. */
export async function reject(s: DispatchServices, id: string) {
  await s.applications.reject(reviewer, id, 'income not proven');
  await s.applications.upholdRejection(supervisor, id);
}

/** Start dispatch `dispatchNo` of an application, offering `ids`; returns the dispatch id and its offer ids. */
export async function dispatch(s: DispatchServices, id: string, dispatchNo: number, ids: string[]) {
  const application = (await s.applications.get(followUp, id))!;
  if (dispatchNo === 1) await s.applications.pass(reviewer, id);
  s.ranking.ids = ids;
  const started = await s.offers.startDispatch(
    {
      applicationId: id,
      dispatchNo,
      amountFen: application.amountFen,
      region: application.region,
      category: application.businessCategory,
      excluded: application.failedInstitutions,
    },
    reviewer,
  );
  await s.drain();
  const view = await s.offers.get(started.dispatchId, followUp);
  const offerOf = (institutionId: string) => view.offers.find((o) => o.institutionId === institutionId)!.offerId;
  return { dispatchId: started.dispatchId, offerOf };
}

export const accept = (s: DispatchServices, offerId: string, institutionId: string) =>
  s.offers.accept(offerId, staff(institutionId));
export const decline = (s: DispatchServices, offerId: string, institutionId: string) =>
  s.offers.decline(offerId, 'outside our appetite', staff(institutionId));

/** The customer chooses `institutionId`; the application goes to it. */
export async function choose(
  s: DispatchServices,
  manager: DispatchActor,
  id: string,
  dispatchId: string,
  institutionId: string,
) {
  await s.offers.choose(dispatchId, institutionId, manager);
  await s.drain();
  await s.applications.dispatchSucceeded(followUp, id, institutionId);
}

/** Nobody accepted: the application goes back to review. */
export const exhausted = (s: DispatchServices, id: string) => s.applications.dispatchExhausted(followUp, id);

export async function disburse(s: DispatchServices, id: string, institutionId: string, amountFen: number) {
  await s.applications.recordFaceSigning(staff(institutionId), id);
  await s.applications.recordDisbursement(staff(institutionId), id, amountFen);
}

export async function failProcessing(s: DispatchServices, id: string, institutionId: string) {
  await s.applications.recordFaceSigning(staff(institutionId), id);
  await s.applications.recordProcessingFailure(staff(institutionId), id, 'customer withdrew at signing');
}

/** Settlement confirmed (figures, customer, payment): the application is settled. */
export async function settle(s: DispatchServices, manager: DispatchActor, id: string, disbursedFen: number) {
  await s.applications.confirmSettlement(followUp, id, {
    disbursedFen,
    institutionCommissionFen: 100_000,
    customerServiceFeeFen: 50_000,
    commissionFen: 150_000,
  });
  await s.applications.confirmWithCustomer(manager, id);
  await s.applications.confirmPayment(settler, id);
}
