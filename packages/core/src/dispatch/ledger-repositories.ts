/**
 * The position ledger's records and rules: one balances record per institution, one movement record per movement,
 * and the pure functions that decide what a movement does to the balances — or why it may not happen.
 *
 * Every movement moves a positive amount of fen from one account to another, so each is a balanced pair of entries
 * (double entry): the `from` account is debited and the `to` account credited by the same amount. `external` is the
 * world outside the institution's accounts (bank top-ups in, disbursed money out); it has no balance of its own.
 */
import { z } from 'zod';
import { SealflowError, type SealflowErrorOptions, ValidationError } from '../errors.js';
import { fenSchema } from '../model/values.js';
import { defineRepository } from '../repository.js';

/** An institution's own accounts: 保证金 (whose available balance is the position 头寸), 风险保证金, and cash. */
export const LEDGER_ACCOUNTS = ['deposit', 'riskMargin', 'cash'] as const;

/** One of {@link LEDGER_ACCOUNTS}. */
export type LedgerAccount = (typeof LEDGER_ACCOUNTS)[number];

/** Where a movement's money comes from or goes to: an account, the frozen bucket, or the outside world. */
export type LedgerBucket = LedgerAccount | 'frozen' | 'external';

/**
 * The kinds of movement:
 * - `topUp`: external → an account (online top-up);
 * - `transfer`: between the institution's own accounts;
 * - `freeze`: position → frozen, for one application;
 * - `release`: frozen → position, the application went to someone else;
 * - `consume`: frozen → external, the frozen amount left the institution's accounts (disbursed, settled);
 * - `restore`: frozen → position, after settlement.
 */
export const LEDGER_MOVEMENT_TYPES = ['topUp', 'transfer', 'freeze', 'release', 'consume', 'restore'] as const;

/** One of {@link LEDGER_MOVEMENT_TYPES}. */
export type LedgerMovementType = (typeof LEDGER_MOVEMENT_TYPES)[number];

/** The amounts of an institution's accounts and frozen bucket at one moment. */
export const LedgerAmounts = z.strictObject({
  /** The position (头寸): what the institution may still commit to loans. */
  deposit: fenSchema,
  riskMargin: fenSchema,
  cash: fenSchema,
  /** Frozen for accepted applications; the sum of `holds`. */
  frozen: fenSchema,
});

/** See {@link LedgerAmounts}. */
export type LedgerAmounts = z.infer<typeof LedgerAmounts>;

/** An institution's balances: the amounts, what is frozen per application, and how many movements made them. */
export const LedgerBalances = LedgerAmounts.extend({
  institutionId: z.string().min(1),
  /** Frozen amount per application id; an application whose hold is used up is removed. */
  holds: z.record(z.string(), fenSchema.min(1)),
  /** Movements applied so far; the next movement gets sequence number `movementCount + 1`. */
  movementCount: z.number().int().nonnegative(),
});

/** See {@link LedgerBalances}. */
export type LedgerBalances = z.infer<typeof LedgerBalances>;

const bucket = z.enum(['deposit', 'riskMargin', 'cash', 'frozen', 'external']);

/** One applied movement, with the balances it left behind. */
export const LedgerMovement = z.strictObject({
  /** `<institutionId>#<seq, 12 digits>`, so an institution's movements sort in the order they were applied. */
  id: z.string(),
  institutionId: z.string().min(1),
  /** 1, 2, 3 … per institution, without gaps. */
  seq: z.number().int().min(1),
  /** The caller's idempotency key; unique across the ledger. */
  key: z.string().min(1),
  type: z.enum(LEDGER_MOVEMENT_TYPES),
  from: bucket,
  to: bucket,
  amountFen: fenSchema.min(1),
  /** The application a freeze, release, consume or restore is for; null for top-ups and transfers. */
  applicationId: z.string().nullable(),
  /** Who asked for it, when a person did. */
  actorId: z.string().nullable(),
  after: LedgerAmounts,
  at: z.number().int(),
});

/** See {@link LedgerMovement}. */
export type LedgerMovement = z.infer<typeof LedgerMovement>;

/** Balances, one record per institution, created when the institution is registered. */
export const ledgerBalancesRepository = defineRepository({
  kind: 'ledger-balances',
  label: 'ledger balances',
  schema: LedgerBalances,
  id: (balances) => balances.institutionId,
});

