import { expect } from 'vitest';
import { SealflowError } from '../src/index.js';

/** Expect `promise` to fail with a SealflowError of `code`; returns the error for further checks. */
export async function expectError(promise: Promise<unknown>, code: string): Promise<SealflowError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected an error with code ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error, `expected an error with code ${code}`).toBeInstanceOf(SealflowError);
  expect((error as SealflowError).code).toBe(code);
  return error as SealflowError;
}
