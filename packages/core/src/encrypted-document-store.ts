import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { NotFoundError, SealflowError, type SealflowErrorOptions, ValidationError } from './errors.js';
import {
  checkDocumentInput,
  DocumentIntegrityError,
  type DocumentStore,
  type StoredDocument,
  verifyDocumentBytes,
} from './ports/document-store.js';

/**
 * Encryption at rest for any `DocumentStore`: `encryptedDocumentStore(fsDocumentStore(…), { keys })`.
 *
 * Contracts carry full names and ID numbers; the store underneath (a disk, a bucket, the lender's 影像平台) then only
 * ever holds ciphertext. Each document is sealed with AES-256-GCM under the host's current key and a fresh random
 * 96-bit nonce, in an envelope:
 *
 * | bytes | content |
 * |---|---|
 * | 5 | `SFEN` and format version 1 |
 * | 1 + n | key id length n (1–64) and the key id (letters, digits, `.`, `_`, `-`) |
 * | 8 | key check: HMAC-SHA256(key, "sealflow document key check"), first 8 bytes |
 * | 12 | nonce |
 * | 32 | SHA-256 of the plaintext (the document's `sha256`) |
 * | 16 | GCM tag |
 * | rest | ciphertext, as long as the plaintext |
 *
 * The header up to the tag, the content type, the suggested key and the metadata are the additional authenticated
 * data, so changing any of them in the store makes `get` refuse the document. The fileId cannot be bound: the inner
 * store issues it after the envelope is sealed. Moving one whole stored document (bytes and descriptor) in place of
 * another is therefore not detected here; callers that record the fileId with its `sha256` (as the signing service
 * does in its evidence) detect it when they compare.
 *
 * Rotation: new documents use `keys.current`; `get` uses the key id in each envelope, so documents under older keys
 * stay readable while those keys remain in `keys.keys`. The header is not secret (key id, nonce, plaintext hash).
 */
export interface DocumentEncryptionKeys {
  /** The id of the key new documents are encrypted under; must be in `keys`. */
  current: string;
  /**
   * Every key that may still be needed, by id: 32 bytes each (AES-256). Keep a retired key here until every document
   * encrypted under it has been deleted or copied under a newer key.
   */
  keys: Record<string, Uint8Array>;
}

/** Options of {@link encryptedDocumentStore}. */
export interface EncryptedDocumentStoreOptions {
  keys: DocumentEncryptionKeys;
}

/** A stored document cannot be decrypted with the configured keys: the key is missing, or another key has its id. */
export class DocumentKeyError extends SealflowError {
  constructor(
    code: 'DOCUMENT_KEY_MISSING' | 'DOCUMENT_KEY_MISMATCH',
    message: string,
    options: SealflowErrorOptions = {},
  ) {
    super(code, message, { ...options, retryable: false });
  }
}

const MAGIC = Buffer.from('SFEN\x01', 'latin1');
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_BYTES = 32;
const CHECK_BYTES = 8;
const NONCE_BYTES = 12;
const HASH_BYTES = 32;
const TAG_BYTES = 16;

interface Envelope {
  keyId: string;
  keyCheck: Buffer;
  nonce: Buffer;
  sha256: string;
  tag: Buffer;
  /** The header bytes before the tag: authenticated, not encrypted. */
  authenticated: Buffer;
  ciphertext: Buffer;
}

/**
 * Wrap a document store so that every document is stored encrypted (AES-256-GCM) under the current key and read back
 * under the key it names; the inner store only ever sees ciphertext. Integrity checks still apply to the plaintext.
 */
