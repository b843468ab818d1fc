import { ValidationError } from '@sealflow/core';
import type { z } from 'zod';

/**
 * Parse `value` with `schema`, or throw one `ValidationError` naming every bad field path. zod's issue messages never
 * quote the input, so personal data in a bad row does not reach the message.
 */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const paths = result.error.issues.map((i) => [what, ...i.path.map(String)].join('.'));
  const problems = result.error.issues.map((i, n) => `${paths[n]}: ${i.message}`);
  throw new ValidationError(`Invalid ${what}: ${problems.join('; ')}`, { details: { paths } });
}

/** Compare strings by code point: the same order on every machine and locale, unlike `localeCompare`. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Add amounts in fen, refusing a total too large to be exact rather than returning a rounded one. */
export function addFen(total: number, fen: number, what: string): number {
  const sum = total + fen;
  if (!Number.isSafeInteger(sum)) {
    throw new ValidationError(
      `The total ${what} is too large to add up exactly in fen: split the report into smaller periods.`,
      {
        details: { kind: 'money' },
      },
    );
  }
  return sum;
}
