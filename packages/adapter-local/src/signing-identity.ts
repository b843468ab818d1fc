/**
 * A signing identity: the private key as a node:crypto `KeyObject` (parsed once, reused for every seal), the signer
 * certificate as the exact DER bytes it came in, and the chain to embed. Everything per-seal work needs is computed
 * here once: the issuer Name and serial number slices (copied verbatim into the CMS), the certificate hash for ESS.
 */
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readChildren, readTlv, slice } from './der.js';
import { SealingError } from './errors.js';
import { readPkcs12 } from './pkcs12.js';
import { isSm2Key, SM2_MAX_SIGNATURE_LENGTH, type Sm2Key, sm2KeyOf } from './sm2.js';

export interface SigningIdentity {
  readonly privateKey: KeyObject;
  /** 'sm2': a key on the SM2 curve, signing SM2-with-SM3 (国密, GB/T 32918 with the default user id). */
  readonly keyType: 'rsa' | 'ec' | 'sm2';
  /**
   * The hash of the document and of the signed attributes: SHA-256 for RSA and ECDSA, SM3 for SM2 (GM/T 0010).
   */
  readonly digestAlgorithm: 'sha256' | 'sm3';
  /** The SM2 private scalar and public point, for an SM2 identity (node:crypto cannot sign SM2 with a user id). */
  readonly sm2Key?: Sm2Key;
  /** The signer certificate, DER, byte for byte as supplied. */
  readonly certificate: Uint8Array;
  /** Further certificates (intermediates, root) to embed after the signer certificate, DER as supplied. */
  readonly chain: readonly Uint8Array[];
  /** RFC 2253 style, for display ("CN=…,O=…,C=CN"). */
  readonly subject: string;
  readonly commonName: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Messages about a usable but questionable identity (expired, not yet valid, missing key usage). */
  readonly warnings: readonly string[];
  /** The DER of the certificate's issuer Name, sliced out of `certificate` (never re-encoded). */
  readonly issuerDer: Uint8Array;
  /** The DER INTEGER of the certificate's serial number, sliced out of `certificate`. */
  readonly serialNumberDer: Uint8Array;
  /** SHA-256 of `certificate`, for the ESS signing-certificate-v2 attribute. */
  readonly certificateSha256: Uint8Array;
  /** Upper bound of the signature value's length in bytes (RSA modulus size, or a DER ECDSA or SM2 signature). */
  readonly maxSignatureLength: number;
}

/**
 * Where a signing identity comes from: a PKCS#12 file (.p12/.pfx, as CAs issue them) with its password, or PEM
 * certificate and private key (optionally encrypted with `password`) plus an optional PEM chain to embed.
 */
export type SigningIdentitySource =
  | { pkcs12: Uint8Array; password: string }
  | { certificatePem: string; privateKeyPem: string; chainPem?: string; password?: string };

/** How strictly {@link loadSigningIdentity} treats the certificate's validity period. */
export interface LoadSigningIdentityOptions {
  /** What to do with a certificate outside its validity period: 'warn' (default, adds to `warnings`) or 'reject'. */
  validity?: 'warn' | 'reject';
  /** The instant the validity is checked against; defaults to now. */
  now?: Date;
  /**
   * The digest the identity must sign with, to fail at load time instead of producing a signature the relying party
   * refuses: 'sha256' works only with RSA and ECDSA keys, 'sm3' only with SM2 keys (国密 rules require SM3 with SM2).
   * Default: the key's own (SHA-256, or SM3 for SM2). A mismatch throws INVALID_INPUT.
   */
  digestAlgorithm?: 'sha256' | 'sm3';
}

/**
 * Parses a certificate and its private key once into a reusable {@link SigningIdentity}, so each seal only signs.
 * Throws a `SealingError` (CERTIFICATE_PASSWORD, CERTIFICATE_KEY_MISMATCH, CERTIFICATE_INVALID, and with
 * `validity: 'reject'` CERTIFICATE_EXPIRED / CERTIFICATE_NOT_YET_VALID) when the material cannot be used; a usable
 * but questionable identity loads with `warnings` instead.
 */
