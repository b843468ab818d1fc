/**
 * Replacement rules as data: a template stores `{ kind: 'amountInChineseCapitals' }` next to a field, and
 * `applyRule` turns the raw business value into the text printed in the contract. Rules are validated by the zod
 * schema `ReplacementRule` so a bad template is rejected when it is saved, not when a contract is generated.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { maskIdNumber } from '../privacy.js';
import { assertFen, dateInChina, parseMoneyToFen } from '../model/values.js';

const moneyUnit = z.enum(['yuan', 'fen'], { message: "unit must be 'yuan' (the default) or 'fen'." }).optional();

/** The date patterns a replacement rule can format to. */
export const DATE_PATTERNS = [
  'YYYY年MM月DD日',
  'YYYY年M月D日',
  'YYYY-MM-DD',
  'YYYY/MM/DD',
  'YYYY.MM.DD',
  'YYYYMMDD',
] as const;
/** A date pattern (see {@link DATE_PATTERNS}). */
export type DatePattern = (typeof DATE_PATTERNS)[number];

const count = (what: string) =>
  z
    .number({ message: `${what} must be a number.` })
    .int({ message: `${what} must be a whole number.` })
    .min(0, { message: `${what} must not be negative.` });

/** The zod schema of {@link ReplacementRule}. */
export const ReplacementRule = z.discriminatedUnion(
  'kind',
  [
    z.object({
      kind: z.literal('amountInChineseCapitals'),
      /** Printed before the amount; '人民币' unless set ('' for none). */
      prefix: z.string().optional(),
      unit: moneyUnit,
    }),
    z.object({
      kind: z.literal('amountWithSeparators'),
      currencySymbol: z.string().max(4, { message: 'currencySymbol is at most 4 characters, e.g. "¥".' }).optional(),
      decimals: z.union([z.literal(0), z.literal(2)], { message: 'decimals must be 0 or 2.' }),
      unit: moneyUnit,
    }),
    z.object({
      kind: z.literal('date'),
      pattern: z.enum(DATE_PATTERNS, { message: `pattern must be one of ${DATE_PATTERNS.join(', ')}.` }),
    }),
    z.object({
      kind: z.literal('mask'),
      keepStart: count('keepStart'),
      keepEnd: count('keepEnd'),
      char: z
        .string()
        .refine((c) => Array.from(c).length === 1, { message: 'char must be exactly one character, e.g. "*".' })
        .optional(),
    }),
    z.object({ kind: z.literal('idNumberMasked') }),
    z.object({ kind: z.literal('uppercase') }),
    z.object({ kind: z.literal('text') }),
  ],
  {
    message:
      'kind must be one of amountInChineseCapitals, amountWithSeparators, date, mask, idNumberMasked, uppercase, text.',
  },
);
/** A replacement rule: how a value is turned into the text drawn on the contract. */
export type ReplacementRule = z.infer<typeof ReplacementRule>;

/** Validate a rule from a template; throws `ValidationError` listing every problem with its path. */
export function parseReplacementRule(input: unknown): ReplacementRule {
  const result = ReplacementRule.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  throw new ValidationError(`Invalid replacement rule — ${problems.join('; ')}`, { details: { problems } });
}

/** A value a replacement rule accepts. */
export type RuleInput = string | number | Date;

/**
 * Apply a rule to a value. Money rules read yuan strings/numbers, or integer fen with `unit: 'fen'`. The rule is
 * checked again here (it is cheap), so a rule that never went through a template is refused, not half-applied.
 */
