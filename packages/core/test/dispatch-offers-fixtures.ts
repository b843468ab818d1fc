import { expect } from 'vitest';
import {
  createOfferService,
  createRuntime,
  type DispatchActor,
  type DispatchContext,
  type DispatchNotification,
  type DispatchPositions,
  type DispatchRequest,
  type DomainEvent,
  dispatchWorkflow,
  type Notify,
  type Persistence,
  type PersistenceTransaction,
  type PositionMovementRequest,
  type RankCandidates,
  type RankCandidatesInput,
  SealflowError,
} from '../src/index.js';
import { createManualClock, createMemoryPersistence, type ManualClock } from '../src/memory/index.js';

export const HOUR = 3_600_000;

export const reviewer: DispatchActor = { id: 'rita', roles: ['loan-reviewer'] };
export const customerManager: DispatchActor = { id: 'carl', roles: ['customer-manager'] };
export const followUp: DispatchActor = { id: 'fay', roles: ['follow-up-manager'] };
export const staffOf = (institutionId: string): DispatchActor => ({
  id: `staff-${institutionId}`,
  roles: ['institution'],
  institutionId,
});

/**
 * A position ledger for tests that lives in the persistence itself (entity rows), so its writes commit or roll back
 * with the transaction they were made in — on memory, PGlite and PostgreSQL alike. Movements are idempotent by key;
 * `failRelease` makes releases for one institution throw, to show a failing write aborts the whole transition.
 */
export function createTestPositions(available: Record<string, number> = {}, defaultFen = 10_000_000_00) {
  const calls: { kind: 'freeze' | 'release'; key: string; tx: PersistenceTransaction }[] = [];
  const options = { failRelease: null as string | null };
  const balance = async (tx: PersistenceTransaction, institutionId: string) => {
    const row = await tx.entities.get('test-position', institutionId);
    return { row, fen: row ? (row.data as { fen: number }).fen : (available[institutionId] ?? defaultFen) };
  };
  const setBalance = async (tx: PersistenceTransaction, institutionId: string, fen: number, at: number) => {
    const { row } = await balance(tx, institutionId);
    if (!row) {
      await tx.entities.insert({
        kind: 'test-position',
        id: institutionId,
        data: { fen },
        tags: {},
        uniqueKey: null,
        createdAt: at,
      });
    } else if (
      !(await tx.entities.update('test-position', institutionId, row.version, {
        data: { fen },
        tags: {},
        uniqueKey: null,
        updatedAt: at,
      }))
    ) {
      throw new Error('test position changed concurrently');
    }
  };
  const move = async (tx: PersistenceTransaction, kind: 'freeze' | 'release', m: PositionMovementRequest) => {
    calls.push({ kind, key: m.key, tx });
    if (await tx.entities.get('test-movement', m.key)) return;
    const { fen } = await balance(tx, m.institutionId);
    if (kind === 'freeze' && fen < m.amountFen) {
      throw new SealflowError(
        'POSITION_INSUFFICIENT',
        `Institution ${m.institutionId}'s position does not cover ${m.amountFen} fen; it must top up first.`,
      );
    }
    if (kind === 'release' && options.failRelease === m.institutionId) throw new Error('release failed');
    await setBalance(tx, m.institutionId, kind === 'freeze' ? fen - m.amountFen : fen + m.amountFen, 0);
    await tx.entities.insert({
      kind: 'test-movement',
      id: m.key,
      data: { kind, institutionId: m.institutionId, amountFen: m.amountFen },
      tags: { institutionId: m.institutionId, kind },
      uniqueKey: null,
      createdAt: 0,
    });
  };
  const positions: DispatchPositions = {
    freeze: (tx, m) => move(tx, 'freeze', m),
    release: (tx, m) => move(tx, 'release', m),
  };
  return { positions, calls, options };
}

/** The committed movements, as `kind institution` strings sorted. */
export async function committedMovements(persistence: Persistence): Promise<string[]> {
  const rows = await persistence.transaction((tx) => tx.entities.find('test-movement', { limit: 1000 }));
  return rows
    .map((r) => `${(r.data as { kind: string }).kind} ${(r.data as { institutionId: string }).institutionId}`)
    .sort();
}

export interface DispatchSetup {
  clock: ManualClock;
  persistence: Persistence;
  runtime: ReturnType<typeof createRuntime>;
  service: ReturnType<typeof createOfferService>;
  positions: ReturnType<typeof createTestPositions>;
  rankCalls: RankCandidatesInput[];
  notifications: DispatchNotification[];
  events: DomainEvent[];
  /** Replace the ranking's answer. */
  ranking: { ids: string[] };
  /** A new runtime and service over the same persistence: what a restarted process has. */
  restart(): DispatchSetup;
}

const letters = 'ABCDEFGHIJKL'.split('').map((l) => `inst-${l}`);

