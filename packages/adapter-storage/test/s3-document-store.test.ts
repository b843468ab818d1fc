import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdapterError,
  DocumentIntegrityError,
  encryptedDocumentStore,
  ValidationError,
  sha256Hex,
} from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { runDocumentStoreContract } from '@sealflow/core/testing';
import { type S3ServerSideEncryption, s3DocumentStore } from '../src/s3.js';

/**
 * A real S3-protocol server (s3rver, filesystem-backed) on a loopback port chosen by the OS. The AWS SDK talks to it
 * over HTTP exactly as it would to MinIO or OSS; nothing is mocked.
 */
const BUCKET = 'sealflow-documents';
let server: S3rver;
let client: S3Client;
let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'sealflow-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = (await server.run()) as AddressInfo;
  client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

const ENCRYPTION_KEY = randomBytes(32);

/** Each store gets its own prefix, so tests share the bucket without seeing each other's objects. */
const freshPrefix = () => `t-${randomBytes(6).toString('hex')}/`;

runDocumentStoreContract({
  name: 's3 (s3rver)',
  create: async () => {
    const prefix = freshPrefix();
    return Object.assign(s3DocumentStore({ bucket: BUCKET, client, prefix }), {
      // Replace the body behind the store's back, keeping sealflow's metadata: what tampering in the bucket looks like.
      async corrupt(fileId: string) {
        const Key = prefix + fileId;
        const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key }));
        const body = await (
          await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }))
        ).Body!.transformToByteArray();
        body[0] = (body[0] ?? 0) ^ 0x01;
        await client.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key,
            Body: body,
            ContentType: head.ContentType,
            Metadata: head.Metadata,
          }),
        );
      },
    });
  },
});

runDocumentStoreContract({
  name: 'encrypted s3 (s3rver)',
  create: async () => {
    const prefix = freshPrefix();
    const store = s3DocumentStore({ bucket: BUCKET, client, prefix });
    return Object.assign(encryptedDocumentStore(store, { keys: { current: 'k1', keys: { k1: ENCRYPTION_KEY } } }), {
      // Someone with write access to the bucket changes the body and records its new hash in the metadata: only the
      // envelope's authentication can notice.
      async corrupt(fileId: string) {
        const Key = prefix + fileId;
        const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
        const body = await object.Body!.transformToByteArray();
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0x01;
        await client.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key,
            Body: body,
            ContentType: object.ContentType,
            Metadata: { ...object.Metadata, sha256: sha256Hex(body) },
          }),
        );
      },
    });
  },
});

