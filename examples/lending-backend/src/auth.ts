/**
 * Who is calling: the lending app or one funder, each by its own bearer key. Keys are compared as SHA-256 digests in
 * constant time, so neither their length nor a matching prefix leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FunderAccount } from './options.js';
import { ApiError } from './problem.js';

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) {
    throw new ApiError('UNAUTHENTICATED', 'Send your API key as "Authorization: Bearer <key>".');
  }
  return match[1]!;
}

/** Checks a request's bearer key against a fixed set of keys, each standing for one caller. */
export function keyring<T>(entries: readonly { key: string; who: T }[]): (request: FastifyRequest) => T {
  for (const { key } of entries) {
    if (key.length < 24) throw new Error('Every API key must be at least 24 characters; generate one randomly.');
  }
  const digests = entries.map(({ key, who }) => ({ digest: digest(key), who }));
  return (request) => {
    const presented = digest(bearer(request));
    // Every entry is compared, so the time taken does not tell which (or whether any) key matched.
    let found: T | undefined;
    for (const entry of digests) if (timingSafeEqual(entry.digest, presented)) found = entry.who;
    if (found === undefined) {
      throw new ApiError('UNAUTHENTICATED', 'This API key is not known here; check the key you were given.');
    }
    return found;
  };
}

export const lendingAppKeyring = (keys: readonly string[]) => keyring(keys.map((key) => ({ key, who: 'lending-app' })));

export const funderKeyring = (funders: readonly FunderAccount[]) =>
  keyring(funders.map((funder) => ({ key: funder.apiKey, who: funder })));
