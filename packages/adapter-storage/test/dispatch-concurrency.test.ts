/**
 * `sealflow.dispatch` under concurrent callers on PGlite and PostgreSQL (where the calls really run in parallel on a
 * pool): acceptances racing the customer's choice, acceptances racing for one position, one offer accepted many
 * times at once — and two SDK instances with running workers on one PostgreSQL schema, each hand-over between the
 * workflows applied once.
 */
import { DISPATCH_WORKFLOW } from '@sealflow/core';
import { afterAll, describe, expect, it } from 'vitest';
import { admin, cm, followUp } from '../../core/test/dispatch-application-fixtures.js';
import { FUNDER } from '../../core/test/signing-fixtures.js';
import {
  AMOUNT_FEN,
  bank,
  type DispatchHost,
  dispatchHost,
  dispatchOf,
  eventually,
  freshBackends,
  INSTITUTIONS,
  offering,
  outcome,
  passed,
  seed,
  shared,
  staffOf,
  terms,
  twice,
} from './support/dispatch-host.js';

async function offerOf(host: DispatchHost, institutionId: string, applicationId: string) {
  const offers = await host.dispatch.offers.offersFor(staffOf(institutionId), {
    dispatchId: dispatchOf(applicationId),
  });
  expect(offers).toHaveLength(1);
  return offers[0]!;
}

async function expectLedgersVerify(host: DispatchHost, institutionIds: string[]) {
  for (const institutionId of institutionIds) {
    expect((await host.dispatch.institutions.verify(admin, institutionId)).problems, institutionId).toEqual([]);
  }
}

async function freezesOf(host: DispatchHost, institutionId: string) {
  const page = await host.dispatch.institutions.movements(admin, institutionId, { limit: 1000 });
  return page.movements.filter((movement) => movement.type === 'freeze');
}

