/**
 * The quickstart's story: templates approved (maker-checker), three signings (platform-funded, funder-funded, one
 * refused by a business check), the signed PDF verified, the evidence (存证) verified and exported, domain events
 * printed as they arrive. `main.ts` runs it; `quickstart.test.ts` runs it and checks the outcomes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DomainEvent,
  dateInChina,
  type EvidenceVerification,
  withIdNumberCheckChar,
  isSigningEvent,
  SealflowError,
  SIGNING_STATUS_LABELS,
  type SealflowEventType,
  type SignRequest,
  type SigningRecord,
  SigningRefusedError,
} from '@sealflow/core';
import { type SignatureReport, verifyPdfSignatures } from '@sealflow/adapter-local';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { FUNDER, openQuickstart, PLATFORM } from './setup.js';
import { TEMPLATES } from './template-definitions.js';

export interface QuickstartResult {
  platformLoan: SigningRecord;
  funderLoan: SigningRecord;
  refused: { error: SigningRefusedError; record: SigningRecord };
  signatures: SignatureReport[];
  evidence: EvidenceVerification[];
  signedPdfPath: string;
  eventTypes: string[];
}

/** 18-digit 居民身份证号码 with its GB 11643 check digit: region (6) + birth date (8) + sequence (3). */
const idNumber = withIdNumberCheckChar;

/** 'YYYY-MM-DD' plus whole months, for the loan's end date. */
/** "1 check", "2 checks": the demo's output is read by people. */
function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

