/**
 * The quickstart's story, chapter by chapter, on embedded defaults only (PGlite, the filesystem store, the local
 * signer; no network, no system fonts). `main.ts` runs it; `quickstart.test.ts` runs it and checks the outcomes.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type DomainEvent, dateInChina } from '@sealflow/core';
import { archiveAndDownload, type ArchiveOutcome, type SettlementOutcome, settle } from './after-loan.js';
import { type CreditOutcome, grantCredit } from './credit.js';
import { type DispatchOutcome, dispatchToFunders } from './dispatch.js';
import { type EvidenceOutcome, verifyEvidence } from './evidence.js';
import { type LoanOutcome, signLoanContract } from './loan.js';
import { onboardInstitutions, reviewApplication } from './loan-review.js';
import { type Chapter, count, describeEvent, type Log, yuan } from './narration.js';
import { exportReports, type ReportOutcome } from './report.js';
import { openQuickstart } from './setup.js';
import { configureTemplates, type TemplatesOutcome } from './templates.js';

export interface QuickstartResult {
  outputDir: string;
  /** The database and document store; removed at the end unless kept. */
  workDir: string;
  templates: TemplatesOutcome;
  credit: CreditOutcome;
  dispatch: DispatchOutcome;
  loan: LoanOutcome;
  settlement: SettlementOutcome;
  archive: ArchiveOutcome;
  evidence: EvidenceOutcome;
  report: ReportOutcome;
  /** Domain events as delivered, once each. */
  eventTypes: string[];
  /** Notifications sent through the Notifier port: type and recipient. */
  notifications: { type: string; recipient: string }[];
}

export interface QuickstartOptions {
  log?: Log;
  /** Keep the database and document store (a temporary folder) after the run. */
  keep?: boolean;
  /**
   * Where the signed PDFs, the evidence manifest and the reports are left; default `QUICKSTART_OUTPUT`, or
   * `sealflow-quickstart-output` in the system's temporary directory.
   */
  outputDir?: string;
  /** Print every domain event as it is delivered. */
  showEvents?: boolean;
}

