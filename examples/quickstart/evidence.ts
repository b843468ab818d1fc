/**
 * Chapter 7a — evidence (存证): each signing's hash chain, its sealed anchor and the files it names are checked again,
 * and the loan contract's evidence package (manifest: entries, file hashes, chain head) is written for a notary or a
 * court.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvidenceVerification, SigningRecord } from '@sealflow/core';
import type { Chapter } from './narration.js';

export interface EvidenceOutcome {
  checks: { recordId: string; verification: EvidenceVerification }[];
  manifestPath: string;
}

export async function verifyEvidence(
  { qs, log, outputDir }: Chapter,
  records: SigningRecord[],
  loanContract: SigningRecord,
): Promise<EvidenceOutcome> {
  const { signing } = qs.sealflow;
  const checks: EvidenceOutcome['checks'] = [];
  for (const record of records) {
    const verification = await signing.verifyEvidence(record.id);
    checks.push({ recordId: record.id, verification });
    const verdict = verification.ok ? 'ok' : `PROBLEMS ${verification.problems.join('; ')}`;
    log(
      `   ${record.id.padEnd(40)} ${verdict}: ${verification.entries} entries, ${verification.files.length} files, ` +
        `head ${verification.chainHead?.slice(0, 24)}…`,
    );
  }
  const { manifest, files } = await signing.exportEvidencePackage(loanContract.id);
  const manifestPath = join(outputDir, `${loanContract.businessNo}-evidence.json`);
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  log(`   evidence package of ${manifest.recordId}: ${manifest.entries.map((e) => e.type).join(' → ')}`);
  log(`   manifest written to ${manifestPath.slice(outputDir.length + 1)} (${files.length} PDFs travel with it)`);
  return { checks, manifestPath };
}
