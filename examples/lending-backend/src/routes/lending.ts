/**
 * `/lending/*`: what the lending app (the host's own app back end) calls — credit signing (授信), drawdowns (用款)
 * funded by the platform or sent to review and dispatch, the customer's choice of funder, and statuses.
 */
import { applicationIdOf, type DispatchActor, NotFoundError, type Sealflow, type SignRequest } from '@sealflow/core';
import type { FastifyInstance } from 'fastify';
import { lendingAppKeyring } from '../auth.js';
import type { CfcaSigning } from '../cfca.js';
import type { BackendOptions } from '../options.js';
import { parseWith } from '../problem.js';
import {
  ApplicationParam,
  CfcaCodeBody,
  CfcaConfirmBody,
  ChoiceBody,
  CreditSigningBody,
  DrawdownBody,
  IdParam,
} from '../schemas.js';
import { signingView } from '../views.js';

/**
 * The lending app acts for the customer: as the customer manager that records applications and the customer's
 * choice. In a host with customer managers as people, pass the person's id instead.
 */
export const LENDING_APP_ACTOR: DispatchActor = { id: 'lending-app', roles: ['customer-manager'] };

export function lendingRoutes(sealflow: Sealflow, options: BackendOptions, cfca?: CfcaSigning) {
  const authenticate = lendingAppKeyring(options.lendingAppKeys);
  const dispatch = sealflow.dispatch!;

  return async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request) => {
      authenticate(request);
    });

    app.post('/credit-signings', async (request, reply) => {
      const body = parseWith(CreditSigningBody, request.body, 'body');
      const record = await sealflow.signing.sign({
        businessNo: body.businessNo,
        scene: 'CREDIT_GRANT',
        borrower: body.borrower,
        values: { credit: { limit: body.creditLimit } },
        consent: body.consent,
        actor: { id: LENDING_APP_ACTOR.id },
      });
      return reply.code(202).send(signingView(record));
    });

    app.post('/drawdowns', async (request, reply) => {
      const body = parseWith(DrawdownBody, request.body, 'body');
      if (body.funding === 'platform') {
        const signRequest: SignRequest = {
          businessNo: body.businessNo,
          scene: 'LOAN_CONTRACT',
          funding: 'platform',
          borrower: body.borrower,
          values: {
            lender: options.platform,
            customer: { address: body.address },
            credit: { limit: body.creditLimit },
            loan: body.loan,
          },
          consent: body.consent,
          actor: { id: LENDING_APP_ACTOR.id },
        };
        const record = await sealflow.signing.sign(signRequest);
        return reply.code(202).send({ funding: 'platform', signing: signingView(record) });
      }
      // Into 贷审 review: the application is opened, its customer registered (real-name), its materials and
      // product confirmed, and submitted. A reviewer's pass in the back office starts the dispatch. Each step runs
      // only if the application is still before it, so a request repeated after a lost answer (or a failure half-way)
      // carries on where the first one stopped instead of failing as a duplicate.
      const existing = await dispatch.applications.get(LENDING_APP_ACTOR, applicationIdOf(body.applicationNumber));
      let application =
        existing ??
        (await dispatch.applications.open(LENDING_APP_ACTOR, {
          applicationNumber: body.applicationNumber,
          customer: body.customer,
          productCode: body.productCode,
          amountFen: body.amountFen,
          region: body.region,
          businessCategory: body.businessCategory,
        }));
      const id = application.applicationId;
      if (application.status === 'registering') {
        application = await dispatch.applications.registerCustomer(LENDING_APP_ACTOR, id, body.customer);
      }
      if (application.status === 'collectingMaterials') {
        // Incomplete materials leave it collecting (the answer says so); three such submissions call for a person.
        application = await dispatch.applications.submitMaterials(LENDING_APP_ACTOR, id, body.materials);
      }
      if (application.status === 'confirmingProduct') {
        application = await dispatch.applications.confirmProduct(LENDING_APP_ACTOR, id);
      }
      if (application.status === 'productConfirmed') {
        application = await dispatch.applications.submitForReview(LENDING_APP_ACTOR, id);
      }
      return reply.code(existing ? 200 : 201).send({ funding: 'dispatch', application });
    });

    app.get('/signings/:id', async (request) => {
      const { id } = parseWith(IdParam, request.params, 'path');
      const record = await sealflow.signing.get(id);
      if (!record) throw new NotFoundError(`There is no signing ${id}; use the id the signing request returned.`);
      return signingView(record);
    });

    /** Where the borrower signs, for vendors whose scenes have the borrower sign on the vendor's page (e签宝). */
    app.get('/signings/:id/signer-url', async (request) => {
      const { id } = parseWith(IdParam, request.params, 'path');
      return sealflow.signing.signerUrl(id, 'borrower');
    });

    app.get('/applications/:applicationId', async (request) => {
      const { applicationId } = parseWith(ApplicationParam, request.params, 'path');
      const application = await dispatch.applications.get(LENDING_APP_ACTOR, applicationId);
      if (!application) throw new NotFoundError(`There is no application ${applicationId}.`);
      const dispatchId = `dispatch:${applicationId}:${application.dispatchRound}`;
      const current =
        application.status === 'dispatching' ? await dispatch.offers.get(dispatchId, LENDING_APP_ACTOR) : null;
      // What the customer may choose from: the institutions that accepted, named as they are registered.
      const accepted = current ? current.offers.filter((offer) => offer.status === 'accepted') : [];
      const choices = await Promise.all(
        accepted.map(async (offer) => {
          const institution = await dispatch.institutions.get(LENDING_APP_ACTOR, offer.institutionId);
          return { institutionId: institution.id, name: institution.name, acceptedAt: offer.answeredAt };
        }),
      );
      return {
        application,
        dispatch: current
          ? { dispatchId, state: current.state, choiceDeadline: current.choiceDeadline, choices }
          : null,
      };
    });

    app.post('/applications/:applicationId/choice', async (request) => {
      const { applicationId } = parseWith(ApplicationParam, request.params, 'path');
      const body = parseWith(ChoiceBody, request.body, 'body');
      const application = await dispatch.applications.get(LENDING_APP_ACTOR, applicationId);
      if (!application) throw new NotFoundError(`There is no application ${applicationId}.`);
      const institution = await dispatch.institutions.get(LENDING_APP_ACTOR, body.institutionId);
      const view = await dispatch.offers.choose(
        `dispatch:${applicationId}:${application.dispatchRound}`,
        body.institutionId,
        LENDING_APP_ACTOR,
        {
          consent: body.consent,
          // The lender (甲方) printed on the contract is the chosen institution, as registered.
          values: {
            lender: { name: institution.name, creditCode: institution.creditCode },
            customer: { address: body.address },
            credit: { limit: body.creditLimit },
            loan: body.loan,
          },
        },
      );
      return { dispatchId: view.dispatchId, state: view.state, chosenInstitutionId: view.chosenInstitutionId };
    });

    if (cfca) {
      // CFCA 安心签 signs for a borrower only under the borrower's proxy-sign authorisation (代签授权), given once
      // with an SMS code before the first signing: the app asks for the code, the borrower types it in.
      app.post('/cfca/proxy-sign/code', async (request) => {
        const { borrower } = parseWith(CfcaCodeBody, request.body, 'body');
        return cfca.sendCode(borrower);
      });
      app.post('/cfca/proxy-sign/confirm', async (request, reply) => {
        const body = parseWith(CfcaConfirmBody, request.body, 'body');
        await cfca.confirmCode(body);
        return reply.code(204).send();
      });
    }
  };
}
