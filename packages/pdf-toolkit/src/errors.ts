/**
 * The toolkit's one error. It is internal: the toolkit is bundled into packages whose errors all derive from
 * sealflow's error base class, and it cannot import that class (core bundles the toolkit, so the import would point
 * back at core). Each package turns a `PdfSyntaxError` into its own typed error at its public boundary, keeping the
 * message, which is already written for the person holding the file.
 */
export type PdfSyntaxProblem =
  /** The bytes are not a well-formed PDF (broken cross-reference data, an unterminated object, …). */
  | 'malformed'
  /** A valid PDF using something this toolkit does not read (encryption, an unusual stream filter, …). */
  | 'unsupported';

export class PdfSyntaxError extends Error {
  constructor(
    readonly problem: PdfSyntaxProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PdfSyntaxError';
  }
}

/** The bytes cannot be read; the message says where and how to repair the file. */
export function malformed(message: string): PdfSyntaxError {
  return new PdfSyntaxError(
    'malformed',
    `The PDF could not be read: ${message}. Re-save it with a PDF tool and retry.`,
  );
}
