/**
 * OCSP (RFC 6960) and CRL (RFC 5280) structures: building an OCSP request for a certificate, and checking what a
 * responder or a CRL says about it. Shared by the HTTP source, the static source, long-term validation and the
 * verifier, so a response is judged the same way when it is fetched and when it is read back out of a PDF years later.
 *
 * Names and keys are compared as the exact DER bytes sliced out of the certificates (never re-encoded), the way the
 * CMS code treats issuer names, so a Chinese DN cannot come out different after a round trip.
 */
import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { RevocationError } from '@sealflow/core';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityInfoAccessSyntax,
  Certificate,
  CertificateList,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  id_ad_ocsp,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { readChildren, readTlv, slice } from '../der.js';

/** What an OCSP response or CRL says about one certificate. */
export type RevocationStatus = 'good' | 'revoked' | 'unknown';

/** A checked answer about one certificate. */
export interface RevocationAnswer {
  kind: 'ocsp' | 'crl';
  status: RevocationStatus;
  /** When the certificate was revoked (status revoked only). */
  revokedAt: Date | undefined;
  /** thisUpdate: the time the status is known to be correct at. */
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Certificates that checking the answer needed besides the issuer (a delegated OCSP responder's). */
  certificates: Uint8Array[];
}

/** How strictly an answer's times are checked. */
export interface AnswerCheckOptions {
  /**
   * The instant the answer must be current at (thisUpdate ≤ now ≤ nextUpdate). When fetching this is now; when
   * reading an answer back from a document it is left out: an answer stored years ago is expected to be past its
   * nextUpdate, and what matters is what it said at the signing time.
   */
  now?: Date;
}

/** The parts of a certificate the revocation code needs, sliced from its DER. */
export interface CertificateParts {
  der: Uint8Array;
  x509: X509Certificate;
  /** DER of the issuer and subject Names. */
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** Serial number: the INTEGER's content bytes. */
  serial: Uint8Array;
  /** The subjectPublicKey BIT STRING's content without its unused-bits byte (what OCSP hashes). */
  publicKeyBits: Uint8Array;
  /** OCSP responder URLs (Authority Information Access) and CRL distribution point URLs. */
  ocspUrls: string[];
  crlUrls: string[];
  /** "CN=…,O=…" for messages. */
  subject: string;
}

const parts = new Map<string, CertificateParts>();

/** Parses `der` once per process (the same CA and signer certificates come back for every document). */
export function certificateParts(der: Uint8Array): CertificateParts {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const hit = parts.get(key);
  if (hit) return hit;
  let result: CertificateParts;
  try {
    const cert = readTlv(der, 0);
    const tbs = readChildren(der, cert)[0]!;
    const fields = readChildren(der, tbs);
    const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
    const serial = fields[offset]!;
    const issuer = fields[offset + 2]!;
    const subject = fields[offset + 4]!;
    const spki = fields[offset + 5]!;
    const bitString = readChildren(der, spki)[1]!;
    const parsed = AsnConvert.parse(der, Certificate);
    const extensions = parsed.tbsCertificate.extensions ?? [];
    const aia = extensions.find((e) => e.extnID === id_pe_authorityInfoAccess);
    const ocspUrls = aia
      ? AsnConvert.parse(aia.extnValue, AuthorityInfoAccessSyntax)
          .filter((d) => d.accessMethod === id_ad_ocsp && d.accessLocation.uniformResourceIdentifier)
          .map((d) => d.accessLocation.uniformResourceIdentifier!)
      : [];
    const cdp = extensions.find((e) => e.extnID === id_ce_cRLDistributionPoints);
    const crlUrls = cdp
      ? AsnConvert.parse(cdp.extnValue, CRLDistributionPoints).flatMap((point) =>
          (point.distributionPoint?.fullName ?? []).flatMap((n) =>
            n.uniformResourceIdentifier ? [n.uniformResourceIdentifier] : [],
          ),
        )
      : [];
    const x509 = new X509Certificate(der);
    result = {
      der,
      x509,
      issuerDer: slice(der, issuer),
      subjectDer: slice(der, subject),
      serial: der.subarray(serial.contentStart, serial.end),
      publicKeyBits: der.subarray(bitString.contentStart + 1, bitString.end),
      ocspUrls,
      crlUrls,
      subject: x509.subject.split('\n').reverse().join(','),
    };
  } catch (cause) {
    if (cause instanceof RevocationError) throw cause;
    throw new RevocationError(
      'INVALID_INPUT',
      'A certificate given for a revocation check is not a DER X.509 certificate.',
      {
        cause,
      },
    );
  }
  if (parts.size >= 128) parts.delete(parts.keys().next().value!);
  parts.set(key, result);
  return result;
}

/** True when `issuer`'s key signed `certificate` and names match: the chain link OCSP and CRLs are about. */
export function isIssuedBy(certificate: CertificateParts, issuer: CertificateParts): boolean {
  if (!Buffer.from(certificate.issuerDer).equals(issuer.subjectDer)) return false;
  try {
    return certificate.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

const sha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest();

/** A DER OCSPRequest for `certificate` (one request, SHA-1 CertID as RFC 6960 §4.1.1 and every responder accept). */
export function encodeOcspRequest(certificate: CertificateParts, issuer: CertificateParts): Uint8Array {
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId(certificate, issuer) })] }),
  });
  return new Uint8Array(AsnConvert.serialize(request));
}