export function encryptedDocumentStore(inner: DocumentStore, options: EncryptedDocumentStoreOptions): DocumentStore {
  const keys = checkKeys(options?.keys);
  const name = `encrypted(${inner.name})`;

  /** The facts the caller sees: those of the plaintext, not of the envelope the inner store holds. */
  const plaintextFacts = (document: StoredDocument, envelope: Envelope): StoredDocument => ({
    ...document,
    sha256: envelope.sha256,
    size: envelope.ciphertext.length,
  });

  const open = (fileId: string, bytes: Uint8Array): Envelope => {
    const envelope = parseEnvelope(bytes);
    if (envelope) return envelope;
    throw new DocumentIntegrityError(
      `document ${fileId} in the ${inner.name} document store is not an envelope written by the ${name} store: it ` +
        'was stored without encryption (through the inner store directly) or damaged. Re-archive it through the ' +
        'encrypted store, or restore it from a backup.',
      { details: { fileId, store: name } },
    );
  };

  return {
    name,
    async put(input) {
      const checked = checkDocumentInput(input);
      const key = keys.get(keys.current) as Key;
      const nonce = randomBytes(NONCE_BYTES);
      const keyId = Buffer.from(keys.current, 'latin1');
      const authenticated = Buffer.concat([
        MAGIC,
        Buffer.from([keyId.length]),
        keyId,
        key.check,
        nonce,
        Buffer.from(checked.sha256, 'hex'),
      ]);
      const cipher = createCipheriv('aes-256-gcm', key.secret, nonce);
      cipher.setAAD(additionalData(authenticated, checked));
      const ciphertext = Buffer.concat([cipher.update(checked.bytes), cipher.final()]);
      const stored = await inner.put({
        bytes: Buffer.concat([authenticated, cipher.getAuthTag(), ciphertext]),
        contentType: checked.contentType,
        ...(checked.key === null ? {} : { key: checked.key }),
        metadata: checked.metadata,
      });
      return { ...stored, sha256: checked.sha256, size: checked.bytes.length };
    },

    async get(fileId) {
      const { bytes, document } = await inner.get(fileId);
      const envelope = open(fileId, bytes);
      const key = keys.get(envelope.keyId);
      if (!key) {
        throw new DocumentKeyError(
          'DOCUMENT_KEY_MISSING',
          `document ${fileId} is encrypted under key "${envelope.keyId}", which is not among the configured keys ` +
            `(${[...keys.keys()].join(', ')}). Add that key back to keys.keys: a retired key is needed as long as ` +
            'documents encrypted under it are kept.',
          { details: { fileId, store: name, keyId: envelope.keyId } },
        );
      }
      if (!key.check.equals(envelope.keyCheck)) {
        throw new DocumentKeyError(
          'DOCUMENT_KEY_MISMATCH',
          `document ${fileId} was encrypted under another key than the one now configured as "${envelope.keyId}". ` +
            'Configure the original key under that id; a key id must never be reused for new key material.',
          { details: { fileId, store: name, keyId: envelope.keyId } },
        );
      }
      const facts = plaintextFacts(document, envelope);
      let plaintext: Uint8Array;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.secret, envelope.nonce);
        decipher.setAuthTag(envelope.tag);
        decipher.setAAD(additionalData(envelope.authenticated, document));
        plaintext = Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]);
      } catch (error) {
        throw new DocumentIntegrityError(
          `document ${fileId} in the ${name} document store failed authentication: its bytes, content type, key or ` +
            'metadata were changed after it was stored. Do not use it; restore it from a backup or re-archive it, ' +
            'and investigate how the stored copy changed.',
          { cause: error, details: { fileId, store: name, expectedSha256: facts.sha256, keyId: envelope.keyId } },
        );
      }
      verifyDocumentBytes(name, facts, plaintext);
      return { bytes: new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength), document: facts };
    },

    /** Reads the envelope (the plaintext's hash and size are inside it) but does not decrypt or verify it. */
    async head(fileId) {
      try {
        const { bytes, document } = await inner.get(fileId);
        return plaintextFacts(document, open(fileId, bytes));
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    },

    delete: (fileId) => inner.delete(fileId),
  };
}

interface Key {
  secret: Buffer;
  check: Buffer;
}

function checkKeys(keys: DocumentEncryptionKeys | undefined): Map<string, Key> & { current: string } {
  function fail(message: string): never {
    throw new ValidationError(`encryptedDocumentStore: ${message}`, { details: { field: 'keys' } });
  }
  if (typeof keys !== 'object' || keys === null || typeof keys.keys !== 'object' || keys.keys === null) {
    fail('pass keys: { current: "k1", keys: { k1: <32 random bytes> } }.');
  }
  const checked = new Map<string, Key>();
  for (const [id, secret] of Object.entries(keys.keys)) {
    if (!KEY_ID.test(id)) {
      fail(
        `key id ${JSON.stringify(id.slice(0, 80))} must be 1–64 letters, digits, ".", "_" or "-", such as "2026-01".`,
      );
    }
    if (Object.prototype.toString.call(secret) !== '[object Uint8Array]' || secret.length !== KEY_BYTES) {
      fail(`key "${id}" must be ${KEY_BYTES} bytes (AES-256), such as randomBytes(32) kept in your secret store.`);
    }
    const bytes = Buffer.from(secret);
    checked.set(id, {
      secret: bytes,
      check: createHmac('sha256', bytes).update('sealflow document key check').digest().subarray(0, CHECK_BYTES),
    });
  }
  if (typeof keys.current !== 'string' || !checked.has(keys.current)) {
    fail(
      `keys.current (${JSON.stringify(keys.current)}) must name one of keys.keys (${[...checked.keys()].join(', ')}).`,
    );
  }
  return Object.assign(checked, { current: keys.current });
}

/** The header and the descriptor fields the inner store keeps beside the bytes, so none can be swapped unnoticed. */
function additionalData(
  header: Buffer,
  descriptor: { contentType: string; key: string | null; metadata: Record<string, string> },
): Buffer {
  const metadata = Object.entries(descriptor.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.concat([header, Buffer.from(JSON.stringify([descriptor.contentType, descriptor.key, metadata]))]);
}

function parseEnvelope(bytes: Uint8Array): Envelope | null {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < MAGIC.length + 1 || !buffer.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  let at = MAGIC.length;
  /** The next `length` bytes of the envelope. */
  const take = (length: number) => {
    const part = buffer.subarray(at, at + length);
    at += length;
    return part;
  };
  const keyId = take(take(1)[0] ?? 0).toString('latin1');
  const keyCheck = take(CHECK_BYTES);
  const nonce = take(NONCE_BYTES);
  const sha256 = take(HASH_BYTES).toString('hex');
  const authenticated = buffer.subarray(0, at);
  const tag = take(TAG_BYTES);
  // A contract is never empty, so an envelope always carries at least one byte of ciphertext.
  if (!KEY_ID.test(keyId) || buffer.length <= at) return null;
  return { keyId, keyCheck, nonce, sha256, tag, authenticated, ciphertext: buffer.subarray(at) };
}
