/**
 * One error hierarchy for everything sealflow throws.
 *
 * Every error carries a stable `code` (hosts branch on it; it never changes between releases), a message written
 * for the person who has to fix the problem, an optional `cause`, and `retryable`, which tells the runtime and the
 * host whether trying the same thing again later can succeed. Messages never contain unmasked personal data:
 * build them with the helpers in `privacy.ts`.
 */

export type SealflowErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'DUPLICATE'
  | 'VERSION_CONFLICT'
  | 'FORBIDDEN'
  | 'UNKNOWN_EVENT'
  | 'EVENT_NOT_ACCEPTED'
  | 'WORKFLOW_FINISHED'
  | 'UNKNOWN_WORKFLOW_TYPE'
  | 'CORRUPT_SNAPSHOT'
  | 'MIGRATION_MISSING'
  | 'PERSISTENCE_FAILURE'
  | 'ADAPTER_FAILURE'
  | 'EFFECT_FAILED'
  | 'EFFECT_TIMEOUT'
  | 'VENDOR_TIMEOUT'
  | (string & {});

/** What every sealflow error may carry besides its code and message. */
export interface SealflowErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Structured, already-masked facts for logs and callers (field paths, ids, limits). */
  details?: Record<string, unknown>;
}

/**
 * The one base class of sealflow errors: a stable machine-readable `code`, whether retrying can help (`retryable`),
 * masked `details`, and the underlying `cause`. Messages tell a person what to do and never carry unmasked personal data.
 */
export class SealflowError extends Error {
  readonly code: SealflowErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: SealflowErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  toJSON(): { name: string; code: string; message: string; retryable: boolean; details?: Record<string, unknown> } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      details: this.details,
    };
  }
}

/** Input that breaks a rule: the message names the field path and what a valid value looks like. */
export class ValidationError extends SealflowError {
  constructor(message: string, options: SealflowErrorOptions = {}) {
    super('INVALID_INPUT', message, options);
  }
}

/** A workflow, record, document or other entity that was asked for does not exist (`NOT_FOUND`). */
export class NotFoundError extends SealflowError {
  constructor(message: string, options: SealflowErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/** Someone else changed or created the same thing first. Reload and decide again. */
export class ConflictError extends SealflowError {
  constructor(code: 'DUPLICATE' | 'VERSION_CONFLICT', message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The actor lacks a role the command needs; `details.missingRole` names it. */
export class PermissionError extends SealflowError {
  constructor(message: string, options: SealflowErrorOptions = {}) {
    super('FORBIDDEN', message, options);
  }
}

/** An event that the workflow cannot take: unknown to its machine, not accepted now, or sent after it finished. */
export class IllegalTransitionError extends SealflowError {
  constructor(
    code: 'UNKNOWN_EVENT' | 'EVENT_NOT_ACCEPTED' | 'WORKFLOW_FINISHED' | 'UNKNOWN_WORKFLOW_TYPE',
    message: string,
    options: SealflowErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** A stored snapshot that cannot be restored: damaged, or written by a machine version with no migration. */
export class SnapshotError extends SealflowError {
  constructor(code: 'CORRUPT_SNAPSHOT' | 'MIGRATION_MISSING', message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A port implementation (database, vendor, store) failed in a way core did not anticipate. */
export class AdapterError extends SealflowError {
  constructor(message: string, options: SealflowErrorOptions = {}) {
    super('ADAPTER_FAILURE', message, { retryable: true, ...options });
  }
}

/**
 * Work that did not finish in the time it was given: an effect (`EFFECT_TIMEOUT`) or one vendor call
 * (`VENDOR_TIMEOUT`). Always retryable: the work may well have happened, so it is tried again with the same
 * idempotency key, which makes a repeat harmless. `details.timeoutMs` says what the limit was.
 */
export class TimeoutError extends SealflowError {
  constructor(code: 'EFFECT_TIMEOUT' | 'VENDOR_TIMEOUT', message: string, options: SealflowErrorOptions = {}) {
    super(code, message, { ...options, retryable: true });
  }
}

/** True if `value` is a {@link SealflowError} (of any subclass). */
export function isSealflowError(value: unknown): value is SealflowError {
  return value instanceof SealflowError;
}

/** Wrap anything thrown by an adapter so callers always see a `SealflowError`; known errors pass through. */
export function toSealflowError(error: unknown, context: string): SealflowError {
  if (error instanceof SealflowError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AdapterError(`${context}: ${message}`, { cause: error });
}
