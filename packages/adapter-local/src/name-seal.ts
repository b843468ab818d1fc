/**
 * A person's name seal (人名章): a square red seal with the name's characters drawn as glyph outlines of a CJK font,
 * the mark a person's signature shows when the host has no handwritten signature image for them.
 *
 * Traditional layout: the characters fill a grid read column by column from the right, top to bottom; a two-character
 * name becomes 「X Y 之印」 and a three-character one 「X Y Z 印」, so the common names fill a 2 × 2 square. The name is
 * drawn as shapes, not text: nothing is embedded but the outlines, and the name cannot be copied out of the PDF as
 * text. It is personal data: it appears on the page only, never in an error or a log line.
 */
import { CjkFont, defaultCjkFont } from '@sealflow/core';
import { SealingError } from './errors.js';

/** Seal red (#d71f1f), as PDF RGB. */
const RED = '0.843 0.122 0.122';

// A font passed as bytes is parsed once per byte array: hosts pass the same bytes for every signature.
const parsedFonts = new WeakMap<Uint8Array, CjkFont>();

function fontOf(bytes: Uint8Array | undefined): CjkFont {
  if (!bytes) return defaultCjkFont();
  let font = parsedFonts.get(bytes);
  if (!font) {
    font = CjkFont.parse(bytes);
    parsedFonts.set(bytes, font);
  }
  return font;
}

/** The characters in seal order: the name, completed to fill a 2 × 2 square when it is short. */
export function sealCharacters(name: string): string[] {
  const chars = Array.from(name.replace(/\s+/g, ''));
  if (chars.length === 0) {
    throw new SealingError('INVALID_INPUT', 'A name seal needs the signer’s name; the name is empty.');
  }
  if (chars.length === 2) return [...chars, '之', '印'];
  if (chars.length === 3) return [...chars, '印'];
  return chars;
}

/**
 * Content-stream operators drawing the name seal centred in a `width` × `height` box (PDF points, origin at the box's
 * lower-left corner). `font` is a TrueType font's bytes; by default core's bundled Noto Sans SC.
 */
export function nameSealOperators(name: string, width: number, height: number, font?: Uint8Array): string {
  const cjk = fontOf(font);
  const chars = sealCharacters(name);
  const outlines = chars.map((char, i) => {
    const outline = cjk.glyphOutline(char.codePointAt(0)!);
    if (!outline) {
      // The character itself stays out of the message: it is part of a person's name.
      throw new SealingError(
        'INVALID_INPUT',
        `The name seal's font has no glyph for character ${i + 1} of the signer's name: pass a font that covers it ` +
          '(nameSealFont) or a signature image for this signer.',
      );
    }
    return outline;
  });
  const side = Math.min(width, height) * 0.9;
  const border = side * 0.06;
  const x0 = (width - side) / 2;
  const y0 = (height - side) / 2;
  const rows = Math.ceil(Math.sqrt(chars.length));
  const cols = Math.ceil(chars.length / rows);
  const inner = side - border * 3;
  const cellW = inner / cols;
  const cellH = inner / rows;
  // One scale for every character, so the name reads evenly; 90 % of the cell leaves the strokes some air.
  const scale = (Math.min(cellW, cellH) * 0.9) / cjk.unitsPerEm;
  const ops = [
    'q',
    `${RED} rg ${RED} RG`,
    `${f(border)} w`,
    `${f(x0 + border / 2)} ${f(y0 + border / 2)} ${f(side - border)} ${f(side - border)} re S`,
  ];
  outlines.forEach(({ operators, bbox }, i) => {
    const col = cols - 1 - Math.floor(i / rows); // columns run from the right
    const row = i % rows; // top to bottom
    const cx = x0 + border * 1.5 + cellW * (col + 0.5);
    const cy = y0 + border * 1.5 + cellH * (rows - row - 0.5);
    const tx = cx - ((bbox[0] + bbox[2]) / 2) * scale;
    const ty = cy - ((bbox[1] + bbox[3]) / 2) * scale;
    ops.push('q', `${f(scale)} 0 0 ${f(scale)} ${f(tx)} ${f(ty)} cm`, operators, 'f', 'Q');
  });
  ops.push('Q');
  return ops.join('\n');
}

function f(n: number): string {
  return String(Math.round(n * 10000) / 10000);
}
