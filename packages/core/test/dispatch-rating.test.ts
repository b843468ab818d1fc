import { describe, expect, it } from 'vitest';
import { createRatingService, type Rating, ratingRecords, recordRating } from '../src/dispatch/rating.js';
import type { DispatchActor } from '../src/dispatch/roles.js';
import { createManualClock, createMemoryPersistence } from '../src/memory/index.js';
import { expectCode } from './dispatch-complaint-fixtures.js';

const settler: DispatchActor = { id: 'set-1', roles: ['settler'] };
const followUp: DispatchActor = { id: 'fu-1', roles: ['follow-up-manager'] };
const staffA: DispatchActor = { id: 'a-staff', roles: ['institution'], institutionId: 'inst-a' };
const staffB: DispatchActor = { id: 'b-staff', roles: ['institution'], institutionId: 'inst-b' };

function setup() {
  const clock = createManualClock();
  const persistence = createMemoryPersistence();
  const settledApps = new Set(['APP-1/inst-a', 'APP-2/inst-a', 'APP-3/inst-a', 'APP-9/inst-b']);
  const service = createRatingService({
    persistence,
    clock,
    settled: async (_tx, applicationId, institutionId) => settledApps.has(`${applicationId}/${institutionId}`),
  });
  return { clock, persistence, service };
}

const ofA = (applicationId: string, score: number, comment = '放款及时') => ({
  applicationId,
  from: 'platform' as const,
  institutionId: 'inst-a',
  score,
  comment,
});

describe('ratings', () => {
  it('both sides rate once per application; the mean counts the platform’s scores of the institution', async () => {
    const { service, clock } = setup();
    const given = await service.rate(settler, ofA('APP-1', 5));
    expect(given).toEqual({ ...ofA('APP-1', 5), by: 'set-1', at: clock.now() });
    await service.rate(followUp, ofA('APP-2', 4));
    await service.rate(staffA, {
      applicationId: 'APP-1',
      from: 'institution',
      institutionId: 'inst-a',
      score: 2,
      comment: '',
    });
    expect(await service.meanScore(settler, 'inst-a')).toEqual({ institutionId: 'inst-a', count: 2, mean: 4.5 });
    expect(await service.meanScore(settler, 'inst-b')).toEqual({ institutionId: 'inst-b', count: 0, mean: null });
    expect((await service.ratings(staffA, 'inst-a')).map((r) => [r.from, r.applicationId])).toEqual([
      ['institution', 'APP-1'],
      ['platform', 'APP-1'],
      ['platform', 'APP-2'],
    ]);
    expect(await service.ratings(staffA, 'inst-a', { from: 'institution' })).toHaveLength(1);
  });

  it('a repeat of the same rating is harmless; a different second rating is a DUPLICATE', async () => {
    const { service } = setup();
    const first = await service.rate(settler, ofA('APP-1', 5));
    expect(await service.rate(settler, ofA('APP-1', 5))).toEqual(first);
    await expectCode(service.rate(settler, ofA('APP-1', 1)), 'DUPLICATE');
    await expectCode(service.rate(followUp, ofA('APP-1', 5)), 'DUPLICATE');
    expect(await service.meanScore(settler, 'inst-a')).toMatchObject({ count: 1, mean: 5 });
  });

  it('many concurrent ratings of one side of one application: one is stored, the others are refused or the same', async () => {
    const { service } = setup();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => service.rate(i % 2 ? settler : followUp, ofA('APP-3', 1 + (i % 5)))),
    );
    const stored = (await service.ratings(settler, 'inst-a')).filter((r) => r.applicationId === 'APP-3');
    expect(stored).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'fulfilled') expect(result.value).toEqual(stored[0]);
      else expect(result.reason.code).toBe('DUPLICATE');
    }
  });

  it('scores are whole numbers from 1 to 5; bad input writes nothing', async () => {
    const { service } = setup();
    for (const score of [0, 6, 4.5, Number.NaN]) {
      await expectCode(service.rate(settler, ofA('APP-1', score)), 'INVALID_INPUT');
    }
    await expectCode(service.rate(settler, ofA('APP-1', 3, 'x'.repeat(501))), 'INVALID_INPUT');
    await expectCode(service.rate(settler, { ...ofA('APP-1', 3), applicationId: '' }), 'INVALID_INPUT');
    expect(await service.ratings(settler, 'inst-a')).toEqual([]);
  });

  it('only after settlement, only the right people, and institutions only see their own', async () => {
    const { service } = setup();
    await expectCode(service.rate(settler, ofA('APP-7', 5)), 'NOT_SETTLED');
    await expectCode(service.rate({ id: 'cs-1', roles: ['customer-service'] }, ofA('APP-1', 5)), 'FORBIDDEN');
    await expectCode(service.rate(staffA, ofA('APP-1', 5)), 'FORBIDDEN');
    await expectCode(
      service.rate(staffB, {
        applicationId: 'APP-1',
        from: 'institution',
        institutionId: 'inst-a',
        score: 1,
        comment: '',
      }),
      'FORBIDDEN',
    );
    await service.rate(settler, ofA('APP-1', 5));
    await expectCode(service.ratings(staffB, 'inst-a'), 'FORBIDDEN');
    await expectCode(service.meanScore(staffB, 'inst-a'), 'FORBIDDEN');
    expect(await service.meanScore(staffA, 'inst-a')).toMatchObject({ count: 1 });
  });

  it('recordRating works inside a caller’s transaction and rolls back with it', async () => {
    const { persistence } = setup();
    const rating: Rating = { ...ofA('APP-5', 4), by: 'set-1', at: 1 };
    await expect(
      persistence.transaction(async (tx) => {
        await recordRating(tx, rating);
        throw new Error('settlement failed after the rating');
      }),
    ).rejects.toThrow('settlement failed');
    expect(await persistence.transaction((tx) => ratingRecords.find(tx))).toEqual([]);
    await persistence.transaction((tx) => recordRating(tx, rating));
    await expectCode(
      persistence.transaction((tx) => recordRating(tx, { ...rating, score: 2 })),
      'DUPLICATE',
    );
  });
});