/** Movements, filterable by institution and by application; the idempotency key is unique. */
export const ledgerMovementRepository = defineRepository({
  kind: 'ledger-movement',
  label: 'ledger movement',
  schema: LedgerMovement,
  id: (movement) => movement.id,
  tags: (movement) => ({
    institutionId: movement.institutionId,
    applicationId: movement.applicationId ?? undefined,
    type: movement.type,
  }),
  uniqueKey: (movement) => movement.key,
});

/** The balances of a newly registered institution. */
export function zeroBalances(institutionId: string): LedgerBalances {
  return { institutionId, deposit: 0, riskMargin: 0, cash: 0, frozen: 0, holds: {}, movementCount: 0 };
}

/** The id of an institution's `seq`-th movement. */
export function movementId(institutionId: string, seq: number): string {
  return `${institutionId}#${String(seq).padStart(12, '0')}`;
}

/** The stable codes of {@link LedgerError}. */
export type LedgerErrorCode =
  /** A freeze or transfer would take the position (deposit's available balance) below zero. */
  | 'POSITION_INSUFFICIENT'
  /** A transfer would take the risk margin or cash account below zero. */
  | 'BALANCE_INSUFFICIENT'
  /** A release, consume or restore asks for more than is frozen for that application. */
  | 'FROZEN_INSUFFICIENT'
  /** The idempotency key was already used for a different movement. */
  | 'IDEMPOTENCY_KEY_REUSED'
  /** A freeze for an institution whose status is `SUSPENDED`: it takes no new applications. */
  | 'INSTITUTION_SUSPENDED';

/**
 * A movement the ledger refused; nothing was written. `details` carries the institution, the account, what it holds
 * and what was asked (amounts in fen).
 */
export class LedgerError extends SealflowError {
  declare readonly code: LedgerErrorCode;

  constructor(code: LedgerErrorCode, message: string, options: SealflowErrorOptions = {}) {
    super(code, message, options);
  }
}

/** What a movement asks for, already validated: the part compared when an idempotency key comes back. */
export interface MovementRequest {
  institutionId: string;
  type: LedgerMovementType;
  from: LedgerBucket;
  to: LedgerBucket;
  amountFen: number;
  applicationId: string | null;
}

/** True when a stored movement is the one `request` asks for (the same key sent again). */
export function sameMovement(movement: LedgerMovement, request: MovementRequest): boolean {
  return (
    movement.institutionId === request.institutionId &&
    movement.type === request.type &&
    movement.from === request.from &&
    movement.to === request.to &&
    movement.amountFen === request.amountFen &&
    movement.applicationId === request.applicationId
  );
}

function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

function refuseDebit(balances: LedgerBalances, request: MovementRequest, available: number): never {
  const details = {
    institutionId: balances.institutionId,
    account: request.from,
    availableFen: available,
    requestedFen: request.amountFen,
    ...(request.applicationId ? { applicationId: request.applicationId } : {}),
  };
  const asked = `${request.type} of ${yuan(request.amountFen)} yuan`;
  if (request.from === 'deposit') {
    throw new LedgerError(
      'POSITION_INSUFFICIENT',
      `Institution ${balances.institutionId} has a position of ${yuan(available)} yuan, too little for a ${asked}. ` +
        'Top up its deposit or release frozen amounts first.',
      { details },
    );
  }
  if (request.from === 'frozen') {
    throw new LedgerError(
      'FROZEN_INSUFFICIENT',
      `Only ${yuan(available)} yuan is frozen for application ${request.applicationId} at institution ` +
        `${balances.institutionId}, less than the ${asked}. Check the application and the amount.`,
      { details },
    );
  }
  throw new LedgerError(
    'BALANCE_INSUFFICIENT',
    `The ${request.from} account of institution ${balances.institutionId} holds ${yuan(available)} yuan, too little ` +
      `for a ${asked}. Top it up or transfer less.`,
    { details },
  );
}

function available(balances: LedgerBalances, request: MovementRequest): number {
  if (request.from === 'frozen') return balances.holds[request.applicationId ?? ''] ?? 0;
  if (request.from === 'external') return Number.MAX_SAFE_INTEGER;
  return balances[request.from];
}

/**
 * The balances after `request`, or a {@link LedgerError} when it would take any account, the frozen bucket or an
 * application's hold below zero. A pure function: the ledger's one rule about money.
 */
