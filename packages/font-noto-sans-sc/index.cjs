// Noto Sans SC Regular, the font sealflow embeds (as a per-document subset) when a host supplies none.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** Absolute path of NotoSansSC-Regular.ttf (TrueType outlines, SIL OFL 1.1: see OFL.txt next to it). */
const fontPath = join(__dirname, 'NotoSansSC-Regular.ttf');

/** The font file's bytes (10.5 MB): read it once and keep it. */
function readFont() {
  return new Uint8Array(readFileSync(fontPath));
}

module.exports = { fontPath, readFont };
