import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// One entry per backend: a host importing `/postgres` loads pg and nothing of PGlite or the AWS SDK.
export default defineConfig(
  packageBuild({
    index: 'src/index.ts',
    pglite: 'src/pglite.ts',
    postgres: 'src/postgres.ts',
    s3: 'src/s3.ts',
    fs: 'src/fs.ts',
  }),
);
