/**
 * Operator sign-in for the back office: a fixed list of operators with passwords and roles, and opaque session
 * tokens kept in this process's memory. A stand-in, to be replaced by the lender's single sign-on (and sessions in a
 * shared store) before production: tokens do not survive a restart and are not shared between processes.
 *
 * The token travels as an HttpOnly, SameSite=Strict cookie, so PDF previews and downloads opened by the browser are
 * authenticated too, and as a bearer token for scripts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { BackOfficeError } from './problem.js';

/** A person who may sign in to the back office. */
export interface Operator {
  /** The id recorded as the actor of everything they do (template approvals, 补签, …). */
  id: string;
  /** Shown on the page. */
  name: string;
  /**
   * Their roles, passed to sealflow as the actor's roles: the template approval levels' roles (such as `legal`,
   * `risk`), the template editor role, dispatch roles (`follow-up-manager`, `platform-admin`, …), plus the back
   * office's own {@link BACK_OFFICE_ROLES}.
   */
  roles: readonly string[];
  /** The demo's password. Replace the whole sign-in with single sign-on before production. */
  password: string;
}

/** Roles the back office checks itself, for actions sealflow leaves to the host. */
export const BACK_OFFICE_ROLES = {
  /** Opens signed contracts (they show the borrower's name in full) and re-signs (补签) failed signings. */
  signingOperator: 'signing-operator',
} as const;

export const SESSION_COOKIE = 'sealflow_back_office';

export interface Session {
  operator: Operator;
  expiresAt: number;
}

export interface Sessions {
  login(operatorId: string, password: string): { token: string; session: Session };
  logout(token: string): void;
  /** The signed-in operator of a request, or UNAUTHENTICATED. */
  require(request: FastifyRequest): Operator;
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function createSessions(operators: readonly Operator[], ttlMs: number): Sessions {
  const byId = new Map(operators.map((operator) => [operator.id, operator]));
  const sessions = new Map<string, Session>();

  return {
    login(operatorId, password) {
      const operator = byId.get(operatorId);
      // Compare digests so every attempt takes the same time whether the operator exists or not.
      const expected = digest(operator?.password ?? randomBytes(16).toString('hex'));
      if (!operator || !timingSafeEqual(expected, digest(password))) {
        throw new BackOfficeError(
          'LOGIN_FAILED',
          'The operator id or password is wrong. Check both and try again.',
          401,
        );
      }
      const token = randomBytes(32).toString('base64url');
      const session = { operator, expiresAt: Date.now() + ttlMs };
      sessions.set(token, session);
      return { token, session };
    },
    logout(token) {
      sessions.delete(token);
    },
    require(request) {
      const token = sessionToken(request);
      const session = token ? sessions.get(token) : undefined;
      if (!token || !session || session.expiresAt <= Date.now()) {
        if (token) sessions.delete(token);
        throw new BackOfficeError(
          'UNAUTHENTICATED',
          'Sign in to the back office first (your session may have ended).',
          401,
        );
      }
      return session.operator;
    },
  };
}

export function sessionToken(request: FastifyRequest): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return decodeURIComponent(value.join('='));
  }
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
}

/** Refuse an operator without one of `roles`, naming what they tried. */
export function requireRole(operator: Operator, roles: readonly string[], action: string): void {
  if (roles.some((role) => operator.roles.includes(role))) return;
  throw new BackOfficeError(
    'FORBIDDEN',
    `Only an operator with the role ${roles.join(' or ')} may ${action}; ask an administrator to grant it.`,
    403,
  );
}
