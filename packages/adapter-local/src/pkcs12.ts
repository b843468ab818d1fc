/**
 * PKCS#12 (.p12/.pfx) reading and writing over `@peculiar/asn1-pfx`, with the crypto done by node:crypto.
 *
 * Reads what real lenders get handed: OpenSSL 3 defaults (PBES2 / PBKDF2 / AES-256-CBC, HMAC-SHA256 MAC) and the
 * legacy profile (pbeWithSHAAnd3-KeyTripleDES-CBC keys, pbeWithSHAAnd40BitRC2-CBC certificates, SHA-1 MAC) that
 * Windows and OpenSSL 1.x still produce. Certificates come back as their original DER bytes, never re-encoded.
 */
import { createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ContentInfo, EncryptedContentInfo } from '@peculiar/asn1-cms';
import type {
  AuthenticatedSafe,
  CertBag,
  MacData,
  PFX,
  PKCS8ShroudedKeyBag,
  PKCS12Attribute,
  SafeBag,
  SafeContents,
} from '@peculiar/asn1-pfx';
import type { DigestInfo } from '@peculiar/asn1-rsa';
import type { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { SealingError } from './errors.js';
import { rc2CbcDecrypt } from './rc2.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbeSha3Des: '1.2.840.113549.1.12.1.3',
  pbeSha2Des: '1.2.840.113549.1.12.1.4',
  pbeShaRc2_128: '1.2.840.113549.1.12.1.5',
  pbeShaRc2_40: '1.2.840.113549.1.12.1.6',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const HASH_BY_OID: Record<string, { name: string; size: number; block: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', size: 20, block: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', size: 32, block: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', size: 48, block: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', size: 64, block: 128 },
};
const PRF_BY_OID: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const CIPHER_BY_OID: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc',
  '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc',
  '1.2.840.113549.3.7': 'des-ede3-cbc',
};

interface Pkcs12Schemas {
  AsnConvert: typeof AsnConvert;
  OctetString: typeof OctetString;
  ContentInfo: typeof ContentInfo;
  EncryptedContentInfo: typeof EncryptedContentInfo;
  AuthenticatedSafe: typeof AuthenticatedSafe;
  CertBag: typeof CertBag;
  MacData: typeof MacData;
  PFX: typeof PFX;
  PKCS8ShroudedKeyBag: typeof PKCS8ShroudedKeyBag;
  PKCS12Attribute: typeof PKCS12Attribute;
  SafeBag: typeof SafeBag;
  SafeContents: typeof SafeContents;
  DigestInfo: typeof DigestInfo;
  AlgorithmIdentifier: typeof AlgorithmIdentifier;
}

let schemas: Pkcs12Schemas | undefined;

/**
 * The ASN.1 schema classes, required on the first PKCS#12 read or write rather than imported: they are about a
 * quarter of a second of CPU to load, and a host that signs with PEM keys (or only verifies) never needs them.
 */
function pkcs12Schemas(): Pkcs12Schemas {
  if (schemas === undefined) {
    const require = createRequire(import.meta.url);
    schemas = {
      ...(require('@peculiar/asn1-schema') as Pick<Pkcs12Schemas, 'AsnConvert' | 'OctetString'>),
      ...(require('@peculiar/asn1-cms') as Pick<Pkcs12Schemas, 'ContentInfo' | 'EncryptedContentInfo'>),
      ...(require('@peculiar/asn1-pfx') as Pick<
        Pkcs12Schemas,
        | 'AuthenticatedSafe'
        | 'CertBag'
        | 'MacData'
        | 'PFX'
        | 'PKCS8ShroudedKeyBag'
        | 'PKCS12Attribute'
        | 'SafeBag'
        | 'SafeContents'
      >),
      ...(require('@peculiar/asn1-rsa') as Pick<Pkcs12Schemas, 'DigestInfo'>),
      ...(require('@peculiar/asn1-x509') as Pick<Pkcs12Schemas, 'AlgorithmIdentifier'>),
    };
  }
  return schemas;
}

export interface Pkcs12Contents {
  /** Every certificate in the file, as the DER bytes stored in it. */
  certificates: Uint8Array[];
  /** The PKCS#8 PrivateKeyInfo DER of the first key found. */
  privateKeyPkcs8: Uint8Array;
}

