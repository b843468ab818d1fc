/**
 * A report as tables of typed cells: what the XLSX and PDF writers both draw, so the two formats always agree on
 * columns, titles, order and totals.
 */
import type { BusinessStatisticsReport, StatisticsGrouping } from './business-statistics.js';
import type { RankingCriterion, RegionalRankingReport } from './regional-ranking.js';

/** How a column's values are written: money is integer fen, durations milliseconds, rates between 0 and 1. */
export type CellKind = 'text' | 'integer' | 'money' | 'duration' | 'rate';

/** A column of a report table. */
export interface ReportColumn {
  /** The column title printed in the header row (Chinese). */
  title: string;
  /** How the column's values are written. */
  kind: CellKind;
  /** Relative width, shared by both writers (characters in a spreadsheet, shares of the page in a PDF). */
  width: number;
}

/** A cell: text for `text` columns, a number for the others, empty when the column has nothing for that row. */
export type Cell = string | number | null;

/** One table of a report: a header, rows and an optional totals row. */
export interface ReportTable {
  /** The sheet name in a workbook and the heading above the table in a PDF. */
  name: string;
  /** The columns, left to right. */
  columns: ReportColumn[];
  /** The entries, one cell per column. */
  rows: Cell[][];
  /** The 合计 row, one cell per column (empty where a total means nothing, e.g. a rank). */
  totals?: Cell[];
}

/** A report laid out for writing: a title, a line saying what it covers, and its tables. */
export interface ReportLayout {
  /** The report's title, e.g. 业务统计报表. */
  title: string;
  /** What the report covers: the period and grouping, or the ranking criterion. */
  subtitle: string;
  /** The tables, in the order they are written. */
  tables: ReportTable[];
}

const CRITERION_TITLES: Record<RankingCriterion, string> = {
  overall: '综合',
  amount: '放款金额',
  speed: '响应速度',
  successes: '成功笔数',
  abandonment: '弃单率',
};

const GROUPING_TITLES: Record<StatisticsGrouping, string> = {
  product: '产品',
  status: '状态',
  customerManager: '客户经理',
  period: '日期',
};

/** The regional ranking as one table, its regions one after another. */
export function rankingLayout(report: RegionalRankingReport): ReportLayout {
  const columns: ReportColumn[] = [
    { title: '区域', kind: 'text', width: 12 },
    { title: '排名', kind: 'integer', width: 6 },
    { title: '机构名称', kind: 'text', width: 26 },
    { title: '放款金额（元）', kind: 'money', width: 18 },
    { title: '平均响应时长', kind: 'duration', width: 13 },
    { title: '成功笔数', kind: 'integer', width: 10 },
    { title: '弃单率', kind: 'rate', width: 9 },
  ];
  const rows = report.regions.flatMap((region) =>
    region.institutions.map((i): Cell[] => [
      region.region,
      i.rank,
      i.institutionName,
      i.amountFen,
      i.meanResponseMs,
      i.successes,
      i.abandonmentRate,
    ]),
  );
  const { institutions, amountFen, successes } = report.totals;
  return {
    title: '机构区域排名',
    subtitle: `排序方式：${CRITERION_TITLES[report.by]}　机构数：${institutions}`,
    tables: [{ name: '区域排名', columns, rows, totals: ['合计', null, null, amountFen, null, successes, null] }],
  };
}

/** The business statistics as two tables: the groups with their totals, then every application of the period. */
export function statisticsLayout(report: BusinessStatisticsReport): ReportLayout {
  const { count, amountFen } = report.totals;
  const summary: ReportTable = {
    name: '业务统计',
    columns: [
      { title: GROUPING_TITLES[report.groupBy], kind: 'text', width: 28 },
      { title: '申请笔数', kind: 'integer', width: 12 },
      { title: '金额（元）', kind: 'money', width: 20 },
    ],
    rows: report.groups.map((g) => [g.label, g.count, g.amountFen]),
    totals: ['合计', count, amountFen],
  };
  const detail: ReportTable = {
    name: '申请明细',
    columns: [
      { title: '申请编号', kind: 'text', width: 18 },
      { title: '日期', kind: 'text', width: 12 },
      { title: '产品', kind: 'text', width: 12 },
      { title: '状态', kind: 'text', width: 10 },
      { title: '客户经理', kind: 'text', width: 16 },
      { title: '金额（元）', kind: 'money', width: 16 },
      { title: '机构', kind: 'text', width: 20 },
    ],
    rows: report.applications.map((a) => [
      a.applicationNo,
      a.periodDate,
      a.product,
      a.status,
      `${a.customerManagerName}（${a.customerManagerId}）`,
      a.amountFen,
      a.institution ?? '',
    ]),
    totals: ['合计', null, null, null, null, amountFen, null],
  };
  return {
    title: '业务统计报表',
    subtitle: `统计期间：${report.period.from} 至 ${report.period.to}　按${GROUPING_TITLES[report.groupBy]}分组`,
    tables: [summary, detail],
  };
}
