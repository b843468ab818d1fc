/**
 * Offers as records of their own, kept in step with the dispatch workflows in each transition's transaction, so an
 * institution's list of its offers is one tagged query instead of a scan of every dispatch.
 *
 * The same comparison of each offer with its stored record drives the institutions' open counts and statistics: it
 * sees every status change exactly once, even when several timer events settle in one transaction with one call for
 * the final state, and a retried transaction compares again against the record as its own rolled-back attempt left it.
 */
import { z } from 'zod';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import type { WorkflowState } from '../runtime/runtime.js';
import type { DispatchContext } from './dispatch-rules.js';
import { add, applyInstitutionDelta, type InstitutionDelta, offerChangeDelta } from './institution-stats.js';
import { OFFER_STATUSES } from './offer.js';

/** An offer as an institution and the platform see it: the offer, the application's terms, the dispatch's state. */
export const OfferViewSchema = z.object({
  offerId: z.string(),
  dispatchId: z.string(),
  applicationId: z.string(),
  institutionId: z.string(),
  seq: z.number().int(),
  amountFen: z.number().int(),
  region: z.string(),
  category: z.string(),
  offeredAt: z.number(),
  deadline: z.number(),
  status: z.enum(OFFER_STATUSES),
  answeredAt: z.number().nullable(),
  declineReason: z.string().nullable(),
  closedReason: z.string().nullable(),
  /** The dispatch's state: `ranking`, `offering`, `chosen`, `exhausted`, `choiceExpired` or `cancelled`. */
  dispatchState: z.string(),
});

/** One offer as {@link OfferViewSchema} describes it. */
export type OfferView = z.infer<typeof OfferViewSchema>;

/** The stored offers, tagged by dispatch, institution and status. */
export const offerViews = defineRepository({
  kind: 'dispatch-offer',
  label: 'dispatch offer',
  schema: OfferViewSchema,
  id: (offer) => offer.offerId,
  tags: (offer) => ({ dispatchId: offer.dispatchId, institutionId: offer.institutionId, status: offer.status }),
});

/** The offers of a dispatch as views, from its workflow state. */
export function offerViewsOf(state: WorkflowState): OfferView[] {
  const context = state.context as DispatchContext;
  // Parsed so the keys come in the schema's order, as stored rows do, and an unchanged offer compares equal.
  return context.offers.map((offer) =>
    OfferViewSchema.parse({
      ...offer,
      dispatchId: context.dispatchId,
      applicationId: context.applicationId,
      amountFen: context.amountFen,
      region: context.region,
      category: context.category,
      dispatchState: state.stateValue,
    }),
  );
}

/**
 * Write the offers that changed in this transition (one query for the dispatch's stored offers, then the changes), and
 * count each status change in its institution's open count and statistics. Institutions that are not registered here
 * (a host's own, ranked by its own `rankCandidates`) are not counted.
 */
export async function projectOffers(tx: PersistenceTransaction, state: WorkflowState): Promise<void> {
  const views = offerViewsOf(state);
  if (views.length === 0) return;
  const dispatchId = views[0]!.dispatchId;
  const stored = new Map(
    (await offerViews.find(tx, { tags: { dispatchId }, limit: 1000 })).map((s) => [s.record.offerId, s]),
  );
  const deltas = new Map<string, InstitutionDelta>();
  for (const view of views) {
    const previous = stored.get(view.offerId);
    if (!previous) await offerViews.insert(tx, view, state.updatedAt);
    else if (JSON.stringify(previous.record) !== JSON.stringify(view)) {
      await offerViews.update(tx, previous, view, state.updatedAt);
    } else continue;
    const delta = deltas.get(view.institutionId) ?? { openCount: 0, stats: {} };
    deltas.set(view.institutionId, add(delta, offerChangeDelta(previous?.record.status ?? null, view)));
  }
  // One write per institution, in id order, so two transitions counting for the same institutions meet in one order.
  for (const [institutionId, delta] of [...deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await applyInstitutionDelta(tx, institutionId, delta, state.updatedAt, { unregistered: 'skip' });
  }
}
