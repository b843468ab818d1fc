/**
 * Packaging checks of every published (non-private) workspace package, on the built `dist`:
 * - publint --strict: the manifest (exports, types conditions, files, sideEffects) matches what is in the tarball;
 * - attw --pack --profile node16: every entry point's types resolve, for ESM and CommonJS consumers alike.
 *
 *   pnpm build && pnpm check:packages
 *
 * `@sealflow/core/testing` is ESM-only on purpose (its suites import vitest, which has no CommonJS build), so attw is
 * told not to expect a CommonJS resolution for it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);

/** Entry points a package ships for ESM only, by package name. */
const ESM_ONLY: Record<string, string[]> = { '@sealflow/core': ['./testing'] };

let failed = false;
for (const dir of readdirSync(path.join(ROOT, 'packages')).sort()) {
  const packageDir = path.join(ROOT, 'packages', dir);
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  const esmOnly = ESM_ONLY[manifest.name] ?? [];
  // Subpaths that export a data file (the font's .ttf) are not modules: nothing for attw to resolve types for.
  const dataFiles = Object.entries(manifest.exports ?? {})
    .filter(([, target]) => typeof target === 'string' && !/\.(c|m)?js$|\.json$/.test(target))
    .map(([subpath]) => subpath);
  const excluded = [...esmOnly, ...dataFiles];
  const runs: [string, string[]][] = [
    ['publint', ['--strict', '--pack', 'npm', packageDir]],
    ['attw', ['--pack', packageDir, '--profile', 'node16', ...excluded.flatMap((e) => ['--exclude-entrypoints', e])]],
  ];
  if (esmOnly.length > 0) {
    // The ESM-only entries are still checked, for ESM consumers only.
    runs.push(['attw', ['--pack', packageDir, '--profile', 'esm-only', '--entrypoints', ...esmOnly]]);
  }
  for (const [tool, args] of runs) {
    try {
      const out = execFileSync(bin(tool), args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      console.log(`${manifest.name}: ${tool} ${args.filter((a) => a !== packageDir).join(' ')}\n${out.trim()}\n`);
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      console.error(`${manifest.name}: ${tool} failed\n${stdout ?? ''}${stderr ?? ''}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
