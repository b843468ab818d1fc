/**
 * The flow-record stores: the in-memory default and `persistentCfcaStore` on sealflow's persistence, held to the same
 * behaviour; and a flow made by one vendor found by another on the same persistence, as after a crash.
 */
import { type Persistence, ValidationError } from '@sealflow/core';
import { createMemoryPersistence } from '@sealflow/core/memory';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CfcaVendorStore, createMemoryCfcaStore, persistentCfcaStore } from '../src/index.js';
import { contractPdf, vendorWorld } from './vendor-support.js';

const stores: [string, () => { store: CfcaVendorStore; persistence?: Persistence }][] = [
  ['in memory', () => ({ store: createMemoryCfcaStore() })],
  [
    'on sealflow persistence',
    () => {
      const persistence = createMemoryPersistence();
      return { store: persistentCfcaStore({ persistence }), persistence };
    },
  ],
];

describe.each(stores)('the CFCA flow store %s', (_, make) => {
  it('answers undefined for a key never written, and the last value written otherwise', async () => {
    const { store } = make();
    expect(await store.get('flow-1')).toBeUndefined();
    await store.set('flow-1', '{"a":1}');
    await store.set('flow-2', '{"b":2}');
    await store.set('flow-1', '{"a":3}');
    expect(await store.get('flow-1')).toBe('{"a":3}');
    expect(await store.get('flow-2')).toBe('{"b":2}');
  });

  it('takes 50 concurrent writes of one key without an error and keeps one of them', async () => {
    const { store } = make();
    const values = Array.from({ length: 50 }, (_, i) => `{"i":${i}}`);
    await Promise.all(values.map((value) => store.set('contended', value)));
    expect(values).toContain(await store.get('contended'));
  });
});

describe('persistentCfcaStore', () => {
  it('is shared by every store on the same persistence, as by the processes of one database', async () => {
    const persistence = createMemoryPersistence();
    await persistentCfcaStore({ persistence }).set('flow-9', 'written by the first process');
    expect(await persistentCfcaStore({ persistence }).get('flow-9')).toBe('written by the first process');
  });

  it('refuses to be made without a persistence, saying what to pass', () => {
    expect(() => persistentCfcaStore({ persistence: undefined as unknown as Persistence })).toThrow(ValidationError);
    expect(() => persistentCfcaStore({ persistence: undefined as unknown as Persistence })).toThrow(/pass persistence/);
  });
});

describe('a vendor restarted on the same persistence', () => {
  const world = vendorWorld();
  const server = setupServer(...world.emulator.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => server.close());

  it('finds, by the create key, the flow the vendor before the restart made, with its signers', async () => {
    const persistence = createMemoryPersistence();
    const before = world.vendor({ store: persistentCfcaStore({ persistence }) });
    const document = await before.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: 'store-test-upload' },
    );
    const made = await before.createFlow(
      { title: '借款合同', businessNo: 'LN-STORE-1', documents: [document], signers: [world.borrower, world.platform] },
      { idempotencyKey: 'store-test-create' },
    );

    const after = world.vendor({ store: persistentCfcaStore({ persistence }) });
    const found = await after.findFlow!(
      { createKey: 'store-test-create', businessNo: 'LN-STORE-1' },
      { idempotencyKey: 'store-test-find' },
    );
    expect(found?.flowId).toBe(made.flowId);
    expect(found?.status).toBe('completed');
    expect(found?.signers.map((signer) => signer.role).sort()).toEqual(['borrower', 'platform']);

    // A vendor with a store of its own knows the contract exists but not its record, and says so.
    const stranger = world.vendor({ store: createMemoryCfcaStore() });
    await expect(
      stranger.findFlow!(
        { createKey: 'store-test-create', businessNo: 'LN-STORE-1' },
        { idempotencyKey: 'store-test-find-2' },
      ),
    ).rejects.toMatchObject({ code: 'VENDOR_REJECTED', details: { vendorCode: 'FLOW_RECORD_MISSING' } });
  });
});