function addMonths(isoDate: string, months: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

export async function runQuickstart({
  log = console.log,
  keep = process.env.KEEP === '1',
}: {
  log?: (line: string) => void;
  keep?: boolean;
} = {}): Promise<QuickstartResult> {
  const workDir = mkdtempSync(join(tmpdir(), 'sealflow-quickstart-'));
  const dataDir = join(workDir, 'db');
  const documentsRoot = join(workDir, 'documents');
  mkdirSync(dataDir);
  const step = (title: string) => log(`\n== ${title} ==`);

  log(`Working directory: ${workDir}${keep ? ' (kept: KEEP=1)' : ' (removed at the end; KEEP=1 keeps it)'}`);
  const sealflow = await openQuickstart({ dataDir, documentsRoot });
  const { templates, signing } = sealflow;
  try {
    // Domain events arrive through the outbox, at least once: deduplicate on the event id.
    const events: DomainEvent[] = [];
    const seen = new Set<string>();
    sealflow.events.on('*', (event) => {
      if (seen.has(event.id) || !isSigningEvent(event)) return;
      seen.add(event.id);
      events.push(event);
      log(`   event  ${event.type.padEnd(28)} ${event.payload.businessNo}`);
    });
    /** The next event of `type` for a business number; ask before the request that causes it. */
    const nextEvent = (type: SealflowEventType, businessNo: string, timeoutMs = 30_000) =>
      new Promise<DomainEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`No ${type} event for ${businessNo} within ${timeoutMs} ms.`));
        }, timeoutMs);
        const off = sealflow.events.on(type, (event) => {
          if ((event.payload as { businessNo: string }).businessNo !== businessNo) return;
          clearTimeout(timer);
          off();
          resolve(event);
        });
      });

    // -----------------------------------------------------------------------------------------------------------
    step('1. Templates: import → submit → 法务 approves → 风控 approves → 生效');
    const editor = { id: 'ops.zhou', roles: ['template-editor'] };
    const legal = { id: 'legal.wang', roles: ['legal'] };
    const risk = { id: 'risk.li', roles: ['risk'] };
    const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
    const effective: Record<string, string> = {};
    for (const template of TEMPLATES) {
      const draft = await templates.importTemplate(editor, { ...template, pdf });
      await templates.submit(editor, draft.id);
      if (template === TEMPLATES[0]) {
        // Maker-checker: whoever submitted cannot approve. Typed errors carry a stable code to branch on.
        const refused = await templates.approve(editor, draft.id).catch((error: SealflowError) => error);
        if (!(refused instanceof SealflowError)) throw new Error('The submitter was allowed to approve.');
        log(`   ${draft.id}: the submitter's own approval is refused: ${refused.code}`);
      }
      await templates.approve(legal, draft.id);
      const approved = await templates.approve(risk, draft.id);
      effective[template.code] = approved.id;
      log(
        `   ${approved.id.padEnd(24)} ${template.name}: ${approved.status} (${count(approved.definition.variables.length, 'variable')}, ${count(approved.definition.parties.length, 'party', 'parties')}, ${count(approved.definition.checks.length, 'check')})`,
      );
    }

    const today = dateInChina(new Date());
    const consent = (versions: string[]) => ({
      at: Date.now(),
      channel: 'app',
      ip: '203.0.113.24',
      device: 'iPhone15,2 iOS 18.1 / app 6.3.0',
      documentVersionsShown: versions,
    });
    const loanValues = (amount: string, lender: { name: string; creditCode: string }) => ({
      lender,
      customer: { address: '浙江省杭州市西湖区文三路477号华星科技大厦9楼' },
      credit: { limit: '80000.00' },
      loan: {
        amount,
        purpose: '个人消费（装修）',
        term: '12个月',
        annualRate: '14.40%（单利）',
        startDate: today,
        endDate: addMonths(today, 12),
        repayMethod: '等额本息，按月还款',
        signPlace: '浙江省杭州市西湖区',
      },
    });
    const loanConsent = consent([effective.LOAN_CONTRACT_V!]);
    const actor = { id: 'loan-core' };

    // -----------------------------------------------------------------------------------------------------------
    step('2. Platform-funded loan (借款合同): borrower and platform seal at once');
    const platformRequest: SignRequest = {
      businessNo: 'LN20261123000101',
      scene: 'LOAN_CONTRACT',
      funding: 'platform',
      borrower: { name: '王雨桐', idNumber: idNumber('33010619930715302'), mobile: '13857126043' },
      values: loanValues('50000.00', PLATFORM),
      consent: loanConsent,
      actor,
    };
    const started = await signing.sign(platformRequest);
    log(`   sign() → ${started.id} ${started.status}`);
    const platformLoan = await signing.waitFor(started.id, { timeoutMs: 30_000 });
    printRecord(log, platformLoan);

    // -----------------------------------------------------------------------------------------------------------
    step('3. Funder-funded loan: the borrower signs, the workflow waits for the funder (资金方)');
    const awaitingFunder = nextEvent('signing.awaiting-funder', 'LN20261123000102');
    const funderStarted = await signing.sign({
      businessNo: 'LN20261123000102',
      scene: 'LOAN_CONTRACT',
      funding: 'funder',
      funder: FUNDER,
      borrower: { name: '李浩然', idNumber: idNumber('42011119880226181'), mobile: '18667195532' },
      values: loanValues('30000.00', FUNDER),
      consent: loanConsent,
      actor,
    });
    await awaitingFunder;
    const waiting = (await signing.get(funderStarted.id))!;
    log(`   ${waiting.id}: ${waiting.status} (${SIGNING_STATUS_LABELS[waiting.status]})`);
    log(`   the funder's system calls signAsFunder(…) with its own seal`);
    await signing.signAsFunder({ id: 'bank.clerk.chen', funderId: FUNDER.id }, waiting.id, { sealId: 'funder-seal' });
    const funderLoan = await signing.waitFor(waiting.id, { timeoutMs: 30_000 });
    printRecord(log, funderLoan);

    // -----------------------------------------------------------------------------------------------------------
    step('4. Credit grant (授信) refused by a business check (业务校验): the applicant is 64');
    let refusal: SigningRefusedError | null = null;
    const failedEvent = nextEvent('signing.failed', 'CG20261123000103');
    try {
      await signing.sign({
        businessNo: 'CG20261123000103',
        scene: 'CREDIT_GRANT',
        borrower: { name: '陈建国', idNumber: idNumber('31010119620412351'), mobile: '13501862274' },
        values: { credit: { limit: '50000.00' } },
        consent: consent([effective.CREDIT_CONTRACT_V!, effective.DATA_QUERY_AUTH_V!]),
        actor: { id: 'credit-core' },
      });
    } catch (error) {
      if (!(error instanceof SigningRefusedError)) throw error;
      refusal = error;
      log(`   sign() threw ${error.name} ${error.code}: ${error.message}`);
    }
    if (!refusal) throw new Error('The credit grant for a 64-year-old applicant was not refused.');
    // Refused at validation, the record is already final; its event is delivered by the worker shortly after.
    const refusedRecord = await signing.waitFor(refusal.recordId, { timeoutMs: 30_000 });
    await failedEvent;
    printRecord(log, refusedRecord);

    // -----------------------------------------------------------------------------------------------------------
    step('5. Download the signed contract and check its signatures');
    const [signed] = await signing.download(funderLoan.id);
    const signedPdfPath = join(workDir, `${funderLoan.businessNo}-${signed!.fileName}`);
    writeFileSync(signedPdfPath, signed!.bytes);
    log(`   wrote ${signedPdfPath} (${signed!.bytes.length} bytes)`);
    log(`   check it with poppler: KEEP=1 pnpm demo, then  pdfsig ${signedPdfPath}`);
    const signatures = verifyPdfSignatures(signed!.bytes);
    for (const s of signatures) {
      log(
        `   ${s.fieldName.padEnd(20)} ${s.valid ? 'valid  ' : 'INVALID'} ${s.coversWholeDocument ? 'covers the whole file' : 'earlier revision     '}  ${s.signer}`,
      );
    }

    // -----------------------------------------------------------------------------------------------------------
    step('6. Evidence (存证): hash chain + files, and the exportable package');
    const evidence: EvidenceVerification[] = [];
    for (const record of [platformLoan, funderLoan, refusedRecord]) {
      const check = await signing.verifyEvidence(record.id);
      evidence.push(check);
      log(
        `   ${record.businessNo}: ${check.ok ? 'ok' : `PROBLEMS ${check.problems.join('; ')}`} — ${check.entries} entries, ${check.files.length} files, head ${check.chainHead?.slice(0, 12)}…`,
      );
    }
    const { manifest, files } = await signing.exportEvidencePackage(funderLoan.id);
    log(`   package ${manifest.format} for ${manifest.recordId}:`);
    log(`     entries: ${manifest.entries.map((e) => e.type).join(' → ')}`);
    for (const f of manifest.files) log(`     ${f.name.padEnd(26)} ${f.fileId}  sha256 ${f.sha256.slice(0, 16)}…`);
    log(`     ${files.length} PDFs shipped, verification ${manifest.verification.ok ? 'ok' : 'FAILED'}`);

    // Found by customer: the ID number is matched by its keyed hash, never stored in clear.
    const byCustomer = await signing.find({ customerIdNumber: platformRequest.borrower.idNumber });
    log(`   find({ customerIdNumber }) → ${byCustomer.map((r) => `${r.businessNo} ${r.status}`).join(', ')}`);

    return {
      platformLoan,
      funderLoan,
      refused: { error: refusal, record: refusedRecord },
      signatures,
      evidence,
      signedPdfPath,
      eventTypes: events.map((e) => e.type),
    };
  } finally {
    await sealflow.close();
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    log(`\nWorker stopped, database closed${keep ? `; kept ${workDir}` : ', temporary files removed'}.`);
  }
}

