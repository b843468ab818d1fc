import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_STATES,
  ValidationError,
  matchesPattern,
  patternProblem,
} from '../src/index.js';

const ATOMS = ['a', 'b', 'c', '.', '\\d', '\\w', '\\s', '[ab]', '[^a]', '[a-c]', '\\.', '\\u0061', '\\p{L}', '中'];
const ASSERTIONS = ['^', '$', '\\b', '\\B'];
const QUANTIFIERS = ['', '', '*', '+', '?', '{2}', '{0,2}', '{1,}', '*?', '+?'];

/** Random patterns from the supported language, over a small alphabet so matches and near-misses are both common. */
function patternOf(depth: number): fc.Arbitrary<string> {
  const atom: fc.Arbitrary<string> =
    depth === 0
      ? fc.constantFrom(...ATOMS)
      : fc.oneof(
          fc.constantFrom(...ATOMS),
          patternOf(depth - 1).map((p) => `(${p})`),
          patternOf(depth - 1).map((p) => `(?:${p})`),
        );
  const item = fc.oneof(
    { arbitrary: fc.tuple(atom, fc.constantFrom(...QUANTIFIERS)).map(([a, q]) => a + q), weight: 5 },
    { arbitrary: fc.constantFrom(...ASSERTIONS), weight: 1 },
  );
  return fc
    .array(
      fc.array(item, { maxLength: 3 }).map((items) => items.join('')),
      { minLength: 1, maxLength: 2 },
    )
    .map((options) => options.join('|'));
}
const patternArb = patternOf(2);

const textArb = fc
  .array(fc.constantFrom('a', 'b', 'c', '1', ' ', '.', '\n', '中', '_', '😀'), { maxLength: 10 })
  .map((chars) => chars.join(''));

describe('template patterns: a linear-time matcher with RegExp semantics', () => {
  it('answers exactly as RegExp with the u flag does (property)', () => {
    fc.assert(
      fc.property(patternArb, textArb, (pattern, text) => {
        // RegExp also tries the position between the halves of an astral character, where only a bare \B can
        // match (both halves are non-word characters); the automaton steps by whole characters.
        fc.pre(!(pattern.includes('\\B') && /[\u{10000}-\u{10FFFF}]/u.test(text)));
        expect(patternProblem(pattern)).toBeUndefined();
        expect(matchesPattern(pattern, text)).toBe(new RegExp(pattern, 'u').test(text));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ['^\\d{6}$', '123456', true],
    ['^\\d{6}$', '1234567', false],
    ['^[\\u4e00-\\u9fa5]{2,4}$', '张三丰', true],
    ['^\\p{Script=Han}+$', '欧阳娜娜', true],
    ['^\\p{Script=Han}+$', '欧阳 娜娜', false],
    ['^(?<area>\\d{3,4})-\\d{7,8}$', '0571-88886666', true],
    ['\\uD83D\\uDE00', 'x😀', true],
    ['^(男|女)$', '女', true],
    ['^(男|女)$', '男女', false],
  ])('%s on %s → %s', (pattern, text, expected) => {
    expect(matchesPattern(pattern, text)).toBe(expected);
    expect(new RegExp(pattern, 'u').test(text)).toBe(expected);
  });

  it('takes catastrophic-backtracking patterns in stride on long values', () => {
    // With RegExp each of these takes longer than the universe on 4,000 characters; here it is a few passes.
    const long = `${'a'.repeat(4_000)}!`;
    for (const pattern of ['^([a-z]+)+$', '^(a|a)*$', '^(a*)*b$', '^\\w*\\w*\\w*\\w*\\w*\\w*$', '(.*a){12}$']) {
      expect(patternProblem(pattern)).toBeUndefined();
      expect(matchesPattern(pattern, long)).toBe(false);
      expect(matchesPattern(pattern, 'a'.repeat(4_000))).toBe(pattern !== '^(a*)*b$');
    }
  });

  it.each([
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /backreferences/],
    ['a(?=b)', /lookaround/],
    ['(?<!a)b', /lookaround/],
    ['(', /not a valid regular expression/],
    ['a{2000}', new RegExp(`more than ${MAX_PATTERN_STATES} states`)],
    ['((a{50}){50})', /states/],
    ['a'.repeat(MAX_PATTERN_LENGTH + 1), /at most 500 characters/],
    [`${'('.repeat(40)}a${')'.repeat(40)}`, /nest deeper/],
  ])('refuses %s when the definition is validated', (pattern, reason) => {
    expect(patternProblem(pattern)).toMatch(reason);
    expect(() => matchesPattern(pattern, 'a')).toThrow(ValidationError);
  });
});
