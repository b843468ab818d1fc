/**
 * The position (头寸) ledger: top-ups, transfers between an institution's accounts, and the freezes that reserve its
 * position for accepted applications.
 *
 * Each movement is written in the caller's transaction as one version-checked update of the institution's balances
 * plus one movement record whose unique key is the caller's idempotency key. Two movements racing on one institution
 * cannot both commit: the second finds the balances changed (`VERSION_CONFLICT`, retryable) and is decided again on
 * the new balances — so an institution can never freeze more than its position, whatever the concurrency. The
 * transactional functions let a dispatch step freeze and transition its workflow atomically; {@link createLedger}
 * opens its own transactions and retries such conflicts.
 */
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Persistence, PersistenceTransaction } from '../ports/persistence.js';
import { dispatchIdSchema, institutionRepository, isSuspendedAt } from './institution.js';
import {
  amountsOf,
  applyMovement,
  LEDGER_ACCOUNTS,
  type LedgerBalances,
  LedgerError,
  type LedgerMovement,
  type LedgerMovementType,
  ledgerBalancesRepository,
  ledgerMovementRepository,
  type MovementRequest,
  movementId,
  type LedgerVerification,
  sameMovement,
  verifyMovements,
} from './ledger-repositories.js';

const idempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .refine((key) => !/\p{Cc}/u.test(key), { message: 'must not contain control characters' });
const amount = z
  .number()
  .int({ message: 'must be a whole number of fen' })
  .min(1, { message: 'must be at least 1 fen' })
  .max(Number.MAX_SAFE_INTEGER, { message: 'is too large to count exactly' });
const base = {
  institutionId: dispatchIdSchema,
  /** Same key and same movement: the first result comes back and nothing happens twice. */
  key: idempotencyKey,
  amountFen: amount,
  actorId: z.string().min(1).max(128).optional(),
};
const account = z.enum(LEDGER_ACCOUNTS);
/** Schema of {@link ledgerTopUp}'s input. */
const TopUpInput = z.strictObject({ ...base, account });
/** Schema of {@link ledgerTransfer}'s input: two different accounts. */
const TransferInput = z
  .strictObject({ ...base, from: account, to: account })
  .refine((input) => input.from !== input.to, { message: 'must name two different accounts', path: ['to'] });
/** Schema of the input of freezes, releases, consumes and restores: one application's hold. */
const HoldInput = z.strictObject({ ...base, applicationId: dispatchIdSchema });

/** A top-up: money from outside into one of the institution's accounts. */
export type TopUpInput = z.input<typeof TopUpInput>;
/** A transfer between two of the institution's own accounts. */
export type TransferInput = z.input<typeof TransferInput>;
/** A freeze, release, consume or restore: an amount of the position held for (or given back by) one application. */
export type HoldInput = z.input<typeof HoldInput>;

/** What a movement call returns: the movement, and whether it had already been applied under the same key. */
export interface LedgerMovementResult {
  movement: LedgerMovement;
  /** True when the key had been used for this same movement before: nothing changed this time. */
  replayed: boolean;
}

function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'input';
  throw new ValidationError(`${what}: ${field} ${issue.message}. Correct the request; nothing was recorded.`, {
    details: { field },
  });
}

/** The first result of a movement already recorded under `key`, or null; a different movement under it is refused. */
async function replayOf(
  tx: PersistenceTransaction,
  request: MovementRequest,
  key: string,
): Promise<LedgerMovementResult | null> {
  const existing = await ledgerMovementRepository.getByUniqueKey(tx, key);
  if (existing) {
    if (sameMovement(existing.record, request)) return { movement: existing.record, replayed: true };
    throw new LedgerError(
      'IDEMPOTENCY_KEY_REUSED',
      `The idempotency key was already used for a different movement (${existing.record.type} ${existing.record.id}). ` +
        'Use a new key for a new movement.',
      { details: { movementId: existing.record.id } },
    );
  }
  return null;
}

/**
 * Apply one movement in `tx`: replay it if its key was used for the same movement, refuse it if the key was used for
 * another, otherwise update the balances (version-checked) and record it. Throws `LedgerError` when it would make a
 * balance negative, and `ConflictError('VERSION_CONFLICT')` (retryable; retry in a new transaction) when another
 * movement of the institution committed since the balances were read.
 */
async function record(
  tx: PersistenceTransaction,
  request: MovementRequest,
  meta: { key: string; actorId?: string | undefined },
  now: number,
): Promise<LedgerMovementResult> {
  const replay = await replayOf(tx, request, meta.key);
  if (replay) return replay;
  if (request.type === 'freeze') await refuseSuspended(tx, request.institutionId, now);
  const stored = await ledgerBalancesRepository.get(tx, request.institutionId);
  if (!stored) {
    throw new NotFoundError(
      `There is no ledger for institution ${request.institutionId}. Register the institution first.`,
    );
  }
  let next: LedgerBalances;
  try {
    next = applyMovement(stored.record, request);
  } catch (error) {
    // Under READ COMMITTED the balances were read after the key: a movement with this key that committed in between
    // shows in the balances but was not found by key. Its retry is a replay, not a refusal.
    const late = error instanceof LedgerError ? await replayOf(tx, request, meta.key) : null;
    if (late) return late;
    throw error;
  }
  await ledgerBalancesRepository.update(tx, stored, next, now);
  const movement: LedgerMovement = {
    ...request,
    id: movementId(request.institutionId, next.movementCount),
    seq: next.movementCount,
    key: meta.key,
    actorId: meta.actorId ?? null,
    after: amountsOf(next),
    at: now,
  };
  await ledgerMovementRepository.insert(tx, movement, now);
  return { movement, replayed: false };
}

