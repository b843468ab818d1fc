/**
 * RSA test certificates shaped like CFCA's platform certificate (C=CN, O, OU…, CN such as
 * `AnxinSign@<platform>@<org code>@1`), for tests, demos and the local emulator: request signatures, mutual TLS
 * client certificates, and a small CA to issue TLS server and client certificates from. Built with
 * @peculiar/asn1-x509 and signed with node:crypto, like adapter-local's test identities; unlike those, they can form
 * a chain and carry TLS names. No real CA vouches for them: never use one in production.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { ValidationError } from '@sealflow/core';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

/** Options of {@link createCfcaTestCertificate}. */
export interface CfcaTestCertificateOptions {
  /** e.g. `AnxinSign@某某消费金融@91310000MA1K00000X@1`; Chinese text is kept as UTF-8. */
  commonName: string;
  /** Default `CFCA`, as in CFCA's platform certificates. */
  organization?: string;
  /** Default `['AnxinSign', 'Organizational-1']`. */
  organizationalUnits?: readonly string[];
  /** Default `CN`. */
  country?: string;
  /** Issue a CA certificate (to issue TLS server and client certificates from). Default false. */
  isCa?: boolean;
  /** Host names and IP addresses for a TLS server certificate (subjectAltName), e.g. `['localhost', '127.0.0.1']`. */
  subjectAltNames?: readonly string[];
  /** The CA that signs this certificate; self-signed when omitted. */
  issuer?: CfcaTestCertificate;
  /** Validity from now in days; negative gives an expired certificate. Default 365. */
  validDays?: number;
  /** RSA modulus length. Default 2048. */
  modulusLength?: number;
}

/** A certificate and its private key in the forms node:crypto, node:tls and the CFCA client accept. */
export interface CfcaTestCertificate {
  certificatePem: string;
  /** The certificate DER (same as in certificatePem). */
  certificate: Uint8Array;
  /** Unencrypted PKCS#8 PEM. */
  privateKeyPem: string;
  privateKey: KeyObject;
  /** The subject Name DER, which certificates issued by this one carry as their issuer. */
  subject: Uint8Array;
}

const DAY_MS = 86_400_000;

/**
 * Make an RSA certificate and key for tests: self-signed by default, or issued by `issuer` (a certificate made with
 * `isCa: true`). Never use one in production: no real CA vouches for it.
 */
export function createCfcaTestCertificate(options: CfcaTestCertificateOptions): CfcaTestCertificate {
  if (!options.commonName) throw new ValidationError('createCfcaTestCertificate: commonName is required.');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 });

  const rdn = (type: string, value: AttributeValue) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]);
  const subject = new Name([
    rdn('2.5.4.6', new AttributeValue({ printableString: options.country ?? 'CN' })),
    rdn('2.5.4.10', new AttributeValue({ utf8String: options.organization ?? 'CFCA' })),
    ...(options.organizationalUnits ?? ['AnxinSign', 'Organizational-1']).map((ou) =>
      rdn('2.5.4.11', new AttributeValue({ utf8String: ou })),
    ),
    rdn('2.5.4.3', new AttributeValue({ utf8String: options.commonName })),
  ]);
  const subjectDer = new Uint8Array(AsnConvert.serialize(subject));
  const issuerName = options.issuer ? AsnConvert.parse(options.issuer.subject, Name) : subject;
  const signingKey = options.issuer?.privateKey ?? privateKey;

  const notAfter = new Date(Date.now() + (options.validDays ?? 365) * DAY_MS);
  const notBefore = new Date(Math.min(Date.now(), notAfter.getTime()) - DAY_MS);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, no leading zero byte

  const extensions = options.isCa
    ? [
        extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
        extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ]
    : [
        extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
        extension(
          id_ce_keyUsage,
          true,
          new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation | KeyUsageFlags.keyEncipherment),
        ),
        extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
      ];
  if (options.subjectAltNames?.length) {
    const names = options.subjectAltNames.map((name) =>
      isIP(name) ? new GeneralName({ iPAddress: name }) : new GeneralName({ dNSName: name }),
    );
    extensions.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
  }

  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: signatureAlgorithm,
    issuer: issuerName,
    subject,
    validity: new Validity({ notBefore, notAfter }),
    subjectPublicKeyInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  });
  const signature = sign('sha256', new Uint8Array(AsnConvert.serialize(tbs)), signingKey);
  const certificate = new Uint8Array(
    AsnConvert.serialize(
      new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue: toArrayBuffer(signature) }),
    ),
  );
  return {
    certificatePem: toPem('CERTIFICATE', certificate),
    certificate,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    subject: subjectDer,
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
