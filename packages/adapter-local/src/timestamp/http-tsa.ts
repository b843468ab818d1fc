/**
 * `httpTimestampAuthority`: the {@link TimestampAuthority} port over RFC 3161's HTTP transport (a POST of
 * `application/timestamp-query`, answered with `application/timestamp-reply`), for any TSA URL.
 */
import {
  TimestampError,
  type TimestampAuthority,
  type TimestampHashAlgorithm,
  type TimestampToken,
} from '@sealflow/core';
import { encodeTimestampQuery, parseTimestampToken, readTimestampResponse, type TimestampQuery } from './rfc3161.js';
import { type TimestampTrustOptions, verifyTimestampToken } from './verify-token.js';

/** Where the TSA is and how to ask it; the trust options decide what `verify` accepts. */
export interface HttpTimestampAuthorityOptions extends TimestampTrustOptions {
  /** The TSA's RFC 3161 endpoint, http or https. */
  url: string;
  /** Name in errors and reports; defaults to the URL's host. */
  name?: string;
  /** HTTP basic authentication, for TSAs sold by subscription. */
  basicAuth?: { username: string; password: string };
  /** Further request headers (an API key, say). */
  headers?: Record<string, string>;
  /** Send a random nonce and refuse answers without it (default true). */
  nonce?: boolean;
  /** Ask for the TSA certificate inside the token (default true); verifiers need it. */
  certReq?: boolean;
  /** Ask for a TSA policy (dotted OID); default: the TSA's own. */
  policy?: string;
  /** How long one request may take before it fails as TSA_UNAVAILABLE (retryable). Default 10 000 ms. */
  timeoutMs?: number;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

/**
 * A timestamp authority reached over HTTP. `timestamp` throws `TimestampError`: TSA_UNAVAILABLE (retryable) when the
 * TSA cannot be reached, times out or answers 5xx/429; TSA_HTTP_ERROR for other HTTP errors; TSA_REJECTED when it
 * refuses the request; TSA_RESPONSE_MISMATCH when its token is not for the digest or nonce sent.
 */
export function httpTimestampAuthority(options: HttpTimestampAuthorityOptions): TimestampAuthority {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch (cause) {
    throw new TimestampError('INVALID_INPUT', `The TSA url "${options.url}" is not a URL.`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TimestampError('INVALID_INPUT', `The TSA url must be http or https, not ${url.protocol}.`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TimestampError('INVALID_INPUT', 'timeoutMs must be a positive number of milliseconds.');
  }
  const name = options.name ?? url.host;
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = {
    ...options.headers,
    'content-type': 'application/timestamp-query',
    accept: 'application/timestamp-reply',
  };
  if (options.basicAuth) {
    const { username, password } = options.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  return {
    name,
    async timestamp(digest, { hashAlgorithm }) {
      const query = encodeTimestampQuery(digest, {
        hashAlgorithm,
        nonce: options.nonce,
        certReq: options.certReq,
        policy: options.policy,
      });
      let body: Uint8Array;
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers,
          body: query.der,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!response.ok) {
          const transient = response.status >= 500 || response.status === 429 || response.status === 408;
          throw new TimestampError(
            transient ? 'TSA_UNAVAILABLE' : 'TSA_HTTP_ERROR',
            transient
              ? `The TSA ${name} answered HTTP ${response.status}; try again later.`
              : `The TSA ${name} answered HTTP ${response.status}; check its URL and credentials.`,
            { details: { tsa: name, status: response.status } },
          );
        }
        body = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        if (error instanceof TimestampError) throw error;
        const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        throw new TimestampError(
          'TSA_UNAVAILABLE',
          timedOut
            ? `The TSA ${name} did not answer within ${timeoutMs} ms; try again later.`
            : `The TSA ${name} could not be reached (${error instanceof Error ? error.message : String(error)}); try again later.`,
          { cause: error, details: { tsa: name, timeoutMs } },
        );
      }
      return acceptResponse(body, query, digest, hashAlgorithm, name);
    },
    async verify(token, digest) {
      return verifyTimestampToken(token, digest, options);
    },
  };
}

/**
 * The token of a TSA's answer, refused (TSA_RESPONSE_MISMATCH) unless it is for exactly the digest, algorithm and
 * nonce asked for: a mixed-up or replayed answer would give the signature a timestamp over something else.
 */
export function acceptResponse(
  response: Uint8Array,
  query: TimestampQuery,
  digest: Uint8Array,
  hashAlgorithm: TimestampHashAlgorithm,
  name: string,
): TimestampToken {
  const token = readTimestampResponse(response, name);
  let parsed: ReturnType<typeof parseTimestampToken>;
  try {
    parsed = parseTimestampToken(token);
  } catch (cause) {
    throw new TimestampError(
      'TSA_RESPONSE_MALFORMED',
      `The TSA ${name} sent a token that cannot be read (${cause instanceof Error ? cause.message : String(cause)}).`,
      { cause, details: { tsa: name } },
    );
  }
  const mismatch = (what: string) =>
    new TimestampError(
      'TSA_RESPONSE_MISMATCH',
      `The TSA ${name} answered with a token for ${what} than the one asked for; it was refused. If this repeats, the TSA or a proxy in between is broken.`,
      { details: { tsa: name } },
    );
  if (parsed.hashAlgorithm !== hashAlgorithm || !Buffer.from(parsed.digest).equals(digest)) {
    throw mismatch('another digest');
  }
  if (query.nonce !== undefined && parsed.nonce !== query.nonce) throw mismatch('another nonce');
  const { digest: _d, tstInfo: _t, signer: _s, signerCertificate: _c, ...info } = parsed;
  return { ...info, token };
}
