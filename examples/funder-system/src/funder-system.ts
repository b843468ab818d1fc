/**
 * An external funder's system (资金方系统): it hears about its offers through the lending backend's signed webhooks,
 * decides by its own rule — here an amount limit — and, once a customer has chosen it, seals the loan contract with
 * its own seal through the backend's funder API.
 *
 * It answers a webhook as soon as it has verified and noted the event, and does the work afterwards, one event at a
 * time, retrying a step the backend is not ready for yet.
 */
import { verifyWebhookSignature, WebhookSignatureError } from '@sealflow/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { type BackendClient, BackendProblem, backendClient } from './backend-client.js';

export interface FunderSystemOptions {
  /** The institution id the backend registered this funder under. */
  funderId: string;
  /** The lending backend's base URL (`http://127.0.0.1:3000`); a function when it is known only later. */
  backendUrl: string | (() => string);
  /** This funder's API key at the backend. */
  apiKey: string;
  /** The webhook secret the backend signs with; `[new, old]` while rotating. */
  webhookSecret: string | string[];
  /** The rule: accept offers up to this amount (fen), decline larger ones. */
  maxAmountFen: number;
  /** How far a webhook's signed timestamp may be from this clock, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Fastify's logger; default off. */
  logger?: boolean;
}

/** What the funder system did, in order: for its operators (and tests). */
export type FunderAction =
  | { kind: 'accepted'; offerId: string; applicationId: string; amountFen: number }
  | { kind: 'declined'; offerId: string; applicationId: string; amountFen: number; reason: string }
  | { kind: 'chosen'; applicationId: string }
  | { kind: 'not-chosen'; applicationId: string }
  | { kind: 'signed'; applicationId: string; recordId: string }
  | { kind: 'failed'; eventId: string; error: string };

export interface FunderSystem {
  app: FastifyInstance;
  client: BackendClient;
  actions: FunderAction[];
  /** Event ids received and verified (deduplicated). */
  received: string[];
  /** Resolves when every event received so far has been worked on. */
  idle(): Promise<void>;
}

interface WebhookEvent {
  id: string;
  type: string;
  workflowId: string;
  occurredAt: number;
  data: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A step the backend may not be ready for yet (the contract is still being prepared): try again a few times. */
async function withRetries<T>(step: () => Promise<T>, attempts = 20, delayMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const retryable =
        error instanceof BackendProblem && (error.status >= 500 || error.code === 'LOAN_CONTRACT_NOT_STARTED');
      if (!retryable || attempt >= attempts) throw error;
      await sleep(delayMs);
    }
  }
}

export function createFunderSystem(options: FunderSystemOptions): FunderSystem {
  const baseUrl = typeof options.backendUrl === 'function' ? options.backendUrl : () => options.backendUrl as string;
  const client = backendClient({ baseUrl, apiKey: options.apiKey });
  const actions: FunderAction[] = [];
  const received: string[] = [];
  // In production this is a table with a unique event id, written before answering the webhook.
  const seen = new Set<string>();
  let queue: Promise<void> = Promise.resolve();

  async function onOfferCreated(event: WebhookEvent): Promise<void> {
    const offerId = String(event.data.offerId);
    const offer = (await client.offers()).find((o) => o.offerId === offerId);
    if (offer?.status !== 'open') return; // answered, withdrawn or expired meanwhile
    if (offer.amountFen <= options.maxAmountFen) {
      await client.accept(offerId);
      actions.push({ kind: 'accepted', offerId, applicationId: offer.applicationId, amountFen: offer.amountFen });
    } else {
      const reason = `超出本机构单笔限额（${(options.maxAmountFen / 100).toFixed(2)}元）`;
      await client.decline(offerId, reason);
      actions.push({
        kind: 'declined',
        offerId,
        applicationId: offer.applicationId,
        amountFen: offer.amountFen,
        reason,
      });
    }
  }

  async function onAwaitingFunder(event: WebhookEvent): Promise<void> {
    const recordId = String(event.data.recordId);
    // The event names the signing; the loan it belongs to is one of this institution's loans.
    const loan = await withRetries(async () => {
      const found = (await client.loans()).find((l) => l.loanContract?.recordId === recordId);
      if (!found) throw new BackendProblem(503, 'LOAN_NOT_VISIBLE_YET', `no loan with contract ${recordId} yet`);
      return found;
    });
    await withRetries(() => client.sign(loan.applicationId));
    actions.push({ kind: 'signed', applicationId: loan.applicationId, recordId });
  }

  async function work(event: WebhookEvent): Promise<void> {
    try {
      if (event.type === 'dispatch.offer.created') await onOfferCreated(event);
      else if (event.type === 'signing.awaiting-funder') await onAwaitingFunder(event);
      else if (event.type === 'dispatch.chosen')
        actions.push({ kind: 'chosen', applicationId: String(event.data.applicationId) });
      else if (event.type === 'dispatch.not-chosen')
        actions.push({ kind: 'not-chosen', applicationId: String(event.data.applicationId) });
    } catch (error) {
      actions.push({
        kind: 'failed',
        eventId: event.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  const app = Fastify({ logger: options.logger ?? false });
  app.removeAllContentTypeParsers();
  // The signature covers the body's bytes exactly as sent: keep them raw.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) =>
    done(null, body),
  );

  app.post('/sealflow/events', async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    try {
      verifyWebhookSignature({
        secret: options.webhookSecret,
        header: request.headers['sealflow-signature'],
        body,
        toleranceSeconds: options.toleranceSeconds ?? 300,
      });
    } catch (error) {
      if (!(error instanceof WebhookSignatureError)) throw error;
      // A 4xx other than 408/429 is not retried by the sender: right for a request that is not from the backend.
      return reply
        .code(401)
        .type('application/problem+json')
        .send({
          type: `urn:sealflow:problem:${error.code.toLowerCase().replaceAll('_', '-')}`,
          title: 'Unauthorized',
          status: 401,
          code: error.code,
          detail: 'The webhook signature does not verify with this funder’s secret.',
        });
    }
    const event = JSON.parse(body.toString('utf8')) as WebhookEvent;
    if (!seen.has(event.id)) {
      seen.add(event.id);
      received.push(event.id);
      queue = queue.then(() => work(event));
    }
    return reply.code(204).send();
  });

  return { app, client, actions, received, idle: () => queue };
}
