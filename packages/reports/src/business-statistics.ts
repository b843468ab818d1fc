/**
 * The business statistics report (业务统计): the applications of a period, grouped by product, status, customer
 * manager or date, with counts and amounts, and the applications themselves as the detail.
 */
import { fenSchema, maskName, ValidationError } from '@sealflow/core';
import { z } from 'zod';
import { addFen, byCodePoint, parseOrThrow } from './validate.js';

/** What the business statistics group the applications by. */
export const STATISTICS_GROUPINGS = ['product', 'status', 'customerManager', 'period'] as const;

/** One of {@link STATISTICS_GROUPINGS}. */
export type StatisticsGrouping = (typeof STATISTICS_GROUPINGS)[number];

/** One loan application as the business statistics count it. */
export interface ApplicationRow {
  /** The application number (申请编号), unique within the report. */
  applicationNo: string;
  /** The date the application counts for, `YYYY-MM-DD` in China time. */
  periodDate: string;
  /** The product (loan type) as printed, e.g. `经营贷`. */
  product: string;
  /** The application's status as printed, e.g. `已放款`. */
  status: string;
  /** The customer manager's (客户经理) id in the host's user directory. */
  customerManagerId: string;
  /** The customer manager's name: personal data, masked in the report unless `showManagerNames` is set. */
  customerManagerName: string;
  /** The amount applied for or lent, integer fen. */
  amountFen: number;
  /** The institution handling it, when it has been dispatched to one. */
  institution?: string | undefined;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date written `YYYY-MM-DD`. */
export const dateSchema = z.string().refine((value) => {
  const m = DATE.exec(value);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === value;
}, 'A date must be a real calendar date written YYYY-MM-DD.');

/** Validates an {@link ApplicationRow}. */
export const applicationRowSchema = z.object({
  applicationNo: z.string().trim().min(1, 'An application number is required.'),
  periodDate: dateSchema,
  product: z.string().trim().min(1, 'A product is required.'),
  status: z.string().trim().min(1, 'A status is required.'),
  customerManagerId: z.string().trim().min(1, 'A customer manager id is required.'),
  customerManagerName: z.string().trim().min(1, 'A customer manager name is required.'),
  amountFen: fenSchema,
  institution: z.string().optional(),
}) satisfies z.ZodType<ApplicationRow>;

/** Options of {@link businessStatistics}. */
export interface BusinessStatisticsOptions {
  /** The period, both ends included, `YYYY-MM-DD`; applications dated outside it are left out. */
  period: { from: string; to: string };
  /** What to group by: `product`, `status`, `customerManager` or `period`. */
  groupBy: StatisticsGrouping;
  /** With `groupBy: 'period'`: one group per day (default) or per month (`YYYY-MM`). */
  periodUnit?: 'day' | 'month';
  /** Print customer managers' full names. Off by default: a report is often sent on, and a name is personal data. */
  showManagerNames?: boolean;
}

/** One group of applications. */
export interface StatisticsGroup {
  /** What the group is keyed on: the product, status, manager id, or the day / month. */
  key: string;
  /** How the group is printed; a manager's name is masked (`张*（M001）`) unless names are shown. */
  label: string;
  /** Applications in the group. */
  count: number;
  /** Their amounts added up, integer fen. */
  amountFen: number;
}

/** The business statistics of a period, ready for {@link toXlsx} or {@link toPdf}. */
export interface BusinessStatisticsReport {
  /** Tells the writers which report this is. */
  kind: 'businessStatistics';
  /** The period covered, both ends included. */
  period: { from: string; to: string };
  /** What the groups are keyed on. */
  groupBy: StatisticsGrouping;
  /** Groups in ascending order of `key` (chronological for `period`). */
  groups: StatisticsGroup[];
  /** Every application of the period, by date then application number; managers' names masked unless shown. */
  applications: ApplicationRow[];
  /** Applications of the period and their amounts added up, integer fen. */
  totals: { count: number; amountFen: number };
}

const optionsSchema = z.object({
  period: z
    .object({ from: dateSchema, to: dateSchema })
    .refine((p) => p.from <= p.to, 'The period must not end before it starts (from ≤ to).'),
  groupBy: z.enum(STATISTICS_GROUPINGS),
  periodUnit: z.enum(['day', 'month']).optional(),
  showManagerNames: z.boolean().optional(),
});

/**
 * Count and add up the applications of `period`, grouped by `groupBy`, with totals over the period.
 *
 * Pure: no clock, no I/O. Throws `ValidationError` for a bad row (negative or fractional fen, a date that is not
 * `YYYY-MM-DD`, …), an application number given twice, one manager id given with two different names, or an unknown
 * `groupBy` — before anything is computed.
 */
export function businessStatistics(
  rows: readonly ApplicationRow[],
  options: BusinessStatisticsOptions,
): BusinessStatisticsReport {
  const {
    period,
    groupBy,
    periodUnit = 'day',
    showManagerNames = false,
  } = parseOrThrow(optionsSchema, options, 'options');
  const valid = parseOrThrow(z.array(applicationRowSchema), rows, 'rows');
  const managers = managerNames(valid);
  const shownName = (id: string) => (showManagerNames ? managers.get(id)! : maskName(managers.get(id)!));
  const inPeriod = valid
    .filter((row) => row.periodDate >= period.from && row.periodDate <= period.to)
    .sort((a, b) => byCodePoint(a.periodDate, b.periodDate) || byCodePoint(a.applicationNo, b.applicationNo));

  const groups = new Map<string, StatisticsGroup>();
  let totals = { count: 0, amountFen: 0 };
  for (const row of inPeriod) {
    const key = groupKey(row, groupBy, periodUnit);
    const group = groups.get(key) ?? { key, label: key, count: 0, amountFen: 0 };
    if (groupBy === 'customerManager') group.label = `${shownName(key)}（${key}）`;
    group.count += 1;
    group.amountFen = addFen(group.amountFen, row.amountFen, 'amount of a group');
    groups.set(key, group);
    totals = { count: totals.count + 1, amountFen: addFen(totals.amountFen, row.amountFen, 'amount') };
  }
  return {
    kind: 'businessStatistics',
    period: { from: period.from, to: period.to },
    groupBy,
    groups: [...groups.values()].sort((a, b) => byCodePoint(a.key, b.key)),
    applications: inPeriod.map((row) => ({ ...row, customerManagerName: shownName(row.customerManagerId) })),
    totals,
  };
}

function groupKey(row: ApplicationRow, groupBy: StatisticsGrouping, periodUnit: 'day' | 'month'): string {
  switch (groupBy) {
    case 'product':
      return row.product;
    case 'status':
      return row.status;
    case 'customerManager':
      return row.customerManagerId;
    case 'period':
      return periodUnit === 'month' ? row.periodDate.slice(0, 7) : row.periodDate;
  }
}

/** Each manager's one name, checking that no id comes with two names and no application number comes twice. */
function managerNames(rows: ApplicationRow[]): Map<string, string> {
  const names = new Map<string, string>();
  const numbers = new Set<string>();
  for (const row of rows) {
    if (numbers.has(row.applicationNo)) {
      throw new ValidationError(`Application ${row.applicationNo} appears twice: pass each application once.`, {
        details: { applicationNo: row.applicationNo },
      });
    }
    numbers.add(row.applicationNo);
    const known = names.get(row.customerManagerId);
    if (known !== undefined && known !== row.customerManagerName) {
      // The names stay out of the message: they are personal data.
      throw new ValidationError(
        `Customer manager ${row.customerManagerId} has two different names in the rows: pass the same name for one id.`,
        { details: { customerManagerId: row.customerManagerId } },
      );
    }
    names.set(row.customerManagerId, row.customerManagerName);
  }
  return names;
}
