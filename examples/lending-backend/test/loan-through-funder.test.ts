/**
 * The lending backend and an external funder system, each on its own loopback HTTP port, run a loan through both:
 * application → review → dispatch → offer webhook → the funder accepts by its rule → the customer chooses → the loan
 * contract is sealed with the funder's own seal → its PDF signatures verify. A second, larger application is declined
 * by the same rule.
 */
import type { AddressInfo } from 'node:net';
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFunderSystem, type FunderSystem } from '../../funder-system/src/funder-system.js';
import {
  auth,
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

const WEBHOOK_SECRET = 'funder-a-webhook-secret-0123456789';
const WAIT = { timeout: 45_000, interval: 100 };

let backend: Awaited<ReturnType<typeof startBackend>>;
let backendUrl = '';
let funder: FunderSystem;

async function api(method: 'GET' | 'POST', path: string, body?: unknown, key = LENDING_KEY) {
  const response = await fetch(`${backendUrl}${path}`, {
    method,
    headers: { ...auth(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, read only by the assertions
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

beforeAll(async () => {
  funder = createFunderSystem({
    funderId: FUNDER_A.id,
    backendUrl: () => backendUrl,
    apiKey: FUNDER_A.apiKey,
    webhookSecret: WEBHOOK_SECRET,
    maxAmountFen: 50_000_000, // up to 50 万元
  });
  await funder.app.listen({ host: '127.0.0.1', port: 0 });
  const funderPort = (funder.app.server.address() as AddressInfo).port;
  backend = await startBackend({
    funders: [
      { ...FUNDER_A, webhook: { url: `http://127.0.0.1:${funderPort}/sealflow/events`, secret: WEBHOOK_SECRET } },
      FUNDER_B,
    ],
  });
  await backend.app.listen({ host: '127.0.0.1', port: 0 });
  backendUrl = `http://127.0.0.1:${(backend.app.server.address() as AddressInfo).port}`;
}, STARTUP_MS);

afterAll(async () => {
  await backend?.close();
  await funder?.app.close();
});

describe('a loan through the lending backend and the funder system', { timeout: 150_000 }, () => {
  it('is offered, accepted by the funder, chosen by the customer and sealed with the funder’s seal', async () => {
    const applicationNumber = nextNumber('SQ');
    const opened = await api('POST', '/lending/drawdowns', dispatchDrawdown(applicationNumber, 30_000_000));
    expect(opened.status).toBe(201);
    const applicationId: string = opened.body.application.applicationId;
    expect(opened.body.application.status).toBe('inReview');
    // The application keeps masked values only.
    expect(personalDataIn(JSON.stringify(opened.body))).toEqual([]);

    // 贷审: the back office passes it; the dispatch starts on its own and offers both funders.
    await backend.app.sealflow.dispatch!.applications.pass(REVIEWER, applicationId);

    // The funder system hears of its offer by webhook and accepts it (30 万 is within its 50 万 limit).
    await vi.waitFor(() => {
      expect(funder.actions).toContainEqual(expect.objectContaining({ kind: 'accepted', applicationId }));
    }, WAIT);
    const view = await vi.waitFor(async () => {
      const current = await api('GET', `/lending/applications/${encodeURIComponent(applicationId)}`);
      expect(current.body.dispatch?.choices.map((c: { institutionId: string }) => c.institutionId)).toEqual([
        FUNDER_A.id,
      ]);
      return current.body;
    }, WAIT);
    expect(view.dispatch.choices[0].name).toBe(FUNDER_A.name);

    // The customer chooses funder A in the app, agreeing to the contract terms.
    const chosen = await api('POST', `/lending/applications/${encodeURIComponent(applicationId)}/choice`, {
      institutionId: FUNDER_A.id,
      address: '上海市浦东新区世纪大道100号',
      creditLimit: '500000.00',
      loan: loanTerms('300000.00'),
      consent: consent(),
    });
    expect(chosen.status).toBe(200);
    expect(chosen.body).toMatchObject({ state: 'chosen', chosenInstitutionId: FUNDER_A.id });

    // The loan contract starts; the funder system hears it awaits its seal and signs through the funder API.
    await vi.waitFor(() => {
      expect(funder.actions).toContainEqual(expect.objectContaining({ kind: 'signed', applicationId }));
    }, WAIT);
    const loan = await vi.waitFor(async () => {
      const current = await api(
        'GET',
        `/funder/loans/${encodeURIComponent(applicationId)}`,
        undefined,
        FUNDER_A.apiKey,
      );
      expect(current.body.loanContract?.status).toBe('COMPLETED');
      return current.body;
    }, WAIT);
    expect(loan.loanContract).toMatchObject({
      scene: 'LOAN_CONTRACT',
      funding: 'funder',
      funderId: FUNDER_A.id,
      funderSignature: { funderId: FUNDER_A.id, sealId: FUNDER_A.sealId },
    });
    expect(funder.actions).toContainEqual({ kind: 'chosen', applicationId });

    // The signed PDF, fetched by the funder: every signature valid, the last covering the whole file, one by the
    // funder's own certificate.
    const pdf = await funder.client.contract(applicationId);
    const signatures = verifyPdfSignatures(pdf);
    expect(signatures.length).toBeGreaterThanOrEqual(2);
    expect(signatures.every((s) => s.valid)).toBe(true);
    expect(signatures.at(-1)?.coversWholeDocument).toBe(true);
    expect(signatures.some((s) => s.signer?.includes(FUNDER_A.name))).toBe(true);

    // Funder B, offered the same application, cannot read A's loan or fetch its contract.
    const other = await api('GET', `/funder/loans/${encodeURIComponent(applicationId)}`, undefined, FUNDER_B.apiKey);
    expect(other.status).toBe(404);
    const loansOfB = await api('GET', '/funder/loans', undefined, FUNDER_B.apiKey);
    expect(loansOfB.body.loans.map((l: { applicationId: string }) => l.applicationId)).not.toContain(applicationId);
    const contractForB = await api(
      'GET',
      `/funder/loans/${encodeURIComponent(applicationId)}/contract`,
      undefined,
      FUNDER_B.apiKey,
    );
    expect(contractForB.status).toBe(404);
    const loansOfA = await funder.client.loans();
    expect(loansOfA.map((l) => l.applicationId)).toContain(applicationId);
    const position = await funder.client.position();
    expect(position.balances.frozen).toBeGreaterThanOrEqual(30_000_000);
    expect(funder.actions.filter((a) => a.kind === 'failed')).toEqual([]);
  });

  it('declines by the funder’s rule an application above its limit', async () => {
    const applicationNumber = nextNumber('SQ');
    const opened = await api('POST', '/lending/drawdowns', dispatchDrawdown(applicationNumber, 80_000_000));
    const applicationId: string = opened.body.application.applicationId;
    await backend.app.sealflow.dispatch!.applications.pass(REVIEWER, applicationId);
    await vi.waitFor(() => {
      expect(funder.actions).toContainEqual(
        expect.objectContaining({ kind: 'declined', applicationId, amountFen: 80_000_000 }),
      );
    }, WAIT);
    const offers = await funder.client.offers();
    expect(offers.find((o) => o.applicationId === applicationId)?.status).toBe('declined');
  });

  it('kept personal data out of every log line', () => {
    expect(backend.logs.lines.length).toBeGreaterThan(0);
    expect(personalDataIn(backend.logs.lines.join('\n'))).toEqual([]);
  });
});
