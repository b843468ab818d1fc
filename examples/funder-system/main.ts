/**
 * Start the funder system: `pnpm --filter @sealflow/example-funder-system start` (see README.md). Its defaults match
 * the lending backend's demo funder, so both run together with no configuration.
 */
import { createFunderSystem } from './src/funder-system.js';

const funder = createFunderSystem({
  funderId: process.env.FUNDER_ID ?? 'bank-hz-001',
  backendUrl: process.env.BACKEND_URL ?? 'http://127.0.0.1:3000',
  apiKey: process.env.FUNDER_API_KEY ?? 'demo-funder-key-bank-hz-001-not-a-secret',
  webhookSecret: process.env.FUNDER_WEBHOOK_SECRET ?? 'demo-webhook-secret-bank-hz-001',
  maxAmountFen: Number(process.env.MAX_AMOUNT_FEN ?? 50_000_000), // 50 万元
  logger: true,
});

await funder.app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3100) });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    funder.app.close().then(() => process.exit(0));
  });
}