export function loadSigningIdentity(
  source: SigningIdentitySource,
  options: LoadSigningIdentityOptions = {},
): SigningIdentity {
  let privateKey: KeyObject;
  let certificates: Uint8Array[];
  if ('pkcs12' in source) {
    const p12 = readPkcs12(source.pkcs12, source.password);
    certificates = p12.certificates;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(p12.privateKeyPkcs8), format: 'der', type: 'pkcs8' });
    } catch (cause) {
      throw new SealingError('CERTIFICATE_INVALID', 'The private key inside the PKCS#12 file could not be read.', {
        cause,
      });
    }
  } else {
    certificates = [...pemBlocks(source.certificatePem), ...pemBlocks(source.chainPem ?? '')];
    if (certificates.length === 0) {
      throw new SealingError('CERTIFICATE_INVALID', 'certificatePem holds no "-----BEGIN CERTIFICATE-----" block.');
    }
    try {
      privateKey = createPrivateKey({
        key: source.privateKeyPem,
        format: 'pem',
        ...(source.password === undefined ? {} : { passphrase: source.password }),
      });
    } catch (cause) {
      const encrypted = /ENCRYPTED/.test(source.privateKeyPem);
      throw encrypted
        ? new SealingError(
            'CERTIFICATE_PASSWORD',
            'The private key PEM is encrypted and the password is missing or wrong.',
            {
              cause,
            },
          )
        : new SealingError(
            'CERTIFICATE_INVALID',
            'privateKeyPem is not a readable PEM private key (PKCS#8, PKCS#1 or SEC1).',
            {
              cause,
            },
          );
    }
  }

  // OpenSSL reads a PEM or PKCS#8 key on the SM2 curve as type "SM2", which Node reports as undefined; a key Node
  // generated on that curve is "ec". Both sign SM2-with-SM3 here.
  const sm2 = isSm2Key(privateKey);
  const keyType = sm2 ? 'sm2' : privateKey.asymmetricKeyType;
  if (keyType !== 'rsa' && keyType !== 'ec' && keyType !== 'sm2') {
    throw new SealingError(
      'CERTIFICATE_INVALID',
      `Unsupported key type "${keyType}": PAdES sealing here supports RSA, ECDSA (P-256/P-384) and SM2 keys.`,
    );
  }
  const digestAlgorithm = keyType === 'sm2' ? 'sm3' : 'sha256';
  if (options.digestAlgorithm !== undefined && options.digestAlgorithm !== digestAlgorithm) {
    throw new SealingError(
      'INVALID_INPUT',
      keyType === 'sm2'
        ? `digestAlgorithm "${options.digestAlgorithm}" is for RSA and ECDSA keys; an SM2 key signs with SM3 (GM/T 0010). Drop the option or pass 'sm3'.`
        : `digestAlgorithm "${options.digestAlgorithm}" is for SM2 keys; this ${keyType.toUpperCase()} key signs with SHA-256. Drop the option or pass 'sha256'.`,
      { details: { keyType, digestAlgorithm: options.digestAlgorithm } },
    );
  }
  const sm2Key = sm2 ? sm2KeyOf(privateKey) : undefined;

  // The signer certificate is the one whose public key matches the private key; files often list the CA first.
  const parsed = certificates.map((der) => ({ der, x509: parseCertificate(der) }));
  const signer = parsed.find((c) => matches(c.x509, privateKey, sm2Key));
  if (!signer) {
    throw new SealingError(
      'CERTIFICATE_KEY_MISMATCH',
      'The private key does not belong to the certificate: none of the supplied certificates has its public key. Pair the key with the certificate issued for it.',
      { details: { certificates: parsed.map((c) => c.x509.subject.replaceAll('\n', ',')) } },
    );
  }

  const warnings: string[] = [];
  const now = options.now ?? new Date();
  const notBefore = new Date(signer.x509.validFrom);
  const notAfter = new Date(signer.x509.validTo);
  if (now > notAfter || now < notBefore) {
    const expired = now > notAfter;
    const message = expired
      ? `The signing certificate expired on ${notAfter.toISOString()}; signatures made with it will not validate. Renew the certificate.`
      : `The signing certificate is not valid before ${notBefore.toISOString()}; check the machine clock or wait.`;
    if (options.validity === 'reject') {
      throw new SealingError(expired ? 'CERTIFICATE_EXPIRED' : 'CERTIFICATE_NOT_YET_VALID', message);
    }
    warnings.push(message);
  }
  const { issuerDer, serialNumberDer } = issuerAndSerial(signer.der);
  const curveSize = keyType === 'ec' ? ecFieldBytes(privateKey) : 0;
  return {
    privateKey,
    keyType,
    digestAlgorithm,
    ...(sm2Key ? { sm2Key } : {}),
    certificate: signer.der,
    chain: parsed.filter((c) => c !== signer).map((c) => c.der),
    subject: signer.x509.subject.split('\n').reverse().join(','),
    commonName: /^CN=(.*)$/m.exec(signer.x509.subject)?.[1],
    notBefore,
    notAfter,
    warnings,
    issuerDer,
    serialNumberDer,
    certificateSha256: createHash('sha256').update(signer.der).digest(),
    maxSignatureLength:
      keyType === 'rsa'
        ? Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8)
        : keyType === 'sm2'
          ? SM2_MAX_SIGNATURE_LENGTH
          : 9 + 2 * (curveSize + 1),
  };
}

/**
 * Whether `x509` carries the public key of `privateKey`. For SM2 the points are compared directly: OpenSSL may hold
 * the certificate's key as "EC" and a generated private key as "SM2" (or the reverse), which its own check can refuse.
 */
function matches(x509: X509Certificate, privateKey: KeyObject, sm2Key: Sm2Key | undefined): boolean {
  if (!sm2Key) return x509.checkPrivateKey(privateKey);
  if (!isSm2Key(x509.publicKey)) return false;
  return Buffer.from(sm2KeyOf(x509.publicKey).publicPoint).equals(sm2Key.publicPoint);
}

function parseCertificate(der: Uint8Array): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new SealingError('CERTIFICATE_INVALID', 'A supplied certificate is not a readable X.509 certificate.', {
      cause,
    });
  }
}

/** Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?, serialNumber, signature, issuer, … }, … } */
export function issuerAndSerial(cert: Uint8Array): { issuerDer: Uint8Array; serialNumberDer: Uint8Array } {
  const tbs = readChildren(cert, readTlv(cert, 0))[0];
  if (!tbs) throw new SealingError('CERTIFICATE_INVALID', 'The certificate has no tbsCertificate.');
  const fields = readChildren(cert, tbs);
  const i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[i];
  const issuer = fields[i + 2];
  if (!serial || !issuer) throw new SealingError('CERTIFICATE_INVALID', 'The certificate is truncated.');
  return { issuerDer: slice(cert, issuer), serialNumberDer: slice(cert, serial) };
}

function ecFieldBytes(key: KeyObject): number {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return 32;
  if (curve === 'secp384r1') return 48;
  if (curve === 'secp521r1') return 66;
  throw new SealingError('CERTIFICATE_INVALID', `Unsupported EC curve "${curve}": use P-256 or P-384.`);
}

function pemBlocks(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}
