import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import {
  type Persistence,
  SealflowError,
  type TemplateActor,
  type TemplateDefinitionInput,
  createRuntime,
  createTemplateService,
  templateWorkflows,
} from '../src/index.js';
import { createManualClock, createMemoryDocumentStore, createMemoryPersistence } from '../src/memory/index.js';
import { CONTRACT_TEMPLATE_PDF, CONTRACT_VALUES_JSON } from '../../../fixtures/paths.js';

/** The 8-page, 25-field loan contract the benchmarks use. */
export const CONTRACT_PDF = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
export const CONTRACT_FIELDS: string[] = JSON.parse(readFileSync(CONTRACT_VALUES_JSON, 'utf8')).fields.map(
  (f: { name: string }) => f.name,
);

export const editor: TemplateActor = { id: 'alice', roles: ['template-editor'] };
export const legalLee: TemplateActor = { id: 'lee', roles: ['legal'] };
export const legalLin: TemplateActor = { id: 'lin', roles: ['legal'] };
export const riskRay: TemplateActor = { id: 'ray', roles: ['risk'] };
/** Holds both approver roles: the maker-checker rules must still stop them approving twice. */
export const bothBo: TemplateActor = { id: 'bo', roles: ['legal', 'risk'] };

export const LEVELS = [
  { name: 'legal', roles: ['legal'] },
  { name: 'risk', roles: ['risk'] },
];

/** A loan contract (借款合同) configuration bound to the fixture's fields. */
export function loanDefinition(): Omit<TemplateDefinitionInput, 'code' | 'name' | 'documentType'> {
  return {
    variables: [
      {
        key: 'borrowerName',
        label: '借款人姓名',
        type: 'text',
        source: 'borrower.name',
        rule: { kind: 'text' },
        placement: { field: 'borrowerName' },
        validation: { maxLength: 20 },
      },
      {
        key: 'borrowerIdNo',
        label: '借款人身份证号',
        type: 'idNumber',
        source: 'borrower.idNumber',
        placement: { field: 'borrowerIdNo' },
      },
      {
        key: 'borrowerPhone',
        label: '借款人手机号',
        type: 'mobile',
        source: 'borrower.mobile',
        placement: { field: 'borrowerPhone' },
      },
      {
        key: 'loanAmount',
        label: '借款金额',
        type: 'amount',
        source: 'loan.amount',
        rule: { kind: 'amountInChineseCapitals' },
        placement: { field: 'loanAmountUpper' },
      },
      {
        key: 'loanAmountFigures',
        label: '借款金额（小写）',
        type: 'amount',
        source: 'loan.amount',
        rule: { kind: 'amountWithSeparators', decimals: 2, currencySymbol: '¥' },
        placement: { field: 'loanAmountLower' },
      },
      { key: 'creditLimit', label: '授信额度', type: 'amount', source: 'credit.limit' },
      {
        key: 'startDate',
        label: '起息日',
        type: 'date',
        source: 'loan.startDate',
        rule: { kind: 'date', pattern: 'YYYY年MM月DD日' },
        placement: { field: 'startDate' },
      },
      {
        key: 'loanTerm',
        label: '借款期限（月）',
        type: 'integer',
        source: 'loan.termMonths',
        required: false,
        validation: { min: 1, max: 60 },
        placement: { field: 'loanTerm' },
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
      { kind: 'amountWithin', variable: 'loanAmount', maxVariable: 'creditLimit', message: '借款金额不得超过授信额度' },
      { kind: 'dateNotBefore', variable: 'startDate', than: 'today', message: '起息日不得早于签署日' },
    ],
    vendorBindings: {
      esign: { docTemplateId: 'esign-tpl-001', componentKeys: { borrowerName: 'jkrxm', loanAmount: 'jkje' } },
      cfca: { templateId: 'cfca-77', fieldNames: { borrowerName: 'BorrowerName' } },
    },
  };
}

export function setupTemplates(
  options: { persistence?: Persistence; deadlineMs?: number; levels?: typeof LEVELS } = {},
) {
  const clock = createManualClock();
  const persistence = options.persistence ?? createMemoryPersistence();
  const documents = createMemoryDocumentStore({ clock });
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: templateWorkflows() });
  const service = createTemplateService({
    runtime,
    documents,
    approvalLevels: options.levels ?? LEVELS,
    ...(options.deadlineMs !== undefined ? { approvalDeadlineMs: options.deadlineMs } : {}),
  });
  /** Everything the template code can write, to prove a failed command wrote none of it. */
  async function footprint() {
    return persistence.transaction(async (tx) => ({
      versions: (await tx.entities.find('template-version')).map((r) => [r.id, r.version]),
      heads: (await tx.entities.find('template')).map((r) => [r.id, r.version]),
      history: (await tx.entities.find('template-history')).length,
      workflows: (await tx.workflows.list()).map((w) => [w.id, w.rowVersion]),
      outbox: (await tx.outbox.list()).length,
      documents: documents.size(),
    }));
  }
  return { clock, persistence, documents, runtime, service, footprint };
}

export async function importLoanContract(
  service: ReturnType<typeof setupTemplates>['service'],
  overrides: {
    code?: string;
    documentType?: string;
    definition?: Omit<TemplateDefinitionInput, 'code' | 'name' | 'documentType'>;
  } = {},
) {
  return service.importTemplate(editor, {
    code: overrides.code ?? 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: overrides.documentType ?? 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: overrides.definition ?? loanDefinition(),
  });
}

export { expectError } from './expect-error.js';

export function expectSealflowError(error: unknown, code: string): SealflowError {
  expect(error).toBeInstanceOf(SealflowError);
  expect((error as SealflowError).code).toBe(code);
  return error as SealflowError;
}
