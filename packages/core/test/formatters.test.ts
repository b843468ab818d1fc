import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  amountInChineseCapitals,
  applyRule,
  parseAmountInChineseCapitals,
  parseReplacementRule,
  ReplacementRule,
} from '../src/templates/formatters.js';
import { ValidationError } from '../src/errors.js';

describe('amountInChineseCapitals', () => {
  it.each([
    [18_800_000, '壹拾捌万捌仟元整'],
    [20_800_000, '贰拾万捌仟元整'],
    [20_000_800, '贰拾万零捌元整'],
    [140_950, '壹仟肆佰零玖元伍角整'],
    [600_714, '陆仟零柒元壹角肆分'],
    [32_504, '叁佰贰拾伍元零肆分'],
    [10_700_053, '壹拾万柒仟元伍角叁分'],
    [100_000_000_100_000, '壹万亿零壹仟元整'],
    [1_000_000_000_100, '壹佰亿零壹元整'],
    [50, '伍角整'],
    [7, '柒分'],
    [0, '零元整'],
  ])('%i fen → %s', (fen, text) => {
    expect(amountInChineseCapitals(fen)).toBe(text);
  });

  it('round-trips every amount and never writes 零 twice or at an edge (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (fen) => {
        const text = amountInChineseCapitals(fen);
        expect(parseAmountInChineseCapitals(`人民币${text}`)).toBe(fen);
        expect(text).not.toMatch(/零零|^零|零元|零[万亿]/);
        expect(text.endsWith('整')).toBe(fen % 10 === 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips small amounts exhaustively where 零 rules bite most', () => {
    for (let fen = 0; fen <= 200_000; fen += 37)
      expect(parseAmountInChineseCapitals(amountInChineseCapitals(fen))).toBe(fen);
  });
});

describe('applyRule', () => {
  it('formats amounts from yuan text, numbers or fen', () => {
    expect(applyRule({ kind: 'amountInChineseCapitals' }, '188000.00')).toBe('人民币壹拾捌万捌仟元整');
    expect(applyRule({ kind: 'amountInChineseCapitals', prefix: '' }, 18_800_000)).toBe('壹仟捌佰捌拾万元整');
    expect(applyRule({ kind: 'amountInChineseCapitals', prefix: '', unit: 'fen' }, 18_800_000)).toBe(
      '壹拾捌万捌仟元整',
    );
    expect(applyRule({ kind: 'amountWithSeparators', currencySymbol: '¥', decimals: 2 }, '188000')).toBe('¥188,000.00');
    expect(applyRule({ kind: 'amountWithSeparators', decimals: 0 }, 1234567)).toBe('1,234,567');
    expect(applyRule({ kind: 'amountWithSeparators', decimals: 2, unit: 'fen' }, 5)).toBe('0.05');
  });

  it('refuses to drop fen or take float artefacts', () => {
    expect(() => applyRule({ kind: 'amountWithSeparators', decimals: 0 }, '12.50')).toThrow(/use decimals: 2/);
    expect(() => applyRule({ kind: 'amountInChineseCapitals' }, 0.1 + 0.2)).toThrow(ValidationError);
    expect(() => applyRule({ kind: 'amountInChineseCapitals', unit: 'fen' }, 1.5)).toThrow(/whole number/);
  });

  it('formats dates by pattern, reading Date values in Beijing time', () => {
    const d = new Date('2025-11-09T16:30:00Z'); // 2025-11-10 00:30 in Beijing
    expect(applyRule({ kind: 'date', pattern: 'YYYY年MM月DD日' }, d)).toBe('2025年11月10日');
    expect(applyRule({ kind: 'date', pattern: 'YYYY年M月D日' }, '2025-01-05')).toBe('2025年1月5日');
    expect(applyRule({ kind: 'date', pattern: 'YYYY-MM-DD' }, '2025-01-05')).toBe('2025-01-05');
    expect(applyRule({ kind: 'date', pattern: 'YYYYMMDD' }, '2025-01-05')).toBe('20250105');
    expect(() => applyRule({ kind: 'date', pattern: 'YYYY-MM-DD' }, '2025-02-30')).toThrow(/not a calendar date/);
    expect(() => applyRule({ kind: 'date', pattern: 'YYYY-MM-DD' }, '5/1/2025')).toThrow(/YYYY-MM-DD/);
  });

  it('masks', () => {
    expect(applyRule({ kind: 'mask', keepStart: 1, keepEnd: 0 }, '欧阳玥')).toBe('欧**');
    expect(applyRule({ kind: 'mask', keepStart: 3, keepEnd: 4, char: '•' }, '13812345678')).toBe('138••••5678');
    expect(applyRule({ kind: 'mask', keepStart: 3, keepEnd: 4 }, '123')).toBe('***');
    expect(applyRule({ kind: 'idNumberMasked' }, '110101199003071234')).toBe('110101********1234');
    expect(applyRule({ kind: 'uppercase' }, 'ht2025ab')).toBe('HT2025AB');
    expect(applyRule({ kind: 'text' }, 42)).toBe('42');
  });
});

describe('ReplacementRule schema', () => {
  it('accepts valid rules', () => {
    expect(ReplacementRule.parse({ kind: 'date', pattern: 'YYYY-MM-DD' })).toEqual({
      kind: 'date',
      pattern: 'YYYY-MM-DD',
    });
  });

  it.each([
    [{ kind: 'capitals' }, /kind must be one of amountInChineseCapitals/],
    [{ kind: 'date', pattern: 'DD/MM/YYYY' }, /pattern: pattern must be one of YYYY年MM月DD日/],
    [{ kind: 'mask', keepStart: -1, keepEnd: 2 }, /keepStart: keepStart must not be negative/],
    [{ kind: 'mask', keepStart: 1, keepEnd: 2, char: '**' }, /char: char must be exactly one character/],
    [{ kind: 'amountWithSeparators', decimals: 3 }, /decimals: decimals must be 0 or 2/],
    [{ kind: 'amountInChineseCapitals', unit: 'jiao' }, /unit: unit must be 'yuan'/],
  ])('rejects %j', (input, message) => {
    try {
      parseReplacementRule(input);
      throw new Error('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).code).toBe('INVALID_INPUT');
      expect((error as ValidationError).message).toMatch(/^Invalid replacement rule — /);
      expect((error as ValidationError).message).toMatch(message);
    }
  });
});
