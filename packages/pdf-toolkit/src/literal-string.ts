const SIMPLE_ESCAPES: Readonly<Record<number, number>> = { 110: 10, 114: 13, 116: 9, 98: 8, 102: 12 };

/**
 * Decode the PDF literal string whose `(` is at `start` (ISO 32000-1 §7.3.4.2: balanced parentheses, backslash
 * escapes, octal codes, escaped line breaks). `end` is the index after the closing `)`, or -1 when the bytes run out
 * first; callers decide whether that is an error (an object parser) or tolerable (a content-stream scan).
 */
export function decodePdfLiteralString(b: Uint8Array, start: number): { bytes: Uint8Array; end: number } {
  const out: number[] = [];
  let depth = 0;
  let pos = start + 1;
  while (pos < b.length) {
    const c = b[pos++]!;
    if (c === 0x5c) {
      const e = b[pos++]!;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) out.push(simple);
      else if (e >= 0x30 && e <= 0x37) {
        let v = e - 0x30;
        for (let k = 0; k < 2 && b[pos]! >= 0x30 && b[pos]! <= 0x37; k++) v = v * 8 + (b[pos++]! - 0x30);
        out.push(v & 0xff);
      } else if (e === 0x0d) {
        if (b[pos] === 0x0a) pos++;
      } else if (e !== 0x0a) out.push(e);
    } else if (c === 0x28) {
      depth++;
      out.push(c);
    } else if (c === 0x29) {
      if (depth === 0) return { bytes: Uint8Array.from(out), end: pos };
      depth--;
      out.push(c);
    } else out.push(c);
  }
  return { bytes: Uint8Array.from(out), end: -1 };
}
