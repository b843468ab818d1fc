/**
 * Errors as RFC 9457 problem details (`application/problem+json`). sealflow's typed errors carry a stable `code`;
 * the HTTP status is chosen from it here, so clients branch on `code` and proxies on the status.
 */
import { maskText, SealflowError, SigningRefusedError } from '@sealflow/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One field a request got wrong: where (a JSON path) and what a valid value looks like. Never the value itself. */
export interface ProblemField {
  path: string;
  message: string;
}

/** The body of every error answer. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  retryable: boolean;
  errors?: ProblemField[];
  recordId?: string;
}

/** An error of this service's own edge (authentication, request shape), in sealflow's error family. */
export class ApiError extends SealflowError {}

/** The request failed validation at the edge: a `400` naming each field. */
export class RequestValidationError extends ApiError {
  readonly fields: ProblemField[];
  constructor(where: string, issues: readonly z.core.$ZodIssue[]) {
    const fields = issues.map((issue) => ({
      path: [where, ...issue.path.map(String)].join('.'),
      message: issue.message,
    }));
    super(
      'INVALID_INPUT',
      `The request's ${where} is invalid: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}.`,
    );
    this.fields = fields;
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  CALLBACK_REJECTED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  DUPLICATE: 409,
  VERSION_CONFLICT: 409,
  EVENT_NOT_ACCEPTED: 409,
  WORKFLOW_FINISHED: 409,
  OFFER_EXPIRED: 409,
  OFFER_ALREADY_ANSWERED: 409,
  OFFER_WITHDRAWN: 409,
  OFFER_NOT_OPEN: 409,
  INSTITUTION_NOT_ACCEPTED: 409,
  NOTHING_ACCEPTED: 409,
  DISPATCH_FINISHED: 409,
  LOAN_CONTRACT_NOT_STARTED: 409,
  INSTITUTION_SUSPENDED: 409,
  POSITION_INSUFFICIENT: 409,
  BALANCE_INSUFFICIENT: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  SIGNING_NOT_CONFIGURED: 501,
  PERSISTENCE_FAILURE: 503,
  PERSISTENCE_CLOSED: 503,
  ADAPTER_FAILURE: 502,
  VENDOR_FAILURE: 502,
  VENDOR_TIMEOUT: 504,
  EFFECT_TIMEOUT: 504,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The HTTP status for a sealflow error code. */
export function statusOf(error: SealflowError): number {
  if (error instanceof SigningRefusedError) return 422; // a business check or the vendor refused this signing
  const known = STATUS_BY_CODE[error.code];
  if (known) return known;
  // A code this table does not know yet: something worth retrying is unavailable, anything else a refused rule.
  return error.retryable ? 503 : 422;
}

function problemType(code: string): string {
  return `urn:sealflow:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** The problem body for any error; what is not a sealflow error is a 500 whose detail reveals nothing. */
export function problemOf(error: unknown, instance: string): Problem {
  if (error instanceof SealflowError) {
    const status = statusOf(error);
    return {
      type: problemType(error.code),
      title: TITLES[status] ?? 'Error',
      status,
      detail: maskText(error.message),
      instance,
      code: error.code,
      retryable: error.retryable,
      ...(error instanceof RequestValidationError ? { errors: error.fields } : {}),
      ...(error instanceof SigningRefusedError ? { recordId: error.recordId } : {}),
    };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    // Fastify's own refusals: a body that is not JSON, too large, an unsupported content type.
    const status = fastifyError.statusCode;
    const code = fastifyError.code ?? 'BAD_REQUEST';
    return {
      type: problemType(code),
      title: TITLES[status] ?? 'Error',
      status,
      detail: maskText(fastifyError.message ?? 'The request could not be read.'),
      instance,
      code,
      retryable: false,
    };
  }
  return {
    type: 'urn:sealflow:problem:internal',
    title: TITLES[500]!,
    status: 500,
    detail: 'The service failed unexpectedly; the failure is logged. Try again later, or contact the platform.',
    instance,
    code: 'INTERNAL',
    retryable: true,
  };
}

function send(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 503) reply.header('retry-after', '5');
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** Every error and every unknown route answered as problem+json; 5xx logged (masked by the logger). */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request: FastifyRequest, reply) => {
    const problem = problemOf(error, request.url.split('?')[0] ?? request.url);
    if (problem.status >= 500) request.log.error({ err: error, code: problem.code }, 'request failed');
    else request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    return send(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, {
      type: problemType('NOT_FOUND'),
      title: 'Not Found',
      status: 404,
      detail: `There is no ${request.method} ${request.url.split('?')[0]}; see the README for the endpoints.`,
      instance: request.url.split('?')[0] ?? request.url,
      code: 'NOT_FOUND',
      retryable: false,
    }),
  );
}

/** Parse a part of the request with a zod schema, or throw a 400 naming each field (never echoing values). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RequestValidationError(where, parsed.error.issues);
  return parsed.data;
}
