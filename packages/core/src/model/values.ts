/**
 * Chinese-domain value checks: resident ID numbers, unified social credit codes, mainland mobiles, money in fen and
 * bank card numbers. Each kind comes as a `…Problem()` function (a masked, human-readable reason or `undefined`), an
 * `assert…()` that throws `ValidationError`, and a zod schema built on the same check, so the rules live in one place.
 *
 * Nothing here reads the clock: checks that depend on "today" take it as an argument.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { maskIdNumber, maskMobile } from '../privacy.js';

// ---------------------------------------------------------------------------------------------------------------
// Resident ID number (公民身份号码), GB 11643-1999

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK_CHARS = '10X98765432';

/** Province-level codes (GB/T 2260 first two digits), including Taiwan, Hong Kong and Macao. */
export const PROVINCE_NAMES: Readonly<Record<string, string>> = {
  '11': '北京市',
  '12': '天津市',
  '13': '河北省',
  '14': '山西省',
  '15': '内蒙古自治区',
  '21': '辽宁省',
  '22': '吉林省',
  '23': '黑龙江省',
  '31': '上海市',
  '32': '江苏省',
  '33': '浙江省',
  '34': '安徽省',
  '35': '福建省',
  '36': '江西省',
  '37': '山东省',
  '41': '河南省',
  '42': '湖北省',
  '43': '湖南省',
  '44': '广东省',
  '45': '广西壮族自治区',
  '46': '海南省',
  '50': '重庆市',
  '51': '四川省',
  '52': '贵州省',
  '53': '云南省',
  '54': '西藏自治区',
  '61': '陕西省',
  '62': '甘肃省',
  '63': '青海省',
  '64': '宁夏回族自治区',
  '65': '新疆维吾尔自治区',
  '71': '台湾省',
  '81': '香港特别行政区',
  '82': '澳门特别行政区',
  '83': '台湾省',
};

