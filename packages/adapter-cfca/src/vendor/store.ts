/**
 * Where `cfcaVendor()` keeps what 安心签 cannot hold for it.
 *
 * A 安心签 contract knows its signatories by userId only: not which of them is the borrower and which the funder, not
 * which seal an organisation was asked to use, not our document keys. The vendor writes that down once per flow,
 * before the first contract is created, so a retry, a poll or a download in any process reads it back.
 */

/**
 * A small durable key → text map. The vendor writes each flow's record once when the flow is created and again when
 * a waiting signer signs or the flow is cancelled; values are a few hundred bytes of JSON without personal data
 * (roles, 安心签 userIds and seal ids, contract numbers, document keys, a SHA-256 of the request).
 */
export interface CfcaVendorStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/**
 * The in-memory store `cfcaVendor()` uses by default. It forgets everything when the process ends, so a host whose
 * signing workflows outlive a process (every production host) passes a store backed by its database instead.
 */
export function createMemoryCfcaStore(): CfcaVendorStore & { readonly size: number } {
  const values = new Map<string, string>();
  return {
    get size() {
      return values.size;
    },
    get: async (key) => values.get(key),
    set: async (key, value) => {
      values.set(key, value);
    },
  };
}
