/**
 * Dispatch deadlines through the API, on a manual clock: a choice nobody accepted is refused, an offer answered after
 * its 24-hour window is refused as expired, and a dispatch nobody accepted returns the application to review.
 */
import { createManualClock } from '@sealflow/core/memory';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  auth,
  consent,
  dispatchDrawdown,
  FUNDER_A,
  LENDING_KEY,
  loanTerms,
  nextNumber,
  REVIEWER,
  STARTUP_MS,
  startBackend,
} from './fixtures.js';

const HOUR = 3_600_000;
const WAIT = { timeout: 45_000, interval: 100 };
const clock = createManualClock(Date.now());
let backend: Awaited<ReturnType<typeof startBackend>>;

beforeAll(async () => {
  backend = await startBackend({ clock });
}, STARTUP_MS);
afterAll(async () => {
  await backend?.close();
});

async function call(method: 'GET' | 'POST', url: string, key: string, body?: unknown) {
  const response = await backend.app.inject({
    method,
    url,
    headers: auth(key),
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  return { status: response.statusCode, type: response.headers['content-type'], body: response.json() };
}

describe('dispatch deadlines', { timeout: 150_000 }, () => {
  it('refuses a late answer and a choice of no acceptance, and sends an unaccepted application back to review', async () => {
    const opened = await call(
      'POST',
      '/lending/drawdowns',
      LENDING_KEY,
      dispatchDrawdown(nextNumber('SQ'), 30_000_000),
    );
    const applicationId: string = opened.body.application.applicationId;
    const path = `/lending/applications/${encodeURIComponent(applicationId)}`;
    await backend.app.sealflow.dispatch!.applications.pass(REVIEWER, applicationId);
    const offer = await vi.waitFor(async () => {
      const { body } = await call('GET', '/funder/offers', FUNDER_A.apiKey);
      const found = (body.offers as { offerId: string; applicationId: string; deadline: number }[]).find(
        (o) => o.applicationId === applicationId,
      );
      expect(found).toBeDefined();
      return found!;
    }, WAIT);
    expect(offer.deadline).toBe(clock.now() + 24 * HOUR);

    // Nobody has accepted: the customer cannot choose funder A.
    const early = await call('POST', `${path}/choice`, LENDING_KEY, {
      institutionId: FUNDER_A.id,
      address: '上海市浦东新区世纪大道100号',
      creditLimit: '500000.00',
      loan: loanTerms('300000.00'),
      consent: consent(clock.now()),
    });
    expect(early.status).toBe(409);
    expect(early.type).toMatch(/^application\/problem\+json/);
    expect(early.body.code).toBe('INSTITUTION_NOT_ACCEPTED');

    // A day and an hour later the offer is past its deadline: accepting it is refused, even before the timer runs.
    clock.advance(25 * HOUR);
    const late = await call('POST', `/funder/offers/${encodeURIComponent(offer.offerId)}/accept`, FUNDER_A.apiKey);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'OFFER_EXPIRED', retryable: false });

    // The worker expires every offer; with nobody accepting within the dispatch window, the application is back in
    // review for the next pass.
    await vi.waitFor(async () => {
      const { body } = await call('GET', path, LENDING_KEY);
      expect(body.application.status).toBe('inReview');
    }, WAIT);
    const { body } = await call('GET', '/funder/offers', FUNDER_A.apiKey);
    const expired = (body.offers as { offerId: string; status: string }[]).find((o) => o.offerId === offer.offerId);
    expect(expired?.status).toBe('expired');
  });
});
