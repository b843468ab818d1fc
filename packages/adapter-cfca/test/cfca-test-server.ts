/** A local HTTP(S) server for the client tests: records what arrives and answers as each test says. */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The TLS client certificate's subject CN, when the connection had one. */
  clientCommonName?: string;
}

/** What to answer: a status and a body, or `hang` to never answer. */
export type Reply = { status?: number; body: string | Uint8Array; contentType?: string } | 'hang';

export interface TestServer {
  baseUrl: string;
  received: Received[];
  /** Resolves once `count` requests have arrived. */
  arrived(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestServer(
  reply: (request: Received) => Reply | Promise<Reply>,
  tls?: ServerOptions,
): Promise<TestServer> {
  const received: Received[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const hanging: ServerResponse[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const socket = req.socket as Partial<TLSSocket>;
      const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        clientCommonName: peer?.subject ? String(peer.subject.CN) : undefined,
      };
      received.push(request);
      for (const w of waiting.filter((w) => received.length >= w.count)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
      const answer = await reply(request);
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(answer.status ?? 200, { 'Content-Type': answer.contentType ?? 'application/json;charset=UTF-8' });
      res.end(answer.body);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/FEP/`,
    received,
    arrived(count) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The form fields of a received transaction, url-encoded or multipart. */
export async function formOf(request: Received): Promise<FormData> {
  return new Request('http://local/', {
    method: 'POST',
    headers: { 'content-type': String(request.headers['content-type']) },
    body: request.body,
  }).formData();
}

export const ok = (members: Record<string, unknown> = {}, txTime = '20260101080000'): Reply => ({
  body: JSON.stringify({ head: { txTime, locale: 'zh_CN', retCode: '60000000', retMessage: 'OK' }, ...members }),
});
