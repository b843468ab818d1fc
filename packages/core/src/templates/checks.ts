/**
 * Values for a template: taking them from a signing request, checking each against its variable's type, and running
 * the template's business checks (业务校验) before anything is signed.
 *
 * Values are personal data. Problems name the variable and what is wrong, and show a value only masked (the value
 * checks in `model/values.ts` mask their own messages); a check's failure shows the message operations wrote for it.
 */
import { SealflowError, ValidationError } from '../errors.js';
import {
  ageOn,
  bankCardProblem,
  creditCodeProblem,
  dateInChina,
  idNumberProblem,
  mobileProblem,
  moneyProblem,
  parseMoneyToFen,
} from '../model/values.js';
import { z } from 'zod';
import {
  type DateReference,
  MAX_VALUE_LENGTH,
  TemplateCheck,
  type TemplateDefinition,
  TemplateVariable,
} from './model.js';
import { ownValue } from '../own-property.js';
import { matchesPattern } from './patterns.js';

/** Values keyed by variable key. Amounts are strings of yuan ('188000.00'); dates 'YYYY-MM-DD' or `Date`. */
export type TemplateValues = Readonly<Record<string, unknown>>;

function requireValues(values: unknown, entryPoint: string): asserts values is TemplateValues {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new ValidationError(
      `${entryPoint} needs the values as an object keyed by variable key, e.g. { loanAmount: '188000.00' }.`,
      {
        details: { path: 'values' },
      },
    );
  }
}

/** The part of a definition an entry point reads, checked again: these functions are public and take plain objects. */
function checkedPart<T>(schema: z.ZodType<T>, input: unknown, what: string, entryPoint: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 5)
    .map((i) => `${[what, ...i.path].join('.')}: ${i.message}`)
    .join('; ');
  throw new ValidationError(`${entryPoint} needs a template definition that passes validateDefinition — ${problems}`, {
    details: { path: what },
  });
}

const VariableList = z.array(TemplateVariable);
const CheckList = z.array(TemplateCheck);
const definitionPart = (definition: unknown, key: 'variables' | 'checks') =>
  definition !== null && typeof definition === 'object' ? (definition as Record<string, unknown>)[key] : undefined;

// ---------------------------------------------------------------------------------------------------------------
// Taking values from a signing request

/**
 * Pick each variable's value from `request` by its `source` path (`borrower.name`); variables without one are skipped.
 */
export function resolveValues(
  definition: Pick<TemplateDefinition, 'variables'>,
  request: unknown,
): Record<string, unknown> {
  const variables = checkedPart(VariableList, definitionPart(definition, 'variables'), 'variables', 'resolveValues');
  const values: Record<string, unknown> = {};
  for (const variable of variables) {
    if (variable.source === undefined) continue;
    let node: unknown = request;
    for (const part of variable.source.split('.')) node = ownValue(node, part);
    if (node !== undefined) values[variable.key] = node;
  }
  return values;
}

// ---------------------------------------------------------------------------------------------------------------
// Type checks

/** One value that does not fit its variable: which variable and why. */
export interface ValueProblem {
  variable: string;
  /** Already masked. */
  message: string;
}

/** Values that do not fit their variables; `details.problems` names each variable. */
export class TemplateValueError extends ValidationError {
  override readonly code = 'TEMPLATE_VALUE_INVALID' as const;
  readonly problems: readonly ValueProblem[];

