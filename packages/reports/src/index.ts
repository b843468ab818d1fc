/**
 * `@sealflow/reports`: the reports of funder dispatch — the regional ranking of institutions and the business
 * statistics of a period — computed by pure functions from rows, and exported as XLSX (exceljs) or PDF (pdfkit,
 * Chinese text in Noto Sans SC). The rows come from the host, or are read from what sealflow stores
 * (`readInstitutionPerformance`, `readApplicationRows`).
 *
 * @packageDocumentation
 */
export {
  type ApplicationRow,
  applicationRowSchema,
  type BusinessStatisticsOptions,
  type BusinessStatisticsReport,
  businessStatistics,
  STATISTICS_GROUPINGS,
  type StatisticsGroup,
  type StatisticsGrouping,
} from './business-statistics.js';
export type { Cell, CellKind, ReportColumn, ReportLayout, ReportTable } from './layout.js';
export { type PdfOptions, toPdf } from './pdf.js';
export {
  type InstitutionPerformance,
  institutionPerformanceSchema,
  RANKING_CRITERIA,
  type RankedInstitution,
  type RankingCriterion,
  type RegionalRankingOptions,
  type RegionalRankingReport,
  type RegionRanking,
  regionalRanking,
} from './regional-ranking.js';
export { type DispatchReport, type ExportOptions, layoutOf } from './report.js';
export {
  APPLICATION_STATUS_NAMES,
  type ApplicationRowsQuery,
  type InstitutionPerformanceQuery,
  type ReportPeriod,
  readApplicationRows,
  readInstitutionPerformance,
} from './stored-rows.js';
export { toXlsx, XLSX_HEADER_ROW, XLSX_NUMBER_FORMATS } from './xlsx.js';
