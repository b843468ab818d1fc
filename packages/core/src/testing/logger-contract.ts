import { describe, expect, it } from 'vitest';
import type { Logger } from '../ports/logger.js';

/** Options of `runLoggerContract`. */
export interface LoggerContractOptions {
  name: string;
  create: () => Logger;
  skip?: string;
}

/**
 * The one rule a `Logger` must keep: logging never fails the operation that logs. Whatever the fields — cycles,
 * BigInts, errors, bytes — every level returns normally.
 */
export function runLoggerContract(options: LoggerContractOptions): void {
  if (typeof options.skip === 'string') {
    console.warn(`[sealflow] skipping ${options.name} logger contract: ${options.skip}`);
    describe.skip(`${options.name} logger contract`, () => {
      it('is skipped', () => {});
    });
    return;
  }
  describe(`${options.name} logger contract`, () => {
    const awkward = () => {
      const cyclic: Record<string, unknown> = { name: 'cycle' };
      cyclic.self = cyclic;
      return { cyclic, big: 10n ** 20n, error: new Error('boom'), bytes: new Uint8Array(3), nothing: undefined };
    };

    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      it(`${level} accepts a message alone and awkward fields without throwing`, () => {
        const logger = options.create();
        expect(() => logger[level]('contract_message')).not.toThrow();
        expect(() => logger[level]('contract_message', awkward())).not.toThrow();
      });
    }
  });
}
