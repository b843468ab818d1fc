import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// Two builds. ESM: every entry in one pass, so the entries share chunks and there is one copy of each error class
// (an `instanceof ConflictError` holds whichever entry threw it). CJS: the root and ./memory only — ./testing needs
// vitest, which is ESM-only — with code splitting on for the same single-copy reason.
// The workspace's private PDF toolkit is bundled in, so the published package does not depend on it.
const noExternal = ['@sealflow/pdf-toolkit'];
const esm = packageBuild({
  index: 'src/index.ts',
  'memory/index': 'src/memory/index.ts',
  'testing/index': 'src/testing/index.ts',
});
const cjs = packageBuild({ index: 'src/index.ts', 'memory/index': 'src/memory/index.ts' });

// The two builds run concurrently, so neither cleans `dist` (the build script does, before both).
export default defineConfig([
  { ...esm, format: ['esm'], noExternal, clean: false },
  { ...cjs, format: ['cjs'], noExternal, splitting: true, clean: false },
]);