/** Top up one of the institution's accounts from outside (an online top-up, a bank transfer in). */
export function ledgerTopUp(tx: PersistenceTransaction, input: TopUpInput, now: number): Promise<LedgerMovementResult> {
  const { account: to, ...rest } = parse(TopUpInput, input, 'Top-up');
  return record(tx, request(rest, 'topUp', 'external', to, null), rest, now);
}

/** Move money between two of the institution's accounts (保证金, 风险保证金, cash). */
export function ledgerTransfer(
  tx: PersistenceTransaction,
  input: TransferInput,
  now: number,
): Promise<LedgerMovementResult> {
  const { from, to, ...rest } = parse(TransferInput, input, 'Transfer');
  return record(tx, request(rest, 'transfer', from, to, null), rest, now);
}

function holdMovement(
  type: Exclude<LedgerMovementType, 'topUp' | 'transfer'>,
  from: 'deposit' | 'frozen',
  to: 'deposit' | 'frozen' | 'external',
  what: string,
) {
  return (tx: PersistenceTransaction, input: HoldInput, now: number): Promise<LedgerMovementResult> => {
    const { applicationId, ...rest } = parse(HoldInput, input, what);
    return record(tx, request(rest, type, from, to, applicationId), rest, now);
  };
}

/**
 * Freeze part of the position for an application the institution accepted: `POSITION_INSUFFICIENT` if too little,
 * `INSTITUTION_SUSPENDED` if the institution is suspended.
 */
export const ledgerFreeze: (
  tx: PersistenceTransaction,
  input: HoldInput,
  now: number,
) => Promise<LedgerMovementResult> = holdMovement('freeze', 'deposit', 'frozen', 'Freeze');
/** Give an application's frozen amount back to the position: the application went to another institution. */
export const ledgerRelease: (
  tx: PersistenceTransaction,
  input: HoldInput,
  now: number,
) => Promise<LedgerMovementResult> = holdMovement('release', 'frozen', 'deposit', 'Release');
/** Take an application's frozen amount out of the institution's accounts (disbursed or paid out in settlement). */
export const ledgerConsume: (
  tx: PersistenceTransaction,
  input: HoldInput,
  now: number,
) => Promise<LedgerMovementResult> = holdMovement('consume', 'frozen', 'external', 'Consume');
/** Give an application's frozen amount back to the position after its settlement was confirmed. */
export const ledgerRestore: (
  tx: PersistenceTransaction,
  input: HoldInput,
  now: number,
) => Promise<LedgerMovementResult> = holdMovement('restore', 'frozen', 'deposit', 'Restore');

/**
 * A suspended institution (by hand, or by a complaint's penalty not yet run out at `now`) takes no new applications,
 * so nothing may be frozen for it. Checked after the replay of a known key, so a freeze made before the suspension
 * still answers its retries with its first result.
 */
async function refuseSuspended(tx: PersistenceTransaction, institutionId: string, now: number): Promise<void> {
  const institution = await institutionRepository.get(tx, institutionId);
  if (!institution || !isSuspendedAt(institution.record, now)) return;
  throw new LedgerError(
    'INSTITUTION_SUSPENDED',
    `Institution ${institutionId} is suspended and may not take applications, so nothing was frozen for it. ` +
      'A platform administrator must set it ACTIVE again (register it with status ACTIVE) before it accepts offers.',
    { details: { institutionId } },
  );
}

function request(
  input: { institutionId: string; amountFen: number },
  type: LedgerMovementType,
  from: MovementRequest['from'],
  to: MovementRequest['to'],
  applicationId: string | null,
): MovementRequest {
  return { institutionId: input.institutionId, type, from, to, amountFen: input.amountFen, applicationId };
}

/** The institution's balances now; `NotFoundError` when it is not registered. */
export async function ledgerBalances(tx: PersistenceTransaction, institutionId: string): Promise<LedgerBalances> {
  const stored = await ledgerBalancesRepository.get(tx, institutionId);
  if (!stored) throw new NotFoundError(`There is no ledger for institution ${institutionId}. Check the id.`);
  return stored.record;
}

/** A page of an institution's movements. */
export interface MovementPage {
  /** Oldest first. */
  movements: LedgerMovement[];
  /** Pass as `afterSeq` for the next page; null when this was the last. */
  nextAfterSeq: number | null;
}

/** Which of an institution's movements to read: those after `afterSeq` (default 0), at most `limit` (default 100). */
export interface MovementPageOptions {
  afterSeq?: number;
  limit?: number;
}

