import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Persistence,
  SealflowError,
  type WebhookRelayOptions,
  type WebhookSubscriber,
  createRuntime,
  createWebhookRelay,
  verifyWebhookSignature,
} from '../src/index.js';
import {
  type ManualClock,
  createManualClock,
  createMemoryLogger,
  createMemoryPersistence,
} from '../src/memory/index.js';
import { type Reply, type WebhookReceiver, publisherWorkflow, startReceiver } from './fixtures/webhook-receiver.js';

const SECRET_A = 'secret-a-0123456789abcdef';
const SECRET_B = 'secret-b-0123456789abcdef';
const NO_JITTER = { maxAttempts: 4, baseDelayMs: 1_000, maxDelayMs: 8_000, jitter: 0 };

const open: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((receiver) => receiver.close()));
});

async function receiver(reply: (path: string, earlier: number) => Reply = () => 200) {
  const started = await startReceiver((request, earlier) => reply(request.path, earlier));
  open.push(started);
  return started;
}

function setup(options: {
  subscribers: WebhookSubscriber[];
  persistence?: Persistence;
  clock?: ManualClock;
  relay?: Partial<WebhookRelayOptions>;
}) {
  const clock = options.clock ?? createManualClock();
  const logger = createMemoryLogger();
  const persistence = options.persistence ?? createMemoryPersistence();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, logger, workflows: [publisherWorkflow] });
  const relay = createWebhookRelay({
    runtime,
    subscribers: options.subscribers,
    retry: NO_JITTER,
    random: () => 0.5,
    ...options.relay,
  });
  let published = 0;
  /** Emit domain events from a fresh workflow and let the runtime hand them to the relay. */
  async function publish(...names: string[]) {
    const id = `w${++published}`;
    await runtime.start('publisher', { id });
    for (const [n, name] of names.entries()) await runtime.send(id, { type: 'PUBLISH', name, n });
    await runtime.runOnce();
    return id;
  }
  const webhookRows = () => persistence.transaction((tx) => tx.outbox.list({ kind: 'webhook' }));
  return { clock, logger, persistence, runtime, relay, publish, webhookRows };
}

async function rejection(promise: Promise<unknown>): Promise<SealflowError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SealflowError);
  return error as SealflowError;
}

