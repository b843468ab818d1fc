/**
 * e签宝's older v1 API ("SaaS API 非标版") lets the platform sign for a person without the person after a silent-sign
 * authorisation (静默签署授权, `POST /v1/signAuth/{accountId}`): 签署方自动盖章 fields are added to a draft flow with
 * `POST /v1/signflows/{flowId}/signfields/autoSign` and sealed when the flow starts. V3 has no such path, so this is
 * a legacy route behind an explicit option; it needs e签宝's consent in the customer's contract, and the person's
 * written authorisation kept by the lending system.
 */
import { SealflowError, type SignerSpec, type VendorCallContext } from '@sealflow/core';
import { z } from 'zod';
import { createEsignClient, type EsignClient, type EsignClientOptions } from '../client/client.js';
import { ESIGN_VENDOR_ID } from '../client/errors.js';

/** Options of e签宝's legacy silent signing for persons (`personSilentSign` of `esignVendor`). */
export interface EsignPersonSilentSignOptions {
  /** Sign a person party with `signing: 'auto'` through the v1 authorisation. Off unless `true`. */
  enabled: boolean;
  /**
   * Who sets the person's authorisation (`POST /v1/signAuth/{accountId}`).
   *
   * - `'existing'` (default): the lending system did, when the person agreed to be signed for (for instance with
   *   {@link esignPersonSilentSign}); a missing or expired one fails the signing with
   *   `VENDOR_SILENT_SIGN_UNAUTHORIZED`.
   * - `'per-flow'`: the adapter sets it just before signing, valid until the flow's deadline (without one: no
   *   deadline). Use it only when the consent the person gives with each signing request is that authorisation.
   */
  authorization?: 'existing' | 'per-flow';
  /**
   * The person's v1 `accountId`. Default: the V3 `psnId` of the account registered under the person's mobile
   * (`/v3/persons/identity-info`), after checking that it is real-named to the same name and ID number. Whether
   * e签宝 accepts a V3 psnId as a v1 accountId is not documented: confirm it, or return the accountId your v1
   * account creation gave.
   */
  accountId?: (signer: SignerSpec, context: VendorCallContext) => string | Promise<string>;
  /**
   * e签宝 codes of `autoSign` meaning "no valid authorisation" (missing or expired). e签宝 does not publish them;
   * default: the emulator's `1437360` and `1437361`. List what your environment answers.
   */
  unauthorizedCodes?: number[];
}

/** Default {@link EsignPersonSilentSignOptions.unauthorizedCodes}: the emulator's choice, see the README. */
export const DEFAULT_SILENT_SIGN_UNAUTHORIZED_CODES: readonly number[] = [1437360, 1437361];

const identitySchema = z.looseObject({
  psnId: z.string().min(1),
  realnameStatus: z.number().nullish(),
  psnInfo: z.looseObject({ psnName: z.string().nullish(), psnIDCardNum: z.string().nullish() }).nullish(),
});

/** Why a person cannot be signed for silently. */
export type SilentSignRefusal = 'NO_ACCOUNT' | 'NOT_REALNAMED' | 'IDENTITY_MISMATCH' | 'NOT_AUTHORIZED';

export function silentSignUnauthorized(
  role: string,
  reason: SilentSignRefusal,
  extra: { cause?: unknown; vendorCode?: unknown } = {},
): SealflowError {
  const why: Record<SilentSignRefusal, string> = {
    NO_ACCOUNT: 'e签宝 has no account under their mobile',
    NOT_REALNAMED: 'their e签宝 account is not real-named',
    IDENTITY_MISMATCH: 'the e签宝 account under their mobile is real-named to another name or ID number',
    NOT_AUTHORIZED: 'they have no silent-sign authorisation at e签宝, or it has passed its deadline',
  };
  return new SealflowError(
    'VENDOR_SILENT_SIGN_UNAUTHORIZED',
    `e签宝 cannot sign for person "${role}" without them: ${why[reason]}. Have the person agree to be signed for ` +
      'again and set the authorisation (esignPersonSilentSign().authorize), or let them sign on the sign page ' +
      "(signing: 'vendorUi').",
    {
      ...(extra.cause === undefined ? {} : { cause: extra.cause }),
      retryable: false,
      details: {
        vendor: ESIGN_VENDOR_ID,
        role,
        reason,
        ...(extra.vendorCode === undefined ? {} : { vendorCode: extra.vendorCode }),
      },
    },
  );
}

