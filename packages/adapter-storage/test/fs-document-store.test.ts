import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AdapterError,
  DocumentIntegrityError,
  encryptedDocumentStore,
  NotFoundError,
  ValidationError,
} from '@sealflow/core';
import { createManualClock } from '@sealflow/core/memory';
import { runDocumentStoreContract } from '@sealflow/core/testing';
import { fsDocumentStore } from '../src/fs.js';

/** Lets a test make one `rename` fail, as a full disk or a yanked network mount would. */
const faults = vi.hoisted(() => ({ failRename: null as ((target: string) => boolean) | null }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      if (faults.failRename?.(String(to)))
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return actual.rename(from, to);
    },
  };
});

const sandboxes: string[] = [];
async function sandbox(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sealflow-fs-docs-'));
  sandboxes.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(sandboxes.map((dir) => rm(dir, { recursive: true, force: true })));
});
beforeEach(() => {
  faults.failRename = null;
});

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

const binPath = (root: string, fileId: string) => join(root, fileId.slice(4, 6), `${fileId}.bin`);
const jsonPath = (root: string, fileId: string) => join(root, fileId.slice(4, 6), `${fileId}.json`);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const pdf = (text: string) => new TextEncoder().encode(`%PDF-1.7\n${text}`);

runDocumentStoreContract({
  name: 'fs',
  create: async () => {
    const root = join(await sandbox(), 'documents');
    return Object.assign(fsDocumentStore({ root }), {
      async corrupt(fileId: string) {
        const path = binPath(root, fileId);
        const bytes = await readFile(path);
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x80;
        await writeFile(path, bytes);
      },
    });
  },
});

