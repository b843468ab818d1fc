/**
 * `funder.*` value sources: a funder-funded contract prints the assigned funder from the request (no repeat in
 * `values`); a template naming a funder field that does not exist is refused when saved; a signing without a funder
 * whose template needs one is refused at planning with TEMPLATE_NEEDS_FUNDER.
 */
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import {
  REQUEST_SOURCES,
  SigningRefusedError,
  type TemplateDefinitionError,
  type TemplateDefinitionInput,
} from '../src/index.js';

type TemplateVariableInput = NonNullable<TemplateDefinitionInput['variables']>[number];
import { definitionWith, FUNDER, type SigningSetup, setupSigning } from './signing-fixtures.js';
import { CONTRACT_PDF, editor, expectError, legalLee, riskRay } from './template-fixtures.js';

const funderVariables = (required = true): TemplateVariableInput[] => [
  {
    key: 'lenderName',
    label: '出借人',
    type: 'text',
    source: 'funder.name',
    required,
    placement: { field: 'lenderName' },
  },
  {
    key: 'lenderCreditCode',
    label: '出借人统一社会信用代码',
    type: 'creditCode',
    source: 'funder.creditCode',
    required,
    placement: { field: 'lenderCreditCode' },
  },
];

/** A new EFFECTIVE version of the loan contract whose lender blanks read the request's funder. */
async function approveFunderLoan(s: SigningSetup, required = true): Promise<string> {
  const base = definitionWith(['platform', 'funder']);
  const draft = await s.templates.importTemplate(editor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: { ...base, variables: [...(base.variables ?? []), ...funderVariables(required)] },
  });
  await s.templates.submit(editor, draft.id);
  await s.templates.approve(legalLee, draft.id);
  await s.templates.approve(riskRay, draft.id);
  return draft.id;
}

async function renderedFields(s: SigningSetup, recordId: string): Promise<Record<string, string | undefined>> {
  const record = (await s.signing.get(recordId))!;
  const { bytes } = await s.documents.get(record.rendered[0]!.fileId);
  const form = (await PDFDocument.load(bytes)).getForm();
  const text = (name: string) => form.getTextField(name).getText();
  return { lenderName: text('lenderName'), lenderCreditCode: text('lenderCreditCode') };
}

describe('funder.* value sources', () => {
  it("fills the contract from the request's funder, with nothing about the funder in values", async () => {
    const s = await setupSigning();
    const version = await approveFunderLoan(s);
    const request = s.request({ funding: 'funder', funder: FUNDER, shown: [version] });
    expect(JSON.stringify(request.values)).not.toContain(FUNDER.name);
    const record = await s.signing.sign(request);
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('AWAITING_FUNDER');
    expect(await renderedFields(s, record.id)).toEqual({
      lenderName: FUNDER.name,
      lenderCreditCode: FUNDER.creditCode,
    });
  });

  it('shadows a host value of the same name: funder.* is always the assigned funder', async () => {
    const s = await setupSigning();
    const version = await approveFunderLoan(s);
    const base = s.request({ funding: 'funder', funder: FUNDER, shown: [version] });
    const values = { ...base.values, funder: { name: '冒名银行', creditCode: '91110000000000000X' } };
    const record = await s.signing.sign({ ...base, values });
    await s.drain();
    expect((await renderedFields(s, record.id)).lenderName).toBe(FUNDER.name);
  });

  it('refuses a platform-funded signing whose template needs the funder, at planning, naming what reads it', async () => {
    const s = await setupSigning();
    const version = await approveFunderLoan(s);
    const error = await expectError(
      s.signing.sign(s.request({ funding: 'platform', shown: [version] })),
      'TEMPLATE_NEEDS_FUNDER',
    );
    expect(error).toBeInstanceOf(SigningRefusedError);
    expect(error.message).toContain('platform-funded');
    expect(error.message).toContain(`lenderName (funder.name) in ${version}`);
    expect(error.message).toContain("funding 'funder'");
    const record = (await s.signing.get((error as SigningRefusedError).recordId))!;
    expect(record).toMatchObject({
      status: 'FAILED',
      failure: { code: 'TEMPLATE_NEEDS_FUNDER', stage: 'validating' },
      rendered: [],
    });
    // Refused before the costliest check: the customer's real-name verification was never asked for.
    expect(s.verifierCalls).toEqual([]);
  });

  it('leaves optional funder blanks empty in a signing without a funder', async () => {
    const s = await setupSigning();
    const version = await approveFunderLoan(s, false);
    const record = await s.signing.sign(s.request({ funding: 'platform', shown: [version] }));
    await s.drain();
    expect((await s.signing.get(record.id))!.status).toBe('COMPLETED');
    expect(await renderedFields(s, record.id)).toEqual({ lenderName: undefined, lenderCreditCode: undefined });
  });

  it('refuses a template naming a request field that does not exist when it is saved', async () => {
    const s = await setupSigning();
    const base = definitionWith(['platform', 'funder']);
    const bad: TemplateVariableInput[] = [
      { key: 'lenderAddress', label: '出借人地址', type: 'text', source: 'funder.address' },
      { key: 'lender', label: '出借人', type: 'text', source: 'funder' },
      { key: 'borrowerAddress', label: '借款人地址', type: 'text', source: 'borrower.address' },
      { key: 'today', label: '日期', type: 'date', source: 'signing.today' },
      { key: 'funderSeal', label: '印章', type: 'text', source: 'funder.name.first' },
    ];
    const error = (await expectError(
      s.templates.importTemplate(editor, {
        code: 'LOAN_BAD_SOURCE',
        name: '借款合同',
        documentType: 'LOAN_CONTRACT',
        pdf: CONTRACT_PDF,
        definition: { ...base, variables: [...(base.variables ?? []), ...bad] },
      }),
      'TEMPLATE_DEFINITION_INVALID',
    )) as TemplateDefinitionError;
    expect(error.problems.filter((p) => p.kind === 'unknownSource').map((p) => p.path)).toEqual(
      bad.map((v) => `variables.${v.key}.source`),
    );
    const funderProblem = error.problems.find((p) => p.path === 'variables.lenderAddress.source')!;
    expect(funderProblem.message).toContain('funder.id, funder.name, funder.creditCode');
    expect(REQUEST_SOURCES.funder).toEqual(['id', 'name', 'creditCode']);
    // Host values under other names are not the request's: still accepted.
    const fine = await s.templates.importTemplate(editor, {
      code: 'LOAN_HOST_VALUES',
      name: '借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: CONTRACT_PDF,
      definition: {
        ...base,
        variables: [
          ...(base.variables ?? []),
          { key: 'lenderAddress', label: '出借人地址', type: 'text', source: 'lender.address' },
          ...funderVariables(),
        ],
      },
    });
    expect(fine.status).toBe('DRAFT');
  });
});
