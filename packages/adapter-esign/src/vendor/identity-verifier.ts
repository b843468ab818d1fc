/**
 * `esignIdentityVerifier()`: core's IdentityVerifier on e签宝's pure data checks (信息比对): name + ID number
 * (two elements), plus the mobile registered to the ID at the carrier (telecom three elements), or plus a bank card
 * and its reserved mobile (bank-card four elements).
 *
 * e签宝 bans an identity that is checked too often (more than 10 times in a minute for a minute, 20 in 10 minutes for
 * 10 minutes, 50 in a day for 30 minutes). The verifier counts its own checks per identity and refuses before it would
 * cross a limit, so a loop in the host cannot get a customer banned; a ban e签宝 reports anyway becomes the same
 * typed, non-retryable error.
 */
import { createHash } from 'node:crypto';
import { type Clock, type IdentityVerifier, SealflowError, systemClock } from '@sealflow/core';
import { createEsignClient, type EsignClient, type EsignClientOptions } from '../client/client.js';
import { ESIGN_VENDOR_ID } from '../client/errors.js';

/** Which e签宝 data check an identity verification uses. */
export type EsignIdentityCheck = 'two-element' | 'telecom-three-element' | 'bank-card-four-element';

/** Options of {@link esignIdentityVerifier}: the client's options plus which check to run. */
export interface EsignIdentityVerifierOptions extends EsignClientOptions {
  /** A client to use instead of one made from these options. */
  client?: EsignClient;
  /**
   * Which check: default `telecom-three-element` when the person has a mobile, otherwise `two-element`.
   * `bank-card-four-element` needs `bankCardFor`.
   */
  check?: EsignIdentityCheck;
  /** The person's bank card number for the four-element check (the port does not carry one). */
  bankCardFor?: (person: { name: string; idNumber: string; mobile?: string }) => Promise<string | undefined>;
  /** Use the paid `/detail` variants, which say which element did not match. Default false. */
  detail?: boolean;
  /**
   * Stay under e签宝's per-identity limits by refusing locally first. Default true. The counts live in this process:
   * several processes share e签宝's limits but not these counts.
   */
  guard?: boolean;
}

const PATHS: Record<EsignIdentityCheck, string> = {
  'two-element': '/v2/identity/verify/individual/base',
  'telecom-three-element': '/v2/identity/verify/individual/telecom3Factors',
  'bank-card-four-element': '/v2/identity/verify/individual/bank4Factors',
};

/** e签宝's answers that mean "the data do not belong together" (not an error of the call). */
const MISMATCH_CODES = new Set([30504001, 30501010, 30501006]);
const RISK_CONTROL_CODE = 30504900;

const MINUTE = 60_000;
/** e签宝's documented thresholds: more than `limit` checks in `window` bans the identity for `ban`. */
const LIMITS = [
  { window: MINUTE, limit: 10, ban: MINUTE },
  { window: 10 * MINUTE, limit: 20, ban: 10 * MINUTE },
  { window: 24 * 60 * MINUTE, limit: 50, ban: 30 * MINUTE },
];

function banned(details: Record<string, unknown>, retryAfterMs?: number, cause?: unknown): SealflowError {
  return new SealflowError(
    'VENDOR_IDENTITY_CHECK_BANNED',
    'e签宝 blocks real-name checks of this person for a while because the same identity was checked too often ' +
      '(more than 10 times in a minute, 20 in 10 minutes or 50 in a day; the block lasts 1, 10 or 30 minutes). Do not ' +
      'retry automatically: ask the person to try again later, and find out why the same person is being checked ' +
      'repeatedly.',
    {
      cause,
      retryable: false,
      details: { vendor: ESIGN_VENDOR_ID, ...details, ...(retryAfterMs ? { retryAfterMs } : {}) },
    },
  );
}

/** The IdentityVerifier on e签宝's two-, three- and four-element data checks. */
export function esignIdentityVerifier(options: EsignIdentityVerifierOptions): IdentityVerifier {
  const client = options.client ?? createEsignClient(options);
  const clock: Clock = options.clock ?? systemClock;
  const guard = options.guard ?? true;
  const calls = new Map<string, number[]>();

  // Counted by a hash, so the process never holds ID numbers in memory longer than a call.
  const identityKey = (idNumber: string) => createHash('sha256').update(idNumber.toUpperCase()).digest('hex');

  function admit(key: string, now: number): void {
    const recent = (calls.get(key) ?? []).filter((t) => t > now - LIMITS[2]!.window);
    for (const { window, limit } of LIMITS) {
      const inWindow = recent.filter((t) => t > now - window);
      if (inWindow.length >= limit) {
        throw banned({ reason: 'LOCAL_LIMIT', windowMs: window }, inWindow[0]! + window - now);
      }
    }
    recent.push(now);
    calls.set(key, recent);
  }

  return {
    async check(person) {
      const kind: EsignIdentityCheck = options.check ?? (person.mobile ? 'telecom-three-element' : 'two-element');
      const body: Record<string, string> = { idNo: person.idNumber, name: person.name };
      if (kind !== 'two-element') {
        if (!person.mobile) return { verified: false };
        body.mobileNo = person.mobile;
      }
      if (kind === 'bank-card-four-element') {
        const cardNo = await options.bankCardFor?.(person);
        if (!cardNo) {
          throw new SealflowError(
            'INVALID_INPUT',
            'The bank-card four-element check needs the bank card number: configure bankCardFor.',
            { retryable: false, details: { vendor: ESIGN_VENDOR_ID } },
          );
        }
        body.cardNo = cardNo;
      }
      if (guard) admit(identityKey(person.idNumber), clock.now());
      try {
        await client.request('POST', `${PATHS[kind]}${options.detail ? '/detail' : ''}`, { body });
        return { verified: true, method: kind, verifiedAt: clock.now() };
      } catch (error) {
        const vendorCode = error instanceof SealflowError ? error.details?.vendorCode : undefined;
        if (typeof vendorCode === 'number' && MISMATCH_CODES.has(vendorCode)) return { verified: false, method: kind };
        if (vendorCode === RISK_CONTROL_CODE)
          throw banned({ reason: 'ESIGN_RISK_CONTROL', vendorCode }, undefined, error);
        throw error;
      }
    },
  };
}
