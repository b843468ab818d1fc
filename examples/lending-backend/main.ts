/**
 * Start the lending backend: `pnpm --filter @sealflow/example-lending-backend start` (see README.md for the
 * environment). Stops cleanly on SIGINT / SIGTERM: in-flight requests finish, the worker ends its pass, the
 * database closes.
 */
import { mkdirSync } from 'node:fs';
import { buildApp } from './src/app.js';
import { loadOptionsFromEnv } from './src/options.js';

const options = loadOptionsFromEnv();
if (!options.databaseUrl && options.pgliteDataDir) mkdirSync(options.pgliteDataDir, { recursive: true });
mkdirSync(options.documentsRoot, { recursive: true });

const app = await buildApp(options);
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3000) });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
