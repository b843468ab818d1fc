import { describe, expect, it } from 'vitest';
import type { DispatchActor } from '../src/dispatch/roles.js';
import {
  complaintSetup,
  cs,
  director,
  expectCode,
  followUp,
  intake,
  staffA,
  staffB,
  supervisor,
  teamLeader,
} from './dispatch-complaint-fixtures.js';

type Setup = Awaited<ReturnType<typeof complaintSetup>>;

async function routedToA(setup: Setup, no: string) {
  await setup.service.receive(cs, intake(no));
  await setup.service.accept(cs, no);
  await setup.service.route(cs, no, { kind: 'institution', institutionId: 'inst-a' });
}

async function confirmingPenalty(setup: Setup, no: string) {
  await routedToA(setup, no);
  await setup.service.report(staffA, no, { talk: '已联系客户。', outcome: '已处理。' });
  await setup.service.confirmReport(followUp, no);
  await setup.service.investigate(supervisor, no, { founded: true, findings: '属实。' });
  await setup.service.decide(supervisor, no, {
    penalty: { kind: 'suspension', days: 7 },
    responsibleId: 'sup-wang',
    superiorId: 'dir-chen',
    summary: '暂停派单 7 天。',
  });
}

describe('complaint rules: roles, institution scoping and the two-person rule', () => {
  it('each step needs its role; a refusal leaves the complaint where it was', async () => {
    const setup = await complaintSetup();
    const { service } = setup;
    await expectCode(service.receive(supervisor, intake('TR-0001')), 'FORBIDDEN');
    await expectCode(service.receive(staffA, intake('TR-0001')), 'FORBIDDEN');
    await service.receive(cs, intake('TR-0001'));
    await expectCode(service.accept(followUp, 'TR-0001'), 'FORBIDDEN');
    await expectCode(service.refuse(staffA, 'TR-0001', '不受理'), 'FORBIDDEN');
    // Institution staff that also claim a platform role are still institution staff.
    await expectCode(service.accept({ ...staffA, roles: ['institution', 'customer-service'] }, 'TR-0001'), 'FORBIDDEN');
    await service.accept(cs, 'TR-0001');
    await expectCode(service.route(followUp, 'TR-0001', { kind: 'platform', team: 'review' }), 'FORBIDDEN');
    await expectCode(service.route(cs, 'TR-0001', { kind: 'institution', institutionId: 'inst-b' }), 'INVALID_INPUT');
    await expectCode(service.route(cs, 'TR-0001', { kind: 'bank' } as never), 'INVALID_INPUT');
    expect((await service.get(cs, 'TR-0001')).stage).toBe('accepted');
    await service.route(cs, 'TR-0001', { kind: 'platform', team: 'business-department' });
    // The business department's team role, not another team's, may review it.
    await expectCode(service.investigate(teamLeader, 'TR-0001', { founded: true, findings: 'x' }), 'FORBIDDEN');
    await service.investigate({ id: 'biz-li', roles: ['business-department'] }, 'TR-0001', {
      founded: true,
      findings: '属实。',
    });
    await expectCode(
      service.decide(followUp, 'TR-0001', {
        penalty: { kind: 'warning' },
        responsibleId: 'a',
        superiorId: 'b',
        summary: 'x',
      }),
      'FORBIDDEN',
    );
    expect((await service.get(cs, 'TR-0001')).stage).toBe('deciding');
  });

  it('institution staff see and act on a complaint only once it is routed to their own institution', async () => {
    const setup = await complaintSetup();
    const { service } = setup;
    await service.receive(cs, intake('TR-0002'));
    await expectCode(service.get(staffA, 'TR-0002'), 'FORBIDDEN');
    await service.accept(cs, 'TR-0002');
    await service.route(cs, 'TR-0002', { kind: 'institution', institutionId: 'inst-a' });
    expect((await service.get(staffA, 'TR-0002')).complaintNo).toBe('TR-0002');
    await expectCode(service.get(staffB, 'TR-0002'), 'FORBIDDEN');
    await expectCode(service.contact(staffB, 'TR-0002'), 'FORBIDDEN');
    await expectCode(service.report(staffB, 'TR-0002', { talk: 'x', outcome: 'y' }), 'FORBIDDEN');
    await expectCode(service.report(cs, 'TR-0002', { talk: 'x', outcome: 'y' }), 'FORBIDDEN');
    await expectCode(service.list(staffB, { institutionId: 'inst-a' }), 'FORBIDDEN');
    expect((await service.list(staffB)).map((c) => c.complaintNo)).toEqual([]);
    expect((await service.list(staffA)).map((c) => c.complaintNo)).toEqual(['TR-0002']);
    // The institution calls the customer back, so it reads the contact; a settler does not.
    expect(await service.contact(staffA, 'TR-0002')).toEqual({ name: '王小明', mobile: '13812345678' });
    await expectCode(service.contact({ id: 'set-1', roles: ['settler'] }, 'TR-0002'), 'FORBIDDEN');
    expect((await service.get({ id: 'set-1', roles: ['settler'] }, 'TR-0002')).contact.mobile).toBe('138****5678');
    await service.report(staffA, 'TR-0002', { talk: '已联系。', outcome: '已处理。' });
    // Only the platform confirms the report, never the institution itself.
    await expectCode(service.confirmReport(staffA, 'TR-0002'), 'FORBIDDEN');
  });

  it('the penalty needs two different people: the one named responsible and the named superior, once each', async () => {
    const setup = await complaintSetup();
    const { service, drain, payloads } = setup;
    await routedToA(setup, 'TR-0003');
    await service.report(staffA, 'TR-0003', { talk: '已联系。', outcome: '已处理。' });
    await service.confirmReport(followUp, 'TR-0003');
    await service.investigate(supervisor, 'TR-0003', { founded: true, findings: '属实。' });
    const sameTwice = {
      penalty: { kind: 'warning' as const },
      responsibleId: 'sup-wang',
      superiorId: ' SUP-WANG ',
      summary: '警告。',
    };
    await expectCode(service.decide(supervisor, 'TR-0003', sameTwice), 'TWO_PERSON_RULE');
    await expectCode(
      service.decide(supervisor, 'TR-0003', {
        ...sameTwice,
        superiorId: 'dir-chen',
        penalty: { kind: 'fine', amountFen: -1 },
      }),
      'INVALID_INPUT',
    );
    await expectCode(
      service.decide(supervisor, 'TR-0003', {
        ...sameTwice,
        superiorId: 'dir-chen',
        penalty: { kind: 'fine', amountFen: 1.5 },
      }),
      'INVALID_INPUT',
    );
    await service.decide(supervisor, 'TR-0003', { ...sameTwice, superiorId: 'dir-chen' });
    await expectCode(service.confirmPenalty(followUp, 'TR-0003'), 'FORBIDDEN');
    await service.confirmPenalty(supervisor, 'TR-0003');
    // The same person again, under another spelling of their id, is refused.
    await expectCode(service.confirmPenalty({ ...supervisor, id: 'Sup-Wang' }, 'TR-0003'), 'TWO_PERSON_RULE');
    await expectCode(service.confirmPenalty(supervisor, 'TR-0003'), 'TWO_PERSON_RULE');
    expect((await service.get(cs, 'TR-0003')).stage).toBe('confirming-penalty');
    await drain();
    expect(payloads('dispatch.complaint.decided')).toEqual([]);
    await service.confirmPenalty(director, 'TR-0003');
    await drain();
    expect(payloads('dispatch.complaint.decided')).toHaveLength(1);
  });

  it('the machine itself refuses a caller who skips the service', async () => {
    const setup = await complaintSetup();
    await confirmingPenalty(setup, 'TR-0004');
    const base = { actorId: 'sup-wang', roles: ['review-supervisor'], at: setup.clock.now() };
    await setup.runtime.send('TR-0004', { type: 'CONFIRM_PENALTY', ...base });
    await expectCode(setup.runtime.send('TR-0004', { type: 'CONFIRM_PENALTY', ...base }), 'EVENT_NOT_ACCEPTED');
    await expectCode(
      setup.runtime.send('TR-0004', { type: 'CONFIRM_PENALTY', ...base, actorId: 'mallory' }),
      'EVENT_NOT_ACCEPTED',
    );
    expect((await setup.service.get(cs, 'TR-0004')).confirmations).toHaveLength(1);
  });

  it('many people confirming at once: exactly the two named confirm, the penalty is decided once', async () => {
    const setup = await complaintSetup();
    await confirmingPenalty(setup, 'TR-0005');
    const callers: DispatchActor[] = [];
    for (let i = 0; i < 10; i++) callers.push(supervisor, director, { id: `other-${i}`, roles: ['review-supervisor'] });
    const results = await Promise.allSettled(callers.map((actor) => setup.service.confirmPenalty(actor, 'TR-0005')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    for (const result of results) {
      if (result.status === 'rejected') {
        expect(['FORBIDDEN', 'TWO_PERSON_RULE', 'EVENT_NOT_ACCEPTED']).toContain(result.reason.code);
      }
    }
    const view = await setup.service.get(cs, 'TR-0005');
    expect(view.stage).toBe('awaiting-feedback');
    expect(view.confirmations.map((c) => c.actorId).sort()).toEqual(['dir-chen', 'sup-wang']);
    await setup.drain();
    expect(setup.payloads('dispatch.complaint.decided')).toHaveLength(1);
  });

  it('commands out of turn say what the complaint waits for', async () => {
    const setup = await complaintSetup();
    await setup.service.receive(cs, intake('TR-0006'));
    const error = await expectCode(
      setup.service.route(cs, 'TR-0006', { kind: 'platform', team: 'review' }),
      'EVENT_NOT_ACCEPTED',
    );
    expect(error.message).toContain('received');
    await expectCode(setup.service.get(cs, 'NO-SUCH'), 'NOT_FOUND');
  });

  it('bad intake is refused naming the field, never the value, and writes nothing', async () => {
    const setup = await complaintSetup();
    const bad = [
      intake('x'),
      intake('TR-0007', { subject: '   ' }),
      intake('TR-0007', { contact: { name: '王小明', mobile: '1381234567' } }),
      intake('TR-0007', { contact: { name: '', mobile: '13812345678' } }),
      intake('TR-0007', { receivedAt: -5 }),
    ];
    for (const input of bad) await expectCode(setup.service.receive(cs, input), 'INVALID_INPUT');
    expect(await setup.service.list(cs)).toEqual([]);
    expect(await setup.runtime.get('TR-0007')).toBeNull();
  });
});
