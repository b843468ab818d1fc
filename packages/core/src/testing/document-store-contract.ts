import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NotFoundError, SealflowError, ValidationError } from '../errors.js';
import {
  DOCUMENT_FILE_ID_PATTERN,
  DOCUMENT_LIMITS,
  DocumentIntegrityError,
  type DocumentStore,
} from '../ports/document-store.js';

/**
 * A document store under test; with the optional `corrupt` hook the suite also checks that damaged bytes are refused.
 */
export type ContractDocumentStore = DocumentStore & {
  /** Damage the stored bytes of `fileId` behind the store's back; enables the integrity test. */
  corrupt?(fileId: string): Promise<void>;
};

/** Options of `runDocumentStoreContract`. */
export interface DocumentStoreContractOptions {
  /** Shown in test names, such as `fs` or `s3 (s3rver)`. */
  name: string;
  /** A fresh, empty store per test. */
  create: () => Promise<ContractDocumentStore>;
  /** When set, the suite is skipped and this reason is printed (for example, "no S3 endpoint configured"). */
  skip?: string;
}

/** Deterministic, non-repeating bytes that start like a PDF, so stores that sniff content see something plausible. */
function pdfBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set(new TextEncoder().encode('%PDF-1.7\n').subarray(0, size));
  let x = seed >>> 0 || 1;
  for (let i = Math.min(9, size); i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every byte value, so text-mode or encoding mistakes in a store show up. */
const ALL_BYTE_VALUES = Uint8Array.from({ length: 256 }, (_, i) => i);

const MALFORMED_IDS = ['', '../../etc/passwd', '/etc/passwd', 'doc_abc/../x', 'doc_%2e%2e', 'a'.repeat(129), 'doc id'];

/** An id with the right shape that the store never issued (or no longer holds). */
async function deletedId(store: DocumentStore): Promise<string> {
  const { fileId } = await store.put({ bytes: pdfBytes(10), contentType: 'application/pdf' });
  await store.delete(fileId);
  return fileId;
}

/**
 * The executable form of the rules in `ports/document-store.ts`. Every `DocumentStore` implementation runs it:
 * `runDocumentStoreContract({ name: 'fs', create: async () => fsDocumentStore({ root: await mkdtemp(…) }) })`.
 */
export function runDocumentStoreContract(options: DocumentStoreContractOptions): void {
  const { name, create, skip } = options;
  if (typeof skip === 'string') {
    console.warn(`[sealflow] skipping ${name} document store contract: ${skip}`);
    describe.skip(`${name} document store contract`, () => {
      it('is skipped', () => {});
    });
    return;
  }

  describe(`${name} document store contract`, () => {
    it('has a name', async () => {
      const store = await create();
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
    });

    it('round-trips bytes, content type, key and metadata, and reports the same facts from put, head and get', async () => {
      const store = await create();
      const bytes = new Uint8Array([...pdfBytes(1000, 7), ...ALL_BYTE_VALUES]);
      const stored = await store.put({
        bytes,
        contentType: 'application/pdf',
        key: 'contracts/2026/LN123/loan.pdf',
        metadata: { 'loan-no': 'LN123', kind: 'loan-contract' },
      });
      expect(stored.fileId).toMatch(DOCUMENT_FILE_ID_PATTERN);
      expect(stored).toMatchObject({
        contentType: 'application/pdf',
        key: 'contracts/2026/LN123/loan.pdf',
        metadata: { 'loan-no': 'LN123', kind: 'loan-contract' },
      });
      expect(Number.isInteger(stored.storedAt)).toBe(true);

      const got = await store.get(stored.fileId);
      expect(got.bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      expect(got.document).toEqual(stored);
      expect(await store.head(stored.fileId)).toEqual(stored);
    });

    it('records the SHA-256 (lowercase hex) and size of exactly the bytes given', async () => {
      const store = await create();
      const bytes = pdfBytes(4321, 3);
      const stored = await store.put({ bytes, contentType: 'application/pdf' });
      expect(stored.sha256).toBe(sha256(bytes));
      expect(stored.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(stored.size).toBe(4321);
      expect(stored.key).toBeNull();
      expect(stored.metadata).toEqual({});
    });

    it('keeps a one-byte document', async () => {
      const store = await create();
      const stored = await store.put({ bytes: new Uint8Array([0]), contentType: 'application/octet-stream' });
      const got = await store.get(stored.fileId);
      expect([...got.bytes]).toEqual([0]);
      expect(got.document.size).toBe(1);
    });

    it('is not changed by the caller mutating the bytes it passed in or got back', async () => {
      const store = await create();
      const bytes = pdfBytes(64, 5);
      const original = sha256(bytes);
      const { fileId } = await store.put({ bytes, contentType: 'application/pdf' });
      bytes.fill(0);
      const first = await store.get(fileId);
      first.bytes.fill(0);
      first.document.metadata.injected = 'x';
      const second = await store.get(fileId);
      expect(sha256(second.bytes)).toBe(original);
      expect(second.document.metadata).toEqual({});
    });

    it('rejects an empty document with ValidationError and stores nothing', async () => {
      const store = await create();
      await expect(store.put({ bytes: new Uint8Array(0), contentType: 'application/pdf' })).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it('rejects bytes that are not a Uint8Array', async () => {
      const store = await create();
      const bytes = 'not bytes' as unknown as Uint8Array;
      await expect(store.put({ bytes, contentType: 'application/pdf' })).rejects.toBeInstanceOf(ValidationError);
    });

    it('rejects content types, keys and metadata outside the documented limits with ValidationError', async () => {
      const store = await create();
      const bytes = pdfBytes(16);
      const bad = [
        { bytes, contentType: '' },
        { bytes, contentType: 'pdf' },
        { bytes, contentType: 'application/pdf\r\nx-evil: 1' },
        { bytes, contentType: 'application/pdf', key: '' },
        { bytes, contentType: 'application/pdf', key: 'a\nb' },
        { bytes, contentType: 'application/pdf', key: '合'.repeat(Math.floor(DOCUMENT_LIMITS.keyBytes / 3) + 1) },
        { bytes, contentType: 'application/pdf', metadata: { LoanNo: 'x' } },
        { bytes, contentType: 'application/pdf', metadata: { loan_no: 'x' } },
        { bytes, contentType: 'application/pdf', metadata: { '': 'x' } },
        { bytes, contentType: 'application/pdf', metadata: { note: 'line\nbreak' } },
        { bytes, contentType: 'application/pdf', metadata: { n: 1 as unknown as string } },
        { bytes, contentType: 'application/pdf', metadata: { big: '中'.repeat(DOCUMENT_LIMITS.metadataBytes / 3) } },
        {
          bytes,
          contentType: 'application/pdf',
          metadata: Object.fromEntries(
            Array.from({ length: DOCUMENT_LIMITS.metadataEntries + 1 }, (_, i) => [`k${i}`, 'v']),
          ),
        },
      ];
      for (const input of bad) {
        await expect(
          store.put(input),
          JSON.stringify(input.metadata ?? input.key ?? input.contentType),
        ).rejects.toBeInstanceOf(ValidationError);
      }
    });

    it('accepts metadata and keys right at the limits', async () => {
      const store = await create();
      const keyChars = Math.floor(DOCUMENT_LIMITS.keyBytes / 3);
      const entries = DOCUMENT_LIMITS.metadataEntries;
      // Each entry: a 2-character key plus a value of Chinese characters (3 bytes each), filling the byte budget.
      const valueChars = Math.floor((DOCUMENT_LIMITS.metadataBytes / entries - 2) / 3);
      const metadata = Object.fromEntries(
        Array.from({ length: entries }, (_, i) => [`m${i.toString(16)}`, '签'.repeat(valueChars)]),
      );
      const key = '合'.repeat(keyChars);
      const stored = await store.put({
        bytes: pdfBytes(16),
        contentType: 'application/pdf; charset=binary',
        key,
        metadata,
      });
      const got = await store.get(stored.fileId);
      expect(got.document.key).toBe(key);
      expect(got.document.metadata).toEqual(metadata);
      expect(got.document.contentType).toBe('application/pdf; charset=binary');
    });

    it('round-trips Chinese and punctuation in metadata values and keys', async () => {
      const store = await create();
      const metadata = {
        'lender-name': '某某小额贷款有限公司',
        kind: '借款合同（电子签章版）',
        note: 'a%20b + c/d?e=f&g "quoted" 100%',
        'template-version': 'v3',
        empty: '',
      };
      const key = '合同/2026/LN123/借款合同 第1版.pdf';
      const stored = await store.put({ bytes: pdfBytes(200), contentType: 'application/pdf', key, metadata });
      expect(stored.metadata).toEqual(metadata);
      expect((await store.head(stored.fileId))?.metadata).toEqual(metadata);
      const got = await store.get(stored.fileId);
      expect(got.document.metadata).toEqual(metadata);
      expect(got.document.key).toBe(key);
    });

    it('head returns null and get throws NotFoundError for a document that is not stored', async () => {
      const store = await create();
      const fileId = await deletedId(store);
      expect(await store.head(fileId)).toBeNull();
      const error = await store.get(fileId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).code).toBe('NOT_FOUND');
    });

    it('rejects fileIds it could never have issued with ValidationError on get, head and delete', async () => {
      const store = await create();
      for (const fileId of MALFORMED_IDS) {
        await expect(store.get(fileId), fileId).rejects.toBeInstanceOf(ValidationError);
        await expect(store.head(fileId), fileId).rejects.toBeInstanceOf(ValidationError);
        await expect(store.delete(fileId), fileId).rejects.toBeInstanceOf(ValidationError);
      }
    });

    it('deletes, and deleting again or deleting what was never stored succeeds', async () => {
      const store = await create();
      const keep = await store.put({ bytes: pdfBytes(50, 1), contentType: 'application/pdf' });
      const drop = await store.put({ bytes: pdfBytes(50, 2), contentType: 'application/pdf' });
      await store.delete(drop.fileId);
      expect(await store.head(drop.fileId)).toBeNull();
      await expect(store.get(drop.fileId)).rejects.toBeInstanceOf(NotFoundError);
      await store.delete(drop.fileId);
      await store.delete(await deletedId(store));
      expect(await store.head(keep.fileId)).toEqual(keep);
    });

    it('stores identical bytes and key twice as two documents that are deleted independently', async () => {
      const store = await create();
      const input = { bytes: pdfBytes(300, 9), contentType: 'application/pdf', key: 'templates/t1/v1.pdf' };
      const first = await store.put(input);
      const second = await store.put(input);
      expect(second.fileId).not.toBe(first.fileId);
      expect(second.sha256).toBe(first.sha256);
      await store.delete(first.fileId);
      expect(sha256((await store.get(second.fileId)).bytes)).toBe(first.sha256);
    });

    it('refuses to return bytes that changed after they were stored (DOCUMENT_INTEGRITY)', async (context) => {
      const store = await create();
      if (!store.corrupt) {
        context.skip('the store offers no corrupt() hook');
        return;
      }
      const bytes = pdfBytes(2048, 11);
      const stored = await store.put({ bytes, contentType: 'application/pdf' });
      await store.corrupt(stored.fileId);
      const error = await store.get(stored.fileId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DocumentIntegrityError);
      expect(error).toBeInstanceOf(SealflowError);
      expect((error as SealflowError).code).toBe('DOCUMENT_INTEGRITY');
      expect((error as SealflowError).retryable).toBe(false);
      expect((error as SealflowError).details).toMatchObject({ fileId: stored.fileId, expectedSha256: stored.sha256 });
    });

    it('round-trips a 5 MB document', async () => {
      const store = await create();
      const bytes = pdfBytes(5 * 1024 * 1024, 13);
      const stored = await store.put({ bytes, contentType: 'application/pdf' });
      expect(stored.size).toBe(bytes.length);
      const got = await store.get(stored.fileId);
      expect(got.bytes.length).toBe(bytes.length);
      expect(sha256(got.bytes)).toBe(sha256(bytes));
    });

    it('handles many concurrent puts, each its own document', async () => {
      const store = await create();
      const count = 40;
      const stored = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          store.put({ bytes: pdfBytes(1000 + i, i + 1), contentType: 'application/pdf', metadata: { n: String(i) } }),
        ),
      );
      expect(new Set(stored.map((s) => s.fileId)).size).toBe(count);
      const read = await Promise.all(stored.map((s) => store.get(s.fileId)));
      read.forEach((got, i) => {
        expect(got.document.metadata).toEqual({ n: String(i) });
        expect(sha256(got.bytes)).toBe(sha256(pdfBytes(1000 + i, i + 1)));
      });
    });

    it('keeps keys that look like paths as labels: stored inside the store and retrievable', async () => {
      const store = await create();
      const keys = [
        '../../etc/passwd',
        '/etc/passwd',
        '..',
        'C:\\Windows\\system.ini',
        'a/../../../../b',
        '~/.ssh/id_rsa',
      ];
      for (const key of keys) {
        const bytes = pdfBytes(32, key.length);
        const stored = await store.put({ bytes, contentType: 'application/pdf', key });
        expect(stored.fileId).toMatch(DOCUMENT_FILE_ID_PATTERN);
        expect(stored.fileId).not.toContain(key);
        const got = await store.get(stored.fileId);
        expect(got.document.key).toBe(key);
        expect(sha256(got.bytes)).toBe(sha256(bytes));
      }
    });

    it('records storedAt in epoch milliseconds, non-decreasing across puts', async () => {
      const store = await create();
      const a = await store.put({ bytes: pdfBytes(8, 1), contentType: 'application/pdf' });
      const b = await store.put({ bytes: pdfBytes(8, 2), contentType: 'application/pdf' });
      expect(Number.isSafeInteger(a.storedAt)).toBe(true);
      expect(b.storedAt).toBeGreaterThanOrEqual(a.storedAt);
    });
  });
}
