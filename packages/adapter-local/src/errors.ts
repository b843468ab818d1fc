import { SealflowError, type SealflowErrorOptions } from '@sealflow/core';
import { PdfSyntaxError } from '@sealflow/pdf-toolkit';

/**
 * Stable codes for everything the local sealer refuses. Hosts branch on them, so they never change.
 * - CERTIFICATE_PASSWORD: the PKCS#12 password is wrong (the MAC or the key decryption failed).
 * - CERTIFICATE_KEY_MISMATCH: the private key does not belong to the certificate.
 * - CERTIFICATE_EXPIRED / CERTIFICATE_NOT_YET_VALID: outside the validity period (only when the caller asked to reject).
 * - CERTIFICATE_INVALID: the key material could not be parsed at all.
 * - PDF_MALFORMED: the PDF's cross-reference data or objects could not be read.
 * - PDF_UNSUPPORTED: a valid PDF using a feature this sealer does not handle (encryption, DocMDP no-changes, …).
 * - SIGNATURE_FIELD: the named field does not exist, is not a signature field, or is already signed.
 * - INVALID_INPUT: an option is out of range (page number, rectangle, image format, …).
 */
export type SealingErrorCode =
  | 'CERTIFICATE_PASSWORD'
  | 'CERTIFICATE_KEY_MISMATCH'
  | 'CERTIFICATE_EXPIRED'
  | 'CERTIFICATE_NOT_YET_VALID'
  | 'CERTIFICATE_INVALID'
  | 'PDF_MALFORMED'
  | 'PDF_UNSUPPORTED'
  | 'SIGNATURE_FIELD'
  | 'INVALID_INPUT';

/**
 * What the local sealer throws for bad certificates, PDFs and options: a `SealflowError` with a stable
 * {@link SealingErrorCode} to branch on, and a message that says what to fix.
 */
export class SealingError extends SealflowError {
  declare readonly code: SealingErrorCode;
  constructor(code: SealingErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Runs `read` and reports the PDF toolkit's parse failures as `SealingError`s (PDF_MALFORMED, PDF_UNSUPPORTED), so
 * callers see this package's stable codes whichever layer found the problem.
 */
export function withSealingErrors<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof PdfSyntaxError)) throw error;
    const code = error.problem === 'malformed' ? 'PDF_MALFORMED' : 'PDF_UNSUPPORTED';
    throw new SealingError(code, error.message, { cause: error });
  }
}
