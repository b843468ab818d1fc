/**
 * PNG and JPEG seal images as PDF image XObjects.
 *
 * JPEG goes in as is (/DCTDecode). An opaque 8-bit PNG also goes in without decoding: its IDAT data is already a
 * Flate stream with PNG predictors, which PDF understands. PNGs with transparency (a seal must not hide the text
 * under it) are decoded and split into colour + /SMask.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { SealingError } from './errors.js';
import { dict, name, PdfStream, unfilterPngRows } from '@sealflow/pdf-toolkit';

export interface ImageXObject {
  width: number;
  height: number;
  image: PdfStream;
  /** The soft mask (alpha) to store as its own object and reference from /SMask. */
  smask?: PdfStream;
}

const badImage = (why: string) =>
  new SealingError('INVALID_INPUT', `appearance.image must be a PNG or JPEG file (${why}).`);

// Seal images are reused for thousands of documents: decode and compress each one once.
const cache = new WeakMap<Uint8Array, ImageXObject>();

/** The image as fresh XObject streams (new dicts each call, so callers may add /SMask refs; data is shared). */
export function imageXObject(bytes: Uint8Array): ImageXObject {
  let img = cache.get(bytes);
  if (!img) {
    img = decodeImage(bytes);
    cache.set(bytes, img);
  }
  return {
    width: img.width,
    height: img.height,
    image: new PdfStream(img.image.dict.clone(), img.image.data),
    ...(img.smask ? { smask: new PdfStream(img.smask.dict.clone(), img.smask.data) } : {}),
  };
}

function decodeImage(bytes: Uint8Array): ImageXObject {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return pngXObject(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegXObject(bytes);
  throw badImage('unrecognised format');
}

function jpegXObject(bytes: Uint8Array): ImageXObject {
  let p = 2;
  while (p + 9 < bytes.length) {
    if (bytes[p] !== 0xff) throw badImage('corrupt JPEG');
    const marker = bytes[p + 1]!;
    const len = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (bytes[p + 5]! << 8) | bytes[p + 6]!;
      const width = (bytes[p + 7]! << 8) | bytes[p + 8]!;
      const components = bytes[p + 9]!;
      const colorSpace = components === 1 ? 'DeviceGray' : components === 4 ? 'DeviceCMYK' : 'DeviceRGB';
      const d = dict({
        Type: name('XObject'),
        Subtype: name('Image'),
        Width: width,
        Height: height,
        ColorSpace: name(colorSpace),
        BitsPerComponent: 8,
        Filter: name('DCTDecode'),
        // Adobe CMYK JPEGs are stored inverted.
        Decode: components === 4 ? [1, 0, 1, 0, 1, 0, 1, 0] : undefined,
      });
      return { width, height, image: new PdfStream(d, bytes) };
    }
    p += 2 + len;
  }
  throw badImage('JPEG without a frame header');
}

function pngXObject(bytes: Uint8Array): ImageXObject {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let p = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = 0;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (p + 8 <= buf.length) {
    const len = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    const data = buf.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      bitDepth = data[8]!;
      colorType = data[9]!;
      interlace = data[12]!;
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  if (!width || !height || idat.length === 0) throw badImage('PNG without image data');
  if (interlace) throw badImage('interlaced PNGs are not supported; save it non-interlaced');
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  if (!channels) throw badImage(`unknown PNG colour type ${colorType}`);
  const compressed = Buffer.concat(idat);

  // Fast path: opaque 8-bit grey/RGB → the IDAT stream is already valid PDF image data.
  if ((colorType === 0 || colorType === 2) && bitDepth === 8 && !trns) {
    const d = dict({
      Type: name('XObject'),
      Subtype: name('Image'),
      Width: width,
      Height: height,
      ColorSpace: name(colorType === 0 ? 'DeviceGray' : 'DeviceRGB'),
      BitsPerComponent: 8,
      Filter: name('FlateDecode'),
      DecodeParms: dict({ Predictor: 15, Colors: channels, BitsPerComponent: 8, Columns: width }),
    });
    return { width, height, image: new PdfStream(d, compressed) };
  }
  if (bitDepth !== 8 && bitDepth !== 16 && !(colorType === 3 && bitDepth <= 8)) {
    throw badImage(`${bitDepth}-bit PNGs of colour type ${colorType} are not supported; save it as 8-bit RGBA`);
  }

  const bitsPerPixel = channels * bitDepth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const raw = unfilterPngRows(inflateSync(compressed), height, stride, bitsPerPixel >> 3);
  const rgb = Buffer.alloc(width * height * (colorType === 0 || colorType === 4 ? 1 : 3));
  const alpha = Buffer.alloc(width * height, 255);
  const isGray = colorType === 0 || colorType === 4;
  const sample = (row: number, index: number): number => {
    if (bitDepth === 16) return raw[row * stride + index * 2]!; // keep the high byte
    if (bitDepth === 8) return raw[row * stride + index]!;
    const bitPos = index * bitDepth;
    const byte = raw[row * stride + (bitPos >> 3)]!;
    return (byte >> (8 - bitDepth - (bitPos & 7))) & ((1 << bitDepth) - 1);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (colorType === 3) {
        const idx = sample(y, x);
        rgb[i * 3] = palette?.[idx * 3] ?? 0;
        rgb[i * 3 + 1] = palette?.[idx * 3 + 1] ?? 0;
        rgb[i * 3 + 2] = palette?.[idx * 3 + 2] ?? 0;
        alpha[i] = trns?.[idx] ?? 255;
      } else {
        const s = (c: number) => sample(y, x * channels + c);
        if (isGray) rgb[i] = s(0);
        else {
          rgb[i * 3] = s(0);
          rgb[i * 3 + 1] = s(1);
          rgb[i * 3 + 2] = s(2);
        }
        if (colorType === 4) alpha[i] = s(1);
        else if (colorType === 6) alpha[i] = s(3);
      }
    }
  }
  const image = new PdfStream(
    dict({
      Type: name('XObject'),
      Subtype: name('Image'),
      Width: width,
      Height: height,
      ColorSpace: name(isGray ? 'DeviceGray' : 'DeviceRGB'),
      BitsPerComponent: 8,
      Filter: name('FlateDecode'),
    }),
    deflateSync(rgb),
  );
  const hasAlpha = alpha.some((a) => a !== 255);
  if (!hasAlpha) return { width, height, image };
  const smask = new PdfStream(
    dict({
      Type: name('XObject'),
      Subtype: name('Image'),
      Width: width,
      Height: height,
      ColorSpace: name('DeviceGray'),
      BitsPerComponent: 8,
      Filter: name('FlateDecode'),
    }),
    deflateSync(alpha),
  );
  return { width, height, image, smask };
}
