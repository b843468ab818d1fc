/**
 * RFC 3161 timestamps: the HTTP client and the local TSA against each other and against openssl, both ways (a local
 * TSA token checked by `openssl ts -verify`, a token from `openssl ts -reply` checked by `verifyTimestampToken`), and
 * every refusal a host branches on: TSA down, HTTP errors, PKIStatus rejection, a token for another digest or nonce,
 * an expired TSA certificate, a changed token, an untrusted root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TimestampError } from '@sealflow/core';
import { httpTimestampAuthority, verifyTimestampToken } from '../src/index.js';
import { createLocalTimestampAuthority, type LocalTimestampAuthority } from '../src/testing/index.js';
import { encodeTimestampQuery } from '../src/timestamp/rfc3161.js';
import { requireTool, tempFile } from './helpers.js';

const data = Buffer.from('借款合同 第 2025-001 号: the bytes being timestamped');
const digest = createHash('sha256').update(data).digest();

let tsa: LocalTimestampAuthority;
let server: Server;
let baseUrl: string;
/** What the test server does with the next request; set per test. */
let handler: (body: Buffer, req: IncomingMessage, res: ServerResponse) => void;
const seen: { headers: IncomingMessage['headers'] }[] = [];

beforeAll(async () => {
  requireTool('openssl');
  tsa = createLocalTimestampAuthority();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers });
      handler(Buffer.concat(chunks), req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tsa`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const reply = (res: ServerResponse, body: Uint8Array) => {
  res.writeHead(200, { 'content-type': 'application/timestamp-reply' });
  res.end(body);
};

async function rejection(promise: Promise<unknown>): Promise<TimestampError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TimestampError);
  return error as TimestampError;
}

/** `openssl ts -verify` of a token over `data`, trusting `caPem`; true only on "Verification: OK". */
function opensslTsVerify(token: Uint8Array, caPem: string): { ok: boolean; output: string } {
  const r = spawnSync(
    'openssl',
    [
      'ts',
      '-verify',
      '-data',
      tempFile('data.bin', data),
      '-in',
      tempFile('token.der', token),
      '-token_in',
      '-CAfile',
      tempFile('ca.pem', caPem),
    ],
    { encoding: 'utf8' },
  );
  const output = `${r.stdout}${r.stderr}`;
  return { ok: r.status === 0 && /Verification: OK/.test(output), output };
}

describe('local TSA over the HTTP client', () => {
  it('returns a token for the digest that openssl ts -verify accepts with the root as CAfile', async () => {
    handler = (body, _req, res) => reply(res, tsa.respond(body));
    const client = httpTimestampAuthority({
      url: baseUrl,
      basicAuth: { username: 'sealflow', password: 'secret' },
      headers: { 'x-api-key': 'k1' },
      trustAnchors: [tsa.rootCertificatePem],
    });
    const token = await client.timestamp(digest, { hashAlgorithm: 'sha256' });
    const request = seen.at(-1)!.headers;
    expect(request['content-type']).toBe('application/timestamp-query');
    expect(request.authorization).toBe(`Basic ${Buffer.from('sealflow:secret').toString('base64')}`);
    expect(request['x-api-key']).toBe('k1');
    expect(token.hashAlgorithm).toBe('sha256');
    expect(token.nonce).toMatch(/^[0-9a-f]{16}$/);
    expect(token.serialNumber).toMatch(/^[0-9a-f]+$/);
    expect(token.tsaName).toContain('CN=sealflow local TSA');
    expect(Math.abs(token.genTime.getTime() - Date.now())).toBeLessThan(5 * 60_000);

    const verified = await client.verify(token.token, digest);
    expect(verified).toMatchObject({ anchored: true, serialNumber: token.serialNumber, accuracyMs: 1000 });
    expect(verified.genTime.getTime()).toBe(token.genTime.getTime());

    const openssl = opensslTsVerify(token.token, tsa.rootCertificatePem);
    expect(openssl.output).toContain('Verification: OK');
    expect(openssl.ok).toBe(true);
  });

  it('timestamps sha384 and sha512 digests too', async () => {
    for (const hashAlgorithm of ['sha384', 'sha512'] as const) {
      const d = createHash(hashAlgorithm).update(data).digest();
      const token = await tsa.timestamp(d, { hashAlgorithm });
      expect((await tsa.verify(token.token, d)).hashAlgorithm).toBe(hashAlgorithm);
    }
  });

  it('refuses a digest of the wrong length before asking anyone (INVALID_INPUT)', async () => {
    const error = await rejection(tsa.timestamp(data, { hashAlgorithm: 'sha256' }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(/digest of the data/);
  });
});

describe('refusals of the HTTP client', () => {
  it('refuses a token for another digest (TSA_RESPONSE_MISMATCH, not retryable)', async () => {
    const other = createHash('sha256').update('another document').digest();
    handler = (_body, _req, res) =>
      reply(res, tsa.respond(encodeTimestampQuery(other, { hashAlgorithm: 'sha256' }).der));
    const error = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(error.code).toBe('TSA_RESPONSE_MISMATCH');
    expect(error.message).toMatch(/another digest/);
    expect(error.retryable).toBe(false);
  });

  it('refuses a token for the right digest under another nonce (a replayed answer)', async () => {
    handler = (_body, _req, res) =>
      reply(res, tsa.respond(encodeTimestampQuery(digest, { hashAlgorithm: 'sha256' }).der));
    const error = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(error.code).toBe('TSA_RESPONSE_MISMATCH');
    expect(error.message).toMatch(/another nonce/);
  });

  it('reports a PKIStatus rejection with its reasons (TSA_REJECTED, not retryable)', async () => {
    handler = (_body, _req, res) => reply(res, tsa.respond(new Uint8Array([0x30, 0x00])));
    const error = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(error.code).toBe('TSA_REJECTED');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ status: 'rejection', failInfo: ['badRequest'] });
  });

  it('treats HTTP 503 as retryable (TSA_UNAVAILABLE) and HTTP 401 as not (TSA_HTTP_ERROR)', async () => {
    handler = (_body, _req, res) => res.writeHead(503).end();
    const down = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(down).toMatchObject({ code: 'TSA_UNAVAILABLE', retryable: true });
    handler = (_body, _req, res) => res.writeHead(401).end();
    const denied = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(denied).toMatchObject({ code: 'TSA_HTTP_ERROR', retryable: false });
    expect(denied.message).toMatch(/credentials/);
  });

  it('treats a TSA that is not listening, or does not answer in time, as retryable (TSA_UNAVAILABLE)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await rejection(
      httpTimestampAuthority({ url: `http://127.0.0.1:${port}/` }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(refused).toMatchObject({ code: 'TSA_UNAVAILABLE', retryable: true });

    handler = () => {}; // never answers
    const slow = await rejection(
      httpTimestampAuthority({ url: baseUrl, timeoutMs: 300 }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(slow).toMatchObject({ code: 'TSA_UNAVAILABLE', retryable: true });
    expect(slow.message).toMatch(/did not answer within 300 ms/);
  });

  it('reports an answer that is not a TimeStampResp (TSA_RESPONSE_MALFORMED)', async () => {
    handler = (_body, _req, res) => reply(res, Buffer.from('<html>maintenance</html>'));
    const error = await rejection(
      httpTimestampAuthority({ url: baseUrl }).timestamp(digest, { hashAlgorithm: 'sha256' }),
    );
    expect(error.code).toBe('TSA_RESPONSE_MALFORMED');
  });
});

