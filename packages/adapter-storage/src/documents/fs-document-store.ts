import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  AdapterError,
  checkDocumentFileId,
  checkDocumentInput,
  DocumentIntegrityError,
  type DocumentStore,
  type DocumentStoreOptions,
  newStoredDocument,
  NotFoundError,
  type StoredDocument,
  systemClock,
  verifyDocumentBytes,
} from '@sealflow/core';

/** The directory an `fsDocumentStore` keeps documents in, plus the options every document store takes. */
export interface FsDocumentStoreOptions extends DocumentStoreOptions {
  /** The directory that holds the documents; created (mode 0700) on the first put. Nothing is written outside it. */
  root: string;
}

/**
 * Documents as files on a local or network disk.
 *
 * Layout: `<root>/<xx>/<fileId>.bin` holds the bytes and `<root>/<xx>/<fileId>.json` the descriptor (the
 * `StoredDocument`, including the SHA-256), where `xx` is the two hex characters after `doc_`, so no directory grows
 * past a few thousand entries per million documents. Paths are built only from fileIds this store generated or that
 * passed `checkDocumentFileId`; the caller's suggested key lives inside the descriptor and never touches a path.
 *
 * Crash safety: each file is written to a temporary `.…tmp` file in the same directory, fsynced, renamed into place
 * and the directory fsynced, so a file is either absent or complete. The descriptor is written last and is the commit
 * point: a crash before it leaves at most an orphan `.bin` or `.tmp`, which `head` and `get` treat as absent. `delete`
 * removes the descriptor first for the same reason. Files are created owner-only (0600), because contracts carry
 * personal data.
 */
export function fsDocumentStore(options: FsDocumentStoreOptions): DocumentStore {
  const root = resolve(options.root);
  const clock = options.clock ?? systemClock;
  const name = 'fs';
  const shardOf = (fileId: string) => join(root, fileId.slice(4, 6));
  const dataPath = (fileId: string) => join(shardOf(fileId), `${fileId}.bin`);
  const descriptorPath = (fileId: string) => join(shardOf(fileId), `${fileId}.json`);
  const failure = (action: string, error: unknown) =>
    new AdapterError(
      `fs document store: could not ${action} under ${root}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Check that the directory is writable by this process and that the disk has free space.',
      { cause: error },
    );

  async function readDescriptor(fileId: string): Promise<StoredDocument | null> {
    let text: string;
    try {
      text = await readFile(descriptorPath(fileId), 'utf8');
    } catch (error) {
      if (isMissing(error)) return null;
      throw failure(`read document ${fileId}`, error);
    }
    const document = parseDescriptor(text);
    if (!document || document.fileId !== fileId) {
      throw new DocumentIntegrityError(
        `the descriptor of document ${fileId} in the fs document store (${descriptorPath(fileId)}) is damaged, so the ` +
          'document cannot be verified. Restore the file from a backup or re-archive the document.',
        { details: { fileId, store: name } },
      );
    }
    return document;
  }

  return {
    name,
    async put(input) {
      const checked = checkDocumentInput(input);
      const { bytes } = checked;
      const document = newStoredDocument(checked, clock.now());
      const dir = shardOf(document.fileId);
      let dataWritten = false;
      try {
        await ensureDirectory(dir);
        await writeAtomically(dir, `${document.fileId}.bin`, bytes);
        dataWritten = true;
        await writeAtomically(dir, `${document.fileId}.json`, JSON.stringify({ format: 1, ...document }));
      } catch (error) {
        // Without its descriptor the data file is unreachable; remove it rather than leave an orphan.
        if (dataWritten) await unlink(dataPath(document.fileId)).catch(() => {});
        throw failure('store a document', error);
      }
      return document;
    },

    async get(fileId) {
      checkDocumentFileId(name, fileId);
      const document = await readDescriptor(fileId);
      if (!document) throw notFound(fileId);
      let bytes: Uint8Array;
      try {
        const buffer = await readFile(dataPath(fileId));
        bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        if (!isMissing(error)) throw failure(`read document ${fileId}`, error);
        throw new DocumentIntegrityError(
          `document ${fileId} in the fs document store has a descriptor but its bytes (${dataPath(fileId)}) are ` +
            'missing: they were removed outside sealflow. Restore the file from a backup or re-archive the document.',
          { details: { fileId, store: name } },
        );
      }
      verifyDocumentBytes(name, document, bytes);
      return { bytes, document };
    },

    async head(fileId) {
      checkDocumentFileId(name, fileId);
      return readDescriptor(fileId);
    },

    async delete(fileId) {
      checkDocumentFileId(name, fileId);
      try {
        await unlinkIfPresent(descriptorPath(fileId));
        await unlinkIfPresent(dataPath(fileId));
        await syncDirectory(shardOf(fileId));
      } catch (error) {
        if (isMissing(error)) return;
        throw failure(`delete document ${fileId}`, error);
      }
    },
  };

  function notFound(fileId: string) {
    return new NotFoundError(
      `document ${fileId} is not in the fs document store at ${root}; it was never stored there or was deleted.`,
      { details: { fileId, store: name } },
    );
  }
}

/** Create the shard directory (and root) if needed, making each new directory entry durable in its parent. */
async function ensureDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created === undefined) return;
  for (let path = dir; ; path = dirname(path)) {
    await syncDirectory(dirname(path));
    if (path === created) return;
  }
}

/** Temp file in the same directory (so rename is atomic), fsync, rename, fsync the directory. */
async function writeAtomically(dir: string, fileName: string, content: Uint8Array | string): Promise<void> {
  const target = join(dir, fileName);
  const temp = join(dir, `.${fileName}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

function parseDescriptor(text: string): StoredDocument | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const metadata = v.metadata;
  const valid =
    v.format === 1 &&
    typeof v.fileId === 'string' &&
    typeof v.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(v.sha256) &&
    Number.isSafeInteger(v.size) &&
    typeof v.contentType === 'string' &&
    (v.key === null || typeof v.key === 'string') &&
    Number.isSafeInteger(v.storedAt) &&
    typeof metadata === 'object' &&
    metadata !== null &&
    Object.values(metadata).every((m) => typeof m === 'string');
  if (!valid) return null;
  return {
    fileId: v.fileId as string,
    sha256: v.sha256 as string,
    size: v.size as number,
    contentType: v.contentType as string,
    key: v.key as string | null,
    storedAt: v.storedAt as number,
    metadata: { ...(metadata as Record<string, string>) },
  };
}
