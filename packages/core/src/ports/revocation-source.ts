/**
 * The revocation-source port: where the proof that a certificate was not revoked comes from, for long-term
 * validation (PAdES baseline B-LT and B-LTA).
 *
 * A signature verifies forever, but whether its certificate could be trusted when it signed is a question about the
 * certificate's revocation status at that time. Certificate authorities answer it with OCSP responses (RFC 6960) and
 * certificate revocation lists (CRLs, RFC 5280); both are signed by the CA, so once fetched they can be stored in the
 * document (its Document Security Store) and checked years later, after the responder is gone or the CA has expired.
 *
 * Implementations: `httpRevocationSource()` in `@sealflow/adapter-local` asks the OCSP responder named in the
 * certificate's Authority Information Access (HTTP POST) and downloads the CRL from its CRL distribution point (HTTP
 * GET); `staticRevocationSource()` serves OCSP responses and CRLs the host already has (from its CA portal, say).
 *
 * ## Rules every implementation keeps
 * - **Checked before returned.** An OCSP response is returned only when its signature verifies (by the issuer, or by
 *   a responder certificate the issuer delegated with extendedKeyUsage OCSPSigning), it answers for this very
 *   certificate (its CertID: issuer name hash, issuer key hash, serial number) and it is current (thisUpdate not in
 *   the future, nextUpdate not past). A CRL is returned only when it is issued and signed by the certificate's issuer.
 *   Anything else is refused (`REVOCATION_RESPONSE_INVALID`, `REVOCATION_RESPONSE_MISMATCH`): stored in a document it
 *   would prove nothing.
 * - **A revoked status is data, not an error.** The answer "revoked at T" is returned like "good": whether the
 *   signature stands depends on whether it was made before T, which is the verifier's call.
 * - **Errors** are {@link RevocationError}s with a stable code and `retryable` set truthfully: a responder that is
 *   down, slow or answering 5xx/429 or OCSP `tryLater` is retryable (`REVOCATION_UNAVAILABLE`), after the
 *   implementation's own bounded retries. A signature stays a valid B-B/B-T signature when this fails; only the
 *   long-term validation data could not be added yet.
 */
import { SealflowError, type SealflowErrorOptions } from '../errors.js';

/** Revocation data for one certificate, as DER: what goes into a document's Document Security Store. */
export interface RevocationData {
  /** DER OCSPResponse structures (RFC 6960 §4.2.1), each checked against the certificate and its issuer. */
  ocspResponses: Uint8Array[];
  /** DER CertificateList structures (RFC 5280 §5.1), each issued and signed by the certificate's issuer. */
  crls: Uint8Array[];
}

/** A source of OCSP responses and CRLs for certificates. */
export interface RevocationSource {
  /** A short name for errors and reports, such as `http` or `static`. */
  readonly name: string;
  /**
   * Revocation data for `certificate` (DER), issued by `issuer` (DER). Resolves with at least one OCSP response or
   * CRL, each checked as the module documentation says; rejects with a {@link RevocationError}.
   */
  fetch(certificate: Uint8Array, issuer: Uint8Array): Promise<RevocationData>;
}

/**
 * Stable codes of {@link RevocationError}. Hosts branch on them, so they never change.
 * - INVALID_INPUT: a certificate could not be read, or an option is out of range.
 * - REVOCATION_NOT_AVAILABLE: the certificate names no OCSP responder and no CRL distribution point (and the source
 *   has no data of its own for it), so there is nowhere to ask.
 * - REVOCATION_UNAVAILABLE: the responder or CRL server could not be reached, timed out, or answered HTTP 5xx/429 or
 *   OCSP tryLater, after the source's retries (retryable).
 * - REVOCATION_HTTP_ERROR: another HTTP error, such as 404 for a wrong URL (not retryable).
 * - REVOCATION_RESPONSE_MALFORMED: the answer is not a DER OCSPResponse / CertificateList, or the responder answered
 *   an OCSP error status (malformedRequest, unauthorized, …).
 * - REVOCATION_RESPONSE_INVALID: the answer's signature does not verify, or it is out of date (nextUpdate passed,
 *   thisUpdate in the future).
 * - REVOCATION_RESPONSE_MISMATCH: the answer is about another certificate, or the CRL is another issuer's.
 */
export type RevocationErrorCode =
  | 'INVALID_INPUT'
  | 'REVOCATION_NOT_AVAILABLE'
  | 'REVOCATION_UNAVAILABLE'
  | 'REVOCATION_HTTP_ERROR'
  | 'REVOCATION_RESPONSE_MALFORMED'
  | 'REVOCATION_RESPONSE_INVALID'
  | 'REVOCATION_RESPONSE_MISMATCH';

/**
 * What revocation sources throw: a `SealflowError` with a stable {@link RevocationErrorCode}, `retryable` true only
 * for `REVOCATION_UNAVAILABLE`, and a message that says what to check (the responder URL, the certificate chain).
 */
export class RevocationError extends SealflowError {
  declare readonly code: RevocationErrorCode;
  constructor(code: RevocationErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, { ...options, retryable: code === 'REVOCATION_UNAVAILABLE' });
  }
}
