/**
 * Chapter 3a — the funding institutions are onboarded with their positions (头寸), then a loan application goes
 * through intake and 贷审: real-name registration, materials submitted incomplete once and completed, the product
 * confirmed, review passed. The pass starts the dispatch by itself.
 */
import type { LoanApplication } from '@sealflow/core';
import { BORROWER, CATEGORY, INSTITUTIONS, PRODUCTS, REGION, STAFF } from './cast.js';
import { type Chapter, count, today, yuan } from './narration.js';

export const LOAN_AMOUNT_FEN = 5_000_000; // 50,000.00 yuan

const { admin, customerManager: cm, reviewer } = STAFF;

export async function onboardInstitutions({ qs, log }: Chapter): Promise<void> {
  const { institutions } = qs.sealflow.dispatch;
  for (const { depositFen, ...profile } of INSTITUTIONS) {
    await institutions.register(admin, { ...profile, regions: [REGION.code], categories: [CATEGORY], capacity: 20 });
    // The top-up's key is the payment order: sent twice, it counts once.
    await institutions.topUp(admin, {
      institutionId: profile.id,
      account: 'deposit',
      amountFen: depositFen,
      key: `topup:${profile.id}:0001`,
    });
    log(`   ${profile.id.padEnd(12)} ${profile.name}: position ${yuan(depositFen)} yuan, seal ${profile.sealId}`);
  }
}

export async function reviewApplication({ qs, log }: Chapter): Promise<LoanApplication> {
  const { applications } = qs.sealflow.dispatch;
  const [product] = PRODUCTS;
  const opened = await applications.open(cm, {
    applicationNumber: `SQ${today(qs).replaceAll('-', '')}0001`,
    customer: BORROWER,
    productCode: product!.code,
    amountFen: LOAN_AMOUNT_FEN,
    region: REGION.code,
    businessCategory: CATEGORY,
  });
  const id = opened.applicationId;
  log(`   opened ${opened.applicationNumber}: ${product!.name} ${yuan(LOAN_AMOUNT_FEN)} yuan, ${REGION.name}`);
  const registered = await applications.registerCustomer(cm, id, BORROWER);
  log(`   customer ${registered.customer.maskedName} registered, real name verified by ${registered.identity?.method}`);

  // The customer manager uploads two of the three materials: the application comes back for the third.
  const incomplete = await applications.submitMaterials(cm, id, [
    { kind: 'id-card', documentId: 'img-0001', complete: true },
    { kind: 'income-proof', documentId: 'img-0002', complete: true },
  ]);
  const missing = incomplete.requiredMaterials.filter((kind) => !incomplete.materials.some((m) => m.kind === kind));
  log(`   materials incomplete (${count(incomplete.incompleteSubmissions, 'time')}): missing ${missing.join(', ')}`);
  const complete = await applications.submitMaterials(cm, id, [
    { kind: 'bank-statement', documentId: 'img-0003', complete: true },
  ]);
  log(`   resubmitted: ${complete.status}`);
  await applications.confirmProduct(cm, id);
  await applications.submitForReview(cm, id);
  const passed = await applications.pass(reviewer, id); // 贷审通过: the dispatch starts on its own
  log(`   贷审 passed by ${reviewer.id}: ${passed.status}, dispatch round ${passed.dispatchRound}`);
  return passed;
}
