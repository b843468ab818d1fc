import { describe, expect, it } from 'vitest';
import {
  HOUR,
  dispatchState,
  drain,
  eventTypes,
  expectError,
  offerOf,
  offerSummary,
  reviewer,
  setupDispatch,
  staffOf,
  startDispatch,
} from './dispatch-offers-fixtures.js';

/** Offers in rounds: the first three, top-ups after declines and expiries, the budget and the dispatch window. */
describe('dispatch offers', () => {
  it('ranks through an effect with params from the saved state, then offers the top three', async () => {
    const setup = setupDispatch();
    const { context, state } = await startDispatch(setup, { excluded: ['inst-B'] });
    expect(setup.rankCalls).toEqual([
      {
        applicationId: 'APP1',
        amountFen: 5_000_000,
        region: 'shanghai',
        category: 'consumer',
        excluded: ['inst-B'],
        limit: 9,
        at: context.startedAt,
      },
    ]);
    expect(state.stateValue).toBe('offering');
    expect(offerSummary(context)).toEqual(['inst-A open', 'inst-C open', 'inst-D open']);
    const start = context.startedAt;
    for (const offer of context.offers) expect(offer.deadline).toBe(start + 24 * HOUR);
    expect(context.offers.map((o) => o.offerId)).toEqual([
      'dispatch:APP1:1/offer-1',
      'dispatch:APP1:1/offer-2',
      'dispatch:APP1:1/offer-3',
    ]);
    expect(eventTypes(setup)).toEqual(Array(3).fill('dispatch.offer.created'));
    // Effects run in any order; each notification once.
    const sent = setup.notifications.map((n) => `${n.type} ${'institutionId' in n ? n.institutionId : ''}`);
    expect(sent.sort()).toEqual(['offer.created inst-A', 'offer.created inst-C', 'offer.created inst-D']);
    // Events and notifications name the dispatch and institutions, nothing about the customer.
    expect(JSON.stringify(setup.events.map((e) => e.payload))).not.toMatch(/reason|name|mobile|idNumber/i);
  });

  it('refuses a bad request with every problem named, and starts nothing', async () => {
    const setup = setupDispatch();
    const error = await expectError(
      setup.service.startDispatch(
        { applicationId: '', dispatchNo: 1, amountFen: 12.5, region: 'sh', category: 'c', config: { offersOpen: 0 } },
        reviewer,
      ),
      'INVALID_INPUT',
    );
    expect(error.message).toMatch(/applicationId/);
    expect(error.message).toMatch(/amountFen/);
    expect(error.message).toMatch(/offersOpen/);
    await expectError(
      setup.service.startDispatch(
        {
          applicationId: 'A',
          dispatchNo: 1,
          amountFen: 100,
          region: 'sh',
          category: 'c',
          config: { maxInstitutions: 2 },
        },
        reviewer,
      ),
      'INVALID_INPUT',
    );
    await expectError(
      setup.service.startDispatch(
        { applicationId: 'A', dispatchNo: 1, amountFen: -1, region: 'sh', category: 'c' },
        reviewer,
      ),
      'INVALID_INPUT',
    );
    await expectError(
      setup.service.startDispatch(
        { applicationId: 'A', dispatchNo: 1, amountFen: 1, region: 'sh', category: 'c' },
        staffOf('inst-A'),
      ),
      'FORBIDDEN',
    );
    expect(await setup.runtime.list()).toEqual([]);
  });

  it('tops a decline up with the next candidate, and only the offer’s own institution may answer it', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    const offerB = offerOf(context, 'inst-B');
    await expectError(setup.service.decline(offerB.offerId, 'no capacity', staffOf('inst-A')), 'FORBIDDEN');
    await expectError(setup.service.decline(offerB.offerId, '  ', staffOf('inst-B')), 'INVALID_INPUT');
    setup.clock.advance(HOUR);
    const view = await setup.service.decline(offerB.offerId, 'no capacity this week', staffOf('inst-B'));
    expect(offerSummary(view as never)).toEqual(['inst-A open', 'inst-B declined', 'inst-C open', 'inst-D open']);
    const offerD = offerOf((await dispatchState(setup, dispatchId)).context, 'inst-D');
    expect(offerD.offeredAt).toBe(view.startedAt + HOUR);
    // Still within the dispatch window, which caps the offer's own 24 hours.
    expect(offerD.deadline).toBe(view.startedAt + 24 * HOUR);
    expect(offerOf(view as never, 'inst-B').declineReason).toBe('no capacity this week');
    await expectError(setup.service.decline(offerB.offerId, 'again', staffOf('inst-B')), 'OFFER_ALREADY_ANSWERED');
  });

  it('expires unanswered offers on their durable timers, reminds before, and tops them up', async () => {
    const setup = setupDispatch();
    const config = { offerWindowMs: HOUR, reminderBeforeMs: 15 * 60_000 };
    const { context, dispatchId } = await startDispatch(setup, { config });
    expect(context.offers.map((o) => o.deadline - context.startedAt)).toEqual([HOUR, HOUR, HOUR]);
    setup.clock.advance(45 * 60_000);
    await drain(setup);
    expect(setup.notifications.filter((n) => n.type === 'offer.deadline-approaching')).toHaveLength(3);
    expect(offerSummary((await dispatchState(setup, dispatchId)).context)).toEqual([
      'inst-A open',
      'inst-B open',
      'inst-C open',
    ]);
    setup.clock.advance(15 * 60_000);
    await drain(setup);
    const after = (await dispatchState(setup, dispatchId)).context;
    expect(offerSummary(after)).toEqual([
      'inst-A expired',
      'inst-B expired',
      'inst-C expired',
      'inst-D open',
      'inst-E open',
      'inst-F open',
    ]);
    expect(after.offers[3]!.deadline).toBe(context.startedAt + 2 * HOUR);
    expect(eventTypes(setup).filter((t) => t === 'dispatch.offer.expired')).toHaveLength(3);
  });

  it('offers at most nine institutions (three rounds) and then ends exhausted', async () => {
    const setup = setupDispatch();
    const { dispatchId } = await startDispatch(setup);
    for (let round = 0; round < 3; round++) {
      const { context } = await dispatchState(setup, dispatchId);
      for (const offer of context.offers.filter((o) => o.status === 'open')) {
        await setup.service.decline(offer.offerId, 'not for us', staffOf(offer.institutionId));
      }
    }
    const { context, state } = await dispatchState(setup, dispatchId);
    expect(context.offers).toHaveLength(9);
    expect(new Set(context.offers.map((o) => o.institutionId)).size).toBe(9);
    expect(state).toMatchObject({ status: 'done', stateValue: 'exhausted', output: { outcome: 'EXHAUSTED' } });
    await drain(setup);
    const exhausted = setup.events.find((e) => e.type === 'dispatch.exhausted');
    expect(exhausted?.payload).toMatchObject({
      dispatchId,
      offeredInstitutionIds: context.offers.map((o) => o.institutionId),
    });
  });

  it('makes no offer after the dispatch window: late top-ups get what is left of it, then none', async () => {
    const setup = setupDispatch();
    const { dispatchId, context } = await startDispatch(setup);
    setup.clock.advance(23 * HOUR);
    await setup.service.decline(offerOf(context, 'inst-A').offerId, 'no', staffOf('inst-A'));
    const afterDecline = (await dispatchState(setup, dispatchId)).context;
    expect(offerOf(afterDecline, 'inst-D').deadline).toBe(context.startedAt + 24 * HOUR);
    setup.clock.advance(HOUR);
    await drain(setup);
    const { state, context: end } = await dispatchState(setup, dispatchId);
    expect(offerSummary(end)).toEqual(['inst-A declined', 'inst-B expired', 'inst-C expired', 'inst-D expired']);
    expect(state.stateValue).toBe('exhausted');
  });

  it('ends exhausted when the ranking runs out; the next dispatch excludes everyone offered before', async () => {
    const setup = setupDispatch({ ids: ['inst-A', 'inst-B', 'inst-C', 'inst-D'] });
    const { context, dispatchId } = await startDispatch(setup);
    await expectError(setup.service.startDispatch({ ...request2(), dispatchNo: 2 }, reviewer), 'DUPLICATE');
    for (const offer of context.offers) await setup.service.decline(offer.offerId, 'no', staffOf(offer.institutionId));
    await setup.service.decline(
      offerOf((await dispatchState(setup, dispatchId)).context, 'inst-D').offerId,
      'no',
      staffOf('inst-D'),
    );
    expect((await dispatchState(setup, dispatchId)).state.stateValue).toBe('exhausted');
    setup.ranking.ids = ['inst-A', 'inst-B', 'inst-E', 'inst-C', 'inst-F', 'inst-D'];
    const second = await startDispatch(setup, { dispatchNo: 2, excluded: ['inst-Z'] });
    expect(setup.rankCalls[1]!.excluded.sort()).toEqual(['inst-A', 'inst-B', 'inst-C', 'inst-D', 'inst-Z']);
    expect(offerSummary(second.context)).toEqual(['inst-E open', 'inst-F open']);
  });
});

function request2() {
  return { applicationId: 'APP1', dispatchNo: 2, amountFen: 5_000_000, region: 'shanghai', category: 'consumer' };
}
