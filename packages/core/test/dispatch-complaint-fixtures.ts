import { expect } from 'vitest';
import { complaintWorkflow } from '../src/dispatch/complaint-workflow.js';
import { getInstitution, registerInstitution } from '../src/dispatch/institution.js';
import type { ComplaintIntake } from '../src/dispatch/complaint.js';
import { createComplaintService } from '../src/dispatch/complaint-service.js';
import type { DispatchActor } from '../src/dispatch/roles.js';
import { SealflowError } from '../src/errors.js';
import { createManualClock, createMemoryNotifier, createMemoryPersistence } from '../src/memory/index.js';
import type { Persistence } from '../src/ports/persistence.js';
import { createRuntime, type DomainEvent } from '../src/runtime/runtime.js';
import { institutionInput } from './dispatch-ledger-scenarios.js';

export const DAY = 24 * 60 * 60 * 1000;

/** The people of the complaint tests. */
export const cs: DispatchActor = { id: 'cs-lin', roles: ['customer-service'] };
export const supervisor: DispatchActor = { id: 'sup-wang', roles: ['review-supervisor'] };
export const director: DispatchActor = { id: 'dir-chen', roles: ['review-supervisor'] };
export const followUp: DispatchActor = { id: 'fu-zhao', roles: ['follow-up-manager'] };
export const teamLeader: DispatchActor = { id: 'tl-he', roles: ['customer-team-leader'] };
export const staffA: DispatchActor = { id: 'a-staff', roles: ['institution'], institutionId: 'inst-a' };
export const staffB: DispatchActor = { id: 'b-staff', roles: ['institution'], institutionId: 'inst-b' };

/** Personal data the intake carries, which must never leave the complaint record unmasked. */
export const PERSONAL = { name: '王小明', mobile: '13812345678', idNumber: '110101199003071234' };
export const LEAKS = /王小明|13812345678|110101199003071234/;

export function intake(complaintNo: string, overrides: Partial<ComplaintIntake> = {}): ComplaintIntake {
  return {
    complaintNo,
    subject: '放款后被多收服务费',
    content: `客户${PERSONAL.name}（手机${PERSONAL.mobile}，身份证${PERSONAL.idNumber}）反映机构多收了服务费。`,
    contact: { name: PERSONAL.name, mobile: PERSONAL.mobile },
    customerId: 'cust-001',
    applicationId: 'APP-001',
    institutionId: 'inst-a',
    ...overrides,
  };
}

/**
 * A runtime with the complaint workflow, a manual clock, the memory notifier and every domain event collected; the
 * institutions complaints are about (`inst-a`, `inst-b`) are registered, as a confirmed penalty is recorded on them.
 */
export async function complaintSetup(options: { persistence?: Persistence; reportWithinMs?: number } = {}) {
  const clock = createManualClock();
  const persistence = options.persistence ?? createMemoryPersistence();
  await persistence.transaction(async (tx) => {
    for (const id of ['inst-a', 'inst-b']) await registerInstitution(tx, institutionInput(id), clock.now());
  });
  /** The stored institution, as ranking and statistics read it. */
  const institution = (id: string) => persistence.transaction(async (tx) => (await getInstitution(tx, id)).record);
  const notifier = createMemoryNotifier();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: [complaintWorkflow({ notifier })] });
  const service = createComplaintService({ runtime, reportWithinMs: options.reportWithinMs ?? 3 * DAY });
  const events: DomainEvent[] = [];
  runtime.onEvent((event) => void events.push(event));
  /** Run timers, effects and event deliveries until nothing is left. */
  const drain = async () => {
    for (let i = 0; i < 20; i++) {
      const pass = await runtime.runOnce();
      if (
        pass.timersFired + pass.effectsSucceeded + pass.effectsFailed + pass.effectsRetried + pass.eventsDelivered ===
        0
      )
        return;
    }
  };
  const payloads = (type: string) => events.filter((e) => e.type === type).map((e) => e.payload);
  return { clock, persistence, notifier, runtime, service, events, drain, payloads, institution };
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected an error with code ${code}`).toBeInstanceOf(SealflowError);
  expect((error as SealflowError).code).toBe(code);
  expect(JSON.stringify((error as SealflowError).toJSON())).not.toMatch(LEAKS);
  expect((error as SealflowError).message).not.toMatch(LEAKS);
  return error as SealflowError;
}
