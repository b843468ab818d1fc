/**
 * Every public function that takes a value answers any input with a result or a `SealflowError` with a stable code:
 * never a TypeError, RangeError or a hang. Each entry point runs at least 2,000 generated inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DATE_PATTERNS,
  MAX_VALUE_LENGTH,
  PROVINCE_NAMES,
  SealflowError,
  ageOn,
  amountInChineseCapitals,
  amountWithSeparators,
  applyRule,
  assertBankCard,
  assertChecksPass,
  assertCreditCode,
  assertFen,
  assertIdNumber,
  assertMobile,
  bankCardProblem,
  creditCodeCheckChar,
  creditCodeProblem,
  dateInChina,
  evaluateChecks,
  formatDate,
  formatFen,
  idNumberCheckChar,
  idNumberProblem,
  luhnValid,
  maskIdNumber,
  maskMiddle,
  maskMobile,
  maskName,
  maskPersonalData,
  maskText,
  mobileProblem,
  moneyProblem,
  parseAmountInChineseCapitals,
  parseIdNumber,
  parseMoneyToFen,
  parseReplacementRule,
  resolveValues,
  validateDefinition,
  validateValues,
  valueProblems,
  withIdNumberCheckChar,
} from '../src/index.js';
import { TemplateDefinition } from '../src/templates/model.js';
import { PROPERTY_RUNS, PROTOTYPE_KEYS, anyValue } from './bad-input-fixtures.js';
import { CONTRACT_FIELDS, loanDefinition } from './template-fixtures.js';

const anyInput = anyValue({
  withBoxedValues: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
});

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
const validIdNumber = fc
  .tuple(
    fc.constantFrom(...Object.keys(PROVINCE_NAMES)),
    digits(4, 4),
    fc.integer({ min: 0, max: 36_000 }),
    digits(3, 3),
  )
  .map(([province, county, days, seq]) => {
    const birth = new Date(Date.UTC(1940, 0, 1) + days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    return withIdNumberCheckChar(`${province}${county}${birth}${seq}`);
  });
/** Strings that look like the domain's values, near-misses included, plus arbitrary text and non-strings. */
const valueLike = fc.oneof(
  validIdNumber,
  validIdNumber.map((id) => id.slice(0, 17)),
  digits(0, 20),
  fc.constantFrom('2026-13-01', '2026-02-29', '0000-00-00', '188000.00', '1e400', '-1', '0.30000000000000004'),
  fc.string({ maxLength: 40 }),
  anyInput,
);

/** Run `fn`; if it throws, the error must be a SealflowError whose code is one of `codes`. */
function expectTyped(fn: () => unknown, codes: readonly string[] = ['INVALID_INPUT']): unknown {
  try {
    return fn();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(SealflowError);
    expect(codes).toContain((error as SealflowError).code);
    return error;
  }
}

const definition = TemplateDefinition.parse({
  ...loanDefinition(),
  code: 'LOAN_CONTRACT_V',
  name: '个人借款合同',
  documentType: 'LOAN_CONTRACT',
});
const valuesArb = fc.dictionary(
  fc.oneof(fc.constantFrom(...definition.variables.map((v) => v.key), ...PROTOTYPE_KEYS), fc.string()),
  valueLike,
  { maxKeys: 12 },
);

