import type { ApplicationRow, InstitutionPerformance } from '../../src/index.js';

const PRODUCTS = ['经营贷', '消费贷', '车抵贷'];
const STATUSES = ['已放款', '审核中', '已拒绝'];
const MANAGERS = [
  { id: 'M001', name: '张三丰' },
  { id: 'M002', name: '李四' },
  { id: 'M003', name: '欧阳娜娜' },
];

/** `count` applications spread over October 2026, products, statuses and managers in turn. */
export function applications(count: number): ApplicationRow[] {
  return Array.from({ length: count }, (_, i) => {
    const manager = MANAGERS[i % MANAGERS.length]!;
    return {
      applicationNo: `SQ2026${String(i + 1).padStart(5, '0')}`,
      periodDate: `2026-10-${String((i % 31) + 1).padStart(2, '0')}`,
      product: PRODUCTS[i % PRODUCTS.length]!,
      status: STATUSES[Math.floor(i / 3) % STATUSES.length]!,
      customerManagerId: manager.id,
      customerManagerName: manager.name,
      amountFen: 5_000_000 + i * 1_001,
      institution: i % 2 === 0 ? '某某商业银行上海分行' : undefined,
    };
  });
}

/** An institution's row with neutral defaults. */
export function institution(
  region: string,
  institutionId: string,
  fields: Partial<InstitutionPerformance> = {},
): InstitutionPerformance {
  return {
    region,
    institutionId,
    institutionName: `${institutionId}号机构`,
    amountFen: 1_000_000,
    meanResponseMs: 3_600_000,
    successes: 10,
    abandonmentRate: 0.1,
    ...fields,
  };
}

/** Three institutions in two regions with distinct figures on every criterion: the rows the export tests draw. */
export function rankingRows(): InstitutionPerformance[] {
  return [
    institution('上海市', 'A', {
      institutionName: '甲银行',
      amountFen: 12_345_67,
      meanResponseMs: 5_400_000,
      successes: 4,
      abandonmentRate: 0.125,
    }),
    institution('上海市', 'B', {
      institutionName: '乙小贷',
      amountFen: 99,
      meanResponseMs: 90_500,
      successes: 1,
      abandonmentRate: 0,
    }),
    institution('北京市', 'C', { institutionName: '丙信托', amountFen: 1, successes: 0 }),
  ];
}
