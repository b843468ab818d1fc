/** The emulator's dependencies (msw, the local signer) stay out of the package's main entry. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const src = new URL('../src/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

it('no file outside src/testing imports msw, @sealflow/adapter-local or the testing folder', () => {
  const outside = sources(src).filter((file) => !relative(src, file).startsWith('testing'));
  expect(outside.length).toBeGreaterThan(0);
  const offenders = outside.filter((file) =>
    /from\s+['"](msw(\/[^'"]*)?|@sealflow\/adapter-local(\/[^'"]*)?|\.{1,2}\/(\.\.\/)*testing\/[^'"]*)['"]/.test(
      readFileSync(file, 'utf8'),
    ),
  );
  expect(offenders).toEqual([]);
});
