/**
 * The lending backend: a Fastify service embedding sealflow. `buildApp(options)` returns the Fastify instance, ready
 * to `listen` (main.ts) or to `inject` (tests); closing it stops sealflow's worker and closes the database.
 */
import { maskPersonalData, maskText, type Sealflow } from '@sealflow/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { backOffice } from './back-office/index.js';
import { registerFunders, seedDemo } from './demo-seed.js';
import type { BackendOptions } from './options.js';
import { registerProblemHandlers } from './problem.js';
import { callbackRoutes } from './routes/callbacks.js';
import { funderRoutes } from './routes/funder.js';
import { lendingRoutes } from './routes/lending.js';
import { openSealflow } from './sealflow-setup.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The embedded sealflow: for the back office, operations scripts and tests. */
    sealflow: Sealflow;
  }
}

/**
 * Fastify's logger with personal data masked: the fields of every line through `maskPersonalData` (names, ID numbers
 * and mobiles by field name, and ID numbers and mobiles anywhere in text), messages and errors through `maskText`.
 * Request bodies are never logged, and the API's URLs carry no personal data (it travels in bodies).
 */
function loggerOptions(logger: BackendOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === false) return false;
  return {
    level: logger?.level ?? 'info',
    ...(logger?.stream ? { stream: logger.stream } : {}),
    serializers: {
      err: (error: Error & { code?: unknown }) => ({
        type: error.name,
        code: error.code,
        message: maskText(error.message),
        stack: maskText(error.stack ?? ''),
      }),
    },
    formatters: {
      // req, res and err are turned into plain fields by their serializers after this runs.
      log: (object: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(object).map(([key, value]) => [
            key,
            key === 'req' || key === 'res' || key === 'err' ? value : maskPersonalData(value),
          ]),
        ),
    },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? maskText(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
  };
}

export async function buildApp(options: BackendOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: loggerOptions(options.logger), bodyLimit: 256 * 1024 });
  registerProblemHandlers(app);
  const { sealflow, cfca } = await openSealflow(options, app.log);
  app.decorate('sealflow', sealflow);
  app.addHook('onClose', async () => {
    await sealflow.close();
  });
  try {
    await registerFunders(sealflow, options.funders);
    if (options.seedDemo) await seedDemo(sealflow, options.funders);
  } catch (error) {
    await sealflow.close();
    throw error;
  }

  app.get('/health', async () => ({ ok: true }));
  await app.register(lendingRoutes(sealflow, options, cfca), { prefix: '/lending' });
  await app.register(funderRoutes(sealflow, options), { prefix: '/funder' });
  await app.register(callbackRoutes(sealflow), { prefix: '/callbacks' });

  // The back office (templates, approvals, signing records, the dispatch board, settlement, complaints, evidence,
  // reports): its page at /admin/, its API under /admin/api/.
  if (options.backOffice) await app.register(backOffice(sealflow, options.backOffice), { prefix: '/admin' });

  return app;
}
