/**
 * Institution statistics, open counts and suspension through the dispatch workflow, run on any persistence: on memory
 * here and on PGlite and PostgreSQL by adapter-storage. Every scenario registers its institutions, so their records
 * are counted in.
 */
import { expect } from 'vitest';
import {
  type DispatchStats,
  emptyDispatchStats,
  getInstitution,
  type Institution,
  ledgerBalances,
  ledgerMovements,
  ledgerTopUp,
  type Persistence,
  type PersistenceTransaction,
  registerInstitution,
} from '../src/index.js';
import { ledgerPositions } from '../src/dispatch/dispatch-wiring.js';
import { institutionInput } from './dispatch-ledger-scenarios.js';
import {
  customerManager,
  type DispatchSetup,
  dispatchState,
  drain,
  expectError,
  HOUR,
  offerOf,
  offerSummary,
  setupDispatch,
  staffOf,
  startDispatch,
} from './dispatch-offers-fixtures.js';

/**
 * `persistence` with a switch that makes one transaction fail after all its work was done, as a lost connection at
 * commit would: `failOnce(check)` fails the next transaction in which `check` (run inside it, last) answers true.
 */
export function failingOnce(persistence: Persistence) {
  let check: ((tx: PersistenceTransaction) => Promise<boolean>) | null = null;
  let failed = 0;
  const wrapped: Persistence = {
    name: persistence.name,
    close: () => persistence.close(),
    transaction: (work) =>
      persistence.transaction(async (tx) => {
        const result = await work(tx);
        if (check && (await check(tx))) {
          check = null;
          failed += 1;
          throw new Error('the connection was lost before the commit');
        }
        return result;
      }),
  };
  return {
    persistence: wrapped,
    failOnce(next: (tx: PersistenceTransaction) => Promise<boolean>) {
      check = next;
    },
    failures: () => failed,
  };
}

async function register(setup: DispatchSetup, ids: string[], depositFen = 0): Promise<void> {
  await setup.persistence.transaction(async (tx) => {
    for (const id of ids) {
      await registerInstitution(tx, institutionInput(id), 0);
      if (depositFen > 0) {
        await ledgerTopUp(tx, { institutionId: id, key: `seed-${id}`, amountFen: depositFen, account: 'deposit' }, 0);
      }
    }
  });
}

async function institution(setup: DispatchSetup, id: string): Promise<Institution> {
  return (await setup.persistence.transaction((tx) => getInstitution(tx, id))).record;
}

/** `openCount` and the counters that are not zero, per institution. */
async function counts(setup: DispatchSetup, ids: string[]) {
  const result: Record<string, { openCount: number } & Partial<DispatchStats>> = {};
  for (const id of ids) {
    const { openCount, stats } = await institution(setup, id);
    const nonZero = Object.fromEntries(Object.entries(stats).filter(([, value]) => value !== 0));
    result[id] = { openCount, ...nonZero };
  }
  return result;
}

