import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSealflowError, type SealflowError } from '@sealflow/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CfcaClientOptions, createCfcaClient } from '../src/client/client.js';
import { createCfcaTestCertificate } from '../src/client/test-certificates.js';
import { ok, startTestServer, type TestServer } from './cfca-test-server.js';

// A CA issues the server's certificate and the platform's communication certificate; the server only accepts
// client certificates from it, as CFCA's FEP accepts only the certificate it issued to the platform.
const ca = createCfcaTestCertificate({ commonName: 'CFCA TEST OCA1 (sealflow tests)', isCa: true });
const serverCertificate = createCfcaTestCertificate({
  commonName: 'localhost',
  issuer: ca,
  subjectAltNames: ['localhost', '127.0.0.1'],
});
const platform = createCfcaTestCertificate({
  commonName: 'AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1',
  issuer: ca,
});
const stranger = createCfcaTestCertificate({ commonName: 'AnxinSign@陌生平台@91110000MA00000000@1' });
const PLAT_ID = '3FEC02111C593DECE05312016B0A418F';

const openssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!openssl) console.warn('mutual-tls.test: the openssl CLI is missing, so the PKCS#12 (pfx) test is skipped.');

let server: TestServer;
let unnamedServer: TestServer;
beforeAll(async () => {
  const tls = {
    key: serverCertificate.privateKeyPem,
    ca: ca.certificatePem,
    requestCert: true,
    rejectUnauthorized: true,
  };
  server = await startTestServer(() => ok(), { ...tls, cert: serverCertificate.certificatePem });
  // A server certificate that does not name 127.0.0.1, like CFCA's test host reached by its IP address.
  const unnamed = createCfcaTestCertificate({
    commonName: 'fep.example',
    issuer: ca,
    subjectAltNames: ['fep.example'],
  });
  unnamedServer = await startTestServer(() => ok(), {
    ...tls,
    key: unnamed.privateKeyPem,
    cert: unnamed.certificatePem,
  });
});
afterAll(async () => {
  await server.close();
  await unnamedServer.close();
});

function client(tls: CfcaClientOptions['tls'], baseUrl = server.baseUrl) {
  return createCfcaClient({
    baseUrl,
    platId: PLAT_ID,
    tls,
    signer: { key: platform.privateKeyPem, certificate: platform.certificatePem },
    timeoutMs: 20_000,
  });
}

async function rejection(promise: Promise<unknown>): Promise<SealflowError> {
  try {
    await promise;
  } catch (error) {
    if (isSealflowError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('createCfcaClient: mutual TLS', () => {
  it('presents the platform certificate (PEM) and is answered', async () => {
    const before = server.received.length;
    const answer = await client({
      cert: platform.certificatePem,
      key: platform.privateKeyPem,
      ca: ca.certificatePem,
    }).transaction('3210', { contract: { contractNo: 'JK1' } });
    expect(answer.head.retCode).toBe('60000000');
    expect(server.received[before]?.clientCommonName).toBe('AnxinSign@某某消费金融股份有限公司@91310000MA1K00000X@1');
  });

  it.runIf(openssl)('presents the platform certificate from a PKCS#12 with its passphrase', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfca-pfx-'));
    let pfx: Buffer;
    try {
      const pem = path.join(dir, 'platform.pem');
      writeFileSync(pem, `${platform.certificatePem}${platform.privateKeyPem}`);
      pfx = execFileSync('openssl', ['pkcs12', '-export', '-in', pem, '-passout', 'pass:pfx-secret-123']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const before = server.received.length;
    await client({ pfx: new Uint8Array(pfx), passphrase: 'pfx-secret-123', ca: ca.certificatePem }).transaction(
      '3210',
      {},
    );
    expect(server.received[before]?.clientCommonName).toContain('某某消费金融股份有限公司');
  });

  it('is refused by the server without a client certificate, or with one the server does not trust', async () => {
    const before = server.received.length;
    // A plain HTTPS client that trusts the server but presents no certificate.
    const bare = await new Promise<unknown>((resolve) => {
      const req = request(`${server.baseUrl}platId/${PLAT_ID}/txCode/3210/transaction`, {
        method: 'POST',
        ca: ca.certificatePem,
      });
      req.on('response', (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', resolve);
      req.end('data=%7B%7D&signature=x');
    });
    expect(bare).toBeInstanceOf(Error);

    const refused = await rejection(
      client({ cert: stranger.certificatePem, key: stranger.privateKeyPem, ca: ca.certificatePem }).transaction(
        '3210',
        {},
      ),
    );
    // With TLS 1.3 the server's refusal arrives after the client's handshake, so the client sees either the alert or
    // a reset, depending on which it reads first.
    expect(['VENDOR_TLS_FAILED', 'VENDOR_UNAVAILABLE']).toContain(refused.code);
    expect(server.received.length).toBe(before);
  });

  it('refuses a server it cannot verify with the non-retryable VENDOR_TLS_FAILED', async () => {
    // No ca: Node's public roots do not know the test CA.
    const untrusted = await rejection(
      client({ cert: platform.certificatePem, key: platform.privateKeyPem }).transaction('3210', {}),
    );
    expect(untrusted).toMatchObject({ code: 'VENDOR_TLS_FAILED', retryable: false });
    expect(untrusted.message).toMatch(/tls\.ca/);
  });

  it('checks the server name unless verifyHostname is false (the chain is still checked)', async () => {
    const tls = { cert: platform.certificatePem, key: platform.privateKeyPem, ca: ca.certificatePem };
    const misnamed = await rejection(client(tls, unnamedServer.baseUrl).transaction('3210', {}));
    expect(misnamed).toMatchObject({
      code: 'VENDOR_TLS_FAILED',
      details: { networkError: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    });

    const answer = await client({ ...tls, verifyHostname: false }, unnamedServer.baseUrl).transaction('3210', {});
    expect(answer.head.retCode).toBe('60000000');
    const stillUntrusted = await rejection(
      client(
        { cert: platform.certificatePem, key: platform.privateKeyPem, verifyHostname: false },
        unnamedServer.baseUrl,
      ).transaction('3210', {}),
    );
    expect(stillUntrusted.code).toBe('VENDOR_TLS_FAILED');
  });
});
