/**
 * The timestamp-authority port: trusted time from an RFC 3161 time-stamping authority (TSA, 时间戳服务).
 *
 * A signature made with the signer's own clock proves who signed, not when: the signing time in a PDF's /M is just
 * what the signing machine said. A timestamp token is the TSA's signed statement "this digest existed at genTime",
 * so a signature timestamp (PAdES baseline B-T) pins the signature to a time nobody at the signing party can move,
 * and keeps the signature provably made while the signer's certificate was valid.
 *
 * Implementations: `httpTimestampAuthority()` in `@sealflow/adapter-local` talks to any RFC 3161 TSA over HTTP
 * (`application/timestamp-query`); `createLocalTimestampAuthority()` in `@sealflow/adapter-local/testing` is a TSA
 * with its own self-made certificate for tests and offline demos. Both share one encoder and one verifier.
 *
 * ## Rules every implementation keeps
 * - **Digests in, tokens out.** `timestamp` gets the digest of the data, never the data: the TSA learns nothing about
 *   the document. The digest's length must fit its `hashAlgorithm` (32 bytes for sha256), else `INVALID_INPUT`.
 * - **A token is checked before it is returned.** The token's message imprint must be the digest and algorithm asked
 *   for, and its nonce (when one was sent) the nonce sent; a token for anything else is refused
 *   (`TSA_RESPONSE_MISMATCH`), because embedding it would make the signature's timestamp invalid.
 * - **Errors** are {@link TimestampError}s with a stable code and `retryable` set truthfully: the TSA being down, slow
 *   or answering HTTP 5xx/429 is retryable (`TSA_UNAVAILABLE`); the TSA refusing the request (PKIStatus rejection,
 *   `TSA_REJECTED`), answering garbage (`TSA_RESPONSE_MALFORMED`), the wrong token (`TSA_RESPONSE_MISMATCH`) or an HTTP
 *   4xx such as bad credentials (`TSA_HTTP_ERROR`) are not: the same request will fail the same way.
 * - **`verify` is offline.** It checks the token against the digest with the certificates in the token and the
 *   trust anchors the implementation was configured with; it never calls the TSA. It resolves with what the token
 *   says, or rejects with a {@link TimestampError} naming what is wrong (codes `TIMESTAMP_*` and `TSA_CERTIFICATE_*`).
 * - **Times** are `Date`s (the token's genTime is to the second or finer; `accuracyMs` says how far it may be off).
 */
import { SealflowError, type SealflowErrorOptions } from '../errors.js';

/** Digest algorithms a timestamp request may use. SHA-1 is not offered: TSAs and validators refuse it for new tokens. */
export type TimestampHashAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** Options of {@link TimestampAuthority.timestamp}. */
export interface TimestampRequestOptions {
  /** The algorithm that produced `digest`. */
  hashAlgorithm: TimestampHashAlgorithm;
}

/** What a timestamp token says, parsed from its TSTInfo and signer. */
export interface TimestampInfo {
  /** The time the TSA vouches for. */
  genTime: Date;
  /** How far genTime may be off, in milliseconds, when the TSA states it. */
  accuracyMs: number | undefined;
  /** The token's serial number as lower-case hex (unique per TSA, up to 160 bits, so not a JS number). */
  serialNumber: string;
  /** The TSA policy under which the token was issued (dotted OID). */
  policy: string;
  /** The TSA's name: the subject of its signing certificate ("CN=…,O=…,C=…"), or undefined when not embedded. */
  tsaName: string | undefined;
  /** The algorithm of the message imprint. */
  hashAlgorithm: TimestampHashAlgorithm;
  /** The nonce of the request, as lower-case hex, when there was one. */
  nonce: string | undefined;
}

/** A fresh token from {@link TimestampAuthority.timestamp}: the DER TimeStampToken and what it says. */
export interface TimestampToken extends TimestampInfo {
  /** The DER of the TimeStampToken (a CMS ContentInfo of SignedData over a TSTInfo), as embedded in signatures. */
  token: Uint8Array;
}

/** A token that {@link TimestampAuthority.verify} accepted. */
export interface TimestampVerification extends TimestampInfo {
  /** The TSA's signing certificate (DER), from the token or the configured certificates. */
  certificate: Uint8Array;
  /**
   * True when the TSA certificate chains to one of the trust anchors the implementation was configured with; false
   * when none were configured, so only the token's own signature and certificate were checked.
   */
  anchored: boolean;
}

