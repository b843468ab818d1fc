/**
 * Random sequences of movements — top-ups, transfers, freezes, releases, consumes, restores, with repeated keys and
 * amounts that often exceed what is there — never leave a balance below zero, and the stored balances always equal
 * what a plain model computes and what the movements' entries add up to.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEDGER_ACCOUNTS, type LedgerAccount, LedgerError } from '../src/index.js';
import { createMemoryPersistence } from '../src/memory/index.js';
import { ledgerWith } from './dispatch-ledger-scenarios.js';

const account = fc.constantFrom(...LEDGER_ACCOUNTS);
const amountFen = fc.integer({ min: 1, max: 50_000 });
const applicationId = fc.constantFrom('app-1', 'app-2', 'app-3');
const key = fc.integer({ min: 0, max: 40 }).map((n) => `key-${n}`);
const command = fc.oneof(
  fc.record({ kind: fc.constant('topUp' as const), key, account, amountFen }),
  fc.record({ kind: fc.constant('transfer' as const), key, from: account, to: account, amountFen }),
  fc.record({
    kind: fc.constantFrom('freeze' as const, 'release' as const, 'consume' as const, 'restore' as const),
    key,
    applicationId,
    amountFen,
  }),
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

interface Model {
  amounts: Record<LedgerAccount | 'frozen', number>;
  holds: Record<string, number>;
  keys: Map<string, string>;
}

/** What the model expects of a command: applied, replayed, or refused with this code. */
function expectation(model: Model, c: Command): 'applied' | 'replayed' | string {
  // Malformed input is refused before its key is even looked at.
  if (c.kind === 'transfer' && c.from === c.to) return 'INVALID_INPUT';
  const content = JSON.stringify({ ...c, key: undefined });
  const used = model.keys.get(c.key);
  if (used !== undefined) return used === content ? 'replayed' : 'IDEMPOTENCY_KEY_REUSED';
  const { amounts, holds } = model;
  if (c.kind === 'transfer' && amounts[c.from] < c.amountFen) {
    return c.from === 'deposit' ? 'POSITION_INSUFFICIENT' : 'BALANCE_INSUFFICIENT';
  }
  if (c.kind === 'freeze' && amounts.deposit < c.amountFen) return 'POSITION_INSUFFICIENT';
  if (['release', 'consume', 'restore'].includes(c.kind) && 'applicationId' in c) {
    if ((holds[c.applicationId] ?? 0) < c.amountFen) return 'FROZEN_INSUFFICIENT';
  }
  model.keys.set(c.key, content);
  if (c.kind === 'topUp') amounts[c.account] += c.amountFen;
  else if (c.kind === 'transfer') {
    amounts[c.from] -= c.amountFen;
    amounts[c.to] += c.amountFen;
  } else {
    const sign = c.kind === 'freeze' ? 1 : -1;
    holds[c.applicationId] = (holds[c.applicationId] ?? 0) + sign * c.amountFen;
    if (holds[c.applicationId] === 0) delete holds[c.applicationId];
    amounts.frozen += sign * c.amountFen;
    if (c.kind !== 'consume') amounts.deposit -= sign * c.amountFen;
  }
  return 'applied';
}

describe('position ledger properties', () => {
  it('keeps every balance ≥ 0, equal to the model and to the sum of its entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const ledger = await ledgerWith(createMemoryPersistence(), 'inst-p');
        const model: Model = { amounts: { deposit: 0, riskMargin: 0, cash: 0, frozen: 0 }, holds: {}, keys: new Map() };
        for (const c of commands) {
          const expected = expectation(model, c);
          const base = { institutionId: 'inst-p', key: c.key, amountFen: c.amountFen };
          const call =
            c.kind === 'topUp'
              ? ledger.topUp({ ...base, account: c.account })
              : c.kind === 'transfer'
                ? ledger.transfer({ ...base, from: c.from, to: c.to })
                : ledger[c.kind]({ ...base, applicationId: c.applicationId });
          const outcome = await call.then(
            (result) => (result.replayed ? 'replayed' : 'applied'),
            (error: unknown) => {
              if (error instanceof LedgerError || (error as { code?: string }).code === 'INVALID_INPUT') {
                return (error as LedgerError).code;
              }
              throw error;
            },
          );
          expect(outcome).toBe(expected);
          const balances = await ledger.balances('inst-p');
          for (const value of [balances.deposit, balances.riskMargin, balances.cash, balances.frozen]) {
            expect(value).toBeGreaterThanOrEqual(0);
          }
          expect(balances).toMatchObject({ ...model.amounts, holds: model.holds });
        }
        const verification = await ledger.verify('inst-p');
        expect(verification.problems).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