describe('template values: typed errors for any input', () => {
  it('validateValues and valueProblems (property)', () => {
    fc.assert(
      fc.property(valuesArb, (values) => {
        const problems = expectTyped(() => valueProblems(definition, values));
        expect(Array.isArray(problems)).toBe(true);
        expectTyped(() => validateValues(definition, values), ['TEMPLATE_VALUE_INVALID']);
      }),
      PROPERTY_RUNS,
    );
  });

  it('validateValues and evaluateChecks with values or definitions that are not objects (property)', () => {
    fc.assert(
      fc.property(anyInput, anyInput, (values, garbage) => {
        expectTyped(() => validateValues(definition, values as never), ['INVALID_INPUT', 'TEMPLATE_VALUE_INVALID']);
        expectTyped(() => validateValues(garbage as never, {}), ['INVALID_INPUT', 'TEMPLATE_VALUE_INVALID']);
        expectTyped(() => evaluateChecks(definition, values as never, { now: 0 }));
        expectTyped(() => resolveValues(garbage as never, values));
      }),
      PROPERTY_RUNS,
    );
  });

  it('evaluateChecks and assertChecksPass (property)', () => {
    fc.assert(
      fc.property(valuesArb, fc.oneof(fc.integer(), fc.double(), anyInput), (values, now) => {
        expectTyped(() => evaluateChecks(definition, values, { now: now as number }));
        expectTyped(() => assertChecksPass(definition, values, { now: 1_767_225_600_000 }), ['TEMPLATE_CHECK_FAILED']);
      }),
      PROPERTY_RUNS,
    );
  });

  it('resolveValues reads own properties only (property)', () => {
    fc.assert(
      fc.property(anyInput, (request) => {
        const values = expectTyped(() => resolveValues(definition, { borrower: request, loan: request }));
        for (const value of Object.values(values as object)) {
          expect(value).not.toBe(Object.prototype.toString);
          expect(value).not.toBe(Object);
        }
      }),
      PROPERTY_RUNS,
    );
  });

  it('regressions: null values, BigInt, prototype keys', () => {
    expectTyped(() => validateValues(definition, null as never));
    expect(() => validateValues(definition, null as never)).toThrow(/values as an object/);
    const withBigInt = { borrowerName: '张三', loanAmount: 188000n, loanTerm: 12n };
    expect(valueProblems(definition, withBigInt).map((p) => p.variable)).toEqual(
      expect.arrayContaining(['loanAmount', 'loanTerm']),
    );
    // A variable named like an Object.prototype member finds no value rather than the inherited function.
    const [first] = definition.variables;
    const proto = { ...definition, variables: [{ ...first!, key: 'constructor', required: true }] };
    expect(valueProblems(proto, {})).toEqual([{ variable: 'constructor', message: '借款人姓名 is required.' }]);
    expect(resolveValues({ variables: [{ ...first!, source: 'borrower.toString' }] }, { borrower: {} })).toEqual({});
  });

  it(`caps text values at ${MAX_VALUE_LENGTH} characters and matches patterns in linear time`, () => {
    const long = { borrowerName: '张'.repeat(MAX_VALUE_LENGTH + 1) };
    const noMax = {
      variables: [{ ...definition.variables[0]!, validation: undefined }],
    };
    expect(valueProblems(noMax, long)[0]!.message).toContain(`no value may exceed ${MAX_VALUE_LENGTH}`);
    // The pattern that kept the event loop for 10 s on 31 characters with RegExp.
    const redos = {
      variables: [{ ...definition.variables[0]!, validation: { pattern: '^([a-z]+)+$' } }],
      checks: [
        { kind: 'pattern' as const, variable: 'borrowerName', pattern: '^([a-z]+)+$', message: '只能是小写字母' },
      ],
    };
    for (const length of [31, 1_000, MAX_VALUE_LENGTH - 1]) {
      const value = { borrowerName: `${'a'.repeat(length)}!` };
      expect(valueProblems(redos, value)).toEqual([
        { variable: 'borrowerName', message: '借款人姓名: does not have the required format.' },
      ]);
      expect(evaluateChecks(redos, value, { now: 0 })).toHaveLength(1);
    }
    expect(valueProblems(redos, { borrowerName: 'a'.repeat(MAX_VALUE_LENGTH) })).toEqual([]);
  });

  it('refuses backreferences and lookarounds when the definition is validated', () => {
    const pdf = { pageCount: 8, fields: CONTRACT_FIELDS.map((name) => ({ name, type: 'text' })) };
    const base = loanDefinition();
    for (const pattern of ['^(a)\\1$', '^(?=a)a$', 'x{3000}']) {
      const input = {
        ...base,
        code: 'LOAN_CONTRACT_V',
        name: '个人借款合同',
        documentType: 'LOAN_CONTRACT',
        variables: [{ ...base.variables![0]!, validation: { pattern } }],
      };
      const error = expectTyped(() => validateDefinition(input, pdf), ['TEMPLATE_DEFINITION_INVALID']);
      expect(error).toMatchObject({ details: { path: 'variables.borrowerName.validation.pattern' } });
      expect((error as Error).message).toMatch(/pattern cannot be used/);
    }
  });
});

