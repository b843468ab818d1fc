export {
  GlyphMissingError,
  PdfInvalidError,
  type PdfInvalidReason,
  PdfUpdateInconsistentError,
  type PdfUpdateProblem,
  UnknownFieldError,
  ValueTooLongError,
} from './errors.js';
export { CjkFont, DEFAULT_FONT_MODULE, defaultCjkFont, type GlyphInfo, type GlyphOutline } from './font.js';
export {
  inspectPdf,
  type InspectOptions,
  type KeywordHit,
  type PdfFieldInfo,
  type PdfFieldType,
  type PdfInspection,
  type PdfRect,
} from './inspect.js';
export { isWholePdf, type PdfSource } from './load.js';
export type { Alignment } from './layout.js';
export {
  type BlankSpec,
  type FitOptions,
  prepareTemplate,
  type PreparedTemplate,
  type PrepareOptions,
  type Rect,
  type RenderOptions,
  type TemplateFieldInfo,
} from './renderer.js';
