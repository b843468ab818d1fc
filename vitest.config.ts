import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run against package sources through the `@sealflow/source` export condition, so no build is needed first.
const conditions = ['@sealflow/source', ...defaultServerConditions];
// Not "module" on the server: the AWS SDK maps it to bundler-only ESM (extensionless imports) that Node cannot load.
const serverConditions = conditions.filter((c) => c !== 'module');

// The private PDF toolkit by path as well, so a checkout whose node_modules predate the package still resolves it.
const pdfToolkit = fileURLToPath(new URL('./packages/pdf-toolkit/src/index.ts', import.meta.url));

export default defineConfig({
  resolve: { conditions, alias: { '@sealflow/pdf-toolkit': pdfToolkit } },
  ssr: { resolve: { conditions: serverConditions, externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
