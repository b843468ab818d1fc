/**
 * Offline verification of an RFC 3161 TimeStampToken, shared by every timestamp authority in this package and by the
 * PDF verifier: imprint, the TSA's CMS signature over the TSTInfo, the signing-certificate attribute, the
 * certificate's purpose (critical extendedKeyUsage timeStamping, RFC 3161 §2.3) and validity, and, when trust
 * anchors are given, the chain up to one of them. Revocation is not checked: that needs the TSA's CRL or OCSP answer.
 */
import { verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { TimestampError, type TimestampVerification } from '@sealflow/core';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, ExtendedKeyUsage, id_ce_extKeyUsage } from '@peculiar/asn1-x509';
import { essCertificateHash, namesSigner, parseTimestampToken, SIGNER_DIGESTS, sha, TSA_OID } from './rfc3161.js';

/** Where a token's TSA certificate may come from, and what it must chain to. */
export interface TimestampTrustOptions {
  /**
   * Root (or pinned TSA) certificates, DER or PEM. When given, the TSA certificate must be one of them or chain to
   * one through the token's certificates and `certificates`; otherwise TSA_CERTIFICATE_UNTRUSTED.
   */
  trustAnchors?: readonly (Uint8Array | string)[];
  /** Further certificates (the TSA's own, intermediates), DER or PEM, for tokens that do not embed them. */
  certificates?: readonly (Uint8Array | string)[];
  /** The instant the TSA certificate must be valid at besides genTime; default now. */
  now?: () => Date;
}

/** Verifies `token` over `digest`; resolves with what it says, throws a `TimestampError` naming the first problem. */
export function verifyTimestampToken(
  token: Uint8Array,
  digest: Uint8Array,
  options: TimestampTrustOptions = {},
): TimestampVerification {
  const parsed = parseTimestampToken(token);
  if (!Buffer.from(parsed.digest).equals(digest)) {
    throw new TimestampError(
      'TIMESTAMP_IMPRINT_MISMATCH',
      'The timestamp token is over another digest than the one given: it timestamps different data.',
      { details: { hashAlgorithm: parsed.hashAlgorithm, serialNumber: parsed.serialNumber } },
    );
  }
  const extra = (options.certificates ?? []).flatMap(toDer);
  const certificate = parsed.signerCertificate ?? extra.find((cert) => namesSigner(cert, parsed.signer));
  if (!certificate) {
    throw new TimestampError(
      'TSA_CERTIFICATE_MISSING',
      "The timestamp token does not carry the TSA's certificate; request tokens with certReq, or configure the TSA certificate.",
    );
  }
  checkSignature(parsed, certificate);
  const x509 = new X509Certificate(certificate);
  checkPurpose(certificate);
  const now = options.now?.() ?? new Date();
  checkValidity(x509, parsed.genTime, 'at the time it stamped (genTime)');
  checkValidity(x509, now, 'now');
  const anchors = (options.trustAnchors ?? []).flatMap(toDer);
  if (anchors.length) checkChain(x509, [...parsed.signer.certificates, ...extra], anchors);
  const { digest: _digest, tstInfo: _tstInfo, signer: _signer, signerCertificate: _cert, ...info } = parsed;
  return { ...info, tsaName: subject(x509), certificate, anchored: anchors.length > 0 };
}

