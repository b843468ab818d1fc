/**
 * Chapter 3b — dispatch (系统派发): the passed application is offered to the three best-ranked institutions. One
 * declines and its place goes to the next; two accept, each freezing part of its position (头寸); the fourth lets its
 * 24-hour offer run out on the simulated clock. The customer chooses one institution with the loan terms; the other
 * acceptance is released, and the application moves to the chosen institution with its loan contract started.
 */
import type { LoanApplication } from '@sealflow/core';
import { INSTITUTIONS, STAFF, staffOf } from './cast.js';
import { CREDIT_LIMIT } from './credit.js';
import { addMonths, type Chapter, chinaTime, today, waitUntil, yuan } from './narration.js';

export interface DispatchOutcome {
  dispatchId: string;
  /** Institution ids in the order they were offered. */
  offered: string[];
  accepted: string[];
  declined: string;
  expired: string;
  chosen: string;
  /** Institution → fen frozen for the application, after both acceptances and after the choice. */
  holdsAfterAcceptance: Record<string, number>;
  holdsAfterChoice: Record<string, number>;
  /** The application with the chosen institution, its loan contract started. */
  application: LoanApplication;
}

const HOUR = 3_600_000;
const { customerManager: cm, followUp, admin } = STAFF;
/** The customer's pick: the bank, which also seals the loan contract. */
export const CHOSEN_FUNDER = INSTITUTIONS[0];

export async function dispatchToFunders(
  { qs, log }: Chapter,
  passed: LoanApplication,
  loanTemplateVersion: string,
): Promise<DispatchOutcome> {
  const { offers, institutions, applications } = qs.sealflow.dispatch;
  const dispatchId = `dispatch:${passed.applicationId}:${passed.dispatchRound}`;
  const firstRound = await waitUntil('the first three offers', async () => {
    const view = await offers.get(dispatchId, followUp).catch(() => undefined);
    return view && view.offers.length === 3 ? view : undefined;
  });
  for (const offer of firstRound.offers) {
    log(`   offer ${offer.seq} → ${offer.institutionId.padEnd(12)} answer by ${chinaTime(offer.deadline)}`);
  }
  const initial = firstRound.offers.map((o) => o.institutionId);
  if (!initial.includes(CHOSEN_FUNDER.id)) throw new Error(`${CHOSEN_FUNDER.id} was not among the first offers.`);
  const [otherAccepting, declining] = initial.filter((id) => id !== CHOSEN_FUNDER.id) as [string, string];

  // Each institution's staff see only their own offers.
  const answer = async (institutionId: string, decline?: string) => {
    const staff = staffOf(institutionId);
    const [offer] = await offers.offersFor(staff, { status: 'open' });
    if (!offer) throw new Error(`${institutionId} has no open offer.`);
    if (decline) await offers.decline(offer.offerId, decline, staff);
    else await offers.accept(offer.offerId, staff);
    log(`   ${institutionId.padEnd(12)} ${decline ? `declines: ${decline}` : 'accepts'}`);
  };
  await answer(CHOSEN_FUNDER.id);
  await answer(otherAccepting);
  await answer(declining, '本月放款额度已满');

  const holds = async () => {
    const all: Record<string, number> = {};
    for (const { id } of INSTITUTIONS) {
      const fen = (await institutions.balances(admin, id)).holds[passed.applicationId];
      if (fen) all[id] = fen;
    }
    return all;
  };
  const holdsAfterAcceptance = await holds();
  for (const [id, fen] of Object.entries(holdsAfterAcceptance)) log(`   position frozen: ${id} ${yuan(fen)} yuan`);

  // The declined place goes to the next candidate, who never answers.
  const topUp = await waitUntil('the fourth offer', async () => {
    const view = await offers.get(dispatchId, followUp);
    return view.offers.find((o) => o.seq === 4);
  });
  log(
    `   offer 4 → ${topUp.institutionId.padEnd(12)} answer by ${chinaTime(topUp.deadline)} (the declined place; the dispatch window closes then too)`,
  );
  qs.clock.advance(24 * HOUR + 60_000);
  log(`   … the simulated clock moves 24 hours to ${chinaTime(qs.clock.now())}`);
  await waitUntil('the fourth offer to expire', async () => {
    const view = await offers.get(dispatchId, followUp);
    return view.offers.find((o) => o.seq === 4 && o.status === 'expired');
  });
  log(`   ${topUp.institutionId.padEnd(12)} did not answer: its offer expired`);

  // The customer picks the bank; the customer manager records the choice with the terms the customer agreed to.
  const startDate = today(qs);
  await offers.choose(dispatchId, CHOSEN_FUNDER.id, cm, {
    consent: {
      at: qs.clock.now(),
      channel: 'app',
      ip: '203.0.113.24',
      device: 'iPhone15,2 iOS 18.1 / app 6.3.0',
      documentVersionsShown: [loanTemplateVersion],
    },
    values: {
      customer: { address: '浙江省杭州市西湖区文三路477号华星科技大厦9楼' },
      credit: { limit: CREDIT_LIMIT },
      loan: {
        purpose: '个人消费（装修）',
        term: '12个月',
        annualRate: '14.40%（单利）',
        startDate,
        endDate: addMonths(startDate, 12),
        repayMethod: '等额本息，按月还款',
        signPlace: '浙江省杭州市西湖区',
      },
    },
  });
  log(`   customer ${passed.customer.maskedName} chose ${CHOSEN_FUNDER.id} (${CHOSEN_FUNDER.name})`);
  const application = await waitUntil('the application at the chosen institution', async () => {
    const current = await applications.get(cm, passed.applicationId);
    return current?.loanContract?.recordId || current?.loanContract?.error ? current : undefined;
  });
  if (application.loanContract?.error) {
    throw new Error(`The loan contract was refused: ${application.loanContract.error.message}`);
  }
  const holdsAfterChoice = await holds();
  log(`   ${otherAccepting} released (not chosen); still frozen: ${Object.keys(holdsAfterChoice).join(', ')}`);
  log(`   application ${application.stage}, loan contract ${application.loanContract?.businessNo} started`);
  return {
    dispatchId,
    offered: [...initial, topUp.institutionId],
    accepted: [CHOSEN_FUNDER.id, otherAccepting],
    declined: declining,
    expired: topUp.institutionId,
    chosen: CHOSEN_FUNDER.id,
    holdsAfterAcceptance,
    holdsAfterChoice,
    application,
  };
}
