/**
 * SM2 signatures with SM3 (GB/T 32918.2, GB/T 35276 / GM/T 0009), as China's commercial-cryptography (国密) rules want
 * them: the signer's identity hash Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) is hashed in front of the message,
 * e = SM3(Z ‖ M), and (r, s) is the SM2 signature of e, DER-encoded as SEQUENCE { r INTEGER, s INTEGER }.
 *
 * Why not node:crypto alone: Node 20's `crypto.sign('sm3', data, sm2Key)` does sign with the SM2 scheme, but always
 * with an EMPTY user id (Z over ENTL = 0), and Node offers no way to set OpenSSL's `distid`; it also cannot sign a
 * precomputed digest with an SM2 key. Every other SM2 implementation (OpenSSL with `-sigopt distid:…`, CAs, 国密
 * readers) uses the default id "1234567812345678", so those signatures would not verify anywhere. And a key Node
 * generates on the SM2 curve is an ordinary EC key to OpenSSL, which node:crypto would sign with plain ECDSA.
 *
 * So: SM3 comes from node:crypto (OpenSSL's), the curve arithmetic from @noble/curves (audited, constant-time scalar
 * multiplication), and the few lines of the SM2 formulas are here. The nonce k is drawn from node's CSPRNG per
 * signature, as the standard says. Checked against the openssl CLI both ways in the tests.
 */
import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import { weierstrassN } from '@noble/curves/abstract/weierstrass.js';
import { readChildren, readTlv } from './der.js';
import { SealingError } from './errors.js';

/** Object identifiers of the 国密 algorithms, as GM/T 0006 assigns them and OpenSSL emits them. */
export const SM_OID = {
  /** The SM2 curve (named-curve parameter of an id-ecPublicKey key). */
  sm2Curve: '1.2.156.10197.1.301',
  /** SM3 hash. */
  sm3: '1.2.156.10197.1.401',
  /** SM2 signature with SM3 (GM/T 0010 SignerInfo.signatureAlgorithm, X.509 signatureAlgorithm). */
  sm2WithSm3: '1.2.156.10197.1.501',
} as const;

/** The default signer id of GB/T 35276 / GM/T 0009, used when the parties agreed no other. */
export const SM2_DEFAULT_USER_ID = '1234567812345678';

const hex = (s: string) => BigInt(`0x${s}`);
const CURVE = {
  p: hex('FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF'),
  n: hex('FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123'),
  h: 1n,
  a: hex('FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC'),
  b: hex('28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93'),
  Gx: hex('32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7'),
  Gy: hex('BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0'),
} as const;
const Point = weierstrassN(CURVE);
const { n } = CURVE;

/** An SM2 key pair as numbers: the private scalar (absent for a public key) and the public point, 65 bytes 04‖x‖y. */
export interface Sm2Key {
  readonly d?: bigint;
  readonly publicPoint: Uint8Array;
}

