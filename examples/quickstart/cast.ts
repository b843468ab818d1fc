/**
 * Who takes part: the platform, the funding institutions (机构), the staff with their roles, the customers and the
 * loan products. In production these come from your user directory, your institution onboarding and your product
 * catalogue.
 */
import type { DispatchActor, LoanProduct } from '@sealflow/core';
import { withCreditCodeCheckChar, withIdNumberCheckChar } from '@sealflow/core';

/** 统一社会信用代码 with its check character computed (GB 32100). */
const creditCode = withCreditCodeCheckChar;
/** 18-digit 居民身份证号码 with its GB 11643 check digit: region (6) + birth date (8) + sequence (3). */
const idNumber = withIdNumberCheckChar;

export const PLATFORM = { name: '某某消费金融股份有限公司', creditCode: creditCode('91330100MA2KQ8N3X') };

/** The funding institutions, each with its own seal and a deposit (保证金) that is its position (头寸), in fen. */
export const INSTITUTIONS = [
  {
    id: 'bank-hz-001',
    name: '某某商业银行股份有限公司',
    creditCode: creditCode('91330000704201560'),
    sealId: 'bank-hz-001-seal',
    depositFen: 900_000_000,
  },
  {
    id: 'mc-hz-002',
    name: '杭州某某小额贷款股份有限公司',
    creditCode: creditCode('91330100MA2C7Y4L8'),
    sealId: 'mc-hz-002-seal',
    depositFen: 800_000_000,
  },
  {
    id: 'cf-zj-003',
    name: '浙江某某消费金融有限公司',
    creditCode: creditCode('91330000MA2D5P1R6'),
    sealId: 'cf-zj-003-seal',
    depositFen: 700_000_000,
  },
  {
    id: 'tr-zj-004',
    name: '浙江某某信托有限公司',
    creditCode: creditCode('91330100MA2E3K9T2'),
    sealId: 'tr-zj-004-seal',
    depositFen: 600_000_000,
  },
] as const;
export type InstitutionProfile = (typeof INSTITUTIONS)[number];

/** Where the applications come from and what kind they are: ranking matches institutions on both. */
export const REGION = { code: '330100', name: '杭州市' };
export const CATEGORY = 'consumer';

export const PRODUCTS: LoanProduct[] = [
  {
    code: 'CONSUMER',
    name: '个人消费贷',
    requiredMaterials: ['id-card', 'income-proof', 'bank-statement'],
    maxAmountFen: 20_000_000,
  },
];

/** The customers. Printed only masked (王** 330106********302X); the test checks the output for their data. */
export const CUSTOMERS = [
  { name: '王雨桐', idNumber: idNumber('33010619930715302'), mobile: '13857126043' },
  { name: '陈建国', idNumber: idNumber('31010119620412351'), mobile: '13501862274' },
] as const;
export const [BORROWER, SENIOR_APPLICANT] = CUSTOMERS;

/** Template staff: 录入 by operations, 法务 then 风控 approve. */
export const TEMPLATE_STAFF = {
  editor: { id: 'ops.zhou', roles: ['template-editor'] },
  legal: { id: 'legal.wang', roles: ['legal'] },
  risk: { id: 'risk.li', roles: ['risk'] },
};

/** Dispatch staff. An institution's staff carry its id and see only its own offers, applications and ledger. */
export const STAFF = {
  customerManager: { id: 'cm.sun', roles: ['customer-manager'] },
  reviewer: { id: 'review.zhao', roles: ['loan-reviewer'] },
  followUp: { id: 'followup.qian', roles: ['follow-up-manager'] },
  settler: { id: 'settle.wu', roles: ['settler'] },
  admin: { id: 'admin.zheng', roles: ['platform-admin'] },
} satisfies Record<string, DispatchActor>;

export function staffOf(institutionId: string): DispatchActor {
  return { id: `${institutionId}.clerk`, roles: ['institution'], institutionId };
}

/** Names of the staff for the statistics report: sealflow keeps ids only. */
export const STAFF_NAMES: Record<string, string> = { [STAFF.customerManager.id]: '孙经理' };
