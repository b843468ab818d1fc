import { ValidationError } from '@sealflow/core';
import type { BusinessStatisticsReport } from './business-statistics.js';
import { type ReportLayout, rankingLayout, statisticsLayout } from './layout.js';
import type { RegionalRankingReport } from './regional-ranking.js';

/** Any report this package writes: made by {@link regionalRanking} or {@link businessStatistics}. */
export type DispatchReport = RegionalRankingReport | BusinessStatisticsReport;

/** Options of {@link toXlsx} and {@link toPdf}. */
export interface ExportOptions {
  /**
   * When the report was made, from your clock: printed under the title and written as the file's creation date.
   * Left out, nothing is printed and the file's metadata gets the time the writer library reads from the machine.
   */
  generatedAt?: Date;
}

/** The tables of a report, refusing anything that is not a report of this package. */
export function layoutOf(report: DispatchReport): ReportLayout {
  switch (report?.kind) {
    case 'regionalRanking':
      return rankingLayout(report);
    case 'businessStatistics':
      return statisticsLayout(report);
    default:
      throw new ValidationError(
        'A report must come from regionalRanking() or businessStatistics() (its kind is "regionalRanking" or "businessStatistics").',
      );
  }
}

/** '2026-11-30 21:06' in China time (UTC+8, no daylight saving), whatever the machine's time zone. */
export function chinaDateTime(date: Date): string {
  return new Date(date.getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}
