/**
 * RC2-CBC decryption (RFC 2268), only for reading legacy PKCS#12 files.
 *
 * `openssl pkcs12 -export -legacy` (and every PKCS#12 exported by Windows or OpenSSL 1.x) encrypts the certificates
 * with pbeWithSHAAnd40BitRC2-CBC. Node's OpenSSL 3 build does not load the legacy provider, so RC2 is not available
 * through node:crypto; it is small enough to carry here. Never used for anything we write.
 */
const PI_TABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32' +
    'bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a' +
    '961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e' +
    'c5f3db47e5a59c770aa62068fe7fc1ad',
  'hex',
);
const SHIFTS = [1, 2, 3, 5] as const;

function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const L = new Uint8Array(128);
  L.set(key);
  const T = key.length;
  for (let i = T; i < 128; i++) L[i] = PI_TABLE[(L[i - 1]! + L[i - T]!) & 0xff]!;
  const T8 = (effectiveBits + 7) >> 3;
  const TM = 0xff >> (8 * T8 - effectiveBits);
  L[128 - T8] = PI_TABLE[L[128 - T8]! & TM]!;
  for (let i = 127 - T8; i >= 0; i--) L[i] = PI_TABLE[L[i + 1]! ^ L[i + T8]!]!;
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = L[2 * i]! | (L[2 * i + 1]! << 8);
  return K;
}

function decryptBlock(K: Uint16Array, R: Uint16Array): void {
  let j = 63;
  const mix = () => {
    for (let i = 3; i >= 0; i--) {
      const s = SHIFTS[i]!;
      const r = R[i]!;
      const rotated = ((r >>> s) | (r << (16 - s))) & 0xffff;
      const a = R[(i + 3) & 3]!;
      const b = R[(i + 2) & 3]!;
      const c = R[(i + 1) & 3]!;
      R[i] = (rotated - K[j]! - (a & b) - (~a & c)) & 0xffff;
      j--;
    }
  };
  const mash = () => {
    for (let i = 3; i >= 0; i--) R[i] = (R[i]! - K[R[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) mix();
  mash();
  for (let n = 0; n < 6; n++) mix();
  mash();
  for (let n = 0; n < 5; n++) mix();
}

/** RC2-CBC decrypt with PKCS#7 padding removal; returns null when the padding is wrong (usually: wrong password). */
export function rc2CbcDecrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array | null {
  if (data.length === 0 || data.length % 8 !== 0) return null;
  const K = expandKey(key, effectiveBits);
  const out = new Uint8Array(data.length);
  const R = new Uint16Array(4);
  let prev = iv;
  for (let off = 0; off < data.length; off += 8) {
    const block = data.subarray(off, off + 8);
    for (let i = 0; i < 4; i++) R[i] = block[2 * i]! | (block[2 * i + 1]! << 8);
    decryptBlock(K, R);
    for (let i = 0; i < 4; i++) {
      out[off + 2 * i] = (R[i]! & 0xff) ^ prev[2 * i]!;
      out[off + 2 * i + 1] = (R[i]! >> 8) ^ prev[2 * i + 1]!;
    }
    prev = block;
  }
  const pad = out[out.length - 1]!;
  if (pad < 1 || pad > 8) return null;
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) return null;
  return out.subarray(0, out.length - pad);
}