export const institutionCountingScenarios: { name: string; run(persistence: Persistence): Promise<void> }[] = [
  {
    name: 'statistics and open counts follow every offer, once, though timers settle together and a commit is retried',
    async run(base) {
      const failing = failingOnce(base);
      const setup = setupDispatch({ persistence: failing.persistence });
      const ids = ['inst-A', 'inst-B', 'inst-C', 'inst-D', 'inst-E', 'inst-F', 'inst-G'];
      await register(setup, ids);
      const { context, dispatchId } = await startDispatch(setup, { config: { offerWindowMs: 10 * HOUR } });
      const t0 = context.startedAt;
      expect(await counts(setup, ids.slice(0, 4))).toEqual({
        'inst-A': { openCount: 1, offered: 1 },
        'inst-B': { openCount: 1, offered: 1 },
        'inst-C': { openCount: 1, offered: 1 },
        'inst-D': { openCount: 0 },
      });

      setup.clock.set(t0 + HOUR);
      await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
      setup.clock.set(t0 + 3 * HOUR);
      await setup.service.decline(offerOf(context, 'inst-B').offerId, 'outside our appetite', staffOf('inst-B'));

      // C (due at 10 h) and D (offered at 3 h, due at 13 h) expire in one pass: one transaction, one final state,
      // in which E is offered and expires no sooner than F is offered. That transaction's commit fails once.
      failing.failOnce(async (tx) => (await getInstitution(tx, 'inst-C')).record.stats.expired > 0);
      setup.clock.set(t0 + 13 * HOUR);
      await expect(setup.runtime.runOnce()).rejects.toThrow('the connection was lost');
      expect(failing.failures()).toBe(1);
      expect((await counts(setup, ['inst-C']))['inst-C']).toEqual({ openCount: 1, offered: 1 });
      // The timers' claim runs out and the next pass settles them again, this time for good.
      setup.clock.advance(61_000);
      await drain(setup);
      const mid = (await dispatchState(setup, dispatchId)).context;
      expect(offerSummary(mid)).toEqual([
        'inst-A accepted',
        'inst-B declined',
        'inst-C expired',
        'inst-D expired',
        'inst-E open',
        'inst-F open',
      ]);

      expect(await counts(setup, ids)).toEqual({
        'inst-A': { openCount: 1, offered: 1, accepted: 1, responses: 1, responseMsTotal: HOUR },
        'inst-B': { openCount: 0, offered: 1, declined: 1, responses: 1, responseMsTotal: 3 * HOUR },
        'inst-C': { openCount: 0, offered: 1, expired: 1 },
        'inst-D': { openCount: 0, offered: 1, expired: 1 },
        'inst-E': { openCount: 1, offered: 1 },
        'inst-F': { openCount: 1, offered: 1 },
        'inst-G': { openCount: 0 },
      });

      // E accepts; the customer chooses A: A keeps its place, E's acceptance is released, F's offer withdrawn.
      setup.clock.set(t0 + 14 * HOUR);
      await setup.service.accept(offerOf(mid, 'inst-E').offerId, staffOf('inst-E'));
      await setup.service.choose(dispatchId, 'inst-A', customerManager);
      await drain(setup);
      const eOfferedAt = offerOf(mid, 'inst-E').offeredAt;
      expect(await counts(setup, ['inst-A', 'inst-E', 'inst-F'])).toEqual({
        'inst-A': { openCount: 1, offered: 1, accepted: 1, responses: 1, responseMsTotal: HOUR },
        'inst-E': { openCount: 0, offered: 1, accepted: 1, responses: 1, responseMsTotal: t0 + 14 * HOUR - eOfferedAt },
        'inst-F': { openCount: 0, offered: 1 },
      });
      // Nothing else changes the counters: a further pass finds the offers as they were.
      await drain(setup);
      expect((await institution(setup, 'inst-A')).stats).toEqual({
        ...emptyDispatchStats(),
        offered: 1,
        accepted: 1,
        responses: 1,
        responseMsTotal: HOUR,
      });
    },
  },
  {
    name: 'a suspended institution’s acceptance is refused with INSTITUTION_SUSPENDED and nothing of it is kept',
    async run(persistence) {
      const setup = setupDispatch({ persistence, positions: ledgerPositions() });
      await register(setup, ['inst-A', 'inst-B', 'inst-C'], 50_000_000);
      const { context, state, dispatchId } = await startDispatch(setup);
      await setup.persistence.transaction((tx) =>
        registerInstitution(tx, institutionInput('inst-A', { status: 'SUSPENDED' }), 1),
      );
      const before = await institution(setup, 'inst-A');

      const refused = await expectError(
        setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A')),
        'INSTITUTION_SUSPENDED',
      );
      expect(refused.message).toMatch(/inst-A is suspended.*set it ACTIVE again/);
      expect(refused.details).toEqual({ institutionId: 'inst-A' });

      const after = await dispatchState(setup, dispatchId);
      expect(after.state.rowVersion).toBe(state.rowVersion);
      expect(offerOf(after.context, 'inst-A').status).toBe('open');
      expect(after.context.choiceDeadline).toBeNull();
      await setup.persistence.transaction(async (tx) => {
        expect(await ledgerBalances(tx, 'inst-A')).toMatchObject({ deposit: 50_000_000, frozen: 0, holds: {} });
        expect((await ledgerMovements(tx, 'inst-A')).movements.map((m) => m.type)).toEqual(['topUp']);
      });
      expect(await institution(setup, 'inst-A')).toEqual(before);

      // The others answer as before.
      await setup.service.accept(offerOf(context, 'inst-B').offerId, staffOf('inst-B'));
      expect(await setup.persistence.transaction((tx) => ledgerBalances(tx, 'inst-B'))).toMatchObject({
        frozen: 5_000_000,
      });
      expect((await institution(setup, 'inst-B')).stats.accepted).toBe(1);
    },
  },
];
