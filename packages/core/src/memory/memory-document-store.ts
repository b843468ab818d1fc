import { NotFoundError } from '../errors.js';
import { systemClock } from '../ports/clock.js';
import {
  checkDocumentFileId,
  checkDocumentInput,
  type DocumentStore,
  type DocumentStoreOptions,
  newStoredDocument,
  type StoredDocument,
  verifyDocumentBytes,
} from '../ports/document-store.js';

/**
 * An in-memory {@link DocumentStore}, the reference implementation, with a `corrupt` hook and a document count for
 * tests.
 */
export interface MemoryDocumentStore extends DocumentStore {
  /** Test hook: flip one bit of the stored bytes, as damaged storage would, so the next `get` must refuse them. */
  corrupt(fileId: string): Promise<void>;
  /** How many documents are stored. */
  size(): number;
}

/** The reference `DocumentStore`: documents live in a Map and are lost with the process. */
export function createMemoryDocumentStore(options: DocumentStoreOptions = {}): MemoryDocumentStore {
  const clock = options.clock ?? systemClock;
  const documents = new Map<string, { bytes: Uint8Array; document: StoredDocument }>();
  const name = 'memory';
  const copyOf = (document: StoredDocument): StoredDocument => ({ ...document, metadata: { ...document.metadata } });
  const notFound = (fileId: string) =>
    new NotFoundError(`document ${fileId} is not in the ${name} document store; it was never stored or was deleted.`, {
      details: { fileId, store: name },
    });

  return {
    name,
    async put(input) {
      const checked = checkDocumentInput(input);
      const { bytes } = checked;
      const document = newStoredDocument(checked, clock.now());
      documents.set(document.fileId, { bytes, document });
      return copyOf(document);
    },
    async get(fileId) {
      checkDocumentFileId(name, fileId);
      const stored = documents.get(fileId);
      if (!stored) throw notFound(fileId);
      verifyDocumentBytes(name, stored.document, stored.bytes);
      return { bytes: new Uint8Array(stored.bytes), document: copyOf(stored.document) };
    },
    async head(fileId) {
      checkDocumentFileId(name, fileId);
      const stored = documents.get(fileId);
      return stored ? copyOf(stored.document) : null;
    },
    async delete(fileId) {
      checkDocumentFileId(name, fileId);
      documents.delete(fileId);
    },
    async corrupt(fileId) {
      const stored = documents.get(fileId);
      if (!stored) throw notFound(fileId);
      stored.bytes[0] = (stored.bytes[0] ?? 0) ^ 0x01;
    },
    size: () => documents.size,
  };
}
