import { defineConfig, mergeConfig } from 'vitest/config';
import root from '../vitest.config.js';

// The reliability run reuses the test setup (source conditions, the pdf toolkit alias) and adds the checks that only
// it runs: flows too slow or too broad for `pnpm test`.
export default mergeConfig(
  root,
  defineConfig({
    test: {
      include: ['packages/*/test/**/*.test.ts', 'reliability/checks/**/*.check.ts'],
      testTimeout: 1_800_000,
      hookTimeout: 600_000,
    },
  }),
);
