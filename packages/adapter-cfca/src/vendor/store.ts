/**
 * Where `cfcaVendor()` keeps what 安心签 cannot hold for it.
 *
 * A 安心签 contract knows its signatories by userId only: not which of them is the borrower and which the funder, not
 * which seal an organisation was asked to use, not our document keys. The vendor writes that down once per flow,
 * before the first contract is created, so a retry, a poll or a download in any process reads it back.
 */
import { type Clock, ConflictError, type Persistence, ValidationError, systemClock } from '@sealflow/core';

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

/** The entity kind flow records are kept under in sealflow's persistence. */
const FLOW_RECORD_KIND = 'cfca-flow-record';

/** Options of {@link persistentCfcaStore}. */
export interface PersistentCfcaStoreOptions {
  /** The persistence the host's runtime uses (`pglitePersistence`, `postgresPersistence`, …). */
  persistence: Persistence;
  /** Stamps the rows' created/updated times; default the system clock. */
  clock?: Clock;
}

/**
 * A {@link CfcaVendorStore} in sealflow's own persistence, as entity rows of kind `cfca-flow-record`: every process
 * on the same database reads the records the others wrote, and they survive restarts, so a signing resumed after a
 * crash in another process still knows its flow. Two processes writing one key at once both succeed; the later write
 * is kept, as with any key-value store.
 */
export function persistentCfcaStore(options: PersistentCfcaStoreOptions): CfcaVendorStore {
  const { persistence } = options;
  if (!persistence || typeof persistence.transaction !== 'function') {
    throw new ValidationError('persistentCfcaStore: pass persistence, the Persistence your runtime uses.', {
      details: { field: 'persistence' },
    });
  }
  const clock = options.clock ?? systemClock;
  return {
    async get(key) {
      const row = await persistence.transaction((tx) => tx.entities.get(FLOW_RECORD_KIND, key));
      return row === null ? undefined : (row.data as { value: string }).value;
    },
    async set(key, value) {
      // A concurrent first write of the same key loses the insert race (DUPLICATE) or the version race: read again
      // and overwrite. Bounded, since each round some writer commits.
      for (let attempt = 1; ; attempt++) {
        const written = await persistence
          .transaction(async (tx) => {
            const now = clock.now();
            const existing = await tx.entities.get(FLOW_RECORD_KIND, key);
            if (existing === null) {
              await tx.entities.insert({
                kind: FLOW_RECORD_KIND,
                id: key,
                data: { value },
                tags: {},
                uniqueKey: null,
                createdAt: now,
              });
              return true;
            }
            const change = { data: { value }, tags: {}, uniqueKey: null, updatedAt: now };
            return tx.entities.update(FLOW_RECORD_KIND, key, existing.version, change);
          })
          .catch((error: unknown) => {
            if (error instanceof ConflictError && error.code === 'DUPLICATE' && attempt < 10) return false;
            throw error;
          });
        if (written) return;
        if (attempt >= 10) {
          throw new ConflictError(
            'VERSION_CONFLICT',
            `The CFCA flow record ${key} kept changing under concurrent writes; try the call again.`,
            { retryable: true },
          );
        }
      }
    },
  };
}