  constructor(problems: readonly ValueProblem[]) {
    super(`Template values are invalid — ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`, {
      details: { variable: problems[0]?.variable, problems },
    });
    this.problems = problems;
  }
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** Every value that is missing while required, or does not fit its variable's type and validation. */
export function valueProblems(
  definition: Pick<TemplateDefinition, 'variables'>,
  values: TemplateValues,
): ValueProblem[] {
  const variables = checkedPart(VariableList, definitionPart(definition, 'variables'), 'variables', 'validateValues');
  requireValues(values, 'validateValues');
  const problems: ValueProblem[] = [];
  for (const variable of variables) {
    const value = ownValue(values, variable.key);
    if (isAbsent(value)) {
      if (variable.required) problems.push({ variable: variable.key, message: `${variable.label} is required.` });
      continue;
    }
    const problem = typeProblem(variable, value);
    if (problem !== undefined) problems.push({ variable: variable.key, message: `${variable.label}: ${problem}` });
  }
  return problems;
}

/** Throw {@link TemplateValueError} unless every value fits its variable. */
export function validateValues(definition: Pick<TemplateDefinition, 'variables'>, values: TemplateValues): void {
  const problems = valueProblems(definition, values);
  if (problems.length > 0) throw new TemplateValueError(problems);
}

/** Length in code points, without spelling out a string far beyond the cap. */
function textLength(text: string): number {
  return text.length > MAX_VALUE_LENGTH * 2 ? text.length : Array.from(text).length;
}

function typeProblem(variable: TemplateVariable, value: unknown): string | undefined {
  const rules = variable.validation ?? {};
  const text = typeof value === 'string' ? value : undefined;
  if (text !== undefined && textLength(text) > MAX_VALUE_LENGTH) {
    return `is ${textLength(text)} characters long; no value may exceed ${MAX_VALUE_LENGTH}.`;
  }
  switch (variable.type) {
    case 'text':
    case 'enum': {
      if (text === undefined) return 'must be text.';
      if (rules.maxLength !== undefined && textLength(text) > rules.maxLength) {
        return `is ${textLength(text)} characters long; at most ${rules.maxLength} fit.`;
      }
      if (rules.pattern !== undefined && !matchesPattern(rules.pattern, text)) {
        return 'does not have the required format.';
      }
      if (rules.enumValues !== undefined && !rules.enumValues.includes(text)) {
        return `must be one of ${rules.enumValues.join(', ')}.`;
      }
      return undefined;
    }
    case 'date':
      return dateProblem(value);
    case 'amount':
      return amountProblem(variable, value);
    case 'integer': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return 'must be a whole number.';
      if (rules.min !== undefined && n < rules.min) return `must be at least ${rules.min}.`;
      if (rules.max !== undefined && n > rules.max) return `must be at most ${rules.max}.`;
      return undefined;
    }
    case 'idNumber':
      return text === undefined ? 'must be text.' : idNumberProblem(text);
    case 'mobile':
      return text === undefined ? 'must be text.' : mobileProblem(text);
    case 'creditCode':
      return text === undefined ? 'must be text.' : creditCodeProblem(text);
    case 'bankCard':
      return text === undefined ? 'must be text.' : bankCardProblem(text);
  }
}

/**
 * Amounts travel as strings of yuan with at most two decimals; a JavaScript number is refused because it may already
 * carry a float error (0.1 + 0.2). A variable whose rule reads fen (`unit: 'fen'`) takes whole fen instead.
 */
function amountProblem(variable: TemplateVariable, value: unknown): string | undefined {
  const rule = variable.rule;
  const inFen = rule !== undefined && 'unit' in rule && rule.unit === 'fen';
  let fen: number;
  if (inFen) {
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      return 'must be a whole, non-negative number of fen.';
    fen = n;
  } else {
    if (typeof value !== 'string') {
      return 'pass the amount as a string of yuan such as "188000.00"; numbers can carry float errors.';
    }
    const problem = moneyProblem(value);
    if (problem !== undefined) return problem;
    fen = parseMoneyToFen(value);
  }
  const { min, max } = variable.validation ?? {};
  if (min !== undefined && fen < Math.round(min * 100)) return `must be at least ${min} yuan.`;
  if (max !== undefined && fen > Math.round(max * 100)) return `must be at most ${max} yuan.`;
  return undefined;
}

function dateProblem(value: unknown): string | undefined {
  return toIsoDate(value) === undefined ? 'must be a date as YYYY-MM-DD.' : undefined;
}

