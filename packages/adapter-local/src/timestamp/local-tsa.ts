/**
 * A time-stamping authority in process, for tests and offline demos: its own root certificate and a TSA certificate
 * under it (extendedKeyUsage timeStamping, critical, as RFC 3161 requires), answering RFC 3161 requests with tokens
 * that `openssl ts -verify` accepts. Its tokens prove nothing to anyone else: no one trusts its root. Production
 * uses `httpTimestampAuthority` with a TSA the relying parties trust.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { type Clock, systemClock, type TimestampAuthority } from '@sealflow/core';
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
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
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
import * as asn1js from 'asn1js';
import { OID } from '../cms.js';
import { CmsFormatError } from '../cms-reader.js';
import { encode, RawDer } from '../der.js';
import { loadSigningIdentity, type SigningIdentity } from '../signing-identity.js';
import { acceptResponse } from './http-tsa.js';
import { encodeTimestampQuery, messageImprint, parseTimestampQuery, sha, TSA_OID } from './rfc3161.js';
import { verifyTimestampToken } from './verify-token.js';

/** How {@link createLocalTimestampAuthority} makes its certificates and tells time. */
export interface LocalTimestampAuthorityOptions {
  /** Name in errors and reports. Default `local-tsa`. */
  name?: string;
  /** The TSA certificate's common name. Default `sealflow local TSA`. */
  commonName?: string;
  /** Days the TSA certificate stays valid from now; a negative number makes an already expired one (for tests). */
  validDays?: number;
  /** Where genTime comes from. Default the system clock. */
  clock?: Clock;
  /** The policy OID written into tokens that do not ask for one. */
  policy?: string;
  /**
   * Sign tokens with this certificate and key instead of fresh ones: a TSA certificate (critical extendedKeyUsage
   * timeStamping) issued by your own test CA, say, so that its revocation can be checked too. Its chain is embedded
   * in every token, and the chain's last certificate (or the certificate itself) is `rootCertificate`.
   * `commonName` and `validDays` do not apply then.
   */
  identity?: SigningIdentity;
}

/** A local TSA: the port, plus its certificates and the raw RFC 3161 responder (to serve over HTTP in tests). */
export interface LocalTimestampAuthority extends TimestampAuthority {
  /** The TSA certificate, DER. */
  readonly certificate: Uint8Array;
  /** The root that issued it, DER: the trust anchor for verifiers (`openssl ts -verify -CAfile`). */
  readonly rootCertificate: Uint8Array;
  /** The same root as PEM, for `openssl ts -verify -CAfile` and `trustAnchors`. */
  readonly rootCertificatePem: string;
  /** Answers a DER TimeStampReq with a DER TimeStampResp, exactly as an HTTP TSA would. */
  respond(query: Uint8Array): Uint8Array;
}

/** An example policy arc; real TSAs publish their own policy OID. */
const DEFAULT_POLICY = '1.3.6.1.4.1.4146.1.2.999';

/**
 * Creates a TSA with fresh keys and certificates, for tests and offline demos only: nobody trusts its root, so its
 * tokens prove nothing outside the process that made it.
 */
export function createLocalTimestampAuthority(options: LocalTimestampAuthorityOptions = {}): LocalTimestampAuthority {
  const name = options.name ?? 'local-tsa';
  const clock = options.clock ?? systemClock;
  const day = 86_400_000;
  const now = Date.now();
  let identity: SigningIdentity;
  let rootCertificate: Uint8Array;
  if (options.identity) {
    identity = options.identity;
    rootCertificate = identity.chain.at(-1) ?? identity.certificate;
  } else {
    const root = makeCertificate({
      subject: 'sealflow local TSA root',
      notBefore: new Date(now - 3650 * day),
      notAfter: new Date(now + 3650 * day),
      ca: true,
    });
    const validDays = options.validDays ?? 365;
    const notAfter = new Date(now + validDays * day);
    const leaf = makeCertificate({
      subject: options.commonName ?? 'sealflow local TSA',
      notBefore: new Date(Math.min(now, notAfter.getTime()) - 30 * day),
      notAfter,
      ca: false,
      issuer: root,
    });
    identity = loadSigningIdentity({ certificatePem: pem(leaf.certificate), privateKeyPem: leaf.keyPem });
    rootCertificate = root.certificate;
  }
  const rootCertificatePem = pem(rootCertificate);

  const respond = (queryDer: Uint8Array): Uint8Array => {
    let query: ReturnType<typeof parseTimestampQuery>;
    try {
      query = parseTimestampQuery(queryDer);
    } catch (error) {
      if (!(error instanceof CmsFormatError)) throw error;
      return rejection(error.message.includes('hash algorithm') ? 0 : 2);
    }
    const tstInfo = encodeTstInfo(query, options.policy ?? DEFAULT_POLICY, new Date(clock.now()));
    const token = signToken(identity, tstInfo, query.certReq);
    return encode(
      new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [new asn1js.Integer({ value: 0 })] }), token] }),
    );
  };

  return {
    name,
    certificate: identity.certificate,
    rootCertificate,
    rootCertificatePem,
    respond,
    async timestamp(digest, { hashAlgorithm }) {
      const query = encodeTimestampQuery(digest, { hashAlgorithm });
      return acceptResponse(respond(query.der), query, digest, hashAlgorithm, name);
    },
    async verify(token, digest) {
      return verifyTimestampToken(token, digest, {
        trustAnchors: [rootCertificate],
        now: () => new Date(clock.now()),
      });
    },
  };
}