describe('webhook relay: delivery', () => {
  it('POSTs the event as JSON with its id, type and a signature the receiver helper accepts', async () => {
    const server = await receiver();
    const { relay, publish, clock, webhookRows } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
    });
    const workflowId = await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });

    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request!.body);
    expect(body).toMatchObject({ type: 'signing.completed', workflowId, data: { type: 'signing.completed', n: 0 } });
    expect(request!.headers['sealflow-event-id']).toBe(body.id);
    expect(request!.headers['sealflow-event-type']).toBe('signing.completed');
    expect(request!.headers['sealflow-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));
    expect(request!.headers['sealflow-delivery-attempt']).toBe('1');
    const header = request!.headers['sealflow-signature'];
    expect(verifyWebhookSignature({ secret: SECRET_A, header, body: request!.body, now: clock.now() })).toEqual({
      timestamp: Math.floor(clock.now() / 1000),
    });
    const wrong = await rejection(
      (async () => verifyWebhookSignature({ secret: SECRET_B, header, body: request!.body, now: clock.now() }))(),
    );
    expect(wrong.code).toBe('WEBHOOK_SIGNATURE_MISMATCH');

    expect((await webhookRows()).map((row) => row.status)).toEqual(['done']);
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    expect(server.requests).toHaveLength(1);
  });

  it('retries 500s with backoff and the same event id until the receiver accepts', async () => {
    const server = await receiver((_, earlier) => (earlier < 2 ? 500 : 200));
    const { relay, publish, clock, webhookRows } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    const [waiting] = await webhookRows();
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1, availableAt: clock.now() + 1_000 });
    expect(waiting!.lastError).toMatch(/^HTTP 500/);

    // Not due yet: nothing is sent before the backoff has passed.
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    clock.advance(1_000);
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    expect((await webhookRows())[0]!.availableAt).toBe(clock.now() + 2_000);
    clock.advance(2_000);
    expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });

    expect(server.requests.map((r) => r.headers['sealflow-delivery-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(server.requests.map((r) => r.headers['sealflow-event-id'])).size).toBe(1);
    expect((await webhookRows())[0]!.status).toBe('done');
  });

  it('dead-letters a 400 at once, saying it is not retried', async () => {
    const server = await receiver(() => 400);
    const { relay, publish, clock } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    const [letter] = await relay.deadLetters();
    expect(letter).toMatchObject({ subscriberId: 'funder', eventType: 'signing.completed', attempts: 1 });
    expect(letter!.lastError).toMatch(/^HTTP 400 Bad Request: .*not retried/);
    clock.advance(60_000);
    await relay.runOnce();
    expect(server.requests).toHaveLength(1);
  });

  it('retries 408 and 429, and waits at least as long as Retry-After asks (up to the cap)', async () => {
    const server = await receiver((path, earlier) =>
      path === '/busy' && earlier === 0 ? { status: 429, headers: { 'retry-after': '5' } } : earlier === 0 ? 408 : 200,
    );
    const { relay, publish, clock, webhookRows } = setup({
      subscribers: [
        { id: 'busy', url: server.url('/busy'), secret: SECRET_A },
        { id: 'slow', url: server.url('/slow'), secret: SECRET_B },
      ],
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 2, dead: 0 });
    const due = Object.fromEntries((await webhookRows()).map((row) => [row.id.split('/')[1], row.availableAt]));
    expect(due).toEqual({ busy: clock.now() + 5_000, slow: clock.now() + 1_000 });
    clock.advance(5_000);
    expect(await relay.runOnce()).toEqual({ delivered: 2, retried: 0, dead: 0 });
  });

  it('counts an endpoint that does not answer within timeoutMs as a retryable failure', async () => {
    const server = await receiver((_, earlier) => (earlier === 0 ? 'hang' : 200));
    const { relay, publish, clock, webhookRows } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A, timeoutMs: 150 }],
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    expect((await webhookRows())[0]!.lastError).toBe('no response within 150 ms (timeoutMs)');
    clock.advance(1_000);
    expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
  });

  it('retries network errors and dead-letters redirects, which it does not follow', async () => {
    const gone = await receiver();
    const deadUrl = gone.url('/hooks');
    await gone.close();
    open.splice(open.indexOf(gone), 1);
    const server = await receiver(() => ({ status: 302, headers: { location: '/elsewhere' } }));
    const { relay, publish, webhookRows } = setup({
      subscribers: [
        { id: 'gone', url: deadUrl, secret: SECRET_A },
        { id: 'moved', url: server.url('/hooks'), secret: SECRET_B },
      ],
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 1, dead: 1 });
    const rows = Object.fromEntries((await webhookRows()).map((row) => [row.id.split('/')[1], row]));
    expect(rows.gone).toMatchObject({ status: 'pending', lastError: 'network error: ECONNREFUSED' });
    expect(rows.moved!.lastError).toMatch(/^HTTP 302 .*redirects are not followed/);
    expect(server.to('/elsewhere')).toHaveLength(0);
  });
});

describe('webhook relay: dead letters and replay', () => {
  it('dead-letters after the last attempt, lists it with its error, and a replay delivers it', async () => {
    let up = false;
    const server = await receiver(() => (up ? 200 : 503));
    const { relay, publish, clock } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
      relay: { retry: { ...NO_JITTER, maxAttempts: 3 } },
    });
    const workflowId = await publish('signing.completed');
    for (let i = 0; i < 3; i++) {
      await relay.runOnce();
      clock.advance(8_000);
    }
    const letters = await relay.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ subscriberId: 'funder', workflowId, attempts: 3, deadAt: clock.now() - 8_000 });
    expect(letters[0]!.lastError).toBe(
      'HTTP 503 Service Unavailable; gave up after 3 attempts, replay it once the receiver is back',
    );
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 0 });

    const notDead = await rejection(relay.replay('webhook/nobody/nothing'));
    expect(notDead.code).toBe('NOT_FOUND');
    up = true;
    await relay.replay(letters[0]!.id);
    expect((await rejection(relay.replay(letters[0]!.id))).code).toBe('INVALID_INPUT');
    expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(await relay.deadLetters()).toEqual([]);
    expect(server.requests.at(-1)!.headers['sealflow-delivery-attempt']).toBe('1');
    expect(new Set(server.requests.map((r) => r.headers['sealflow-event-id'])).size).toBe(1);
  });

  it('dead-letters deliveries of a subscriber that was removed from the configuration', async () => {
    const server = await receiver();
    const persistence = createMemoryPersistence();
    const clock = createManualClock();
    const first = setup({
      persistence,
      clock,
      subscribers: [{ id: 'retired', url: server.url('/hooks'), secret: SECRET_A }],
    });
    await first.publish('signing.completed');
    const second = setup({ persistence, clock, subscribers: [] });
    expect(await second.relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    expect((await second.relay.deadLetters())[0]!.lastError).toMatch(/subscriber "retired" is no longer configured/);
    const logged = second.logger.records.find((r) => r.message === 'webhook_dead_lettered');
    expect(logged?.fields).toMatchObject({ subscriberId: 'retired', eventType: 'signing.completed' });
    expect(server.requests).toHaveLength(0);
  });
});

