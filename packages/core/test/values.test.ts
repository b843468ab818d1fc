import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ageOn,
  assertBankCard,
  assertCreditCode,
  assertIdNumber,
  assertMobile,
  bankCardSchema,
  creditCodeCheckChar,
  creditCodeSchema,
  formatFen,
  idNumberCheckChar,
  idNumberSchema,
  isBankCard,
  isIdNumber,
  mobileSchema,
  moneySchema,
  parseIdNumber,
  PROVINCE_NAMES,
  parseMoneyToFen,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../src/model/values.js';
import { ValidationError } from '../src/errors.js';

/** Build a valid ID number from its parts so tests never depend on one hard-coded sample. */
function makeId(region: string, birth: string, seq: string): string {
  const first17 = region + birth + seq;
  return first17 + idNumberCheckChar(first17);
}

function expectValidationError(fn: () => unknown, pattern: RegExp, mustNotContain?: string): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toMatch(pattern);
    if (mustNotContain !== undefined) expect(e.message).not.toContain(mustNotContain);
    return e;
  }
  throw new Error('expected a ValidationError');
}

describe('resident ID number', () => {
  const id = makeId('110101', '19900307', '123');

  it('accepts a number with a correct check digit, including X', () => {
    expect(isIdNumber(id)).toBe(true);
    // Find a sequence whose check character is X and make sure lower-case x is accepted too.
    for (let s = 100; s < 999; s++) {
      const candidate = makeId('330106', '19851231', String(s));
      if (candidate.endsWith('X')) {
        expect(isIdNumber(candidate)).toBe(true);
        expect(isIdNumber(candidate.slice(0, 17) + 'x')).toBe(true);
        return;
      }
    }
    throw new Error('no X check digit found');
  });

  it('rejects a wrong check digit with a masked message', () => {
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    expectValidationError(() => assertIdNumber(wrong), /110101\*{8}.*GB 11643 check digit/, wrong);
  });

  it('rejects wrong length and letters', () => {
    expectValidationError(() => assertIdNumber('11010119900307123'), /18 characters/);
    expectValidationError(() => assertIdNumber('11010119900307A23X'), /18 characters/);
  });

  it('rejects a region code that is no province (GB/T 2260), check digit or not', () => {
    for (const region of ['000000', '190101', '290101', '991231', '720101']) {
      expectValidationError(() => assertIdNumber(makeId(region, '19900307', '123')), /no province code/);
    }
    for (const province of Object.keys(PROVINCE_NAMES)) {
      expect(isIdNumber(makeId(`${province}0101`, '19900307', '123'))).toBe(true);
    }
  });

  it('refuses anything that is not a string with a typed, masked error', () => {
    for (const value of [null, undefined, 12345678, 110101199003071234n, {}, ['1'], Symbol('id')]) {
      expectValidationError(() => assertIdNumber(value as never), /18 characters/);
    }
    // 8–9 characters used to break the mask itself.
    expectValidationError(() => assertIdNumber('11010119'), /\*{8} must be 18 characters/, '11010119');
    expectValidationError(() => assertIdNumber('110101199'), /\*{9} must be 18 characters/, '110101199');
  });

  it('rejects impossible and future birth dates', () => {
    expectValidationError(() => assertIdNumber(makeId('110101', '19900230', '123')), /impossible birth date/);
    expectValidationError(() => assertIdNumber(makeId('110101', '18991231', '123')), /impossible birth date/);
    expectValidationError(
      () => assertIdNumber(makeId('110101', '20300101', '123'), { today: '2026-01-01' }),
      /after 2026-01-01/,
    );
    expect(isIdNumber(makeId('110101', '20000229', '123'))).toBe(true);
  });

  it('parses birth date, sex and region', () => {
    expect(parseIdNumber(makeId('330106', '19851231', '122'))).toEqual({
      birthDate: '1985-12-31',
      sex: 'female',
      region: { code: '330106', provinceCode: '33', province: '浙江省' },
    });
    expect(parseIdNumber(makeId('440305', '20010101', '011')).sex).toBe('male');
  });

  it('computes age on a date', () => {
    const person = makeId('110101', '19900307', '123');
    expect(ageOn(person, '2020-03-06')).toBe(29);
    expect(ageOn(person, '2020-03-07')).toBe(30);
    expect(ageOn(person, new Date('2020-03-06T16:00:00Z'))).toBe(30); // midnight in Beijing
    expectValidationError(() => ageOn(person, '1980-01-01'), /before the birth date/);
    expectValidationError(() => ageOn(person, '2020-13-01'), /YYYY-MM-DD/);
  });

  it('any single-digit change to a valid number is caught (property)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom(...Object.keys(PROVINCE_NAMES)), fc.integer({ min: 0, max: 9_999 })),
        fc.date({ min: new Date('1930-01-01'), max: new Date('2020-12-31'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 999 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 1, max: 9 }),
        (region, birth, seq, pos, delta) => {
          const valid = makeId(
            region[0] + String(region[1]).padStart(4, '0'),
            birth.toISOString().slice(0, 10).replaceAll('-', ''),
            String(seq).padStart(3, '0'),
          );
          expect(isIdNumber(valid)).toBe(true);
          const digits = valid.split('');
          digits[pos] = String((Number(digits[pos]) + delta) % 10);
          const changed = digits.join('');
          // A changed digit either breaks the date or the check digit; GB 11643's mod-11 weights catch every single change.
          expect(changed.slice(0, 17) + idNumberCheckChar(changed.slice(0, 17)) === changed).toBe(false);
        },
      ),
    );
  });

  it('zod schema reports the same masked reason', () => {
    const result = idNumberSchema.safeParse('110101199003071230');
    expect(result.success).toBe(isIdNumber('110101199003071230'));
    const bad = idNumberSchema.safeParse('123');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/18 characters/);
  });
});