/** A record as the back office shows it: personal data only masked. */
function printRecord(log: (line: string) => void, r: SigningRecord): void {
  log(`   record ${r.id}`);
  log(
    `     ${r.scene}/${r.funding} ${r.businessNo}: ${r.status} (${SIGNING_STATUS_LABELS[r.status]}), stage ${r.stage}, attempt ${r.attempt}`,
  );
  log(
    `     customer ${r.customer.maskedName} ${r.customer.maskedIdNumber}, templates ${r.templates.map((t) => t.versionId).join(', ')}`,
  );
  if (r.vendor.flowId) log(`     vendor ${r.vendor.id}, flow ${r.vendor.flowId}`);
  for (const d of r.rendered) log(`     rendered ${d.documentKey}: ${d.fileId} (${d.size} bytes)`);
  for (const d of r.signed)
    log(`     signed   ${d.documentKey}: ${d.fileId} (${d.size} bytes, ${d.signatures} signatures)`);
  if (r.funderSignature)
    log(
      `     funder ${r.funderSignature.funderId} signed by ${r.funderSignature.actorId} with ${r.funderSignature.sealId}`,
    );
  for (const s of r.sealsUsed)
    log(`     ${s.role} sealed with ${s.sealId}, certificate sha256 ${s.certificateSha256?.slice(0, 16) ?? '?'}…`);
  if (r.failure) log(`     failure ${r.failure.code} at ${r.failure.stage}: ${r.failure.message}`);
}