const mod = (a: bigint, m = n) => ((a % m) + m) % m;
const be32 = (x: bigint) => Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
const toBig = (bytes: Uint8Array) => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`));

function invert(a: bigint): bigint {
  // Fermat: n is prime, so a^(n-2) = a^-1 mod n.
  let result = 1n;
  let base = mod(a);
  let e = n - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % n;
    base = (base * base) % n;
    e >>= 1n;
  }
  return result;
}

/** True when `key` (private or public) is on the SM2 curve, whatever OpenSSL calls its type ("SM2" or "EC"). */
export function isSm2Key(key: KeyObject): boolean {
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'SM2';
  if (key.asymmetricKeyType !== undefined) return false;
  try {
    return curveOf(spkiOf(key)) === SM_OID.sm2Curve;
  } catch {
    return false;
  }
}

function spkiOf(key: KeyObject): Uint8Array {
  return key.type === 'private'
    ? (key.export({ type: 'pkcs8', format: 'der' }) as Buffer)
    : (key.export({ type: 'spki', format: 'der' }) as Buffer);
}

/** The namedCurve OID of a PKCS#8 or SubjectPublicKeyInfo: both hold AlgorithmIdentifier { id-ecPublicKey, curve }. */
function curveOf(der: Uint8Array): string | undefined {
  const top = readChildren(der, readTlv(der, 0));
  const algorithm = top.find((t) => t.tag === 0x30);
  const curve = algorithm ? readChildren(der, algorithm)[1] : undefined;
  return curve?.tag === 0x06 ? oidText(der.subarray(curve.contentStart, curve.end)) : undefined;
}

function oidText(content: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    else arcs.push(value);
    value = 0;
  }
  return arcs.join('.');
}

/**
 * The SM2 numbers of a node:crypto key on the SM2 curve: from PKCS#8 (PrivateKeyInfo { version, algorithm,
 * OCTET STRING ECPrivateKey { version, OCTET STRING d, [0] params?, [1] publicKey? } }) or SubjectPublicKeyInfo.
 */
export function sm2KeyOf(key: KeyObject): Sm2Key {
  if (!isSm2Key(key)) throw new SealingError('CERTIFICATE_INVALID', 'The key is not an SM2 key.');
  if (key.type === 'public') {
    const spki = key.export({ type: 'spki', format: 'der' }) as Buffer;
    const bitString = readChildren(spki, readTlv(spki, 0))[1];
    if (bitString?.tag !== 0x03) throw new SealingError('CERTIFICATE_INVALID', 'The SM2 public key is malformed.');
    return { publicPoint: checkedPoint(spki.subarray(bitString.contentStart + 1, bitString.end)) };
  }
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' }) as Buffer;
  const octets = readChildren(pkcs8, readTlv(pkcs8, 0))[2];
  if (octets?.tag !== 0x04) throw new SealingError('CERTIFICATE_INVALID', 'The SM2 private key is malformed.');
  const ecPrivateKey = readTlv(pkcs8, octets.contentStart);
  const dTlv = readChildren(pkcs8, ecPrivateKey)[1];
  if (dTlv?.tag !== 0x04) throw new SealingError('CERTIFICATE_INVALID', 'The SM2 private key is malformed.');
  const d = toBig(pkcs8.subarray(dTlv.contentStart, dTlv.end));
  // SM2 needs 1 ≤ d ≤ n-2 (1 + d is inverted when signing).
  if (d < 1n || d > n - 2n) throw new SealingError('CERTIFICATE_INVALID', 'The SM2 private key is out of range.');
  return { d, publicPoint: Point.BASE.multiply(d).toBytes(false) };
}

/** The SM2 public point (65 bytes) inside an X.509 certificate's SubjectPublicKeyInfo. */
function checkedPoint(bytes: Uint8Array): Uint8Array {
  try {
    const point = Point.fromBytes(bytes);
    point.assertValidity();
    return point.toBytes(false);
  } catch (cause) {
    throw new SealingError('CERTIFICATE_INVALID', 'The SM2 public key is not a point on the SM2 curve.', { cause });
  }
}

/** Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), ENTL being the id's length in bits as two bytes. */
export function sm2Z(publicPoint: Uint8Array, userId: string = SM2_DEFAULT_USER_ID): Buffer {
  const id = Buffer.from(userId, 'utf8');
  if (id.length * 8 > 0xffff) throw new SealingError('INVALID_INPUT', 'The SM2 user id is longer than 8191 bytes.');
  return createHash('sm3')
    .update(Buffer.from([(id.length * 8) >> 8, (id.length * 8) & 0xff]))
    .update(id)
    .update(be32(CURVE.a))
    .update(be32(CURVE.b))
    .update(be32(CURVE.Gx))
    .update(be32(CURVE.Gy))
    .update(publicPoint.subarray(1))
    .digest();
}

/** SM2-with-SM3 signature of `message`, DER SEQUENCE { r, s }. */
export function sm2Sign(key: Sm2Key, message: Uint8Array, userId?: string): Uint8Array {
  const { d } = key;
  if (d === undefined) throw new SealingError('INVALID_INPUT', 'An SM2 signature needs the private key.');
  const e = toBig(createHash('sm3').update(sm2Z(key.publicPoint, userId)).update(message).digest());
  const dInverse = invert(1n + d);
  for (;;) {
    // k uniform in [1, n-1]: 64 random bytes reduced mod n-1 leave a bias below 2^-256.
    const k = mod(toBig(randomBytes(64)), n - 1n) + 1n;
    const x1 = Point.BASE.multiply(k).toAffine().x;
    const r = mod(e + x1);
    if (r === 0n || r + k === n) continue;
    const s = mod(dInverse * mod(k - r * d));
    if (s === 0n) continue;
    return derSignature(r, s);
  }
}

/** Checks an SM2-with-SM3 DER signature of `message` under `publicPoint`; false on any malformation. */
export function sm2Verify(publicPoint: Uint8Array, message: Uint8Array, signature: Uint8Array, userId?: string) {
  let r: bigint;
  let s: bigint;
  let P: ReturnType<typeof Point.fromBytes>;
  try {
    const sequence = readTlv(signature, 0);
    const [rTlv, sTlv, extra] = readChildren(signature, sequence);
    if (sequence.tag !== 0x30 || sequence.end !== signature.length || rTlv?.tag !== 2 || sTlv?.tag !== 2 || extra) {
      return false;
    }
    r = toBig(signature.subarray(rTlv.contentStart, rTlv.end));
    s = toBig(signature.subarray(sTlv.contentStart, sTlv.end));
    P = Point.fromBytes(publicPoint);
    P.assertValidity();
  } catch {
    return false;
  }
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const t = mod(r + s);
  if (t === 0n) return false;
  const e = toBig(createHash('sm3').update(sm2Z(publicPoint, userId)).update(message).digest());
  const sum = Point.BASE.multiplyUnsafe(s).add(P.multiplyUnsafe(t));
  if (sum.equals(Point.ZERO)) return false;
  return mod(e + sum.toAffine().x) === r;
}

function derInteger(x: bigint): Buffer {
  let bytes = Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && bytes[i + 1]! < 0x80) i++;
  bytes = bytes.subarray(i);
  if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

function derSignature(r: bigint, s: bigint): Uint8Array {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}

/** Largest DER SM2 signature: SEQUENCE header (2) + two INTEGERs of at most 33 content bytes (35 each). */
export const SM2_MAX_SIGNATURE_LENGTH = 72;
