/**
 * Where the local signer keeps uploaded documents and flows.
 *
 * Two stores ship:
 * - {@link memoryLocalFlowStore}, the default: one process only, everything lost on restart. For tests and demos.
 * - {@link persistentLocalFlowStore}: flow metadata in core's `Persistence` (entities `local-signer.flow` and
 *   `local-signer.upload`), PDFs in a `DocumentStore`. Every process whose signer is built over the same database and
 *   document store sees the same flows, so one instance can seal what another created and download what a third
 *   completed.
 *
 * Flows are written optimistically: each record carries the `revision` it was read at, and `putFlow` stores it only
 * if nobody stored another revision since. The signer answers a refused write by reading the flow again and starting
 * the operation over, so two processes signing the same flow at once never lose a signature or sign twice.
 */
import {
  type Clock,
  ConflictError,
  type DocumentStore,
  DocumentIntegrityError,
  NotFoundError,
  type EntityRow,
  type Persistence,
  type PersistenceTransaction,
  type SignerSpec,
  SnapshotError,
  sha256Hex,
  type UsedSeal,
  systemClock,
  ValidationError,
  type VendorFlow,
  type VendorFlowStatus,
} from '@sealflow/core';

export interface LocalDocumentRecord {
  vendorFileId: string;
  key: string;
  fileName: string;
  bytes: Uint8Array;
}

/**
 * The state of one local signing flow as a {@link LocalFlowStore} keeps it: plain data, no personal data beyond what
 * the documents themselves hold, with a `revision` for optimistic concurrency between signer instances.
 */
export interface LocalFlowRecord {
  flowId: string;
  /**
   * The stored revision this record was read at: 0 for a flow not stored yet. A store accepts a write only at the
   * revision it holds, and then holds `revision + 1`.
   */
  revision: number;
  /** SHA-256 of the create request: a different request under the same idempotency key is refused. */
  fingerprint: string;
  status: VendorFlowStatus;
  reason?: string;
  deadlineAt?: number;
  documents: {
    key: string;
    vendorFileId: string;
    fileName: string;
    /** The document with every signature so far. */
    bytes: Uint8Array;
    /** How many signatures `bytes` must carry; checked again on download. */
    signatures: number;
  }[];
  /** No names or ID numbers: only what the flow needs to go on. */
  signers: {
    role: string;
    kind: SignerSpec['kind'];
    order: number;
    status: VendorFlow['signers'][number]['status'];
    signedAt?: number;
    /** The seal and certificate an organisation signed with, reported in the flow. */
    seal?: UsedSeal;
  }[];
  /** `appendSigner` idempotency: key → fingerprint of that request. */
  appended: Record<string, string>;
}

/**
 * Persistence for the local signer. Records are plain data (bytes as `Uint8Array`). A host with its own storage can
 * implement these four methods; most use {@link persistentLocalFlowStore}.
 */
export interface LocalFlowStore {
  getDocument(vendorFileId: string): Promise<LocalDocumentRecord | undefined>;
  /** Keep an upload. Upload ids follow from their content, so when the id is already stored the first one stays. */
  putDocument(record: LocalDocumentRecord): Promise<void>;
  getFlow(flowId: string): Promise<LocalFlowRecord | undefined>;
  /**
   * Store `record` if the stored flow is still at `record.revision` (absent when it is 0). Returns false, writing
   * nothing, when another writer stored the flow first.
   */
  putFlow(record: LocalFlowRecord): Promise<boolean>;
}

/** Single-process only: flows live in this process's memory and are lost when it exits. For tests and demos. */
export function memoryLocalFlowStore(): LocalFlowStore {
  const documents = new Map<string, LocalDocumentRecord>();
  const flows = new Map<string, LocalFlowRecord>();
  return {
    getDocument: async (id) => documents.get(id),
    putDocument: async (record) => {
      if (!documents.has(record.vendorFileId)) documents.set(record.vendorFileId, record);
    },
    getFlow: async (id) => {
      const flow = flows.get(id);
      return flow && structuredClone(flow);
    },
    putFlow: async (record) => {
      if ((flows.get(record.flowId)?.revision ?? 0) !== record.revision) return false;
      flows.set(record.flowId, { ...structuredClone(record), revision: record.revision + 1 });
      return true;
    },
  };
}

// -----------------------------------------------------------------------------------------------------------------

/** Where {@link persistentLocalFlowStore} keeps flow records (the database) and their PDFs (the document store). */
export interface PersistentLocalFlowStoreOptions {
  /** The database every signer instance shares. Flow records hold no names, ID numbers or mobiles. */
  persistence: Persistence;
  /** Where the uploaded and signed PDFs are kept (they do hold personal data: consider encryption at rest). */
  documents: DocumentStore;
  /** Source of the records' created/updated times. Default: the system clock. */
  clock?: Clock;
}

interface StoredUpload {
  vendorFileId: string;
  key: string;
  fileName: string;
  /** The upload's bytes in the document store. */
  fileId: string;
  sha256: string;
}

