/**
 * What the bad-input property tests share: how many inputs to generate, a bound on every call, and the one rule every
 * answer is judged by (a result, or a `SealflowError` with a stable code and a message for a person).
 *
 * `pnpm test` runs a few hundred inputs per entry point; `pnpm reliability` sets `SEALFLOW_PROPERTY_RUNS` to run
 * ten thousand. The count each test really ran is kept in its task meta, so the reliability report shows generated
 * inputs, not intended ones.
 */
import { isSealflowError } from '../packages/core/src/index.js';

declare module 'vitest' {
  interface TaskMeta {
    /** Inputs a property generated and checked, summed over its properties. */
    generatedInputs?: number;
    /** What a corpus file came to (inspected, or refused with which code and reason), for the report. */
    outcome?: string;
  }
}

/** Runs per property: `SEALFLOW_PROPERTY_RUNS` when set (the reliability run), else `fallback`. */
export function propertyRuns(fallback = 200): number {
  const value = Number(process.env.SEALFLOW_PROPERTY_RUNS);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

/** Adds `count` checked inputs to the test's figure for the reliability report. */
export function countInputs(task: { meta: { generatedInputs?: number } }, count: number): void {
  task.meta.generatedInputs = (task.meta.generatedInputs ?? 0) + count;
}

/** Longest one call may take before it counts as a hang; generous because CI shares two cores. */
export const CALL_BOUND_MS = 10_000;

export class HangError extends Error {}

/** `call`'s outcome, or a `HangError` when it has not settled within `ms`. */
export async function bounded<T>(what: string, call: () => Promise<T> | T, ms = CALL_BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve().then(call), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const STABLE_CODE = /^[A-Z][A-Z0-9_]*$/;

/**
 * Rethrows anything but a typed refusal: a `SealflowError` whose code is an upper-case constant and whose message is
 * a sentence. A raw TypeError, a hang or an error without a code is what the property looks for.
 */
export function assertTypedError(error: unknown, what: string): void {
  if (error instanceof HangError) throw error;
  if (!isSealflowError(error)) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`${what} threw an untyped error (${detail})`, { cause: error });
  }
  if (!STABLE_CODE.test(error.code)) throw new Error(`${what} threw a SealflowError with code "${error.code}"`);
  if (error.message.trim().length < 10) throw new Error(`${what} threw ${error.code} without a usable message`);
}

/** Runs `call` bounded; returns its result, or `undefined` after a typed refusal; anything else fails. */
export async function answerOrTypedError<T>(what: string, call: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await bounded(what, call);
  } catch (error) {
    assertTypedError(error, what);
    return undefined;
  }
}
