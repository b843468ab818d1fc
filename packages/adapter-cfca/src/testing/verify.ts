/**
 * The request-signature check of the emulator: the client's own verifier against the platform's registered
 * certificate, so the emulator and the client share one reading of CFCA's signature rules.
 */
import { verifyCfcaSignature } from '../client/signature.js';

/** Why `signature` is not a valid signature of `data` by the registered certificate; undefined when it is. */
export function requestSignatureFailure(
  data: string,
  signature: string,
  certificateDer: Uint8Array,
): string | undefined {
  const check = verifyCfcaSignature({ data, signature, certificate: certificateDer });
  return check.ok ? undefined : `${check.reason} (${check.message})`;
}
