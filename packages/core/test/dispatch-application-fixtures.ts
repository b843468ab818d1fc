import { expect } from 'vitest';
import { createRuntime, type DomainEvent } from '../src/index.js';
import { createManualClock, createMemoryPersistence } from '../src/memory/index.js';
import {
  applicationWorkflows,
  createApplicationService,
  type CustomerIdentity,
} from '../src/dispatch/application-service.js';
import type { DispatchActor } from '../src/dispatch/roles.js';
import type { IdentityVerifier } from '../src/ports/signing-vendor.js';
import { withIdNumberCheckChar } from '../src/model/values.js';
import type { LoanProduct } from '../src/dispatch/application.js';

export const CUSTOMER: CustomerIdentity = {
  name: '张三丰',
  idNumber: withIdNumberCheckChar('11010519491231002'),
  mobile: '13812345678',
};

export const cm: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
export const otherCm: DispatchActor = { id: 'cm-wang', roles: ['customer-manager'] };
export const reviewer: DispatchActor = { id: 'rev-zhao', roles: ['loan-reviewer'] };
export const service: DispatchActor = { id: 'cs-qian', roles: ['customer-service'] };
export const supervisor: DispatchActor = { id: 'sup-sun', roles: ['review-supervisor'] };
export const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
export const settler: DispatchActor = { id: 'set-wu', roles: ['settler'] };
export const admin: DispatchActor = { id: 'adm-zheng', roles: ['platform-admin'] };
export const instA: DispatchActor = { id: 'a-staff', roles: ['institution'], institutionId: 'inst-a' };
export const instB: DispatchActor = { id: 'b-staff', roles: ['institution'], institutionId: 'inst-b' };

export const PRODUCTS: LoanProduct[] = [
  { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'], maxAmountFen: 500_000_000 },
  { code: 'CREDIT', name: '信用贷', requiredMaterials: ['id-card'] },
];

export const COMPLETE = [
  { kind: 'id-card', documentId: 'doc-1', complete: true },
  { kind: 'property-certificate', documentId: 'doc-2', complete: true },
];
export const INCOMPLETE = [{ kind: 'id-card', documentId: 'doc-1', complete: true }];

/** A verifier that verifies everyone unless told otherwise, and counts its calls. */
export function stubVerifier(verified = true): IdentityVerifier & { calls: number; verified: boolean } {
  const verifier = {
    calls: 0,
    verified,
    async check() {
      verifier.calls++;
      return { verified: verifier.verified, method: 'three-element', verifiedAt: Date.UTC(2026, 0, 1) };
    },
  };
  return verifier;
}

/** The service on memory persistence with a manual clock; every domain event is collected. */
export function setup(
  options: {
    onSettled?: Parameters<typeof createApplicationService>[0]['onSettled'];
    offeredTo?: Parameters<typeof createApplicationService>[0]['offeredTo'];
  } = {},
) {
  const clock = createManualClock();
  const persistence = createMemoryPersistence();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: applicationWorkflows() });
  const events: DomainEvent[] = [];
  runtime.onEvent((event) => {
    events.push(event);
  });
  const identityVerifier = stubVerifier();
  const applications = createApplicationService({
    runtime,
    identityVerifier,
    products: PRODUCTS,
    hashKey: 'a test secret of at least sixteen bytes',
    ...options,
  });
  /** Deliver the emitted events (the runtime writes them to the outbox with the transition). */
  const drain = async () => {
    for (let i = 0; i < 10; i++) {
      const pass = await runtime.runOnce();
      if (Object.values(pass).every((n) => n === 0)) break;
    }
  };
  return { clock, persistence, runtime, applications, events, identityVerifier, drain };
}

export type Setup = ReturnType<typeof setup>;

let seq = 0;
/** Open an application and register its customer: it is then collecting materials. */
export async function registered(s: Setup, product = 'HOUSE', amountFen = 30_000_000) {
  const number = `SQ2026${String(++seq).padStart(6, '0')}`;
  const opened = await s.applications.open(cm, {
    applicationNumber: number,
    customer: CUSTOMER,
    productCode: product,
    amountFen,
    region: '310000',
    businessCategory: 'mortgage',
  });
  await s.applications.registerCustomer(cm, opened.applicationId, CUSTOMER);
  return opened.applicationId;
}

/** An application in review (materials complete, product confirmed, submitted). */
export async function inReview(s: Setup) {
  const id = await registered(s);
  await s.applications.submitMaterials(cm, id, COMPLETE);
  await s.applications.confirmProduct(cm, id);
  await s.applications.submitForReview(cm, id);
  return id;
}

/** An application dispatched to institution A. */
export async function withInstitution(s: Setup) {
  const id = await inReview(s);
  await s.applications.pass(reviewer, id);
  await s.applications.dispatchSucceeded(followUp, id, 'inst-a');
  return id;
}

/** An application disbursed (29 000 000 fen) by institution A, waiting for the settlement figures. */
export async function disbursed(s: Setup) {
  const id = await withInstitution(s);
  await s.applications.recordFaceSigning(instA, id);
  await s.applications.recordDisbursement(instA, id, 29_000_000);
  return id;
}

export const FIGURES = {
  disbursedFen: 29_000_000,
  institutionCommissionFen: 290_000,
  customerServiceFeeFen: 145_000,
  commissionFen: 435_000,
};

export { expectError } from './expect-error.js';

/** No personal data of the fixture customer anywhere in `value` (serialised). */
export function expectNoPersonalData(value: unknown) {
  const text = JSON.stringify(value);
  for (const secret of [CUSTOMER.name, CUSTOMER.idNumber, CUSTOMER.mobile, '张三']) expect(text).not.toContain(secret);
}
