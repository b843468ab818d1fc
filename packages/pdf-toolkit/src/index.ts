/**
 * @sealflow/pdf-toolkit: the low-level PDF pieces that @sealflow/core (rendering templates) and
 * @sealflow/adapter-local (sealing and verifying) both need: a byte-level object model with a lexer, reader and
 * writer, the literal-string decoder, PNG row un-filtering and the incremental update's cross-reference section.
 *
 * Private to the workspace: each package's build bundles the parts it uses, so nothing published depends on it.
 * Everything here works on bytes and plain values; each package wraps `PdfSyntaxError` in its own typed error.
 */
export { malformed, PdfSyntaxError, type PdfSyntaxProblem } from './errors.js';
export { decodePdfLiteralString } from './literal-string.js';
export {
  DELIM,
  dict,
  type LengthResolver,
  latin1,
  name,
  PdfDict,
  PdfLexer,
  PdfName,
  PdfRaw,
  PdfRef,
  PdfStream,
  PdfString,
  type PdfValue,
  PdfWriter,
  serialize,
  WS,
} from './objects.js';
export { unfilterPngRows } from './png-predictor.js';
export { decodeStream, missing, type PageTreeNode, PdfReader } from './reader.js';
export { type XrefEntry, type XrefSection, xrefSection } from './xref-section.js';
