/**
 * The lending backend's API at its edges: authentication, request validation and errors as problem+json, signings
 * through the lending endpoints, funder isolation, the webhook filter per funder, and vendor callbacks.
 */
import { withIdNumberCheckChar } from '@sealflow/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { funderEvents } from '../src/sealflow-setup.js';
import {
  auth,
  BACK_OFFICE_OPERATOR,
  CUSTOMER,
  consent,
  dispatchDrawdown,
  FUNDER_A,
  FUNDER_B,
  LENDING_KEY,
  loanTerms,
  nextNumber,
  personalDataIn,
  REVIEWER,
  STARTUP_MS,
  startBackend,
} from './fixtures.js';

const WAIT = { timeout: 45_000, interval: 100 };
let backend: Awaited<ReturnType<typeof startBackend>>;

beforeAll(async () => {
  backend = await startBackend();
}, STARTUP_MS);
afterAll(async () => {
  await backend?.close();
});

async function call(method: 'GET' | 'POST', url: string, options: { key?: string; body?: unknown } = {}) {
  const response = await backend.app.inject({
    method,
    url,
    headers: options.key ? auth(options.key) : {},
    ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
  });
  return {
    status: response.statusCode,
    type: response.headers['content-type'],
    body: response.json(),
    raw: response.body,
  };
}

const creditSigning = (businessNo: string, borrower = CUSTOMER) => ({
  businessNo,
  borrower,
  creditLimit: '80000.00',
  consent: { ...consent(), documentVersionsShown: ['CREDIT_CONTRACT_V.v0001', 'DATA_QUERY_AUTH_V.v0001'] },
});

describe('authentication', () => {
  it('refuses a missing or unknown key, and one caller’s key on another’s endpoints, as 401 problem+json', async () => {
    for (const [url, key] of [
      ['/lending/signings/x', undefined],
      ['/lending/signings/x', 'an-unknown-key-0123456789abcdef'],
      ['/lending/signings/x', FUNDER_A.apiKey],
      ['/funder/offers', LENDING_KEY],
    ] as const) {
      const answer = await call('GET', url, key ? { key } : {});
      expect(answer.status, `${url} with ${key ?? 'no key'}`).toBe(401);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', instance: url });
    }
  });
});