const passwordError = () =>
  new SealingError(
    'CERTIFICATE_PASSWORD',
    'The PKCS#12 password is wrong: the file could not be decrypted with it. Check the password that came with the certificate file.',
  );

export function readPkcs12(pfxBytes: Uint8Array, password: string): Pkcs12Contents {
  const { AsnConvert, AuthenticatedSafe, CertBag, EncryptedContentInfo, PFX, PKCS8ShroudedKeyBag, SafeContents } =
    pkcs12Schemas();
  let pfx: PFX;
  try {
    pfx = AsnConvert.parse(pfxBytes, PFX);
  } catch (cause) {
    throw new SealingError('CERTIFICATE_INVALID', 'The PKCS#12 file could not be parsed; is it really a .p12/.pfx?', {
      cause,
    });
  }
  if (pfx.authSafe.contentType !== OID.data) {
    throw new SealingError(
      'CERTIFICATE_INVALID',
      'Only password-integrity PKCS#12 files are supported (no public-key integrity).',
    );
  }
  const authSafeBytes = octets(pfx.authSafe.content);
  if (pfx.macData) verifyMac(pfx.macData, authSafeBytes, password);

  const certificates: Uint8Array[] = [];
  let privateKeyPkcs8: Uint8Array | undefined;
  const safe = AsnConvert.parse(authSafeBytes, AuthenticatedSafe);
  for (const info of safe) {
    let contentsDer: Uint8Array;
    if (info.contentType === OID.data) {
      contentsDer = octets(info.content);
    } else if (info.contentType === OID.encryptedData) {
      // EncryptedData ::= SEQUENCE { version INTEGER, encryptedContentInfo EncryptedContentInfo, … }
      const seq = asn1js.fromBER(info.content).result as asn1js.Sequence;
      const eciBlock = seq.valueBlock.value[1];
      if (!eciBlock) throw new SealingError('CERTIFICATE_INVALID', 'PKCS#12 EncryptedData is malformed.');
      const eci = AsnConvert.parse(eciBlock.toBER(false), EncryptedContentInfo);
      const ciphertext = eci.encryptedContent?.value
        ? new Uint8Array(eci.encryptedContent.value.buffer)
        : concat((eci.encryptedContent?.constructedValue ?? []).map((o) => new Uint8Array(o.buffer)));
      contentsDer = decryptWithPassword(eci.contentEncryptionAlgorithm, ciphertext, password);
    } else {
      continue; // public-key encrypted content: not something a seal certificate file uses
    }
    for (const bag of AsnConvert.parse(contentsDer, SafeContents)) {
      if (bag.bagId === OID.certBag) {
        const certBag = AsnConvert.parse(bag.bagValue, CertBag);
        if (certBag.certId === OID.x509Certificate) certificates.push(octets(certBag.certValue));
      } else if (bag.bagId === OID.shroudedKeyBag && !privateKeyPkcs8) {
        const shrouded = AsnConvert.parse(bag.bagValue, PKCS8ShroudedKeyBag);
        privateKeyPkcs8 = decryptWithPassword(
          shrouded.encryptionAlgorithm,
          new Uint8Array(shrouded.encryptedData.buffer),
          password,
        );
      } else if (bag.bagId === OID.keyBag && !privateKeyPkcs8) {
        privateKeyPkcs8 = new Uint8Array(bag.bagValue);
      }
    }
  }
  if (!privateKeyPkcs8)
    throw new SealingError('CERTIFICATE_INVALID', 'The PKCS#12 file holds no private key; export it with the key.');
  if (certificates.length === 0)
    throw new SealingError(
      'CERTIFICATE_INVALID',
      'The PKCS#12 file holds no certificate; export it with the certificate.',
    );
  return { certificates, privateKeyPkcs8 };
}

