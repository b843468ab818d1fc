/**
 * The backend with CFCA 安心签 as its signing vendor, against the in-memory 安心签 emulator: a borrower without a
 * proxy-sign authorisation is not signed for; the lending app's SMS-code step records one; the credit grant is then
 * signed and completed (CFCA does not call back: the workflow polls), and its PDF signatures verify.
 */
import { verifyPdfSignatures } from '@sealflow/adapter-local';
import { createCfcaEmulator, createCfcaTestCertificate } from '@sealflow/adapter-cfca/testing';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_PLATFORM } from '../src/options.js';
import {
  auth,
  CUSTOMER,
  consent,
  LENDING_KEY,
  nextNumber,
  personalDataIn,
  STARTUP_MS,
  startBackend,
} from './fixtures.js';

const WAIT = { timeout: 45_000, interval: 100 };
const CODE = '246810';
const certificate = createCfcaTestCertificate({
  commonName: `AnxinSign@${DEMO_PLATFORM.name}@${DEMO_PLATFORM.creditCode}@1`,
});
const emulator = createCfcaEmulator({
  platform: { certificate: certificate.certificatePem, name: DEMO_PLATFORM.name, identNo: DEMO_PLATFORM.creditCode },
  checkCode: { fixed: CODE },
});
// Only 安心签's address is answered by the emulator; the tests' own requests go to Fastify by inject.
const server = setupServer(...emulator.handlers);
let backend: Awaited<ReturnType<typeof startBackend>>;

beforeAll(async () => {
  server.listen({ onUnhandledRequest: 'bypass' });
  backend = await startBackend({
    signer: {
      kind: 'cfca',
      connection: {
        baseUrl: emulator.baseUrl,
        platId: emulator.platform.platId,
        tls: { cert: certificate.certificatePem, key: certificate.privateKeyPem },
        signer: { key: certificate.privateKeyPem, certificate: certificate.certificatePem },
        qps: 1000,
        burst: 1000,
      },
      projectCode: 'SEALFLOW-LOANS',
      platformSealId: emulator.platform.sealId,
    },
  });
}, STARTUP_MS);
afterAll(async () => {
  await backend?.close();
  server.close();
});

async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await backend.app.inject({
    method,
    url,
    headers: auth(LENDING_KEY),
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : null, raw: response.body };
}

const creditSigning = (businessNo: string) => ({
  businessNo,
  borrower: CUSTOMER,
  creditLimit: '80000.00',
  consent: { ...consent(), documentVersionsShown: ['CREDIT_CONTRACT_V.v0001', 'DATA_QUERY_AUTH_V.v0001'] },
});

async function finished(id: string) {
  return vi.waitFor(async () => {
    const current = await call('GET', `/lending/signings/${id}`);
    expect(['COMPLETED', 'FAILED']).toContain(current.body.status);
    return current.body;
  }, WAIT);
}

describe('signing on CFCA 安心签', { timeout: 150_000 }, () => {
  it('does not sign for a borrower who has not authorised the platform', async () => {
    const started = await call('POST', '/lending/credit-signings', creditSigning(nextNumber('CG')));
    expect(started.status).toBe(202);
    const record = await finished(started.body.id);
    expect(record.status).toBe('FAILED');
    expect(record.failure).toMatchObject({ code: 'VENDOR_REJECTED' });
    expect(record.failure.message).toMatch(/no proxy-sign authorisation \(代签授权\)/);
    expect(personalDataIn(JSON.stringify(record))).toEqual([]);
  });

  it('records the authorisation by SMS code, then signs the credit grant by polling to completion', async () => {
    const sent = await call('POST', '/lending/cfca/proxy-sign/code', { borrower: CUSTOMER });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ alreadyAuthorized: false });
    expect(personalDataIn(sent.raw)).toEqual([]);

    const wrong = await call('POST', '/lending/cfca/proxy-sign/confirm', {
      userId: sent.body.userId,
      checkCode: '000000',
    });
    // 安心签's own refusal (验证码错误), passed on as a problem: nothing is recorded.
    expect(wrong.status).toBe(422);
    expect(wrong.body).toMatchObject({ code: 'VENDOR_REJECTED', retryable: false });
    expect(wrong.body.detail).toMatch(/验证码错误/);
    const badShape = await call('POST', '/lending/cfca/proxy-sign/confirm', {
      userId: sent.body.userId,
      checkCode: 'x',
    });
    expect(badShape.status).toBe(400);

    const confirmed = await call('POST', '/lending/cfca/proxy-sign/confirm', {
      userId: sent.body.userId,
      checkCode: CODE,
      location: '203.0.113.7',
    });
    expect(confirmed.status).toBe(204);

    const started = await call('POST', '/lending/credit-signings', creditSigning(nextNumber('CG')));
    expect(started.status).toBe(202);
    const record = await finished(started.body.id);
    expect(record.failure).toBeNull();
    expect(record.status).toBe('COMPLETED');
    const documents = await backend.app.sealflow.signing.download(started.body.id);
    expect(documents).toHaveLength(2);
    for (const document of documents) {
      const signatures = verifyPdfSignatures(document.bytes);
      expect(signatures.length).toBeGreaterThanOrEqual(2);
      expect(signatures.every((s) => s.valid)).toBe(true);
    }
  });
});
