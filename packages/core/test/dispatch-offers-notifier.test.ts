import { describe, expect, it } from 'vitest';
import { notifierDelivery } from '../src/index.js';
import { createMemoryNotifier } from '../src/memory/index.js';
import { drain, HOUR, offerOf, setupDispatch, staffOf, startDispatch } from './dispatch-offers-fixtures.js';

describe('notifierDelivery: the dispatch workflow through the Notifier port', () => {
  it('tells each institution of its offer and its deadline, and the desk when the customer may choose', async () => {
    const notifier = createMemoryNotifier();
    const setup = setupDispatch({ notify: notifierDelivery(notifier, { choiceDesk: 'follow-up-desk' }) });
    const { context, dispatchId } = await startDispatch(setup, { config: { offerWindowMs: 10 * HOUR } });

    const offerA = offerOf(context, 'inst-A');
    const toA = notifier.for({ kind: 'institution', id: 'inst-A' });
    expect(toA).toEqual([
      {
        id: `${dispatchId}:${offerA.offerId}:new`,
        recipient: { kind: 'institution', id: 'inst-A' },
        type: 'offer.new',
        data: {
          dispatchId,
          applicationId: 'APP1',
          offerId: offerA.offerId,
          deadline: offerA.deadline,
          amountFen: 5_000_000,
        },
      },
    ]);
    expect(['inst-B', 'inst-C'].map((id) => notifier.for({ kind: 'institution', id }).map((n) => n.type))).toEqual([
      ['offer.new'],
      ['offer.new'],
    ]);
    expect(notifier.for({ kind: 'institution', id: 'inst-D' })).toEqual([]);

    // Two hours before the deadline the reminder timer fires.
    setup.clock.set(offerA.deadline - 2 * HOUR);
    await drain(setup);
    expect(notifier.for({ kind: 'institution', id: 'inst-A' }).map((n) => n.type)).toEqual([
      'offer.new',
      'offer.deadline-approaching',
    ]);

    await setup.service.accept(offerA.offerId, staffOf('inst-A'));
    await drain(setup);
    const [choice, ...more] = notifier.for({ kind: 'staff', id: 'follow-up-desk' });
    expect(more).toEqual([]);
    expect(choice).toMatchObject({
      type: 'dispatch.choice-open',
      data: { dispatchId, applicationId: 'APP1', acceptedInstitutionIds: ['inst-A'] },
    });
    // Redelivery of the same step's notifications is deduplicated by id, not repeated.
    const before = notifier.delivered().length;
    await drain(setup);
    expect(notifier.delivered()).toHaveLength(before);
  });
});
