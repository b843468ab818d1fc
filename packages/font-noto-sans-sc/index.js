// Noto Sans SC Regular, the font sealflow embeds (as a per-document subset) when a host supplies none.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of NotoSansSC-Regular.ttf (TrueType outlines, SIL OFL 1.1: see OFL.txt next to it). */
export const fontPath = fileURLToPath(new URL('./NotoSansSC-Regular.ttf', import.meta.url));

/** The font file's bytes (10.5 MB): read it once and keep it. */
export function readFont() {
  return new Uint8Array(readFileSync(fontPath));
}
