import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type DocumentStore,
  encryptedDocumentStore,
  type PutDocumentInput,
  sha256Hex,
  ValidationError,
} from '../src/index.js';
import { createMemoryDocumentStore } from '../src/memory/index.js';
import { runDocumentStoreContract } from '../src/testing/index.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.7\n1 0 obj (${text}) endobj\n%%EOF\n`);
/** What a contract holds: a name and an ID number, as UTF-8 text and as the UTF-16BE PDF strings use. */
const NAME = '欧阳娜娜';
const ID_NUMBER = '310101199003070023';
const contract = () =>
  new Uint8Array([...pdf(`${NAME} ${ID_NUMBER}`), ...Buffer.from(`\ufeff${NAME}`, 'utf16le').swap16()]);

/**
 * A memory store that lets a test rewrite a document's bytes or descriptor *and* its recorded hash, as someone with
 * write access to the bucket or disk could, so only the envelope's authentication stands in the way.
 */
function tamperableStore() {
  const inner = createMemoryDocumentStore();
  const replaced = new Map<string, string>();
  const store: DocumentStore = {
    name: 'memory',
    put: (input) => inner.put(input),
    get: async (fileId) => {
      const got = await inner.get(replaced.get(fileId) ?? fileId);
      return { ...got, document: { ...got.document, fileId } };
    },
    head: (fileId) => inner.head(replaced.get(fileId) ?? fileId),
    delete: (fileId) => inner.delete(fileId),
  };
  const replace = async (fileId: string, change: (bytes: Uint8Array, input: PutDocumentInput) => PutDocumentInput) => {
    const { bytes, document } = await inner.get(replaced.get(fileId) ?? fileId);
    const input = change(bytes, {
      bytes,
      contentType: document.contentType,
      ...(document.key === null ? {} : { key: document.key }),
      metadata: document.metadata,
    });
    replaced.set(fileId, (await inner.put(input)).fileId);
  };
  return { store, raw: (fileId: string) => inner.get(replaced.get(fileId) ?? fileId), replace };
}

runDocumentStoreContract({
  name: 'encrypted memory',
  create: async () => {
    const { store, replace } = tamperableStore();
    return Object.assign(encryptedDocumentStore(store, { keys: { current: 'k1', keys: { k1 } } }), {
      // Flip a ciphertext bit and record the new hash: the inner store is satisfied, the envelope is not.
      corrupt: (fileId: string) =>
        replace(fileId, (bytes, input) => {
          const changed = Uint8Array.from(bytes);
          changed[changed.length - 1] = (changed[changed.length - 1] ?? 0) ^ 0x01;
          return { ...input, bytes: changed };
        }),
    });
  },
});

