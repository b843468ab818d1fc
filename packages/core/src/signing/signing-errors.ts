/** The signing service's own refusals; every other error comes from the layer that found the problem. */
import { SealflowError } from '../errors.js';
import type { SigningFailure } from './records.js';

/** A signing request that validation refused: `code` is the cause's (TEMPLATE_CHECK_FAILED, …); the record is kept. */
export class SigningRefusedError extends SealflowError {
  readonly recordId: string;

  constructor(recordId: string, failure: SigningFailure, cause?: SealflowError) {
    super(failure.code, `Signing ${recordId} was refused: ${failure.message}`, {
      ...(cause ? { cause } : {}),
      details: { ...cause?.details, recordId },
    });
    this.recordId = recordId;
  }
}

/** A funder acting on a loan that is not assigned to it. */
export class FunderNotAssignedError extends SealflowError {
  constructor(recordId: string, funderId: string) {
    super(
      'FUNDER_NOT_ASSIGNED',
      `Signing ${recordId} is not assigned to funder ${funderId}; a funder signs only its own loans.`,
      {
        details: { recordId, funderId },
      },
    );
  }
}