/** A runtime with the dispatch workflow on memory (or the given persistence) and a manual clock. */
export function setupDispatch(
  options: {
    persistence?: Persistence;
    clock?: ManualClock;
    ids?: string[];
    available?: Record<string, number>;
    /** Instead of the test positions (which then record nothing). */
    positions?: DispatchPositions;
    /** Instead of the ranking by `ids`. */
    rankCandidates?: (persistence: Persistence) => RankCandidates;
    /** Instead of recording the notifications in `notifications`. */
    notify?: Notify;
  } = {},
): DispatchSetup {
  const clock = options.clock ?? createManualClock();
  const persistence = options.persistence ?? createMemoryPersistence();
  const positions = createTestPositions(options.available);
  const ranking = { ids: options.ids ?? letters };
  const rankCalls: RankCandidatesInput[] = [];
  const notifications: DispatchNotification[] = [];
  const events: DomainEvent[] = [];
  const build = (): DispatchSetup => {
    const runtime = createRuntime({
      persistence,
      clock,
      scheduler: clock,
      workflows: [
        dispatchWorkflow({
          positions: options.positions ?? positions.positions,
          rankCandidates:
            options.rankCandidates?.(persistence) ??
            (async (input) => {
              rankCalls.push(input);
              return ranking.ids.filter((id) => !input.excluded.includes(id)).slice(0, input.limit);
            }),
          notify: options.notify ?? (async (notification) => void notifications.push(notification)),
        }),
      ],
    });
    runtime.onEvent((event) => void events.push(event));
    const service = createOfferService({ runtime });
    return {
      clock,
      persistence,
      runtime,
      service,
      positions,
      rankCalls,
      notifications,
      events,
      ranking,
      restart: build,
    };
  };
  return build();
}

export const request = (overrides: Partial<DispatchRequest> = {}): DispatchRequest => ({
  applicationId: 'APP1',
  dispatchNo: 1,
  amountFen: 5_000_000,
  region: 'shanghai',
  category: 'consumer',
  ...overrides,
});

/** Run the worker until it has nothing left to do now. */
export async function drain(setup: DispatchSetup): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const pass = await setup.runtime.runOnce();
    if (
      pass.timersFired + pass.effectsSucceeded + pass.effectsFailed + pass.eventsDelivered + pass.effectsRetried ===
      0
    )
      return;
  }
  throw new Error('the worker did not settle in 20 passes');
}

/** Start a dispatch and let the ranking come back. */
export async function startDispatch(setup: DispatchSetup, overrides: Partial<DispatchRequest> = {}) {
  const started = await setup.service.startDispatch(request(overrides), reviewer);
  await drain(setup);
  return dispatchState(setup, started.dispatchId);
}

export async function dispatchState(setup: DispatchSetup, dispatchId: string) {
  const state = await setup.runtime.get(dispatchId);
  const context = state!.context as DispatchContext;
  return { state: state!, context, dispatchId };
}

/** `institution status` of every offer, in offer order. */
export function offerSummary(context: DispatchContext): string[] {
  return context.offers.map((o) => `${o.institutionId} ${o.status}`);
}

export function offerOf(context: DispatchContext, institutionId: string) {
  const offer = context.offers.find((o) => o.institutionId === institutionId);
  if (!offer) throw new Error(`no offer for ${institutionId}`);
  return offer;
}

export { expectError } from './expect-error.js';

export const eventTypes = (setup: DispatchSetup) => setup.events.map((e) => e.type);

/**
 * The concurrency claims, run on any persistence: many acceptances at once for different offers all hold; many for
 * the same offer give exactly one acceptance and one freeze; declines racing each other never offer an institution
 * twice nor more than three at once.
 */
export const concurrencyScenarios: { name: string; run(setup: DispatchSetup): Promise<void> }[] = [
  {
    name: 'many acceptances of different offers at once all hold, each freezing once',
    async run(setup) {
      const { context, dispatchId } = await startDispatch(setup, { config: { offersOpen: 6 } });
      expect(context.offers).toHaveLength(6);
      const results = await Promise.allSettled(
        context.offers.map((o) => setup.service.accept(o.offerId, staffOf(o.institutionId))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
      const end = (await dispatchState(setup, dispatchId)).context;
      expect(end.offers.map((o) => o.status)).toEqual(Array(6).fill('accepted'));
      expect(end.choiceDeadline).toBe(context.startedAt + 72 * HOUR);
      expect(await committedMovements(setup.persistence)).toEqual(
        end.offers.map((o) => `freeze ${o.institutionId}`).sort(),
      );
    },
  },
  {
    name: 'many acceptances of the same offer at once: exactly one wins, the rest are told it was answered',
    async run(setup) {
      const { context, dispatchId } = await startDispatch(setup);
      const offerA = offerOf(context, 'inst-A');
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, () => setup.service.accept(offerA.offerId, staffOf('inst-A'))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect(((r as PromiseRejectedResult).reason as SealflowError).code).toBe('OFFER_ALREADY_ANSWERED');
      }
      expect(offerOf((await dispatchState(setup, dispatchId)).context, 'inst-A').status).toBe('accepted');
      expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-A']);
    },
  },
  {
    name: 'declines and acceptances racing never offer an institution twice nor keep more than three live',
    async run(setup) {
      const { context, dispatchId } = await startDispatch(setup);
      const [a, b, c] = context.offers;
      await Promise.all([
        setup.service.decline(a!.offerId, 'no', staffOf(a!.institutionId)),
        setup.service.decline(b!.offerId, 'no', staffOf(b!.institutionId)),
        setup.service.accept(c!.offerId, staffOf(c!.institutionId)),
      ]);
      const mid = (await dispatchState(setup, dispatchId)).context;
      const fresh = mid.offers.filter((o) => o.status === 'open');
      await Promise.all(fresh.map((o) => setup.service.decline(o.offerId, 'no', staffOf(o.institutionId))));
      const end = (await dispatchState(setup, dispatchId)).context;
      const ids = end.offers.map((o) => o.institutionId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(end.offers.filter((o) => o.status === 'open' || o.status === 'accepted')).toHaveLength(3);
      expect(end.offers).toHaveLength(7);
      expect(end.offers.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    },
  },
];