describe('webhook relay: durability', () => {
  it('a delivery claimed by a relay that died is sent by a new runtime and relay once its lease runs out', async () => {
    const server = await receiver();
    const persistence = createMemoryPersistence();
    const clock = createManualClock();
    const subscribers = [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }];
    const before = setup({ persistence, clock, subscribers, relay: { leaseMs: 30_000 } });
    await before.publish('signing.completed');
    // The first process takes the delivery and dies before sending it (or before recording that it did).
    await persistence.transaction((tx) =>
      tx.outbox.claim({ kind: 'webhook', claimToken: 'crashed', now: clock.now(), leaseMs: 30_000, limit: 10 }),
    );

    const after = setup({ persistence, clock, subscribers, relay: { leaseMs: 30_000 } });
    expect(await after.relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    clock.advance(30_001);
    expect(await after.relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.headers['sealflow-delivery-attempt']).toBe('2');
  });

  it('an event the runtime stored but had not handed over yet is relayed after a restart', async () => {
    const server = await receiver();
    const persistence = createMemoryPersistence();
    const clock = createManualClock();
    const subscribers = [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }];
    const before = setup({ persistence, clock, subscribers });
    await before.runtime.start('publisher', { id: 'w-crash' });
    await before.runtime.send('w-crash', { type: 'PUBLISH', name: 'signing.completed', n: 0 });
    // Crash: the process dies before any worker ran.

    const after = setup({ persistence, clock, subscribers });
    await after.runtime.runOnce();
    expect(await after.relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ workflowId: 'w-crash', type: 'signing.completed' });
  });

  it('an event handed over twice (another handler failed) is still delivered once per subscriber', async () => {
    const server = await receiver();
    const { runtime, relay, publish, clock, webhookRows } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
    });
    let failures = 1;
    runtime.onEvent(() => {
      if (failures-- > 0) throw new Error('another subscriber is down');
    });
    await publish('signing.completed');
    clock.advance(600_000);
    await runtime.runOnce();
    const events = await runtime.persistence.transaction((tx) => tx.outbox.list({ kind: 'event' }));
    expect(events.map((e) => [e.status, e.attempts])).toEqual([['done', 2]]);
    expect(await webhookRows()).toHaveLength(1);
    await relay.runOnce();
    await relay.runOnce();
    expect(server.requests).toHaveLength(1);
  });

  it('the background loop delivers until stopped; close() stops recording new events', async () => {
    const server = await receiver();
    const { relay, publish, webhookRows } = setup({
      subscribers: [{ id: 'funder', url: server.url('/hooks'), secret: SECRET_A }],
    });
    relay.start({ pollMs: 5 });
    await publish('signing.completed');
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 5_000 });
    await relay.close();
    await publish('signing.completed');
    expect(await webhookRows()).toHaveLength(1);
  });
});

describe('webhook relay: background loop', () => {
  it('keeps delivering to other subscribers while one endpoint hangs', async () => {
    const server = await receiver((path) => (path === '/hang' ? 'hang' : 200));
    const { relay, publish, logger } = setup({
      subscribers: [
        { id: 'hang', url: server.url('/hang'), secret: SECRET_A, timeoutMs: 30_000 },
        { id: 'ok', url: server.url('/ok'), secret: SECRET_B },
      ],
      relay: { leaseMs: 60_000 },
    });
    relay.start({ concurrency: 4, pollMs: 5 });
    await publish('signing.completed');
    await vi.waitFor(() => expect(server.to('/ok')).toHaveLength(1), { timeout: 10_000 });
    await publish('signing.expired', 'template.approved');
    // Each hanging request holds one slot until its timeout; the free slots keep serving the other subscriber.
    await vi.waitFor(() => expect(server.to('/ok')).toHaveLength(3), { timeout: 10_000 });
    expect(server.to('/hang')).toHaveLength(3);
    await server.close();
    open.splice(open.indexOf(server), 1);
    await relay.stop();
    const hung = logger.records.find((r) => r.message === 'webhook_retry_scheduled');
    expect(hung?.fields).toMatchObject({ subscriberId: 'hang' });
  });
});

