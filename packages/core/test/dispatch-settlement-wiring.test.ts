import { describe, expect, it } from 'vitest';
import {
  getInstitution,
  ledgerBalances,
  ledgerFreeze,
  ledgerTopUp,
  registerInstitution,
  settlementRestoresPosition,
  verifyLedger,
} from '../src/index.js';
import { cm, disbursed, expectError, FIGURES, followUp, settler, setup } from './dispatch-application-fixtures.js';
import { institutionInput } from './dispatch-ledger-scenarios.js';

/** An application disbursed by institution A, whose position holds `held` fen frozen for it. */
async function settledReady(held: number) {
  const s = setup({ onSettled: settlementRestoresPosition() });
  await s.persistence.transaction(async (tx) => {
    await registerInstitution(tx, institutionInput('inst-a'), 1);
    await ledgerTopUp(tx, { institutionId: 'inst-a', account: 'deposit', amountFen: 50_000_000, key: 'top-up-1' }, 2);
  });
  const id = await disbursed(s);
  if (held > 0) {
    await s.persistence.transaction((tx) =>
      ledgerFreeze(tx, { institutionId: 'inst-a', applicationId: id, amountFen: held, key: `accept:${id}` }, 3),
    );
  }
  await s.applications.confirmSettlement(followUp, id, FIGURES);
  await s.applications.confirmWithCustomer(cm, id);
  return { s, id };
}

describe('settlementRestoresPosition', () => {
  it('restores the frozen position and counts the success and amount in the payment transaction', async () => {
    const { s, id } = await settledReady(30_000_000);
    const before = await s.persistence.transaction((tx) => ledgerBalances(tx, 'inst-a'));
    expect(before).toMatchObject({ deposit: 20_000_000, frozen: 30_000_000 });

    const app = await s.applications.confirmPayment(settler, id);
    expect(app.status).toBe('settled');
    await s.persistence.transaction(async (tx) => {
      expect(await ledgerBalances(tx, 'inst-a')).toMatchObject({ deposit: 50_000_000, frozen: 0, holds: {} });
      expect((await verifyLedger(tx, 'inst-a')).problems).toEqual([]);
      const { stats } = (await getInstitution(tx, 'inst-a')).record;
      expect(stats).toMatchObject({ successes: 1, amountFen: FIGURES.disbursedFen });
    });
    // Settled once: a second confirmation is refused and changes neither ledger nor statistics.
    await expectError(s.applications.confirmPayment(settler, id), 'EVENT_NOT_ACCEPTED');
    const stats = await s.persistence.transaction(async (tx) => (await getInstitution(tx, 'inst-a')).record.stats);
    expect(stats.successes).toBe(1);
  });

  it('counts a settlement whose hold was already given back, restoring nothing', async () => {
    const { s, id } = await settledReady(0);
    await s.applications.confirmPayment(settler, id);
    await s.persistence.transaction(async (tx) => {
      expect(await ledgerBalances(tx, 'inst-a')).toMatchObject({ deposit: 50_000_000, frozen: 0 });
      expect((await getInstitution(tx, 'inst-a')).record.stats.successes).toBe(1);
    });
  });

  it('leaves the application unsettled when the institution is unknown to the ledger', async () => {
    const s = setup({ onSettled: settlementRestoresPosition() });
    const id = await disbursed(s); // institution A was never registered
    await s.applications.confirmSettlement(followUp, id, FIGURES);
    await s.applications.confirmWithCustomer(cm, id);
    await expectError(s.applications.confirmPayment(settler, id), 'NOT_FOUND');
    expect((await s.applications.get(settler, id))?.stage).toBe('settlement.awaitingPayment');
  });
});
