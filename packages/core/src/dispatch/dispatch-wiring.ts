/**
 * The position ledger as the dispatch workflow's {@link DispatchPositions}: an acceptance freezes part of the
 * institution's position with `ledgerFreeze`, and an acceptance not taken is given back with `ledgerRelease`, both in
 * the transaction of the dispatch transition and under the movement's idempotency key.
 */
import { ledgerFreeze, ledgerRelease } from './ledger.js';
import type { DispatchPositions } from './offer-service.js';

/**
 * Positions backed by the ledger. A freeze the position does not cover fails with the ledger's
 * `POSITION_INSUFFICIENT`, which aborts the acceptance. The movement's time is the transition's.
 */
export function ledgerPositions(): DispatchPositions {
  return {
    async freeze(tx, movement) {
      const { institutionId, applicationId, amountFen, key, at } = movement;
      await ledgerFreeze(tx, { institutionId, applicationId, amountFen, key }, at);
    },
    async release(tx, movement) {
      const { institutionId, applicationId, amountFen, key, at } = movement;
      await ledgerRelease(tx, { institutionId, applicationId, amountFen, key }, at);
    },
  };
}
