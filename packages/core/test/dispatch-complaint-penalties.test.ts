import { describe, expect, it } from 'vitest';
import type { Penalty } from '../src/dispatch/complaint.js';
import type { ComplaintService } from '../src/dispatch/complaint-service.js';
import { institutionRanking, ledgerPositions } from '../src/dispatch/dispatch-wiring.js';
import { Institution, institutionRepository, registerInstitution } from '../src/dispatch/institution.js';
import { ledgerTopUp } from '../src/dispatch/ledger.js';
import type { RankCandidatesInput } from '../src/dispatch/offer-service.js';
import type { DispatchActor } from '../src/dispatch/roles.js';
import {
  complaintSetup,
  cs,
  DAY,
  director,
  expectCode,
  followUp,
  intake,
  staffA,
  supervisor,
} from './dispatch-complaint-fixtures.js';
import { institutionInput } from './dispatch-ledger-scenarios.js';
import { setupDispatch, startDispatch } from './dispatch-offers-fixtures.js';

/** Take a complaint about `institutionId` to the penalty confirmation, with `penalty` proposed. */
async function toConfirmation(service: ComplaintService, no: string, penalty: Penalty, institutionId = 'inst-a') {
  const staff: DispatchActor = { id: `${institutionId}-staff`, roles: ['institution'], institutionId };
  await service.receive(cs, intake(no, { institutionId }));
  await service.accept(cs, no);
  await service.route(cs, no, { kind: 'institution', institutionId });
  await service.report(staff, no, { talk: '已联系客户。', outcome: '已处理。' });
  await service.confirmReport(followUp, no);
  await service.investigate(supervisor, no, { founded: true, findings: '属实。' });
  await service.decide(supervisor, no, {
    penalty,
    responsibleId: 'sup-wang',
    superiorId: 'dir-chen',
    summary: '处罚。',
  });
}

const rankingInput = (at: number | undefined): RankCandidatesInput => ({
  applicationId: 'APP-R',
  amountFen: 1_000_000,
  region: '440305',
  category: 'credit',
  excluded: [],
  limit: 10,
  ...(at !== undefined ? { at } : {}),
});

