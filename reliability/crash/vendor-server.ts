/**
 * The vendor of the crash suite, in a process of its own so it outlives every host the suite kills: the 安心签
 * emulator (`@sealflow/adapter-cfca/testing`) served over real HTTP from node:http, its msw handlers answering each
 * request. The parent talks to it over IPC: it learns the address and credentials, asks for the emulator's census of
 * contracts at the end, and arms a kill that lands between 安心签's commit and its answer.
 *
 * `node --import tsx --conditions=@sealflow/source vendor-server.ts <borrowersJson>`
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCfcaEmulator, createCfcaTestCertificate } from '../../packages/adapter-cfca/src/testing/index.js';
import {
  CRASH_PLATFORM,
  CRASH_PROJECT,
  type CrashBorrower,
  type ParentToVendor,
  type VendorConfig,
  type VendorToParent,
} from './shared.js';

const borrowers = JSON.parse(process.argv[2] ?? '[]') as CrashBorrower[];
const send = (message: VendorToParent) => process.send?.(message);

// The port must be known before the emulator is made: its handlers match on the base URL.
const server = createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const baseUrl = `http://127.0.0.1:${port}/FEP/`;

const certificate = createCfcaTestCertificate({
  commonName: `AnxinSign@${CRASH_PLATFORM.name}@${CRASH_PLATFORM.creditCode}@1`,
});
const emulator = createCfcaEmulator({
  baseUrl,
  platform: { certificate: certificate.certificatePem, name: CRASH_PLATFORM.name, identNo: CRASH_PLATFORM.creditCode },
});
// Each borrower has an account and has authorised the platform to sign for her (代签), as after the SMS step.
for (const borrower of borrowers) {
  const { userId } = emulator.addPerson({
    name: borrower.name,
    identNo: borrower.idNumber,
    mobilePhone: borrower.mobile,
  });
  emulator.authorizeProxySign(userId, CRASH_PROJECT);
}

/**
 * msw's own resolution, done here so the handlers run with the msw copy that made them: the first handler that
 * answers wins. (msw's `getResponse` does the same, but from the root it would be a different copy of msw.)
 */
async function respond(request: Request): Promise<Response | undefined> {
  for (const handler of emulator.handlers) {
    const result = await handler.run({ request: request.clone(), requestId: randomUUID() });
    if (result?.response) return result.response;
  }
  return undefined;
}

/** Transactions that create contracts: a kill armed for "create" lands right after one of these commits. */
const CREATES = new Set(['3201', '3202', '3203']);
let armed: 'create' | 'any' | null = null;
let held: { release: () => void } | null = null;
let requests = 0;

async function handle(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const request = new Request(new URL(req.url ?? '/', baseUrl.replace(/\/FEP\/$/, '/')), {
    method: req.method,
    headers,
    ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
  });
  requests++;
  const response = (await respond(request)) ?? new Response('not found', { status: 404 });
  const bytes = Buffer.from(await response.arrayBuffer());
  const txCode = /\/txCode\/(\d+)\//.exec(req.url ?? '')?.[1];
  if (armed && txCode && (armed === 'any' || CREATES.has(txCode))) {
    // 安心签 has committed; the parent now kills the host before the answer leaves, then releases it.
    armed = null;
    await new Promise<void>((resolve) => {
      held = { release: resolve };
      send({ kind: 'committed', txCode });
      setTimeout(resolve, 10_000).unref();
    });
    held = null;
  }
  if (res.destroyed || req.socket.destroyed) return;
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(bytes);
}

server.on('request', (req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(error));
  });
});

process.on('message', (message: ParentToVendor) => {
  if (message.kind === 'arm') armed = message.what;
  else if (message.kind === 'disarm') armed = null;
  else if (message.kind === 'release') held?.release();
  else if (message.kind === 'census') {
    send({
      kind: 'census',
      requests,
      contracts: emulator.contractNumbers().map((contractNo) => {
        const c = emulator.contract(contractNo);
        return { contractNo, contractState: c.contractState, signatureCount: c.signatureCount };
      }),
    });
  }
});
process.on('disconnect', () => process.exit(0));

const config: VendorConfig = {
  baseUrl,
  platId: emulator.platform.platId,
  sealId: emulator.platform.sealId,
  certificatePem: certificate.certificatePem,
  privateKeyPem: certificate.privateKeyPem,
};
send({ kind: 'ready', config });
