import { describe, expect, it } from 'vitest';
import { complaintRecords } from '../src/dispatch/complaint.js';
import {
  complaintSetup,
  cs,
  DAY,
  director,
  followUp,
  intake,
  LEAKS,
  staffA,
  supervisor,
  teamLeader,
} from './dispatch-complaint-fixtures.js';

describe('complaint workflow: the paths a complaint takes', () => {
  it('accept → route to the institution → report → confirm → founded → decision → two confirmations → feedback', async () => {
    const { service, notifier, drain, payloads, persistence, events, runtime } = await complaintSetup();
    const received = await service.receive(cs, intake('TS-0001'));
    expect(received).toMatchObject({ stage: 'received', contact: { name: '王**', mobile: '138****5678' } });
    await service.accept(cs, 'TS-0001');
    const routed = await service.route(cs, 'TS-0001', { kind: 'institution', institutionId: 'inst-a' });
    expect(routed).toMatchObject({ stage: 'with-institution', routedInstitutionId: 'inst-a' });
    expect(routed.reportDueAt).toBe(Date.UTC(2026, 0, 1) + 3 * DAY);
    await drain();
    expect(notifier.for({ kind: 'institution', id: 'inst-a' })).toEqual([
      {
        id: 'complaint:TS-0001:complaint.routed:institution:inst-a',
        recipient: { kind: 'institution', id: 'inst-a' },
        type: 'complaint.routed',
        data: { complaintNo: 'TS-0001', reportDueAt: routed.reportDueAt },
      },
    ]);

    const reported = await service.report(staffA, 'TS-0001', {
      talk: '已于当日电话联系客户，解释费用构成。',
      outcome: '内部核实：服务费多收 200 元，已退还。',
    });
    expect(reported).toMatchObject({ stage: 'reported', report: { by: 'a-staff' } });
    await service.confirmReport(followUp, 'TS-0001');
    await service.investigate(supervisor, 'TS-0001', { founded: true, findings: '多收属实。' });
    const decided = await service.decide(supervisor, 'TS-0001', {
      penalty: { kind: 'fine', amountFen: 50_000 },
      responsibleId: 'sup-wang',
      superiorId: 'dir-chen',
      summary: '罚款 500 元。',
    });
    expect(decided).toMatchObject({ stage: 'confirming-penalty', penalty: { kind: 'fine', amountFen: 50_000 } });
    await service.confirmPenalty(supervisor, 'TS-0001');
    await drain();
    expect(payloads('dispatch.complaint.decided')).toEqual([]);
    const confirmed = await service.confirmPenalty(director, 'TS-0001');
    expect(confirmed.stage).toBe('awaiting-feedback');
    expect(confirmed.confirmations.map((c) => [c.actorId, c.as])).toEqual([
      ['sup-wang', 'responsible'],
      ['dir-chen', 'superior'],
    ]);
    const closed = await service.giveFeedback(cs, 'TS-0001', '经核实，机构已退还多收的服务费并受到处罚。');
    expect(closed).toMatchObject({ stage: 'closed', feedback: { by: 'cs-lin' } });
    expect((await runtime.get('TS-0001'))?.status).toBe('done');
    await drain();

    expect(payloads('dispatch.complaint.decided')).toEqual([
      {
        type: 'dispatch.complaint.decided',
        complaintNo: 'TS-0001',
        institutionId: 'inst-a',
        founded: true,
        penalty: { kind: 'fine', amountFen: 50_000 },
      },
    ]);
    expect(payloads('dispatch.complaint.closed')).toEqual([
      { type: 'dispatch.complaint.closed', complaintNo: 'TS-0001', outcome: 'resolved' },
    ]);
    expect(notifier.for({ kind: 'customer', id: 'cust-001' })).toEqual([
      {
        id: 'complaint:TS-0001:complaint.feedback:customer:cust-001',
        recipient: { kind: 'customer', id: 'cust-001' },
        type: 'complaint.feedback',
        data: { complaintNo: 'TS-0001', founded: true },
      },
    ]);
    // The record keeps the personal data and the text; nothing that leaves it does.
    const stored = await persistence.transaction((tx) => complaintRecords.get(tx, 'TS-0001'));
    expect(stored?.record.contact.mobile).toBe('13812345678');
    expect(JSON.stringify(events)).not.toMatch(LEAKS);
    expect(JSON.stringify(notifier.delivered())).not.toMatch(LEAKS);
    expect(JSON.stringify(await runtime.get('TS-0001'))).not.toMatch(LEAKS);
  });

  it('refused with a reply: closed at once, the reply kept, the customer notified', async () => {
    const { service, notifier, drain, payloads } = await complaintSetup();
    await service.receive(cs, intake('TS-0002'));
    const refused = await service.refuse(cs, 'TS-0002', '该事项不属于平台受理范围，请联系发卡银行。');
    expect(refused).toMatchObject({ stage: 'refused', reply: { text: '该事项不属于平台受理范围，请联系发卡银行。' } });
    await drain();
    expect(notifier.for({ kind: 'customer', id: 'cust-001' }).map((n) => n.type)).toEqual(['complaint.refused']);
    expect(payloads('dispatch.complaint.closed')).toEqual([
      { type: 'dispatch.complaint.closed', complaintNo: 'TS-0002', outcome: 'refused' },
    ]);
    await expect(service.accept(cs, 'TS-0002')).rejects.toMatchObject({ code: 'EVENT_NOT_ACCEPTED' });
  });

  it('a suggestion is recorded and thanked; without a customer id the thanks go to the staff who took it in', async () => {
    const { service, notifier, drain, payloads } = await complaintSetup();
    await service.receive(cs, intake('TS-0003', { customerId: undefined }));
    const view = await service.recordSuggestion(cs, 'TS-0003', '感谢您的建议，我们会优化还款提醒。');
    expect(view.stage).toBe('suggestion');
    await drain();
    expect(notifier.for({ kind: 'staff', id: 'cs-lin' })).toEqual([
      {
        id: 'complaint:TS-0003:complaint.suggestion-recorded:staff:cs-lin',
        recipient: { kind: 'staff', id: 'cs-lin' },
        type: 'complaint.suggestion-recorded',
        data: { complaintNo: 'TS-0003' },
      },
    ]);
    expect(payloads('dispatch.complaint.received')).toEqual([
      {
        type: 'dispatch.complaint.received',
        complaintNo: 'TS-0003',
        applicationId: 'APP-001',
        institutionId: 'inst-a',
      },
    ]);
    expect(payloads('dispatch.complaint.suggestion-recorded')).toHaveLength(1);
    expect(payloads('dispatch.complaint.decided')).toEqual([]);
  });

  it('unfounded: decided at once against the institution with no penalty, then feedback', async () => {
    const { service, drain, payloads } = await complaintSetup();
    await service.receive(cs, intake('TS-0004'));
    await service.accept(cs, 'TS-0004');
    await service.route(cs, 'TS-0004', { kind: 'institution', institutionId: 'inst-a' });
    await service.report(staffA, 'TS-0004', { talk: '已联系客户。', outcome: '费用符合合同约定。' });
    await service.confirmReport(supervisor, 'TS-0004');
    const view = await service.investigate(supervisor, 'TS-0004', { founded: false, findings: '收费符合合同。' });
    expect(view).toMatchObject({ stage: 'awaiting-feedback', founded: false, penalty: null });
    await expect(
      service.decide(supervisor, 'TS-0004', {
        penalty: { kind: 'warning' },
        responsibleId: 'sup-wang',
        superiorId: 'dir-chen',
        summary: 'x',
      }),
    ).rejects.toMatchObject({ code: 'EVENT_NOT_ACCEPTED' });
    await service.giveFeedback(cs, 'TS-0004', '经核实，收费符合合同约定。');
    await drain();
    expect(payloads('dispatch.complaint.decided')).toEqual([
      {
        type: 'dispatch.complaint.decided',
        complaintNo: 'TS-0004',
        institutionId: 'inst-a',
        founded: false,
        penalty: null,
      },
    ]);
  });

  it('routed to a platform team: the team reviews it directly; no institution is notified', async () => {
    const { service, notifier, drain, payloads } = await complaintSetup();
    await service.receive(cs, intake('TS-0005', { institutionId: undefined }));
    await service.accept(cs, 'TS-0005');
    const routed = await service.route(supervisor, 'TS-0005', { kind: 'platform', team: 'customer-team' });
    expect(routed).toMatchObject({ stage: 'with-team', routedInstitutionId: null, reportDueAt: null });
    await service.investigate(teamLeader, 'TS-0005', { founded: true, findings: '客服态度问题属实。' });
    await service.decide(supervisor, 'TS-0005', {
      penalty: { kind: 'warning' },
      responsibleId: 'tl-he',
      superiorId: 'sup-wang',
      summary: '通报批评。',
    });
    await service.confirmPenalty(supervisor, 'TS-0005');
    await service.confirmPenalty(teamLeader, 'TS-0005');
    await service.giveFeedback(cs, 'TS-0005', '已对相关人员批评教育。');
    await drain();
    expect(payloads('dispatch.complaint.routed')).toEqual([
      {
        type: 'dispatch.complaint.routed',
        complaintNo: 'TS-0005',
        route: 'platform',
        team: 'customer-team',
        institutionId: null,
      },
    ]);
    expect(payloads('dispatch.complaint.decided')).toEqual([
      {
        type: 'dispatch.complaint.decided',
        complaintNo: 'TS-0005',
        institutionId: null,
        founded: true,
        penalty: { kind: 'warning' },
      },
    ]);
    expect(notifier.delivered().filter((n) => n.recipient.kind === 'institution')).toEqual([]);
  });

  it('a second intake of the same number is a DUPLICATE and changes nothing', async () => {
    const { service } = await complaintSetup();
    await service.receive(cs, intake('TS-0006'));
    await expect(service.receive(cs, intake('TS-0006', { subject: '另一件事' }))).rejects.toMatchObject({
      code: 'DUPLICATE',
    });
    expect((await service.get(cs, 'TS-0006')).subject).toBe('放款后被多收服务费');
  });

  it('the report deadline is a durable timer: overdue escalates with an event and notifications; the report is still taken', async () => {
    const { service, clock, notifier, drain, payloads, runtime } = await complaintSetup({ reportWithinMs: 3 * DAY });
    await service.receive(cs, intake('TS-0007'));
    await service.accept(cs, 'TS-0007');
    const routed = await service.route(cs, 'TS-0007', { kind: 'institution', institutionId: 'inst-a' });
    clock.advance(3 * DAY - 1);
    await drain();
    expect(payloads('dispatch.complaint.report-overdue')).toEqual([]);
    expect((await service.get(cs, 'TS-0007')).reportOverdue).toBe(false);
    clock.advance(1);
    await drain();
    expect(payloads('dispatch.complaint.report-overdue')).toEqual([
      {
        type: 'dispatch.complaint.report-overdue',
        complaintNo: 'TS-0007',
        institutionId: 'inst-a',
        dueAt: routed.reportDueAt,
      },
    ]);
    expect((await service.get(cs, 'TS-0007')).reportOverdue).toBe(true);
    expect((await runtime.get('TS-0007'))?.stateValue).toBe('withInstitution.overdue');
    expect(notifier.for({ kind: 'institution', id: 'inst-a' }).map((n) => n.type)).toEqual([
      'complaint.routed',
      'complaint.report-overdue',
    ]);
    expect(notifier.for({ kind: 'staff', id: 'cs-lin' }).map((n) => n.type)).toEqual(['complaint.report-overdue']);
    // More time passing escalates nothing twice.
    clock.advance(10 * DAY);
    await drain();
    expect(payloads('dispatch.complaint.report-overdue')).toHaveLength(1);
    const late = await service.report(staffA, 'TS-0007', { talk: '已联系客户。', outcome: '已处理。' });
    expect(late.stage).toBe('reported');
    await drain();
    expect(payloads('dispatch.complaint.reported')).toEqual([
      { type: 'dispatch.complaint.reported', complaintNo: 'TS-0007', institutionId: 'inst-a', overdue: true },
    ]);
  });

  it('a report in time cancels the deadline: nothing escalates later', async () => {
    const { service, clock, drain, payloads } = await complaintSetup();
    await service.receive(cs, intake('TS-0008'));
    await service.accept(cs, 'TS-0008');
    await service.route(cs, 'TS-0008', { kind: 'institution', institutionId: 'inst-a' });
    clock.advance(DAY);
    await service.report(staffA, 'TS-0008', { talk: '已联系客户。', outcome: '已处理。' });
    clock.advance(5 * DAY);
    await drain();
    expect(payloads('dispatch.complaint.report-overdue')).toEqual([]);
    expect((await service.get(cs, 'TS-0008')).reportOverdue).toBe(false);
  });
});