function certId(certificate: CertificateParts, issuer: CertificateParts): CertID {
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: null }),
    issuerNameHash: new OctetString(sha1(issuer.subjectDer)),
    issuerKeyHash: new OctetString(sha1(issuer.publicKeyBits)),
    serialNumber: copy(certificate.serial),
  });
}

const CERT_ID_HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** Signature algorithms of OCSP responses and CRLs, as the digest node:crypto verifies with. */
const SIGNATURE_DIGESTS: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/**
 * Checks a DER OCSPResponse for `certificate`: a successful basic response, signed by the issuer or a responder it
 * delegated (extendedKeyUsage OCSPSigning, issued by the issuer), with a SingleResponse whose CertID names this
 * certificate, current at `options.now` when given. Throws a {@link RevocationError} otherwise.
 */
export function checkOcspResponse(
  der: Uint8Array,
  certificate: CertificateParts,
  issuer: CertificateParts,
  options: AnswerCheckOptions = {},
): RevocationAnswer {
  let response: OCSPResponse;
  try {
    response = AsnConvert.parse(der, OCSPResponse);
  } catch (cause) {
    throw new RevocationError('REVOCATION_RESPONSE_MALFORMED', 'The OCSP answer is not a DER OCSPResponse.', { cause });
  }
  if (response.responseStatus !== OCSPResponseStatus.successful) {
    const status = OCSPResponseStatus[response.responseStatus] ?? String(response.responseStatus);
    throw new RevocationError(
      status === 'tryLater' ? 'REVOCATION_UNAVAILABLE' : 'REVOCATION_RESPONSE_MALFORMED',
      `The OCSP responder answered "${status}" instead of a status for ${certificate.subject}.`,
      { details: { responseStatus: status } },
    );
  }
  const bytes = response.responseBytes;
  if (!bytes || bytes.responseType !== id_pkix_ocsp_basic) {
    throw new RevocationError('REVOCATION_RESPONSE_MALFORMED', 'The OCSP answer is not a basic OCSP response.');
  }
  const basicDer = new Uint8Array(bytes.response.buffer);
  let basic: BasicOCSPResponse;
  let tbs: Uint8Array;
  try {
    basic = AsnConvert.parse(basicDer, BasicOCSPResponse);
    tbs = slice(basicDer, readChildren(basicDer, readTlv(basicDer, 0))[0]!);
  } catch (cause) {
    throw new RevocationError('REVOCATION_RESPONSE_MALFORMED', 'The basic OCSP response cannot be read.', { cause });
  }

  // Who signed: the issuer itself, or a responder certificate carried in the response that the issuer delegated.
  const responderId = basic.tbsResponseData.responderID;
  const names = (c: CertificateParts) =>
    responderId.byKey
      ? sha1(c.publicKeyBits).equals(Buffer.from(responderId.byKey.buffer))
      : responderId.byName
        ? Buffer.from(AsnConvert.serialize(responderId.byName)).equals(c.subjectDer)
        : false;
  const carried = (basic.certs ?? []).map((c) => certificateParts(new Uint8Array(AsnConvert.serialize(c))));
  let signer: CertificateParts | undefined = names(issuer) ? issuer : undefined;
  const extra: Uint8Array[] = [];
  if (!signer) {
    signer = carried.find((c) => names(c) && isIssuedBy(c, issuer) && hasOcspSigning(c));
    if (!signer) {
      throw new RevocationError(
        'REVOCATION_RESPONSE_INVALID',
        `The OCSP response for ${certificate.subject} is signed neither by its issuer nor by a responder the issuer authorised (extendedKeyUsage OCSPSigning).`,
      );
    }
    extra.push(signer.der);
  }
  if (!verifySignature(basic.signatureAlgorithm.algorithm, tbs, signer, new Uint8Array(basic.signature))) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_INVALID',
      `The OCSP response for ${certificate.subject} does not verify with its responder's certificate (${signer.subject}).`,
    );
  }

  const single = basic.tbsResponseData.responses.find((r) => certIdMatches(r.certID, certificate, issuer));
  if (!single) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_MISMATCH',
      `The OCSP response is about another certificate than ${certificate.subject} (no CertID matches its issuer and serial number).`,
    );
  }
  const answer: RevocationAnswer = {
    kind: 'ocsp',
    status: single.certStatus.revoked ? 'revoked' : single.certStatus.good !== undefined ? 'good' : 'unknown',
    revokedAt: single.certStatus.revoked?.revocationTime,
    thisUpdate: single.thisUpdate,
    nextUpdate: single.nextUpdate,
    certificates: extra,
  };
  checkCurrent(answer, certificate, options, 'OCSP response');
  return answer;
}