describe('s3 document store', () => {
  const bytes = new TextEncoder().encode('%PDF-1.7 借款合同');

  it('writes one object per document under the prefix, with the SHA-256 in x-amz-meta-sha256', async () => {
    const prefix = freshPrefix();
    const clock = createManualClock(Date.UTC(2026, 3, 1));
    const store = s3DocumentStore({ bucket: BUCKET, client, prefix, clock });
    const stored = await store.put({
      bytes,
      contentType: 'application/pdf',
      key: '../../etc/passwd',
      metadata: { 'loan-no': 'LN123', lender: '某某小贷' },
    });
    expect(stored.storedAt).toBe(Date.UTC(2026, 3, 1));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([prefix + stored.fileId]);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: prefix + stored.fileId }));
    expect(head.Metadata).toMatchObject({
      sha256: sha256Hex(bytes),
      'stored-at': String(Date.UTC(2026, 3, 1)),
      key: encodeURIComponent('../../etc/passwd'),
      'u-loan-no': 'LN123',
      'u-lender': encodeURIComponent('某某小贷'),
    });
    expect(head.ContentType).toBe('application/pdf');
  });

  it('keeps the worst-case metadata within the 2 KB S3 allows for user metadata', async () => {
    const prefix = freshPrefix();
    const store = s3DocumentStore({ bucket: BUCKET, client, prefix });
    // Every byte allowed by DOCUMENT_LIMITS, in characters that percent-encoding triples.
    const key = `${'合'.repeat(42)}  `;
    const metadata = { a: `${'签'.repeat(170)} ` };
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf', key, metadata });
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: prefix + fileId }));
    const size = Object.entries(head.Metadata ?? {}).reduce((sum, [k, v]) => sum + Buffer.byteLength(k + v), 0);
    expect(size).toBeLessThanOrEqual(2048);
    expect((await store.get(fileId)).document).toMatchObject({ key, metadata });
  });

  it('works without the x-amz-checksum-sha256 header for providers that reject it', async () => {
    const store = s3DocumentStore({ bucket: BUCKET, client, prefix: freshPrefix(), serverChecksum: false });
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf' });
    expect(sha256Hex((await store.get(fileId)).bytes)).toBe(sha256Hex(bytes));
  });

  it('creates its own client from clientConfig, as configured for OSS and COS in the README', async () => {
    const endpoint = await client.config.endpoint?.();
    const store = s3DocumentStore({
      bucket: BUCKET,
      prefix: freshPrefix(),
      clientConfig: {
        endpoint: `http://${endpoint?.hostname}:${endpoint?.port}`,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      },
    });
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf' });
    expect((await store.head(fileId))?.size).toBe(bytes.length);
  });

  it('refuses an object that lost or never had sealflow metadata', async () => {
    const prefix = freshPrefix();
    const store = s3DocumentStore({ bucket: BUCKET, client, prefix });
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf' });
    // Someone re-uploads the object with a tool that drops user metadata.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: prefix + fileId, Body: bytes }));
    await expect(store.head(fileId)).rejects.toBeInstanceOf(DocumentIntegrityError);
    await expect(store.get(fileId)).rejects.toBeInstanceOf(DocumentIntegrityError);
  });

  it('reports a missing bucket as a non-retryable AdapterError that says what to do', async () => {
    const store = s3DocumentStore({ bucket: 'no-such-bucket', client });
    const error = (await store.put({ bytes, contentType: 'application/pdf' }).catch((e: unknown) => e)) as AdapterError;
    expect(error).toBeInstanceOf(AdapterError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('bucket "no-such-bucket" does not exist');
  });

  it('reports an unreachable endpoint as a retryable AdapterError', async () => {
    const unreachable = new S3Client({
      endpoint: 'http://127.0.0.1:1',
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      const store = s3DocumentStore({ bucket: BUCKET, client: unreachable });
      const error = (await store.head(`doc_${'0'.repeat(32)}`).catch((e: unknown) => e)) as AdapterError;
      expect(error).toBeInstanceOf(AdapterError);
      expect(error.retryable).toBe(true);
    } finally {
      unreachable.destroy();
    }
  });

  it('rejects a configuration it cannot use', () => {
    expect(() => s3DocumentStore({ bucket: '' })).toThrow(ValidationError);
    expect(() => s3DocumentStore({ bucket: BUCKET, prefix: 'no-slash' })).toThrow(ValidationError);
    expect(() => s3DocumentStore({ bucket: BUCKET, prefix: '/abs/' })).toThrow(ValidationError);
    expect(() => s3DocumentStore({ bucket: BUCKET, client, clientConfig: {} })).toThrow(ValidationError);
  });
});

