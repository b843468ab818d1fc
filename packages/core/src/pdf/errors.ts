/**
 * Errors of PDF inspection and rendering. Those about the input are `ValidationError`s (retrying will not help) with
 * their own stable code, so hosts can tell a broken template from a value that does not fit. One is about sealflow
 * itself: `PdfUpdateInconsistentError`, raised instead of emitting a PDF whose update would not read back.
 */
import { SealflowError, ValidationError } from '../errors.js';

/** Why a PDF was refused: not a PDF at all, cut short, encrypted, without pages, or structurally damaged. */
export type PdfInvalidReason = 'not-pdf' | 'truncated' | 'encrypted' | 'no-pages' | 'damaged';

const PDF_INVALID_ADVICE: Record<PdfInvalidReason, string> = {
  'not-pdf':
    'The file does not start with a %PDF- header, so it is not a PDF: upload the PDF export of the template, not a Word/WPS file or an image.',
  truncated:
    'The PDF is truncated or its cross-reference table is broken (no %%EOF or a bad startxref): the upload or download was probably cut off; upload the file again.',
  encrypted:
    'The PDF is encrypted (it has an /Encrypt dictionary): remove the password/permissions protection (e.g. "qpdf --decrypt in.pdf out.pdf") and upload it again.',
  'no-pages': 'The PDF has no pages: export the template again with its pages.',
  damaged:
    'The PDF is damaged inside (its page tree or form fields are broken or refer to themselves): open it in a PDF editor and export or print it to a new PDF (or repair it with "qpdf in.pdf out.pdf"), then upload that file.',
};

/** A file that cannot be used as a PDF template; `details.reason` says why. */
export class PdfInvalidError extends ValidationError {
  override readonly code = 'PDF_INVALID' as const;
  readonly reason: PdfInvalidReason;

  constructor(reason: PdfInvalidReason, options: { cause?: unknown; detail?: string } = {}) {
    super(options.detail ? `${PDF_INVALID_ADVICE[reason]} (${options.detail})` : PDF_INVALID_ADVICE[reason], {
      cause: options.cause,
      details: { reason },
    });
    this.reason = reason;
  }
}

/** A value that does not fit its field even at the smallest allowed size, or exceeds the field's /MaxLen. */
export class ValueTooLongError extends ValidationError {
  override readonly code = 'VALUE_TOO_LONG' as const;

  constructor(field: string, why: string) {
    super(
      `The value for field "${field}" is too long: ${why}. Shorten the value, widen the field in the template, or allow shrinking for this field.`,
      {
        details: { field },
      },
    );
  }
}

/** The font has no glyph for a character of a value. Names the character, never the whole value. */
export class GlyphMissingError extends ValidationError {
  override readonly code = 'GLYPH_MISSING' as const;

  constructor(field: string, char: string) {
    const codePoint = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    super(
      `The font has no glyph for ${codePoint} "${char}" in field "${field}": pass a font that covers it (createSealflow({ font }) or prepareTemplate(bytes, { font })) or replace the character.`,
      {
        details: { field, codePoint },
      },
    );
  }
}

/** `render` was given a value for a name that is neither an AcroForm text field nor a declared blank. */
export class UnknownFieldError extends ValidationError {
  override readonly code = 'FIELD_UNKNOWN' as const;

  constructor(field: string, known: readonly string[]) {
    super(
      `The template has no text field or blank named "${field}". Known names: ${known.slice(0, 40).join(', ')}${known.length > 40 ? ', …' : ''}.`,
      {
        details: { field },
      },
    );
  }
}

/** How an incremental update disagreed with its template (see {@link PdfUpdateInconsistentError}). */
export type PdfUpdateProblem = 'duplicate' | 'out-of-range' | 'not-in-template' | 'changed-template';

const PDF_UPDATE_PROBLEM: Record<PdfUpdateProblem, string> = {
  duplicate: 'would be written twice, so readers would pick one copy and lose the other',
  'out-of-range': "is outside the update's /Size",
  'not-in-template': 'would replace an object the template does not have',
  'changed-template': 'was created in memory while the template was prepared',
};

/**
 * The renderer's own consistency check failed: the incremental update it was about to return would reuse or invent
 * an object number, which makes viewers show nothing (or the wrong object) where values were placed. The PDF is not
 * returned, so nothing broken reaches signing. Not the caller's fault, and retrying gives the same result.
 */
export class PdfUpdateInconsistentError extends SealflowError {
  override readonly code = 'PDF_UPDATE_INCONSISTENT' as const;

  constructor(objectNumber: number, problem: PdfUpdateProblem) {
    super(
      'PDF_UPDATE_INCONSISTENT',
      `sealflow refused to emit a broken PDF: object ${objectNumber} ${PDF_UPDATE_PROBLEM[problem]}. This is a sealflow bug, not a problem with the values: report it with the template PDF. Meanwhile, re-saving the template (e.g. "qpdf in.pdf out.pdf") and preparing it again may avoid it.`,
      { details: { objectNumber, problem } },
    );
  }
}