const backends = freshBackends('dispatch_race');

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`sealflow.dispatch under concurrency on ${backend.name}`, () => {
    afterAll(() => backend.cleanup());

    it('three acceptances at once while the customer manager chooses: one choice, the others released', async () => {
      const parts = shared();
      const host = await dispatchHost((await backend.open()).persistence, parts);
      try {
        await seed(host);
        const id = await passed(host);
        const offered = (await offering(host, id)).offers.map((o) => o.institutionId);
        expect(offered).toEqual([FUNDER.id, 'inst-b', 'inst-c']);
        const offers = await Promise.all(offered.map((institutionId) => offerOf(host, institutionId, id)));

        // Two choosers race the acceptances: each chooses the first institution it sees accepted, and tries again
        // while none has.
        const choose = async () => {
          for (;;) {
            const view = await host.dispatch.offers.get(dispatchOf(id), followUp);
            const accepted = view.offers.find((o) => o.status === 'accepted');
            if (view.state !== 'offering') return { code: 'NOT_OFFERING' };
            if (!accepted) {
              await new Promise((resolve) => setTimeout(resolve, 2));
              continue;
            }
            const result = await outcome(
              host.dispatch.offers.choose(dispatchOf(id), accepted.institutionId, cm, terms(parts.clock)),
            );
            return { ...result, institutionId: accepted.institutionId };
          }
        };
        const [acceptances, choices] = await Promise.all([
          Promise.all(
            offers.map((offer) => outcome(host.dispatch.offers.accept(offer.offerId, staffOf(offer.institutionId)))),
          ),
          Promise.all([choose(), choose()]),
        ]);

        const won = choices.filter((c) => 'ok' in c);
        expect(won, JSON.stringify(choices)).toHaveLength(1);
        const chosen = (won[0] as { institutionId: string }).institutionId;
        // The loser saw the dispatch finished, or lost under the lock to the same choice.
        for (const lost of choices.filter((c) => !('ok' in c))) {
          expect(['NOT_OFFERING', 'DISPATCH_FINISHED', 'INSTITUTION_NOT_ACCEPTED']).toContain(
            (lost as { code: string }).code,
          );
        }
        // An acceptance either took effect before the choice or was refused because the dispatch had ended.
        for (const acceptance of acceptances) {
          if (!('ok' in acceptance)) expect(acceptance.code).toBe('DISPATCH_FINISHED');
        }
        const view = await host.dispatch.offers.get(dispatchOf(id), followUp);
        expect(view.outcome).toBe('CHOSEN');
        expect(view.offers.filter((o) => o.status === 'chosen').map((o) => o.institutionId)).toEqual([chosen]);

        const application = await eventually('the choice to reach the application', async () => {
          const current = await host.dispatch.applications.get(cm, id);
          return current?.loanContract ? current : undefined;
        });
        expect(application.institutionId).toBe(chosen);
        for (const institutionId of offered) {
          const holds = (await host.dispatch.institutions.balances(admin, institutionId)).holds;
          expect(holds, institutionId).toEqual(institutionId === chosen ? { [id]: AMOUNT_FEN } : {});
          // An institution whose acceptance took effect froze once, and was released unless chosen.
          expect((await freezesOf(host, institutionId)).length).toBeLessThanOrEqual(1);
        }
        await expectLedgersVerify(host, offered);
        const history = await host.dispatch.applications.history(admin, id);
        expect(history.filter((entry) => entry.event === 'DISPATCH_SUCCEEDED')).toHaveLength(1);
      } finally {
        await host.sealflow.close();
      }
    });

    it('two institutions whose positions cover one application each accept two at once: one each, no trace of the other', async () => {
      const parts = shared();
      const host = await dispatchHost((await backend.open()).persistence, parts);
      const pair = INSTITUTIONS.slice(1, 3).map((institution) => ({ ...institution, deposit: AMOUNT_FEN }));
      const ids = pair.map((institution) => institution.id);
      try {
        await seed(host, pair);
        const applications = [await passed(host), await passed(host)];
        for (const id of applications) {
          expect((await offering(host, id)).offers.map((o) => o.institutionId).sort()).toEqual(ids);
        }
        const calls = ids.flatMap((institutionId) =>
          applications.map((applicationId) => ({ institutionId, applicationId })),
        );
        const offers = await Promise.all(calls.map((c) => offerOf(host, c.institutionId, c.applicationId)));
        const results = await Promise.all(
          offers.map((offer) => outcome(host.dispatch.offers.accept(offer.offerId, staffOf(offer.institutionId)))),
        );

        for (const institutionId of ids) {
          const mine = results.filter((_, i) => calls[i]!.institutionId === institutionId);
          expect(
            mine.filter((r) => 'ok' in r),
            institutionId,
          ).toHaveLength(1);
          expect(mine.filter((r) => !('ok' in r)).map((r) => (r as { code: string }).code)).toEqual([
            'POSITION_INSUFFICIENT',
          ]);
          const won = calls[results.findIndex((r, i) => calls[i]!.institutionId === institutionId && 'ok' in r)]!;
          const lost = applications.find((applicationId) => applicationId !== won.applicationId)!;
          const balances = await host.dispatch.institutions.balances(admin, institutionId);
          expect(balances).toMatchObject({
            deposit: 0,
            frozen: AMOUNT_FEN,
            holds: { [won.applicationId]: AMOUNT_FEN },
          });
          expect(await freezesOf(host, institutionId)).toHaveLength(1);
          // The refused acceptance left its offer open and nothing in the dispatch.
          const view = await host.dispatch.offers.get(dispatchOf(lost), followUp);
          expect(view.offers.find((o) => o.institutionId === institutionId)?.status).toBe('open');
        }
        await expectLedgersVerify(host, ids);
      } finally {
        await host.sealflow.close();
      }
    });

    it('one offer accepted by ten calls at once: one acceptance, one freeze', async () => {
      const parts = shared();
      const host = await dispatchHost((await backend.open()).persistence, parts);
      try {
        await seed(host);
        const id = await passed(host);
        await offering(host, id);
        const offer = await offerOf(host, FUNDER.id, id);
        const results = await Promise.all(
          Array.from({ length: 10 }, () => outcome(host.dispatch.offers.accept(offer.offerId, bank))),
        );
        expect(results.filter((r) => 'ok' in r)).toHaveLength(1);
        expect(new Set(results.filter((r) => !('ok' in r)).map((r) => (r as { code: string }).code))).toEqual(
          new Set(['OFFER_ALREADY_ANSWERED']),
        );
        expect(await freezesOf(host, FUNDER.id)).toHaveLength(1);
        expect((await host.dispatch.institutions.balances(admin, FUNDER.id)).holds).toEqual({ [id]: AMOUNT_FEN });
        const view = await host.dispatch.offers.get(dispatchOf(id), followUp);
        expect(view.offers.filter((o) => o.status === 'accepted')).toHaveLength(1);
        await expectLedgersVerify(host, [FUNDER.id]);
      } finally {
        await host.sealflow.close();
      }
    });
  });
}

