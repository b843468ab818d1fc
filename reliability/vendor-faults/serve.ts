/**
 * The vendor-fault suite's HTTP: an emulator's msw handlers served over real HTTP from node:http in the suite's own
 * process (the way the crash suite's vendor process serves 安心签), so the clients' timeouts, aborts and dropped
 * connections are real. Every request is counted by the workflow that sent it: the suite's axios instance puts the
 * workflow id of the effect making the call in a header, which the server reads.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { EsignVendorOptions } from '../../packages/adapter-esign/src/index.js';
import type { EffectContext, WorkflowDefinition } from '../../packages/core/src/index.js';
import { ROOT } from '../vitest-run.js';

/** The header a vendor request carries the id of the workflow whose effect made it in. */
export const WORKFLOW_HEADER = 'x-reliability-workflow';

/** Which workflow's effect is running: set around every effect, read when a request leaves. */
const running = new AsyncLocalStorage<string>();

/** The built-in workflows with every effect run inside its workflow's id, so its vendor requests can be told apart. */
export function attributed(definitions: WorkflowDefinition[]): WorkflowDefinition[] {
  return definitions.map(
    (definition) =>
      ({
        ...definition,
        effects: Object.fromEntries(
          Object.entries(definition.effects).map(([name, effect]) => [
            name,
            {
              ...effect,
              run: (params: never, context: EffectContext) =>
                running.run(context.workflowId, () => effect.run(params, context)),
            },
          ]),
        ),
      }) as WorkflowDefinition,
  );
}

/** An axios instance (the adapters' own copy of axios) whose requests carry the running workflow's id. */
export function attributingAxios(): NonNullable<EsignVendorOptions['axios']> {
  const axios = createRequire(join(ROOT, 'packages', 'adapter-esign', 'package.json'))('axios') as {
    create(): NonNullable<EsignVendorOptions['axios']>;
  };
  const instance = axios.create();
  instance.interceptors.request.use((config) => {
    const workflowId = running.getStore();
    if (workflowId) config.headers.set(WORKFLOW_HEADER, workflowId);
    return config;
  });
  return instance;
}

/** A server on 127.0.0.1 with a port of its own. */
export interface Served {
  port: number;
  baseUrl: string;
  /** Requests answered (or dropped) so far. */
  requests: number;
  /** Requests per workflow id; requests made outside any effect are under `''`. */
  byWorkflow: Map<string, number>;
  close(): Promise<void>;
}

type Handler = {
  run(args: { request: Request; requestId: string }): Promise<{ response?: Response } | null | undefined>;
};

/**
 * Starts listening first (the emulators' handlers match on the base URL, so the port must be known before they are
 * made), then answers each request with the first handler `handlers()` gives that answers it — msw's own resolution,
 * done here so the handlers run with the copy of msw that made them.
 */
export async function serve(path: string, handlers: () => readonly Handler[]): Promise<Served> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const served: Served = {
    port,
    baseUrl: `http://127.0.0.1:${port}${path}`,
    requests: 0,
    byWorkflow: new Map(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    }
    const workflowId = headers.get(WORKFLOW_HEADER) ?? '';
    served.requests++;
    served.byWorkflow.set(workflowId, (served.byWorkflow.get(workflowId) ?? 0) + 1);
    // The client gave up (its timeout): the emulator's held answer is released, as msw does with the fetch's signal.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(`http://127.0.0.1:${port}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      signal: gone.signal,
      ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}),
    });
    let response: Response | undefined;
    for (const handler of handlers()) {
      const result = await handler.run({ request: request.clone(), requestId: randomUUID() });
      if (result?.response) {
        response = result.response;
        break;
      }
    }
    response ??= new Response('not found', { status: 404 });
    if (res.destroyed || req.socket.destroyed) return;
    // A network fault: the connection drops without an answer.
    if (response.type === 'error') {
      req.socket.destroy();
      return;
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(bytes);
  }

  server.on('request', (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  return served;
}

/** A plain server for e签宝's callbacks: `receive` answers each one. */
export async function serveCallbacks(
  receive: (path: string, request: IncomingMessage, body: Uint8Array) => Promise<number>,
) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receive(req.url ?? '/', req, new Uint8Array(Buffer.concat(chunks)))
        .then((status) => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(status === 200 ? '{"code":"200","msg":"success"}' : '{"code":"500"}');
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