export function applyMovement(balances: LedgerBalances, request: MovementRequest): LedgerBalances {
  const { from, to, amountFen } = request;
  const have = available(balances, request);
  if (have < amountFen) refuseDebit(balances, request, have);
  const next: LedgerBalances = { ...balances, holds: { ...balances.holds }, movementCount: balances.movementCount + 1 };
  if (from !== 'external') next[from] -= amountFen;
  if (to !== 'external') next[to] += amountFen;
  const app = request.applicationId ?? '';
  if (from === 'frozen') {
    const left = (next.holds[app] ?? 0) - amountFen;
    if (left === 0) delete next.holds[app];
    else next.holds[app] = left;
  }
  if (to === 'frozen') next.holds[app] = (next.holds[app] ?? 0) + amountFen;
  if (to !== 'external' && !Number.isSafeInteger(next[to])) {
    throw new ValidationError(
      `The ${to} balance of institution ${balances.institutionId} would exceed what can be counted exactly in fen.`,
      { details: { institutionId: balances.institutionId, account: to } },
    );
  }
  return next;
}

/** The signed entries of a movement: the `from` bucket debited, the `to` bucket credited; they sum to zero. */
export function movementEntries(movement: Pick<LedgerMovement, 'from' | 'to' | 'amountFen'>): {
  bucket: LedgerBucket;
  amountFen: number;
}[] {
  return [
    { bucket: movement.from, amountFen: -movement.amountFen },
    { bucket: movement.to, amountFen: movement.amountFen },
  ];
}

/** The amounts part of balances, as a movement records them. */
export function amountsOf(balances: LedgerBalances): LedgerAmounts {
  return { deposit: balances.deposit, riskMargin: balances.riskMargin, cash: balances.cash, frozen: balances.frozen };
}

/** What {@link verifyMovements} found: whether the stored balances are exactly what the movements add up to. */
export interface LedgerVerification {
  ok: boolean;
  institutionId: string;
  /** As stored. */
  balances: LedgerAmounts;
  /** As the movements add up. */
  recomputed: LedgerAmounts;
  movements: number;
  /** One sentence per problem found; empty when `ok`. */
  problems: string[];
}

function sameAmounts(a: LedgerAmounts, b: LedgerAmounts): boolean {
  return a.deposit === b.deposit && a.riskMargin === b.riskMargin && a.cash === b.cash && a.frozen === b.frozen;
}

function replay(institutionId: string, movements: readonly LedgerMovement[], problems: string[]): LedgerBalances {
  let running = zeroBalances(institutionId);
  for (const [index, movement] of movements.entries()) {
    if (movement.seq !== index + 1)
      problems.push(`Movement ${movement.id} has seq ${movement.seq}; expected ${index + 1}.`);
    if (movementEntries(movement).reduce((sum, entry) => sum + entry.amountFen, 0) !== 0) {
      problems.push(`Movement ${movement.id} is not balanced.`);
    }
    try {
      running = applyMovement(running, movement);
    } catch {
      problems.push(`Movement ${movement.id} (${movement.type}) takes a balance below zero.`);
      return running;
    }
    if (!sameAmounts(amountsOf(running), movement.after)) {
      problems.push(`Movement ${movement.id} records balances that its predecessors do not add up to.`);
    }
  }
  return running;
}

/**
 * Recompute balances from an institution's movements, oldest first, and compare them with the stored balances.
 * A pure function; the ledger's `verifyLedger` reads both and calls it.
 */
export function verifyMovements(balances: LedgerBalances, movements: readonly LedgerMovement[]): LedgerVerification {
  const problems: string[] = [];
  const recomputed = replay(balances.institutionId, movements, problems);
  for (const key of ['deposit', 'riskMargin', 'cash', 'frozen'] as const) {
    if (balances[key] !== recomputed[key]) {
      problems.push(`The ${key} balance is ${balances[key]} fen, but its entries add up to ${recomputed[key]} fen.`);
    }
  }
  const holdIds = new Set([...Object.keys(balances.holds), ...Object.keys(recomputed.holds)]);
  for (const applicationId of holdIds) {
    if (balances.holds[applicationId] !== recomputed.holds[applicationId]) {
      problems.push(`The amount frozen for application ${applicationId} does not match its entries.`);
    }
  }
  if (balances.movementCount !== movements.length) {
    problems.push(`The balances count ${balances.movementCount} movements, but ${movements.length} are recorded.`);
  }
  return {
    ok: problems.length === 0,
    institutionId: balances.institutionId,
    balances: amountsOf(balances),
    recomputed: amountsOf(recomputed),
    movements: movements.length,
    problems,
  };
}
