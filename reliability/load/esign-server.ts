/**
 * The vendor of the load suite, in a process of its own so that its memory (every flow and PDF it is given) is not
 * the host's: the e签宝 emulator (`@sealflow/adapter-esign/testing`) with a QPS limit per app and a fixed latency,
 * served over real HTTP from node:http, its msw handlers answering each request. The parent learns the address and
 * credentials over IPC and asks for the gateway's census at the end.
 *
 * `node --import tsx --conditions=@sealflow/source esign-server.ts <taskJson>`
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEsignEmulator } from '../../packages/adapter-esign/src/testing/index.js';
import { type EsignServerTask, type FromEsignServer, LOAD_PLATFORM, type ToEsignServer } from './shared.js';

const task = JSON.parse(process.argv[2] ?? '{}') as EsignServerTask;
const send = (message: FromEsignServer) => process.send?.(message);

// The port must be known before the emulator is made: its handlers match on the base URL.
const server = createServer({ keepAliveTimeout: 60_000 });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const baseUrl = `http://127.0.0.1:${port}`;

const emulator = createEsignEmulator({
  baseUrl,
  app: { orgName: LOAD_PLATFORM.name, orgIDCardNum: LOAD_PLATFORM.creditCode },
  rateLimit: { qps: task.qps },
  latencyMs: task.latencyMs,
  // e签宝 retries a callback that was not answered; a host busy at 50 QPS may answer one late.
  callbacks: { maxAttempts: 5, retryDelayMs: 1_000 },
});
// Each borrower has a real-named account and has authorised the app to sign for her (v1 signAuth).
for (const borrower of task.borrowers) {
  const { psnId } = emulator.addPerson({ name: borrower.name, idNo: borrower.idNumber, mobile: borrower.mobile });
  emulator.authorizeSilentSign(psnId);
}

/** API calls by second of arrival; uploads and downloads (the storage URLs) are not e签宝 API calls. */
const perSecond = new Map<number, number>();
/** API calls by method and path, with ids replaced by `:id`. */
const perRoute = new Map<string, number>();

async function respond(request: Request): Promise<Response | undefined> {
  for (const handler of emulator.handlers) {
    const result = await handler.run({ request: request.clone(), requestId: randomUUID() });
    if (result?.response) return result.response;
  }
  return undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? '/';
  if (!path.startsWith('/__')) {
    const second = Math.floor(Date.now() / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    const route = `${req.method} ${path.split('?')[0]!.replace(/\/[0-9a-f]{16,}(?=\/|$)/g, '/:id')}`;
    perRoute.set(route, (perRoute.get(route) ?? 0) + 1);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  const request = new Request(new URL(path, baseUrl), {
    method: req.method,
    headers,
    ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
  });
  const response = (await respond(request)) ?? new Response('not found', { status: 404 });
  const bytes = Buffer.from(await response.arrayBuffer());
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

process.on('message', (message: ToEsignServer) => {
  if (message.kind !== 'census') return;
  const flows = emulator.findFlows({});
  send({
    kind: 'census',
    census: {
      perSecond: [...perSecond.entries()].sort((a, b) => a[0] - b[0]),
      perRoute: [...perRoute.entries()].sort((a, b) => b[1] - a[1]),
      requests: emulator.traffic.requests,
      rateLimited: emulator.traffic.rateLimited,
      flows: flows.length,
      completedFlows: flows.filter((id) => emulator.flow(id).status === 2).length,
      rssBytes: process.memoryUsage().rss,
    },
  });
});
process.on('disconnect', () => process.exit(0));

send({
  kind: 'ready',
  config: { baseUrl, appId: emulator.app.appId, appSecret: emulator.app.appSecret, sealId: emulator.app.sealId },
});