describe('value checks: typed errors for any input', () => {
  const entryPoints: [string, (value: unknown) => unknown][] = [
    ['idNumberProblem', (v) => idNumberProblem(v as string)],
    ['idNumberProblem(today)', (v) => idNumberProblem(v as string, { today: v as string })],
    ['assertIdNumber', (v) => assertIdNumber(v as string)],
    ['parseIdNumber', (v) => parseIdNumber(v as string)],
    ['ageOn', (v) => ageOn(v as string, v as string)],
    ['idNumberCheckChar', (v) => idNumberCheckChar(v as string)],
    ['creditCodeCheckChar', (v) => creditCodeCheckChar(v as string)],
    ['creditCodeProblem', (v) => creditCodeProblem(v as string)],
    ['assertCreditCode', (v) => assertCreditCode(v as string)],
    ['mobileProblem', (v) => mobileProblem(v as string)],
    ['assertMobile', (v) => assertMobile(v as string)],
    ['moneyProblem', (v) => moneyProblem(v as string)],
    ['parseMoneyToFen', (v) => parseMoneyToFen(v as string)],
    ['formatFen', (v) => formatFen(v as number)],
    ['assertFen', (v) => assertFen(v as number)],
    ['bankCardProblem', (v) => bankCardProblem(v as string)],
    ['assertBankCard', (v) => assertBankCard(v as string)],
    ['luhnValid', (v) => luhnValid(v as string)],
    ['dateInChina', (v) => dateInChina(v as Date)],
  ];
  it.each(entryPoints)('%s (property)', (_name, entryPoint) => {
    fc.assert(
      fc.property(valueLike, (value) => {
        expectTyped(() => entryPoint(value));
      }),
      PROPERTY_RUNS,
    );
  });

  it('an ID number of 8 or 9 characters is refused, masked whole', () => {
    for (const value of ['11010119', '110101199']) {
      expect(idNumberProblem(value)).toBe(
        `ID number ${'*'.repeat(value.length)} must be 18 characters: 17 digits and a final digit or X.`,
      );
    }
  });
});

describe('formatters: typed errors for any input', () => {
  const ruleArb = fc.oneof(
    fc.constantFrom(
      { kind: 'amountInChineseCapitals' },
      { kind: 'amountInChineseCapitals', unit: 'fen' },
      { kind: 'amountWithSeparators', decimals: 2 },
      { kind: 'amountWithSeparators', decimals: 0, unit: 'fen' },
      { kind: 'idNumberMasked' },
      { kind: 'uppercase' },
      { kind: 'text' },
      ...DATE_PATTERNS.map((pattern) => ({ kind: 'date', pattern })),
    ),
    fc.record({ kind: fc.constant('mask'), keepStart: fc.integer(), keepEnd: fc.integer(), char: fc.string() }),
    anyInput,
  );

  it('applyRule (property)', () => {
    fc.assert(
      fc.property(ruleArb, valueLike, (rule, value) => {
        const out = expectTyped(() => applyRule(rule as never, value as never));
        if (typeof out !== 'object') expect(typeof out).toBe('string');
      }),
      PROPERTY_RUNS,
    );
  });

  it('parseReplacementRule (property)', () => {
    fc.assert(
      fc.property(ruleArb, (rule) => {
        expectTyped(() => parseReplacementRule(rule));
      }),
      PROPERTY_RUNS,
    );
  });

  it('formatDate (property)', () => {
    const dateText = fc.tuple(digits(4, 4), digits(2, 2), digits(2, 2)).map(([y, m, d]) => `${y}-${m}-${d}`);
    fc.assert(
      fc.property(
        fc.oneof(dateText, valueLike),
        fc.oneof(fc.constantFrom(...DATE_PATTERNS), anyInput),
        (value, pattern) => {
          const out = expectTyped(() => formatDate(value as never, pattern as never));
          if (typeof out === 'string' && typeof value === 'string') {
            // Whatever it prints is a real day: the same answer as an independent calendar check.
            const [y, m, d] = value.trim().split('-').map(Number) as [number, number, number];
            const probe = new Date(Date.UTC(2000, m - 1, d));
            probe.setUTCFullYear(y);
            expect(probe.getUTCMonth() + 1).toBe(m);
          }
        },
      ),
      PROPERTY_RUNS,
    );
    expect(() => formatDate('2026-13-01', 'YYYY-MM-DD')).toThrow(/not a calendar date/);
    expect(expectTyped(() => formatDate('2026-13-01', 'YYYY-MM-DD'))).toBeInstanceOf(SealflowError);
  });

  it('amounts in and out of Chinese capitals (property)', () => {
    const capitals = fc
      .array(fc.constantFrom(...'零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整人民币'), { maxLength: 30 })
      .map((c) => c.join(''));
    fc.assert(
      fc.property(fc.oneof(capitals, valueLike), valueLike, anyInput, (text, fen, decimals) => {
        const parsed = expectTyped(() => parseAmountInChineseCapitals(text as string));
        if (typeof parsed === 'number') expect(Number.isSafeInteger(parsed)).toBe(true);
        expectTyped(() => amountInChineseCapitals(fen as number));
        expectTyped(() => amountWithSeparators(fen as number, decimals as 0));
        expectTyped(() => maskMiddle(text as string, fen as number, decimals as number, '*'));
      }),
      PROPERTY_RUNS,
    );
  });
});

