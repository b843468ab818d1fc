import { describe, expect, it } from 'vitest';
import { type Persistence, type SealflowError, type TemplateActor, normaliseActorId } from '../src/index.js';
import type { ApprovalContext } from '../src/templates/approval-workflow.js';
import {
  CONTRACT_PDF,
  editor,
  expectError,
  expectSealflowError,
  legalLee,
  legalLin,
  loanDefinition,
  riskRay,
  setupTemplates,
} from './template-fixtures.js';

/**
 * Maker-checker: nobody who created, edited or submitted a version approves it, at any level, however their id is
 * spelled. The author below also holds both approver roles, so only the maker-checker rule can stop them.
 */
const author: TemplateActor = { id: 'alice', roles: ['template-editor', 'legal', 'risk'] };
const colleague: TemplateActor = { id: 'bob', roles: ['template-editor'] };
const eve: TemplateActor = { id: 'eve', roles: ['template-editor', 'legal', 'risk'] };
const riskRita: TemplateActor = { id: 'rita', roles: ['risk'] };

const as = (actor: TemplateActor, id: string): TemplateActor => ({ ...actor, id });

async function importAs(service: ReturnType<typeof setupTemplates>['service'], actor: TemplateActor) {
  return service.importTemplate(actor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: loanDefinition(),
  });
}

/** Authored by alice, edited by eve, submitted by bob. */
async function pendingWithThreeMakers(options: { persistence?: Persistence } = {}) {
  const setup = setupTemplates(options);
  const v1 = await importAs(setup.service, author);
  await setup.service.updateDraft(eve, v1.id, { name: '个人借款合同（2026版）' });
  const submitted = await setup.service.submit(colleague, v1.id);
  return { ...setup, versionId: v1.id, workflowId: submitted.approvalWorkflowId! };
}

describe('maker-checker: makers never approve', () => {
  it('the author cannot approve once a colleague submits it, at either level', async () => {
    const { service, footprint, versionId } = await pendingWithThreeMakers();
    const before = await footprint();
    const atLegal = await expectError(service.approve(author, versionId), 'MAKER_CHECKER_VIOLATION');
    expect(atLegal.details).toMatchObject({ rule: 'makerCannotApprove', level: 1 });
    expect(atLegal.message).toContain('ask an approver who did not work on this version');
    expect(await footprint()).toEqual(before);

    await service.approve(legalLee, versionId);
    const afterLegal = await footprint();
    const atRisk = await expectError(service.approve(author, versionId, { level: 2 }), 'MAKER_CHECKER_VIOLATION');
    expect(atRisk.details).toMatchObject({ rule: 'makerCannotApprove', level: 2 });
    expect(await footprint()).toEqual(afterLegal);
    expect((await service.approve(riskRay, versionId)).status).toBe('EFFECTIVE');
  });

  it('an editor cannot approve the version they edited, at either level', async () => {
    const { service, versionId } = await pendingWithThreeMakers();
    await expectError(service.approve(eve, versionId), 'MAKER_CHECKER_VIOLATION');
    await service.approve(legalLee, versionId);
    const error = await expectError(service.approve(eve, versionId), 'MAKER_CHECKER_VIOLATION');
    expect(error.details).toMatchObject({ rule: 'makerCannotApprove', level: 2 });
    const effective = await service.approve(riskRay, versionId);
    expect(effective.status).toBe('EFFECTIVE');
    expect(effective.makers).toEqual(['alice', 'eve', 'bob']);
    expect(effective.approvals.map((a) => a.actorId)).toEqual(['lee', 'ray']);
  });

  it('an id sent with other capitals, full-width letters or spaces is the same person', async () => {
    const { service, versionId } = await pendingWithThreeMakers();
    for (const id of ['Alice', 'ALICE', ' alice ', 'ａｌｉｃｅ', 'Ａｌｉｃｅ\u3000', 'EVE', 'Eve\t']) {
      const error = await expectError(service.approve(as(author, id), versionId), 'MAKER_CHECKER_VIOLATION');
      expect(error.details).toMatchObject({ rule: 'makerCannotApprove' });
    }
    for (const id of ['Bob', 'BOB', ' bob', 'ｂｏｂ']) {
      const error = await expectError(service.approve(as(eve, id), versionId), 'MAKER_CHECKER_VIOLATION');
      expect(error.details).toMatchObject({ rule: 'submitterCannotApprove' });
      const rejection = await expectError(
        service.reject(as(eve, id), versionId, '条款有误'),
        'MAKER_CHECKER_VIOLATION',
      );
      expect(rejection.details).toMatchObject({ rule: 'submitterCannotDecide' });
    }
    expect((await service.getVersion(versionId))?.approvals).toEqual([]);
    // The submitter withdrawing is the same person too, however the id is spelled.
    expect((await service.withdraw(as(colleague, 'BOB'), versionId)).status).toBe('WITHDRAWN');
  });

  it('the submitter of their own draft is refused with different capitals', async () => {
    const { service } = setupTemplates();
    const v1 = await importAs(service, author);
    await service.submit(author, v1.id);
    const error = await expectError(service.approve(as(author, 'Alice'), v1.id), 'MAKER_CHECKER_VIOLATION');
    expect(error.details).toMatchObject({ rule: 'submitterCannotApprove' });
  });

  it('one person approves one level, however the id is spelled', async () => {
    const { service } = setupTemplates();
    const v1 = await importAs(service, editor);
    await service.submit(editor, v1.id);
    const bo: TemplateActor = { id: 'Bo', roles: ['legal', 'risk'] };
    await service.approve(bo, v1.id);
    const error = await expectError(service.approve(as(bo, 'bo '), v1.id), 'MAKER_CHECKER_VIOLATION');
    expect(error.details).toMatchObject({ rule: 'oneLevelPerPerson', approvedLevel: 1 });
  });

  it('whoever revises an effective version is its maker; the makers of the effective one are not', async () => {
    const { service } = setupTemplates();
    const v1 = await importAs(service, author);
    await service.submit(author, v1.id);
    await service.approve(legalLee, v1.id);
    await service.approve(riskRay, v1.id);
    const v2 = await service.reviseEffective(eve, 'LOAN_CONTRACT_V');
    expect(v2.makers).toEqual(['eve']);
    await service.submit(colleague, v2.id);
    await expectError(service.approve(eve, v2.id), 'MAKER_CHECKER_VIOLATION');
    expect((await service.approve(author, v2.id)).approvals.map((a) => a.actorId)).toEqual(['alice']);
  });

  it('an id that is blank once normalised is refused before anything is read or written', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    for (const id of ['   ', '\u3000', '\t\n']) {
      const error = await expectError(importAs(service, as(editor, id)), 'INVALID_INPUT');
      expect(error.details).toMatchObject({ path: 'actor.id' });
    }
    expect(await footprint()).toEqual(before);
  });
});