export function applyRule(input: ReplacementRule, value: RuleInput): string {
  const rule = parseReplacementRule(input);
  if (typeof value !== 'string' && typeof value !== 'number' && !(value instanceof Date)) {
    throw new ValidationError(`A replacement rule formats text, a number or a Date; got ${describeType(value)}.`);
  }
  switch (rule.kind) {
    case 'amountInChineseCapitals':
      return (rule.prefix ?? '人民币') + amountInChineseCapitals(toFen(value, rule.unit));
    case 'amountWithSeparators':
      return (rule.currencySymbol ?? '') + amountWithSeparators(toFen(value, rule.unit), rule.decimals);
    case 'date':
      return formatDate(value, rule.pattern);
    case 'mask':
      return maskMiddle(String(value), rule.keepStart, rule.keepEnd, rule.char ?? '*');
    case 'idNumberMasked':
      return maskIdNumber(String(value));
    case 'uppercase':
      return String(value).toUpperCase();
    case 'text':
      return value instanceof Date ? dateInChina(value) : String(value);
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function toFen(value: RuleInput, unit: 'yuan' | 'fen' | undefined): number {
  if (value instanceof Date) throw new ValidationError('An amount rule needs a number or string, not a date.');
  if (unit === 'fen') {
    const fen = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    assertFen(fen as number);
    return fen as number;
  }
  return parseMoneyToFen(value);
}

// ---------------------------------------------------------------------------------------------------------------
// 大写金额

const DIGITS = '零壹贰叁肆伍陆柒捌玖';
const SMALL_UNITS = ['', '拾', '佰', '仟'] as const;

/**
 * 18800000 fen → '壹拾捌万捌仟元整', following the People's Bank rules for 中文大写金额: one 零 for any run of zeros
 * inside the number, none at the end, 整 after 元 or 角 when there are no 分, and no 零元 for amounts under one yuan.
 */
export function amountInChineseCapitals(fen: number): string {
  assertFen(fen);
  const yuan = Math.floor(fen / 100);
  const jiao = Math.floor(fen / 10) % 10;
  const fenDigit = fen % 10;
  if (fen === 0) return '零元整';
  let out = yuan > 0 ? `${integerCapitals(yuan)}元` : '';
  if (jiao === 0 && fenDigit === 0) return `${out}整`;
  if (jiao > 0) out += `${DIGITS[jiao]}角`;
  else if (yuan > 0) out += '零';
  if (fenDigit > 0) out += `${DIGITS[fenDigit]}分`;
  else out += '整';
  return out;
}

function integerCapitals(n: number): string {
  // Four-digit groups from the right: 个, 万, 亿, 万亿.
  const groups: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 10_000)) groups.push(rest % 10_000);
  let out = '';
  let pendingZero = false;
  for (let g = groups.length - 1; g >= 0; g--) {
    const group = groups[g]!;
    if (group === 0) {
      if (out) pendingZero = true;
      continue;
    }
    for (let p = 3; p >= 0; p--) {
      const d = Math.floor(group / 10 ** p) % 10;
      if (d === 0) {
        if (out) pendingZero = true;
        continue;
      }
      if (pendingZero) out += '零';
      pendingZero = false;
      out += DIGITS[d]! + SMALL_UNITS[p];
    }
    out += groupUnit(g, groups);
    // Zeros at the end of a group are absorbed by its unit (贰拾万捌仟); only leading zeros of the next group show.
    pendingZero = false;
  }
  return out;
}

function groupUnit(g: number, groups: number[]): string {
  if (g === 1) return '万';
  if (g === 2) return '亿';
  if (g === 3) return groups[2] === 0 ? '万亿' : '万';
  return '';
}

/** The inverse of `amountInChineseCapitals` (with or without a 人民币 prefix); used to check printed amounts. */
export function parseAmountInChineseCapitals(text: string): number {
  if (typeof text !== 'string' || text.length > 64) {
    throw new ValidationError('An amount in Chinese capitals is text of at most 64 characters, e.g. 壹拾捌万捌仟元整.');
  }
  const body = text.replace(/^人民币/, '').replace(/[整正]$/, '');
  if (body.split('元').length > 2) throw new ValidationError('An amount in Chinese capitals has at most one 元.');
  const [yuanPart, fractionPart] = body.includes('元') ? (body.split('元') as [string, string]) : ['', body];
  const yuan = parseCapitalInteger(yuanPart, text);
  let jiao = 0;
  let fen = 0;
  let digit = 0;
  for (const ch of fractionPart) {
    const d = DIGITS.indexOf(ch);
    if (d >= 0) digit = d;
    else if (ch === '角') jiao = digit;
    else if (ch === '分') fen = digit;
    else throw new ValidationError(`"${ch}" cannot appear in the fraction of an amount in capitals.`);
  }
  const total = yuan * 100 + jiao * 10 + fen;
  if (!Number.isSafeInteger(total)) {
    throw new ValidationError('The amount in Chinese capitals is too large to handle exactly.');
  }
  return total;
}

