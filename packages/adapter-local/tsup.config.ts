import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// The workspace's private PDF toolkit is bundled in, so the published package does not depend on it.
export default defineConfig({
  ...packageBuild({
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'seal-worker': 'src/seal-worker.ts',
    // The sealflow-verify-evidence command (package.json "bin").
    'verify-evidence-cli': 'src/verify-evidence-cli.ts',
  }),
  noExternal: ['@sealflow/pdf-toolkit'],
});