describe('masking: never throws, never leaves a number readable', () => {
  it('mask functions take anything (property)', () => {
    fc.assert(
      fc.property(anyInput, (value) => {
        for (const mask of [maskIdNumber, maskMobile, maskName, maskText])
          expect(typeof mask(value as string)).toBe('string');
        expect(() => maskPersonalData(value)).not.toThrow();
      }),
      PROPERTY_RUNS,
    );
  });

  it('short values are masked whole; nothing comes back as it went in (property)', () => {
    fc.assert(
      fc.property(digits(1, 20), (value) => {
        expect(maskMobile(value)).not.toBe(value);
        expect(maskIdNumber(value)).not.toBe(value);
        expect(maskMobile(value)).toHaveLength(value.length);
      }),
      PROPERTY_RUNS,
    );
    expect(maskMobile('1381234')).toBe('*******');
  });

  it('maskText hides mobiles with country codes and separators, and 15- and 18-digit ID numbers (property)', () => {
    const mobile = fc.tuple(fc.constantFrom(...'3456789'), digits(9, 9)).map(([second, rest]) => `1${second}${rest}`);
    const written = fc
      .tuple(mobile, fc.constantFrom('', '+86', '0086', '86', '+86 ', '+86-'), fc.constantFrom('', ' ', '-'))
      .map(([m, prefix, sep]) => ({
        secret: m,
        text: `${prefix}${m.slice(0, 3)}${sep}${m.slice(3, 7)}${sep}${m.slice(7)}`,
      }));
    const oldId = fc
      .tuple(fc.constantFrom(...Object.keys(PROVINCE_NAMES)), digits(13, 13))
      .map(([p, rest]) => ({ secret: `${p}${rest}`, text: `${p}${rest}` }));
    const newId = validIdNumber.map((id) => ({ secret: id, text: id }));
    fc.assert(
      fc.property(
        fc.oneof(written, oldId, newId),
        fc.string({ maxLength: 8 }).filter((s) => !/[0-9A-Za-z+]$/.test(s)),
        fc.string({ maxLength: 8 }).filter((s) => !/^[0-9A-Za-z]/.test(s)),
        ({ secret, text }, before, after) => {
          const masked = maskText(`${before}${text}${after}`);
          expect(masked).not.toContain(secret);
          expect(masked.replace(/[\s+-]/g, '')).not.toContain(secret.slice(3, 10));
        },
      ),
      PROPERTY_RUNS,
    );
    expect(maskText('请致电+8613812345678')).toBe('请致电+86138****5678');
    expect(maskText('旧证 110101900307123 号')).toBe('旧证 110101*****7123 号');
  });
});
