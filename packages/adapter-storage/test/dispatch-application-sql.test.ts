import {
  applicationWorkflows,
  createApplicationService,
  createRuntime,
  type DispatchActor,
  type DomainEvent,
  type Persistence,
} from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceBackends } from './support/postgres.js';

/**
 * Loan applications on real SQL: the record commits with the workflow, and the races the rules must win — many
 * reviewers deciding one application, many customer managers opening one application number, many settlers
 * confirming one payment — hold with concurrent transactions.
 */
const cm: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
const staffA: DispatchActor = { id: 'a-staff', roles: ['institution'], institutionId: 'inst-a' };
const CUSTOMER = { name: '张三丰', idNumber: '11010519491231002X', mobile: '13812345678' };

const backends = await persistenceBackends('applications');

let persistence: Persistence;

function setup(onSettled?: () => void) {
  const clock = createManualClock();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: applicationWorkflows() });
  const events: DomainEvent[] = [];
  runtime.onEvent((event) => void events.push(event));
  const service = createApplicationService({
    runtime,
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    products: [{ code: 'CREDIT', name: '信用贷', requiredMaterials: ['id-card'] }],
    hashKey: 'a test secret of at least sixteen bytes',
    ...(onSettled ? { onSettled: async () => onSettled() } : {}),
  });
  return { runtime, service, events };
}

async function inReview(s: ReturnType<typeof setup>, applicationNumber: string) {
  const opened = await s.service.open(cm, {
    applicationNumber,
    customer: CUSTOMER,
    productCode: 'CREDIT',
    amountFen: 5_000_000,
    region: '310000',
    businessCategory: 'consumer',
  });
  const id = opened.applicationId;
  await s.service.registerCustomer(cm, id, CUSTOMER);
  await s.service.submitMaterials(cm, id, [{ kind: 'id-card', documentId: 'doc-1', complete: true }]);
  await s.service.confirmProduct(cm, id);
  await s.service.submitForReview(cm, id);
  return id;
}

const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === 'rejected' ? (result.reason as { code?: string }).code : 'ok';

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`loan applications on ${backend.name}`, () => {
    beforeAll(async () => {
      persistence = await backend.open();
    });
    afterAll(async () => {
      await persistence.close();
      await backend.cleanup();
    });

    it('of many reviewers deciding at once exactly one decision is taken', async () => {
      const s = setup();
      const id = await inReview(s, `SQL-${backend.name}-R`);
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) => {
          const reviewer = { id: `rev-${i}`, roles: ['loan-reviewer'] };
          return i % 2 === 0 ? s.service.pass(reviewer, id) : s.service.reject(reviewer, id, 'debt ratio too high');
        }),
      );
      expect(results.map(codeOf).filter((c) => c === 'ok')).toHaveLength(1);
      expect(
        results
          .map(codeOf)
          .filter((c) => c !== 'ok')
          .every((c) => c === 'EVENT_NOT_ACCEPTED'),
      ).toBe(true);
      const app = await s.service.get(followUp, id);
      expect(app?.reviewDecisions).toHaveLength(1);
      expect(['dispatching', 'rejectionCheck']).toContain(app?.status);
    });

    it('many customer managers opening one application number: one application, the others DUPLICATE', async () => {
      const s = setup();
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          s.service.open(
            { id: `cm-${i}`, roles: ['customer-manager'] },
            {
              applicationNumber: `SQL-${backend.name}-DUP`,
              customer: CUSTOMER,
              productCode: 'CREDIT',
              amountFen: 1_000_000,
              region: '310000',
              businessCategory: 'consumer',
            },
          ),
        ),
      );
      expect(results.map(codeOf).filter((c) => c === 'ok')).toHaveLength(1);
      expect(
        results
          .map(codeOf)
          .filter((c) => c !== 'ok')
          .every((c) => c === 'DUPLICATE'),
      ).toBe(true);
      const found = await s.service.find(followUp, { status: 'registering', limit: 500 });
      expect(found.filter((a) => a.applicationNumber === `SQL-${backend.name}-DUP`)).toHaveLength(1);
    });

    it('many settlers confirming one payment: settled once, onSettled once, one settled event', async () => {
      let settledCalls = 0;
      const s = setup(() => void settledCalls++);
      const id = await inReview(s, `SQL-${backend.name}-S`);
      await s.service.pass({ id: 'rev', roles: ['loan-reviewer'] }, id);
      await s.service.dispatchSucceeded(followUp, id, 'inst-a');
      await s.service.recordFaceSigning(staffA, id);
      await s.service.recordDisbursement(staffA, id, 5_000_000);
      await s.service.confirmSettlement(followUp, id, {
        disbursedFen: 5_000_000,
        institutionCommissionFen: 50_000,
        customerServiceFeeFen: 25_000,
        commissionFen: 75_000,
      });
      await s.service.confirmWithCustomer(cm, id);
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => s.service.confirmPayment({ id: `set-${i}`, roles: ['settler'] }, id)),
      );
      expect(results.map(codeOf).filter((c) => c === 'ok')).toHaveLength(1);
      expect(settledCalls).toBe(1);
      for (let i = 0; i < 10; i++) if ((await s.runtime.runOnce()).eventsDelivered === 0) break;
      expect(s.events.filter((e) => e.workflowId === id && e.type === 'dispatch.application.settled')).toHaveLength(1);
      expect((await s.service.get(followUp, id))?.status).toBe('settled');
    });
  });
}