/** A flow as the database keeps it: the PDFs replaced by their document-store ids and hashes. */
type StoredFlow = Omit<LocalFlowRecord, 'revision' | 'documents'> & {
  documents: (Omit<LocalFlowRecord['documents'][number], 'bytes'> & {
    fileId: string;
    sha256: string;
    /** False while the bytes are still the upload's own document, which this flow must not delete. */
    owned: boolean;
  })[];
};

const uploads = entityKind<StoredUpload>('local-signer.upload', 'local signer upload', (u) => u.vendorFileId, isUpload);
const flows = entityKind<StoredFlow>('local-signer.flow', 'local signer flow', (f) => f.flowId, isStoredFlow);

/** How often a read retries when a concurrent writer deleted the signed bytes it was about to fetch. */
const READ_ATTEMPTS = 5;

/**
 * Flows and uploads in the database, PDFs in the document store: what a lender running more than one process needs.
 *
 * A write first puts any changed PDF into the document store (a new document each time: the store never overwrites),
 * then records the metadata in one transaction that succeeds only at the expected revision. A write that loses the
 * race deletes the PDFs it put; the winner deletes the signed PDFs its write superseded. A crash between the two
 * steps leaves an unreferenced document, which the document store's retention sweep removes.
 */
export function persistentLocalFlowStore(options: PersistentLocalFlowStoreOptions): LocalFlowStore {
  const { persistence, documents } = options;
  if (!persistence || typeof persistence.transaction !== 'function') {
    throw new ValidationError('persistentLocalFlowStore: pass persistence, the Persistence your runtime uses.', {
      details: { field: 'persistence' },
    });
  }
  if (!documents || typeof documents.put !== 'function') {
    throw new ValidationError('persistentLocalFlowStore: pass documents, a DocumentStore such as fsDocumentStore().', {
      details: { field: 'documents' },
    });
  }
  const clock = options.clock ?? systemClock;

  /** The bytes of a stored document, refused unless they are the ones the record names. */
  const bytesOf = async (fileId: string, sha256: string): Promise<Uint8Array> => {
    const { bytes, document } = await documents.get(fileId);
    if (document.sha256 !== sha256) {
      throw new DocumentIntegrityError(
        `document ${fileId} in the ${documents.name} document store is not the one the local signer recorded ` +
          '(another SHA-256): it was replaced. Restore it from a backup; the flow cannot go on without it.',
        { details: { fileId, store: documents.name, expectedSha256: sha256, actualSha256: document.sha256 } },
      );
    }
    return bytes;
  };

  const putPdf = async (bytes: Uint8Array, kind: string) =>
    documents.put({ bytes, contentType: 'application/pdf', metadata: { kind } });

  const discard = async (fileIds: string[]) => {
    // Best effort: what is left behind is unreferenced and swept by retention, never read.
    await Promise.all(fileIds.map((fileId) => documents.delete(fileId).catch(() => {})));
  };

  return {
    async getDocument(vendorFileId) {
      const stored = await persistence.transaction((tx) => uploads.get(tx, vendorFileId));
      if (!stored) return undefined;
      const { key, fileName, fileId, sha256 } = stored.record;
      return { vendorFileId, key, fileName, bytes: await bytesOf(fileId, sha256) };
    },

    async putDocument(record) {
      if (await persistence.transaction((tx) => uploads.get(tx, record.vendorFileId))) return;
      const document = await putPdf(record.bytes, 'local-signer-upload');
      const upload = {
        vendorFileId: record.vendorFileId,
        key: record.key,
        fileName: record.fileName,
        fileId: document.fileId,
        sha256: document.sha256,
      };
      try {
        await persistence.transaction((tx) => uploads.insert(tx, upload, clock.now()));
      } catch (error) {
        await discard([document.fileId]);
        // Another process stored the same upload (same id, same content) first: that one stays.
        if (error instanceof ConflictError && error.code === 'DUPLICATE') return;
        throw error;
      }
    },

    async getFlow(flowId) {
      for (let attempt = 1; ; attempt++) {
        const stored = await persistence.transaction((tx) => flows.get(tx, flowId));
        if (!stored) return undefined;
        try {
          return await withBytes(stored.record, stored.version);
        } catch (error) {
          // A writer replaced the signed bytes between our two reads and deleted the old ones: read again.
          if (!(error instanceof NotFoundError) || attempt >= READ_ATTEMPTS) throw error;
        }
      }
    },

    async putFlow(record) {
      const previous =
        record.revision === 0 ? null : await persistence.transaction((tx) => flows.get(tx, record.flowId));
      if (record.revision !== 0 && previous?.version !== record.revision) return false;
      const created: string[] = [];
      let next: StoredFlow;
      try {
        const storedDocuments: StoredFlow['documents'] = [];
        for (const document of record.documents) {
          const { bytes, ...facts } = document;
          const sha256 = sha256Hex(bytes);
          const before = previous?.record.documents.find((d) => d.key === document.key);
          if (before?.sha256 === sha256) {
            storedDocuments.push({ ...facts, fileId: before.fileId, sha256, owned: before.owned });
            continue;
          }
          const upload = await persistence.transaction((tx) => uploads.get(tx, document.vendorFileId));
          if (upload?.record.sha256 === sha256) {
            storedDocuments.push({ ...facts, fileId: upload.record.fileId, sha256, owned: false });
            continue;
          }
          const put = await putPdf(bytes, 'local-signer-signed');
          created.push(put.fileId);
          storedDocuments.push({ ...facts, fileId: put.fileId, sha256, owned: true });
        }
        const { revision: _revision, documents: _documents, ...rest } = record;
        next = { ...rest, documents: storedDocuments };
        const now = clock.now();
        await persistence.transaction(async (tx) => {
          if (!previous) return flows.insert(tx, next, now);
          return flows.update(tx, previous, next, now);
        });
      } catch (error) {
        await discard(created);
        if (error instanceof ConflictError) return false;
        throw error;
      }
      const kept = new Set(next.documents.map((d) => d.fileId));
      await discard(
        (previous?.record.documents ?? []).filter((d) => d.owned && !kept.has(d.fileId)).map((d) => d.fileId),
      );
      return true;
    },
  };

  async function withBytes(stored: StoredFlow, revision: number): Promise<LocalFlowRecord> {
    const revived = await Promise.all(
      stored.documents.map(async ({ fileId, sha256, owned: _owned, ...facts }) => ({
        ...facts,
        bytes: await bytesOf(fileId, sha256),
      })),
    );
    return { ...stored, revision, documents: revived };
  }
}