describe('unified social credit code', () => {
  // Published codes of well-known companies; their check characters must agree with GB 32100.
  const real = ['91350100M000100Y43', '91110108551385082Q', '91440300708461136T'];

  it('accepts codes whose check character matches', () => {
    for (const code of real) expect(() => assertCreditCode(code)).not.toThrow();
    expect(creditCodeSchema.safeParse(real[0]).success).toBe(true);
  });

  it('rejects a wrong check character, bad characters and wrong length', () => {
    const code = real[1]!;
    const wrong = code.slice(0, 17) + (creditCodeCheckChar(code.slice(0, 17)) === 'A' ? 'B' : 'A');
    expectValidationError(() => assertCreditCode(wrong), /GB 32100 check character/, wrong);
    expectValidationError(() => assertCreditCode('91110108551385082I'), /capital letters A–Y except I, O, S, V/);
    expectValidationError(() => assertCreditCode('9111010855138508'), /exactly 18 characters/);
  });
});

describe('completing test data with check characters', () => {
  it('turns 17 characters into a code that passes its check, and refuses anything else', () => {
    expect(isIdNumber(withIdNumberCheckChar('11010119900307451'))).toBe(true);
    expect(() => assertCreditCode(withCreditCodeCheckChar('91310000MA1FL0000'))).not.toThrow();
    expect(() => withIdNumberCheckChar('1101011990030745')).toThrow(ValidationError);
  });
});

describe('mobile', () => {
  it('accepts 1[3-9] + 9 digits only', () => {
    expect(() => assertMobile('13812345678')).not.toThrow();
    expect(mobileSchema.safeParse('19912345678').success).toBe(true);
    for (const bad of ['12812345678', '1381234567', '+8613812345678', '138 1234 5678']) {
      expect(mobileSchema.safeParse(bad).success).toBe(false);
    }
    expectValidationError(() => assertMobile('12812345678'), /11 digits starting 13–19/, '12812345678');
  });
});

describe('money in fen', () => {
  it('parses yuan strings exactly', () => {
    expect(parseMoneyToFen('188000.00')).toBe(18_800_000);
    expect(parseMoneyToFen('188,000.5')).toBe(18_800_050);
    expect(parseMoneyToFen('0.07')).toBe(7);
    expect(parseMoneyToFen(1.15)).toBe(115);
    expect(parseMoneyToFen('90071992547409.91')).toBe(9_007_199_254_740_991);
    expect(formatFen(18_800_050)).toBe('188000.50');
  });

  it('rejects float artefacts, negatives, too many decimals and junk', () => {
    expectValidationError(() => parseMoneyToFen(0.1 + 0.2), /at most 2 decimals/);
    expectValidationError(() => parseMoneyToFen('-1.00'), /must not be negative/);
    expectValidationError(() => parseMoneyToFen(-3), /must not be negative/);
    expectValidationError(() => parseMoneyToFen('1.005'), /at most 2 decimals/);
    expectValidationError(() => parseMoneyToFen('1,00.00'), /188,000.00/);
    expectValidationError(() => parseMoneyToFen('abc'), /188000.00/);
    expectValidationError(() => parseMoneyToFen(1e21), /as a string/);
    expectValidationError(() => parseMoneyToFen('90071992547409.92'), /too large/);
    expectValidationError(() => formatFen(1.5), /whole number/);
  });

  it('round-trips any fen amount through its yuan text (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (fen) => {
        expect(parseMoneyToFen(formatFen(fen))).toBe(fen);
      }),
    );
  });

  it('zod schema transforms to fen', () => {
    expect(moneySchema.parse('12.30')).toBe(1230);
    const bad = moneySchema.safeParse('12.301');
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/at most 2 decimals/);
  });
});

describe('bank card', () => {
  it('accepts Luhn-valid numbers with or without spaces', () => {
    expect(isBankCard('6222021234567890128')).toBe(luhnOk('6222021234567890128'));
    const valid = withLuhn('622202123456789012');
    expect(isBankCard(valid)).toBe(true);
    expect(isBankCard(valid.replace(/(\d{4})/g, '$1 ').trim())).toBe(true);
    expect(bankCardSchema.safeParse(valid).success).toBe(true);
  });

  it('rejects a broken check digit and bad lengths, masking the number', () => {
    const valid = withLuhn('622202123456789012');
    const broken = valid.slice(0, -1) + String((Number(valid.at(-1)) + 1) % 10);
    expectValidationError(() => assertBankCard(broken), /Luhn check/, broken);
    expectValidationError(() => assertBankCard('12345'), /12–19 digits/);
  });
});

/** An independent Luhn implementation for the tests (doubling from the right, digit sum). */
function luhnOk(digits: string): boolean {
  const sum = [...digits]
    .reverse()
    .map((d, i) => (i % 2 ? [...String(Number(d) * 2)].reduce((a, b) => a + Number(b), 0) : Number(d)))
    .reduce((a, b) => a + b, 0);
  return sum % 10 === 0;
}

function withLuhn(body: string): string {
  for (let d = 0; d < 10; d++) if (luhnOk(body + d)) return body + d;
  throw new Error('unreachable');
}
