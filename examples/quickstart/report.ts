/**
 * Chapter 7b — the statistics (`@sealflow/reports`): the business statistics of the period and the regional ranking
 * of institutions, read from what sealflow stored and exported as Excel workbooks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  businessStatistics,
  readApplicationRows,
  readInstitutionPerformance,
  regionalRanking,
  toXlsx,
} from '@sealflow/reports';
import { PRODUCTS, REGION, STAFF_NAMES } from './cast.js';
import { type Chapter, count, yuan } from './narration.js';

export interface ReportOutcome {
  files: string[];
  applications: number;
  amountFen: number;
  rankedInstitutions: number;
}

export async function exportReports(
  { qs, log, outputDir }: Chapter,
  period: { from: string; to: string },
): Promise<ReportOutcome> {
  const { persistence } = qs.sealflow;
  const generatedAt = new Date(qs.clock.now());
  const statistics = businessStatistics(
    await readApplicationRows(persistence, {
      period,
      productNames: Object.fromEntries(PRODUCTS.map((p) => [p.code, p.name])),
      managerName: (id) => STAFF_NAMES[id] ?? id, // your user directory: sealflow keeps no staff names
    }),
    { period, groupBy: 'product' },
  );
  const ranking = regionalRanking(
    await readInstitutionPerformance(persistence, { period, regionNames: { [REGION.code]: REGION.name } }),
    { by: 'overall' },
  );
  const files = [
    ['业务统计.xlsx', await toXlsx(statistics, { generatedAt })],
    ['区域排名.xlsx', await toXlsx(ranking, { generatedAt })],
  ] as const;
  for (const [name, bytes] of files) writeFileSync(join(outputDir, name), bytes);
  const rankedInstitutions = ranking.regions.reduce((n, region) => n + region.institutions.length, 0);
  log(
    `   业务统计 ${period.from} – ${period.to}: ${count(statistics.totals.count, 'application')}, ` +
      `${yuan(statistics.totals.amountFen)} yuan; 区域排名: ${count(rankedInstitutions, 'institution')} in ${REGION.name}`,
  );
  log(`   written ${files.map(([name]) => name).join(', ')}`);
  return {
    files: files.map(([name]) => join(outputDir, name)),
    applications: statistics.totals.count,
    amountFen: statistics.totals.amountFen,
    rankedInstitutions,
  };
}
