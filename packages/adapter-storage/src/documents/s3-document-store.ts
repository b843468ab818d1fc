import { createHash } from 'node:crypto';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import {
  AdapterError,
  checkDocumentFileId,
  checkDocumentInput,
  DocumentIntegrityError,
  type DocumentStore,
  type DocumentStoreOptions,
  generateDocumentFileId,
  NotFoundError,
  type StoredDocument,
  systemClock,
  ValidationError,
  verifyDocumentBytes,
} from '@sealflow/core';

/** The bucket, client and checksum/encryption settings of an S3-compatible document store. */
export interface S3DocumentStoreOptions extends DocumentStoreOptions {
  /** The bucket must exist; the store never creates buckets (that needs permissions a runtime should not hold). */
  bucket: string;
  /** A client you configured and own (you destroy it). Give either this or `clientConfig`. */
  client?: S3Client;
  /** Configuration for a client the store creates: `endpoint`, `region`, `credentials`, `forcePathStyle`. */
  clientConfig?: S3ClientConfig;
  /** Prepended to every object key, such as `sealflow/documents/`. Empty, or ending in `/`. */
  prefix?: string;
  /**
   * Also send the SHA-256 as `x-amz-checksum-sha256`, so the server rejects a body damaged in transit. Default true.
   * Turn it off only for a provider that rejects the header; the store still verifies on every read.
   */
  serverChecksum?: boolean;
  /**
   * Server-side encryption, passed to S3 on every request that needs it (see the README for what each provider
   * honours). This protects the disks of the storage service; for ciphertext that the service itself never sees, wrap
   * the store in `encryptedDocumentStore` from `@sealflow/core` (both can be combined).
   */
  serverSideEncryption?: S3ServerSideEncryption;
}

/**
 * - `AES256`: SSE-S3, keys managed by the storage service (OSS: SSE-OSS; COS: SSE-COS).
 * - `aws:kms`: SSE-KMS with the given key (or the account's default KMS key); `bucketKeyEnabled` cuts KMS calls.
 * - `customer`: SSE-C, your own 32-byte key, sent with every put, get and head; the service keeps only its hash, so a
 *   lost key is a lost document. Needs HTTPS on AWS.
 */
export type S3ServerSideEncryption =
  | { type: 'AES256' }
  | { type: 'aws:kms'; kmsKeyId?: string; bucketKeyEnabled?: boolean }
  | { type: 'customer'; key: Uint8Array };

/** Object metadata names (sent as `x-amz-meta-<name>`). Caller metadata goes under `u-` so it can never collide. */
const META_SHA256 = 'sha256';
const META_STORED_AT = 'stored-at';
const META_KEY = 'key';
const USER_PREFIX = 'u-';

type S3Sdk = typeof import('@aws-sdk/client-s3');
let sdk: Promise<S3Sdk> | undefined;
/** Loaded on first use, so hosts that keep documents elsewhere never pay for loading the AWS SDK. */
const loadSdk = () => {
  sdk ??= import('@aws-sdk/client-s3');
  return sdk;
};

/**
 * Documents as objects in an S3-compatible bucket: AWS S3, MinIO, Alibaba Cloud OSS, Tencent Cloud COS.
 *
 * Each document is one object at `<prefix><fileId>`, so a put is atomic (S3 never shows a partial object) and needs
 * no second write. The descriptor travels as object metadata: `x-amz-meta-sha256` (hex), `x-amz-meta-stored-at`, the
 * suggested key in `x-amz-meta-key` and each caller entry in `x-amz-meta-u-<name>`; text is percent-encoded because
 * HTTP headers carry only ASCII. `DOCUMENT_LIMITS` keeps all of it under S3's 2 KB of user metadata even when every
 * character is Chinese. Reads recompute the SHA-256 over the body, so a replaced or damaged object is refused.
 */