function parseCapitalInteger(text: string, whole: string): number {
  let yi = 0;
  let wan = 0;
  let section = 0;
  let digit = 0;
  for (const ch of text) {
    const d = DIGITS.indexOf(ch);
    if (d >= 0) {
      digit = d;
      continue;
    }
    const small = SMALL_UNITS.indexOf(ch as (typeof SMALL_UNITS)[number]);
    if (small > 0) {
      section += digit * 10 ** small;
    } else if (ch === '万') {
      wan = (wan + section + digit) * 10_000;
      section = 0;
    } else if (ch === '亿') {
      yi = (yi + wan + section + digit) * 100_000_000;
      wan = 0;
      section = 0;
    } else {
      throw new ValidationError(`"${ch}" is not part of an amount in Chinese capitals (${whole.length} chars given).`);
    }
    digit = 0;
  }
  return yi + wan + section + digit;
}

// ---------------------------------------------------------------------------------------------------------------

/** 18800000 fen, 2 decimals → '188,000.00'. Refuses to drop fen when `decimals` is 0 rather than rounding money. */
export function amountWithSeparators(fen: number, decimals: 0 | 2): string {
  assertFen(fen);
  if (decimals !== 0 && decimals !== 2) throw new ValidationError('decimals must be 0 or 2.');
  const yuan = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  if (decimals === 2) return `${yuan}.${String(fen % 100).padStart(2, '0')}`;
  if (fen % 100 !== 0) {
    throw new ValidationError('The amount has jiao/fen but the rule prints 0 decimals: use decimals: 2.');
  }
  return yuan;
}

/** Dates are calendar dates in China: a 'YYYY-MM-DD' string is taken as is; a Date is read in UTC+8. */
export function formatDate(value: RuleInput, pattern: DatePattern): string {
  if (!(DATE_PATTERNS as readonly unknown[]).includes(pattern)) {
    throw new ValidationError(`pattern must be one of ${DATE_PATTERNS.join(', ')}.`);
  }
  const iso = value instanceof Date ? dateInChina(value) : typeof value === 'string' ? value.trim() : undefined;
  const m = iso === undefined ? null : /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) throw new ValidationError('A date rule needs a Date or a string YYYY-MM-DD.');
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  if (!isCalendarDay(Number(y), Number(mo), Number(d))) {
    throw new ValidationError(`${iso} is not a calendar date: check the month (01–12) and the day.`);
  }
  switch (pattern) {
    case 'YYYY年MM月DD日':
      return `${y}年${mo}月${d}日`;
    case 'YYYY年M月D日':
      return `${y}年${Number(mo)}月${Number(d)}日`;
    case 'YYYY-MM-DD':
      return `${y}-${mo}-${d}`;
    case 'YYYY/MM/DD':
      return `${y}/${mo}/${d}`;
    case 'YYYY.MM.DD':
      return `${y}.${mo}.${d}`;
    case 'YYYYMMDD':
      return `${y}${mo}${d}`;
  }
}

function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

/** Keep `keepStart` and `keepEnd` characters (code points), replace the rest; a short value is masked whole. */
export function maskMiddle(value: string, keepStart: number, keepEnd: number, char: string): string {
  if (typeof value !== 'string' || typeof char !== 'string' || Array.from(char).length !== 1) {
    throw new ValidationError('maskMiddle masks text with exactly one mask character, e.g. "*".');
  }
  if (![keepStart, keepEnd].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new ValidationError('keepStart and keepEnd must be whole numbers ≥ 0.');
  }
  const chars = Array.from(value);
  if (keepStart + keepEnd >= chars.length) return char.repeat(chars.length);
  return (
    chars.slice(0, keepStart).join('') +
    char.repeat(chars.length - keepStart - keepEnd) +
    chars.slice(chars.length - keepEnd).join('')
  );
}
