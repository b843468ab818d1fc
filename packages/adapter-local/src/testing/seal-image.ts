/**
 * `createSealImage`: a red round company seal (ring + five-pointed star) as a transparent PNG, for demos and tests.
 *
 * Drawn with 4×4 supersampling for smooth edges and encoded with node:zlib. It carries no text: Chinese lettering
 * would need a CJK font rasteriser. Real deployments use the company's registered seal image.
 */
import { crc32, deflateSync } from 'node:zlib';

/** Size and colour of the demo seal made by {@link createSealImage}. */
export interface SealImageOptions {
  /** Width and height in pixels (default 240). */
  size?: number;
  /** RGB (default a seal red, #d71f1f). */
  color?: [number, number, number];
}

/**
 * Draws a red round seal (ring and star, no lettering) as a transparent PNG, so demos and tests have a seal picture.
 * Real deployments use the company's registered seal image.
 */
export function createSealImage(options: SealImageOptions = {}): Uint8Array {
  const size = Math.max(16, Math.round(options.size ?? 240));
  const [r, g, b] = options.color ?? [0xd7, 0x1f, 0x1f];
  const c = size / 2;
  const outer = size * 0.48;
  const inner = outer - size * 0.045;
  const star = starPolygon(c, c, size * 0.2, size * 0.08);
  const SS = 4;
  const rowLen = size * 4 + 1;
  const raw = Buffer.alloc(rowLen * size);
  for (let y = 0; y < size; y++) {
    raw[y * rowLen] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      let hits = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const px = x + (sx + 0.5) / SS;
          const py = y + (sy + 0.5) / SS;
          const d = Math.hypot(px - c, py - c);
          if ((d <= outer && d >= inner) || (d < c * 0.5 && insidePolygon(star, px, py))) hits++;
        }
      }
      const o = y * rowLen + 1 + x * 4;
      raw[o] = r;
      raw[o + 1] = g;
      raw[o + 2] = b;
      raw[o + 3] = Math.round((hits / (SS * SS)) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function starPolygon(cx: number, cy: number, outerR: number, innerR: number): [number, number][] {
  const pts: [number, number][] = [];
  for (let i = 0; i < 10; i++) {
    const rad = i % 2 === 0 ? outerR : innerR;
    const angle = -Math.PI / 2 + (i * Math.PI) / 5; // first point straight up
    pts.push([cx + rad * Math.cos(angle), cy + rad * Math.sin(angle)]);
  }
  return pts;
}

function insidePolygon(pts: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i]!;
    const [xj, yj] = pts[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
