/**
 * `/funder/*`: what a funder's system calls with its own API key — its offers, accept or decline, sign the loan
 * contract with its own seal, its loans and its position (头寸). Every call acts as that institution's staff, so
 * sealflow scopes every read and command to it; another institution's offer or loan is answered as not found, so a
 * funder cannot even learn that it exists.
 */
import { type DispatchActor, NotFoundError, PermissionError, type Sealflow, SealflowError } from '@sealflow/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { funderKeyring } from '../auth.js';
import type { BackendOptions } from '../options.js';
import { parseWith } from '../problem.js';
import { ApplicationParam, DeclineBody, OfferParam } from '../schemas.js';
import { signingView } from '../views.js';

/** A refusal for another institution's offer or loan reads exactly like an unknown one. */
async function ownOnly<T>(notFound: string, command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    if (error instanceof PermissionError || (error instanceof SealflowError && error.code === 'NOT_FOUND')) {
      throw new NotFoundError(notFound);
    }
    throw error;
  }
}

const noOffer = (offerId: string) =>
  `There is no offer ${offerId} for your institution; list your offers to find their ids.`;
const noLoan = (applicationId: string) => `There is no loan ${applicationId} at your institution.`;

export function funderRoutes(sealflow: Sealflow, options: BackendOptions) {
  const authenticate = funderKeyring(options.funders);
  const dispatch = sealflow.dispatch!;
  const staff = new WeakMap<FastifyRequest, DispatchActor>();
  /** The institution's system, acting as its staff. */
  const actorOf = (request: FastifyRequest): DispatchActor => staff.get(request)!;

  return async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request) => {
      const funder = authenticate(request);
      staff.set(request, { id: `${funder.id}:api`, roles: ['institution'], institutionId: funder.id });
    });

    app.get('/offers', async (request) => {
      const offers = await dispatch.offers.offersFor(actorOf(request));
      return { offers };
    });

    app.post('/offers/:offerId/accept', async (request) => {
      const { offerId } = parseWith(OfferParam, request.params, 'path');
      const view = await ownOnly(noOffer(offerId), () => dispatch.offers.accept(offerId, actorOf(request)));
      return { offer: view.offers.find((o) => o.offerId === offerId) ?? null };
    });

    app.post('/offers/:offerId/decline', async (request) => {
      const { offerId } = parseWith(OfferParam, request.params, 'path');
      const { reason } = parseWith(DeclineBody, request.body, 'body');
      const view = await ownOnly(noOffer(offerId), () => dispatch.offers.decline(offerId, reason, actorOf(request)));
      return { offer: view.offers.find((o) => o.offerId === offerId) ?? null };
    });

    app.get('/loans', async (request) => {
      const actor = actorOf(request);
      // sealflow also shows an institution the applications it was only offered; its loans are those it holds.
      const applications = await dispatch.applications.find(actor, { institutionId: actor.institutionId! });
      return { loans: applications.filter((application) => application.institutionId === actor.institutionId) };
    });

    app.get('/loans/:applicationId', async (request) => {
      const { applicationId } = parseWith(ApplicationParam, request.params, 'path');
      const application = await dispatch.applications.get(actorOf(request), applicationId);
      if (!application || application.institutionId !== actorOf(request).institutionId) {
        throw new NotFoundError(noLoan(applicationId));
      }
      const recordId = application.loanContract?.recordId;
      const record = recordId ? await sealflow.signing.get(recordId) : null;
      return { application, loanContract: record ? signingView(record) : null };
    });

    /** Seal the loan contract with the institution's own seal (its profile's sealId, bound to it). */
    app.post('/loans/:applicationId/sign', async (request, reply) => {
      const { applicationId } = parseWith(ApplicationParam, request.params, 'path');
      const record = await ownOnly(noLoan(applicationId), () =>
        dispatch.signLoanContract(actorOf(request), applicationId),
      );
      return reply.code(202).send(signingView(record));
    });

    /** The signed loan contract, once completed. */
    app.get('/loans/:applicationId/contract', async (request, reply) => {
      const { applicationId } = parseWith(ApplicationParam, request.params, 'path');
      const application = await dispatch.applications.get(actorOf(request), applicationId);
      const recordId =
        application?.institutionId === actorOf(request).institutionId && application?.loanContract?.recordId;
      if (!recordId) throw new NotFoundError(noLoan(applicationId));
      const record = await sealflow.signing.get(recordId);
      if (record?.status !== 'COMPLETED') {
        throw new SealflowError(
          'CONTRACT_NOT_SIGNED',
          `The loan contract of ${applicationId} is ${record?.status ?? 'not started'}, not yet signed; ask again once it is COMPLETED.`,
        );
      }
      const [document] = await sealflow.signing.download(recordId);
      return reply
        .type('application/pdf')
        .header('content-disposition', `attachment; filename="${encodeURIComponent(document!.fileName)}"`)
        .send(Buffer.from(document!.bytes));
    });

    app.get('/position', async (request) => {
      const actor = actorOf(request);
      const balances = await dispatch.institutions.balances(actor, actor.institutionId!);
      const institution = await dispatch.institutions.get(actor, actor.institutionId!);
      return { balances, openCount: institution.openCount, capacity: institution.capacity, stats: institution.stats };
    });
  };
}
