import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// The emulator is its own entry so that the main entry never pulls in msw or the local signer.
export default defineConfig(packageBuild({ index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' }));