export function s3DocumentStore(options: S3DocumentStoreOptions): DocumentStore {
  const { bucket, prefix = '', serverChecksum = true } = options;
  const clock = options.clock ?? systemClock;
  const name = 's3';
  if (typeof bucket !== 'string' || bucket.length === 0) {
    throw new ValidationError('s3DocumentStore: bucket is required, such as { bucket: "loan-contracts" }.', {
      details: { field: 'bucket' },
    });
  }
  if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
    throw new ValidationError(
      `s3DocumentStore: prefix ${JSON.stringify(prefix)} must be empty or end with "/" and not start with "/", such as "sealflow/documents/".`,
      { details: { field: 'prefix' } },
    );
  }
  if (options.client && options.clientConfig) {
    throw new ValidationError(
      's3DocumentStore: give either client or clientConfig, not both; put the configuration into the client you create.',
      { details: { field: 'clientConfig' } },
    );
  }
  const encryption = encryptionParameters(options.serverSideEncryption);
  let created: Promise<S3Client> | undefined;
  const getClient = () => {
    if (options.client) return Promise.resolve(options.client);
    created ??= loadSdk().then(({ S3Client }) => new S3Client(options.clientConfig ?? {}));
    return created;
  };
  /** Send one command, built from the lazily loaded SDK. */
  const send = async <T>(run: (client: S3Client, commands: S3Sdk) => Promise<T>): Promise<T> =>
    run(await getClient(), await loadSdk());
  const objectKey = (fileId: string) => `${prefix}${fileId}`;

  const failure = (action: string, fileId: string | null, error: unknown) => {
    const code = (error as { name?: string } | null)?.name;
    if (code === 'NoSuchBucket') {
      return new AdapterError(
        `s3 document store: bucket "${bucket}" does not exist. Create it (with versioning or object lock if your ` +
          'retention rules require) or fix the bucket name in the configuration.',
        { cause: error, retryable: false, details: { bucket } },
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new AdapterError(
      `s3 document store: could not ${action}${fileId ? ` ${fileId}` : ''} in bucket "${bucket}": ${reason}. Check ` +
        'the endpoint, credentials and network; the operation can be retried.',
      { cause: error, details: { bucket, ...(fileId ? { fileId } : {}), s3Error: code } },
    );
  };
  const notFound = (fileId: string) =>
    new NotFoundError(
      `document ${fileId} is not in the s3 document store (bucket "${bucket}"); it was never stored there or was deleted.`,
      { details: { fileId, store: name, bucket } },
    );

  function toDocument(fileId: string, facts: ObjectFacts): StoredDocument {
    const document = decodeDescriptor(fileId, facts);
    if (document) return document;
    throw new DocumentIntegrityError(
      `object ${objectKey(fileId)} in bucket "${bucket}" lacks the metadata sealflow writes (x-amz-meta-sha256, ` +
        'x-amz-meta-stored-at) or has it damaged, so it cannot be verified: it was replaced, or copied without its ' +
        'metadata. Restore it from a backup or re-archive the document.',
      { details: { fileId, store: name, bucket } },
    );
  }

  return {
    name,
    async put(input) {
      const { bytes, contentType, key, metadata, sha256 } = checkDocumentInput(input);
      const fileId = generateDocumentFileId();
      const storedAt = clock.now();
      const objectMetadata: Record<string, string> = { [META_SHA256]: sha256, [META_STORED_AT]: String(storedAt) };
      if (key !== null) objectMetadata[META_KEY] = encodeURIComponent(key);
      for (const [entry, value] of Object.entries(metadata)) {
        objectMetadata[USER_PREFIX + entry] = encodeURIComponent(value);
      }
      try {
        await send((client, { PutObjectCommand }) =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: objectKey(fileId),
              Body: bytes,
              ContentLength: bytes.length,
              ContentType: contentType,
              Metadata: objectMetadata,
              ...(serverChecksum ? { ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64') } : {}),
              ...encryption.put,
            }),
          ),
        );
      } catch (error) {
        throw failure('store a document', null, error);
      }
      return { fileId, sha256, size: bytes.length, contentType, key, storedAt, metadata };
    },

    async get(fileId) {
      checkDocumentFileId(name, fileId);
      let bytes: Uint8Array;
      let facts: ObjectFacts;
      try {
        const response = await send((client, { GetObjectCommand }) =>
          client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(fileId), ...encryption.read })),
        );
        if (!response.Body) throw new Error('the response has no body');
        bytes = await response.Body.transformToByteArray();
        facts = { metadata: response.Metadata, contentType: response.ContentType, size: bytes.length };
      } catch (error) {
        if (isMissing(error)) throw notFound(fileId);
        throw failure('read document', fileId, error);
      }
      const document = toDocument(fileId, facts);
      verifyDocumentBytes(name, document, bytes);
      return { bytes, document };
    },

    async head(fileId) {
      checkDocumentFileId(name, fileId);
      try {
        const response = await send((client, { HeadObjectCommand }) =>
          client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(fileId), ...encryption.read })),
        );
        return toDocument(fileId, {
          metadata: response.Metadata,
          contentType: response.ContentType,
          size: response.ContentLength,
        });
      } catch (error) {
        if (isMissing(error)) return null;
        if (error instanceof DocumentIntegrityError) throw error;
        throw failure('read document', fileId, error);
      }
    },

    async delete(fileId) {
      checkDocumentFileId(name, fileId);
      try {
        // S3 answers 204 for a key that does not exist, so deleting twice is already harmless.
        await send((client, { DeleteObjectCommand }) =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(fileId) })),
        );
      } catch (error) {
        throw failure('delete document', fileId, error);
      }
    },
  };
}