describe('maker-checker under concurrency', () => {
  it('makers racing colleagues on every level: no maker ever approves, one colleague decides each level', async () => {
    const { service, runtime, versionId, workflowId } = await pendingWithThreeMakers();
    const makers = [author, as(author, 'ALICE'), eve, as(eve, ' Eve'), as(eve, 'ＥＶＥ'), as(author, 'bob')];
    const outcome = (results: PromiseSettledResult<unknown>[], from: number) =>
      results.slice(from).map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as SealflowError).code));

    const level1 = await Promise.allSettled([
      ...makers.map((m) => service.approve(m, versionId)),
      service.approve(legalLee, versionId),
      service.approve(legalLin, versionId),
    ]);
    for (const result of level1.slice(0, makers.length)) {
      expect(result.status).toBe('rejected');
      expectSealflowError((result as PromiseRejectedResult).reason, 'MAKER_CHECKER_VIOLATION');
    }
    expect(outcome(level1, makers.length).sort()).toEqual(['APPROVAL_LEVEL_MISMATCH', 'ok']);

    const level2 = await Promise.allSettled([
      ...makers.map((m) => service.approve(m, versionId)),
      service.approve(riskRay, versionId),
      service.approve(riskRita, versionId),
    ]);
    for (const result of level2.slice(0, makers.length)) {
      expect(result.status).toBe('rejected');
      expectSealflowError((result as PromiseRejectedResult).reason, 'MAKER_CHECKER_VIOLATION');
    }
    expect(outcome(level2, makers.length)).toContain('ok');
    expect(outcome(level2, makers.length).filter((o) => o === 'ok')).toHaveLength(1);

    const version = (await service.getVersion(versionId))!;
    expect(version.status).toBe('EFFECTIVE');
    const approvers = version.approvals.map((a) => normaliseActorId(a.actorId));
    expect(approvers).toHaveLength(2);
    for (const approver of approvers) expect(['alice', 'bob', 'eve']).not.toContain(approver);
    const context = (await runtime.get(workflowId))!.context as ApprovalContext;
    expect(context.approvals.map((a) => a.actorId)).toEqual(version.approvals.map((a) => a.actorId));
  });

  it('an edit racing the submission either joins the makers or is refused: its editor never approves', async () => {
    const seen = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const { service, runtime } = setupTemplates();
      const v1 = await importAs(service, editor);
      const edit = () => service.updateDraft(eve, v1.id, { name: `个人借款合同 r${round}` });
      const submit = () => service.submit(editor, v1.id);
      // Alternate which call starts first.
      const [submitted, edited] =
        round % 2 === 0
          ? await Promise.allSettled([submit(), edit()])
          : await Promise.allSettled([edit(), submit()]).then(([e, s]) => [s, e] as const);
      seen.add(`${submitted.status}/${edited.status}`);

      const version = (await service.getVersion(v1.id))!;
      const editedBy = (await service.history('LOAN_CONTRACT_V'))
        .filter((h) => h.action === 'updated')
        .map((h) => h.actorId);
      if (submitted.status === 'rejected') {
        // The draft changed under the submission: nothing was submitted, the submitter is told to look again.
        expect(version.status).toBe('DRAFT');
        const error = expectSealflowError(submitted.reason, 'VERSION_CONFLICT');
        expect(error.message).toContain('submit again');
        continue;
      }
      expect(version.status).toBe('PENDING_APPROVAL');
      const context = (await runtime.get(version.approvalWorkflowId!))!.context as ApprovalContext;
      // Every edit that landed is the edit of a maker, in the version and in the machine that guards it.
      for (const actorId of editedBy) {
        expect(version.makers).toContain(normaliseActorId(actorId));
        expect(context.makers).toContain(normaliseActorId(actorId));
        await expectError(service.approve(eve, v1.id), 'MAKER_CHECKER_VIOLATION');
      }
      if (edited.status === 'rejected') expectSealflowError(edited.reason, 'TEMPLATE_VERSION_IMMUTABLE');
    }
    // Which interleavings happen depends on scheduling; each is checked above. Print them so a reader can see.
    console.info(`submit/edit race outcomes seen: ${[...seen].join(', ')}`);
  });
});