describe('validation and errors', () => {
  it('answers a malformed request with 400 problem+json naming each field, without echoing the values', async () => {
    const badId = '110101199003074519'; // wrong check digit and too long a mobile below
    const answer = await call('POST', '/lending/credit-signings', {
      key: LENDING_KEY,
      body: {
        businessNo: 'CG 1',
        borrower: { name: '', idNumber: `${badId}0`, mobile: '139123456789' },
        creditLimit: '8万',
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({
      type: 'urn:sealflow:problem:invalid-input',
      title: 'Bad Request',
      status: 400,
      code: 'INVALID_INPUT',
      instance: '/lending/credit-signings',
    });
    const paths = (answer.body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'body.businessNo',
        'body.borrower.name',
        'body.borrower.idNumber',
        'body.borrower.mobile',
        'body.creditLimit',
        'body.consent',
      ]),
    );
    expect(answer.raw).not.toContain(badId);
    expect(answer.raw).not.toContain('139123456789');
  });

  it('answers a body that is not JSON, an unknown field and an unknown route as problem+json', async () => {
    const notJson = await backend.app.inject({
      method: 'POST',
      url: '/lending/credit-signings',
      headers: { ...auth(LENDING_KEY), 'content-type': 'application/json' },
      payload: '{"businessNo":',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(notJson.json()).toMatchObject({ status: 400 });

    const extra = await call('POST', '/lending/credit-signings', {
      key: LENDING_KEY,
      body: { ...creditSigning(nextNumber('CG')), idNumberInClear: 'x' },
    });
    expect(extra.status).toBe(400);

    const nowhere = await call('GET', '/lending/nowhere', { key: LENDING_KEY });
    expect(nowhere.status).toBe(404);
    expect(nowhere.body).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('answers sealflow’s typed errors by their code: an unknown signing is 404', async () => {
    const answer = await call('GET', '/lending/signings/no-such-record', { key: LENDING_KEY });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: 'NOT_FOUND', type: 'urn:sealflow:problem:not-found' });
  });
});

describe('signings through the lending endpoints', { timeout: 150_000 }, () => {
  it('signs a credit grant (授信), returns the same signing for the same business number, and masks the customer', async () => {
    const businessNo = nextNumber('CG');
    const started = await call('POST', '/lending/credit-signings', {
      key: LENDING_KEY,
      body: creditSigning(businessNo),
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ businessNo, scene: 'CREDIT_GRANT' });
    const again = await call('POST', '/lending/credit-signings', { key: LENDING_KEY, body: creditSigning(businessNo) });
    expect(again.body.id).toBe(started.body.id);

    const done = await vi.waitFor(async () => {
      const current = await call('GET', `/lending/signings/${started.body.id}`, { key: LENDING_KEY });
      expect(current.body.status).toBe('COMPLETED');
      return current;
    }, WAIT);
    expect(done.body.documents).toHaveLength(2);
    expect(done.body.documents.every((d: { signatures: number }) => d.signatures >= 2)).toBe(true);
    expect(personalDataIn(done.raw)).toEqual([]);
    expect(done.body.customer.maskedIdNumber).toMatch(/^\d{6}\*+\d{3}[\dX]$/);
  });

  it('refuses a credit grant a business check fails (the applicant is 64) as 422 with the record id', async () => {
    const older = { ...CUSTOMER, idNumber: withIdNumberCheckChar('31010119620412351') };
    const answer = await call('POST', '/lending/credit-signings', {
      key: LENDING_KEY,
      body: creditSigning(nextNumber('CG'), older),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.recordId).toMatch(/.+/);
    expect(answer.body.detail).toMatch(/年龄/);
    expect(answer.raw).not.toContain(older.idNumber);
  });

  it('signs a platform-funded drawdown’s loan contract (借款合同)', async () => {
    const answer = await call('POST', '/lending/drawdowns', {
      key: LENDING_KEY,
      body: {
        funding: 'platform',
        businessNo: nextNumber('LN'),
        borrower: CUSTOMER,
        address: '上海市浦东新区世纪大道100号',
        creditLimit: '80000.00',
        loan: loanTerms('50000.00'),
        consent: consent(),
      },
    });
    expect(answer.status).toBe(202);
    expect(answer.body.signing).toMatchObject({ scene: 'LOAN_CONTRACT', funding: 'platform' });
    await vi.waitFor(async () => {
      const current = await call('GET', `/lending/signings/${answer.body.signing.id}`, { key: LENDING_KEY });
      expect(current.body.status).toBe('COMPLETED');
    }, WAIT);
  });

  it('opens a loan application for review once: the same request again carries on, not a duplicate', async () => {
    const drawdown = dispatchDrawdown(nextNumber('SQ'), 30_000_000);
    const first = await call('POST', '/lending/drawdowns', { key: LENDING_KEY, body: drawdown });
    expect(first.status).toBe(201);
    expect(first.body.application.status).toBe('inReview');
    const again = await call('POST', '/lending/drawdowns', { key: LENDING_KEY, body: drawdown });
    expect(again.status).toBe(200);
    expect(again.body.application).toMatchObject({
      applicationId: first.body.application.applicationId,
      status: 'inReview',
    });
    expect(personalDataIn(again.raw)).toEqual([]);
  });

  it('keeps an application with incomplete materials collecting them, and finishes it when they are complete', async () => {
    const drawdown = dispatchDrawdown(nextNumber('SQ'), 30_000_000);
    const partial = await call('POST', '/lending/drawdowns', {
      key: LENDING_KEY,
      body: { ...drawdown, materials: drawdown.materials.slice(0, 1) },
    });
    expect(partial.status).toBe(201);
    expect(partial.body.application.status).toBe('collectingMaterials');
    const complete = await call('POST', '/lending/drawdowns', { key: LENDING_KEY, body: drawdown });
    expect(complete.status).toBe(200);
    expect(complete.body.application.status).toBe('inReview');
  });

  it('refuses a drawdown of an unknown kind, naming the field', async () => {
    const answer = await call('POST', '/lending/drawdowns', { key: LENDING_KEY, body: { funding: 'cash' } });
    expect(answer.status).toBe(400);
    expect((answer.body.errors as { path: string }[]).map((e) => e.path)).toContain('body.funding');
  });
});

describe('funder isolation', { timeout: 150_000 }, () => {
  it('lets a funder see and answer only its own offers: another’s is 404, as if it did not exist', async () => {
    const opened = await call('POST', '/lending/drawdowns', {
      key: LENDING_KEY,
      body: dispatchDrawdown(nextNumber('SQ'), 30_000_000),
    });
    expect(opened.status).toBe(201);
    const applicationId: string = opened.body.application.applicationId;
    await backend.app.sealflow.dispatch!.applications.pass(REVIEWER, applicationId);

    const offersOf = async (key: string) => {
      const answer = await call('GET', '/funder/offers', { key });
      return (answer.body.offers as { offerId: string; institutionId: string; applicationId: string }[]).filter(
        (o) => o.applicationId === applicationId,
      );
    };
    const [offerA] = await vi.waitFor(async () => {
      const offers = await offersOf(FUNDER_A.apiKey);
      expect(offers).toHaveLength(1);
      return offers;
    }, WAIT);
    expect(offerA!.institutionId).toBe(FUNDER_A.id);
    const offersB = await offersOf(FUNDER_B.apiKey);
    expect(offersB.map((o) => o.institutionId)).toEqual([FUNDER_B.id]);

    const path = (offerId: string) => `/funder/offers/${encodeURIComponent(offerId)}`;
    const stolen = await call('POST', `${path(offerA!.offerId)}/accept`, { key: FUNDER_B.apiKey });
    expect(stolen.status).toBe(404);
    expect(stolen.body).toMatchObject({ code: 'NOT_FOUND' });
    const unknown = await call('POST', `${path(`${offerA!.offerId}-nope`)}/accept`, { key: FUNDER_B.apiKey });
    expect(unknown.status).toBe(404);
    // The refusal of another's offer reads like an unknown one: nothing tells B that A's offer exists.
    expect(stolen.body.detail.replace(offerA!.offerId, '?')).toBe(
      unknown.body.detail.replace(`${offerA!.offerId}-nope`, '?'),
    );
    const declined = await call('POST', `${path(offerA!.offerId)}/decline`, {
      key: FUNDER_B.apiKey,
      body: { reason: '不做' },
    });
    expect(declined.status).toBe(404);

    const accepted = await call('POST', `${path(offerA!.offerId)}/accept`, { key: FUNDER_A.apiKey });
    expect(accepted.status).toBe(200);
    expect(accepted.body.offer).toMatchObject({ offerId: offerA!.offerId, status: 'accepted' });
    const twice = await call('POST', `${path(offerA!.offerId)}/accept`, { key: FUNDER_A.apiKey });
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('OFFER_ALREADY_ANSWERED');

    // Neither the loan nor its signing is B's to read or to seal.
    const loan = `/funder/loans/${encodeURIComponent(applicationId)}`;
    expect((await call('GET', loan, { key: FUNDER_B.apiKey })).status).toBe(404);
    expect((await call('POST', `${loan}/sign`, { key: FUNDER_B.apiKey })).status).toBe(404);
    expect((await call('GET', `${loan}/contract`, { key: FUNDER_B.apiKey })).status).toBe(404);
    // A's position shows the frozen amount; B's does not.
    const positionA = await call('GET', '/funder/position', { key: FUNDER_A.apiKey });
    expect(positionA.body.balances.holds[applicationId]).toBe(30_000_000);
    const positionB = await call('GET', '/funder/position', { key: FUNDER_B.apiKey });
    expect(positionB.body.balances.holds[applicationId]).toBeUndefined();
  });

  it('sends each funder’s system only the events about its own offers and loan contracts', () => {
    const forA = funderEvents(FUNDER_A);
    const event = (type: string, payload: Record<string, unknown>) => ({
      id: `e-${type}`,
      workflowId: 'w',
      type,
      payload,
      occurredAt: 0,
    });
    expect(forA(event('dispatch.offer.created', { institutionId: FUNDER_A.id }))).toBe(true);
    expect(forA(event('dispatch.offer.created', { institutionId: FUNDER_B.id }))).toBe(false);
    expect(forA(event('dispatch.chosen', { institutionId: FUNDER_B.id }))).toBe(false);
    expect(forA(event('signing.awaiting-funder', { funderId: FUNDER_A.id }))).toBe(true);
    expect(forA(event('signing.awaiting-funder', { funderId: FUNDER_B.id }))).toBe(false);
    expect(forA(event('signing.completed', { funderId: FUNDER_A.id }))).toBe(false);
    expect(forA(event('dispatch.application.passed', { institutionId: FUNDER_A.id }))).toBe(false);
  });
});

describe('vendor callbacks', () => {
  it('answers an e签宝 callback as not found when e签宝 is not the configured vendor', async () => {
    const answer = await backend.app.inject({
      method: 'POST',
      url: '/callbacks/esign',
      headers: { 'content-type': 'application/json' },
      payload: '{"action":"SIGN_FLOW_COMPLETE","signFlowId":"f-1"}',
    });
    expect(answer.statusCode).toBe(404);
    expect(answer.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('the back office', () => {
  it('is served under /admin, its API only after signing in', async () => {
    const page = await backend.app.inject({ method: 'GET', url: '/admin/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect((await backend.app.inject({ method: 'GET', url: '/admin/api/me' })).statusCode).toBe(401);
    const login = await backend.app.inject({
      method: 'POST',
      url: '/admin/api/login',
      payload: { operatorId: BACK_OFFICE_OPERATOR.id, password: BACK_OFFICE_OPERATOR.password },
    });
    expect(login.statusCode).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const me = await backend.app.inject({ method: 'GET', url: '/admin/api/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: BACK_OFFICE_OPERATOR.id });
  });
});

describe('logs', () => {
  it('logs requests and sealflow’s workflow lines with personal data masked', () => {
    const text = backend.logs.lines.join('');
    expect(text).toContain('"url":"/lending/credit-signings"');
    expect(text).toContain('"sealflow":{');
    expect(personalDataIn(text)).toEqual([]);
  });
});