/** 'YYYY-MM-DD' (a real calendar day) or a Date read in China time; anything else is undefined. */
function toIsoDate(value: unknown): string | undefined {
  if (value instanceof Date) {
    try {
      return dateInChina(value);
    } catch {
      return undefined; // Invalid Date, or a year no calendar date can show
    }
  }
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const probe = new Date(Date.UTC(y, m - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === m - 1 && probe.getUTCDate() === d ? value : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Business checks

/** One business check a set of values failed: which check, on which variable, and why. */
export interface CheckFailure {
  /** Position of the check in `definition.checks`. */
  index: number;
  kind: TemplateCheck['kind'];
  variable: string;
  /** The message configured for the check. */
  message: string;
}

/** Options of {@link evaluateChecks}. */
export interface EvaluateChecksOptions {
  /** Epoch ms of the signing; "today" and ages are taken on this day in China (UTC+8). */
  now: number;
}

/** Business checks that did not pass; `details.failures` lists them with their own messages. */
export class TemplateCheckError extends SealflowError {
  readonly failures: readonly CheckFailure[];

  constructor(failures: readonly CheckFailure[]) {
    super('TEMPLATE_CHECK_FAILED', `Business checks failed: ${failures.map((f) => f.message).join('; ')}`, {
      details: { failures },
    });
    this.failures = failures;
  }
}

/**
 * Run every check of the definition. A check that cannot be evaluated (its value is missing or unreadable) fails
 * with its own message: a business check guards signing, so "could not tell" is not "passed".
 */
export function evaluateChecks(
  definition: Pick<TemplateDefinition, 'checks'>,
  values: TemplateValues,
  options: EvaluateChecksOptions,
): CheckFailure[] {
  const checks = checkedPart(CheckList, definitionPart(definition, 'checks'), 'checks', 'evaluateChecks');
  requireValues(values, 'evaluateChecks');
  if (typeof options?.now !== 'number') throw new ValidationError('evaluateChecks needs options.now in epoch ms.');
  const today = dateInChina(new Date(options.now));
  const failures: CheckFailure[] = [];
  checks.forEach((check, index) => {
    if (!checkPasses(check, values, today)) {
      failures.push({ index, kind: check.kind, variable: check.variable, message: check.message });
    }
  });
  return failures;
}

/** Throw {@link TemplateCheckError} unless every business check passes. */
export function assertChecksPass(
  definition: Pick<TemplateDefinition, 'checks'>,
  values: TemplateValues,
  options: EvaluateChecksOptions,
): void {
  const failures = evaluateChecks(definition, values, options);
  if (failures.length > 0) throw new TemplateCheckError(failures);
}

function checkPasses(check: TemplateCheck, values: TemplateValues, today: string): boolean {
  const value = ownValue(values, check.variable);
  switch (check.kind) {
    case 'required':
      return !isAbsent(value);
    case 'pattern':
      return typeof value === 'string' && textLength(value) <= MAX_VALUE_LENGTH && matchesPattern(check.pattern, value);
    case 'ageBetween': {
      if (typeof value !== 'string' || idNumberProblem(value, { today }) !== undefined) return false;
      const age = ageOn(value, today);
      return age >= check.min && age <= check.max;
    }
    case 'amountWithin': {
      const amount = fenOf(value);
      const ceiling = check.maxVariable !== undefined ? fenOf(ownValue(values, check.maxVariable)) : fenOf(check.max);
      return amount !== undefined && ceiling !== undefined && amount <= ceiling;
    }
    case 'dateNotBefore':
    case 'dateNotAfter': {
      const date = toIsoDate(value);
      const bound = referenceDate(check.than, values, today);
      if (date === undefined || bound === undefined) return false;
      return check.kind === 'dateNotBefore' ? date >= bound : date <= bound;
    }
    case 'equals': {
      if (isAbsent(value)) return false;
      const other = check.otherVariable !== undefined ? ownValue(values, check.otherVariable) : check.value;
      const [a, b] = [comparable(value), comparable(other)];
      return a !== undefined && b !== undefined && !isAbsent(a) && a === b;
    }
  }
}

/** Text, numbers and booleans compare by their text; other values (objects, dates) never equal anything. */
function comparable(value: unknown): string | undefined {
  const kind = typeof value;
  return kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'bigint' ? String(value) : undefined;
}

function fenOf(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return moneyProblem(value) === undefined ? parseMoneyToFen(value) : undefined;
}

function referenceDate(reference: DateReference, values: TemplateValues, today: string): string | undefined {
  if (reference === 'today') return today;
  if ('date' in reference) return toIsoDate(reference.date);
  return toIsoDate(ownValue(values, reference.variable));
}