/** The check character for the first 17 digits of an ID number. */
export function idNumberCheckChar(first17: string): string {
  if (typeof first17 !== 'string' || !/^\d{17}$/.test(first17)) {
    throw new ValidationError('The check character needs exactly 17 digits: pass the ID number without its last char.');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK_CHARS[sum % 11]!;
}

/** The first 17 digits completed with their check character: valid test and demo ID numbers. */
export function withIdNumberCheckChar(first17: string): string {
  return first17 + idNumberCheckChar(first17);
}

/** Options of the resident ID number checks. */
export interface IdNumberOptions {
  /** 'YYYY-MM-DD'. When given, a birth date after it is rejected. */
  today?: string;
}

/** Why `value` is not a valid 18-character resident ID number, or `undefined` when it is. The reason is masked. */
export function idNumberProblem(value: string, options: IdNumberOptions = {}): string | undefined {
  const shown = maskIdNumber(value);
  if (typeof value !== 'string' || !/^\d{17}[\dXx]$/.test(value)) {
    return `ID number ${shown} must be 18 characters: 17 digits and a final digit or X.`;
  }
  if (!Object.hasOwn(PROVINCE_NAMES, value.slice(0, 2))) {
    return `ID number ${shown} starts with ${value.slice(0, 2)}, which is no province code (GB/T 2260): check the first two digits against the card.`;
  }
  const birth = value.slice(6, 14);
  if (!isCalendarDate(birth) || Number(birth.slice(0, 4)) < 1900) {
    return `ID number ${shown} has an impossible birth date in digits 7–14; check them against the card.`;
  }
  if (options.today !== undefined && typeof options.today !== 'string') {
    throw new ValidationError('idNumber options.today must be a date string YYYY-MM-DD.');
  }
  if (options.today !== undefined && toIsoDate(birth) > options.today) {
    return `ID number ${shown} has a birth date after ${options.today}; check digits 7–14.`;
  }
  const expected = idNumberCheckChar(value.slice(0, 17));
  if (value[17]!.toUpperCase() !== expected) {
    return `ID number ${shown} fails the GB 11643 check digit: a digit is probably mistyped; re-enter it from the card.`;
  }
  return undefined;
}

/** True if `value` is a valid 18-character resident ID number (GB 11643: region, birth date, check character). */
export function isIdNumber(value: string, options?: IdNumberOptions): boolean {
  return idNumberProblem(value, options) === undefined;
}

/** Throw a `ValidationError` (`INVALID_ID_NUMBER`) unless `value` is a valid resident ID number. */
export function assertIdNumber(value: string, options?: IdNumberOptions): void {
  const problem = idNumberProblem(value, options);
  if (problem !== undefined) throw new ValidationError(problem, { details: { kind: 'idNumber' } });
}

/** What a resident ID number says about its holder. */
export interface ParsedIdNumber {
  /** 'YYYY-MM-DD' */
  birthDate: string;
  sex: 'male' | 'female';
  /** The address code (GB/T 2260); `province` is undefined for codes outside the current province list. */
  region: { code: string; provinceCode: string; province: string | undefined };
}

/** Validate and take apart an ID number. The 17th digit is odd for men and even for women. */
export function parseIdNumber(value: string, options?: IdNumberOptions): ParsedIdNumber {
  assertIdNumber(value, options);
  const provinceCode = value.slice(0, 2);
  return {
    birthDate: toIsoDate(value.slice(6, 14)),
    sex: Number(value[16]) % 2 === 1 ? 'male' : 'female',
    region: {
      code: value.slice(0, 6),
      provinceCode,
      province: Object.hasOwn(PROVINCE_NAMES, provinceCode) ? PROVINCE_NAMES[provinceCode] : undefined,
    },
  };
}

/** Full years of age on `date` ('YYYY-MM-DD' or a Date, read in UTC+8). Someone born on 29 Feb ages on 1 Mar. */
export function ageOn(idNumber: string, date: string | Date): number {
  const { birthDate } = parseIdNumber(idNumber);
  if (typeof date !== 'string' && !(date instanceof Date)) {
    throw new ValidationError('ageOn needs a date as YYYY-MM-DD or a Date.');
  }
  const on = typeof date === 'string' ? date : dateInChina(date);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(on) || !isCalendarDate(on.replaceAll('-', ''))) {
    throw new ValidationError(`ageOn needs a date as YYYY-MM-DD or a Date; got "${on}".`);
  }
  if (on < birthDate) throw new ValidationError(`ageOn: ${on} is before the birth date in the ID number.`);
  const years = Number(on.slice(0, 4)) - Number(birthDate.slice(0, 4));
  return on.slice(5) >= birthDate.slice(5) ? years : years - 1;
}

