/**
 * Chapter 2 — credit (授信): the customer's real name is verified (IdentityVerifier), and the credit bundle
 * (授信合同 + 数据查询授权书, scene CREDIT_GRANT) is signed in one flow. The signing platform is down for the first
 * attempt, so it FAILS and is re-signed (补签) as attempt 2. A second applicant, aged 64, is refused by the
 * templates' business check (业务校验) before anything is rendered.
 */
import { type SigningRecord, SigningRefusedError } from '@sealflow/core';
import { BORROWER, SENIOR_APPLICANT } from './cast.js';
import { type Chapter, printRecord, today } from './narration.js';

export interface CreditOutcome {
  /** The first attempt, failed by the outage. */
  failed: SigningRecord;
  /** Attempt 2 (补签), COMPLETED. */
  resigned: SigningRecord;
  refused: { error: SigningRefusedError; record: SigningRecord };
}

export const CREDIT_LIMIT = '80000.00';

export async function grantCredit({ qs, log }: Chapter, effective: Record<string, string>): Promise<CreditOutcome> {
  const { signing } = qs.sealflow;
  const check = await qs.identityVerifier.check(BORROWER);
  log(`   实名认证 王** (three-element): ${check.verified ? `verified by ${check.method}` : 'NOT verified'}`);
  const typo = await qs.identityVerifier.check({ ...BORROWER, mobile: '13857126044' });
  log(`   the same person with a mistyped mobile: ${typo.verified ? 'verified' : 'not verified, so no signing'}`);

  const consent = {
    at: qs.clock.now(),
    channel: 'app',
    ip: '203.0.113.24',
    device: 'iPhone15,2 iOS 18.1 / app 6.3.0',
    documentVersionsShown: [effective.CREDIT_CONTRACT_V!, effective.DATA_QUERY_AUTH_V!],
  };
  const businessNo = `CG${today(qs).replaceAll('-', '')}000101`;

  qs.failNextFlow(); // the signing platform's maintenance window (the demo's forced failure)
  const started = await signing.sign({
    businessNo,
    scene: 'CREDIT_GRANT',
    borrower: BORROWER,
    values: { credit: { limit: CREDIT_LIMIT } },
    consent,
    actor: { id: 'credit-core' },
  });
  log(`   sign(CREDIT_GRANT ${businessNo}) → ${started.id} ${started.status}; the worker renders and seals`);
  const failed = await signing.waitFor(started.id, { timeoutMs: 30_000 });
  printRecord(log, failed);

  // 补签: a new attempt from the original request, validated again (templates still effective, consent covering).
  const next = await signing.resign(failed.id, { id: 'ops.credit-desk' });
  log(`   resign(${failed.id}) → attempt ${next.attempt} ${next.id}`);
  const resigned = await signing.waitFor(next.id, { timeoutMs: 30_000 });
  printRecord(log, resigned);

  let refusal: SigningRefusedError | null = null;
  try {
    await signing.sign({
      businessNo: `CG${today(qs).replaceAll('-', '')}000102`,
      scene: 'CREDIT_GRANT',
      borrower: SENIOR_APPLICANT,
      values: { credit: { limit: '50000.00' } },
      consent,
      actor: { id: 'credit-core' },
    });
  } catch (error) {
    if (!(error instanceof SigningRefusedError)) throw error;
    refusal = error;
    log(`   a 64-year-old applicant: sign() threw ${error.code}: ${error.message}`);
  }
  if (!refusal) throw new Error('The credit grant for a 64-year-old applicant was not refused.');
  // Refused at validation, the record is already final, with its evidence.
  const refusedRecord = await signing.waitFor(refusal.recordId, { timeoutMs: 30_000 });
  return { failed, resigned, refused: { error: refusal, record: refusedRecord } };
}
