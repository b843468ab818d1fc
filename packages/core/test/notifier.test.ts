import { describe, expect, it } from 'vitest';
import { createMemoryNotifier } from '../src/memory/index.js';
import { runNotifierContract } from '../src/testing/index.js';
import { complaintSetup, cs, DAY, intake } from './dispatch-complaint-fixtures.js';

runNotifierContract({
  name: 'memory',
  async create() {
    const notifier = createMemoryNotifier();
    return { notifier, received: async (recipient) => notifier.for(recipient) };
  },
});

describe('notifications go through the outbox', () => {
  it('a transport that fails is retried under the same id, and the notification is delivered once', async () => {
    const { service, notifier, clock, drain } = await complaintSetup();
    await service.receive(cs, intake('TN-0001'));
    await service.accept(cs, 'TN-0001');
    notifier.failNext(2);
    await service.route(cs, 'TN-0001', { kind: 'institution', institutionId: 'inst-a' });
    await drain();
    expect(notifier.for({ kind: 'institution', id: 'inst-a' })).toEqual([]);
    // Backoff: the retries fall due as time passes.
    for (let i = 0; i < 4; i++) {
      clock.advance(60_000);
      await drain();
    }
    expect(notifier.attempts()).toBe(3);
    expect(notifier.for({ kind: 'institution', id: 'inst-a' }).map((n) => n.id)).toEqual([
      'complaint:TN-0001:complaint.routed:institution:inst-a',
    ]);
  });

  it('nothing is sent inline by a command: only the worker delivers, after the transition committed', async () => {
    const { service, notifier, drain } = await complaintSetup();
    await service.receive(cs, intake('TN-0002'));
    await service.accept(cs, 'TN-0002');
    await service.route(cs, 'TN-0002', { kind: 'institution', institutionId: 'inst-a' });
    expect(notifier.attempts()).toBe(0);
    await drain();
    expect(notifier.attempts()).toBe(1);
  });

  it('the notification is a pure function of saved state: the same id and data whenever the worker runs', async () => {
    const first = await complaintSetup();
    const later = await complaintSetup();
    for (const setup of [first, later]) {
      await setup.service.receive(cs, intake('TN-0003'));
      await setup.service.accept(cs, 'TN-0003');
      await setup.service.route(cs, 'TN-0003', { kind: 'institution', institutionId: 'inst-a' });
    }
    await first.drain();
    later.clock.advance(DAY - 1);
    await later.drain();
    expect(later.notifier.delivered()).toEqual(first.notifier.delivered());
  });
});