/** TimeStampResp with PKIStatus rejection and one failInfo bit (0 badAlg, 2 badRequest). */
function rejection(failBit: number): Uint8Array {
  const bits = new Uint8Array([0x80 >> failBit]);
  return encode(
    new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [
            new asn1js.Integer({ value: 2 }),
            new asn1js.Sequence({ value: [new asn1js.Utf8String({ value: 'request not understood' })] }),
            new asn1js.BitString({ valueHex: bits, unusedBits: 7 - failBit }),
          ],
        }),
      ],
    }),
  );
}

function encodeTstInfo(query: ReturnType<typeof parseTimestampQuery>, policy: string, genTime: Date): Uint8Array {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and minimal
  const fields: asn1js.BaseBlock[] = [
    new asn1js.Integer({ value: 1 }),
    new asn1js.ObjectIdentifier({ value: query.policy ?? policy }),
    messageImprint(query.hashAlgorithm, query.digest),
    new asn1js.Integer({ valueHex: serial }),
    new RawDer(generalizedTime(genTime)),
    new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }), // accuracy: one second
  ];
  if (query.nonce) fields.push(new RawDer(Uint8Array.from([0x02, query.nonce.length, ...query.nonce])));
  return encode(new asn1js.Sequence({ value: fields }));
}

/** GeneralizedTime in UTC with milliseconds only when there are some (RFC 3161 forbids trailing zeros). */
function generalizedTime(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const ms = d.getUTCMilliseconds() ? `.${p(d.getUTCMilliseconds(), 3).replace(/0+$/, '')}` : '';
  const text = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}${ms}Z`;
  return Uint8Array.from([0x18, text.length, ...Buffer.from(text, 'latin1')]);
}

/** The TimeStampToken: SignedData over the TSTInfo, signed attributes with ESS signing-certificate-v2. */
function signToken(identity: SigningIdentity, tstInfo: Uint8Array, includeCertificate: boolean): asn1js.BaseBlock {
  const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
  const set = (...value: asn1js.BaseBlock[]) => new asn1js.Set({ value });
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
  const context = (tagNumber: number, value: asn1js.BaseBlock[]) =>
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value });
  const attribute = (type: string, value: asn1js.BaseBlock) => encode(seq(oid(type), set(value)));

  const issuerSerial = seq(seq(context(4, [new RawDer(identity.issuerDer)])), new RawDer(identity.serialNumberDer));
  const attrs = [
    attribute(OID.contentType, oid(TSA_OID.tstInfo)),
    attribute(OID.messageDigest, new asn1js.OctetString({ valueHex: sha('sha256', tstInfo) })),
    attribute(
      TSA_OID.signingCertificateV2,
      seq(seq(seq(new asn1js.OctetString({ valueHex: identity.certificateSha256 }), issuerSerial))),
    ),
  ].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const signedAttrsSet = encode(set(...attrs.map((a) => new RawDer(a))));
  const signature =
    identity.keyType === 'rsa'
      ? sign('sha256', signedAttrsSet, identity.privateKey)
      : sign('sha256', signedAttrsSet, { key: identity.privateKey, dsaEncoding: 'der' });
  const signerInfo = seq(
    new asn1js.Integer({ value: 1 }),
    seq(new RawDer(identity.issuerDer), new RawDer(identity.serialNumberDer)),
    seq(oid(OID.sha256), new asn1js.Null()),
    context(
      0,
      attrs.map((a) => new RawDer(a)),
    ),
    identity.keyType === 'rsa' ? seq(oid(OID.rsaEncryption), new asn1js.Null()) : seq(oid(OID.ecdsaWithSHA256)),
    new asn1js.OctetString({ valueHex: signature }),
  );
  const signedData = seq(
    new asn1js.Integer({ value: 3 }), // version 3: the content is not id-data
    set(seq(oid(OID.sha256), new asn1js.Null())),
    seq(oid(TSA_OID.tstInfo), context(0, [new asn1js.OctetString({ valueHex: tstInfo })])),
    ...(includeCertificate
      ? [
          context(
            0,
            [identity.certificate, ...identity.chain].map((c) => new RawDer(c)),
          ),
        ]
      : []),
    set(signerInfo),
  );
  return seq(oid(OID.signedData), context(0, [signedData]));
}

// ---------------------------------------------------------------------------------------------- certificates

interface MadeCertificate {
  certificate: Uint8Array;
  name: Name;
  privateKey: KeyObject;
  keyPem: string;
}

function makeCertificate(spec: {
  subject: string;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  issuer?: MadeCertificate;
}): MadeCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rdn = (type: string, value: AttributeValue) =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]);
  const name = new Name([
    rdn('2.5.4.6', new AttributeValue({ printableString: 'CN' })),
    rdn('2.5.4.10', new AttributeValue({ utf8String: 'sealflow test' })),
    rdn('2.5.4.3', new AttributeValue({ utf8String: spec.subject })),
  ]);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSHA256 });
  const extension = (extnID: string, critical: boolean, value: object) =>
    new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  const extensions = spec.ca
    ? [
        extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
        extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ]
    : [
        extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
        extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation)),
        extension(id_ce_extKeyUsage, true, new ExtendedKeyUsage([TSA_OID.timeStamping])),
      ];
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: signatureAlgorithm,
    issuer: spec.issuer?.name ?? name,
    subject: name,
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subjectPublicKeyInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  });
  const signature = sign('sha256', new Uint8Array(AsnConvert.serialize(tbs)), {
    key: spec.issuer?.privateKey ?? privateKey,
    dsaEncoding: 'der',
  });
  const certificate = new Uint8Array(
    AsnConvert.serialize(
      new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue: toArrayBuffer(signature) }),
    ),
  );
  return {
    certificate,
    name,
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
