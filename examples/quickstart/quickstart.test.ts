/** The quickstart runs as documented and ends the way its output says. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runQuickstart } from './quickstart.js';

describe('quickstart', () => {
  it('signs two loans, refuses the credit grant of a 64-year-old, and everything verifies', async () => {
    const lines: string[] = [];
    const result = await runQuickstart({ log: (line) => lines.push(line), keep: false });

    expect(result.platformLoan).toMatchObject({ status: 'COMPLETED', funding: 'platform', failure: null });
    expect(result.funderLoan).toMatchObject({
      status: 'COMPLETED',
      funding: 'funder',
      funderSignature: { funderId: 'bank-hz-001', sealId: 'funder-seal' },
      sealsUsed: [{ role: 'funder', sealId: 'funder-seal' }],
    });
    expect(result.platformLoan.sealsUsed.map((s) => s.sealId)).toEqual(['platform-seal']);
    for (const record of [result.platformLoan, result.funderLoan]) {
      expect(record.signed.map((d) => [d.documentKey, d.signatures])).toEqual([['loan-contract', 2]]);
    }

    const { error, record } = result.refused;
    expect(error.code).toBe('TEMPLATE_CHECK_FAILED');
    expect(error.recordId).toBe(record.id);
    expect(error.message).toContain('申请人年龄须在18至60周岁之间');
    expect(record).toMatchObject({
      status: 'FAILED',
      scene: 'CREDIT_GRANT',
      failure: { code: 'TEMPLATE_CHECK_FAILED', stage: 'validating' },
      rendered: [],
      signed: [],
    });
    expect(record.failure!.message).toContain('申请人年龄须在18至60周岁之间');

    expect(result.signatures.map((s) => [s.fieldName, s.valid, s.coversWholeDocument])).toEqual([
      ['sealflow_borrower_1', true, false],
      ['sealflow_funder_1', true, true],
    ]);
    expect(result.signatures[1]!.signer).toContain('某某商业银行股份有限公司');
    expect(result.evidence.map((e) => e.ok)).toEqual([true, true, true]);

    expect(result.eventTypes).toEqual(
      expect.arrayContaining([
        'signing.awaiting-funder',
        'signing.funder-signing',
        'signing.completed',
        'signing.failed',
      ]),
    );
    // Personal data only masked in what the demo prints; the temporary files are gone.
    const output = lines.join('\n');
    expect(output).not.toContain('王雨桐');
    expect(output).not.toMatch(/(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])/); // no full ID number
    expect(output).not.toContain('13857126043');
    expect(output).toContain('王** 330106********');
    expect(existsSync(result.signedPdfPath)).toBe(false);
    // Counts read as English: "1 check", "3 parties".
    const counted = [...output.matchAll(/\((\d+) (\w+), (\d+) (\w+), (\d+) (\w+)\)/g)];
    expect(counted.length).toBeGreaterThan(0);
    for (const [, variables, variableNoun, parties, partyNoun, checks, checkNoun] of counted) {
      expect(variableNoun).toBe(variables === '1' ? 'variable' : 'variables');
      expect(partyNoun).toBe(parties === '1' ? 'party' : 'parties');
      expect(checkNoun).toBe(checks === '1' ? 'check' : 'checks');
    }
  });
});