/** An institution's movements in the order they were applied (its 流水), a page at a time. */
export async function ledgerMovements(
  tx: PersistenceTransaction,
  institutionId: string,
  options: MovementPageOptions = {},
): Promise<MovementPage> {
  const afterSeq = options.afterSeq ?? 0;
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0 || !Number.isSafeInteger(limit) || limit < 1 || limit > 1000) {
    throw new ValidationError('Movement pages take afterSeq ≥ 0 and a limit of 1–1000, both whole numbers.');
  }
  const found = await ledgerMovementRepository.find(tx, {
    tags: { institutionId },
    afterId: movementId(institutionId, afterSeq),
    limit,
  });
  const movements = found.map((stored) => stored.record);
  return { movements, nextAfterSeq: movements.length === limit ? movements.at(-1)!.seq : null };
}

/** Every movement made for one application, across institutions: by institution, then in order. */
export async function applicationLedgerMovements(
  tx: PersistenceTransaction,
  applicationId: string,
): Promise<LedgerMovement[]> {
  const all: LedgerMovement[] = [];
  for (let afterId: string | undefined; ; ) {
    const page = await ledgerMovementRepository.find(tx, {
      tags: { applicationId },
      ...(afterId === undefined ? {} : { afterId }),
      limit: 500,
    });
    all.push(...page.map((stored) => stored.record));
    if (page.length < 500) return all;
    afterId = page.at(-1)!.record.id;
  }
}

/**
 * Recompute an institution's balances from its movements and compare: every movement balanced, sequence numbers
 * without gaps, no balance ever negative, and the stored balances (accounts, frozen, per-application holds, count)
 * equal to the sums of the entries.
 */
export async function verifyLedger(tx: PersistenceTransaction, institutionId: string): Promise<LedgerVerification> {
  const balances = await ledgerBalances(tx, institutionId);
  const movements: LedgerMovement[] = [];
  for (let afterSeq: number | null = 0; afterSeq !== null; ) {
    const page: MovementPage = await ledgerMovements(tx, institutionId, { afterSeq, limit: 1000 });
    movements.push(...page.movements);
    afterSeq = page.nextAfterSeq;
  }
  return verifyMovements(balances, movements);
}

/** Options of {@link createLedger}. */
export interface LedgerOptions {
  persistence: Persistence;
  clock: Clock;
  /**
   * Transactions tried per movement before a version conflict is given back to the caller. Default 50: a movement
   * loses a race only to another movement of the institution that committed, so 50 tries always suffice for 50
   * concurrent movements of one institution.
   */
  maxAttempts?: number;
}

/** The ledger with transactions of its own: each movement commits alone, retried on concurrent changes. */
export interface Ledger {
  topUp(input: TopUpInput): Promise<LedgerMovementResult>;
  transfer(input: TransferInput): Promise<LedgerMovementResult>;
  freeze(input: HoldInput): Promise<LedgerMovementResult>;
  release(input: HoldInput): Promise<LedgerMovementResult>;
  consume(input: HoldInput): Promise<LedgerMovementResult>;
  restore(input: HoldInput): Promise<LedgerMovementResult>;
  balances(institutionId: string): Promise<LedgerBalances>;
  movements(institutionId: string, options?: MovementPageOptions): Promise<MovementPage>;
  applicationMovements(applicationId: string): Promise<LedgerMovement[]>;
  verify(institutionId: string): Promise<LedgerVerification>;
}

/** A conflict that a fresh transaction decides differently: someone else's movement committed first. */
function lostRace(error: unknown): boolean {
  return error instanceof ConflictError && (error.code === 'VERSION_CONFLICT' || error.code === 'DUPLICATE');
}

/** The ledger over a persistence: every movement in its own transaction, retried while it loses races. */
export function createLedger(options: LedgerOptions): Ledger {
  const { persistence, clock } = options;
  const maxAttempts = options.maxAttempts ?? 50;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new ValidationError('createLedger: maxAttempts must be a whole number ≥ 1.');
  }
  async function move<I>(
    apply: (tx: PersistenceTransaction, input: I, now: number) => Promise<LedgerMovementResult>,
    input: I,
  ): Promise<LedgerMovementResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await persistence.transaction((tx) => apply(tx, input, clock.now()));
      } catch (error) {
        if (!lostRace(error) || attempt >= maxAttempts) throw error;
      }
    }
  }
  const read = <T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T> => persistence.transaction(work);
  return {
    topUp: (input) => move(ledgerTopUp, input),
    transfer: (input) => move(ledgerTransfer, input),
    freeze: (input) => move(ledgerFreeze, input),
    release: (input) => move(ledgerRelease, input),
    consume: (input) => move(ledgerConsume, input),
    restore: (input) => move(ledgerRestore, input),
    balances: (institutionId) => read((tx) => ledgerBalances(tx, institutionId)),
    movements: (institutionId, page) => read((tx) => ledgerMovements(tx, institutionId, page)),
    applicationMovements: (applicationId) => read((tx) => applicationLedgerMovements(tx, applicationId)),
    verify: (institutionId) => read((tx) => verifyLedger(tx, institutionId)),
  };
}
