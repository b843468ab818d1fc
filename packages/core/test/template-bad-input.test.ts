import { describe, expect, it } from 'vitest';
import { TemplateDefinitionError } from '../src/index.js';
import type { ApprovalContext } from '../src/templates/approval-workflow.js';
import {
  CONTRACT_FIELDS,
  CONTRACT_PDF,
  bothBo,
  editor,
  expectError,
  expectSealflowError,
  importLoanContract,
  legalLee,
  legalLin,
  loanDefinition,
  riskRay,
  setupTemplates,
} from './template-fixtures.js';

/** Each bad input: a clear typed error, and nothing written (versions, heads, history, workflows, documents). */
describe('template bad input', () => {
  it('a variable bound to a field that does not exist names it and lists the fields', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const definition = loanDefinition();
    definition.variables![0] = { ...definition.variables![0]!, placement: { field: 'borrowerFullName' } };
    const error = await expectError(importLoanContract(service, { definition }), 'TEMPLATE_DEFINITION_INVALID');
    expect(error).toBeInstanceOf(TemplateDefinitionError);
    expect(error.details).toMatchObject({ path: 'variables.borrowerName.placement.field', kind: 'unknownField' });
    expect(error.message).toContain('"borrowerFullName"');
    for (const field of CONTRACT_FIELDS) expect(error.message).toContain(field);
    expect(await footprint()).toEqual(before);
  });

  it('duplicate variable keys', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const definition = loanDefinition();
    definition.variables!.push({ ...definition.variables![2]!, label: '联系电话' });
    const error = await expectError(importLoanContract(service, { definition }), 'TEMPLATE_DEFINITION_INVALID');
    expect(error.details).toMatchObject({ path: 'variables.borrowerPhone', kind: 'duplicateVariableKey' });
    expect(await footprint()).toEqual(before);
  });

  it('an invalid rule surfaces the zod issue path, on import and on edit', async () => {
    const { service, footprint } = setupTemplates();
    const empty = await footprint();
    const definition = loanDefinition();
    definition.variables![0] = { ...definition.variables![0]!, rule: { kind: 'mask', keepStart: -1, keepEnd: 0 } };
    const onImport = await expectError(importLoanContract(service, { definition }), 'TEMPLATE_DEFINITION_INVALID');
    expect(onImport.details).toMatchObject({ path: 'variables.borrowerName.rule.keepStart', kind: 'invalidRule' });
    expect(onImport.message).toContain('keepStart must not be negative');
    expect(await footprint()).toEqual(empty);

    const v1 = await importLoanContract(service);
    const before = await footprint();
    const variables = v1.definition.variables.map((v) =>
      v.key === 'loanAmount' ? { ...v, rule: { kind: 'amountInWords' } as never } : v,
    );
    const onEdit = await expectError(service.updateDraft(editor, v1.id, { variables }), 'TEMPLATE_DEFINITION_INVALID');
    expect(onEdit.details).toMatchObject({ path: 'variables.loanAmount.rule.kind', kind: 'invalidRule' });
    expect(await footprint()).toEqual(before);
    expect((await service.getVersion(v1.id))?.definition).toEqual(v1.definition);
  });

  it('checks and vendor bindings that name unknown variables, duplicate party roles and orders', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const definition = loanDefinition();
    definition.checks!.push({ kind: 'required', variable: 'guarantorName', message: '须有担保人' });
    definition.vendorBindings!.esign!.componentKeys.loanPurpose = 'jkyt';
    definition.parties!.push({ ...definition.parties![0]!, order: 2 });
    const error = await expectError(importLoanContract(service, { definition }), 'TEMPLATE_DEFINITION_INVALID');
    const problems = (error.details!.problems as { path: string; kind: string }[]).map((p) => [p.path, p.kind]);
    expect(problems).toEqual([
      ['parties.borrower', 'duplicatePartyRole'],
      ['parties.borrower.order', 'duplicatePartyOrder'],
      ['checks.3.variable', 'unknownVariable'],
      ['vendorBindings.esign.componentKeys.loanPurpose', 'unknownVariable'],
    ]);
    expect(await footprint()).toEqual(before);
  });

  it('a file that is not a PDF is refused before anything is stored', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const error = await expectError(
      service.importTemplate(editor, {
        code: 'LOAN_CONTRACT_V',
        name: '借款合同',
        documentType: 'LOAN_CONTRACT',
        pdf: new TextEncoder().encode('PK\u0003\u0004 a docx file'),
      }),
      'PDF_INVALID',
    );
    expect(error.details).toMatchObject({ reason: 'not-pdf' });
    expect(await footprint()).toEqual(before);
  });

  it('a command without the editor role names the missing role', async () => {
    const { service, footprint } = setupTemplates();
    const before = await footprint();
    const error = await expectError(
      service.importTemplate(legalLee, { code: 'X', name: 'x', documentType: 'LOAN_CONTRACT', pdf: CONTRACT_PDF }),
      'FORBIDDEN',
    );
    expect(error.details).toMatchObject({ missingRole: 'template-editor' });
    expect(error.message).toContain('template-editor');
    expect(await footprint()).toEqual(before);
  });

  it('submitting an incomplete configuration (one party) is refused and the draft stays a draft', async () => {
    const { service, footprint } = setupTemplates();
    const definition = loanDefinition();
    definition.parties = definition.parties!.slice(0, 1);
    const v1 = await importLoanContract(service, { definition });
    const before = await footprint();
    const error = await expectError(service.submit(editor, v1.id), 'TEMPLATE_DEFINITION_INVALID');
    expect(error.details).toMatchObject({ path: 'parties', kind: 'partyCount' });
    expect(await footprint()).toEqual(before);
  });

  it('a value or seal placed off its page, on import and on edit, naming the page and its bounds', async () => {
    const { service, footprint } = setupTemplates();
    const empty = await footprint();
    const definition = loanDefinition();
    // The contract's pages are A4 portrait: 595 × 842 points.
    definition.variables![0] = {
      ...definition.variables![0]!,
      placement: { page: 0, rect: { x: 500, y: 700, width: 200, height: 20 } },
    };
    const onImport = await expectError(importLoanContract(service, { definition }), 'TEMPLATE_DEFINITION_INVALID');
    expect(onImport.details).toMatchObject({ path: 'variables.borrowerName.placement.rect', kind: 'outsidePage' });
    expect(onImport.message).toMatch(
      /\(500, 700\) to \(700, 720\) is not on page 0, which spans \(0, 0\) to \(595\.\d*, 841\.\d*\)/,
    );
    expect(await footprint()).toEqual(empty);

    const v1 = await importLoanContract(service);
    const before = await footprint();
    const parties = v1.definition.parties.map((p) =>
      p.role === 'platform' ? { ...p, seal: { page: 7, rect: { x: 100, y: -50, width: 120, height: 40 } } } : p,
    );
    const onEdit = await expectError(service.updateDraft(editor, v1.id, { parties }), 'TEMPLATE_DEFINITION_INVALID');
    expect(onEdit.details).toMatchObject({ path: 'parties.platform.seal.rect', kind: 'outsidePage' });
    expect(await footprint()).toEqual(before);
    // Touching the page's edge is on the page.
    const edge = v1.definition.parties.map((p) =>
      p.role === 'platform' ? { ...p, seal: { page: 7, rect: { x: 0, y: 0, width: 120, height: 40 } } } : p,
    );
    expect((await service.updateDraft(editor, v1.id, { parties: edge })).definition.parties).toEqual(edge);
  });

  it('a version imported before page boxes were kept reads them from its stored PDF to refuse an off-page seal', async () => {
    const { service, persistence } = setupTemplates();
    const v1 = await importLoanContract(service);
    expect(v1.pdf.pages).toHaveLength(8);
    // What a version imported by an earlier release holds: its PDF without page boxes.
    await persistence.transaction(async (tx) => {
      const row = (await tx.entities.get('template-version', v1.id))!;
      const data = row.data as { pdf: { pages?: unknown } };
      delete data.pdf.pages;
      expect(
        await tx.entities.update('template-version', v1.id, row.version, {
          data,
          tags: row.tags,
          uniqueKey: row.uniqueKey,
          updatedAt: row.updatedAt,
        }),
      ).toBe(true);
    });
    const parties = v1.definition.parties.map((p) =>
      p.role === 'platform' ? { ...p, seal: { page: 7, rect: { x: 100, y: -50, width: 120, height: 40 } } } : p,
    );
    const onEdit = await expectError(service.updateDraft(editor, v1.id, { parties }), 'TEMPLATE_DEFINITION_INVALID');
    expect(onEdit.details).toMatchObject({ path: 'parties.platform.seal.rect', kind: 'outsidePage' });
  });

  it('a seal placed by a keyword that the PDF does not contain', async () => {
    const { service, footprint } = setupTemplates();
    const v1 = await importLoanContract(service);
    const before = await footprint();
    const parties = [
      { role: 'borrower', kind: 'person' as const, order: 1, seal: { keyword: '签字' } },
      { role: 'platform', kind: 'organization' as const, order: 2, seal: { keyword: '公章处' } },
    ];
    const error = await expectError(service.updateDraft(editor, v1.id, { parties }), 'TEMPLATE_DEFINITION_INVALID');
    expect(error.details).toMatchObject({ path: 'parties.platform.seal.keyword', kind: 'keywordNotFound' });
    expect(await footprint()).toEqual(before);
    // The keywords the PDF does print are accepted.
    const ok = await service.updateDraft(editor, v1.id, {
      parties: [parties[0]!, { ...parties[1]!, seal: { keyword: '（盖章）' } }],
    });
    expect(ok.definition.parties.map((p) => p.seal)).toEqual([{ keyword: '签字' }, { keyword: '（盖章）' }]);
  });

  it('editing or resubmitting a submitted version is refused: it is immutable', async () => {
    const { service, footprint } = setupTemplates();
    const v1 = await importLoanContract(service);
    await service.submit(editor, v1.id);
    const before = await footprint();
    const edit = await expectError(service.updateDraft(editor, v1.id, { name: '改名' }), 'TEMPLATE_VERSION_IMMUTABLE');
    expect(edit.details).toMatchObject({ status: 'PENDING_APPROVAL' });
    await expectError(service.submit(editor, v1.id), 'TEMPLATE_VERSION_IMMUTABLE');
    await service.approve(legalLee, v1.id);
    await service.approve(riskRay, v1.id);
    const afterApproval = await footprint();
    const effective = await expectError(
      service.updateDraft(editor, v1.id, { name: '改名' }),
      'TEMPLATE_VERSION_IMMUTABLE',
    );
    expect(effective.message).toContain('reviseEffective');
    expect(await footprint()).toEqual(afterApproval);
    expect(before.versions).toHaveLength(1);
  });
});

