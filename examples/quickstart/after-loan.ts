/**
 * Chapter 5 — after the loan (贷后): face-signing (面签), disbursement (放款) and settlement (结算) with the
 * commission, confirmed with the customer and paid; the institution's frozen position is restored and its success
 * counted; both sides rate each other and the application is closed.
 *
 * Chapter 6 — archive (归档), query and download: every signing of the customer is found by the ID number (matched
 * by its keyed hash, never stored in clear), each archived contract is downloaded (checked against the hashes in the
 * evidence), written to the output folder and its signatures verified.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoanApplication, SigningRecord } from '@sealflow/core';
import { type SignatureReport, verifyPdfSignatures } from '@sealflow/adapter-local';
import { BORROWER, STAFF, staffOf } from './cast.js';
import { CHOSEN_FUNDER } from './dispatch.js';
import { LOAN_AMOUNT_FEN } from './loan-review.js';
import { type Chapter, yuan } from './narration.js';

const { customerManager: cm, followUp, settler, admin } = STAFF;

/** 佣金: 1.5% from the institution plus a 0.5% customer service fee the institution collects; all integer fen. */
export const SETTLEMENT = {
  disbursedFen: LOAN_AMOUNT_FEN,
  institutionCommissionFen: 75_000,
  customerServiceFeeFen: 25_000,
  commissionFen: 100_000,
};

export interface SettlementOutcome {
  application: LoanApplication;
  holdsAfterSettlement: Record<string, number>;
  successes: number;
  ledgerProblems: string[];
}

export async function settle({ qs, log }: Chapter, applicationId: string): Promise<SettlementOutcome> {
  const { applications, institutions } = qs.sealflow.dispatch;
  const bank = staffOf(CHOSEN_FUNDER.id);
  await applications.recordFaceSigning(bank, applicationId);
  await applications.recordDisbursement(bank, applicationId, SETTLEMENT.disbursedFen);
  log(`   ${CHOSEN_FUNDER.id}: 面签 done, disbursed ${yuan(SETTLEMENT.disbursedFen)} yuan`);
  // The figures must add up (commission = institution's part + service fee) or nothing is recorded.
  await applications.confirmSettlement(followUp, applicationId, SETTLEMENT);
  log(
    `   settlement: commission ${yuan(SETTLEMENT.commissionFen)} = institution ${yuan(SETTLEMENT.institutionCommissionFen)}` +
      ` + service fee ${yuan(SETTLEMENT.customerServiceFeeFen)} yuan`,
  );
  await applications.confirmWithCustomer(cm, applicationId);
  await applications.confirmPayment(settler, applicationId); // restores the position in the same transaction
  const balances = await institutions.balances(admin, CHOSEN_FUNDER.id);
  const { stats } = await institutions.get(admin, CHOSEN_FUNDER.id);
  log(
    `   payment confirmed: ${CHOSEN_FUNDER.id} position ${yuan(balances.deposit)} yuan, ` +
      `nothing frozen: ${Object.keys(balances.holds).length === 0}, successes ${stats.successes}`,
  );
  await applications.rate(followUp, applicationId, { side: 'platform', score: 5, comment: '放款及时' });
  await applications.rate(bank, applicationId, { side: 'institution', score: 4, comment: '材料齐全' });
  const closed = await applications.close(followUp, applicationId);
  const verified = await institutions.verify(admin, CHOSEN_FUNDER.id);
  log(`   rated by both sides, ${closed.status}; ledger of ${CHOSEN_FUNDER.id}: ${verified.problems.length} problems`);
  return {
    application: closed,
    holdsAfterSettlement: balances.holds,
    successes: stats.successes,
    ledgerProblems: verified.problems,
  };
}

export interface ArchiveOutcome {
  /** Every signing of the customer, newest attempts included. */
  records: SigningRecord[];
  /** The PDFs written, with their signatures as verified in-process. */
  files: { path: string; signatures: SignatureReport[] }[];
}

export async function archiveAndDownload({ qs, log, outputDir }: Chapter): Promise<ArchiveOutcome> {
  const { signing } = qs.sealflow;
  const records = await signing.find({ customerIdNumber: BORROWER.idNumber });
  log(`   find({ customerIdNumber }) → ${records.length} signings:`);
  for (const r of records) {
    const link = r.previousAttemptId ? ` (补签 of ${r.previousAttemptId})` : '';
    log(`     ${r.id.padEnd(40)} ${r.scene.padEnd(13)} ${r.status}${link}`);
  }
  const contractsDir = join(outputDir, 'contracts');
  mkdirSync(contractsDir, { recursive: true });
  const files: ArchiveOutcome['files'] = [];
  for (const record of records.filter((r) => r.status === 'COMPLETED')) {
    for (const document of await signing.download(record.id)) {
      const path = join(contractsDir, `${record.businessNo}-${document.fileName}`);
      writeFileSync(path, document.bytes);
      const signatures = verifyPdfSignatures(document.bytes);
      files.push({ path, signatures });
      const valid = signatures.filter((s) => s.valid).length;
      log(`   downloaded ${path.slice(outputDir.length + 1)}: ${valid}/${signatures.length} signatures valid`);
    }
  }
  return { records, files };
}
