/**
 * The demo's contract templates (变量, 替换规则, 签章主体, 业务校验). In production operations configure them in the
 * back office and approve them there; here they are data. All three use the repository's fixture PDF
 * (`fixtures/contract-8p-25f.pdf`, an 8-page 个人消费借款合同 with 25 form fields): a lender would import a separate
 * 授信合同 and 数据查询授权书.
 */
import type { TemplateDefinitionInput } from '@sealflow/core';

type Definition = Omit<TemplateDefinitionInput, 'code' | 'name' | 'documentType'>;

/** Where each party seals: centred on the signature-block keywords of the contract's last page. */
const seals = {
  borrower: { keyword: '乙方（签字）', offset: { x: 40, y: 0 } },
  lender: { keyword: '甲方（盖章）', offset: { x: 40, y: 0 } },
};

/** 业务校验: the age on the signing day (China time), from the ID number's birth date. */
const ageCheck = (variable: string, who: string) =>
  ({ kind: 'ageBetween', variable, min: 18, max: 60, message: `${who}年龄须在18至60周岁之间` }) as const;

/**
 * 借款合同 (document type LOAN_CONTRACT). The lender (甲方) is the platform or the funder, so its name and credit code come
 * from the request's `values.lender`; the platform and the funder each have a party, and the signing scene picks the
 * one the loan's funding needs.
 */
export const loanContract: Definition = {
  variables: [
    {
      key: 'contractNo',
      label: '合同编号',
      type: 'text',
      source: 'signing.businessNo',
      placement: { field: 'contractNo' },
    },
    { key: 'lenderName', label: '出借人', type: 'text', source: 'lender.name', placement: { field: 'lenderName' } },
    {
      key: 'lenderCreditCode',
      label: '出借人统一社会信用代码',
      type: 'creditCode',
      source: 'lender.creditCode',
      placement: { field: 'lenderCreditCode' },
    },
    {
      key: 'borrowerName',
      label: '借款人姓名',
      type: 'text',
      source: 'borrower.name',
      placement: { field: 'borrowerName' },
    },
    {
      key: 'borrowerIdNo',
      label: '借款人身份证号',
      type: 'idNumber',
      source: 'borrower.idNumber',
      rule: { kind: 'idNumberMasked' }, // 330106********1234
      placement: { field: 'borrowerIdNo' },
    },
    {
      key: 'borrowerPhone',
      label: '联系电话',
      type: 'mobile',
      source: 'borrower.mobile',
      rule: { kind: 'mask', keepStart: 3, keepEnd: 4 }, // 139****5678
      placement: { field: 'borrowerPhone' },
    },
    {
      key: 'borrowerAddress',
      label: '住所地',
      type: 'text',
      source: 'customer.address',
      validation: { maxLength: 40 },
      placement: { field: 'borrowerAddress' },
    },
    {
      key: 'loanAmountUpper',
      label: '借款金额（大写）',
      type: 'amount',
      source: 'loan.amount',
      rule: { kind: 'amountInChineseCapitals' }, // 人民币伍万元整
      placement: { field: 'loanAmountUpper' },
    },
    {
      key: 'loanAmountLower',
      label: '借款金额（小写）',
      type: 'amount',
      source: 'loan.amount',
      rule: { kind: 'amountWithSeparators', currencySymbol: '¥', decimals: 2 }, // ¥50,000.00
      placement: { field: 'loanAmountLower' },
    },
    { key: 'creditLimit', label: '授信额度', type: 'amount', source: 'credit.limit' }, // read by a check, not printed
    {
      key: 'loanPurpose',
      label: '借款用途',
      type: 'text',
      source: 'loan.purpose',
      placement: { field: 'loanPurpose' },
    },
    { key: 'loanTerm', label: '借款期限', type: 'text', source: 'loan.term', placement: { field: 'loanTerm' } },
    {
      key: 'annualRate',
      label: '年化利率',
      type: 'text',
      source: 'loan.annualRate',
      placement: { field: 'annualRate' },
    },
    {
      key: 'startDate',
      label: '起息日',
      type: 'date',
      source: 'loan.startDate',
      rule: { kind: 'date', pattern: 'YYYY年MM月DD日' },
      placement: { field: 'startDate' },
    },
    {
      key: 'endDate',
      label: '到期日',
      type: 'date',
      source: 'loan.endDate',
      rule: { kind: 'date', pattern: 'YYYY年MM月DD日' },
      placement: { field: 'endDate' },
    },
    {
      key: 'repayMethod',
      label: '还款方式',
      type: 'text',
      source: 'loan.repayMethod',
      placement: { field: 'repayMethod' },
    },
    { key: 'signPlace', label: '签订地点', type: 'text', source: 'loan.signPlace', placement: { field: 'signPlace' } },
    {
      key: 'signDate',
      label: '签署日期',
      type: 'date',
      source: 'signing.date', // the signing day in China, supplied by sealflow
      rule: { kind: 'date', pattern: 'YYYY年M月D日' },
      placement: { field: 'signDateBorrower' },
    },
  ],
  parties: [
    { role: 'borrower', kind: 'person', label: '借款人（乙方）', order: 1, seal: seals.borrower },
    { role: 'platform', kind: 'organization', label: '平台（甲方）', order: 2, seal: seals.lender },
    { role: 'funder', kind: 'organization', label: '资金方（甲方）', order: 3, seal: seals.lender },
  ],
  checks: [
    ageCheck('borrowerIdNo', '借款人'),
    {
      kind: 'amountWithin',
      variable: 'loanAmountUpper',
      maxVariable: 'creditLimit',
      message: '借款金额不得超过授信额度',
    },
    { kind: 'dateNotBefore', variable: 'startDate', than: 'today', message: '起息日不得早于签署日' },
    { kind: 'dateNotBefore', variable: 'endDate', than: { variable: 'startDate' }, message: '到期日不得早于起息日' },
  ],
};

