import { describe, expect, it } from 'vitest';
import { ledgerBalances, ledgerTopUp, registerInstitution } from '../src/index.js';
import { institutionInput } from './dispatch-ledger-scenarios.js';
import { institutionRanking, ledgerPositions } from '../src/dispatch/dispatch-wiring.js';
import {
  customerManager,
  expectError,
  offerOf,
  setupDispatch,
  staffOf,
  startDispatch,
} from './dispatch-offers-fixtures.js';

/** The dispatch on the real position ledger: freezes and releases land in the ledger with the transition. */
describe('dispatch on the position ledger', () => {
  it('freezes on acceptance, refuses one the deposit does not cover, releases the others on the choice', async () => {
    const setup = setupDispatch({ positions: ledgerPositions() });
    await setup.persistence.transaction(async (tx) => {
      for (const [institutionId, fen] of [
        ['inst-A', 9_000_000],
        ['inst-B', 5_000_000],
        ['inst-C', 4_999_999],
      ] as const) {
        await registerInstitution(tx, institutionInput(institutionId), 0);
        await ledgerTopUp(tx, { institutionId, key: `seed-${institutionId}`, amountFen: fen, account: 'deposit' }, 0);
      }
    });
    const { context, dispatchId } = await startDispatch(setup);
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    await setup.service.accept(offerOf(context, 'inst-B').offerId, staffOf('inst-B'));
    await expectError(
      setup.service.accept(offerOf(context, 'inst-C').offerId, staffOf('inst-C')),
      'POSITION_INSUFFICIENT',
    );
    const balances = (id: string) => setup.persistence.transaction((tx) => ledgerBalances(tx, id));
    expect(await balances('inst-A')).toMatchObject({ deposit: 4_000_000, frozen: 5_000_000 });
    expect(await balances('inst-C')).toMatchObject({ deposit: 4_999_999, frozen: 0 });
    await setup.service.choose(dispatchId, 'inst-A', customerManager);
    expect(await balances('inst-A')).toMatchObject({ deposit: 4_000_000, frozen: 5_000_000 });
    expect(await balances('inst-B')).toMatchObject({ deposit: 5_000_000, frozen: 0 });
  });
});

describe('dispatch ranked from the registered institutions', () => {
  it('offers only eligible institutions whose position covers the amount, never an excluded one', async () => {
    const setup = setupDispatch({
      positions: ledgerPositions(),
      rankCandidates: (persistence) => institutionRanking({ persistence }),
    });
    await setup.persistence.transaction(async (tx) => {
      for (const [id, fen, regions] of [
        ['inst-A', 9_000_000, ['4403']],
        ['inst-B', 9_000_000, ['44']],
        ['inst-C', 9_000_000, ['4403']],
        ['inst-D', 4_000_000, ['4403']],
        ['inst-E', 9_000_000, ['1100']],
        ['inst-F', 9_000_000, ['4403']],
      ] as const) {
        await registerInstitution(tx, institutionInput(id, { regions: [...regions] }), 0);
        await ledgerTopUp(tx, { institutionId: id, key: `seed-${id}`, amountFen: fen, account: 'deposit' }, 0);
      }
    });
    const { context } = await startDispatch(setup, { region: '440305', category: 'credit', excluded: ['inst-C'] });
    const offered = context.offers.map((o) => o.institutionId).sort();
    expect(offered).toEqual(['inst-A', 'inst-B', 'inst-F']);
  });
});