describe('verify', () => {
  it('refuses a token from an expired TSA certificate (TSA_CERTIFICATE_EXPIRED)', async () => {
    const expired = createLocalTimestampAuthority({ validDays: -1 });
    const token = await expired.timestamp(digest, { hashAlgorithm: 'sha256' });
    const error = await rejection(expired.verify(token.token, digest));
    expect(error.code).toBe('TSA_CERTIFICATE_EXPIRED');
    expect(error.retryable).toBe(false);
  });

  it('refuses a token over other data, a changed token, and a TSA outside the trust anchors', async () => {
    const token = await tsa.timestamp(digest, { hashAlgorithm: 'sha256' });
    const other = createHash('sha256').update('other').digest();
    expect((await rejection(tsa.verify(token.token, other))).code).toBe('TIMESTAMP_IMPRINT_MISMATCH');

    // The genTime's seconds digit, inside the signed TSTInfo.
    const changed = Buffer.from(token.token);
    const at = changed.indexOf(Buffer.from('Z', 'latin1'), changed.indexOf(Buffer.from([0x18])) + 2) - 1;
    changed[at] = changed[at] === 0x30 ? 0x31 : 0x30;
    expect((await rejection(tsa.verify(changed, digest))).code).toBe('TIMESTAMP_SIGNATURE_INVALID');

    const stranger = createLocalTimestampAuthority();
    const untrusted = await rejection(
      Promise.resolve().then(() =>
        verifyTimestampToken(token.token, digest, { trustAnchors: [stranger.rootCertificate] }),
      ),
    );
    expect(untrusted.code).toBe('TSA_CERTIFICATE_UNTRUSTED');
    expect(verifyTimestampToken(token.token, digest).anchored).toBe(false);
  });

  it('refuses bytes that are not a token (TIMESTAMP_MALFORMED)', async () => {
    const error = await rejection(tsa.verify(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), digest));
    expect(error.code).toBe('TIMESTAMP_MALFORMED');
  });
});