describe('a confirmed penalty is recorded against the institution', () => {
  it('a fine: one founded complaint and the fine counted once, whether the confirmation is repeated or raced', async () => {
    const { service, institution, clock } = await complaintSetup();
    await toConfirmation(service, 'TP-0001', { kind: 'fine', amountFen: 50_000 });
    await service.confirmPenalty(supervisor, 'TP-0001');
    expect((await institution('inst-a')).stats).toMatchObject({ complaintsFounded: 0, penaltiesFen: 0 });
    clock.advance(DAY);
    // The second confirmer's request sent five times at once (a client retrying): one transition, one count.
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => service.confirmPenalty(director, 'TP-0001')),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const after = await institution('inst-a');
    expect(after.stats).toMatchObject({ complaintsFounded: 1, penaltiesFen: 50_000 });
    expect(after).toMatchObject({ status: 'ACTIVE', suspendedUntil: null });
    // Retried once more after it committed, and carried on to the end: nothing counts again.
    await expectCode(service.confirmPenalty(director, 'TP-0001'), 'EVENT_NOT_ACCEPTED');
    await service.giveFeedback(cs, 'TP-0001', '机构已受罚。');
    expect(await institution('inst-a')).toEqual(after);
  });

  it('a suspension: SUSPENDED until the second confirmation plus its days; a warning only counts the complaint', async () => {
    const { service, institution, clock } = await complaintSetup();
    await toConfirmation(service, 'TP-0002', { kind: 'suspension', days: 7 });
    await service.confirmPenalty(director, 'TP-0002');
    clock.advance(2 * DAY);
    const confirmedAt = clock.now();
    await service.confirmPenalty(supervisor, 'TP-0002');
    expect(await institution('inst-a')).toMatchObject({
      status: 'SUSPENDED',
      suspendedUntil: confirmedAt + 7 * DAY,
      stats: { complaintsFounded: 1, penaltiesFen: 0 },
    });
    // A shorter suspension confirmed later does not cut the running one short; a warning just counts.
    await toConfirmation(service, 'TP-0003', { kind: 'suspension', days: 1 });
    await service.confirmPenalty(director, 'TP-0003');
    await service.confirmPenalty(supervisor, 'TP-0003');
    await toConfirmation(service, 'TP-0004', { kind: 'warning' });
    await service.confirmPenalty(director, 'TP-0004');
    await service.confirmPenalty(supervisor, 'TP-0004');
    expect(await institution('inst-a')).toMatchObject({
      status: 'SUSPENDED',
      suspendedUntil: confirmedAt + 7 * DAY,
      stats: { complaintsFounded: 3, penaltiesFen: 0 },
    });
  });

  it('a suspension by hand stays without an end; a penalty suspension does not give it one', async () => {
    const { service, institution, persistence } = await complaintSetup();
    await persistence.transaction((tx) =>
      registerInstitution(tx, { ...institutionInput('inst-a'), status: 'SUSPENDED' }, 0),
    );
    await toConfirmation(service, 'TP-0005', { kind: 'suspension', days: 3 });
    await service.confirmPenalty(director, 'TP-0005');
    await service.confirmPenalty(supervisor, 'TP-0005');
    expect(await institution('inst-a')).toMatchObject({ status: 'SUSPENDED', suspendedUntil: null });
  });

  it('an institution that is not registered fails the confirmation and nothing is kept; once registered, it counts', async () => {
    const { service, institution, persistence } = await complaintSetup();
    await toConfirmation(service, 'TP-0006', { kind: 'fine', amountFen: 9_900 }, 'inst-x');
    await service.confirmPenalty(director, 'TP-0006');
    await expectCode(service.confirmPenalty(supervisor, 'TP-0006'), 'NOT_FOUND');
    const stuck = await service.get(cs, 'TP-0006');
    expect(stuck.stage).toBe('confirming-penalty');
    expect(stuck.confirmations.map((c) => c.actorId)).toEqual(['dir-chen']);
    await persistence.transaction((tx) => registerInstitution(tx, institutionInput('inst-x'), 0));
    await service.confirmPenalty(supervisor, 'TP-0006');
    expect((await institution('inst-x')).stats).toMatchObject({ complaintsFounded: 1, penaltiesFen: 9_900 });
  });

  it('a refused, unfounded or suggested complaint, or one about platform staff, changes no institution', async () => {
    const { service, persistence } = await complaintSetup();
    const stored = () => persistence.transaction((tx) => institutionRepository.get(tx, 'inst-a'));
    const before = await stored();
    await service.receive(cs, intake('TP-0010'));
    await service.refuse(cs, 'TP-0010', '不属于受理范围。');
    await service.receive(cs, intake('TP-0011'));
    await service.recordSuggestion(cs, 'TP-0011', '感谢建议。');
    await service.receive(cs, intake('TP-0012'));
    await service.accept(cs, 'TP-0012');
    await service.route(cs, 'TP-0012', { kind: 'institution', institutionId: 'inst-a' });
    await service.report(staffA, 'TP-0012', { talk: '已联系客户。', outcome: '符合合同。' });
    await service.confirmReport(supervisor, 'TP-0012');
    await service.investigate(supervisor, 'TP-0012', { founded: false, findings: '不属实。' });
    await service.giveFeedback(cs, 'TP-0012', '经核实不属实。');
    await service.receive(cs, intake('TP-0013', { institutionId: undefined }));
    await service.accept(cs, 'TP-0013');
    await service.route(cs, 'TP-0013', { kind: 'platform', team: 'review' });
    await service.investigate(supervisor, 'TP-0013', { founded: true, findings: '属实。' });
    await service.decide(supervisor, 'TP-0013', {
      penalty: { kind: 'suspension', days: 30 },
      responsibleId: 'sup-wang',
      superiorId: 'dir-chen',
      summary: '停岗。',
    });
    await service.confirmPenalty(director, 'TP-0013');
    await service.confirmPenalty(supervisor, 'TP-0013');
    expect(await stored()).toEqual(before);
  });
});

