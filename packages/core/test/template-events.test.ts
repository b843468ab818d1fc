/**
 * Template lifecycle domain events: submitted, each level approved, approved, effective, superseded, rejected and
 * withdrawn — each delivered once through the runtime's outbox, with a stable id and no personal data.
 */
import { describe, expect, it } from 'vitest';
import { type DomainEvent, isTemplateEvent, TEMPLATE_EVENT_TYPES } from '../src/index.js';
import { editor, importLoanContract, legalLee, riskRay, setupTemplates } from './template-fixtures.js';

function setup() {
  const templates = setupTemplates();
  const events: DomainEvent[] = [];
  templates.runtime.onEvent((event) => void events.push(event));
  /** Deliver everything in the outbox now. */
  const deliver = async () => {
    for (let i = 0; i < 5; i++) await templates.runtime.runOnce();
  };
  /** The events delivered since the last call, as (type, payload), and forget them. */
  const take = () => events.splice(0).map((e) => ({ type: e.type, payload: e.payload }));
  return { ...templates, events, deliver, take };
}

describe('template lifecycle events', () => {
  it('announces submission, each level, approval and the new effective version, each once', async () => {
    const s = setup();
    const v1 = await importLoanContract(s.service);
    await s.deliver();
    expect(s.take()).toEqual([]);

    await s.service.submit(editor, v1.id);
    await s.deliver();
    const version = { versionId: v1.id, code: 'LOAN_CONTRACT_V', version: 1 };
    expect(s.take()).toEqual([
      { type: 'template.submitted', payload: { type: 'template.submitted', ...version, levels: ['legal', 'risk'] } },
    ]);

    await s.service.approve(legalLee, v1.id);
    await s.deliver();
    expect(s.take().map((e) => e.payload)).toEqual([
      { type: 'template.level-approved', ...version, level: 1, levelName: 'legal', final: false },
    ]);

    await s.service.approve(riskRay, v1.id);
    await s.deliver();
    expect(s.take().map((e) => e.payload)).toEqual([
      { type: 'template.level-approved', ...version, level: 2, levelName: 'risk', final: true },
      { type: 'template.approved', ...version, levels: ['legal', 'risk'] },
      { type: 'template.effective', ...version, supersedes: null },
    ]);
    await s.deliver();
    expect(s.take()).toEqual([]);
  });

  it('announces the version it supersedes when a revision becomes effective', async () => {
    const s = setup();
    const v1 = await importLoanContract(s.service);
    await s.service.submit(editor, v1.id);
    await s.service.approve(legalLee, v1.id);
    await s.service.approve(riskRay, v1.id);
    const v2 = await s.service.reviseEffective(editor, 'LOAN_CONTRACT_V');
    await s.service.submit(editor, v2.id);
    await s.service.approve(legalLee, v2.id);
    await s.deliver();
    s.take();

    await s.service.approve(riskRay, v2.id);
    await s.deliver();
    const second = { versionId: v2.id, code: 'LOAN_CONTRACT_V', version: 2 };
    expect(s.take().map((e) => e.payload)).toEqual([
      { type: 'template.level-approved', ...second, level: 2, levelName: 'risk', final: true },
      { type: 'template.approved', ...second, levels: ['legal', 'risk'] },
      { type: 'template.effective', ...second, supersedes: v1.id },
      {
        type: 'template.superseded',
        versionId: v1.id,
        code: 'LOAN_CONTRACT_V',
        version: 1,
        supersededBy: v2.id,
        supersededByVersion: 2,
      },
    ]);
    expect(await s.service.getVersion(v1.id)).toMatchObject({ status: 'SUPERSEDED', supersededBy: v2.id });
  });

  it('announces a rejection (失效) and a withdrawal, without the people or the reason', async () => {
    const s = setup();
    const v1 = await importLoanContract(s.service);
    await s.service.submit(editor, v1.id);
    await s.service.approve(legalLee, v1.id);
    await s.deliver();
    s.take();
    const reason = '第七条违约金条款需调整，联系人张三 13912345678';
    await s.service.reject(riskRay, v1.id, reason);
    const v2 = await importLoanContract(s.service);
    await s.service.submit(editor, v2.id);
    await s.service.withdraw(editor, v2.id);
    await s.deliver();
    const taken = s.take();
    expect(taken.map((e) => e.payload)).toEqual([
      { type: 'template.rejected', versionId: v1.id, code: 'LOAN_CONTRACT_V', version: 1, level: 2, levelName: 'risk' },
      {
        type: 'template.submitted',
        versionId: v2.id,
        code: 'LOAN_CONTRACT_V',
        version: 2,
        levels: ['legal', 'risk'],
      },
      { type: 'template.withdrawn', versionId: v2.id, code: 'LOAN_CONTRACT_V', version: 2 },
    ]);
    expect(await s.service.getVersion(v1.id)).toMatchObject({ status: 'INVALID' });
    const text = JSON.stringify(taken);
    for (const personal of ['alice', 'lee', 'ray', '张三', '13912345678', '违约金'])
      expect(text).not.toContain(personal);
  });

  it('gives every event a stable id in the outbox, and a failed subscriber gets the same event again', async () => {
    const s = setup();
    const v1 = await importLoanContract(s.service);
    const submitted = await s.service.submit(editor, v1.id);
    let failures = 1;
    const seen: DomainEvent[] = [];
    s.runtime.onEvent((event) => {
      seen.push(event);
      if (failures-- > 0) throw new Error('subscriber down');
    });
    await s.service.approve(legalLee, v1.id);
    await s.service.approve(riskRay, v1.id);
    await s.deliver();
    s.clock.advance(60_000);
    await s.deliver();

    const outbox = await s.persistence.transaction((tx) => tx.outbox.list({ kind: 'event' }));
    const ids = outbox.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const entry of outbox) {
      expect(entry.id.startsWith(`${submitted.approvalWorkflowId}/`)).toBe(true);
      expect(entry.id.endsWith(`:${entry.type}`)).toBe(true);
    }
    // Redelivered with the same id; everything else once.
    const first = seen[0]!;
    expect(seen.filter((e) => e.id === first.id)).toHaveLength(2);
    expect(new Set(seen.map((e) => e.id)).size).toBe(outbox.length);
    expect(seen.every(isTemplateEvent)).toBe(true);
    expect(new Set(seen.map((e) => e.type))).toEqual(
      new Set(['template.submitted', 'template.level-approved', 'template.approved', 'template.effective']),
    );
    expect(TEMPLATE_EVENT_TYPES).toContain('template.approval.escalated');
  });
});
