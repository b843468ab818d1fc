import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { type Persistence, createRuntime, createWebhookRelay, verifyWebhookSignature } from '@sealflow/core';
import { type ManualClock, createManualClock } from '@sealflow/core/memory';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebhookReceiver, publisherWorkflow, startReceiver } from '../../core/test/fixtures/webhook-receiver.js';
import { pglitePersistence } from '../src/pglite.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';

/**
 * The webhook relay on the SQL stores: its deliveries are outbox entries of kind `webhook`, which only the schema's
 * second migration allows, and a restarted process (a new persistence on the same schema) must find them.
 */

const SECRET = 'secret-0123456789abcdef';
const RETRY = { maxAttempts: 2, baseDelayMs: 1_000, maxDelayMs: 1_000, jitter: 0 };

interface Backend {
  name: string;
  skip?: string;
  /** A persistence on `schema`; calling it again gives a second connection to the same data, as a restart would. */
  open(schema: string): Promise<Persistence>;
  drop(schema: string): Promise<void>;
}

let db: PGlite;
let pool: pg.Pool | undefined;
const postgres = await probePostgres();
beforeAll(async () => {
  db = await PGlite.create();
  if (!postgres.skip) pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
});
afterAll(async () => {
  await db.close();
  await pool?.end();
});

const backends: Backend[] = [
  {
    name: 'pglite',
    open: (schema) => pglitePersistence({ db, schema }),
    drop: async (schema) => void (await db.exec(`DROP SCHEMA ${schema} CASCADE`)),
  },
  {
    name: 'postgres',
    ...(postgres.skip ? { skip: postgres.skip } : {}),
    open: (schema) => postgresPersistence({ pool: pool!, schema }),
    drop: async (schema) => void (await pool!.query(`DROP SCHEMA ${schema} CASCADE`)),
  },
];

function stack(persistence: Persistence, clock: ManualClock, subscribers: { id: string; url: string }[]) {
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: [publisherWorkflow] });
  const relay = createWebhookRelay({
    runtime,
    subscribers: subscribers.map((s) => ({ ...s, secret: SECRET })),
    retry: RETRY,
    leaseMs: 30_000,
  });
  return { runtime, relay };
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`webhook relay on ${backend.name}`, () => {
    const schemas: string[] = [];
    const receivers: WebhookReceiver[] = [];
    afterAll(async () => {
      await Promise.all(receivers.map((r) => r.close()));
      for (const schema of schemas) await backend.drop(schema);
    });
    async function fresh() {
      const schema = `wh_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      schemas.push(schema);
      return { schema, persistence: await backend.open(schema) };
    }

    it('delivers, retries, dead-letters and replays, each subscriber on its own', async () => {
      let upAgain = false;
      const server = await startReceiver((request, earlier) =>
        request.path === '/ok' ? 200 : upAgain ? 200 : earlier === 0 ? 500 : 400,
      );
      receivers.push(server);
      const { persistence } = await fresh();
      const clock = createManualClock();
      const { runtime, relay } = stack(persistence, clock, [
        { id: 'ok', url: server.url('/ok') },
        { id: 'flaky', url: server.url('/flaky') },
      ]);
      await runtime.start('publisher', { id: 'w1' });
      await runtime.send('w1', { type: 'PUBLISH', name: 'signing.completed', n: 1 });
      await runtime.runOnce();

      expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 1, dead: 0 });
      clock.advance(1_000);
      expect(await relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 1 });
      const [letter] = await relay.deadLetters();
      expect(letter).toMatchObject({ subscriberId: 'flaky', workflowId: 'w1', attempts: 2 });
      expect(letter!.lastError).toMatch(/^HTTP 400 Bad Request: /);

      upAgain = true;
      await relay.replay(letter!.id);
      expect(await relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
      expect(await relay.deadLetters()).toEqual([]);
      const last = server.to('/flaky').at(-1)!;
      expect(() =>
        verifyWebhookSignature({
          secret: SECRET,
          header: last.headers['sealflow-signature'],
          body: last.body,
          now: clock.now(),
        }),
      ).not.toThrow();
      expect(server.to('/ok')).toHaveLength(1);
      await persistence.close();
    });

    it('a new process on the same schema sends what a dead one had claimed, once its lease has run out', async () => {
      const server = await startReceiver(() => 200);
      receivers.push(server);
      const { schema, persistence } = await fresh();
      const clock = createManualClock();
      const subscribers = [{ id: 'funder', url: server.url('/hooks') }];
      const first = stack(persistence, clock, subscribers);
      await first.runtime.start('publisher', { id: 'w1' });
      await first.runtime.send('w1', { type: 'PUBLISH', name: 'signing.completed', n: 1 });
      await first.runtime.runOnce();
      await persistence.transaction((tx) =>
        tx.outbox.claim({ kind: 'webhook', claimToken: 'dead', now: clock.now(), leaseMs: 30_000, limit: 5 }),
      );
      await persistence.close();

      const reopened = await backend.open(schema);
      const second = stack(reopened, clock, subscribers);
      expect(await second.relay.runOnce()).toEqual({ delivered: 0, retried: 0, dead: 0 });
      clock.advance(30_001);
      expect(await second.relay.runOnce()).toEqual({ delivered: 1, retried: 0, dead: 0 });
      expect(server.requests).toHaveLength(1);
      expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ workflowId: 'w1', type: 'signing.completed' });
      await reopened.close();
    });
  });
}
