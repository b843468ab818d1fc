/**
 * `sealflow.dispatch` end to end on PGlite and PostgreSQL with a real background worker: a pass starts the dispatch,
 * the choice with the customer's terms reaches the application and starts the funder-funded loan contract, the
 * funder signs it with its own seal, and settlement restores its position; an application nobody takes goes back to
 * review once the 24 h windows run out on the manual clock.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { admin, cm, FIGURES, followUp, reviewer, settler } from '../../core/test/dispatch-application-fixtures.js';
import { FUNDER } from '../../core/test/signing-fixtures.js';
import {
  AMOUNT_FEN,
  bank,
  dispatchHost,
  dispatchOf,
  eventually,
  freshBackends,
  HOUR,
  offering,
  passed,
  seed,
  shared,
  staffOf,
  terms,
} from './support/dispatch-host.js';

for (const backend of freshBackends('dispatch_flow')) {
  describe.skipIf(backend.skip !== undefined)(`sealflow.dispatch on ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('runs pass → offers → choice → loan contract signed with the funder’s seal → settlement', async () => {
      const parts = shared();
      const host = await dispatchHost((await backend.open()).persistence, parts);
      const { dispatch, sealflow } = host;
      try {
        await seed(host);
        const id = await passed(host);
        const started = await offering(host, id);
        expect(started.offers.map((o) => o.institutionId)).toEqual([FUNDER.id, 'inst-b', 'inst-c']);
        expect((await dispatch.applications.get(cm, id))?.status).toBe('dispatching');

        const offer = (await dispatch.offers.offersFor(bank))[0]!;
        await dispatch.offers.accept(offer.offerId, bank);
        const other = (await dispatch.offers.offersFor(staffOf('inst-b')))[0]!;
        await dispatch.offers.accept(other.offerId, staffOf('inst-b'));
        expect((await dispatch.institutions.balances(admin, 'inst-b')).holds).toEqual({ [id]: AMOUNT_FEN });
        await dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(parts.clock));

        const processing = await eventually('the loan contract to start', async () => {
          const application = await dispatch.applications.get(cm, id);
          return application?.loanContract?.recordId ? application : undefined;
        });
        expect(processing.stage).toBe('institutionProcessing.awaitingFaceSigning');
        expect(processing.funder).toMatchObject({ id: FUNDER.id, sealId: 'funder-seal' });
        expect(processing.loanContract).toMatchObject({ businessNo: `${processing.applicationNumber}-1`, error: null });
        const recordId = processing.loanContract!.recordId!;
        expect(await sealflow.signing.get(recordId)).toMatchObject({
          scene: 'LOAN_CONTRACT',
          funding: 'funder',
          funderId: FUNDER.id,
          requestedBy: cm.id,
        });
        // The institution not chosen got its position back; the chosen one's stays frozen.
        expect((await dispatch.institutions.balances(admin, 'inst-b')).holds).toEqual({});
        expect((await dispatch.institutions.balances(bank, FUNDER.id)).holds).toEqual({ [id]: AMOUNT_FEN });

        await eventually('the signing to wait for the funder', async () =>
          (await sealflow.signing.get(recordId))?.status === 'AWAITING_FUNDER' ? true : undefined,
        );
        await dispatch.signLoanContract(bank, id);
        const done = await sealflow.signing.waitFor(recordId, { timeoutMs: 45_000 });
        expect(done.status).toBe('COMPLETED');

        await dispatch.applications.recordFaceSigning(bank, id);
        await dispatch.applications.recordDisbursement(bank, id, FIGURES.disbursedFen);
        await dispatch.applications.confirmSettlement(followUp, id, FIGURES);
        await dispatch.applications.confirmWithCustomer(cm, id);
        await dispatch.applications.confirmPayment(settler, id);
        expect((await dispatch.institutions.balances(admin, FUNDER.id)).holds).toEqual({});
        expect((await dispatch.institutions.get(bank, FUNDER.id)).stats).toMatchObject({
          successes: 1,
          amountFen: FIGURES.disbursedFen,
        });
        const history = await dispatch.applications.history(admin, id);
        expect(history.filter((entry) => entry.event === 'DISPATCH_SUCCEEDED')).toHaveLength(1);
        for (const institution of [FUNDER.id, 'inst-b', 'inst-c']) {
          expect((await dispatch.institutions.verify(admin, institution)).problems).toEqual([]);
        }
        expect(host.notifier.for({ kind: 'staff', id: 'follow-up-desk' }).map((n) => n.type)).toContain(
          'dispatch.choice-open',
        );
      } finally {
        await sealflow.close();
      }
    });

    it('sends an application nobody accepted back to review when the windows run out, then dispatches again', async () => {
      const parts = shared();
      const host = await dispatchHost((await backend.open()).persistence, parts);
      const { dispatch, sealflow } = host;
      try {
        await seed(host);
        const id = await passed(host);
        await offering(host, id);
        for (const institutionId of [FUNDER.id, 'inst-b', 'inst-c']) {
          const offer = (await dispatch.offers.offersFor(staffOf(institutionId)))[0]!;
          await dispatch.offers.decline(offer.offerId, '额度已满', staffOf(institutionId));
        }
        // The fourth institution is offered as the others decline; it lets its offer run out.
        await eventually('the fourth institution’s offer', async () =>
          (await dispatch.offers.offersFor(staffOf('inst-d'))).find((o) => o.status === 'open'),
        );
        parts.clock.advance(24 * HOUR);
        await eventually('the application back in review', async () =>
          (await dispatch.applications.get(cm, id))?.status === 'inReview' ? true : undefined,
        );
        expect((await dispatch.offers.get(dispatchOf(id), followUp)).outcome).toBe('EXHAUSTED');
        expect((await dispatch.institutions.balances(admin, 'inst-d')).holds).toEqual({});

        await dispatch.applications.pass(reviewer, id);
        // Everyone was offered in the first dispatch, so the second has nobody and ends at once.
        const second = await eventually('the second dispatch to end', async () => {
          const view = await dispatch.offers.get(dispatchOf(id, 2), followUp).catch(() => undefined);
          return view?.outcome ? view : undefined;
        });
        expect(second.offers).toEqual([]);
        expect(second.outcome).toBe('EXHAUSTED');
        await eventually('the application back in review again', async () => {
          const application = await dispatch.applications.get(cm, id);
          return application?.status === 'inReview' && application.dispatchRound === 2 ? true : undefined;
        });
        const history = await dispatch.applications.history(admin, id);
        expect(history.filter((entry) => entry.event === 'DISPATCH_EXHAUSTED')).toHaveLength(2);
      } finally {
        await sealflow.close();
      }
    });
  });
}