describe('encryptedDocumentStore', () => {
  it('keeps only ciphertext in the store underneath, and hands back the plaintext and its facts', async () => {
    const inner = createMemoryDocumentStore();
    const store = encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1 } } });
    const bytes = contract();
    const stored = await store.put({ bytes, contentType: 'application/pdf', metadata: { 'loan-no': 'LN1' } });
    expect(stored).toMatchObject({ sha256: sha256Hex(bytes), size: bytes.length, metadata: { 'loan-no': 'LN1' } });

    const atRest = Buffer.from((await inner.get(stored.fileId)).bytes);
    for (const secret of [NAME, ID_NUMBER]) {
      expect(atRest.includes(Buffer.from(secret))).toBe(false);
      expect(atRest.includes(Buffer.from(secret, 'utf16le').swap16())).toBe(false);
    }
    expect(atRest.includes(Buffer.from('%PDF'))).toBe(false);

    const got = await store.get(stored.fileId);
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(got.document).toEqual(stored);
    expect(await store.head(stored.fileId)).toEqual(stored);
  });

  it('uses a fresh nonce per document: the same bytes twice are two different ciphertexts', async () => {
    const inner = createMemoryDocumentStore();
    const store = encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1 } } });
    const a = await store.put({ bytes: contract(), contentType: 'application/pdf' });
    const b = await store.put({ bytes: contract(), contentType: 'application/pdf' });
    expect(a.sha256).toBe(b.sha256);
    expect((await inner.head(a.fileId))?.sha256).not.toBe((await inner.head(b.fileId))?.sha256);
  });

  it('rotates: new documents use the current key, older ones stay readable while their key is configured', async () => {
    const inner = createMemoryDocumentStore();
    const before = encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1 } } });
    const old = await before.put({ bytes: contract(), contentType: 'application/pdf' });

    const rotated = encryptedDocumentStore(inner, { keys: { current: 'k2', keys: { k1, k2 } } });
    const fresh = await rotated.put({ bytes: pdf('new'), contentType: 'application/pdf' });
    expect(sha256Hex((await rotated.get(old.fileId)).bytes)).toBe(old.sha256);
    expect(sha256Hex((await rotated.get(fresh.fileId)).bytes)).toBe(fresh.sha256);
    const keyIdOf = async (fileId: string) => {
      const envelope = Buffer.from((await inner.get(fileId)).bytes);
      return envelope.subarray(6, 6 + (envelope[5] ?? 0)).toString('latin1');
    };
    expect([await keyIdOf(old.fileId), await keyIdOf(fresh.fileId)]).toEqual(['k1', 'k2']);

    // k1 dropped too early: a typed, non-retryable error that names the key, never the plaintext.
    const withoutK1 = encryptedDocumentStore(inner, { keys: { current: 'k2', keys: { k2 } } });
    const missing = await withoutK1.get(old.fileId).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'DOCUMENT_KEY_MISSING', retryable: false, details: { keyId: 'k1' } });
    expect(String((missing as Error).message)).toContain('Add that key back');
    expect(sha256Hex((await withoutK1.get(fresh.fileId)).bytes)).toBe(fresh.sha256);
  });

  it('refuses to decrypt with other key material under the same key id', async () => {
    const inner = createMemoryDocumentStore();
    const { fileId } = await encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1 } } }).put({
      bytes: contract(),
      contentType: 'application/pdf',
    });
    const wrong = encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1: k2 } } });
    await expect(wrong.get(fileId)).rejects.toMatchObject({ code: 'DOCUMENT_KEY_MISMATCH', retryable: false });
  });

  it('refuses a document whose ciphertext, header or descriptor changed, even with the hash recorded anew', async () => {
    const { store: tamperable, replace } = tamperableStore();
    const store = encryptedDocumentStore(tamperable, { keys: { current: 'k1', keys: { k1 } } });
    const put = () =>
      store.put({
        bytes: contract(),
        contentType: 'application/pdf',
        key: 'c/LN1.pdf',
        metadata: { 'loan-no': 'LN1' },
      });
    const flipAt = (at: (length: number) => number) => (bytes: Uint8Array, input: PutDocumentInput) => {
      const changed = Uint8Array.from(bytes);
      const index = at(changed.length);
      changed[index] = (changed[index] ?? 0) ^ 0x01;
      return { ...input, bytes: changed };
    };
    const cases: [string, (bytes: Uint8Array, input: PutDocumentInput) => PutDocumentInput][] = [
      ['a ciphertext byte', flipAt((length) => length - 1)],
      ['the nonce', flipAt(() => 6 + 2 + 8)],
      ['the recorded plaintext hash', flipAt(() => 6 + 2 + 8 + 12)],
      ['the metadata', (_bytes, input) => ({ ...input, metadata: { 'loan-no': 'LN2' } })],
      ['the suggested key', (_bytes, input) => ({ ...input, key: 'c/LN2.pdf' })],
      ['the content type', (_bytes, input) => ({ ...input, contentType: 'text/plain' })],
    ];
    for (const [what, change] of cases) {
      const stored = await put();
      await replace(stored.fileId, change);
      const error = await store.get(stored.fileId).catch((e: unknown) => e);
      expect(error, what).toMatchObject({ code: 'DOCUMENT_INTEGRITY', retryable: false });
    }
  });

  it('refuses bytes that were stored without encryption', async () => {
    const inner = createMemoryDocumentStore();
    const { fileId } = await inner.put({ bytes: contract(), contentType: 'application/pdf' });
    const store = encryptedDocumentStore(inner, { keys: { current: 'k1', keys: { k1 } } });
    await expect(store.get(fileId)).rejects.toMatchObject({ code: 'DOCUMENT_INTEGRITY' });
    await expect(store.head(fileId)).rejects.toMatchObject({ code: 'DOCUMENT_INTEGRITY' });
  });

  it('rejects key configurations it cannot use with a ValidationError', () => {
    const inner = createMemoryDocumentStore();
    const bad: unknown[] = [
      undefined,
      { current: 'k1', keys: {} },
      { current: 'k2', keys: { k1 } },
      { current: 'k1', keys: { k1: randomBytes(16) } },
      { current: 'k1', keys: { k1: 'a'.repeat(32) } },
      { current: 'k 1', keys: { 'k 1': k1 } },
      { current: 'x'.repeat(65), keys: { ['x'.repeat(65)]: k1 } },
    ];
    for (const keys of bad) {
      expect(() => encryptedDocumentStore(inner, { keys } as never), JSON.stringify(keys)).toThrow(ValidationError);
    }
  });
});
