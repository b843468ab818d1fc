import { describe, expect, it } from 'vitest';
import { type DomainEvent, sha256Hex } from '../src/index.js';
import type { ApprovalContext } from '../src/templates/approval-workflow.js';
import {
  CONTRACT_PDF,
  bothBo,
  editor,
  expectError,
  importLoanContract,
  legalLee,
  riskRay,
  setupTemplates,
} from './template-fixtures.js';

describe('template lifecycle: import → edit → submit → legal → risk → EFFECTIVE', () => {
  it('walks a template through its whole life and a second version supersedes the first', async () => {
    const { service, runtime, documents } = setupTemplates();

    const v1 = await importLoanContract(service);
    expect(v1).toMatchObject({ id: 'LOAN_CONTRACT_V.v0001', version: 1, status: 'DRAFT', createdBy: 'alice' });
    expect(v1.pdf.pageCount).toBe(8);
    expect(v1.pdf.fields).toHaveLength(25);
    expect(v1.pdf.sha256).toBe(sha256Hex(CONTRACT_PDF));
    expect((await documents.get(v1.pdf.fileId)).bytes).toEqual(CONTRACT_PDF);

    const edited = await service.updateDraft(editor, v1.id, {
      variables: v1.definition.variables.map((v) =>
        v.key === 'borrowerName' ? { ...v, rule: { kind: 'mask', keepStart: 1, keepEnd: 0 } } : v,
      ),
    });
    expect(edited.definition.variables.find((v) => v.key === 'borrowerName')?.rule).toEqual({
      kind: 'mask',
      keepStart: 1,
      keepEnd: 0,
    });

    const submitted = await service.submit(editor, v1.id);
    expect(submitted).toMatchObject({ status: 'PENDING_APPROVAL', submittedBy: 'alice' });
    const workflow = await runtime.get(submitted.approvalWorkflowId!);
    expect(workflow?.stateValue).toBe('pending.untimed');

    const afterLegal = await service.approve(legalLee, v1.id);
    expect(afterLegal.status).toBe('PENDING_APPROVAL');
    expect(afterLegal.approvals).toMatchObject([{ level: 1, name: 'legal', actorId: 'lee' }]);
    await expectError(service.requireEffective('LOAN_CONTRACT_V'), 'TEMPLATE_NOT_EFFECTIVE');

    const effective = await service.approve(riskRay, v1.id);
    expect(effective).toMatchObject({
      status: 'EFFECTIVE',
      decision: { outcome: 'approved', by: 'ray', reason: null },
    });
    expect((await runtime.get(submitted.approvalWorkflowId!))?.status).toBe('done');
    expect((await service.requireEffective('LOAN_CONTRACT_V')).id).toBe(v1.id);
    expect((await service.requireEffective(v1.id)).id).toBe(v1.id);

    // Editing an effective template makes a new draft; the effective one stays in force until the new one is approved.
    const v2 = await service.reviseEffective(editor, 'LOAN_CONTRACT_V');
    expect(v2).toMatchObject({ id: 'LOAN_CONTRACT_V.v0002', version: 2, status: 'DRAFT', revisedFrom: v1.id });
    expect(v2.definition).toEqual(effective.definition);
    expect(v2.pdf).toEqual(effective.pdf);
    await service.updateDraft(editor, v2.id, { name: '个人借款合同（2026版）' });
    await service.submit(editor, v2.id);
    expect((await service.getEffective('LOAN_CONTRACT_V'))?.id).toBe(v1.id);
    await service.approve(bothBo, v2.id);
    const v2Effective = await service.approve(riskRay, v2.id);
    expect(v2Effective.status).toBe('EFFECTIVE');

    const v1After = await service.getVersion(v1.id);
    expect(v1After).toMatchObject({ status: 'SUPERSEDED', supersededBy: v2.id });
    expect((await service.getEffective('LOAN_CONTRACT_V'))?.id).toBe(v2.id);
    await expectError(service.requireEffective(v1.id), 'TEMPLATE_NOT_EFFECTIVE');

    const history = await service.history('LOAN_CONTRACT_V');
    expect(history.map((h) => [h.version, h.action, h.actorId])).toEqual([
      [1, 'imported', 'alice'],
      [1, 'updated', 'alice'],
      [1, 'submitted', 'alice'],
      [1, 'levelApproved', 'lee'],
      [1, 'levelApproved', 'ray'],
      [1, 'approved', 'ray'],
      [2, 'revised', 'alice'],
      [2, 'updated', 'alice'],
      [2, 'submitted', 'alice'],
      [2, 'levelApproved', 'bo'],
      [2, 'levelApproved', 'ray'],
      [2, 'approved', 'ray'],
      [1, 'superseded', 'system'],
    ]);
    expect(history.map((h) => h.seq)).toEqual(history.map((_, i) => i + 1));
    expect(await runtime.verifyAudit(submitted.approvalWorkflowId!)).toMatchObject({ ok: true });
  });

  it('keeps who changed what and when, with a readable diff', async () => {
    const { service, clock } = setupTemplates();
    const v1 = await importLoanContract(service);
    clock.advance(60_000);
    await service.updateDraft(editor, v1.id, {
      variables: v1.definition.variables.map((v) =>
        v.key === 'borrowerName' ? { ...v, rule: { kind: 'mask', keepStart: 1, keepEnd: 0 } } : v,
      ),
      checks: v1.definition.checks.map((c) => (c.kind === 'ageBetween' ? { ...c, max: 55 } : c)),
    });
    const updated = (await service.history('LOAN_CONTRACT_V')).find((h) => h.action === 'updated')!;
    expect(updated).toMatchObject({ actorId: 'alice', at: clock.now() });
    expect(updated.changes).toEqual([
      {
        path: 'variables.borrowerName.rule',
        before: { kind: 'text' },
        after: { kind: 'mask', keepStart: 1, keepEnd: 0 },
        summary: 'variables.borrowerName.rule: text → mask(1,0)',
      },
      { path: 'checks.0.max', before: 60, after: 55, summary: 'checks.0.max: 60 → 55' },
    ]);
    expect(updated.summary).toBe('variables.borrowerName.rule: text → mask(1,0); checks.0.max: 60 → 55');

    // Saving the same definition again records nothing.
    const before = (await service.history('LOAN_CONTRACT_V')).length;
    await service.updateDraft(editor, v1.id, { name: '个人借款合同' });
    expect(await service.history('LOAN_CONTRACT_V')).toHaveLength(before);
  });

  it('records added and removed variables, placements and checks, and the history reads them back', async () => {
    const { service } = setupTemplates();
    const v1 = await importLoanContract(service);
    const { variables, checks } = v1.definition;
    const guarantor = {
      key: 'guarantorName',
      label: '担保人姓名',
      type: 'text' as const,
      placement: { field: 'guarantorName' },
    };
    const guarantorCheck = { kind: 'required' as const, variable: 'guarantorName', message: '须填写担保人姓名' };
    const creditLimitAt = { page: 7, rect: { x: 50, y: 50, width: 100, height: 20 } };

    const added = await service.updateDraft(editor, v1.id, {
      variables: [
        ...variables.map((v) => (v.key === 'creditLimit' ? { ...v, placement: creditLimitAt } : v)),
        guarantor,
      ],
      checks: [...checks, guarantorCheck],
    });
    await service.updateDraft(editor, v1.id, {
      variables: added.definition.variables
        .filter((v) => v.key !== 'loanTerm')
        .map((v) => (v.key === 'borrowerPhone' ? { ...v, placement: undefined } : v)),
      checks,
    });

    // An addition has no `before` and a removal no `after`: absent, not undefined, exactly as stored.
    const updates = (await service.history('LOAN_CONTRACT_V')).filter((h) => h.action === 'updated');
    expect(updates.map((h) => h.changes)).toStrictEqual([
      [
        {
          path: 'variables.creditLimit.placement',
          after: creditLimitAt,
          summary: 'variables.creditLimit.placement: added page 7 (50,50 100×20)',
        },
        {
          path: 'variables.guarantorName',
          after: { ...guarantor, required: true },
          summary: 'variables.guarantorName: added 担保人姓名 (text)',
        },
        { path: 'checks.3', after: guarantorCheck, summary: 'checks.3: added required "须填写担保人姓名"' },
      ],
      [
        {
          path: 'variables.borrowerPhone.placement',
          before: { field: 'borrowerPhone' },
          summary: 'variables.borrowerPhone.placement: removed field borrowerPhone',
        },
        {
          path: 'variables.loanTerm',
          before: variables.find((v) => v.key === 'loanTerm'),
          summary: 'variables.loanTerm: removed 借款期限（月） (integer)',
        },
        { path: 'checks.3', before: guarantorCheck, summary: 'checks.3: removed required "须填写担保人姓名"' },
      ],
    ]);
    // The version itself still reads, and goes on to approval.
    expect((await service.submit(editor, v1.id)).status).toBe('PENDING_APPROVAL');
  });

  it('rejection ends the request: the version becomes INVALID (失效) with the reason, and a new draft can follow', async () => {
    const { service, runtime } = setupTemplates();
    const v1 = await importLoanContract(service);
    await service.submit(editor, v1.id);
    await service.approve(legalLee, v1.id);
    const rejected = await service.reject(riskRay, v1.id, '逾期罚息条款需与风控政策一致');
    expect(rejected).toMatchObject({
      status: 'INVALID',
      decision: { outcome: 'rejected', reason: '逾期罚息条款需与风控政策一致', by: 'ray' },
    });
    const workflow = await runtime.get(rejected.approvalWorkflowId!);
    expect(workflow).toMatchObject({ status: 'done', stateValue: 'rejected' });
    expect((workflow!.context as ApprovalContext).rejection).toEqual({
      level: 2,
      actorId: 'ray',
      reason: '逾期罚息条款需与风控政策一致',
    });
    const last = (await service.history('LOAN_CONTRACT_V')).at(-1);
    expect(last).toMatchObject({ action: 'rejected', reason: '逾期罚息条款需与风控政策一致' });
    await expectError(service.requireEffective(v1.id), 'TEMPLATE_NOT_EFFECTIVE');
    await expectError(service.approve(bothBo, v1.id), 'TEMPLATE_NOT_PENDING');

    const v2 = await importLoanContract(service);
    expect(v2).toMatchObject({ version: 2, status: 'DRAFT' });
  });

  it('the submitter may withdraw while pending; the version becomes WITHDRAWN and a new draft can be made', async () => {
    const { service } = setupTemplates();
    const v1 = await importLoanContract(service);
    await service.submit(editor, v1.id);
    // While v1 is open no second draft may start.
    await expectError(importLoanContract(service), 'DUPLICATE');
    const withdrawn = await service.withdraw(editor, v1.id);
    expect(withdrawn).toMatchObject({ status: 'WITHDRAWN', decision: { outcome: 'withdrawn', by: 'alice' } });
    const v2 = await importLoanContract(service);
    expect(v2).toMatchObject({ id: 'LOAN_CONTRACT_V.v0002', status: 'DRAFT' });
  });

  it('only the submitter withdraws', async () => {
    const { service, footprint } = setupTemplates();
    const v1 = await importLoanContract(service);
    await service.submit(editor, v1.id);
    const before = await footprint();
    const error = await expectError(
      service.withdraw({ id: 'mallory', roles: ['template-editor'] }, v1.id),
      'FORBIDDEN',
    );
    expect(error.message).toContain('alice');
    expect(await footprint()).toEqual(before);
  });

  it('escalates an approval past its deadline and stays pending', async () => {
    const { service, runtime, clock } = setupTemplates({ deadlineMs: 48 * 3_600_000 });
    const events: DomainEvent[] = [];
    runtime.onEvent((event) => void events.push(event));
    const v1 = await importLoanContract(service);
    const submitted = await service.submit(editor, v1.id);
    const workflowId = submitted.approvalWorkflowId!;
    expect((await runtime.get(workflowId))?.stateValue).toBe('pending.onTime');
    await service.approve(legalLee, v1.id);

    clock.advance(48 * 3_600_000 - 1);
    expect((await runtime.runOnce()).timersFired).toBe(0);
    expect(((await runtime.get(workflowId))!.context as ApprovalContext).escalated).toBe(false);

    clock.advance(1);
    expect((await runtime.runOnce()).timersFired).toBe(1);
    await runtime.runOnce();
    await runtime.runOnce();
    const escalated = await runtime.get(workflowId);
    expect(escalated?.stateValue).toBe('pending.overdue');
    expect((escalated!.context as ApprovalContext).escalated).toBe(true);
    const escalations = events.filter((e) => e.type === 'template.approval.escalated');
    expect(escalations.map((e) => [e.type, (e.payload as { level: number }).level])).toEqual([
      ['template.approval.escalated', 2],
    ]);
    expect(await service.getVersion(v1.id)).toMatchObject({ status: 'PENDING_APPROVAL', escalatedAt: clock.now() });
    expect((await service.history('LOAN_CONTRACT_V')).filter((h) => h.action === 'escalated')).toHaveLength(1);

    // Still decidable after escalation.
    expect((await service.approve(riskRay, v1.id)).status).toBe('EFFECTIVE');
  });

  it('lists versions by code, document type, status and update time, with keyset paging', async () => {
    const { service, clock } = setupTemplates();
    const t0 = clock.now();
    const loan = await importLoanContract(service);
    clock.advance(1_000);
    const credit = await importLoanContract(service, { code: 'CREDIT_CONTRACT_A', documentType: 'CREDIT_CONTRACT' });
    clock.advance(1_000);
    const auth = await importLoanContract(service, { code: 'DATA_AUTH_A', documentType: 'DATA_QUERY_AUTHORIZATION' });
    clock.advance(1_000);
    await service.submit(editor, credit.id);
    const tSubmit = clock.now();

    const ids = (list: { id: string }[]) => list.map((v) => v.id);
    expect(ids(await service.list())).toEqual([credit.id, auth.id, loan.id].sort());
    expect(ids(await service.list({ code: 'LOAN_CONTRACT_V' }))).toEqual([loan.id]);
    expect(ids(await service.list({ documentType: 'CREDIT_CONTRACT' }))).toEqual([credit.id]);
    expect(ids(await service.list({ status: 'DRAFT' }))).toEqual([auth.id, loan.id]);
    expect(ids(await service.list({ status: 'PENDING_APPROVAL' }))).toEqual([credit.id]);
    expect(ids(await service.list({ documentType: 'CREDIT_CONTRACT', status: 'DRAFT' }))).toEqual([]);
    expect(ids(await service.list({ updatedFrom: t0 + 500, updatedTo: t0 + 2_500 }))).toEqual([auth.id]);
    expect(ids(await service.list({ updatedFrom: tSubmit }))).toEqual([credit.id]);
    const page1 = await service.list({ limit: 2 });
    const page2 = await service.list({ limit: 2, afterId: page1.at(-1)!.id });
    expect([...ids(page1), ...ids(page2)]).toEqual([credit.id, auth.id, loan.id].sort());
  });

  it('the signing guard refuses every status but EFFECTIVE, and unknown references', async () => {
    const { service } = setupTemplates();
    const v1 = await importLoanContract(service);
    const draft = await expectError(service.requireEffective(v1.id), 'TEMPLATE_NOT_EFFECTIVE');
    expect(draft.details).toMatchObject({ status: 'DRAFT' });
    await expectError(service.requireEffective('LOAN_CONTRACT_V'), 'TEMPLATE_NOT_EFFECTIVE');
    await service.submit(editor, v1.id);
    const pending = await expectError(service.requireEffective(v1.id), 'TEMPLATE_NOT_EFFECTIVE');
    expect(pending.details).toMatchObject({ status: 'PENDING_APPROVAL' });
    await service.withdraw(editor, v1.id);
    await expectError(service.requireEffective(v1.id), 'TEMPLATE_NOT_EFFECTIVE');
    await expectError(service.requireEffective('NO_SUCH_CODE'), 'NOT_FOUND');
  });
});
