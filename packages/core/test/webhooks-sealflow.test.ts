/** `createSealflow({ webhooks })`: the relay wired to the facade's runtime, started with it and closed after it. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  SealflowError,
  type WorkflowDefinition,
  createSealflow,
  silentLogger,
  verifyWebhookSignature,
} from '../src/index.js';
import { createMemorySigningVendor } from '../src/memory/index.js';
import { type WebhookReceiver, publisherWorkflow, startReceiver } from './fixtures/webhook-receiver.js';
import { HASH_KEY, ORGANIZATIONS } from './signing-fixtures.js';

const SECRET = 'facade-secret-0123456789';
const base = {
  vendors: { memory: createMemorySigningVendor() },
  identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
  hashKey: HASH_KEY,
  organizations: { platform: ORGANIZATIONS.platform },
  logger: silentLogger,
  worker: { pollMs: 5 },
  workflows: (builtIn: WorkflowDefinition[]) => [...builtIn, publisherWorkflow],
};

let server: WebhookReceiver | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('createSealflow with webhooks', () => {
  it('relays domain events in the background until close()', async () => {
    server = await startReceiver(() => 200);
    const sealflow = await createSealflow({
      ...base,
      webhooks: {
        subscribers: [{ id: 'host', url: server.url('/events'), secret: SECRET, events: ['report.*'] }],
        loop: { pollMs: 5 },
      },
    });
    expect(sealflow.webhooks).toBeDefined();
    await sealflow.runtime.start('publisher', { id: 'p1' });
    await sealflow.runtime.send('p1', { type: 'PUBLISH', name: 'report.ready', n: 1 });
    await vi.waitFor(() => expect(server!.requests).toHaveLength(1), { timeout: 10_000 });
    const [request] = server.requests;
    expect(request!.headers['sealflow-event-type']).toBe('report.ready');
    expect(() =>
      verifyWebhookSignature({ secret: SECRET, header: request!.headers['sealflow-signature'], body: request!.body }),
    ).not.toThrow();
    expect(await sealflow.webhooks!.deadLetters()).toEqual([]);
    await sealflow.close();
  });

  it('has no relay unless asked, and refuses a bad subscriber before starting anything', async () => {
    const plain = await createSealflow({ ...base, start: false });
    expect(plain.webhooks).toBeUndefined();
    await plain.close();
    const error = await createSealflow({
      ...base,
      webhooks: { subscribers: [{ id: 'host', url: 'not a url', secret: SECRET }] },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SealflowError);
    expect((error as SealflowError).message).toContain('subscribers[0].url must be an absolute http: or https: URL');
  });
});
