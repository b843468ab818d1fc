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
  defineRepository,
  NotFoundError,
  type Persistence,
  type SignerSpec,
  sha256Hex,
  systemClock,
  ValidationError,
  type VendorFlow,
  type VendorFlowStatus,
} from '@sealflow/core';
import { z } from 'zod';

export interface LocalDocumentRecord {
  vendorFileId: string;
  key: string;
  fileName: string;
  bytes: Uint8Array;
}

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

export interface PersistentLocalFlowStoreOptions {
  /** The database every signer instance shares. Flow records hold no names, ID numbers or mobiles. */
  persistence: Persistence;
  /** Where the uploaded and signed PDFs are kept (they do hold personal data: consider encryption at rest). */
  documents: DocumentStore;
  /** Source of the records' created/updated times. Default: the system clock. */
  clock?: Clock;
}

const uploads = defineRepository({
  kind: 'local-signer.upload',
  label: 'local signer upload',
  schema: z.object({
    vendorFileId: z.string(),
    key: z.string(),
    fileName: z.string(),
    fileId: z.string(),
    sha256: z.string(),
  }),
  id: (upload) => upload.vendorFileId,
});

/** Loose objects: fields a newer release adds to a flow record survive an older reader's write. */
const storedFlowSchema = z.looseObject({
  flowId: z.string(),
  fingerprint: z.string(),
  status: z.enum(['draft', 'signing', 'completed', 'rejected', 'expired', 'revoked', 'failed']),
  reason: z.string().optional(),
  deadlineAt: z.number().optional(),
  documents: z.array(
    z.looseObject({
      key: z.string(),
      vendorFileId: z.string(),
      fileName: z.string(),
      signatures: z.number().int().nonnegative(),
      /** The signed bytes so far, in the document store. */
      fileId: z.string(),
      sha256: z.string(),
      /** False while the bytes are still the upload's own document, which this flow must not delete. */
      owned: z.boolean(),
    }),
  ),
  signers: z.array(
    z.looseObject({
      role: z.string(),
      kind: z.enum(['person', 'organization']),
      order: z.number(),
      status: z.enum(['waiting', 'signing', 'signed', 'rejected', 'failed']),
      signedAt: z.number().optional(),
    }),
  ),
  appended: z.record(z.string(), z.string()),
});
type StoredFlow = z.output<typeof storedFlowSchema>;

const flows = defineRepository({
  kind: 'local-signer.flow',
  label: 'local signer flow',
  schema: storedFlowSchema,
  id: (flow) => flow.flowId,
});

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
          return await revive(stored.record, stored.version);
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

  async function revive(stored: StoredFlow, revision: number): Promise<LocalFlowRecord> {
    const revived = await Promise.all(
      stored.documents.map(async ({ fileId, sha256, owned: _owned, ...facts }) => ({
        ...facts,
        bytes: await bytesOf(fileId, sha256),
      })),
    );
    return { ...(stored as Omit<LocalFlowRecord, 'documents' | 'revision'>), revision, documents: revived };
  }
}
