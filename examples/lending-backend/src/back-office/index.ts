/**
 * The back office (运营后台): a Fastify plugin serving one static page (plain HTML and JavaScript, no build step) and
 * its JSON API for operations staff — templates and their approval, signing records with preview, download and
 * 补签, the dispatch board, settlement, complaints, evidence checks, ranking explanations and the statistics report.
 *
 * ```ts
 * const app = Fastify();
 * await app.register(backOffice(sealflow, { operators }), { prefix: '/admin' });
 * // the page: /admin/   the API: /admin/api/…
 * ```
 *
 * Sign-in is a stand-in (a fixed operator list, tokens in memory): replace it with the lender's single sign-on.
 */
import { readFileSync } from 'node:fs';
import { type RankingWeights, type Sealflow, ValidationError } from '@sealflow/core';
import { readFont } from '@sealflow/font-noto-sans-sc';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { registerApi } from './api.js';
import { BACK_OFFICE_ROLES, createSessions, type Operator, SESSION_COOKIE, sessionToken } from './auth.js';
import { parseInput, sendProblem } from './problem.js';

export { BACK_OFFICE_ROLES, type Operator } from './auth.js';
export { BackOfficeError, type Problem } from './problem.js';

/** Options of {@link backOffice}. */
export interface BackOfficeOptions {
  /** Who may sign in, with their passwords and roles (see {@link Operator}). Replace with single sign-on. */
  operators: readonly Operator[];
  /** How long a sign-in lasts; default 8 hours. */
  sessionTtlMs?: number;
  /** Printed names of loan products by code, for the board and the report: `{ HOUSE: '房抵贷' }`. */
  productNames?: Readonly<Record<string, string>>;
  /** A staff member's name for the report, by id; default the operator's name, else the id. */
  staffName?: (staffId: string) => string;
  /** The ranking weights given to `createSealflow({ dispatch: { weights } })`, so explanations match the dispatch. */
  rankingWeights?: Partial<RankingWeights>;
  /** The largest template PDF accepted; default 20 MB. */
  maxUploadBytes?: number;
  /** Mark the session cookie `Secure` (default true; false only for plain-HTTP local development and tests). */
  secureCookie?: boolean;
}

const OperatorShape = z.object({
  id: z.string().trim().min(1).max(128),
  name: z.string().trim().min(1).max(50),
  roles: z.array(z.string().min(1)).max(50),
  password: z.string().min(8, 'must be at least 8 characters'),
});
const OptionsShape = z.object({
  operators: z.array(OperatorShape).min(1, 'name at least one operator who may sign in'),
  sessionTtlMs: z.number().int().positive().optional(),
  productNames: z.record(z.string(), z.string()).optional(),
  staffName: z.function().optional(),
  rankingWeights: z.record(z.string(), z.number()).optional(),
  maxUploadBytes: z.number().int().positive().optional(),
  secureCookie: z.boolean().optional(),
});

const webFile = (name: string) => readFileSync(new URL(`../../web/${name}`, import.meta.url));
const LoginBody = z.object({ operatorId: z.string().trim().min(1).max(128), password: z.string().min(1).max(256) });

/**
 * The back office as a Fastify plugin over a sealflow instance. Register it under a prefix (`/admin`); the page is
 * served at the prefix and calls the API relative to it.
 */
export function backOffice(sealflow: Sealflow, options: BackOfficeOptions): FastifyPluginAsync {
  const checked = parseInput(OptionsShape, options, 'backOffice options');
  const ids = new Set<string>();
  for (const operator of checked.operators) {
    if (ids.has(operator.id)) {
      throw new ValidationError(`backOffice options: operator ${operator.id} is listed twice; give each one entry.`, {
        details: { field: 'operators' },
      });
    }
    ids.add(operator.id);
  }
  const sessions = createSessions(options.operators, options.sessionTtlMs ?? 8 * 3_600_000);
  const names = new Map(options.operators.map((o) => [o.id, o.name]));
  const page = { html: webFile('index.html'), js: webFile('app.js'), css: webFile('style.css') };
  const secure = options.secureCookie ?? true;

  return async (app) => {
    app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
    app.setNotFoundHandler((request, reply) =>
      reply
        .status(404)
        .type('application/problem+json; charset=utf-8')
        .send({
          type: 'urn:sealflow:problem:NOT_FOUND',
          title: '未找到',
          status: 404,
          detail: `There is no back-office address ${request.url.split('?')[0]}.`,
          code: 'NOT_FOUND',
        }),
    );
    app.addContentTypeParser('application/pdf', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    const operatorOf = (request: FastifyRequest) => sessions.require(request);

    // The page: relative API calls need the trailing slash.
    app.get('/', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (!path.endsWith('/')) return reply.redirect(`${path}/`);
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header(
          'content-security-policy',
          "default-src 'self'; frame-src 'self'; img-src 'self' data:; font-src 'self'; style-src 'self'; script-src 'self'",
        )
        .send(page.html);
    });
    app.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(page.js));
    app.get('/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(page.css));
    // The page prefers the desktop's own Chinese fonts; this one is fetched only where none is installed.
    let font: Buffer | undefined;
    app.get('/fonts/NotoSansSC-Regular.ttf', async (_request, reply) => {
      font ??= Buffer.from(readFont());
      return reply.type('font/ttf').header('cache-control', 'public, max-age=604800, immutable').send(font);
    });

    app.post('/api/login', async (request, reply) => {
      const { operatorId, password } = parseInput(LoginBody, request.body, 'body');
      const { token, session } = sessions.login(operatorId, password);
      const maxAge = Math.floor((session.expiresAt - Date.now()) / 1000);
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`,
      );
      const { id, name, roles } = session.operator;
      return { token, operator: { id, name, roles } };
    });

    app.post('/api/logout', async (request, reply) => {
      const token = sessionToken(request);
      if (token) sessions.logout(token);
      reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      return { ok: true };
    });

    app.get('/api/me', async (request) => {
      const { id, name, roles } = operatorOf(request);
      return { id, name, roles, canSign: roles.includes(BACK_OFFICE_ROLES.signingOperator) };
    });

    registerApi(
      app,
      sealflow,
      {
        productNames: options.productNames ?? {},
        staffName: options.staffName ?? ((staffId) => names.get(staffId) ?? staffId),
        rankingWeights: options.rankingWeights,
        maxUploadBytes: options.maxUploadBytes ?? 20 * 1024 * 1024,
      },
      operatorOf,
    );
  };
}