// -----------------------------------------------------------------------------------------------------------------

interface Stored<T> {
  record: T;
  version: number;
}

/** One kind of entity: plain JSON, checked on the way out so a damaged row is reported rather than trusted. */
function entityKind<T extends object>(
  kind: string,
  label: string,
  idOf: (record: T) => string,
  isValid: (data: unknown) => data is T,
) {
  const revive = (row: EntityRow): Stored<T> => {
    if (!isValid(row.data)) {
      throw new SnapshotError(
        'CORRUPT_SNAPSHOT',
        `The stored ${label} ${row.id} is not in the format the local signer writes. Restore it from a backup.`,
        { details: { kind, id: row.id } },
      );
    }
    return { record: row.data, version: row.version };
  };
  const json = (record: T): unknown => JSON.parse(JSON.stringify(record));
  return {
    async get(tx: PersistenceTransaction, id: string): Promise<Stored<T> | null> {
      const row = await tx.entities.get(kind, id);
      return row ? revive(row) : null;
    },
    async insert(tx: PersistenceTransaction, record: T, now: number): Promise<void> {
      await tx.entities.insert({
        kind,
        id: idOf(record),
        data: json(record),
        tags: {},
        uniqueKey: null,
        createdAt: now,
      });
    },
    /** Throws `VERSION_CONFLICT` when someone stored another version since `previous` was read. */
    async update(tx: PersistenceTransaction, previous: Stored<T>, record: T, now: number): Promise<void> {
      const change = { data: json(record), tags: {}, uniqueKey: null, updatedAt: now };
      if (!(await tx.entities.update(kind, idOf(record), previous.version, change))) {
        throw new ConflictError('VERSION_CONFLICT', `The ${label} ${idOf(record)} was changed by someone else.`, {
          retryable: true,
        });
      }
    },
  };
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const fieldsOf = (value: unknown): Record<string, unknown> | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

function isUpload(data: unknown): data is StoredUpload {
  const u = fieldsOf(data);
  return !!u && ['vendorFileId', 'key', 'fileName', 'fileId', 'sha256'].every((name) => isText(u[name]));
}

function isStoredFlow(data: unknown): data is StoredFlow {
  const f = fieldsOf(data);
  if (!f || !isText(f.flowId) || !isText(f.fingerprint) || !isText(f.status)) return false;
  if (f.reason !== undefined && !isText(f.reason)) return false;
  if (f.deadlineAt !== undefined && !isCount(f.deadlineAt)) return false;
  const appended = fieldsOf(f.appended);
  if (!appended || !Object.values(appended).every(isText)) return false;
  const documents = Array.isArray(f.documents) ? f.documents.map(fieldsOf) : [null];
  const signers = Array.isArray(f.signers) ? f.signers.map(fieldsOf) : [null];
  return (
    documents.every(
      (d) =>
        !!d &&
        ['key', 'vendorFileId', 'fileName', 'fileId', 'sha256'].every((name) => isText(d[name])) &&
        isCount(d.signatures) &&
        typeof d.owned === 'boolean',
    ) &&
    signers.every(
      (s) =>
        !!s &&
        isText(s.role) &&
        isText(s.kind) &&
        isCount(s.order) &&
        isText(s.status) &&
        (s.signedAt === undefined || isCount(s.signedAt)),
    )
  );
}