/** The request parameters of each kind of server-side encryption: on put, and on reads (only SSE-C needs those). */
function encryptionParameters(sse: S3ServerSideEncryption | undefined): {
  put: Record<string, string | boolean>;
  read: Record<string, string>;
} {
  if (sse === undefined) return { put: {}, read: {} };
  const fail = (message: string): never => {
    throw new ValidationError(`s3DocumentStore: serverSideEncryption ${message}`, {
      details: { field: 'serverSideEncryption' },
    });
  };
  switch (sse?.type) {
    case 'AES256':
      return { put: { ServerSideEncryption: 'AES256' }, read: {} };
    case 'aws:kms': {
      if (sse.kmsKeyId !== undefined && (typeof sse.kmsKeyId !== 'string' || sse.kmsKeyId.length === 0)) {
        fail('kmsKeyId must be a KMS key id or ARN, or left out for the account default key.');
      }
      if (sse.bucketKeyEnabled !== undefined && typeof sse.bucketKeyEnabled !== 'boolean') {
        fail('bucketKeyEnabled must be true or false.');
      }
      return {
        put: {
          ServerSideEncryption: 'aws:kms',
          ...(sse.kmsKeyId === undefined ? {} : { SSEKMSKeyId: sse.kmsKeyId }),
          ...(sse.bucketKeyEnabled === undefined ? {} : { BucketKeyEnabled: sse.bucketKeyEnabled }),
        },
        read: {},
      };
    }
    case 'customer': {
      if (Object.prototype.toString.call(sse.key) !== '[object Uint8Array]' || sse.key.length !== 32) {
        fail('key must be 32 bytes (SSE-C uses AES-256), such as randomBytes(32) kept in your secret store.');
      }
      const key = Buffer.from(sse.key);
      const parameters = {
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: key.toString('base64'),
        SSECustomerKeyMD5: createHash('md5').update(key).digest('base64'),
      };
      return { put: parameters, read: parameters };
    }
    default:
      return fail('type must be "AES256", "aws:kms" or "customer".');
  }
}

interface ObjectFacts {
  metadata: Record<string, string> | undefined;
  contentType: string | undefined;
  size: number | undefined;
}

/** GET answers `NoSuchKey`; HEAD has no body, so only its 404 status says the same. */
function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NoSuchKey' || (e?.name === 'NotFound' && e.$metadata?.httpStatusCode === 404);
}

function decodeDescriptor(fileId: string, facts: ObjectFacts): StoredDocument | null {
  const headers = facts.metadata ?? {};
  const sha256 = headers[META_SHA256];
  const storedAt = Number(headers[META_STORED_AT]);
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(storedAt)) return null;
  if (facts.size === undefined) return null;
  try {
    const metadata: Record<string, string> = {};
    for (const [header, value] of Object.entries(headers)) {
      if (header.startsWith(USER_PREFIX)) metadata[header.slice(USER_PREFIX.length)] = decodeURIComponent(value);
    }
    const key = headers[META_KEY];
    return {
      fileId,
      sha256,
      size: facts.size,
      contentType: facts.contentType ?? 'application/octet-stream',
      key: key === undefined ? null : decodeURIComponent(key),
      storedAt,
      metadata,
    };
  } catch {
    // Malformed percent-encoding: the metadata was not written by this store.
    return null;
  }
}
