/**
 * Where `esignVendor()` notes each create it is about to send, so a retry knows whether there can be a flow to find.
 *
 * e签宝 takes no idempotency key. Without a log, every `createFlow` first lists the app's flows of the last day
 * (`createLookbackMs`) to find one an earlier, unanswered try made: one `sign-flow-list` page per 100 flows, so the
 * calls per signing grow with the day's volume (about 5 extra calls per create at 1,000 flows a day, 50 at 5,000).
 *
 * With a durable log the adapter writes "a create under this key is being sent" *before* it sends one. A create whose
 * key has no note was never sent by anyone, so it skips the lookup; one whose key has a note (a retry in this process,
 * after a crash, or in another process) looks only at flows started since that note. The note must be durable and
 * shared by every process that signs (the host's database): a note that a crash forgets would let a retry skip the
 * lookup and make a second flow.
 */
import { ConflictError, type Persistence, ValidationError } from '@sealflow/core';

/**
 * A durable, shared "first create sent at" per create key. `note` is an atomic insert-if-absent: the first call for
 * a key stores `at` and answers `undefined`; every later call, from any process, answers the time stored first.
 */
export interface EsignCreateLog {
  note(key: string, at: number): Promise<number | undefined>;
  /**
   * When a create under `key` was first noted, without noting one: `findFlow` asks it, so that a key never sent needs
   * no lookup at e签宝 and a sent one is looked for only since its first try. A log without it makes `findFlow` look
   * back `findLookbackMs` (90 days), one `sign-flow-list` page per 100 flows.
   */
  firstSent?(key: string): Promise<number | undefined>;
}

/** The entity kind the notes are kept under in sealflow's persistence. */
const CREATE_NOTE_KIND = 'esign-create-note';

/** Options of {@link persistentEsignCreateLog}. */
export interface PersistentEsignCreateLogOptions {
  /** The persistence the host's runtime uses (`pglitePersistence`, `postgresPersistence`, …). */
  persistence: Persistence;
}

/**
 * An {@link EsignCreateLog} in sealflow's own persistence, one entity row of kind `esign-create-note` per create key
 * (a digest of the idempotency key and a time; no personal data). Every process on the same database sees the notes
 * the others wrote, and they survive restarts. Of two processes noting one key at once, one insert wins and the other
 * reads its time back, so both look for the flow.
 */
export function persistentEsignCreateLog(options: PersistentEsignCreateLogOptions): EsignCreateLog {
  const { persistence } = options ?? {};
  if (!persistence || typeof persistence.transaction !== 'function') {
    throw new ValidationError('persistentEsignCreateLog: pass persistence, the Persistence your runtime uses.', {
      details: { field: 'persistence' },
    });
  }
  const noted = async (key: string) => {
    const row = await persistence.transaction((tx) => tx.entities.get(CREATE_NOTE_KIND, key));
    return row === null ? undefined : (row.data as { at: number }).at;
  };
  return {
    firstSent: noted,
    async note(key, at) {
      const earlier = await noted(key);
      if (earlier !== undefined) return earlier;
      try {
        await persistence.transaction((tx) =>
          tx.entities.insert({
            kind: CREATE_NOTE_KIND,
            id: key,
            data: { at },
            tags: {},
            uniqueKey: null,
            createdAt: at,
          }),
        );
        return undefined;
      } catch (error) {
        // Another process noted the key between the read and the insert: its create may be on its way.
        if (error instanceof ConflictError && error.code === 'DUPLICATE') {
          const first = await noted(key);
          if (first !== undefined) return first;
        }
        throw error;
      }
    },
  };
}

/**
 * A log in this process's memory, for tests and for hosts whose signings never outlive the process. Not for a host
 * that restarts with signings in flight: after a restart it has forgotten the creates it sent, so a retry would skip
 * the lookup and could make a second flow. Such a host uses {@link persistentEsignCreateLog}, or no log at all.
 */
export function memoryEsignCreateLog(): EsignCreateLog & { readonly size: number } {
  const notes = new Map<string, number>();
  return {
    get size() {
      return notes.size;
    },
    async firstSent(key) {
      return notes.get(key);
    },
    async note(key, at) {
      const earlier = notes.get(key);
      if (earlier !== undefined) return earlier;
      notes.set(key, at);
      return undefined;
    },
  };
}
