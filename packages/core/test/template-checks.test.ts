import { describe, expect, it } from 'vitest';
import {
  TemplateCheckError,
  TemplateValueError,
  assertChecksPass,
  diffDefinitions,
  evaluateChecks,
  idNumberCheckChar,
  resolveValues,
  validateValues,
  valueProblems,
} from '../src/index.js';
import { TemplateDefinition } from '../src/templates/model.js';
import { expectSealflowError, loanDefinition } from './template-fixtures.js';

const definition = TemplateDefinition.parse({
  code: 'LOAN_CONTRACT_V',
  name: '个人借款合同',
  documentType: 'LOAN_CONTRACT',
  ...loanDefinition(),
});

/** A valid ID number for someone born on `birth` (YYYYMMDD), in Hangzhou. */
function idBornOn(birth: string): string {
  const first17 = `330106${birth}123`;
  return first17 + idNumberCheckChar(first17);
}

const NOW = Date.UTC(2026, 0, 1, 2); // 2026-01-01 10:00 in China
const good = {
  borrowerName: '欧阳玥',
  borrowerIdNo: idBornOn('19830714'),
  borrowerPhone: '15334000761',
  loanAmount: '188000.00',
  loanAmountFigures: '188000.00',
  creditLimit: '200000.00',
  startDate: '2026-01-01',
  loanTerm: 36,
};

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('template values', () => {
  it('accepts values that fit their variables', () => {
    expect(valueProblems(definition, good)).toEqual([]);
    expect(() => validateValues(definition, good)).not.toThrow();
  });

  it('takes values from a signing request by each variable source path', () => {
    const values = resolveValues(definition, {
      borrower: { name: '欧阳玥', idNumber: good.borrowerIdNo, mobile: '15334000761' },
      loan: { amount: '188000.00', startDate: '2026-01-01' },
      credit: { limit: '200000.00' },
    });
    const { loanTerm: _notInRequest, ...expected } = good;
    expect(values).toEqual(expected);
  });

  it('a bad ID check digit is refused, naming the variable and masking the number', () => {
    const id = good.borrowerIdNo;
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    const error = expectSealflowError(
      thrown(() => validateValues(definition, { ...good, borrowerIdNo: wrong })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error).toBeInstanceOf(TemplateValueError);
    expect(error.details).toMatchObject({ variable: 'borrowerIdNo' });
    expect(error.message).toContain('check digit');
    expect(error.message).not.toContain(wrong);
    expect(error.message).toContain(`${wrong.slice(0, 6)}********${wrong.slice(-4)}`);
  });

  it('a bad mobile is refused and masked', () => {
    const error = expectSealflowError(
      thrown(() => validateValues(definition, { ...good, borrowerPhone: '12345678901' })),
      'TEMPLATE_VALUE_INVALID',
    );
    expect(error.details).toMatchObject({ variable: 'borrowerPhone' });
    expect(error.message).not.toContain('12345678901');
  });

  it('an amount as a float string or a JavaScript number is refused', () => {
    for (const loanAmount of ['188000.005', '0.30000000000000004', 188000.5]) {
      const error = expectSealflowError(
        thrown(() => validateValues(definition, { ...good, loanAmount })),
        'TEMPLATE_VALUE_INVALID',
      );
      expect(error.details).toMatchObject({ variable: 'loanAmount' });
    }
  });

  it('required values, text length and integer bounds', () => {
    const problems = valueProblems(definition, { ...good, borrowerName: '', loanTerm: 61 });
    expect(problems.map((p) => p.variable)).toEqual(['borrowerName', 'loanTerm']);
    expect(problems[0]!.message).toBe('借款人姓名 is required.');
    const tooLong = valueProblems(definition, { ...good, borrowerName: '张'.repeat(21) });
    expect(tooLong[0]!.message).toContain('21 characters');
    expect(tooLong[0]!.message).not.toContain('张张');
    // Optional and absent is fine.
    const { loanTerm: _omit, ...withoutTerm } = good;
    expect(valueProblems(definition, withoutTerm)).toEqual([]);
  });
});

describe('template business checks', () => {
  it('all pass for a good application', () => {
    expect(evaluateChecks(definition, good, { now: NOW })).toEqual([]);
  });

  it('age outside 18–60, computed from the ID number on the signing day, fails with its own message', () => {
    const young = evaluateChecks(definition, { ...good, borrowerIdNo: idBornOn('20080102') }, { now: NOW });
    expect(young).toEqual([
      { index: 0, kind: 'ageBetween', variable: 'borrowerIdNo', message: '借款人年龄须在18至60周岁之间' },
    ]);
    // 18 on the birthday itself (2026-01-01 in China).
    expect(evaluateChecks(definition, { ...good, borrowerIdNo: idBornOn('20080101') }, { now: NOW })).toEqual([]);
    const old = evaluateChecks(definition, { ...good, borrowerIdNo: idBornOn('19650101') }, { now: NOW });
    expect(old.map((f) => f.message)).toEqual(['借款人年龄须在18至60周岁之间']);
  });

  it('an amount over the credit limit fails with its own message; equal passes', () => {
    const over = evaluateChecks(definition, { ...good, loanAmount: '200000.01' }, { now: NOW });
    expect(over.map((f) => f.message)).toEqual(['借款金额不得超过授信额度']);
    expect(evaluateChecks(definition, { ...good, loanAmount: '200,000.00' }, { now: NOW })).toEqual([]);
  });

  it('a start date before the signing day fails with its own message', () => {
    const early = evaluateChecks(definition, { ...good, startDate: '2025-12-31' }, { now: NOW });
    expect(early.map((f) => f.message)).toEqual(['起息日不得早于签署日']);
  });

  it('every failing check is reported, each with its message, and assertChecksPass throws them', () => {
    const bad = { ...good, borrowerIdNo: idBornOn('20100101'), loanAmount: '300000.00', startDate: '2025-01-01' };
    const error = expectSealflowError(
      thrown(() => assertChecksPass(definition, bad, { now: NOW })),
      'TEMPLATE_CHECK_FAILED',
    );
    expect(error).toBeInstanceOf(TemplateCheckError);
    expect((error as TemplateCheckError).failures.map((f) => f.message)).toEqual([
      '借款人年龄须在18至60周岁之间',
      '借款金额不得超过授信额度',
      '起息日不得早于签署日',
    ]);
  });

  it('a check that cannot be evaluated fails rather than passes', () => {
    expect(evaluateChecks(definition, {}, { now: NOW }).map((f) => f.kind)).toEqual([
      'ageBetween',
      'amountWithin',
      'dateNotBefore',
    ]);
  });

  it('required, pattern, dateNotAfter, fixed amount ceilings and equals', () => {
    const checks = TemplateDefinition.parse({
      code: 'C',
      name: 'c',
      documentType: 'CARD_BINDING_AGREEMENT',
      variables: [
        { key: 'card', label: '卡号', type: 'bankCard' },
        { key: 'holder', label: '持卡人', type: 'text' },
        { key: 'borrower', label: '借款人', type: 'text' },
        { key: 'endDate', label: '到期日', type: 'date' },
        { key: 'amount', label: '金额', type: 'amount' },
      ],
      checks: [
        { kind: 'required', variable: 'card', message: '须填写银行卡号' },
        { kind: 'pattern', variable: 'card', pattern: '^62', message: '仅支持银联卡' },
        { kind: 'dateNotAfter', variable: 'endDate', than: { date: '2030-12-31' }, message: '到期日不得晚于2030年' },
        { kind: 'amountWithin', variable: 'amount', max: '50000.00', message: '单笔不超过5万元' },
        { kind: 'equals', variable: 'holder', otherVariable: 'borrower', message: '持卡人须为借款人本人' },
      ],
    });
    const ok = {
      card: '6222021237056330123',
      holder: '张三',
      borrower: '张三',
      endDate: '2030-12-31',
      amount: '50000',
    };
    expect(evaluateChecks(checks, ok, { now: NOW })).toEqual([]);
    const bad = {
      card: '4111111111111111',
      holder: '李四',
      borrower: '张三',
      endDate: '2031-01-01',
      amount: '50000.01',
    };
    expect(evaluateChecks(checks, bad, { now: NOW }).map((f) => f.message)).toEqual([
      '仅支持银联卡',
      '到期日不得晚于2030年',
      '单笔不超过5万元',
      '持卡人须为借款人本人',
    ]);
  });
});

describe('definition diffs', () => {
  it('names list items by key and shows rules compactly', () => {
    const after = TemplateDefinition.parse({
      ...definition,
      name: '个人借款合同（2026版）',
      variables: [
        ...definition.variables.filter((v) => v.key !== 'loanTerm'),
        { key: 'guarantorName', label: '担保人姓名', type: 'text', placement: { field: 'guarantorName' } },
      ],
      parties: definition.parties.map((p) => (p.role === 'platform' ? { ...p, seal: { keyword: '（盖章）' } } : p)),
    });
    expect(diffDefinitions(definition, after).map((c) => c.summary)).toEqual([
      'name: 个人借款合同 → 个人借款合同（2026版）',
      'variables.loanTerm: removed 借款期限（月） (integer)',
      'variables.guarantorName: added 担保人姓名 (text)',
      'parties.platform.seal: page 7 (100,230 120×40) → keyword "（盖章）"',
    ]);
    expect(diffDefinitions(definition, definition)).toEqual([]);
  });
});
