import { readFileSync } from 'node:fs';
import {
  type Persistence,
  SealflowError,
  type TemplateActor,
  createRuntime,
  createTemplateService,
  templateWorkflows,
} from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore } from '@sealflow/core/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceBackends } from './support/postgres.js';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';

/**
 * The template lifecycle on real SQL: every status change, the history and the workflow transition commit together,
 * and two approvers racing on one level still produce exactly one approval.
 */
const PDF = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const editor: TemplateActor = { id: 'alice', roles: ['template-editor'] };
const legalLee: TemplateActor = { id: 'lee', roles: ['legal'] };
const legalLin: TemplateActor = { id: 'lin', roles: ['legal'] };
const riskRay: TemplateActor = { id: 'ray', roles: ['risk'] };

const backends = await persistenceBackends('templates');

let persistence: Persistence;

function setup() {
  const clock = createManualClock();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: templateWorkflows() });
  const service = createTemplateService({
    runtime,
    documents: createMemoryDocumentStore({ clock }),
    approvalLevels: [
      { name: 'legal', roles: ['legal'] },
      { name: 'risk', roles: ['risk'] },
    ],
  });
  return { clock, runtime, service };
}

async function importContract(service: ReturnType<typeof setup>['service'], code: string) {
  return service.importTemplate(editor, {
    code,
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: PDF,
    definition: {
      variables: [
        {
          key: 'borrowerName',
          label: '借款人姓名',
          type: 'text',
          rule: { kind: 'text' },
          placement: { field: 'borrowerName' },
        },
        { key: 'borrowerIdNo', label: '借款人身份证号', type: 'idNumber', placement: { field: 'borrowerIdNo' } },
        {
          key: 'loanAmount',
          label: '借款金额',
          type: 'amount',
          rule: { kind: 'amountInChineseCapitals' },
          placement: { field: 'loanAmountUpper' },
        },
      ],
      parties: [
        {
          role: 'borrower',
          kind: 'person',
          order: 1,
          seal: { page: 7, rect: { x: 340, y: 230, width: 120, height: 40 } },
        },
        {
          role: 'platform',
          kind: 'organization',
          order: 2,
          seal: { page: 7, rect: { x: 100, y: 230, width: 120, height: 40 } },
        },
      ],
      checks: [
        { kind: 'ageBetween', variable: 'borrowerIdNo', min: 18, max: 60, message: '借款人年龄须在18至60周岁之间' },
      ],
    },
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`template lifecycle on ${backend.name}`, () => {
    beforeAll(async () => {
      persistence = await backend.open();
    });
    afterAll(async () => {
      await persistence.close();
      await backend.cleanup();
    });

    it('import → edit → submit → legal → risk → EFFECTIVE, then a revision supersedes it', async () => {
      const { service } = setup();
      const v1 = await importContract(service, 'PG_LOAN');
      await service.updateDraft(editor, v1.id, {
        variables: v1.definition.variables.map((v) =>
          v.key === 'borrowerName' ? { ...v, rule: { kind: 'mask', keepStart: 1, keepEnd: 0 } } : v,
        ),
      });
      await service.submit(editor, v1.id);
      await service.approve(legalLee, v1.id);
      expect((await service.approve(riskRay, v1.id)).status).toBe('EFFECTIVE');
      expect((await service.requireEffective('PG_LOAN')).id).toBe(v1.id);

      const v2 = await service.reviseEffective(editor, 'PG_LOAN');
      await service.submit(editor, v2.id);
      await service.approve(legalLin, v2.id);
      await service.approve(riskRay, v2.id);
      expect((await service.getVersion(v1.id))?.status).toBe('SUPERSEDED');
      expect((await service.getEffective('PG_LOAN'))?.id).toBe(v2.id);
      expect((await service.list({ code: 'PG_LOAN', status: 'SUPERSEDED' })).map((v) => v.id)).toEqual([v1.id]);

      const history = await service.history('PG_LOAN');
      expect(history.find((h) => h.action === 'updated')?.summary).toBe(
        'variables.borrowerName.rule: text → mask(1,0)',
      );
      expect(history.map((h) => h.action)).toEqual([
        'imported',
        'updated',
        'submitted',
        'levelApproved',
        'levelApproved',
        'approved',
        'revised',
        'submitted',
        'levelApproved',
        'levelApproved',
        'approved',
        'superseded',
      ]);
    });

    it('the history of added and removed variables, placements and checks reads back as written', async () => {
      const { service } = setup();
      const v1 = await importContract(service, 'PG_HISTORY');
      const { variables, checks } = v1.definition;
      const guarantor = { key: 'guarantorName', label: '担保人姓名', type: 'text' as const };
      const guarantorCheck = { kind: 'required' as const, variable: 'guarantorName', message: '须填写担保人姓名' };
      // Added without a placement, then placed while another loses its placement, then removed.
      await service.updateDraft(editor, v1.id, {
        variables: [...variables, guarantor],
        checks: [...checks, guarantorCheck],
      });
      await service.updateDraft(editor, v1.id, {
        variables: [
          ...variables.map((v) => (v.key === 'loanAmount' ? { ...v, placement: undefined } : v)),
          { ...guarantor, placement: { field: 'guarantorName' } },
        ],
      });
      await service.updateDraft(editor, v1.id, { variables, checks });

      const updates = (await service.history('PG_HISTORY')).filter((h) => h.action === 'updated');
      expect(updates.map((h) => h.changes)).toStrictEqual([
        [
          {
            path: 'variables.guarantorName',
            after: { ...guarantor, required: true },
            summary: 'variables.guarantorName: added 担保人姓名 (text)',
          },
          { path: 'checks.1', after: guarantorCheck, summary: 'checks.1: added required "须填写担保人姓名"' },
        ],
        [
          {
            path: 'variables.loanAmount.placement',
            before: { field: 'loanAmountUpper' },
            summary: 'variables.loanAmount.placement: removed field loanAmountUpper',
          },
          {
            path: 'variables.guarantorName.placement',
            after: { field: 'guarantorName' },
            summary: 'variables.guarantorName.placement: added field guarantorName',
          },
        ],
        [
          {
            path: 'variables.loanAmount.placement',
            after: { field: 'loanAmountUpper' },
            summary: 'variables.loanAmount.placement: added field loanAmountUpper',
          },
          {
            path: 'variables.guarantorName',
            before: { ...guarantor, required: true, placement: { field: 'guarantorName' } },
            summary: 'variables.guarantorName: removed 担保人姓名 (text)',
          },
          { path: 'checks.1', before: guarantorCheck, summary: 'checks.1: removed required "须填写担保人姓名"' },
        ],
      ]);
    });

    it('an editor racing colleagues for each level never approves; one colleague decides each level', async () => {
      const { service } = setup();
      const eve: TemplateActor = { id: 'eve', roles: ['template-editor', 'legal', 'risk'] };
      const v1 = await importContract(service, 'PG_MAKER');
      await service.updateDraft(eve, v1.id, { name: '个人借款合同（2026版）' });
      await service.submit(editor, v1.id);
      const makers = [eve, { ...eve, id: 'EVE' }, { ...eve, id: ' Eve ' }, { ...eve, id: 'Alice' }];
      for (const checkers of [
        [legalLee, legalLin],
        [riskRay, { id: 'rita', roles: ['risk'] }],
      ]) {
        const results = await Promise.allSettled([
          ...makers.map((m) => service.approve(m, v1.id)),
          ...checkers.map((c) => service.approve(c, v1.id)),
        ]);
        for (const result of results.slice(0, makers.length)) {
          expect(result.status).toBe('rejected');
          expect(((result as PromiseRejectedResult).reason as SealflowError).code).toBe('MAKER_CHECKER_VIOLATION');
        }
        expect(results.slice(makers.length).filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      }
      const version = (await service.getVersion(v1.id))!;
      expect(version.status).toBe('EFFECTIVE');
      expect(version.makers).toEqual(['alice', 'eve']);
      expect(version.approvals).toHaveLength(2);
      for (const approval of version.approvals) expect(['alice', 'eve']).not.toContain(approval.actorId.toLowerCase());
    });

    it('rejection makes the version INVALID with its reason', async () => {
      const { service } = setup();
      const v1 = await importContract(service, 'PG_REJECT');
      await service.submit(editor, v1.id);
      const rejected = await service.reject(legalLee, v1.id, '担保条款缺失');
      expect(rejected).toMatchObject({ status: 'INVALID', decision: { reason: '担保条款缺失', by: 'lee' } });
    });

    it('two approvers on the same level at the same moment: exactly one wins', async () => {
      const { service } = setup();
      const v1 = await importContract(service, 'PG_RACE');
      await service.submit(editor, v1.id);
      const results = await Promise.allSettled([service.approve(legalLee, v1.id), service.approve(legalLin, v1.id)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(loser.reason).toBeInstanceOf(SealflowError);
      expect((loser.reason as SealflowError).code).toBe('APPROVAL_LEVEL_MISMATCH');
      expect((await service.getVersion(v1.id))?.approvals).toHaveLength(1);
    });
  });
}