describe('maker-checker for data stored before makers were recorded', () => {
  /** Rewrite a version and its approval workflow as an older release stored them: no `makers` anywhere, machine v1. */
  async function forgetMakers(persistence: Persistence, versionId: string, workflowId?: string) {
    await persistence.transaction(async (tx) => {
      const row = (await tx.entities.get('template-version', versionId))!;
      const { makers: _, ...data } = row.data as { makers: string[] };
      await tx.entities.update('template-version', versionId, row.version, {
        data,
        tags: row.tags,
        uniqueKey: row.uniqueKey,
        updatedAt: row.updatedAt,
      });
      if (!workflowId) return;
      const workflow = (await tx.workflows.get(workflowId))!;
      const snapshot = structuredClone(workflow.snapshot) as { context: Partial<ApprovalContext> };
      delete snapshot.context.makers;
      await tx.workflows.update(workflowId, workflow.rowVersion, {
        machineVersion: 1,
        status: workflow.status,
        stateValue: workflow.stateValue,
        snapshot,
        updatedAt: workflow.updatedAt,
      });
    });
  }

  it('an approval in flight from before: its author and editor are still refused, and it migrates', async () => {
    const { service, runtime, persistence, versionId, workflowId } = await pendingWithThreeMakers();
    await forgetMakers(persistence, versionId, workflowId);
    expect((await service.getVersion(versionId))?.makers).toEqual([]);

    await expectError(service.approve(author, versionId), 'MAKER_CHECKER_VIOLATION');
    await expectError(service.approve(as(eve, 'EVE'), versionId), 'MAKER_CHECKER_VIOLATION');
    await expectError(service.approve(as(author, 'BOB'), versionId), 'MAKER_CHECKER_VIOLATION');
    await service.approve(legalLee, versionId);
    const migrated = (await runtime.get(workflowId))!;
    expect(migrated.machineVersion).toBe(2);
    expect((migrated.context as ApprovalContext).makers).toEqual(['bob']);
    await expectError(service.approve(eve, versionId), 'MAKER_CHECKER_VIOLATION');
    expect((await service.approve(riskRay, versionId)).status).toBe('EFFECTIVE');
  });

  it('a draft from before: its editors become makers when it is submitted', async () => {
    const { service, runtime, persistence } = setupTemplates();
    const v1 = await importAs(service, author);
    await service.updateDraft(eve, v1.id, { name: '个人借款合同（2026版）' });
    await forgetMakers(persistence, v1.id);
    const submitted = await service.submit(colleague, v1.id);
    expect(submitted.makers).toEqual(['alice', 'eve', 'bob']);
    const context = (await runtime.get(submitted.approvalWorkflowId!))!.context as ApprovalContext;
    expect(context.makers).toEqual(['alice', 'eve', 'bob']);
    await expectError(service.approve(eve, v1.id), 'MAKER_CHECKER_VIOLATION');
  });
});