/** Build a PKCS#12 that OpenSSL 3 and Windows read: PBES2/AES-256-CBC shrouded key, HMAC-SHA256 MAC. */
export function writePkcs12(input: {
  certificates: Uint8Array[];
  encryptedPkcs8: Uint8Array;
  password: string;
}): Uint8Array {
  const { AsnConvert, OctetString, ContentInfo, AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute } =
    pkcs12Schemas();
  const { SafeBag, SafeContents, DigestInfo, AlgorithmIdentifier } = pkcs12Schemas();
  const localKeyId = createHash('sha1').update(input.certificates[0]!).digest();
  // PKCS12Attribute's constructor drops its params (asn1-pfx 2.11.1 does `Object.assign(params)`), so assign after.
  const keyIdAttr = Object.assign(new PKCS12Attribute(), {
    attrId: OID.localKeyId,
    attrValues: [AsnConvert.serialize(new OctetString(localKeyId))],
  });
  const certBags = input.certificates.map(
    (der, i) =>
      new SafeBag({
        bagId: OID.certBag,
        bagValue: AsnConvert.serialize(
          new CertBag({ certId: OID.x509Certificate, certValue: AsnConvert.serialize(new OctetString(der)) }),
        ),
        ...(i === 0 ? { bagAttributes: [keyIdAttr] } : {}),
      }),
  );
  const keyBag = new SafeBag({
    bagId: OID.shroudedKeyBag,
    bagValue: toArrayBuffer(input.encryptedPkcs8),
    bagAttributes: [keyIdAttr],
  });
  const dataInfo = (der: ArrayBuffer) =>
    new ContentInfo({ contentType: OID.data, content: AsnConvert.serialize(new OctetString(der)) });
  const authSafeDer = AsnConvert.serialize(
    new AuthenticatedSafe([
      dataInfo(AsnConvert.serialize(new SafeContents(certBags))),
      dataInfo(AsnConvert.serialize(new SafeContents([keyBag]))),
    ]),
  );
  const salt = randomBytes(16);
  const iterations = 2048;
  const hash = HASH_BY_OID[OID.sha256]!;
  const macKey = pkcs12Kdf(hash, input.password, salt, 3, iterations, hash.size);
  const mac = createHmac(hash.name, macKey).update(new Uint8Array(authSafeDer)).digest();
  const pfx = new PFX({
    version: 3,
    authSafe: dataInfo(authSafeDer),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: OID.sha256, parameters: null }),
        digest: new OctetString(mac),
      }),
      macSalt: new OctetString(salt),
      iterations,
    }),
  });
  return new Uint8Array(AsnConvert.serialize(pfx));
}

function verifyMac(macData: MacData, data: Uint8Array, password: string): void {
  const hash = HASH_BY_OID[macData.mac.digestAlgorithm.algorithm];
  if (!hash) {
    throw new SealingError(
      'CERTIFICATE_INVALID',
      `The PKCS#12 MAC uses an unsupported algorithm (${macData.mac.digestAlgorithm.algorithm}); re-export it with OpenSSL 3 defaults.`,
    );
  }
  const salt = new Uint8Array(macData.macSalt.buffer);
  const expected = Buffer.from(macData.mac.digest.buffer);
  const macFor = (pw: string | null) =>
    createHmac(hash.name, pkcs12Kdf(hash, pw, salt, 3, macData.iterations ?? 1, hash.size))
      .update(data)
      .digest();
  if (macFor(password).equals(expected)) return;
  // Like OpenSSL: a file "without password" may have been MACed with an absent (not empty) password.
  if (password === '' && macFor(null).equals(expected)) return;
  throw passwordError();
}

/** PKCS#12 v1.0 appendix B key derivation (ID 1 = key, 2 = IV, 3 = MAC key). */
function pkcs12Kdf(
  hash: { name: string; size: number; block: number },
  password: string | null,
  salt: Uint8Array,
  id: number,
  iterations: number,
  length: number,
): Buffer {
  const v = hash.block;
  // BMPString, big-endian, with a two-byte terminator; OpenSSL 3 converts UTF-8 passwords the same way.
  const pw =
    password === null ? Buffer.alloc(0) : Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
  const fill = (src: Uint8Array) => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(pw)]);
  const out: Buffer[] = [];
  let produced = 0;
  while (produced < length) {
    let A = createHash(hash.name).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash.name).update(A).digest();
    out.push(A);
    produced += A.length;
    if (produced >= length) break;
    const B = Buffer.alloc(v);
    for (let i = 0; i < v; i++) B[i] = A[i % A.length]!;
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

