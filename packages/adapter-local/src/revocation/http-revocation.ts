/**
 * `httpRevocationSource`: the {@link RevocationSource} port over the CA's own services: an OCSP request POSTed to the
 * responder named in the certificate's Authority Information Access (RFC 6960 Appendix A.1,
 * `application/ocsp-request`), and the CRL downloaded from its CRL distribution point (RFC 5280 §4.2.1.13, HTTP GET).
 *
 * `staticRevocationSource`: the same port over OCSP responses and CRLs the host already holds.
 */
import {
  type Clock,
  RevocationError,
  type RevocationData,
  type RevocationSource,
  type Scheduler,
  systemClock,
  systemScheduler,
} from '@sealflow/core';
import {
  type CertificateParts,
  certificateParts,
  checkCrl,
  checkOcspResponse,
  encodeOcspRequest,
} from './revocation-data.js';

/** How {@link httpRevocationSource} asks, and how long it waits. */
export interface HttpRevocationSourceOptions {
  /** Ask the OCSP responder named in the certificate (default true). */
  ocsp?: boolean;
  /** Download the CRL from the certificate's distribution point when OCSP gave no answer (default true). */
  crl?: boolean;
  /** Ask for the CRL even when OCSP answered, so the document carries both (default false). */
  alwaysCrl?: boolean;
  /** How long one request may take, in milliseconds (default 10 000). */
  timeoutMs?: number;
  /** Further attempts after a failed one that may succeed later (unreachable, timeout, 5xx/429, tryLater). Default 2. */
  retries?: number;
  /** Wait before the first retry, doubled for each further one (default 500 ms). */
  retryDelayMs?: number;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
  /** Time for checking that answers are current; default the system clock. */
  clock?: Clock;
  /** Waits between retries; default `setTimeout`. */
  scheduler?: Scheduler;
}

/**
 * A revocation source that asks the certificate's OCSP responder first and falls back to its CRL distribution point.
 * Each answer is checked (signature, certificate, currency) before it is returned. Rejects with a `RevocationError`:
 * REVOCATION_NOT_AVAILABLE when the certificate names neither service, REVOCATION_UNAVAILABLE (retryable) when the
 * services stayed down through the retries, or the first non-retryable problem (REVOCATION_HTTP_ERROR,
 * REVOCATION_RESPONSE_*).
 */
export function httpRevocationSource(options: HttpRevocationSourceOptions = {}): RevocationSource {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 500;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RevocationError('INVALID_INPUT', 'timeoutMs must be a positive number of milliseconds.');
  }
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new RevocationError('INVALID_INPUT', 'retries must be a whole number from 0 to 10.');
  }
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
    throw new RevocationError('INVALID_INPUT', 'retryDelayMs must be a non-negative number of milliseconds.');
  }
  const doFetch = options.fetch ?? fetch;
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const useOcsp = options.ocsp ?? true;
  const useCrl = options.crl ?? true;

  /** One HTTP exchange, with the transient failures as REVOCATION_UNAVAILABLE. */
  async function exchange(url: string, init: RequestInit, what: string): Promise<Uint8Array> {
    try {
      const response = await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) {
        const transient = response.status >= 500 || response.status === 429 || response.status === 408;
        throw new RevocationError(
          transient ? 'REVOCATION_UNAVAILABLE' : 'REVOCATION_HTTP_ERROR',
          transient
            ? `The ${what} at ${url} answered HTTP ${response.status}; try again later.`
            : `The ${what} at ${url} answered HTTP ${response.status}; check the certificate's URL.`,
          { details: { url, status: response.status } },
        );
      }
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (error instanceof RevocationError) throw error;
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new RevocationError(
        'REVOCATION_UNAVAILABLE',
        timedOut
          ? `The ${what} at ${url} did not answer within ${timeoutMs} ms; try again later.`
          : `The ${what} at ${url} could not be reached (${error instanceof Error ? error.message : String(error)}); try again later.`,
        { cause: error, details: { url, timeoutMs } },
      );
    }
  }

  /** `attempt` until it succeeds or fails for good, at most 1 + retries times, backing off between. */
  async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof RevocationError) || !error.retryable || n >= retries) throw error;
        const delay = retryDelayMs * 2 ** n;
        await new Promise<void>((resolve) => scheduler.schedule(resolve, delay));
      }
    }
  }

  async function ocsp(cert: CertificateParts, issuer: CertificateParts, url: string): Promise<Uint8Array> {
    const body = encodeOcspRequest(cert, issuer);
    return withRetries(async () => {
      const der = await exchange(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
          body,
        },
        'OCSP responder',
      );
      checkOcspResponse(der, cert, issuer, { now: new Date(clock.now()) });
      return der;
    });
  }

  // A CRL covers every certificate of its CA until its nextUpdate: one download serves them all (and keeps one copy
  // in the document instead of one per certificate).
  const crlCache = new Map<string, { der: Uint8Array; nextUpdate: number }>();

  async function crl(cert: CertificateParts, issuer: CertificateParts, url: string): Promise<Uint8Array> {
    const cached = crlCache.get(url);
    if (cached && cached.nextUpdate > clock.now()) {
      try {
        checkCrl(cached.der, cert, issuer, { now: new Date(clock.now()) });
        return cached.der;
      } catch {
        // Not this certificate's CA after all (two CAs sharing a URL): download afresh.
      }
    }
    return withRetries(async () => {
      const der = toDer(await exchange(url, { method: 'GET' }, 'CRL distribution point'));
      const answer = checkCrl(der, cert, issuer, { now: new Date(clock.now()) });
      if (answer.nextUpdate) {
        if (crlCache.size >= 32) crlCache.delete(crlCache.keys().next().value!);
        crlCache.set(url, { der, nextUpdate: answer.nextUpdate.getTime() });
      }
      return der;
    });
  }

  return {
    name: 'http',
    async fetch(certificate, issuerCertificate) {
      const cert = certificateParts(certificate);
      const issuer = certificateParts(issuerCertificate);
      const ocspUrls = useOcsp ? cert.ocspUrls.filter(isHttp) : [];
      const crlUrls = useCrl ? cert.crlUrls.filter(isHttp) : [];
      if (!ocspUrls.length && !crlUrls.length) {
        throw new RevocationError(
          'REVOCATION_NOT_AVAILABLE',
          `The certificate ${cert.subject} names no ${[useOcsp && 'OCSP responder', useCrl && 'CRL distribution point'].filter(Boolean).join(' and no ')} over HTTP; supply its revocation data with staticRevocationSource.`,
        );
      }
      const data: RevocationData = { ocspResponses: [], crls: [] };
      let failure: unknown;
      for (const url of ocspUrls) {
        try {
          data.ocspResponses.push(await ocsp(cert, issuer, url));
          break;
        } catch (error) {
          failure ??= error;
        }
      }
      if (data.ocspResponses.length === 0 || options.alwaysCrl) {
        for (const url of crlUrls) {
          try {
            data.crls.push(await crl(cert, issuer, url));
            break;
          } catch (error) {
            failure ??= error;
          }
        }
      }
      if (data.ocspResponses.length === 0 && data.crls.length === 0) throw failure;
      return data;
    },
  };
}