function certIdMatches(id: CertID, certificate: CertificateParts, issuer: CertificateParts): boolean {
  const hash = CERT_ID_HASHES[id.hashAlgorithm.algorithm];
  if (!hash) return false;
  const h = (b: Uint8Array) => createHash(hash).update(b).digest();
  return (
    h(issuer.subjectDer).equals(Buffer.from(id.issuerNameHash.buffer)) &&
    h(issuer.publicKeyBits).equals(Buffer.from(id.issuerKeyHash.buffer)) &&
    Buffer.from(id.serialNumber).equals(certificate.serial)
  );
}

function hasOcspSigning(c: CertificateParts): boolean {
  const extension = AsnConvert.parse(c.der, Certificate).tbsCertificate.extensions?.find(
    (e) => e.extnID === id_ce_extKeyUsage,
  );
  return !!extension && AsnConvert.parse(extension.extnValue, ExtendedKeyUsage).includes(id_kp_OCSPSigning);
}

/**
 * Checks a DER CRL for `certificate`: issued (its issuer Name, byte for byte) and signed by `issuer`, current at
 * `options.now` when given; the certificate's serial number in its revoked list makes the status revoked.
 */
export function checkCrl(
  der: Uint8Array,
  certificate: CertificateParts,
  issuer: CertificateParts,
  options: AnswerCheckOptions = {},
): RevocationAnswer {
  let crl: CertificateList;
  let tbs: Uint8Array;
  let crlIssuer: Uint8Array;
  try {
    crl = AsnConvert.parse(der, CertificateList);
    const tbsTlv = readChildren(der, readTlv(der, 0))[0]!;
    tbs = slice(der, tbsTlv);
    const fields = readChildren(der, tbsTlv);
    const offset = fields[0]?.tag === 0x02 ? 1 : 0; // version is optional
    crlIssuer = slice(der, fields[offset + 1]!);
  } catch (cause) {
    throw new RevocationError('REVOCATION_RESPONSE_MALFORMED', 'The CRL is not a DER CertificateList.', { cause });
  }
  if (!Buffer.from(crlIssuer).equals(issuer.subjectDer) || !Buffer.from(certificate.issuerDer).equals(crlIssuer)) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_MISMATCH',
      `The CRL is issued by another CA than the issuer of ${certificate.subject}; it says nothing about that certificate.`,
    );
  }
  if (!verifySignature(crl.signatureAlgorithm.algorithm, tbs, issuer, new Uint8Array(crl.signature))) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_INVALID',
      `The CRL for ${certificate.subject} does not verify with its issuer's certificate (${issuer.subject}).`,
    );
  }
  const entry = crl.tbsCertList.revokedCertificates?.find((r) =>
    Buffer.from(r.userCertificate).equals(certificate.serial),
  );
  const answer: RevocationAnswer = {
    kind: 'crl',
    status: entry ? 'revoked' : 'good',
    revokedAt: entry?.revocationDate.getTime(),
    thisUpdate: crl.tbsCertList.thisUpdate.getTime(),
    nextUpdate: crl.tbsCertList.nextUpdate?.getTime(),
    certificates: [],
  };
  checkCurrent(answer, certificate, options, 'CRL');
  return answer;
}

/** The issuer Name (DER) a CRL claims, or undefined when it cannot be read: used to sort CRLs read from a document. */
export function crlIssuerDer(der: Uint8Array): Uint8Array | undefined {
  try {
    const fields = readChildren(der, readChildren(der, readTlv(der, 0))[0]!);
    return slice(der, fields[fields[0]?.tag === 0x02 ? 2 : 1]!);
  } catch {
    return undefined;
  }
}

// A responder's clock may run a little ahead of ours: thisUpdate up to five minutes in the future is accepted.
const CLOCK_SKEW_MS = 5 * 60_000;

function checkCurrent(
  answer: RevocationAnswer,
  certificate: CertificateParts,
  options: AnswerCheckOptions,
  what: string,
) {
  const { now } = options;
  if (!now) return;
  if (answer.thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_INVALID',
      `The ${what} for ${certificate.subject} is dated ${answer.thisUpdate.toISOString()}, after now (${now.toISOString()}); check the clocks.`,
    );
  }
  if (answer.nextUpdate && answer.nextUpdate.getTime() < now.getTime()) {
    throw new RevocationError(
      'REVOCATION_RESPONSE_INVALID',
      `The ${what} for ${certificate.subject} expired at its nextUpdate (${answer.nextUpdate.toISOString()}); the responder serves stale data.`,
    );
  }
}

function verifySignature(algorithm: string, data: Uint8Array, signer: CertificateParts, signature: Uint8Array) {
  const digest = SIGNATURE_DIGESTS[algorithm];
  if (!digest) return false;
  try {
    return cryptoVerify(digest, data, { key: signer.x509.publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

function copy(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}