describe('template approval: who may decide', () => {
  async function pending(options: Parameters<typeof setupTemplates>[0] = {}) {
    const setup = setupTemplates(options);
    const v1 = await importLoanContract(setup.service);
    const submitted = await setup.service.submit(editor, v1.id);
    return { ...setup, versionId: v1.id, workflowId: submitted.approvalWorkflowId! };
  }

  it('approval by the wrong role names the role the level needs', async () => {
    const { service, footprint, versionId } = await pending();
    const before = await footprint();
    const error = await expectError(service.approve(riskRay, versionId), 'FORBIDDEN');
    expect(error.details).toMatchObject({ missingRole: 'legal', level: 1 });
    expect(error.message).toContain('needs the role legal');
    expect(await footprint()).toEqual(before);
  });

  it('the submitter cannot approve their own submission', async () => {
    const { service, footprint } = setupTemplates();
    const maker = { id: 'alice', roles: ['template-editor', 'legal'] };
    const v1 = await service.importTemplate(maker, {
      code: 'LOAN_CONTRACT_V',
      name: '个人借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: CONTRACT_PDF,
      definition: loanDefinition(),
    });
    await service.submit(maker, v1.id);
    const before = await footprint();
    const error = await expectError(service.approve(maker, v1.id), 'MAKER_CHECKER_VIOLATION');
    expect(error.details).toMatchObject({ rule: 'submitterCannotApprove' });
    expect(await footprint()).toEqual(before);
  });

  it('nobody approves two levels of the same request', async () => {
    const { service, footprint, versionId } = await pending();
    await service.approve(bothBo, versionId);
    const before = await footprint();
    const error = await expectError(service.approve(bothBo, versionId), 'MAKER_CHECKER_VIOLATION');
    expect(error.details).toMatchObject({ rule: 'oneLevelPerPerson', approvedLevel: 1 });
    expect(await footprint()).toEqual(before);
  });

  it('two approvers approving the same level at the same moment: exactly one wins', async () => {
    const { service, runtime, versionId, workflowId } = await pending();
    const results = await Promise.allSettled([
      service.approve(legalLee, versionId),
      service.approve(legalLin, versionId),
    ]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    const error = expectSealflowError(rejected[0]!.reason, 'APPROVAL_LEVEL_MISMATCH');
    expect(error.details).toMatchObject({ level: 1, currentLevel: 2 });
    const context = (await runtime.get(workflowId))!.context as ApprovalContext;
    expect(context.approvals).toHaveLength(1);
    expect((await service.getVersion(versionId))?.approvals).toHaveLength(1);
    expect((await service.history('LOAN_CONTRACT_V')).filter((h) => h.action === 'levelApproved')).toHaveLength(1);
  });

  it('an approver who arrives after a colleague decided their level is told so, not that they lack a role', async () => {
    const { service, versionId } = await pending();
    await service.approve(legalLee, versionId);
    const error = await expectError(service.approve(legalLin, versionId), 'APPROVAL_LEVEL_MISMATCH');
    expect(error.message).toContain('approved by lee');
    expect((await service.getVersion(versionId))?.approvals).toHaveLength(1);
  });

  it('two approvers racing on the last level: one makes it EFFECTIVE, the other is told it was decided', async () => {
    const { service, versionId } = await pending({ levels: [{ name: 'legal', roles: ['legal'] }] });
    const results = await Promise.allSettled([
      service.approve(legalLee, versionId),
      service.approve(legalLin, versionId),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expectSealflowError(loser.reason, 'TEMPLATE_NOT_PENDING');
    expect((await service.getVersion(versionId))?.status).toBe('EFFECTIVE');
  });

  it('a decision for a level that is not deciding now (a stale screen) is refused', async () => {
    const { service, footprint, versionId } = await pending();
    const before = await footprint();
    await expectError(service.approve(riskRay, versionId, { level: 2 }), 'APPROVAL_LEVEL_MISMATCH');
    expect(await footprint()).toEqual(before);
  });

  it('a rejection needs a reason', async () => {
    const { service, footprint, versionId } = await pending();
    const before = await footprint();
    await expectError(service.reject(legalLee, versionId, '  '), 'INVALID_INPUT');
    expect(await footprint()).toEqual(before);
  });
});
