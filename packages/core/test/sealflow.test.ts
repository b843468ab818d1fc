/**
 * `createSealflow`: the documented defaults (in-memory stores with a one-time warning, the only vendor routed, one
 * approval level, a running worker), typed events, options checked before anything is made, and `close()`.
 */
import { describe, expect, it } from 'vitest';
import {
  createSealflow,
  createSigningGateway,
  type DomainEvent,
  SealflowError,
  type SealflowEvent,
  type SealflowOptions,
} from '../src/index.js';
import {
  createManualClock,
  createMemoryLogger,
  createMemoryPersistence,
  createMemorySigningVendor,
  type MemorySigningVendor,
} from '../src/memory/index.js';
import { approvedLoanTemplate, loan, minimal } from './sealflow-fixtures.js';
import { expectError } from './template-fixtures.js';

describe('createSealflow', () => {
  it('runs a signing end to end on its defaults: one approval level, the only vendor, a background worker', async () => {
    const logger = createMemoryLogger();
    const sealflow = await createSealflow(minimal({ logger }));
    try {
      const shown = await approvedLoanTemplate(sealflow);

      const completed: SealflowEvent<'signing.completed'>[] = [];
      const all: DomainEvent[] = [];
      sealflow.events.on('signing.completed', (event) => void completed.push(event));
      const offAll = sealflow.events.on('*', (event) => void all.push(event));

      const record = await sealflow.signing.sign(loan('LN-FACADE-1', shown));
      expect(record.vendor.id).toBe('memory');
      const done = await sealflow.signing.waitFor(record.id, { timeoutMs: 30_000 });
      expect(done).toMatchObject({ status: 'COMPLETED', failure: null });
      // The completion event reaches its subscribers too (the worker delivers it before waitFor reads the record).
      expect(completed.map((e) => [e.type, e.payload.recordId, e.payload.businessNo])).toEqual([
        ['signing.completed', record.id, 'LN-FACADE-1'],
      ]);
      expect(all.map((e) => e.type)).toEqual(expect.arrayContaining(['signing.started', 'signing.completed']));
      offAll();

      // The in-memory defaults were announced, once per process: a second facade does not repeat it.
      const warnings = logger.records.filter((r) => r.message === 'sealflow_in_memory_default');
      expect(warnings.map((w) => [w.level, w.fields.part])).toEqual([
        ['warn', 'persistence'],
        ['warn', 'documents'],
      ]);
      expect(String(warnings[0]!.fields.advice)).toContain('pglitePersistence');
      const again = createMemoryLogger();
      await (await createSealflow(minimal({ logger: again, start: false }))).close();
      expect(again.records.filter((r) => r.message === 'sealflow_in_memory_default')).toEqual([]);
    } finally {
      await sealflow.close();
    }
  });

  it('closes the persistence it created, not one the host passed; close is idempotent', async () => {
    const own = await createSealflow(minimal({ start: false }));
    await Promise.all([own.close(), own.close()]);
    await expect(own.persistence.transaction(async () => 1)).rejects.toThrow();

    const persistence = createMemoryPersistence();
    const hosted = await createSealflow(minimal({ persistence }));
    await hosted.close();
    await expect(persistence.transaction(async () => 1)).resolves.toBe(1);
    await persistence.close();
  });

  it('uses a gateway made by createSigningGateway as it is, and wraps plain vendors with vendorCalls', async () => {
    /** How many times one worker pass calls the vendor's createFlow when it fails twice (retryably). */
    async function createFlowCalls(vendors: (vendor: MemorySigningVendor) => SealflowOptions['vendors']) {
      const clock = createManualClock();
      const vendor = createMemorySigningVendor({ clock });
      const busy = () => new SealflowError('VENDOR_BUSY', 'busy, try again', { retryable: true });
      vendor.failNext('createFlow', busy(), busy());
      const sealflow = await createSealflow(
        minimal({ vendors: vendors(vendor), vendorCalls: { retry: { attempts: 2 }, sleep: async () => {} }, clock }),
      );
      try {
        expect(sealflow.runtime.clock).toBe(clock);
        const shown = await approvedLoanTemplate(sealflow);
        await sealflow.signing.sign(loan('LN-GW-1', shown, clock.now()));
        for (let i = 0; i < 5; i++) await sealflow.runtime.runOnce({ limit: 50 });
        return vendor.calls.filter((c) => c.method === 'createFlow').length;
      } finally {
        await sealflow.close();
      }
    }
    // Wrapped here: the gateway's 2 tries. Already a gateway (1 try): not wrapped again, so not 2 × 1 or 2 × 2.
    expect(await createFlowCalls((vendor) => ({ memory: vendor }))).toBe(2);
    expect(
      await createFlowCalls((vendor) => ({
        memory: createSigningGateway(vendor, { retry: { attempts: 1 }, sleep: async () => {} }),
      })),
    ).toBe(1);
  });

  it('refuses bad options before creating anything, naming each one', async () => {
    const cases: [unknown, string[]][] = [
      [{}, ['vendors is required', 'identityVerifier is required', 'hashKey is required']],
      [{ ...minimal(), vendors: {} }, ['vendors must name at least one signing vendor']],
      [{ ...minimal(), hashKey: undefined }, ['hashKey is required']],
      [{ ...minimal(), hashKey: 42 }, ['hashKey must be a secret string or bytes']],
      [{ ...minimal(), vendor: {} }, ['unknown option vendor']],
      [{ ...minimal(), identityVerifier: {} }, ['identityVerifier must be an IdentityVerifier']],
      [{ ...minimal(), approvalLevels: [] }, ['approvalLevels needs at least one level']],
      [{ ...minimal(), start: 'yes' }, ['start']],
      [{ ...minimal(), worker: { concurrency: 0 } }, ['worker.concurrency']],
      [{ ...minimal(), routing: { default: 'nowhere' } }, ['routing names unknown vendor "nowhere"']],
      [{ ...minimal(), hashKey: 'short' }, ['16']],
    ];
    for (const [options, fragments] of cases) {
      const error = await expectError(createSealflow(options as SealflowOptions), 'INVALID_INPUT');
      for (const fragment of fragments) expect(error.message, JSON.stringify(options)).toContain(fragment);
    }
    const sealflow = await createSealflow(minimal({ start: false }));
    expect(() => sealflow.events.on('', () => {})).toThrow(/event type/);
    await sealflow.close();
  });
});
