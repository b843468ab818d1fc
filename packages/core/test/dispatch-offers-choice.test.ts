import { describe, expect, it } from 'vitest';
import {
  HOUR,
  committedMovements,
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

/** Acceptances, positions frozen and released in the transition's transaction, and the customer's choice. */
describe('dispatch acceptance and choice', () => {
  it('refuses a late acceptance: at the deadline before the timer ran, and after it fired', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup, { config: { offerWindowMs: HOUR } });
    const offerA = offerOf(context, 'inst-A');
    // The clock reaches the deadline; the worker has not run the timer yet.
    setup.clock.set(offerA.deadline);
    const late = await expectError(setup.service.accept(offerA.offerId, staffOf('inst-A')), 'OFFER_EXPIRED');
    expect(late.message).toMatch(/expired/);
    expect(offerOf((await dispatchState(setup, dispatchId)).context, 'inst-A').status).toBe('open');
    await drain(setup);
    expect(offerOf((await dispatchState(setup, dispatchId)).context, 'inst-A').status).toBe('expired');
    await expectError(setup.service.accept(offerA.offerId, staffOf('inst-A')), 'OFFER_EXPIRED');
    // One millisecond earlier is in time.
    const offerD = offerOf((await dispatchState(setup, dispatchId)).context, 'inst-D');
    setup.clock.set(offerD.deadline - 1);
    await setup.service.accept(offerD.offerId, staffOf('inst-D'));
    expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-D']);
  });

  it('refuses a second acceptance and another institution’s acceptance; freezes once', async () => {
    const setup = setupDispatch();
    const { context } = await startDispatch(setup);
    const offerA = offerOf(context, 'inst-A');
    await expectError(setup.service.accept(offerA.offerId, staffOf('inst-B')), 'FORBIDDEN');
    await expectError(setup.service.accept(offerA.offerId, customerManager), 'FORBIDDEN');
    await setup.service.accept(offerA.offerId, staffOf('inst-A'));
    await expectError(setup.service.accept(offerA.offerId, staffOf('inst-A')), 'OFFER_ALREADY_ANSWERED');
    await expectError(
      setup.service.decline(offerA.offerId, 'changed mind', staffOf('inst-A')),
      'OFFER_ALREADY_ANSWERED',
    );
    expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-A']);
  });

  it('fails an acceptance the position does not cover with the typed error, and changes nothing', async () => {
    const setup = setupDispatch({ available: { 'inst-A': 4_999_999 } });
    const { context, state, dispatchId } = await startDispatch(setup);
    const before = setup.events.length;
    await expectError(
      setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A')),
      'POSITION_INSUFFICIENT',
    );
    const after = await dispatchState(setup, dispatchId);
    expect(after.state.rowVersion).toBe(state.rowVersion);
    expect(offerOf(after.context, 'inst-A').status).toBe('open');
    expect(after.context.choiceDeadline).toBeNull();
    expect(await committedMovements(setup.persistence)).toEqual([]);
    await drain(setup);
    expect(setup.events.length).toBe(before);
    // The freeze was attempted inside a transaction of the persistence, which rolled back.
    expect(setup.positions.calls.map((c) => `${c.kind} ${c.key}`)).toEqual([
      `freeze ${offerOf(context, 'inst-A').offerId}:freeze`,
    ]);
  });

  it('the choice keeps the chosen freeze and releases every other in the same transaction', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    await setup.service.accept(offerOf(context, 'inst-B').offerId, staffOf('inst-B'));
    await expectError(setup.service.choose(dispatchId, 'inst-C', customerManager), 'INSTITUTION_NOT_ACCEPTED');
    await expectError(setup.service.choose(dispatchId, 'inst-Z', customerManager), 'INSTITUTION_NOT_ACCEPTED');
    await expectError(setup.service.choose(dispatchId, 'inst-A', followUp), 'FORBIDDEN');

    // A release that fails aborts the whole choice: nothing chosen, nothing released, nothing announced.
    setup.positions.options.failRelease = 'inst-B';
    await expect(setup.service.choose(dispatchId, 'inst-A', customerManager)).rejects.toThrow('release failed');
    const unchanged = await dispatchState(setup, dispatchId);
    expect(unchanged.state.stateValue).toBe('offering');
    expect(offerSummary(unchanged.context)).toEqual(['inst-A accepted', 'inst-B accepted', 'inst-C open']);
    expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-A', 'freeze inst-B']);

    setup.positions.options.failRelease = null;
    const view = await setup.service.choose(dispatchId, 'inst-A', customerManager);
    expect(view).toMatchObject({ state: 'chosen', finished: true, outcome: 'CHOSEN', chosenInstitutionId: 'inst-A' });
    expect(offerSummary(view as never)).toEqual(['inst-A chosen', 'inst-B released', 'inst-C withdrawn']);
    expect(await committedMovements(setup.persistence)).toEqual(['freeze inst-A', 'freeze inst-B', 'release inst-B']);
    const releaseCall = setup.positions.calls.filter((c) => c.kind === 'release').at(-1)!;
    expect(releaseCall.key).toBe(`${offerOf(context, 'inst-B').offerId}:release`);
    await drain(setup);
    expect(eventTypes(setup).slice(-3).sort()).toEqual([
      'dispatch.chosen',
      'dispatch.not-chosen',
      'dispatch.offer.withdrawn',
    ]);
    expect(eventTypes(setup)).toContain('dispatch.chosen');
    expect(setup.events.find((e) => e.type === 'dispatch.not-chosen')?.payload).toMatchObject({
      institutionId: 'inst-B',
      reason: 'other-chosen',
    });
    // The dispatch is over: the open offer's timers went with it.
    setup.clock.advance(30 * 24 * HOUR);
    expect((await setup.runtime.runOnce()).timersFired).toBe(0);
    await expectError(setup.service.accept(offerOf(context, 'inst-C').offerId, staffOf('inst-C')), 'DISPATCH_FINISHED');
  });

  it('reject-all releases every acceptance and goes on offering; a new acceptance opens a new choice window', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    await expectError(setup.service.rejectAll(dispatchId, 'none suits', customerManager), 'NOTHING_ACCEPTED');
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    setup.clock.advance(HOUR);
    await setup.service.accept(offerOf(context, 'inst-B').offerId, staffOf('inst-B'));
    const firstWindow = (await dispatchState(setup, dispatchId)).context.choiceDeadline;
    expect(firstWindow).toBe(context.startedAt + 72 * HOUR);
    await expectError(setup.service.rejectAll(dispatchId, '', customerManager), 'INVALID_INPUT');
    setup.clock.advance(HOUR);
    const view = await setup.service.rejectAll(dispatchId, 'rates too high', customerManager);
    expect(offerSummary(view as never)).toEqual([
      'inst-A released',
      'inst-B released',
      'inst-C open',
      'inst-D open',
      'inst-E open',
    ]);
    expect(view.choiceDeadline).toBeNull();
    expect(view.interventions).toMatchObject([{ action: 'REJECT_ALL', actorId: 'carl', reason: 'rates too high' }]);
    expect(await committedMovements(setup.persistence)).toEqual([
      'freeze inst-A',
      'freeze inst-B',
      'release inst-A',
      'release inst-B',
    ]);
    // The old choice window no longer applies.
    setup.clock.set(firstWindow!);
    await drain(setup);
    expect((await dispatchState(setup, dispatchId)).state.stateValue).not.toBe('choiceExpired');
  });

  it('a choice window that passes releases every acceptance on its timer: CHOICE_EXPIRED', async () => {
    const setup = setupDispatch();
    const { context, dispatchId } = await startDispatch(setup);
    await setup.service.accept(offerOf(context, 'inst-A').offerId, staffOf('inst-A'));
    setup.clock.advance(2 * HOUR);
    await setup.service.accept(offerOf(context, 'inst-B').offerId, staffOf('inst-B'));
    // The open offer expires at 24 h and nobody more can be offered after the dispatch window; two stay accepted.
    setup.clock.advance(24 * HOUR);
    await drain(setup);
    expect((await dispatchState(setup, dispatchId)).state.stateValue).toBe('offering');
    setup.clock.set(context.startedAt + 72 * HOUR - 1);
    await drain(setup);
    expect((await dispatchState(setup, dispatchId)).state.stateValue).toBe('offering');
    setup.clock.advance(1);
    await drain(setup);
    const { state, context: end } = await dispatchState(setup, dispatchId);
    expect(state).toMatchObject({ stateValue: 'choiceExpired', output: { outcome: 'CHOICE_EXPIRED' } });
    expect(offerSummary(end).slice(0, 2)).toEqual(['inst-A released', 'inst-B released']);
    expect(await committedMovements(setup.persistence)).toEqual([
      'freeze inst-A',
      'freeze inst-B',
      'release inst-A',
      'release inst-B',
    ]);
    expect(eventTypes(setup)).toContain('dispatch.choice-expired');
    await expectError(setup.service.choose(dispatchId, 'inst-A', customerManager), 'DISPATCH_FINISHED');
  });
});
