/**
 * The dispatch workflow wired to the platform's own institutions, ledger and ranking.
 *
 * The position ledger as the dispatch workflow's {@link DispatchPositions}: an acceptance freezes part of the
 * institution's position with `ledgerFreeze`, and an acceptance not taken is given back with `ledgerRelease`, both in
 * the transaction of the dispatch transition and under the movement's idempotency key.
 */
import { NotFoundError } from '../errors.js';
import type { Persistence } from '../ports/persistence.js';
import { listInstitutions } from './institution.js';
import { ledgerBalances, ledgerFreeze, ledgerRelease } from './ledger.js';
import type { DispatchPositions, RankCandidates } from './offer-service.js';
import { type RankingCandidate, type RankingWeights, rankInstitutions } from './ranking.js';

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

/** Options of {@link institutionRanking}. */
export interface InstitutionRankingOptions {
  persistence: Persistence;
  /** Partial weights laid over the ranking's defaults. */
  weights?: Partial<RankingWeights>;
}

/**
 * Ranking from the registered institutions: every ACTIVE institution, with its available position read from the
 * ledger (the deposit account, which a freeze draws on), scored by `rankInstitutions`. Reads one page of
 * institutions and one balance per institution in a single transaction, so every candidate is seen as of one moment.
 */
export function institutionRanking(options: InstitutionRankingOptions): RankCandidates {
  return async (input) => {
    const candidates = await options.persistence.transaction(async (tx) => {
      const found: RankingCandidate[] = [];
      for (let afterId: string | undefined; ; ) {
        const page = await listInstitutions(tx, { status: 'ACTIVE', limit: 500, ...(afterId ? { afterId } : {}) });
        for (const { record } of page) {
          // An institution with no ledger yet has no position to offer against.
          const balances = await ledgerBalances(tx, record.id).catch((error: unknown) => {
            if (error instanceof NotFoundError) return null;
            throw error;
          });
          found.push({
            id: record.id,
            status: record.status,
            regions: record.regions,
            categories: record.categories,
            capacity: record.capacity,
            openApplications: record.openCount,
            positionFen: balances?.deposit ?? 0,
            stats: record.stats,
          });
        }
        if (page.length < 500) return found;
        afterId = page.at(-1)!.record.id;
      }
    });
    const { amountFen, region, category, excluded, limit } = input;
    const result = rankInstitutions({ amountFen, region, category }, candidates, {
      excluded,
      limit,
      ...(options.weights ? { weights: options.weights } : {}),
    });
    return result.ranked.map((ranked) => ranked.id);
  };
}