/** A zod schema for a resident ID number; invalid numbers fail with the reason, never echoing the number. */
export const idNumberSchema = z.string().superRefine((value, ctx) => {
  const problem = idNumberProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

// ---------------------------------------------------------------------------------------------------------------
// Unified social credit code (统一社会信用代码), GB 32100-2015

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;

/** The check character for the first 17 characters of a credit code. */
export function creditCodeCheckChar(first17: string): string {
  if (typeof first17 !== 'string' || first17.length !== 17) {
    throw new ValidationError(
      'The check character needs exactly 17 characters: pass the credit code without its last.',
    );
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_CHARS.indexOf(first17[i]!);
    if (v < 0) throw new ValidationError('A credit code uses only digits and the letters A–Y without I, O, S, V, Z.');
    sum += v * USCC_WEIGHTS[i]!;
  }
  return USCC_CHARS[(31 - (sum % 31)) % 31]!;
}

/** The first 17 characters of a unified social credit code completed with their check character. */
export function withCreditCodeCheckChar(first17: string): string {
  return first17 + creditCodeCheckChar(first17);
}

function maskCode(value: string): string {
  return value.length <= 8
    ? '*'.repeat(value.length)
    : value.slice(0, 6) + '*'.repeat(value.length - 8) + value.slice(-2);
}

/** Why `value` is not a unified social credit code (GB 32100), or `undefined` if it is one. */
export function creditCodeProblem(value: string): string | undefined {
  if (typeof value !== 'string') return 'A credit code must be text of 18 characters.';
  const shown = maskCode(value);
  if (value.length !== 18) {
    return `Credit code ${shown} must be exactly 18 characters (it has ${value.length}).`;
  }
  if (![...value].every((c) => USCC_CHARS.includes(c))) {
    return `Credit code ${shown} may contain only digits and capital letters A–Y except I, O, S, V and Z.`;
  }
  if (creditCodeCheckChar(value.slice(0, 17)) !== value[17]) {
    return `Credit code ${shown} fails the GB 32100 check character: re-enter it from the business licence.`;
  }
  return undefined;
}

/** True if `value` is a valid unified social credit code (GB 32100). */
export function isCreditCode(value: string): boolean {
  return creditCodeProblem(value) === undefined;
}

/** Throw a `ValidationError` unless `value` is a valid unified social credit code. */
export function assertCreditCode(value: string): void {
  const problem = creditCodeProblem(value);
  if (problem !== undefined) throw new ValidationError(problem, { details: { kind: 'creditCode' } });
}

/** A zod schema for a unified social credit code. */
export const creditCodeSchema = z.string().superRefine((value, ctx) => {
  const problem = creditCodeProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

// ---------------------------------------------------------------------------------------------------------------
// Mainland mobile number

/** Why `value` is not a mainland China mobile number, or `undefined` if it is one. */
export function mobileProblem(value: string): string | undefined {
  if (typeof value === 'string' && /^1[3-9]\d{9}$/.test(value)) return undefined;
  return `Mobile number ${maskMobile(value)} must be 11 digits starting 13–19, without spaces or +86.`;
}

/** True if `value` is a mainland China mobile number (11 digits starting 13 to 19). */
export function isMobile(value: string): boolean {
  return mobileProblem(value) === undefined;
}

/** Throw a `ValidationError` unless `value` is a mainland China mobile number. */
export function assertMobile(value: string): void {
  const problem = mobileProblem(value);
  if (problem !== undefined) throw new ValidationError(problem, { details: { kind: 'mobile' } });
}

/** A zod schema for a mainland China mobile number. */
export const mobileSchema = z.string().superRefine((value, ctx) => {
  const problem = mobileProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

// ---------------------------------------------------------------------------------------------------------------
// Money as integer fen (分)

const YUAN_TEXT = /^(0|[1-9]\d*|[1-9]\d{0,2}(?:,\d{3})+)(?:\.(\d{1,2}))?$/;

/** Why `value` (yuan, as '188000.00', '188,000.00' or a number) is not an exact amount, or `undefined`. */
export function moneyProblem(value: string | number): string | undefined {
  const parsed = parseMoney(value);
  return typeof parsed === 'string' ? parsed : undefined;
}

function parseMoney(value: string | number): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'An amount must be a finite number of yuan.';
    if (value < 0) return 'An amount must not be negative.';
    // String(0.1 + 0.2) is '0.30000000000000004': a float artefact shows up as too many decimals, never silently rounded.
    const text = String(value);
    if (/e/i.test(text)) return 'An amount this large or small cannot be read exactly: pass it as a string of yuan.';
    return parseMoney(text);
  }
  if (typeof value !== 'string') return 'An amount must be a string like "188000.00" or a number of yuan.';
  const trimmed = value.trim();
  if (trimmed.startsWith('-')) return 'An amount must not be negative.';
  const decimals = /\.(\d+)$/.exec(trimmed)?.[1];
  if (decimals !== undefined && decimals.length > 2) {
    return `An amount has at most 2 decimals (fen); got ${decimals.length}. Round it explicitly before passing it in.`;
  }
  const match = YUAN_TEXT.exec(trimmed);
  if (!match)
    return 'An amount must look like 188000.00 or 188,000.00 (digits, optional thousands commas, ≤ 2 decimals).';
  const yuan = match[1]!.replaceAll(',', '');
  const fen = BigInt(yuan) * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
  if (fen > BigInt(Number.MAX_SAFE_INTEGER)) return 'An amount is too large to handle exactly.';
  return Number(fen);
}

/** Yuan ('188000.00', '188,000.00', 188000, 0.3) to integer fen, exactly; throws `ValidationError` otherwise. */
export function parseMoneyToFen(value: string | number): number {
  const parsed = parseMoney(value);
  if (typeof parsed === 'string') throw new ValidationError(parsed, { details: { kind: 'money' } });
  return parsed;
}

/** Integer fen back to '188000.00'. */
export function formatFen(fen: number): string {
  assertFen(fen);
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** Throw a `ValidationError` unless `fen` is a safe, non-negative integer amount in fen (0.01 yuan). */
export function assertFen(fen: number): void {
  if (!Number.isSafeInteger(fen) || fen < 0) {
    throw new ValidationError('An amount in fen must be a non-negative whole number (no floats, no negatives).', {
      details: { kind: 'money' },
    });
  }
}

/** An amount already in fen. */
export const fenSchema = z
  .number()
  .int({ message: 'An amount in fen must be a whole number.' })
  .nonnegative({ message: 'An amount must not be negative.' })
  .max(Number.MAX_SAFE_INTEGER, { message: 'An amount is too large to handle exactly.' });

/** Yuan as a string or number, parsed to fen. */
export const moneySchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseMoney(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

// ---------------------------------------------------------------------------------------------------------------
// Bank card number (Luhn)

/** True if the digits pass the Luhn check used by bank card numbers. */
export function luhnValid(digits: string): boolean {
  if (typeof digits !== 'string' || !/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function maskCard(digits: string): string {
  return digits.length <= 8
    ? '*'.repeat(digits.length)
    : digits.slice(0, 4) + '*'.repeat(digits.length - 8) + digits.slice(-4);
}

/** Card numbers may be written in groups ('6222 0212 …'); spaces are ignored. */
export function bankCardProblem(value: string): string | undefined {
  if (typeof value !== 'string') return 'A bank card number must be text of 12–19 digits.';
  const digits = value.replace(/ /g, '');
  const shown = maskCard(digits);
  if (!/^\d{12,19}$/.test(digits)) return `Bank card number ${shown} must be 12–19 digits (spaces allowed).`;
  if (!luhnValid(digits)) return `Bank card number ${shown} fails the Luhn check: a digit is probably mistyped.`;
  return undefined;
}

/** True if `value` is a plausible bank card number (12 to 19 digits, spaces allowed, passing the Luhn check). */
export function isBankCard(value: string): boolean {
  return bankCardProblem(value) === undefined;
}

/** Throw a `ValidationError` unless `value` is a plausible bank card number. */
export function assertBankCard(value: string): void {
  const problem = bankCardProblem(value);
  if (problem !== undefined) throw new ValidationError(problem, { details: { kind: 'bankCard' } });
}

/** A zod schema for a bank card number. */
export const bankCardSchema = z.string().superRefine((value, ctx) => {
  const problem = bankCardProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

// ---------------------------------------------------------------------------------------------------------------
// Dates

/** 'YYYYMMDD' names a real calendar day. */
function isCalendarDate(yyyymmdd: string): boolean {
  if (!/^\d{8}$/.test(yyyymmdd)) return false;
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

function toIsoDate(yyyymmdd: string): string {
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
}

/** The calendar date of an instant in China (UTC+8, no daylight saving), as 'YYYY-MM-DD'. */
export function dateInChina(date: Date): string {
  if (!(date instanceof Date)) throw new ValidationError('A date must be a Date (read in China time, UTC+8).');
  if (Number.isNaN(date.getTime())) throw new ValidationError('The date is invalid (Invalid Date).');
  const shifted = new Date(date.getTime() + 8 * 3_600_000);
  const year = shifted.getUTCFullYear();
  // Beyond year 9999 (or before year 0) there is no YYYY-MM-DD to give, and toISOString would throw.
  if (Number.isNaN(year) || year < 0 || year > 9999) {
    throw new ValidationError('The date is outside the years 0000–9999; pass a real calendar date.');
  }
  return shifted.toISOString().slice(0, 10);
}