function decryptWithPassword(alg: AlgorithmIdentifier, data: Uint8Array, password: string): Uint8Array {
  const params = alg.parameters ? (asn1js.fromBER(alg.parameters).result as asn1js.Sequence) : undefined;
  const items = params?.valueBlock.value ?? [];
  try {
    if (alg.algorithm === OID.pbes2) return decryptPbes2(items, data, password);
    const salt = blockOctets(items[0]);
    const iterations = blockInt(items[1]);
    const sha1 = HASH_BY_OID['1.3.14.3.2.26']!;
    const derive = (id: number, n: number) => pkcs12Kdf(sha1, password, salt, id, iterations, n);
    if (alg.algorithm === OID.pbeSha3Des || alg.algorithm === OID.pbeSha2Des) {
      let key = derive(1, 24);
      if (alg.algorithm === OID.pbeSha2Des) key = Buffer.concat([key.subarray(0, 16), key.subarray(0, 8)]);
      const d = createDecipheriv('des-ede3-cbc', key, derive(2, 8));
      return Buffer.concat([d.update(data), d.final()]);
    }
    if (alg.algorithm === OID.pbeShaRc2_40 || alg.algorithm === OID.pbeShaRc2_128) {
      const bits = alg.algorithm === OID.pbeShaRc2_40 ? 40 : 128;
      const out = rc2CbcDecrypt(derive(1, bits / 8), bits, derive(2, 8), data);
      if (!out) throw passwordError();
      return out;
    }
  } catch (error) {
    if (error instanceof SealingError) throw error;
    // A bad-decrypt (padding) error from the cipher is what a wrong password looks like.
    throw passwordError();
  }
  throw new SealingError(
    'CERTIFICATE_INVALID',
    `The PKCS#12 file is encrypted with an unsupported algorithm (${alg.algorithm}); re-export it with OpenSSL 3 defaults (AES-256-CBC).`,
  );
}

function decryptPbes2(items: asn1js.AsnType[], data: Uint8Array, password: string): Uint8Array {
  const [kdf, scheme] = items.map((b) => (b as asn1js.Sequence).valueBlock.value);
  const kdfOid = (kdf?.[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock.toString();
  const schemeOid = (scheme?.[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock.toString();
  const cipher = schemeOid ? CIPHER_BY_OID[schemeOid] : undefined;
  if (kdfOid !== OID.pbkdf2 || !cipher) {
    throw new SealingError(
      'CERTIFICATE_INVALID',
      `The PKCS#12 file uses an unsupported PBES2 scheme (${kdfOid} / ${schemeOid}); re-export it with OpenSSL 3 defaults.`,
    );
  }
  const kdfParams = (kdf?.[1] as asn1js.Sequence | undefined)?.valueBlock.value ?? [];
  const salt = blockOctets(kdfParams[0]);
  const iterations = blockInt(kdfParams[1]);
  let prf = 'sha1';
  for (const p of kdfParams.slice(2)) {
    if (p instanceof asn1js.Sequence) {
      const oid = (p.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
      prf = PRF_BY_OID[oid] ?? prf;
    }
  }
  const keyLength = cipher.startsWith('aes-128')
    ? 16
    : cipher.startsWith('aes-192') || cipher.startsWith('des')
      ? 24
      : 32;
  const iv = blockOctets(scheme?.[1]);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, keyLength, prf);
  const d = createDecipheriv(cipher, key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** The value of an OCTET STRING given as a full TLV (primitive or BER-constructed). */
function octets(tlv: ArrayBuffer | Uint8Array): Uint8Array {
  const block = asn1js.fromBER(tlv instanceof Uint8Array ? toArrayBuffer(tlv) : tlv).result;
  return blockOctets(block);
}

function blockOctets(block: asn1js.AsnType | undefined): Uint8Array {
  if (block instanceof asn1js.OctetString) {
    if (block.idBlock.isConstructed) return concat(block.valueBlock.value.map((b) => blockOctets(b)));
    return new Uint8Array(block.valueBlock.valueHexView);
  }
  throw new SealingError('CERTIFICATE_INVALID', 'The PKCS#12 file is malformed (expected an OCTET STRING).');
}

function blockInt(block: asn1js.AsnType | undefined): number {
  if (block instanceof asn1js.Integer) return block.valueBlock.valueDec;
  throw new SealingError('CERTIFICATE_INVALID', 'The PKCS#12 file is malformed (expected an INTEGER).');
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