describe('s3 document store encryption', () => {
  const name = '欧阳娜娜';
  const idNumber = '310101199003070023';
  const contract = new Uint8Array([
    ...new TextEncoder().encode(`%PDF-1.7 (${name} ${idNumber})`),
    ...Buffer.from(`\ufeff${name}`, 'utf16le').swap16(),
  ]);

  it('with encryptedDocumentStore, the bucket holds no name, ID number or PDF text', async () => {
    const prefix = freshPrefix();
    const store = encryptedDocumentStore(s3DocumentStore({ bucket: BUCKET, client, prefix }), {
      keys: { current: 'k1', keys: { k1: ENCRYPTION_KEY } },
    });
    const { fileId } = await store.put({ bytes: contract, contentType: 'application/pdf' });
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: prefix + fileId }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    for (const secret of [Buffer.from(name), Buffer.from(idNumber), Buffer.from(name, 'utf16le').swap16()]) {
      expect(body.includes(secret)).toBe(false);
    }
    expect(body.includes(Buffer.from('%PDF'))).toBe(false);
    expect(Buffer.from((await store.get(fileId)).bytes).equals(Buffer.from(contract))).toBe(true);
  });

  /** A client on the same server that records the encryption headers of every request it sends. */
  async function recordingClient() {
    const endpoint = await client.config.endpoint?.();
    const recording = new S3Client({
      endpoint: `http://${endpoint?.hostname}:${endpoint?.port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const sent: { method: string; headers: Record<string, string> }[] = [];
    recording.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method: string; headers: Record<string, string> };
        const headers = Object.fromEntries(
          Object.entries(request.headers).filter(([header]) => header.startsWith('x-amz-server-side-encryption')),
        );
        sent.push({ method: request.method, headers });
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordEncryptionHeaders' },
    );
    return { recording, sent };
  }

  // s3rver accepts these headers and ignores them (it stores plaintext and never asks for the SSE-C key): the test
  // proves what is sent, and that the store still works; what the service does with it is the provider's.
  const customerKeyHeaders = {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': ENCRYPTION_KEY.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(ENCRYPTION_KEY).digest('base64'),
  };
  const kmsKey = 'arn:aws-cn:kms:cn-north-1:111122223333:key/loan-contracts';
  const cases: { label: string; sse: S3ServerSideEncryption; onPut: object; onRead: object }[] = [
    { label: 'SSE-S3', sse: { type: 'AES256' }, onPut: { 'x-amz-server-side-encryption': 'AES256' }, onRead: {} },
    {
      label: 'SSE-KMS',
      sse: { type: 'aws:kms', kmsKeyId: kmsKey, bucketKeyEnabled: true },
      onPut: {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': kmsKey,
        'x-amz-server-side-encryption-bucket-key-enabled': 'true',
      },
      onRead: {},
    },
    {
      label: 'SSE-C',
      sse: { type: 'customer', key: ENCRYPTION_KEY },
      onPut: customerKeyHeaders,
      onRead: customerKeyHeaders,
    },
  ];
  for (const { label, sse, onPut, onRead } of cases) {
    it(`${label}: sends its encryption headers on put, and on get and head what they need`, async () => {
      const { recording, sent } = await recordingClient();
      try {
        const store = s3DocumentStore({
          bucket: BUCKET,
          client: recording,
          prefix: freshPrefix(),
          serverSideEncryption: sse,
        });
        const { fileId } = await store.put({ bytes: contract, contentType: 'application/pdf' });
        expect(sha256Hex((await store.get(fileId)).bytes)).toBe(sha256Hex(contract));
        expect((await store.head(fileId))?.size).toBe(contract.length);
        expect(sent.map((r) => [r.method, r.headers])).toEqual([
          ['PUT', onPut],
          ['GET', onRead],
          ['HEAD', onRead],
        ]);
      } finally {
        recording.destroy();
      }
    });
  }

  it('rejects server-side encryption settings it cannot send', () => {
    const bad = [
      { type: 'AES128' },
      { type: 'aws:kms', kmsKeyId: '' },
      { type: 'aws:kms', bucketKeyEnabled: 'yes' },
      { type: 'customer', key: randomBytes(16) },
      { type: 'customer', key: 'not bytes' },
    ];
    for (const serverSideEncryption of bad) {
      expect(
        () => s3DocumentStore({ bucket: BUCKET, client, serverSideEncryption: serverSideEncryption as never }),
        JSON.stringify(serverSideEncryption),
      ).toThrow(ValidationError);
    }
  });
});