export async function runQuickstart({
  log = console.log,
  keep = process.env.KEEP === '1',
  // Outside the repository, so a run leaves nothing for git or the linters to pick up.
  outputDir = process.env.QUICKSTART_OUTPUT ?? join(tmpdir(), 'sealflow-quickstart-output'),
  showEvents = process.env.EVENTS === '1',
}: QuickstartOptions = {}): Promise<QuickstartResult> {
  const startedAt = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'sealflow-quickstart-'));
  mkdirSync(join(workDir, 'db'));
  // Only what this demo writes is cleared: the contracts folder, the manifests and the reports are rewritten below.
  rmSync(join(outputDir, 'contracts'), { recursive: true, force: true });
  mkdirSync(outputDir, { recursive: true });
  for (const name of readdirSync(outputDir)) {
    if (name.endsWith('-evidence.json') || name.endsWith('.xlsx')) rmSync(join(outputDir, name));
  }
  const step = (title: string) => log(`\n== ${title} == (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);

  log(`Database and documents in ${workDir}${keep ? ' (kept: KEEP=1)' : ' (removed at the end; KEEP=1 keeps it)'}`);
  log(`Signed contracts, evidence and reports go to ${outputDir}`);
  const qs = await openQuickstart({ dataDir: join(workDir, 'db'), documentsRoot: join(workDir, 'documents') });
  const chapter: Chapter = { qs, log, outputDir };
  const firstDay = dateInChina(new Date(qs.clock.now()));
  try {
    // Domain events arrive through the outbox, at least once: deduplicate on the event id.
    const events: DomainEvent[] = [];
    const seen = new Set<string>();
    qs.sealflow.events.on('*', (event) => {
      if (seen.has(event.id)) return;
      seen.add(event.id);
      events.push(event);
      if (showEvents) log(describeEvent(event));
    });

    step('1. Templates: import → configure → 法务 → 风控 → 生效 (one rejected: 失效)');
    const templates = await configureTemplates(chapter);

    step('2. Credit (授信): real-name check, the credit bundle signed — after one failure and a 补签');
    const credit = await grantCredit(chapter, templates.effective);

    step('3. Loan review (贷审) and dispatch (派发) to funding institutions');
    await onboardInstitutions(chapter);
    const passed = await reviewApplication(chapter);
    const dispatch = await dispatchToFunders(chapter, passed, templates.effective.LOAN_CONTRACT_V!);

    step("4. The loan contract (借款合同), sealed by the chosen funder's own seal");
    const loan = await signLoanContract(chapter, dispatch.application);

    step('5. Disbursement (放款) and settlement (结算) with the commission');
    const settlement = await settle(chapter, passed.applicationId);

    step('6. Archive (归档): query and download');
    const archive = await archiveAndDownload(chapter);

    step('7. Evidence (存证) and the statistics report');
    const evidence = await verifyEvidence(chapter, [...archive.records, credit.refused.record], loan.record);
    const report = await exportReports(chapter, { from: firstDay, to: dateInChina(new Date(qs.clock.now())) });

    const result: QuickstartResult = {
      outputDir,
      workDir,
      templates,
      credit,
      dispatch,
      loan,
      settlement,
      archive,
      evidence,
      report,
      eventTypes: events.map((e) => e.type),
      notifications: qs.notifier.delivered().map((n) => ({ type: n.type, recipient: n.recipient.id })),
    };
    summarise(log, result, Date.now() - startedAt);
    return result;
  } finally {
    await qs.close();
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    log(`\nWorker stopped, database closed${keep ? `; kept ${workDir}` : ', temporary database removed'}.`);
  }
}

function summarise(log: Log, r: QuickstartResult, elapsedMs: number): void {
  const ok = (passed: boolean) => (passed ? 'ok' : 'PROBLEMS');
  const { credit, dispatch, loan, settlement, archive, evidence, report } = r;
  log('\n== Summary ==');
  log(
    `   templates   ${Object.values(r.templates.effective).join(', ')} 生效; ` +
      `${r.templates.rejected.id} ${r.templates.rejected.status} (失效)`,
  );
  log(
    `   credit      ${credit.failed.id} ${credit.failed.status} (${credit.failed.failure?.code}) → 补签 ` +
      `${credit.resigned.id} ${credit.resigned.status}; a 64-year-old refused (${credit.refused.error.code})`,
  );
  log(
    `   dispatch    offered ${dispatch.offered.length}: accepted ${dispatch.accepted.join(', ')}; declined ` +
      `${dispatch.declined}; expired ${dispatch.expired}; chosen ${dispatch.chosen}`,
  );
  log(`   loan        ${loan.record.id} ${loan.record.status}, sealed with ${loan.record.sealsUsed[0]?.sealId}`);
  log(
    `   settlement  ${yuan(settlement.application.disbursedFen ?? 0)} yuan disbursed, commission ` +
      `${yuan(settlement.application.settlement?.commissionFen ?? 0)} yuan; position restored; ${settlement.application.status}`,
  );
  const signatures = archive.files.flatMap((f) => f.signatures);
  log(
    `   archive     ${count(archive.records.length, 'signing')} found; ${count(archive.files.length, 'PDF')} downloaded, ` +
      `${signatures.filter((s) => s.valid).length}/${signatures.length} signatures valid`,
  );
  log(
    `   evidence    ${evidence.checks.filter((c) => c.verification.ok).length}/${evidence.checks.length} chains ` +
      `${ok(evidence.checks.every((c) => c.verification.ok))}`,
  );
  log(
    `   report      ${count(report.applications, 'application')}, ${yuan(report.amountFen)} yuan; ` +
      `${count(report.rankedInstitutions, 'institution')} ranked`,
  );
  log(`   events      ${r.eventTypes.length} delivered; ${count(r.notifications.length, 'notification')} sent`);
  log(`   output      ${r.outputDir}`);
  for (const file of [...archive.files.map((f) => f.path), evidence.manifestPath, ...report.files]) {
    log(`                 ${relative(r.outputDir, file)}`);
  }
  log(`   check them: pdfsig ${join(r.outputDir, 'contracts', '*.pdf')}`);
  log(`   took ${(elapsedMs / 1000).toFixed(1)} s`);
}
