/**
 * CMS SignedData for PAdES baseline B (`/SubFilter /ETSI.CAdES.detached`), built with asn1js over node:crypto.
 *
 * - detached (no eContent), SHA-256 with RSA PKCS#1 v1.5 or ECDSA; or SM3 with SM2 (GM/T 0010: digestAlgorithm sm3,
 *   signatureAlgorithm sm2sign-with-sm3, the signature an SM2 (r, s) with the default user id);
 * - signed attributes: contentType, messageDigest, ESS signing-certificate-v2 (CAdES requires it). No signingTime:
 *   PAdES forbids it for ETSI.CAdES.detached; the time goes into the signature dictionary's /M;
 * - the signed attributes are a DER SET OF, so they are sorted by their encodings before signing;
 * - the certificates and the issuer Name are inserted as `RawDer`: the bytes from the certificate, never re-encoded.
 */
import { sign as cryptoSign, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import { encode, RawDer } from './der.js';
import type { SigningIdentity } from './signing-identity.js';
import { SM_OID, sm2Sign } from './sm2.js';

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  sm3: SM_OID.sm3,
  sm2WithSm3: SM_OID.sm2WithSm3,
} as const;

const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
const seq = (...value: asn1js.BaseBlock[]) => new asn1js.Sequence({ value });
const set = (...value: asn1js.BaseBlock[]) => new asn1js.Set({ value });
const context = (tagNumber: number, value: asn1js.BaseBlock[]) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value });

function attribute(type: string, value: asn1js.BaseBlock): Uint8Array {
  return encode(seq(oid(type), set(value)));
}

