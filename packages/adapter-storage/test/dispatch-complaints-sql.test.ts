import {
  type ComplaintIntake,
  complaintWorkflow,
  createComplaintService,
  createRatingService,
  createRuntime,
  type DispatchActor,
  type DomainEvent,
  getInstitution,
  institutionRanking,
  ledgerTopUp,
  type Persistence,
  registerInstitution,
} from '@sealflow/core';
import { createManualClock, createMemoryNotifier } from '@sealflow/core/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { institutionInput } from '../../core/test/dispatch-ledger-scenarios.js';
import { persistenceBackends } from './support/postgres.js';

/**
 * Complaints and ratings on real SQL: the record, the workflow and its timer commit together, and the races the
 * rules must win — many people confirming one penalty, many ratings of one side of one application — hold with
 * concurrent transactions.
 */
const DAY = 86_400_000;
const cs: DispatchActor = { id: 'cs-lin', roles: ['customer-service'] };
const supervisor: DispatchActor = { id: 'sup-wang', roles: ['review-supervisor'] };
const director: DispatchActor = { id: 'dir-chen', roles: ['review-supervisor'] };
const staffA: DispatchActor = { id: 'a-staff', roles: ['institution'], institutionId: 'inst-a' };

const backends = await persistenceBackends('complaints');

let persistence: Persistence;

function setup() {
  const clock = createManualClock();
  const notifier = createMemoryNotifier();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: [complaintWorkflow({ notifier })] });
  const service = createComplaintService({ runtime, reportWithinMs: 3 * DAY });
  const events: DomainEvent[] = [];
  runtime.onEvent((event) => void events.push(event));
  const drain = async () => {
    for (let i = 0; i < 20; i++) {
      const pass = await runtime.runOnce();
      if (pass.timersFired + pass.effectsSucceeded + pass.effectsRetried + pass.eventsDelivered === 0) return;
    }
  };
  return { clock, notifier, runtime, service, events, drain };
}

const intake = (complaintNo: string): ComplaintIntake => ({
  complaintNo,
  subject: '多收服务费',
  content: '客户反映机构多收服务费。',
  contact: { name: '王小明', mobile: '13812345678' },
  customerId: 'cust-001',
  institutionId: 'inst-a',
});

