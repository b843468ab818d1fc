import type { Options } from 'tsup';

/** Every package builds the same way: ESM + CJS + .d.ts for Node 20; only the entries differ. */
export function packageBuild(entry: Options['entry'] = ['src/index.ts']): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    // CJS output needs import.meta.url (the bundled font is resolved from it).
    shims: true,
  };
}
