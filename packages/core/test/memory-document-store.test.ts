import { describe, expect, it } from 'vitest';
import { DocumentIntegrityError, NotFoundError, ValidationError, sha256Hex } from '../src/index.js';
import { createManualClock, createMemoryDocumentStore } from '../src/memory/index.js';
import { runDocumentStoreContract } from '../src/testing/index.js';

runDocumentStoreContract({ name: 'memory', create: async () => createMemoryDocumentStore() });

describe('memory document store', () => {
  const bytes = new TextEncoder().encode('%PDF-1.7 合同');

  it('takes storedAt from the injected clock', async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 1));
    const store = createMemoryDocumentStore({ clock });
    const first = await store.put({ bytes, contentType: 'application/pdf' });
    clock.advance(1500);
    const second = await store.put({ bytes, contentType: 'application/pdf' });
    expect(first.storedAt).toBe(Date.UTC(2026, 2, 1));
    expect(second.storedAt).toBe(Date.UTC(2026, 2, 1) + 1500);
  });

  it('stores nothing when put is rejected', async () => {
    const store = createMemoryDocumentStore();
    await expect(store.put({ bytes: new Uint8Array(0), contentType: 'application/pdf' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(store.put({ bytes, contentType: 'application/pdf', metadata: { Bad: 'x' } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(store.size()).toBe(0);
  });

  it('frees the document on delete', async () => {
    const store = createMemoryDocumentStore();
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf' });
    expect(store.size()).toBe(1);
    await store.delete(fileId);
    expect(store.size()).toBe(0);
  });

  it('corrupt() damages the stored copy so get refuses it, and names unknown ids', async () => {
    const store = createMemoryDocumentStore();
    const stored = await store.put({ bytes, contentType: 'application/pdf' });
    await store.corrupt(stored.fileId);
    const error = (await store.get(stored.fileId).catch((e: unknown) => e)) as DocumentIntegrityError;
    expect(error).toBeInstanceOf(DocumentIntegrityError);
    expect(error.details).toMatchObject({ expectedSha256: sha256Hex(bytes), actualSize: bytes.length });
    expect(error.details?.actualSha256).not.toBe(sha256Hex(bytes));
    expect(error.message).toContain(stored.fileId);
    // head reports the recorded facts; it does not read the bytes.
    expect(await store.head(stored.fileId)).toEqual(stored);
    await store.delete(stored.fileId);
    await expect(store.corrupt(stored.fileId)).rejects.toBeInstanceOf(NotFoundError);
  });
});