describe('webhook relay: subscribers', () => {
  it('each subscriber receives only the events its filter selects', async () => {
    const server = await receiver();
    const { relay, publish } = setup({
      subscribers: [
        { id: 'all', url: server.url('/all'), secret: SECRET_A },
        { id: 'signing', url: server.url('/signing'), secret: SECRET_A, events: ['signing.*'] },
        { id: 'exact', url: server.url('/exact'), secret: SECRET_A, events: ['template.approved'] },
        { id: 'picky', url: server.url('/picky'), secret: SECRET_A, events: (event) => event.type.endsWith('expired') },
      ],
    });
    await publish('signing.completed', 'signing.expired', 'template.approved', 'signingX');
    await relay.runOnce({ limit: 50 });
    const types = (path: string) =>
      server
        .to(path)
        .map((r) => r.headers['sealflow-event-type'])
        .sort();
    expect(types('/all')).toEqual(['signing.completed', 'signing.expired', 'signingX', 'template.approved']);
    expect(types('/signing')).toEqual(['signing.completed', 'signing.expired']);
    expect(types('/exact')).toEqual(['template.approved']);
    expect(types('/picky')).toEqual(['signing.expired']);
  });

  it('two subscribers are independent: one failing does not hold back or repeat the other, and each has its own signature', async () => {
    const server = await receiver((path) => (path === '/down' ? 500 : 200));
    const { relay, publish, clock } = setup({
      subscribers: [
        { id: 'down', url: server.url('/down'), secret: SECRET_A },
        { id: 'up', url: server.url('/up'), secret: SECRET_B },
      ],
      relay: { retry: { ...NO_JITTER, maxAttempts: 2 } },
    });
    await publish('signing.completed');
    expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 1, dead: 0 });
    clock.advance(1_000);
    expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    expect(server.to('/up')).toHaveLength(1);
    expect(server.to('/down')).toHaveLength(2);
    expect((await relay.deadLetters()).map((l) => l.subscriberId)).toEqual(['down']);
    const up = server.to('/up')[0]!;
    const header = up.headers['sealflow-signature'];
    expect(() => verifyWebhookSignature({ secret: SECRET_B, header, body: up.body, now: clock.now() })).not.toThrow();
    expect(() => verifyWebhookSignature({ secret: SECRET_A, header, body: up.body, now: clock.now() })).toThrow(
      /does not match/,
    );
  });

  it('refuses a bad configuration at creation, naming the fields but not the secret or URL', async () => {
    const runtime = createRuntime({ persistence: createMemoryPersistence(), workflows: [publisherWorkflow] });
    const bad = [
      { id: 'ok', url: 'https://example.test/hooks?token=tok-123', secret: 'short-secret' },
      { id: 'ok', url: 'ftp://example.test/x', secret: SECRET_A },
      { id: 'has space', url: 'https://example.test/hooks', secret: SECRET_A, timeoutMs: 90_000 },
    ];
    const error = await rejection((async () => createWebhookRelay({ runtime, subscribers: bad }))());
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('subscribers[0].secret must be at least 16 characters');
    expect(error.message).toContain('subscribers[1].url must be an absolute http: or https: URL');
    expect(error.message).toContain('subscribers[2].id must be');
    expect(error.message).not.toMatch(/short-secret|tok-123/);
    const lease = await rejection(
      (async () =>
        createWebhookRelay({
          runtime,
          subscribers: [{ id: 'a', url: 'https://example.test/', secret: SECRET_A, timeoutMs: 60_000 }],
        }))(),
    );
    expect(lease.message).toContain('subscribers[0].timeoutMs (60000 ms) must be shorter than leaseMs (60000 ms)');
    const duplicate = await rejection(
      (async () =>
        createWebhookRelay({
          runtime,
          subscribers: [
            { id: 'a', url: 'https://example.test/1', secret: SECRET_A },
            { id: 'a', url: 'https://example.test/2', secret: SECRET_A },
          ],
        }))(),
    );
    expect(duplicate.message).toContain('subscribers[1].id "a" is used twice');
  });

  it('logs deliveries without bodies or URLs', async () => {
    const server = await receiver((_, earlier) => (earlier === 0 ? 500 : 200));
    const { relay, publish, clock, logger } = setup({
      subscribers: [{ id: 'funder', url: `${server.url('/hooks')}?token=tok-secret-42`, secret: SECRET_A }],
    });
    await publish('signing.completed');
    await relay.runOnce();
    clock.advance(1_000);
    await relay.runOnce();
    const relayLogs = logger.records.filter((r) => r.message.startsWith('webhook_'));
    expect(relayLogs.map((r) => r.message)).toEqual(['webhook_retry_scheduled', 'webhook_delivered']);
    expect(logger.text()).not.toMatch(/tok-secret-42|127\.0\.0\.1|"n":0/);
  });
});
