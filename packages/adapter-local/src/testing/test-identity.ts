/**
 * Self-signed signing identities for demos and tests, with the same shape as a CFCA-style company certificate:
 * C=CN, O=<company, often Chinese>, CN=<signer>, key usage digitalSignature + nonRepudiation.
 * Built with @peculiar/asn1-x509 and signed with node:crypto (SM2 ones with the SM2-with-SM3 signer of sm2.ts). Never
 * use one in production: no CA vouches for it.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { SealingError } from '../errors.js';
import { writePkcs12 } from '../pkcs12.js';
import { loadSigningIdentity, type SigningIdentity } from '../signing-identity.js';
import { SM_OID, sm2KeyOf, sm2Sign } from '../sm2.js';

/** The subject, key type and validity of a test identity made by {@link createTestIdentity}. */
export interface TestIdentityOptions {
  commonName: string;
  /** The company, e.g. '某某消费金融股份有限公司'. */
  organization?: string;
  country?: string;
  /** 'rsa' (2048-bit, default), 'ec' (P-256) or 'sm2' (国密 SM2 key, certificate signed SM2-with-SM3). */
  keyType?: 'rsa' | 'ec' | 'sm2';
  /** Validity from now; a negative number gives an already expired certificate (for tests). Default 365. */
  validDays?: number;
  /** Password of the PKCS#12; random when omitted. */
  password?: string;
}

/** A test identity in the forms `loadSigningIdentity` accepts: PKCS#12 with its password, and PEM. */
export interface TestIdentity {
  pkcs12: Uint8Array;
  password: string;
  certificatePem: string;
  privateKeyPem: string;
  /** The certificate DER (same as in certificatePem). */
  certificate: Uint8Array;
}

/**
 * Makes a self-signed certificate and key shaped like a company signing certificate, for demos and tests. No CA
 * vouches for it, so validators will not trust it: never use one in production.
 */
export function createTestIdentity(options: TestIdentityOptions): TestIdentity {
  if (!options.commonName) throw new SealingError('INVALID_INPUT', 'createTestIdentity: commonName is required.');
  const keyType = options.keyType ?? 'rsa';
  const { privateKey, publicKey } =
    keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: keyType === 'sm2' ? 'SM2' : 'prime256v1' });

  const rdn = (type: string, value: AttributeValue) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]);
  const name = new Name([
    rdn('2.5.4.6', new AttributeValue({ printableString: options.country ?? 'CN' })),
    ...(options.organization ? [rdn('2.5.4.10', new AttributeValue({ utf8String: options.organization }))] : []),
    rdn('2.5.4.3', new AttributeValue({ utf8String: options.commonName })),
  ]);

  const day = 86_400_000;
  const notAfter = new Date(Date.now() + (options.validDays ?? 365) * day);
  const notBefore = new Date(Math.min(Date.now(), notAfter.getTime()) - day);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and without a leading zero byte

  const signatureAlgorithm =
    keyType === 'rsa'
      ? new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null })
      : new AlgorithmIdentifier({ algorithm: keyType === 'sm2' ? SM_OID.sm2WithSm3 : '1.2.840.10045.4.3.2' });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serial.buffer.slice(serial.byteOffset, serial.byteOffset + serial.byteLength) as ArrayBuffer,
    signature: signatureAlgorithm,
    issuer: name,
    subject: name,
    validity: new Validity({ notBefore, notAfter }),
    subjectPublicKeyInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions([
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation)),
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    ]),
  });
  const tbsDer = AsnConvert.serialize(tbs);
  const signature =
    keyType === 'sm2'
      ? sm2Sign(sm2KeyOf(privateKey), new Uint8Array(tbsDer))
      : sign('sha256', new Uint8Array(tbsDer), privateKey);
  const certificate = new Uint8Array(
    AsnConvert.serialize(
      new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue: toArrayBuffer(signature) }),
    ),
  );

  const password = options.password ?? randomBytes(9).toString('base64url');
  const encryptedPkcs8 = privateKey.export({
    type: 'pkcs8',
    format: 'der',
    cipher: 'aes-256-cbc',
    passphrase: password,
  });
  return {
    pkcs12: writePkcs12({ certificates: [certificate], encryptedPkcs8, password }),
    password,
    certificatePem: toPem('CERTIFICATE', certificate),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate,
  };
}

/** Extension values are the DER of the extension structure inside an OCTET STRING. */
function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** `createTestIdentity` loaded and ready to sign with: what demos and tests want in one call. */
export function createTestSigningIdentity(options: TestIdentityOptions): SigningIdentity {
  const generated = createTestIdentity(options);
  return loadSigningIdentity({ pkcs12: generated.pkcs12, password: generated.password });
}