describe('openssl as the TSA', () => {
  /** A TSA certificate and `openssl ts -reply` configuration in a temporary folder. */
  function opensslTsa(): { config: string; certPem: string } {
    const key = tempFile('tsa.key', '');
    const cert = tempFile('tsa.pem', '');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '30',
        '-subj',
        '/C=CN/O=openssl test/CN=openssl TSA',
        '-addext',
        'extendedKeyUsage=critical,timeStamping',
        '-addext',
        'basicConstraints=critical,CA:false',
      ],
      { stdio: 'pipe' },
    );
    const serial = tempFile('tsaserial', '01\n');
    const config = tempFile(
      'tsa.cnf',
      [
        '[ tsa ]',
        'default_tsa = tsa_config1',
        '[ tsa_config1 ]',
        `serial = ${serial}`,
        `signer_cert = ${cert}`,
        `signer_key = ${key}`,
        'signer_digest = sha256',
        'default_policy = 1.2.3.4.1',
        'digests = sha256, sha384, sha512',
        'accuracy = secs:1, millisecs:500',
        'ordering = no',
        'tsa_name = yes',
        'ess_cert_id_alg = sha256',
        '',
      ].join('\n'),
    );
    return { config, certPem: readFileSync(cert, 'utf8') };
  }

  it('verifies a token made by openssl ts -reply, served over HTTP to the client with a nonce', async () => {
    const { config, certPem } = opensslTsa();
    handler = (body, _req, res) => {
      const out = tempFile('reply.tsr', '');
      execFileSync('openssl', ['ts', '-reply', '-config', config, '-queryfile', tempFile('q.tsq', body), '-out', out], {
        stdio: 'pipe',
      });
      reply(res, readFileSync(out));
    };
    const client = httpTimestampAuthority({ url: baseUrl, trustAnchors: [certPem] });
    const token = await client.timestamp(digest, { hashAlgorithm: 'sha256' });
    expect(token.policy).toBe('1.2.3.4.1');
    expect(token.tsaName).toContain('CN=openssl TSA');
    const verified = await client.verify(token.token, digest);
    expect(verified).toMatchObject({ anchored: true, accuracyMs: 1500, nonce: token.nonce });
    expect(opensslTsVerify(token.token, certPem).ok).toBe(true);
  });

  it('refuses an openssl token when the digest differs', async () => {
    const { config, certPem } = opensslTsa();
    const query = tempFile('q.tsq', '');
    execFileSync('openssl', ['ts', '-query', '-data', tempFile('d.bin', data), '-sha256', '-cert', '-out', query], {
      stdio: 'pipe',
    });
    const token = tempFile('t.der', '');
    execFileSync('openssl', ['ts', '-reply', '-config', config, '-queryfile', query, '-token_out', '-out', token], {
      stdio: 'pipe',
    });
    const der = new Uint8Array(readFileSync(token));
    expect(verifyTimestampToken(der, digest, { trustAnchors: [certPem] }).tsaName).toContain('CN=openssl TSA');
    const error = await rejection(
      Promise.resolve().then(() => verifyTimestampToken(der, createHash('sha256').update('x').digest())),
    );
    expect(error.code).toBe('TIMESTAMP_IMPRINT_MISMATCH');
  });
});
