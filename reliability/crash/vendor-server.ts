/**
 * The vendors of the crash suite, in a process of its own so they outlive every host the suite kills: the 安心签
 * emulator (`@sealflow/adapter-cfca/testing`) under `/FEP/` and the e签宝 emulator (`@sealflow/adapter-esign/testing`)
 * under `/esign`, served over real HTTP from node:http, their msw handlers answering each request. The parent talks
 * to it over IPC: it learns the addresses and credentials, tells it where the current host takes callbacks, asks for
 * the emulators' census of contracts and flows at the end, and arms a kill that lands between a vendor's commit and
 * its answer.
 *
 * e签宝 pushes callbacks to the notify URL a flow was created with. Hosts come and go, so flows are created with
 * this server's `/callbacks/esign` (the stable address a load balancer would give them) and it forwards each callback
 * to the host alive now; while none is (or it does not answer 200), the emulator retries as e签宝 does.
 *
 * `node --import tsx --conditions=@sealflow/source vendor-server.ts <borrowersJson>`
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCfcaEmulator, createCfcaTestCertificate } from '../../packages/adapter-cfca/src/testing/index.js';
import { createEsignEmulator } from '../../packages/adapter-esign/src/testing/index.js';
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

// e签宝: the platform's company is the app's own; each borrower is real-named and has authorised silent signing.
const esignBaseUrl = `http://127.0.0.1:${port}/esign`;
const esign = createEsignEmulator({
  baseUrl: esignBaseUrl,
  app: { orgName: CRASH_PLATFORM.name, orgIDCardNum: CRASH_PLATFORM.creditCode },
  // e签宝 retries a notification up to 16 times; half a second apart here, so a restart is waited out.
  callbacks: { maxAttempts: 16, retryDelayMs: 500, timeoutMs: 5_000 },
});
for (const borrower of borrowers) {
  const { psnId } = esign.addPerson({ name: borrower.name, idNo: borrower.idNumber, mobile: borrower.mobile });
  esign.authorizeSilentSign(psnId);
}
/** Where the host alive now takes callbacks; null between a kill and the next host's start. */
let hostCallbackUrl: string | null = null;
let callbacksForwarded = 0;
let callbacksRefused = 0;

/**
 * msw's own resolution, done here so the handlers run with the msw copy that made them: the first handler that
 * answers wins. (msw's `getResponse` does the same, but from the root it would be a different copy of msw.)
 */
async function respond(request: Request): Promise<Response | undefined> {
  for (const handler of [...emulator.handlers, ...esign.handlers]) {
    const result = await handler.run({ request: request.clone(), requestId: randomUUID() });
    if (result?.response) return result.response;
  }
  return undefined;
}

/** Transactions that create contracts: a kill armed for "create" lands right after one of these commits. */
const CREATES = new Set(['3201', '3202', '3203']);
/** e签宝's flow creations, likewise. */
const ESIGN_CREATES = /\/v3\/sign-flow\/create-by-file$/;
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
  if (req.url?.startsWith('/callbacks/')) return forwardCallback(req, res, headers, body);
  const request = new Request(new URL(req.url ?? '/', baseUrl.replace(/\/FEP\/$/, '/')), {
    method: req.method,
    headers,
    ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
  });
  requests++;
  const response = (await respond(request)) ?? new Response('not found', { status: 404 });
  const bytes = Buffer.from(await response.arrayBuffer());
  const txCode =
    /\/txCode\/(\d+)\//.exec(req.url ?? '')?.[1] ??
    (ESIGN_CREATES.test(new URL(req.url ?? '/', 'http://x').pathname) ? 'esign-create' : undefined);
  const creates = txCode !== undefined && (CREATES.has(txCode) || txCode === 'esign-create');
  if (armed && txCode && response.ok && (armed === 'any' || creates)) {
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

/** A callback e签宝 sent, passed to the host alive now; anything but its 200 makes the emulator try again. */
async function forwardCallback(req: IncomingMessage, res: ServerResponse, headers: Headers, body: Buffer | undefined) {
  const target = hostCallbackUrl;
  let status = 503;
  let text = 'no host is running';
  if (target) {
    try {
      const answer = await fetch(target + (req.url ?? '').replace(/^\/callbacks/, ''), {
        method: 'POST',
        headers,
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(4_000),
      });
      status = answer.status;
      text = await answer.text();
    } catch (error) {
      status = 502;
      text = (error as Error).message;
    }
  }
  if (status === 200) callbacksForwarded++;
  else callbacksRefused++;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(status === 200 ? text : JSON.stringify({ code: status, msg: text }));
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
  else if (message.kind === 'host') hostCallbackUrl = message.callbackUrl;
  else if (message.kind === 'census') {
    send({
      kind: 'census',
      requests,
      contracts: emulator.contractNumbers().map((contractNo) => {
        const c = emulator.contract(contractNo);
        return {
          contractNo,
          contractName: c.contractName,
          contractState: c.contractState,
          signatureCount: c.signatureCount,
        };
      }),
      esignFlows: esign.findFlows({}).map((signFlowId) => {
        const flow = esign.flow(signFlowId);
        return { signFlowId, title: flow.signFlowTitle, status: flow.status };
      }),
      callbacks: {
        emitted: esign.callbacks.events.length,
        forwarded: callbacksForwarded,
        refused: callbacksRefused,
        // Events no attempt delivered: the emulator gave up on them, and only asking e签宝 finds what they said.
        undelivered: esign.callbacks.events.filter(
          (event) => !esign.callbacks.attempts.some((a) => a.event === event && a.status === 200),
        ).length,
      },
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
  esign: {
    baseUrl: esignBaseUrl,
    appId: esign.app.appId,
    appSecret: esign.app.appSecret,
    sealId: esign.app.sealId,
    callbackUrl: `http://127.0.0.1:${port}/callbacks/esign`,
  },
};
send({ kind: 'ready', config });
