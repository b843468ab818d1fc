import { expect } from 'vitest';
import { SealflowError } from '../src/index.js';

/**
 * Expect `promise` to fail with a SealflowError of `code` (and, given `message`, a message matching it); returns the
 * error for further checks.
 */
export async function expectError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<SealflowError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected an error with code ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error, `expected an error with code ${code}`).toBeInstanceOf(SealflowError);
  expect((error as SealflowError).code).toBe(code);
  if (message) expect((error as SealflowError).message).toMatch(message);
  return error as SealflowError;
}