describe('fs document store', () => {
  it('writes only inside root, in the documented layout, whatever the suggested key', async () => {
    const outer = await sandbox();
    const root = join(outer, 'nested', 'documents');
    const store = fsDocumentStore({ root });
    const ids: string[] = [];
    for (const key of ['../../escape.pdf', '/tmp/absolute.pdf', '../../../../../../etc/passwd', 'a/b/c.pdf']) {
      ids.push((await store.put({ bytes: pdf(key), contentType: 'application/pdf', key })).fileId);
    }
    expect(await readdir(outer)).toEqual(['nested']);
    expect(await readdir(join(outer, 'nested'))).toEqual(['documents']);
    const expected = ids.flatMap((id) => [relative(root, binPath(root, id)), relative(root, jsonPath(root, id))]);
    expect((await filesUnder(root)).sort()).toEqual(expected.sort());
  });

  it('creates owner-only files, since contracts carry personal data', async () => {
    const root = join(await sandbox(), 'documents');
    const { fileId } = await fsDocumentStore({ root }).put({ bytes: pdf('x'), contentType: 'application/pdf' });
    expect((await stat(binPath(root, fileId))).mode & 0o777).toBe(0o600);
    expect((await stat(jsonPath(root, fileId))).mode & 0o777).toBe(0o600);
    expect((await stat(root)).mode & 0o077).toBe(0);
  });

  it('records storedAt from the injected clock, and the descriptor survives a new store instance', async () => {
    const root = join(await sandbox(), 'documents');
    const clock = createManualClock(Date.UTC(2026, 5, 1, 8));
    const stored = await fsDocumentStore({ root, clock }).put({
      bytes: pdf('合同'),
      contentType: 'application/pdf',
      metadata: { 'loan-no': 'LN123', borrower: '借款人甲' },
    });
    expect(stored.storedAt).toBe(Date.UTC(2026, 5, 1, 8));
    const reopened = fsDocumentStore({ root });
    expect(await reopened.head(stored.fileId)).toEqual(stored);
    expect(sha256((await reopened.get(stored.fileId)).bytes)).toBe(sha256(pdf('合同')));
  });

  it('never builds a path from a malformed fileId', async () => {
    const outer = await sandbox();
    const root = join(outer, 'documents');
    await writeFile(join(outer, 'secret.json'), JSON.stringify({ format: 1 }));
    const store = fsDocumentStore({ root });
    for (const fileId of ['../secret', 'doc_00/../../secret', `doc_${'0'.repeat(31)}`, `DOC_${'0'.repeat(32)}`]) {
      await expect(store.head(fileId)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.delete(fileId)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(await readdir(outer)).toEqual(['secret.json']);
  });

  it('leaves no temporary or data file behind when writing the bytes fails', async () => {
    const root = join(await sandbox(), 'documents');
    const store = fsDocumentStore({ root });
    faults.failRename = (target) => target.endsWith('.bin');
    const error = await store.put({ bytes: pdf('x'), contentType: 'application/pdf' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdapterError);
    expect((error as AdapterError).retryable).toBe(true);
    expect((error as AdapterError).message).toContain('ENOSPC');
    expect(await filesUnder(root)).toEqual([]);
  });

  it('removes the committed bytes too when writing the descriptor fails, so nothing is orphaned', async () => {
    const root = join(await sandbox(), 'documents');
    const store = fsDocumentStore({ root });
    const kept = await store.put({ bytes: pdf('kept'), contentType: 'application/pdf' });
    faults.failRename = (target) => target.endsWith('.json');
    await expect(store.put({ bytes: pdf('lost'), contentType: 'application/pdf' })).rejects.toBeInstanceOf(
      AdapterError,
    );
    faults.failRename = null;
    expect((await filesUnder(root)).sort()).toEqual(
      [relative(root, binPath(root, kept.fileId)), relative(root, jsonPath(root, kept.fileId))].sort(),
    );
    expect(await store.head(kept.fileId)).toEqual(kept);
  });

  it('treats the leftovers of an interrupted put as absent, and delete clears them', async () => {
    const root = join(await sandbox(), 'documents');
    const store = fsDocumentStore({ root });
    // A crash between the two renames leaves the bytes without a descriptor, plus perhaps a temp file.
    const fileId = `doc_ab${'0'.repeat(30)}`;
    await mkdir(join(root, 'ab'), { recursive: true });
    await writeFile(binPath(root, fileId), pdf('orphan'));
    await writeFile(join(root, 'ab', `.${fileId}.json.123456.tmp`), '{"format":1');
    expect(await store.head(fileId)).toBeNull();
    await expect(store.get(fileId)).rejects.toBeInstanceOf(NotFoundError);
    await store.delete(fileId);
    expect(await filesUnder(root)).toEqual([`ab/.${fileId}.json.123456.tmp`]);
  });

  it('refuses a document whose descriptor is damaged or whose bytes are gone', async () => {
    const root = join(await sandbox(), 'documents');
    const store = fsDocumentStore({ root });
    const damaged = await store.put({ bytes: pdf('a'), contentType: 'application/pdf' });
    await writeFile(jsonPath(root, damaged.fileId), '{"format":1,"fileId":');
    await expect(store.head(damaged.fileId)).rejects.toBeInstanceOf(DocumentIntegrityError);
    await expect(store.get(damaged.fileId)).rejects.toBeInstanceOf(DocumentIntegrityError);

    const swapped = await store.put({ bytes: pdf('b'), contentType: 'application/pdf' });
    const other = await store.put({ bytes: pdf('c'), contentType: 'application/pdf' });
    await writeFile(jsonPath(root, swapped.fileId), await readFile(jsonPath(root, other.fileId)));
    await expect(store.get(swapped.fileId)).rejects.toBeInstanceOf(DocumentIntegrityError);

    const gone = await store.put({ bytes: pdf('d'), contentType: 'application/pdf' });
    await rm(binPath(root, gone.fileId));
    const error = await store.get(gone.fileId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DocumentIntegrityError);
    expect((error as DocumentIntegrityError).code).toBe('DOCUMENT_INTEGRITY');
  });

  it('keeps every acknowledged document intact when the writing process is killed mid-put', async () => {
    const root = join(await sandbox(), 'documents');
    const source = fileURLToPath(new URL('../src/documents/fs-document-store.ts', import.meta.url));
    const documentBytes = (i: number) =>
      Uint8Array.from({ length: 20_000 + ((i * 7919) % 50_000) }, (_, j) => (j * 31 + i) & 0xff);
    const writer = `
      const { fsDocumentStore } = await import(${JSON.stringify(source)});
      const store = fsDocumentStore({ root: ${JSON.stringify(root)} });
      const documentBytes = ${documentBytes.toString()};
      for (let i = 0; ; i++) {
        const { fileId } = await store.put({ bytes: documentBytes(i), contentType: 'application/pdf', metadata: { i: String(i) } });
        process.stdout.write(fileId + ' ' + i + '\\n');
      }`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@sealflow/source', '--input-type=module', '-e', writer],
      { cwd: fileURLToPath(new URL('../../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acknowledged = new Map<string, number>();
    let stderr = '';
    let buffered = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const [fileId, i] = line.split(' ');
          acknowledged.set(fileId ?? '', Number(i));
        }
        // Kill at an arbitrary point inside a later put, not right after an acknowledgement.
        if (acknowledged.size >= 30) setTimeout(resolve, Math.random() * 5);
      });
      exited.then(() => reject(new Error(`the writer exited early: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const store = fsDocumentStore({ root });
    for (const [fileId, i] of acknowledged) {
      const { bytes, document } = await store.get(fileId);
      expect(sha256(bytes)).toBe(sha256(documentBytes(i)));
      expect(document.metadata).toEqual({ i: String(i) });
    }
    // Whatever the kill interrupted is either complete or invisible: every descriptor on disk verifies.
    const descriptors = (await filesUnder(root)).filter((f) => f.endsWith('.json') && !f.includes('/.'));
    expect(descriptors.length).toBeGreaterThanOrEqual(acknowledged.size);
    for (const file of descriptors) {
      const fileId = file.slice(3, -'.json'.length);
      await expect(store.get(fileId)).resolves.toMatchObject({ document: { fileId } });
    }
  });
});

const encryptionKeys = { current: 'k1', keys: { k1: randomBytes(32) } };

runDocumentStoreContract({
  name: 'encrypted fs',
  create: async () => {
    const root = join(await sandbox(), 'documents');
    return Object.assign(encryptedDocumentStore(fsDocumentStore({ root }), { keys: encryptionKeys }), {
      // Someone with write access to the disk changes the bytes and records their new hash: only the envelope's
      // authentication can notice.
      async corrupt(fileId: string) {
        const bytes = await readFile(binPath(root, fileId));
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x80;
        await writeFile(binPath(root, fileId), bytes);
        const descriptor = JSON.parse(await readFile(jsonPath(root, fileId), 'utf8'));
        await writeFile(jsonPath(root, fileId), JSON.stringify({ ...descriptor, sha256: sha256(bytes) }));
      },
    });
  },
});

describe('fs document store with encryption at rest', () => {
  it('writes no name, ID number or PDF text to disk', async () => {
    const root = await sandbox();
    const store = encryptedDocumentStore(fsDocumentStore({ root }), { keys: encryptionKeys });
    const name = '欧阳娜娜';
    const idNumber = '310101199003070023';
    const bytes = new Uint8Array([
      ...pdf(`(${name} ${idNumber})`),
      ...Buffer.from(`\ufeff${name}`, 'utf16le').swap16(),
    ]);
    const { fileId } = await store.put({ bytes, contentType: 'application/pdf', metadata: { 'loan-no': 'LN1' } });
    const onDisk = await readFile(binPath(root, fileId));
    for (const secret of [Buffer.from(name), Buffer.from(idNumber), Buffer.from(name, 'utf16le').swap16()]) {
      expect(onDisk.includes(secret)).toBe(false);
    }
    expect(onDisk.includes(Buffer.from('%PDF'))).toBe(false);
    expect(Buffer.from((await store.get(fileId)).bytes).equals(Buffer.from(bytes))).toBe(true);
  });
});
