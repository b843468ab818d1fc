import { describe, expect, it } from 'vitest';
import {
  HOUR,
  committedMovements,
  concurrencyScenarios,
  customerManager,
  dispatchState,
  drain,
  eventTypes,
  expectError,
  followUp,
  offerOf,
  offerSummary,
  setupDispatch,
  staffOf,
  startDispatch,
} from './dispatch-offers-fixtures.js';

/** Follow-up managers' interventions, restarts, what institutions may see, and concurrent callers. */
describe('dispatch interventions', () => {
  it('reassign withdraws an open offer and tops up; recorded with actor and reason in context and audit', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    const offerB = offerOf(context, 'inst-B');
    await expectError(setup.service.reassign(offerB.offerId, 'slow', customerManager), 'FORBIDDEN');
    await expectError(setup.service.reassign(offerB.offerId, '', followUp), 'INVALID_INPUT');
    const view = await setup.service.reassign(offerB.offerId, 'institution unreachable', followUp);
    expect(offerSummary(view as never)).toEqual(['inst-A open', 'inst-B withdrawn', 'inst-C open', 'inst-D open']);
    expect(view.interventions).toEqual([
      {
        action: 'REASSIGN',
        actorId: 'fay',
        reason: 'institution unreachable',
        offerId: offerB.offerId,
        at: context.startedAt,
      },
    ]);
    await expectError(setup.service.accept(offerB.offerId, staffOf('inst-B')), 'OFFER_WITHDRAWN');
    await expectError(setup.service.reassign(offerB.offerId, 'again', followUp), 'OFFER_NOT_OPEN');
    const audit = await setup.persistence.transaction((tx) => tx.audit.list(dispatchId));
    const entry = audit.find((e) => (e.data as { event?: { type?: string } }).event?.type === 'REASSIGN');
    expect(entry?.actor).toBe('fay');
    expect(JSON.stringify(entry?.data)).toContain('institution unreachable');
    await drain(setup);
    expect(setup.events.find((e) => e.type === 'dispatch.offer.withdrawn')?.payload).toMatchObject({
      institutionId: 'inst-B',
      reason: 'reassigned',
    });
    // The withdrawn offer's timer is gone: at the deadline only the three live offers expire.
    setup.clock.advance(24 * HOUR);
    await drain(setup);
    expect(offerOf((await dispatchState(setup, dispatchId)).context, 'inst-B').status).toBe('withdrawn');
  });

  it('extend moves one offer’s deadline and its timer; the old deadline no longer expires it', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup, { config: { offerWindowMs: HOUR } });
    const offerA = offerOf(context, 'inst-A');
    const until = offerA.deadline + 2 * HOUR;
    await expectError(
      setup.service.extend(offerA.offerId, offerA.deadline - 1, 'more time', followUp),
      'INVALID_INPUT',
    );
    await expectError(setup.service.extend(offerA.offerId, until, 'more time', staffOf('inst-A')), 'FORBIDDEN');
    const view = await setup.service.extend(offerA.offerId, until, 'the institution asked for more time', followUp);
    expect(offerOf(view as never, 'inst-A').deadline).toBe(until);
    expect(view.interventions[0]).toMatchObject({ action: 'EXTEND', actorId: 'fay', untilMs: until });
    setup.clock.set(offerA.deadline);
    await drain(setup);
    const mid = (await dispatchState(setup, dispatchId)).context;
    expect(offerOf(mid, 'inst-A').status).toBe('open');
    expect(offerOf(mid, 'inst-B').status).toBe('expired');
    setup.clock.set(until - 1);
    await setup.service.accept(offerA.offerId, staffOf('inst-A'));
    expect(offerOf((await dispatchState(setup, dispatchId)).context, 'inst-A').status).toBe('accepted');
  });

  it('cancel releases every acceptance, withdraws every open offer and ends the dispatch', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    await expectError(setup.service.cancel(dispatchId, ' ', followUp), 'INVALID_INPUT');
    const view = await setup.service.cancel(dispatchId, 'customer withdrew the application', followUp);
    expect(view).toMatchObject({ state: 'cancelled', outcome: 'CANCELLED', finished: true });
    expect(offerSummary(view as never)).toEqual(['inst-A released', 'inst-B withdrawn', 'inst-C withdrawn']);
    expect(view.interventions.at(-1)).toMatchObject({ action: 'CANCEL', actorId: 'fay' });
    expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-A', 'release inst-A']);
    await drain(setup);
    expect(eventTypes(setup)).toContain('dispatch.cancelled');
    await expectError(setup.service.cancel(dispatchId, 'again', followUp), 'DISPATCH_FINISHED');
  });

  it('a restart loses no deadline: a new runtime over the same persistence fires the timers', async () => {
    const first = setupDispatch();
    const { dispatchId } = await startDispatch(first, { config: { offerWindowMs: HOUR } });
    const second = first.restart();
    second.clock.advance(HOUR);
    const pass = await second.runtime.runOnce();
    expect(pass.timersFired).toBe(3);
    await drain(second);
    const { context } = await dispatchState(second, dispatchId);
    expect(offerSummary(context).slice(0, 3)).toEqual(['inst-A expired', 'inst-B expired', 'inst-C expired']);
    expect(context.offers).toHaveLength(6);
  });

  it('an institution sees only its own offers; platform staff filter them', async () => {
    const setup = setupDispatch();
    const { context } = await startDispatch(setup);
    await startDispatch(setup, { applicationId: 'APP2' });
    const own = await setup.service.offersFor(staffOf('inst-A'));
    expect(own.map((o) => o.applicationId).sort()).toEqual(['APP1', 'APP2']);
    expect(own.every((o) => o.institutionId === 'inst-A')).toBe(true);
    await expectError(setup.service.offersFor(staffOf('inst-A'), { institutionId: 'inst-B' }), 'FORBIDDEN');
    await expectError(setup.service.get(context.dispatchId, staffOf('inst-A')), 'FORBIDDEN');
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    expect((await setup.service.offersFor(staffOf('inst-A'), { status: 'accepted' })).map((o) => o.offerId)).toEqual([
      offerOf(context, 'inst-A').offerId,
    ]);
    const forDispatch = await setup.service.offersFor(followUp, { dispatchId: context.dispatchId });
    expect(forDispatch.map((o) => `${o.institutionId} ${o.status}`).sort()).toEqual([
      'inst-A accepted',
      'inst-B open',
      'inst-C open',
    ]);
    expect((await setup.service.get(context.dispatchId, customerManager)).offers).toHaveLength(3);
  });
});

describe('dispatch concurrency (memory)', () => {
  for (const scenario of concurrencyScenarios) it(scenario.name, () => scenario.run(setupDispatch()));
});