const postgres = backends.find((backend) => backend.name === 'PostgreSQL')!;
describe.skipIf(postgres.skip !== undefined)('sealflow.dispatch: two SDK instances on one PostgreSQL schema', () => {
  afterAll(() => postgres.cleanup());

  it('applies every hand-over between the workflows once while both workers run them', async () => {
    const parts = shared();
    const { persistence, reopen } = await postgres.open();
    // Every hand-over also runs twice per attempt, so a duplicate would show even when the workers never collide.
    const handOvers = twice(['requestDispatch', 'reportOutcome', 'startLoanContract']);
    const hosts = [
      await dispatchHost(persistence, parts, { workflows: handOvers }),
      await dispatchHost(await reopen!(), parts, { workflows: handOvers }),
    ];
    const on = (i: number) => hosts[i % 2]!;
    try {
      await seed(hosts[0]!);
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => passed(on(i))));
      await Promise.all(ids.map((id, i) => offering(on(i + 1), id)));
      await Promise.all(
        ids.map(async (id, i) => {
          const offer = await offerOf(on(i), FUNDER.id, id);
          await on(i).dispatch.offers.accept(offer.offerId, bank);
          await on(i + 1).dispatch.offers.choose(dispatchOf(id), FUNDER.id, cm, terms(parts.clock));
        }),
      );
      const applications = await Promise.all(
        ids.map((id, i) =>
          eventually(`the loan contract of ${id}`, async () => {
            const application = await on(i).dispatch.applications.get(cm, id);
            return application?.loanContract?.recordId ? application : undefined;
          }),
        ),
      );
      // Let both workers finish whatever they still hold before counting.
      await eventually('the outboxes to drain', async () => {
        const active = await hosts[0]!.sealflow.runtime.list({ machineId: DISPATCH_WORKFLOW, status: 'active' });
        return active.length === 0 ? true : undefined;
      });

      const dispatches = await hosts[0]!.sealflow.runtime.list({ machineId: DISPATCH_WORKFLOW, limit: 1000 });
      expect(dispatches.map((d) => d.id).sort()).toEqual(ids.map((id) => dispatchOf(id)).sort());
      for (const [i, application] of applications.entries()) {
        expect(application.dispatchRound).toBe(1);
        expect(application.stage).toBe('institutionProcessing.awaitingFaceSigning');
        const history = await on(i).dispatch.applications.history(admin, application.applicationId);
        expect(history.filter((entry) => entry.event === 'DISPATCH_SUCCEEDED')).toHaveLength(1);
        const signings = await on(i + 1).sealflow.signing.find({ businessNo: application.loanContract!.businessNo });
        expect(signings.map((s) => s.id)).toEqual([application.loanContract!.recordId]);
      }
      expect(await freezesOf(hosts[0]!, FUNDER.id)).toHaveLength(ids.length);
      await expectLedgersVerify(hosts[0]!, [FUNDER.id, 'inst-b', 'inst-c']);
      for (const host of hosts) expect(await host.sealflow.runtime.deadLetters.list()).toEqual([]);

      // The other instance's worker finishes the signing the first one's funder started.
      const first = applications[0]!;
      await eventually('the signing to wait for the funder', async () =>
        (await hosts[1]!.sealflow.signing.get(first.loanContract!.recordId!))?.status === 'AWAITING_FUNDER'
          ? true
          : undefined,
      );
      await hosts[0]!.dispatch.signLoanContract(bank, first.applicationId);
      expect(
        (await hosts[1]!.sealflow.signing.waitFor(first.loanContract!.recordId!, { timeoutMs: 45_000 })).status,
      ).toBe('COMPLETED');
    } finally {
      for (const host of hosts) await host.sealflow.close();
    }
  });
});
