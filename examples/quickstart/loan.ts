/**
 * Chapter 4 — the loan contract (借款合同): dispatch started it for the chosen institution when the customer chose
 * (scene LOAN_CONTRACT, funding 'funder'). The borrower's signature goes on at once; the workflow then waits for the
 * institution, whose staff seal it with the institution's own seal (`signLoanContract`). Another institution's
 * staff cannot.
 */
import { type LoanApplication, SealflowError, type SigningRecord, SIGNING_STATUS_LABELS } from '@sealflow/core';
import { INSTITUTIONS, staffOf } from './cast.js';
import { CHOSEN_FUNDER } from './dispatch.js';
import { type Chapter, printRecord, waitUntil } from './narration.js';

export interface LoanOutcome {
  record: SigningRecord;
  /** The code another institution's staff got when they tried to seal it. */
  strangerRefused: string;
}

export async function signLoanContract({ qs, log }: Chapter, application: LoanApplication): Promise<LoanOutcome> {
  const { signing, dispatch } = qs.sealflow;
  const recordId = application.loanContract!.recordId!;
  const waiting = await waitUntil('the borrower to sign', async () => {
    const record = await signing.get(recordId);
    return record?.status === 'AWAITING_FUNDER' ? record : undefined;
  });
  log(`   ${waiting.id}: borrower signed, ${waiting.status} (${SIGNING_STATUS_LABELS[waiting.status]})`);

  const stranger = INSTITUTIONS[1];
  const strangerRefused = await dispatch
    .signLoanContract(staffOf(stranger.id), application.applicationId)
    .then(() => 'signed')
    .catch((error: unknown) => (error instanceof SealflowError ? error.code : String(error)));
  log(`   ${stranger.id} tries to seal it: refused, ${strangerRefused} (the application is not its own)`);

  await dispatch.signLoanContract(staffOf(CHOSEN_FUNDER.id), application.applicationId);
  log(`   ${CHOSEN_FUNDER.id} seals it with ${CHOSEN_FUNDER.sealId}`);
  const record = await signing.waitFor(recordId, { timeoutMs: 30_000 });
  printRecord(log, record);
  return { record, strangerRefused };
}
