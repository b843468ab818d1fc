/**
 * Errors as RFC 9457 problem details (`application/problem+json`): the sealflow error's stable code, its message
 * (already masked by sealflow) and an HTTP status a browser or a script can branch on.
 */
import { NotFoundError, PermissionError, SealflowError, ValidationError } from '@sealflow/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/** What the back office answers when a request cannot be served. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  /** Field paths of invalid input, when known. */
  fields?: string[];
}

/** The back office's own refusals, in the project's error hierarchy so they read like every other sealflow error. */
export class BackOfficeError extends SealflowError {
  constructor(
    code: 'UNAUTHENTICATED' | 'LOGIN_FAILED' | 'FORBIDDEN',
    message: string,
    readonly status: number,
  ) {
    super(code, message);
    this.name = 'BackOfficeError';
  }
}

/** Statuses of the codes whose meaning is not "the record is not in a state for this": that one is 409. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  LOGIN_FAILED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  DUPLICATE: 409,
  VERSION_CONFLICT: 409,
};

const TITLES: Readonly<Record<number, string>> = {
  400: '请求有误',
  401: '请先登录',
  403: '无权操作',
  404: '未找到',
  409: '当前状态不允许此操作',
  413: '文件过大',
  415: '文件类型不支持',
  500: '系统错误',
  503: '服务暂不可用，请稍后重试',
};

/** By class first: sealflow's subclasses (MAKER_CHECKER_VIOLATION is a PermissionError) carry codes of their own. */
function statusOf(error: SealflowError): number {
  if (error instanceof BackOfficeError) return error.status;
  if (error instanceof ValidationError) return 400;
  if (error instanceof PermissionError) return 403;
  if (error instanceof NotFoundError) return 404;
  return STATUS_BY_CODE[error.code] ?? (error.retryable ? 503 : 409);
}

export function problemOf(error: unknown): Problem {
  if (error instanceof SealflowError) {
    const status = statusOf(error);
    const fields = error.details?.paths ?? (error.details?.field ? [error.details.field] : undefined);
    return {
      type: `urn:sealflow:problem:${error.code}`,
      title: TITLES[status] ?? TITLES[409]!,
      status,
      detail: error.message,
      code: error.code,
      ...(Array.isArray(fields) ? { fields: fields.map(String) } : {}),
    };
  }
  const fastify = error as Partial<FastifyError>;
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    // Fastify's own refusals (body too large, unsupported content type, bad JSON) say nothing personal.
    return {
      type: `urn:sealflow:problem:${fastify.code ?? 'BAD_REQUEST'}`,
      title: TITLES[fastify.statusCode] ?? TITLES[400]!,
      status: fastify.statusCode,
      detail: fastify.message ?? 'The request could not be read.',
      code: fastify.code ?? 'BAD_REQUEST',
    };
  }
  return {
    type: 'urn:sealflow:problem:INTERNAL',
    title: TITLES[500]!,
    status: 500,
    // An unexpected error's message may carry anything; the log has it, the page gets a pointer to the log.
    detail: 'An unexpected error occurred; the server log has the details. Try again, or report the time to support.',
    code: 'INTERNAL',
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  const problem = problemOf(error);
  if (problem.status >= 500) request.log.error({ err: error }, 'back office request failed');
  return reply.status(problem.status).type('application/problem+json; charset=utf-8').send(problem);
}

/** Parse request input at the edge: a zod failure becomes INVALID_INPUT naming each field, in words a person can act on. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const at = issue.path.map(String).join('.');
    return `${where}${at ? `.${at}` : ''}: ${issue.message}`;
  });
  throw new ValidationError(`The ${where} is invalid — ${problems.join('; ')}. Correct it and send it again.`, {
    details: { paths: result.error.issues.map((i) => [where, ...i.path.map(String)].join('.')) },
  });
}
