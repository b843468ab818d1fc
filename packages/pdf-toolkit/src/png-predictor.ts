/**
 * PNG row filters (None, Sub, Up, Average, Paeth; PNG spec §9), undone. Two places meet them: PDF streams with
 * /Predictor ≥ 10 (cross-reference and object streams) and PNG images that have to be decoded (transparency, palette).
 * The row layout is the same in both: one filter-type byte, then `stride` bytes.
 */
export function unfilterPngRows(data: Uint8Array, rows: number, stride: number, bytesPerPixel: number): Uint8Array {
  const out = new Uint8Array(rows * stride);
  const bpp = Math.max(1, bytesPerPixel);
  for (let y = 0; y < rows; y++) {
    const type = data[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let x = 0; x < stride; x++) {
      const raw = data[src + x]!;
      const a = x >= bpp ? out[dst + x - bpp]! : 0;
      const b = y > 0 ? out[dst - stride + x]! : 0;
      const c = x >= bpp && y > 0 ? out[dst - stride + x - bpp]! : 0;
      let v = raw;
      if (type === 1) v = raw + a;
      else if (type === 2) v = raw + b;
      else if (type === 3) v = raw + ((a + b) >> 1);
      else if (type === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        v = raw + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      out[dst + x] = v & 0xff;
    }
  }
  return out;
}
