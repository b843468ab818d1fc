/**
 * Each backend's entry point loads its own driver and no other: a PostgreSQL host must not pay for PGlite's
 * WebAssembly or the AWS SDK. Checked in a fresh Node process that records every module the import resolves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const recorder = fileURLToPath(new URL('./support/record-imports.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sealflow-entries-'));

const DRIVERS = {
  pglite: /\/@electric-sql\/pglite\//,
  pg: /\/node_modules\/pg\//,
  s3: /\/@aws-sdk\//,
};

/** The drivers whose modules importing `entry` (a file under src/) resolved, in a fresh process. */
function driversLoadedBy(entry: string): string[] {
  const out = join(work, `${entry}.txt`);
  writeFileSync(out, '');
  const source = fileURLToPath(new URL(`../src/${entry}.ts`, import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@sealflow/source', recorder, source, out], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(run.status, run.stderr).toBe(0);
  const urls = readFileSync(out, 'utf8').split('\n');
  // The recorder saw the entry itself: an empty list would otherwise pass every "not loaded" check.
  expect(urls.some((u) => u.endsWith(`/src/${entry}.ts`))).toBe(true);
  return Object.entries(DRIVERS)
    .filter(([, pattern]) => urls.some((u) => pattern.test(u)))
    .map(([driver]) => driver);
}

describe('entry points load only their own driver', () => {
  it('/postgres loads pg, not PGlite or the AWS SDK', () => {
    expect(driversLoadedBy('postgres')).toEqual(['pg']);
  });

  it('/pglite loads PGlite only', () => {
    expect(driversLoadedBy('pglite')).toEqual(['pglite']);
  });

  it('the root entry and /fs load no driver', () => {
    expect(driversLoadedBy('index')).toEqual([]);
    expect(driversLoadedBy('fs')).toEqual([]);
  });
});