async function toPenaltyConfirmation(service: ReturnType<typeof setup>['service'], no: string) {
  await service.receive(cs, intake(no));
  await service.accept(cs, no);
  await service.route(cs, no, { kind: 'institution', institutionId: 'inst-a' });
  await service.report(staffA, no, { talk: '已联系客户。', outcome: '已退还。' });
  await service.confirmReport(supervisor, no);
  await service.investigate(supervisor, no, { founded: true, findings: '属实。' });
  await service.decide(supervisor, no, {
    penalty: { kind: 'fine', amountFen: 20_000 },
    responsibleId: 'sup-wang',
    superiorId: 'dir-chen',
    summary: '罚款 200 元。',
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`complaints and ratings on ${backend.name}`, () => {
    beforeAll(async () => {
      persistence = await backend.open();
      await persistence.transaction((tx) => registerInstitution(tx, institutionInput('inst-a'), 0));
    });
    afterAll(async () => {
      await persistence.close();
      await backend.cleanup();
    });

    it('the report deadline fires from the database and escalates once; the record follows the workflow', async () => {
      const { service, clock, drain, events, notifier } = setup();
      await service.receive(cs, intake('SQL-C-1'));
      await service.accept(cs, 'SQL-C-1');
      await service.route(cs, 'SQL-C-1', { kind: 'institution', institutionId: 'inst-a' });
      clock.advance(3 * DAY);
      await drain();
      clock.advance(3 * DAY);
      await drain();
      expect(events.filter((e) => e.type === 'dispatch.complaint.report-overdue')).toHaveLength(1);
      expect(await service.get(staffA, 'SQL-C-1')).toMatchObject({ stage: 'with-institution', reportOverdue: true });
      expect(notifier.for({ kind: 'institution', id: 'inst-a' }).map((n) => n.type)).toEqual([
        'complaint.routed',
        'complaint.report-overdue',
      ]);
    });

    it('twenty people confirming one penalty at once: the two named ones count, decided and recorded once', async () => {
      const { service, drain, events } = setup();
      await toPenaltyConfirmation(service, 'SQL-C-2');
      const callers: DispatchActor[] = [];
      for (let i = 0; i < 6; i++)
        callers.push(supervisor, director, { id: `other-${i}`, roles: ['review-supervisor'] });
      const results = await Promise.allSettled(callers.map((actor) => service.confirmPenalty(actor, 'SQL-C-2')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      for (const result of results) {
        if (result.status === 'rejected') {
          expect(['FORBIDDEN', 'TWO_PERSON_RULE', 'EVENT_NOT_ACCEPTED']).toContain(result.reason.code);
        }
      }
      const view = await service.get(cs, 'SQL-C-2');
      expect(view.stage).toBe('awaiting-feedback');
      expect(view.confirmations.map((c) => c.actorId).sort()).toEqual(['dir-chen', 'sup-wang']);
      await drain();
      expect(events.filter((e) => e.type === 'dispatch.complaint.decided').map((e) => e.payload)).toEqual([
        {
          type: 'dispatch.complaint.decided',
          complaintNo: 'SQL-C-2',
          institutionId: 'inst-a',
          founded: true,
          penalty: { kind: 'fine', amountFen: 20_000 },
        },
      ]);
      const { stats } = (await persistence.transaction((tx) => getInstitution(tx, 'inst-a'))).record;
      expect(stats).toMatchObject({ complaintsFounded: 1, penaltiesFen: 20_000 });
    });

    it('a suspension penalty: recorded once under racing confirmations; ranked again only once it has run out', async () => {
      const { service, clock } = setup();
      const staffS: DispatchActor = { id: 's-staff', roles: ['institution'], institutionId: 'inst-s' };
      await persistence.transaction(async (tx) => {
        for (const id of ['inst-s', 'inst-t']) {
          await registerInstitution(tx, institutionInput(id), 0);
          await ledgerTopUp(tx, { institutionId: id, key: `seed-${id}`, amountFen: 90_000_000, account: 'deposit' }, 0);
        }
      });
      const no = 'SQL-C-3';
      await service.receive(cs, { ...intake(no), institutionId: 'inst-s' });
      await service.accept(cs, no);
      await service.route(cs, no, { kind: 'institution', institutionId: 'inst-s' });
      await service.report(staffS, no, { talk: '已联系客户。', outcome: '已处理。' });
      await service.confirmReport(supervisor, no);
      await service.investigate(supervisor, no, { founded: true, findings: '属实。' });
      await service.decide(supervisor, no, {
        penalty: { kind: 'suspension', days: 5 },
        responsibleId: 'sup-wang',
        superiorId: 'dir-chen',
        summary: '暂停派单 5 天。',
      });
      await service.confirmPenalty(supervisor, no);
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => service.confirmPenalty(director, no)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const suspended = (await persistence.transaction((tx) => getInstitution(tx, 'inst-s'))).record;
      expect(suspended).toMatchObject({
        status: 'SUSPENDED',
        suspendedUntil: clock.now() + 5 * DAY,
        stats: { complaintsFounded: 1, penaltiesFen: 0 },
      });
      const rank = institutionRanking({ persistence });
      const input = { applicationId: 'SQL-APP-2', amountFen: 1_000_000, region: '440305', category: 'credit' };
      const ranked = async () =>
        (await rank({ ...input, excluded: ['inst-a'], limit: 10, at: clock.now() })).filter((id) =>
          ['inst-s', 'inst-t'].includes(id),
        );
      expect(await ranked()).toEqual(['inst-t']);
      clock.advance(5 * DAY - 1);
      expect(await ranked()).toEqual(['inst-t']);
      clock.advance(1);
      expect((await ranked()).sort()).toEqual(['inst-s', 'inst-t']);
    });

    it('an institution stored before complaint statistics existed loads with none', async () => {
      const input = institutionInput('inst-old');
      const { status: _status, ...profile } = input;
      const stats = { offered: 3, accepted: 2, declined: 1, expired: 0, abandoned: 0, successes: 1, failures: 0 };
      const data = {
        ...profile,
        status: 'ACTIVE',
        openCount: 0,
        stats: { ...stats, amountFen: 100, responseMsTotal: 9, responses: 3 },
      };
      await persistence.transaction((tx) =>
        tx.entities.insert({
          kind: 'dispatch-institution',
          id: 'inst-old',
          data,
          tags: { status: 'ACTIVE' },
          uniqueKey: `credit-code:${input.creditCode}`,
          createdAt: 0,
        }),
      );
      const loaded = (await persistence.transaction((tx) => getInstitution(tx, 'inst-old'))).record;
      expect(loaded).toMatchObject({
        suspendedUntil: null,
        stats: { ...stats, complaintsFounded: 0, penaltiesFen: 0 },
      });
    });

    it('many concurrent ratings of one side of one application store exactly one', async () => {
      const clock = createManualClock();
      const ratings = createRatingService({ persistence, clock, settled: async () => true });
      const settler: DispatchActor = { id: 'set-1', roles: ['settler'] };
      const followUp: DispatchActor = { id: 'fu-1', roles: ['follow-up-manager'] };
      const rate = (i: number) =>
        ratings.rate(i % 3 === 0 ? followUp : settler, {
          applicationId: 'SQL-APP-1',
          from: 'platform',
          institutionId: 'inst-sql',
          score: i % 2 ? 5 : 4,
          comment: '',
        });
      const results = await Promise.allSettled(Array.from({ length: 24 }, (_, i) => rate(i)));
      const stored = await ratings.ratings(settler, 'inst-sql');
      expect(stored).toHaveLength(1);
      for (const result of results) {
        if (result.status === 'fulfilled') expect(result.value).toEqual(stored[0]);
        else expect(result.reason.code).toBe('DUPLICATE');
      }
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      expect(await ratings.meanScore(settler, 'inst-sql')).toMatchObject({ count: 1, mean: stored[0]!.score });
    });
  });
}