describe('a penalty suspension ends by itself in ranking', () => {
  it('not ranked while suspended, ranked from the moment it ends; a suspension by hand never ends', async () => {
    const { service, persistence, clock } = await complaintSetup();
    await persistence.transaction(async (tx) => {
      await registerInstitution(tx, { ...institutionInput('inst-m'), status: 'SUSPENDED' }, 0);
      for (const id of ['inst-a', 'inst-b', 'inst-m']) {
        await ledgerTopUp(tx, { institutionId: id, key: `seed-${id}`, amountFen: 90_000_000, account: 'deposit' }, 0);
      }
    });
    await toConfirmation(service, 'TP-0020', { kind: 'suspension', days: 3 });
    await service.confirmPenalty(director, 'TP-0020');
    await service.confirmPenalty(supervisor, 'TP-0020');
    const ends = clock.now() + 3 * DAY;
    const rank = institutionRanking({ persistence });
    expect(await rank(rankingInput(clock.now()))).toEqual(['inst-b']);
    clock.advance(3 * DAY - 1);
    expect(await rank(rankingInput(clock.now()))).toEqual(['inst-b']);
    clock.advance(1);
    expect(clock.now()).toBe(ends);
    expect((await rank(rankingInput(clock.now()))).sort()).toEqual(['inst-a', 'inst-b']);
    // A ranking asked for without a time (from before rankings carried one) keeps every suspension.
    expect(await rank(rankingInput(undefined))).toEqual(['inst-b']);
    clock.advance(365 * DAY);
    expect(await rank(rankingInput(clock.now()))).not.toContain('inst-m');
  });

  it('a dispatch ranks at its own start time: suspended before the end, offered after it', async () => {
    const complaints = await complaintSetup();
    const { persistence, clock, service } = complaints;
    await persistence.transaction(async (tx) => {
      for (const id of ['inst-a', 'inst-b']) {
        await ledgerTopUp(tx, { institutionId: id, key: `seed-${id}`, amountFen: 90_000_000, account: 'deposit' }, 0);
      }
    });
    await toConfirmation(service, 'TP-0021', { kind: 'suspension', days: 2 });
    await service.confirmPenalty(director, 'TP-0021');
    await service.confirmPenalty(supervisor, 'TP-0021');
    await complaints.drain();
    const dispatch = setupDispatch({
      persistence,
      clock,
      positions: ledgerPositions(),
      rankCandidates: (p) => institutionRanking({ persistence: p }),
    });
    const during = { region: '440305', category: 'credit' };
    const first = await startDispatch(dispatch, { ...during, applicationId: 'APP-S1' });
    expect(first.context.offers.map((o) => o.institutionId)).toEqual(['inst-b']);
    clock.advance(2 * DAY);
    const later = await startDispatch(dispatch, { ...during, applicationId: 'APP-S2' });
    expect(later.context.offers.map((o) => o.institutionId).sort()).toEqual(['inst-a', 'inst-b']);
  });
});

describe('institutions stored before complaint statistics existed', () => {
  it('load with no complaints, no fines and no suspension end, and take a penalty', async () => {
    const { service, persistence, institution } = await complaintSetup();
    const old = await institution('inst-b');
    const { complaintsFounded: _c, penaltiesFen: _p, ...oldStats } = old.stats;
    const { suspendedUntil: _s, ...oldRecord } = old;
    const row = { ...oldRecord, id: 'inst-old', creditCode: institutionInput('x').creditCode, stats: oldStats };
    await persistence.transaction((tx) =>
      tx.entities.insert({
        kind: 'dispatch-institution',
        id: 'inst-old',
        data: row,
        tags: { status: 'ACTIVE' },
        uniqueKey: `credit-code:${row.creditCode}`,
        createdAt: 0,
      }),
    );
    const loaded = await institution('inst-old');
    expect(Institution.parse(row)).toEqual(loaded);
    expect(loaded).toMatchObject({ suspendedUntil: null, stats: { complaintsFounded: 0, penaltiesFen: 0 } });
    await toConfirmation(service, 'TP-0030', { kind: 'fine', amountFen: 100 }, 'inst-old');
    await service.confirmPenalty(director, 'TP-0030');
    await service.confirmPenalty(supervisor, 'TP-0030');
    expect((await institution('inst-old')).stats).toMatchObject({ complaintsFounded: 1, penaltiesFen: 100 });
  });
});
