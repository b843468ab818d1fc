/**
 * `/callbacks/*`: notifications signing vendors send. The body is kept as the raw bytes that arrived — e签宝 signs
 * them, and parsing then re-serialising JSON can change a byte — and handed to sealflow with the headers and the
 * query, which verifies the signature, deduplicates by the vendor's event id and moves the signing on.
 *
 * CFCA 安心签 has no endpoint here: its contracts are followed by polling (the signing workflow asks CFCA with durable
 * timers until the contract is signed or the scene's deadline passes), so there is nothing for CFCA to call.
 */
import type { Sealflow } from '@sealflow/core';
import type { FastifyInstance } from 'fastify';

export function callbackRoutes(sealflow: Sealflow) {
  return async (app: FastifyInstance) => {
    // In this plugin only: every body as the bytes received, whatever its content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => {
      done(null, body);
    });

    app.post('/esign', async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await sealflow.signing.handleVendorCallback('esign', {
        headers: request.headers as Record<string, string | string[] | undefined>,
        query: request.query as Record<string, string>,
        rawBody,
      });
      // e签宝 expects a 200 to stop redelivering; a duplicate is acknowledged the same way.
      return reply.code(200).send({ code: '200', msg: 'success', status: result.status });
    });
  };
}