/**
 * An RFC 3161 time-stamping authority: `timestamp` asks it for a token over a digest, `verify` checks a token offline.
 */
export interface TimestampAuthority {
  /** A short name for errors and reports, such as the TSA's host name or `local-tsa`. */
  readonly name: string;
  /**
   * Asks the TSA for a timestamp token over `digest` (computed with `options.hashAlgorithm`). Resolves only with a
   * token whose imprint (and nonce) match the request; rejects with a {@link TimestampError}.
   */
  timestamp(digest: Uint8Array, options: TimestampRequestOptions): Promise<TimestampToken>;
  /**
   * Checks that `token` is a valid timestamp over `digest`: well formed, imprint equal to `digest`, signed by a
   * certificate meant for timestamping (extendedKeyUsage timeStamping, critical) that was valid at genTime and is
   * valid at verification time, and, when trust anchors are configured, issued under one of them. Rejects with a
   * {@link TimestampError} naming the first problem found.
   */
  verify(token: Uint8Array, digest: Uint8Array): Promise<TimestampVerification>;
}

/**
 * Stable codes of {@link TimestampError}. Hosts branch on them, so they never change.
 * - INVALID_INPUT: the digest does not fit its algorithm, or an option is out of range.
 * - TSA_UNAVAILABLE: the TSA could not be reached, timed out, or answered HTTP 5xx/429 (retryable).
 * - TSA_HTTP_ERROR: the TSA answered another HTTP error, such as 401 for wrong credentials (not retryable).
 * - TSA_REJECTED: the TSA answered with a PKIStatus other than granted; `details.failInfo` lists its reasons.
 * - TSA_RESPONSE_MALFORMED: the answer is not a TimeStampResp.
 * - TSA_RESPONSE_MISMATCH: the token is for another digest, algorithm or nonce than the one asked for.
 * - TIMESTAMP_MALFORMED: a token given to `verify` cannot be read.
 * - TIMESTAMP_IMPRINT_MISMATCH: the token is valid but over another digest than the one given to `verify`.
 * - TIMESTAMP_SIGNATURE_INVALID: the TSA's signature over the token does not verify (the token was changed).
 * - TSA_CERTIFICATE_MISSING: the token does not carry the TSA certificate and none was configured.
 * - TSA_CERTIFICATE_EXPIRED / TSA_CERTIFICATE_NOT_YET_VALID: the TSA certificate was not valid at genTime, or is
 *   not valid at verification time.
 * - TSA_CERTIFICATE_NOT_FOR_TIMESTAMPING: the certificate lacks the critical extendedKeyUsage timeStamping that
 *   RFC 3161 requires.
 * - TSA_CERTIFICATE_UNTRUSTED: trust anchors were configured and the certificate does not chain to any of them.
 */
export type TimestampErrorCode =
  | 'INVALID_INPUT'
  | 'TSA_UNAVAILABLE'
  | 'TSA_HTTP_ERROR'
  | 'TSA_REJECTED'
  | 'TSA_RESPONSE_MALFORMED'
  | 'TSA_RESPONSE_MISMATCH'
  | 'TIMESTAMP_MALFORMED'
  | 'TIMESTAMP_IMPRINT_MISMATCH'
  | 'TIMESTAMP_SIGNATURE_INVALID'
  | 'TSA_CERTIFICATE_MISSING'
  | 'TSA_CERTIFICATE_EXPIRED'
  | 'TSA_CERTIFICATE_NOT_YET_VALID'
  | 'TSA_CERTIFICATE_NOT_FOR_TIMESTAMPING'
  | 'TSA_CERTIFICATE_UNTRUSTED';

/**
 * What timestamp authorities throw: a `SealflowError` with a stable {@link TimestampErrorCode}, `retryable` true only
 * for `TSA_UNAVAILABLE`, and a message that says what to check (the TSA URL, credentials, the certificate).
 */
export class TimestampError extends SealflowError {
  declare readonly code: TimestampErrorCode;
  constructor(code: TimestampErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, { ...options, retryable: code === 'TSA_UNAVAILABLE' });
  }
}