/** 授信合同 and 数据查询授权书 (scene CREDIT_GRANT): the customer and the platform; the credit limit in capitals. */
export const creditDocument = (title: string): Definition => ({
  variables: [
    {
      key: 'contractNo',
      label: `${title}编号`,
      type: 'text',
      source: 'signing.businessNo',
      placement: { field: 'contractNo' },
    },
    {
      key: 'platformName',
      label: '平台名称',
      type: 'text',
      source: 'platform.name',
      placement: { field: 'lenderName' },
    },
    {
      key: 'borrowerName',
      label: '申请人姓名',
      type: 'text',
      source: 'borrower.name',
      placement: { field: 'borrowerName' },
    },
    {
      key: 'borrowerIdNo',
      label: '申请人身份证号',
      type: 'idNumber',
      source: 'borrower.idNumber',
      rule: { kind: 'idNumberMasked' },
      placement: { field: 'borrowerIdNo' },
    },
    {
      key: 'creditLimit',
      label: '授信额度',
      type: 'amount',
      source: 'credit.limit',
      rule: { kind: 'amountInChineseCapitals' },
      placement: { field: 'loanAmountUpper' },
    },
  ],
  parties: [
    { role: 'borrower', kind: 'person', order: 1, seal: seals.borrower },
    { role: 'platform', kind: 'organization', order: 2, seal: seals.lender },
  ],
  checks: [ageCheck('borrowerIdNo', '申请人')],
});

/** Template code → what to import. The codes are mapped to the signing scenes' documents in `sealflow-setup.ts`. */
export const TEMPLATES = [
  { code: 'LOAN_CONTRACT_V', name: '个人消费借款合同', documentType: 'LOAN_CONTRACT', definition: loanContract },
  {
    code: 'CREDIT_CONTRACT_V',
    name: '个人授信合同',
    documentType: 'CREDIT_CONTRACT',
    definition: creditDocument('授信合同'),
  },
  {
    code: 'DATA_QUERY_AUTH_V',
    name: '个人信息查询授权书',
    documentType: 'DATA_QUERY_AUTHORIZATION',
    definition: creditDocument('授权书'),
  },
] as const;
