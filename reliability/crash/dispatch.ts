/**
 * Dispatch in the crash suite's hosts: loan applications driven from intake through review, the runtime's offers
 * (24 h deadlines), acceptances (positions frozen), the customer's choice and the hand-over to the institution, to
 * settlement (the position restored). The dispatch runs in a second SDK instance of the same host process, on a
 * database of its own, whose clock the parent moves: it writes an offset to a file while no host is alive, so offer
 * deadlines and choice windows pass while hosts are dead and the next host's worker fires them. (Signing keeps real
 * time: the vendors check request and callback timestamps against their own clocks.)
 *
 * The driver is a function of what is stored, never of what a killed host was doing: each pass reads the
 * application and its dispatch and takes the next step, so a fresh host carries on where a killed one stopped.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  type Clock,
  createSealflow,
  DISPATCH_WORKFLOW,
  type DispatchActor,
  type Sealflow,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../../packages/core/src/index.js';
import { createMemoryNotifier, createMemorySigningVendor } from '../../packages/core/src/memory/index.js';
import { type CrashBackend, openPersistence } from './shared.js';

const HOUR = 3_600_000;
export const cm: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
const reviewer: DispatchActor = { id: 'rev-zhao', roles: ['loan-reviewer'] };
const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
const settler: DispatchActor = { id: 'set-wu', roles: ['settler'] };
const admin: DispatchActor = { id: 'adm-zheng', roles: ['platform-admin'] };
const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});

/** Enough institutions that an application offered to nine a round still finds fresh ones after a few rounds. */
export const CRASH_INSTITUTIONS = Array.from({ length: 40 }, (_, i) => ({
  id: `inst-${String(i).padStart(2, '0')}`,
  name: `第${i}小贷公司`,
  creditCode: withCreditCodeCheckChar(`91310000MA2${String(i).padStart(6, '0')}`),
}));
const AMOUNT_FEN = 30_000_000;
const FIGURES = {
  disbursedFen: 29_000_000,
  institutionCommissionFen: 290_000,
  customerServiceFeeFen: 145_000,
  commissionFen: 435_000,
};
const PRODUCTS = [
  { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'], maxAmountFen: 500_000_000 },
];
const MATERIALS = [
  { kind: 'id-card', documentId: 'doc-1', complete: true },
  { kind: 'property-certificate', documentId: 'doc-2', complete: true },
];

export const applicationNumberOf = (n: number) => `CRASH-APP-${String(n).padStart(5, '0')}`;
export const applicationIdOf = (n: number) => `app:${applicationNumberOf(n)}`;

function customerOf(n: number) {
  return {
    name: '欧阳娜娜',
    idNumber: withIdNumberCheckChar(
      `3101011990${String(1 + (n % 12)).padStart(2, '0')}01${String(n % 1000).padStart(3, '0')}`,
    ),
    mobile: `137${String(n).padStart(8, '0')}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The clock the parent moves

/** Writes how far the dispatch clock runs ahead of real time; only ever forward, and only while no host is alive. */
export function writeClockOffset(file: string, offsetMs: number): void {
  writeFileSync(file, JSON.stringify({ offsetMs }));
}

/** Real time plus the offset the parent wrote before this host started (it does not move while the host lives). */
export function offsetClock(file: string): Clock {
  const { offsetMs } = JSON.parse(readFileSync(file, 'utf8')) as { offsetMs: number };
  return { now: () => Date.now() + offsetMs };
}

/** A day and an hour: past every open offer's 24 h deadline and every dispatch window. */
export const CLOCK_JUMP_MS = 25 * HOUR;

// ---------------------------------------------------------------------------------------------------------------
// The instance

export async function openDispatchHost(backend: CrashBackend, clockFile: string, start: boolean): Promise<Sealflow> {
  const clock = offsetClock(clockFile);
  return createSealflow({
    persistence: await openPersistence(backend),
    // Dispatch signs nothing here (choices carry no contract terms); the instance still needs a vendor.
    vendors: { memory: createMemorySigningVendor({ clock }) },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: 'reliability-crash-dispatch-hash-key-0123',
    clock,
    logger: silentLogger,
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier: createMemoryNotifier() },
    runtimeOptions: { leaseMs: 2_000, retry: { baseDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 30 } },
    worker: { concurrency: 4, pollMs: 20 },
    start,
  });
}

/** Registers the institutions, each serving the applications' region and category, with a deposit to freeze from. */
export async function setUpDispatch(sealflow: Sealflow): Promise<void> {
  const dispatch = sealflow.dispatch!;
  for (const institution of CRASH_INSTITUTIONS) {
    await dispatch.institutions.register(admin, {
      ...institution,
      regions: ['310000'],
      categories: ['mortgage'],
      capacity: 100_000,
    });
    await dispatch.institutions.topUp(admin, {
      institutionId: institution.id,
      account: 'deposit',
      amountFen: 1_000_000_000_000,
      key: `seed:${institution.id}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The driver

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The next step for application n, from what is stored; false once it is settled. Every third application's first
 * round goes unanswered until the clock is moved past its offers' deadlines (in the last host, which moves no clock,
 * it is answered); the others decline the first offer when n is even and accept one, and the customer chooses the
 * accepted institution at once.
 */
export async function stepApplication(sealflow: Sealflow, n: number, last: boolean): Promise<boolean> {
  const dispatch = sealflow.dispatch!;
  const applications = dispatch.applications;
  const id = applicationIdOf(n);
  const application = await applications.get(cm, id);
  if (!application) {
    const customer = customerOf(n);
    await applications
      .open(cm, {
        applicationNumber: applicationNumberOf(n),
        customer,
        productCode: 'HOUSE',
        amountFen: AMOUNT_FEN,
        region: '310000',
        businessCategory: 'mortgage',
      })
      .catch((error: { code?: string }) => {
        if (error.code !== 'DUPLICATE') throw error;
      });
    return true;
  }
  const bank = application.institutionId ? staffOf(application.institutionId) : null;
  switch (application.stage) {
    case 'registering':
      await applications.registerCustomer(cm, id, customerOf(n));
      return true;
    case 'collectingMaterials':
      await applications.submitMaterials(cm, id, MATERIALS);
      return true;
    case 'confirmingProduct':
      await applications.confirmProduct(cm, id);
      return true;
    case 'productConfirmed':
      await applications.submitForReview(cm, id);
      return true;
    case 'inReview':
      await applications.pass(reviewer, id);
      return true;
    case 'dispatching': {
      const dispatchId = `dispatch:${id}:${application.dispatchRound}`;
      const view = await dispatch.offers.get(dispatchId, followUp).catch(() => null);
      // Not started yet, or ended and its outcome not yet handed to the application: the workers' part.
      if (view?.state !== 'offering') return true;
      if (n % 3 === 0 && application.dispatchRound === 1 && !last) return true;
      const accepted = view.offers.find((o) => o.status === 'accepted');
      if (accepted) {
        await dispatch.offers.choose(dispatchId, accepted.institutionId, cm);
        return true;
      }
      const open = view.offers.filter((o) => o.status === 'open').sort((a, b) => a.seq - b.seq);
      const first = open[0];
      if (!first) return true;
      if (n % 2 === 0 && first.seq === 1) {
        await dispatch.offers.decline(first.offerId, '额度已满', staffOf(first.institutionId));
      } else {
        await dispatch.offers.accept(first.offerId, staffOf(first.institutionId));
      }
      return true;
    }
    case 'institutionProcessing.awaitingFaceSigning':
      await applications.recordFaceSigning(bank!, id);
      return true;
    case 'institutionProcessing.awaitingDisbursement':
      await applications.recordDisbursement(bank!, id, FIGURES.disbursedFen);
      return true;
    case 'settlement.awaitingSettlement':
      await applications.confirmSettlement(followUp, id, FIGURES);
      return true;
    case 'settlement.awaitingCustomer':
      await applications.confirmWithCustomer(cm, id);
      return true;
    case 'settlement.awaitingPayment':
      await applications.confirmPayment(settler, id);
      return true;
    case 'settled':
      return false;
    default:
      throw new Error(`application ${n} is at ${application.stage}, which the driver does not expect`);
  }
}

/**
 * Drives the applications, `lanes` at a time, until every one is settled (or `until` passes). A refused step (a
 * conflict with the workers, an offer that expired meanwhile) is read again and retried; the last error of an
 * application that never settled is returned with it.
 */
export async function driveApplications(
  sealflow: Sealflow,
  numbers: readonly number[],
  options: { last: boolean; lanes: number; until: number },
): Promise<Map<number, string>> {
  const stuck = new Map<number, string>();
  const queue = [...numbers];
  const lane = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      let lastError = '';
      for (;;) {
        if (Date.now() > options.until) {
          stuck.set(n, lastError || 'not settled in time');
          break;
        }
        try {
          if (!(await stepApplication(sealflow, n, options.last))) break;
          await sleep(20);
        } catch (error) {
          lastError = `${(error as { code?: string }).code ?? ''} ${(error as Error).message}`.slice(0, 300);
          await sleep(200);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.lanes }, lane));
  return stuck;
}

// ---------------------------------------------------------------------------------------------------------------
// The check

/** What the last host found about dispatch, from the dispatch database. */
export interface DispatchCheck {
  applications: number;
  settled: number;
  dispatches: number;
  rounds: Record<string, number>;
  offers: Record<string, number>;
  freezes: number;
  deadlinesFired: number;
  workflows: number;
  findings: string[];
}

export async function checkDispatch(sealflow: Sealflow, numbers: readonly number[]): Promise<DispatchCheck> {
  const dispatch = sealflow.dispatch!;
  const findings: string[] = [];
  const offersByStatus: Record<string, number> = {};
  const rounds: Record<string, number> = {};
  let settled = 0;
  let dispatches = 0;
  let deadlinesFired = 0;
  // Every movement of every institution, by idempotency key.
  const movements = new Map<string, { institutionId: string; type: string; applicationId: string | null }[]>();
  const movementsOf = new Map<string, { institutionId: string; type: string; amountFen: number; seq: number }[]>();
  for (const institution of CRASH_INSTITUTIONS) {
    const verification = await dispatch.institutions.verify(admin, institution.id);
    if (!verification.ok)
      findings.push(`${institution.id}'s ledger does not verify: ${verification.problems.join(' ')}`);
    for (let afterSeq = 0; ; ) {
      const page = await dispatch.institutions.movements(admin, institution.id, { afterSeq, limit: 1000 });
      for (const m of page.movements) {
        movements.set(m.key, [...(movements.get(m.key) ?? []), m]);
        if (m.applicationId) {
          const key = `${m.institutionId} ${m.applicationId}`;
          movementsOf.set(key, [...(movementsOf.get(key) ?? []), m]);
        }
      }
      if (page.nextAfterSeq === null) break;
      afterSeq = page.nextAfterSeq;
    }
  }
  for (const [key, list] of movements)
    if (list.length > 1) findings.push(`ledger key ${key} used ${list.length} times`);
  // A position is frozen once per acceptance: the frozen amount for one application never exceeds its amount.
  for (const [key, list] of movementsOf) {
    let frozen = 0;
    for (const m of list.sort((a, b) => a.seq - b.seq)) {
      frozen +=
        m.type === 'freeze' ? m.amountFen : ['release', 'restore', 'consume'].includes(m.type) ? -m.amountFen : 0;
      if (frozen > AMOUNT_FEN) findings.push(`${key}: frozen twice (${frozen} fen held after movement ${m.seq})`);
    }
  }
  let freezes = 0;
  for (const n of numbers) {
    const id = applicationIdOf(n);
    const application = await dispatch.applications.get(cm, id);
    if (!application) {
      findings.push(`application ${n} lost: no record although it was handed out`);
      continue;
    }
    if (application.status === 'settled') settled++;
    else findings.push(`application ${n} did not converge: ${application.stage}`);
    rounds[application.dispatchRound] = (rounds[application.dispatchRound] ?? 0) + 1;
    for (let round = 1; round <= application.dispatchRound; round++) {
      const dispatchId = `dispatch:${id}:${round}`;
      const view = await dispatch.offers.get(dispatchId, followUp).catch(() => null);
      if (!view) {
        findings.push(`${dispatchId} was never started`);
        continue;
      }
      dispatches++;
      if (!view.finished) findings.push(`${dispatchId} did not end: ${view.state}`);
      const last = round === application.dispatchRound;
      if (last && application.status === 'settled') {
        if (view.outcome !== 'CHOSEN' || view.chosenInstitutionId !== application.institutionId) {
          findings.push(
            `${dispatchId}: ${view.outcome} for ${view.chosenInstitutionId}, application with ${application.institutionId}`,
          );
        }
      } else if (view.outcome === 'CHOSEN') {
        findings.push(`${dispatchId} CHOSEN, but the application went on to round ${application.dispatchRound}`);
      }
      // Each deadline timer fired at most once, and every offer that expired did so by its own deadline, once.
      const entries = await sealflow.persistence.transaction((tx) => tx.audit.list(dispatchId, { limit: 10_000 }));
      const fired = new Map<string, number>();
      for (const entry of entries) {
        const event = (entry.data as { event?: { type?: string; offerId?: string } } | null)?.event;
        if (entry.type !== 'workflow.transition' || !event?.type?.endsWith('_DEADLINE')) continue;
        const key = `${event.type} ${event.offerId ?? ''}`;
        fired.set(key, (fired.get(key) ?? 0) + 1);
      }
      for (const [key, count] of fired) {
        deadlinesFired++;
        if (count > 1) findings.push(`${dispatchId}: ${key} fired ${count} times`);
      }
      for (const offer of view.offers) {
        offersByStatus[offer.status] = (offersByStatus[offer.status] ?? 0) + 1;
        const wasAccepted = ['accepted', 'chosen', 'released'].includes(offer.status);
        const frozen = movements.get(`${offer.offerId}:freeze`)?.length ?? 0;
        freezes += frozen;
        if (wasAccepted && frozen !== 1)
          findings.push(`${offer.offerId} accepted, its position frozen ${frozen} times`);
        if (!wasAccepted && frozen !== 0) findings.push(`${offer.offerId} ${offer.status}, yet a position was frozen`);
        if (offer.status === 'expired' && fired.get(`OFFER_DEADLINE ${offer.offerId}`) !== 1) {
          const byWindow = [...fired.keys()].some((k) => !k.startsWith('OFFER_'));
          if (!byWindow) findings.push(`${offer.offerId} expired without its deadline firing once`);
        }
      }
    }
    if (application.status === 'settled') {
      const restored = movements.get(`settlement:${id}`)?.length ?? 0;
      if (restored !== 1) findings.push(`application ${n} settled, its position restored ${restored} times`);
    }
  }
  for (const institution of CRASH_INSTITUTIONS) {
    const { holds } = await dispatch.institutions.balances(admin, institution.id);
    for (const [applicationId, fen] of Object.entries(holds)) {
      findings.push(`${institution.id} still holds ${fen} fen for ${applicationId}`);
    }
  }
  const all = await sealflow.runtime.list({ limit: 1_000_000 });
  for (const workflow of all) {
    const audit = await sealflow.runtime.verifyAudit(workflow.id);
    if (!audit.ok) {
      findings.push(
        `dispatch database: audit chain of ${workflow.id} does not verify: ${JSON.stringify(audit).slice(0, 400)}`,
      );
    }
  }
  const finished = new Set(all.filter((w) => w.status !== 'active').map((w) => w.id));
  const timers = await sealflow.persistence.transaction((tx) => tx.timers.list({ limit: 1_000_000 }));
  for (const t of timers) if (finished.has(t.workflowId)) findings.push(`timer left on ${t.workflowId}/${t.timerId}`);
  for (const d of await sealflow.runtime.deadLetters.list({ limit: 1_000 })) {
    findings.push(`dead effect ${d.workflowId}: ${d.kind}`);
  }
  const dispatchWorkflows = all.filter((w) => w.type === DISPATCH_WORKFLOW).length;
  if (dispatchWorkflows !== dispatches) findings.push(`${dispatchWorkflows} dispatch workflows, ${dispatches} reached`);
  return {
    applications: numbers.length,
    settled,
    dispatches,
    rounds,
    offers: offersByStatus,
    freezes,
    deadlinesFired,
    workflows: all.length,
    findings,
  };
}
