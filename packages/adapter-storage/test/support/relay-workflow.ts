import type pg from 'pg';
import { assign, setup } from 'xstate';
import { defineWorkflow } from '@sealflow/core';

/**
 * The workflow the multi-instance test drives: an effect, a durable timer, a second effect. The effects stand for
 * vendor calls: they record themselves in `vendor_calls`, keyed by idempotency key as a vendor would, and count
 * every attempt in `vendor_attempts`, so the test can tell "ran twice" from "applied twice".
 */
export const relayMachine = setup({
  types: {
    context: {} as { reserved: number; charged: number; timerFired: number },
    events: {} as { type: 'reserve.done' } | { type: 'charge.done' },
  },
  actions: { reserve: () => {}, charge: () => {} },
  delays: { settle: 300 },
}).createMachine({
  id: 'relay',
  initial: 'reserving',
  context: { reserved: 0, charged: 0, timerFired: 0 },
  states: {
    reserving: {
      entry: 'reserve',
      on: {
        'reserve.done': { target: 'settling', actions: assign({ reserved: ({ context }) => context.reserved + 1 }) },
      },
    },
    settling: {
      after: {
        settle: { target: 'charging', actions: assign({ timerFired: ({ context }) => context.timerFired + 1 }) },
      },
    },
    charging: {
      entry: 'charge',
      on: { 'charge.done': { target: 'done', actions: assign({ charged: ({ context }) => context.charged + 1 }) } },
    },
    done: { type: 'final' },
  },
});

export async function createVendorTables(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS "${schema}".vendor_calls (key text PRIMARY KEY, workflow_id text NOT NULL, effect text NOT NULL)`,
  );
  await pool.query(
    `CREATE TABLE IF NOT EXISTS "${schema}".vendor_attempts (id bigserial PRIMARY KEY, key text NOT NULL, instance text NOT NULL)`,
  );
}

/**
 * `workMs`: how long a call takes at most. `Infinity` makes every call of this instance hang (a process stuck in
 * vendor calls): whatever it has claimed when it is killed was certainly in flight, and only other instances finish
 * anything.
 */
export function relayWorkflow(pool: pg.Pool, schema: string, instance: string, workMs = 20) {
  const vendorCall = (effect: string) => ({
    async run(_params: unknown, context: { workflowId: string; idempotencyKey: string }) {
      await pool.query(`INSERT INTO "${schema}".vendor_attempts (key, instance) VALUES ($1, $2)`, [
        context.idempotencyKey,
        instance,
      ]);
      // A stuck call ignores its abort signal, as a vendor SDK without cancellation would.
      if (!Number.isFinite(workMs)) await new Promise(() => {});
      await new Promise((resolve) => setTimeout(resolve, Math.random() * workMs));
      await pool.query(
        `INSERT INTO "${schema}".vendor_calls (key, workflow_id, effect) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
        [context.idempotencyKey, context.workflowId, effect],
      );
      return null;
    },
    retry: { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 20 },
  });
  return defineWorkflow({
    id: 'relay',
    version: 1,
    machine: relayMachine,
    effects: { reserve: vendorCall('reserve'), charge: vendorCall('charge') },
  });
}