/** OCSP responses and CRLs the host already has, for {@link staticRevocationSource}; DER, or PEM for CRLs. */
export interface StaticRevocationSourceOptions {
  /** DER OCSPResponse structures. */
  ocspResponses?: readonly Uint8Array[];
  /** CRLs, DER or PEM ("-----BEGIN X509 CRL-----"). */
  crls?: readonly (Uint8Array | string)[];
  /**
   * Time the answers must be current at; default: not checked, since a host supplying data it fetched earlier
   * knows what it holds. Signatures and certificates are always checked.
   */
  clock?: Clock;
}

/**
 * A revocation source over data the host supplies: for each certificate it returns the given OCSP responses and CRLs
 * that are about it (checked as every source checks them), and rejects with REVOCATION_NOT_AVAILABLE when none is.
 */
export function staticRevocationSource(options: StaticRevocationSourceOptions): RevocationSource {
  const ocspResponses = [...(options.ocspResponses ?? [])];
  const crls = (options.crls ?? []).map((c) => (typeof c === 'string' ? toDer(Buffer.from(c, 'latin1')) : c));
  return {
    name: 'static',
    async fetch(certificate, issuerCertificate) {
      const cert = certificateParts(certificate);
      const issuer = certificateParts(issuerCertificate);
      const now = options.clock && new Date(options.clock.now());
      const about = <T>(check: () => T) => {
        try {
          check();
          return true;
        } catch {
          return false;
        }
      };
      const data: RevocationData = {
        ocspResponses: ocspResponses.filter((r) => about(() => checkOcspResponse(r, cert, issuer, { now }))),
        crls: crls.filter((c) => about(() => checkCrl(c, cert, issuer, { now }))),
      };
      if (!data.ocspResponses.length && !data.crls.length) {
        throw new RevocationError(
          'REVOCATION_NOT_AVAILABLE',
          `None of the supplied OCSP responses or CRLs is a valid answer about ${cert.subject}; supply its issuer's.`,
        );
      }
      return data;
    },
  };
}

function isHttp(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** A CRL as DER: distribution points serve DER, but some serve PEM ("-----BEGIN X509 CRL-----"). */
function toDer(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
  if (!text.includes('-----BEGIN')) return bytes;
  const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(Buffer.from(bytes).toString('latin1'));
  if (!m) {
    throw new RevocationError('REVOCATION_RESPONSE_MALFORMED', 'The CRL is PEM but holds no "X509 CRL" block.');
  }
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