/** The default account lookup: the V3 psnId under the person's mobile, real-named to the same person. */
export async function psnIdOf(client: EsignClient, signer: SignerSpec, context: VendorCallContext): Promise<string> {
  if (!signer.mobile) throw silentSignUnauthorized(signer.role, 'NO_ACCOUNT');
  let found: z.infer<typeof identitySchema>;
  try {
    found = await client.request('GET', '/v3/persons/identity-info', {
      query: { psnAccount: signer.mobile },
      schema: identitySchema,
      ...(context.signal ? { signal: context.signal } : {}),
    });
  } catch (error) {
    if (error instanceof SealflowError && error.code === 'NOT_FOUND') {
      throw silentSignUnauthorized(signer.role, 'NO_ACCOUNT', { cause: error });
    }
    throw error;
  }
  if (found.realnameStatus !== 1) throw silentSignUnauthorized(signer.role, 'NOT_REALNAMED');
  // Signing for the wrong person is the one mistake this path must never make: the mobile's account has to be
  // real-named to exactly the person in the request.
  const idNumber = found.psnInfo?.psnIDCardNum?.toUpperCase();
  if (idNumber !== signer.idNumber.toUpperCase() || found.psnInfo?.psnName !== signer.name) {
    throw silentSignUnauthorized(signer.role, 'IDENTITY_MISMATCH');
  }
  return found.psnId;
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time, as the v1 API writes times. */
export function beijingTime(ms: number): string {
  const d = new Date(ms + 8 * 3_600_000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`
  );
}

/** The person to authorise or withdraw: by v1 accountId, or by mobile plus name and ID number (looked up). */
export type EsignSilentSignPerson =
  | { accountId: string }
  | { mobile: string; name: string; idNumber: string; role?: string };

/** Setting and withdrawing persons' silent-sign authorisations; see {@link esignPersonSilentSign}. */
export interface EsignPersonSilentSign {
  /**
   * Sets the person's silent-sign authorisation (`POST /v1/signAuth/{accountId}`), until `deadline` (ms) or without
   * one; returns the accountId. Call it only with the person's recorded, written agreement.
   */
  authorize(person: EsignSilentSignPerson, options?: { deadline?: number; signal?: AbortSignal }): Promise<string>;
  /** Withdraws it (`DELETE /v1/signAuth/{accountId}`); returns the accountId. */
  withdraw(person: EsignSilentSignPerson, options?: { signal?: AbortSignal }): Promise<string>;
}

/**
 * The lending system's side of e签宝's legacy silent signing: set a person's authorisation when they agree to be
 * signed for, withdraw it when they revoke that agreement. Personal data never appears in errors unmasked.
 */
export function esignPersonSilentSign(options: EsignClientOptions & { client?: EsignClient }): EsignPersonSilentSign {
  const client = options.client ?? createEsignClient(options);
  const accountOf = async (person: EsignSilentSignPerson, signal?: AbortSignal) => {
    if ('accountId' in person) return person.accountId;
    const signer: SignerSpec = {
      role: person.role ?? 'person',
      kind: 'person',
      name: person.name,
      idNumber: person.idNumber,
      mobile: person.mobile,
      autoSign: true,
      order: 1,
      placements: [],
    };
    return psnIdOf(client, signer, { idempotencyKey: 'silent-sign-lookup', ...(signal ? { signal } : {}) });
  };
  return {
    async authorize(person, opts = {}) {
      const accountId = await accountOf(person, opts.signal);
      await client.request('POST', `/v1/signAuth/${encodeURIComponent(accountId)}`, {
        body: opts.deadline === undefined ? {} : { deadline: beijingTime(opts.deadline) },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return accountId;
    },
    async withdraw(person, opts = {}) {
      const accountId = await accountOf(person, opts.signal);
      await client.request('DELETE', `/v1/signAuth/${encodeURIComponent(accountId)}`, {
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return accountId;
    },
  };
}
