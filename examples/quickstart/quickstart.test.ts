/** The quickstart runs the whole story as documented and ends the way its output says. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTLEMENT } from './after-loan.js';
import { CUSTOMERS, INSTITUTIONS } from './cast.js';
import { LOAN_AMOUNT_FEN } from './loan-review.js';
import { type QuickstartResult, runQuickstart } from './quickstart.js';

const [bank, otherInstitution] = INSTITUTIONS;
const outputDir = mkdtempSync(join(tmpdir(), 'sealflow-quickstart-test-'));
const lines: string[] = [];
let result: QuickstartResult;

beforeAll(async () => {
  result = await runQuickstart({ log: (line) => lines.push(line), keep: false, outputDir, showEvents: true });
}, 240_000);
afterAll(() => rmSync(outputDir, { recursive: true, force: true }));

/** Every PDF the demo left, in any folder under the output. */
function pdfsLeft(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.pdf'))
    .map((name) => join(dir, name));
}

describe('quickstart', () => {
  it('approves the three templates through 法务 and 风控, and a rejected draft becomes INVALID', () => {
    const { templates } = result;
    expect(templates.effective).toEqual({
      LOAN_CONTRACT_V: 'LOAN_CONTRACT_V.v0002',
      CREDIT_CONTRACT_V: 'CREDIT_CONTRACT_V.v0001',
      DATA_QUERY_AUTH_V: 'DATA_QUERY_AUTH_V.v0001',
    });
    expect(templates.rejected).toMatchObject({ id: 'LOAN_CONTRACT_V.v0001', status: 'INVALID' });
    expect(templates.rejected.decision?.reason).toContain('年化利率');
    expect(templates.selfApprovalRefused).toBe('MAKER_CHECKER_VIOLATION');
    // The corrected draft was edited before submission, and its history says what changed.
    expect(templates.rateAdded).toHaveLength(1);
    expect(templates.rateAdded[0]).toMatch(/^variables\.annualRate: added 年化利率/);
  });

  it('signs the credit bundle after a forced failure and a 补签, and refuses a 64-year-old applicant', () => {
    const { failed, resigned, refused } = result.credit;
    expect(failed).toMatchObject({
      scene: 'CREDIT_GRANT',
      status: 'FAILED',
      attempt: 1,
      failure: { code: 'VENDOR_UNAVAILABLE', stage: 'startingVendorFlow' },
      signed: [],
    });
    expect(resigned).toMatchObject({ status: 'COMPLETED', attempt: 2, previousAttemptId: failed.id, failure: null });
    expect(resigned.signed.map((d) => [d.documentKey, d.signatures])).toEqual([
      ['credit-contract', 2],
      ['data-query-authorization', 2],
    ]);
    expect(refused.error.code).toBe('TEMPLATE_CHECK_FAILED');
    expect(refused.error.message).toContain('申请人年龄须在18至60周岁之间');
    expect(refused.record).toMatchObject({ status: 'FAILED', failure: { stage: 'validating' }, rendered: [] });
  });

  it('dispatches with an acceptance, a decline and an expiry, freezing and releasing positions', () => {
    const { dispatch } = result;
    expect(new Set(dispatch.offered).size).toBe(4);
    expect(dispatch.accepted).toEqual([bank.id, otherInstitution.id]);
    expect(dispatch.offered).toContain(dispatch.declined);
    expect(dispatch.offered[3]).toBe(dispatch.expired);
    expect(dispatch.chosen).toBe(bank.id);
    expect(dispatch.holdsAfterAcceptance).toEqual({
      [bank.id]: LOAN_AMOUNT_FEN,
      [otherInstitution.id]: LOAN_AMOUNT_FEN,
    });
    expect(dispatch.holdsAfterChoice).toEqual({ [bank.id]: LOAN_AMOUNT_FEN });
    expect(dispatch.application).toMatchObject({
      stage: 'institutionProcessing.awaitingFaceSigning',
      funder: { id: bank.id, sealId: bank.sealId },
      totalIncompleteSubmissions: 1,
      loanContract: { error: null },
    });
  });

  it("seals the loan contract with the chosen funder's own seal; another institution cannot", () => {
    const { record, strangerRefused } = result.loan;
    expect(record).toMatchObject({
      scene: 'LOAN_CONTRACT',
      funding: 'funder',
      funderId: bank.id,
      status: 'COMPLETED',
      funderSignature: { funderId: bank.id, sealId: bank.sealId },
      sealsUsed: [{ role: 'funder', sealId: bank.sealId }],
    });
    expect(record.signed.map((d) => [d.documentKey, d.signatures])).toEqual([['loan-contract', 2]]);
    expect(strangerRefused).toBe('NOT_FOUND');
  });

  it('settles with the commission, restores the position and closes the application', () => {
    const { settlement } = result;
    expect(settlement.application).toMatchObject({
      status: 'closed',
      disbursedFen: SETTLEMENT.disbursedFen,
      settlement: SETTLEMENT,
    });
    expect(settlement.holdsAfterSettlement).toEqual({});
    expect(settlement.successes).toBe(1);
    expect(settlement.ledgerProblems).toEqual([]);
  });

  it('finds every signing of the customer, downloads the signed PDFs and verifies them and their evidence', () => {
    const { archive, evidence, loan, credit } = result;
    expect(archive.records.map((r) => r.id).sort()).toEqual(
      [loan.record.id, credit.failed.id, credit.resigned.id].sort(),
    );
    // The failed attempt, read again, points at its 补签.
    expect(archive.records.find((r) => r.id === credit.failed.id)?.nextAttemptId).toBe(credit.resigned.id);
    expect(archive.files).toHaveLength(3);
    for (const { path, signatures } of archive.files) {
      expect(existsSync(path)).toBe(true);
      expect(signatures.length).toBe(2);
      expect(signatures.every((s) => s.valid)).toBe(true);
      expect(signatures.at(-1)!.coversWholeDocument).toBe(true);
    }
    const loanPdf = archive.files.find((f) => f.path.includes(loan.record.businessNo))!;
    expect(loanPdf.signatures.at(-1)!.signer).toContain(bank.name);

    expect(evidence.checks).toHaveLength(4);
    for (const { verification } of evidence.checks) expect(verification.ok).toBe(true);
    const manifest = JSON.parse(readFileSync(evidence.manifestPath, 'utf8'));
    expect(manifest.recordId).toBe(loan.record.id);
    expect(manifest.entries.map((e: { type: string }) => e.type)).toContain('funder.signing');
  });

  it('exports the statistics report and the regional ranking as xlsx', () => {
    const { report } = result;
    expect(report.applications).toBe(1);
    expect(report.amountFen).toBe(LOAN_AMOUNT_FEN);
    expect(report.rankedInstitutions).toBe(INSTITUTIONS.length);
    for (const file of report.files) expect(readFileSync(file).subarray(0, 2).toString('latin1')).toBe('PK');
  });

  it('delivers the domain events and notifications of the story', () => {
    expect(result.eventTypes).toEqual(
      expect.arrayContaining([
        'signing.failed',
        'signing.awaiting-funder',
        'signing.completed',
        'dispatch.application.returned-for-materials',
        'dispatch.offer.accepted',
        'dispatch.offer.declined',
        'dispatch.offer.expired',
        'dispatch.chosen',
        'dispatch.not-chosen',
        'dispatch.application.settled',
      ]),
    );
    expect(result.notifications).toEqual(
      expect.arrayContaining([
        { type: 'dispatch.choice-open', recipient: 'follow-up-desk' },
        { type: 'offer.chosen', recipient: bank.id },
        { type: 'offer.not-chosen', recipient: otherInstitution.id },
      ]),
    );
  });

  it('prints personal data only masked, in plain English, and removes its temporary database', () => {
    const output = lines.join('\n');
    for (const customer of CUSTOMERS) {
      expect(output).not.toContain(customer.name);
      expect(output).not.toContain(customer.idNumber);
      expect(output).not.toContain(customer.mobile);
    }
    expect(output).not.toMatch(/(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])/); // no full ID number
    expect(output).toContain('王** 330106********');
    expect(output).toContain('== Summary ==');
    // Counts read as English: "1 check", "2 parties".
    const counted = [...output.matchAll(/\((\d+) (\w+), (\d+) (\w+), (\d+) (\w+)\)/g)];
    expect(counted.length).toBeGreaterThan(0);
    for (const [, variables, variableNoun, parties, partyNoun, checks, checkNoun] of counted) {
      expect(variableNoun).toBe(variables === '1' ? 'variable' : 'variables');
      expect(partyNoun).toBe(parties === '1' ? 'party' : 'parties');
      expect(checkNoun).toBe(checks === '1' ? 'check' : 'checks');
    }
    expect(existsSync(result.workDir)).toBe(false);
  });

  it('leaves only PDFs that pdfsig finds validly signed', (context) => {
    const pdfs = pdfsLeft(outputDir);
    expect(pdfs).toHaveLength(3);
    if (spawnSync('pdfsig', ['-v']).error) {
      const reason = 'pdfsig (poppler-utils) is not installed: apt-get install -y poppler-utils';
      if (process.env.CI === 'true') throw new Error(`${reason}; CI must check the signed PDFs with it.`);
      console.warn(`Skipping the pdfsig check: ${reason}`);
      context.skip();
    }
    for (const pdf of pdfs) {
      const run = spawnSync('pdfsig', [pdf], { encoding: 'utf8' });
      const report = `${run.stdout}${run.stderr}`;
      expect(run.status, report).toBe(0);
      const verdicts = [...report.matchAll(/- Signature Validation: (.*)$/gm)].map((m) => m[1]!.trim());
      expect(verdicts, `${pdf}\n${report}`).toEqual(['Signature is Valid.', 'Signature is Valid.']);
      expect(report).toMatch(/Total document signed/);
    }
  });
});