function checkSignature(parsed: ReturnType<typeof parseTimestampToken>, certificate: Uint8Array): void {
  const { signer } = parsed;
  const digestName = SIGNER_DIGESTS[signer.digestAlgorithm];
  const invalid = (why: string) =>
    new TimestampError('TIMESTAMP_SIGNATURE_INVALID', `The timestamp token does not verify: ${why}.`, {
      details: { serialNumber: parsed.serialNumber },
    });
  if (!digestName) throw invalid(`its signer uses an unsupported digest algorithm (${signer.digestAlgorithm})`);
  if (!signer.messageDigest || !sha(digestName, parsed.tstInfo).equals(signer.messageDigest)) {
    throw invalid('the TSTInfo was changed after the TSA signed it');
  }
  const signedAttrs = Buffer.from(signer.signedAttributes);
  signedAttrs[0] = 0x31; // [0] IMPLICIT → SET OF, as signed
  let ok = false;
  try {
    const key = new X509Certificate(certificate).publicKey;
    ok = cryptoVerify(digestName, signedAttrs, { key, dsaEncoding: 'der' }, signer.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw invalid("the TSA's signature does not verify with its certificate");
  const ess = essCertificateHash(signer);
  if (ess && !sha(ess.algorithm, certificate).equals(ess.hash)) {
    throw invalid('its signing-certificate attribute names another certificate than the one that signed');
  }
}

function checkPurpose(certificate: Uint8Array): void {
  const extension = AsnConvert.parse(certificate, Certificate).tbsCertificate.extensions?.find(
    (e) => e.extnID === id_ce_extKeyUsage,
  );
  const usages = extension ? AsnConvert.parse(extension.extnValue, ExtendedKeyUsage) : [];
  if (!extension?.critical || usages.length !== 1 || usages[0] !== TSA_OID.timeStamping) {
    throw new TimestampError(
      'TSA_CERTIFICATE_NOT_FOR_TIMESTAMPING',
      'The certificate that signed the timestamp is not a TSA certificate: RFC 3161 requires a critical extendedKeyUsage with timeStamping as its only purpose.',
    );
  }
}

function checkValidity(x509: X509Certificate, at: Date, when: string): void {
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (at.getTime() > notAfter.getTime()) {
    throw new TimestampError(
      'TSA_CERTIFICATE_EXPIRED',
      `The TSA certificate (${subject(x509)}) expired on ${notAfter.toISOString()} and was not valid ${when} (${at.toISOString()}); the token can no longer be trusted without long-term validation data.`,
      { details: { notAfter: notAfter.toISOString(), at: at.toISOString() } },
    );
  }
  if (at.getTime() < notBefore.getTime()) {
    throw new TimestampError(
      'TSA_CERTIFICATE_NOT_YET_VALID',
      `The TSA certificate (${subject(x509)}) is valid only from ${notBefore.toISOString()}, so not ${when} (${at.toISOString()}); check the clocks.`,
      { details: { notBefore: notBefore.toISOString(), at: at.toISOString() } },
    );
  }
}

function checkChain(leaf: X509Certificate, pool: readonly Uint8Array[], anchors: readonly Uint8Array[]): void {
  const anchorCerts = anchors.map((a) => new X509Certificate(a));
  const intermediates = pool.map((c) => new X509Certificate(c));
  const issuedBy = (child: X509Certificate, parent: X509Certificate) => {
    try {
      return child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      return false;
    }
  };
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (anchorCerts.some((a) => a.raw.equals(current.raw) || issuedBy(current, a))) return;
    const parent = intermediates.find((c) => !c.raw.equals(current.raw) && issuedBy(current, c));
    if (!parent) break;
    current = parent;
  }
  throw new TimestampError(
    'TSA_CERTIFICATE_UNTRUSTED',
    `The TSA certificate (${subject(leaf)}) does not chain to any configured trust anchor; add the TSA's root certificate to trustAnchors.`,
  );
}

function subject(x509: X509Certificate): string {
  return x509.subject.split('\n').reverse().join(',');
}

/** DER certificates from DER bytes or PEM text (a PEM may hold several). */
export function toDer(certificate: Uint8Array | string): Uint8Array[] {
  if (typeof certificate !== 'string') return [certificate];
  const blocks = [...certificate.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  if (!blocks.length) {
    throw new TimestampError('INVALID_INPUT', 'A certificate string must be PEM ("-----BEGIN CERTIFICATE-----").');
  }
  return blocks.map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}