/** DER SET OF ordering: by encoding, as unsigned bytes, shorter first on a common prefix. */
function compareDer(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The per-identity part that does not change between seals (ESS attribute, certificates, sid, algorithms). */
export interface CmsTemplate {
  readonly essAttribute: Uint8Array;
  readonly contentTypeAttribute: Uint8Array;
  readonly certificates: readonly Uint8Array[];
  readonly identity: SigningIdentity;
}

const templates = new WeakMap<SigningIdentity, CmsTemplate>();

function templateFor(identity: SigningIdentity): CmsTemplate {
  let t = templates.get(identity);
  if (!t) {
    // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256 (omitted), certHash, issuerSerial IssuerSerial }
    // IssuerSerial ::= SEQUENCE { issuer GeneralNames (directoryName [4] EXPLICIT Name), serialNumber }
    const issuerSerial = seq(seq(context(4, [new RawDer(identity.issuerDer)])), new RawDer(identity.serialNumberDer));
    const essCertId = seq(new asn1js.OctetString({ valueHex: identity.certificateSha256 }), issuerSerial);
    t = {
      identity,
      essAttribute: attribute(OID.signingCertificateV2, seq(seq(essCertId))),
      contentTypeAttribute: attribute(OID.contentType, oid(OID.data)),
      certificates: [identity.certificate, ...identity.chain],
    };
    templates.set(identity, t);
  }
  return t;
}

/**
 * For RSA every variable part has a fixed length (a 32-byte digest, a modulus-sized PKCS#1 v1.5 signature), so the
 * whole encoding is built once with marker bytes and each seal only patches the digest and the signature in (the
 * asn1js build was ~10% of a seal). Null when the markers cannot be located unambiguously (then: full build).
 */
interface RsaLayout {
  signedAttrsSet: Uint8Array;
  attrsDigestAt: number;
  cms: Uint8Array;
  cmsDigestAt: number;
  cmsSignatureAt: number;
  signatureLength: number;
}

const rsaLayouts = new WeakMap<SigningIdentity, RsaLayout | null>();

function rsaLayoutFor(identity: SigningIdentity): RsaLayout | null {
  let layout = rsaLayouts.get(identity);
  if (layout === undefined) {
    const digestMarker = randomBytes(32);
    const signatureMarker = randomBytes(identity.maxSignatureLength);
    const built = encodeCades(identity, digestMarker, () => signatureMarker);
    const once = (hay: Buffer, needle: Uint8Array) => {
      const at = hay.indexOf(needle);
      return at >= 0 && hay.indexOf(needle, at + 1) < 0 ? at : -1;
    };
    const attrs = Buffer.from(built.signedAttrsSet);
    const cms = Buffer.from(built.cms);
    const attrsDigestAt = once(attrs, digestMarker);
    const cmsDigestAt = once(cms, digestMarker);
    const cmsSignatureAt = once(cms, signatureMarker);
    layout =
      attrsDigestAt < 0 || cmsDigestAt < 0 || cmsSignatureAt < 0
        ? null
        : {
            signedAttrsSet: attrs,
            attrsDigestAt,
            cms,
            cmsDigestAt,
            cmsSignatureAt,
            signatureLength: signatureMarker.length,
          };
    rsaLayouts.set(identity, layout);
  }
  return layout;
}

/**
 * The DER of a detached CAdES SignedData ContentInfo over content whose digest is `digest`: its SHA-256, or its SM3
 * for an SM2 identity (`identity.digestAlgorithm`).
 */
export function buildCadesSignature(identity: SigningIdentity, digest: Uint8Array): Uint8Array {
  const layout = identity.keyType === 'rsa' && digest.length === 32 ? rsaLayoutFor(identity) : null;
  if (layout) {
    const attrs = new Uint8Array(layout.signedAttrsSet);
    attrs.set(digest, layout.attrsDigestAt);
    const signature = cryptoSign('sha256', attrs, identity.privateKey);
    if (signature.length === layout.signatureLength) {
      const out = new Uint8Array(layout.cms);
      out.set(digest, layout.cmsDigestAt);
      out.set(signature, layout.cmsSignatureAt);
      return out;
    }
  }
  return encodeCades(identity, digest, (signedAttrsSet) => {
    if (identity.keyType === 'rsa') return cryptoSign('sha256', signedAttrsSet, identity.privateKey);
    if (identity.keyType === 'sm2' && identity.sm2Key) return sm2Sign(identity.sm2Key, signedAttrsSet);
    return cryptoSign('sha256', signedAttrsSet, { key: identity.privateKey, dsaEncoding: 'der' });
  }).cms;
}

function encodeCades(
  identity: SigningIdentity,
  digest: Uint8Array,
  sign: (signedAttrsSet: Uint8Array) => Uint8Array,
): { signedAttrsSet: Uint8Array; cms: Uint8Array } {
  const t = templateFor(identity);
  const attrs = [
    t.contentTypeAttribute,
    attribute(OID.messageDigest, new asn1js.OctetString({ valueHex: digest })),
    t.essAttribute,
  ].sort(compareDer);

  // The signature covers the attributes encoded as a SET (tag 0x31); in SignerInfo they carry [0] IMPLICIT (0xA0).
  const signedAttrsSet = encode(set(...attrs.map((a) => new RawDer(a))));
  const signature = sign(signedAttrsSet);

  const sm2 = identity.keyType === 'sm2';
  const digestAlg = () => seq(oid(sm2 ? OID.sm3 : OID.sha256), new asn1js.Null());
  // RFC 4055 says sha256WithRSA parameters are NULL; RFC 5758 says ECDSA parameters are absent; GM/T 0010 names the
  // SM2 signature sm2sign-with-sm3 without parameters, as OpenSSL writes it in certificates.
  const signatureAlg =
    identity.keyType === 'rsa'
      ? seq(oid(OID.rsaEncryption), new asn1js.Null())
      : seq(oid(sm2 ? OID.sm2WithSm3 : OID.ecdsaWithSHA256));
  const signerInfo = seq(
    new asn1js.Integer({ value: 1 }),
    seq(new RawDer(identity.issuerDer), new RawDer(identity.serialNumberDer)),
    digestAlg(),
    context(
      0,
      attrs.map((a) => new RawDer(a)),
    ),
    signatureAlg,
    new asn1js.OctetString({ valueHex: signature }),
  );
  const signedData = seq(
    new asn1js.Integer({ value: 1 }),
    set(digestAlg()),
    seq(oid(OID.data)),
    context(
      0,
      t.certificates.map((c) => new RawDer(c)),
    ),
    set(signerInfo),
  );
  return { signedAttrsSet, cms: encode(seq(oid(OID.signedData), context(0, [signedData]))) };
}

/** Upper bound of `buildCadesSignature`'s output size for this identity, used to size /Contents. */
export function maxCadesSignatureLength(identity: SigningIdentity): number {
  const certs = identity.certificate.length + identity.chain.reduce((n, c) => n + c.length, 0);
  // fixed structure + attributes (3 attrs, two issuer/serial copies) + signature; generous headroom on top.
  return certs + 2 * (identity.issuerDer.length + identity.serialNumberDer.length) + identity.maxSignatureLength + 600;
}
