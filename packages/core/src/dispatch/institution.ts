/**
 * Funding institutions (机构): who they are, where and what they lend, how many applications they may hold open at
 * once, and the dispatch statistics that ranking reads.
 *
 * The statistics are plain integer counters so that they can be updated in the same transaction as the dispatch step
 * that changes them, and every rate is derived from them on read rather than stored, so a rate never disagrees with
 * its counters.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import { creditCodeSchema, fenSchema } from '../model/values.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository, type Stored } from '../repository.js';
import { organizationSealIdSchema } from '../signing/seals.js';
import { ledgerBalancesRepository, zeroBalances } from './ledger-repositories.js';

/** Ids of institutions, applications and other dispatch records: short, printable, safe in keys and URLs. */
export const dispatchIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, {
  message: 'must be 1–64 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
});

/** Whether an institution takes part in dispatch: `ACTIVE` receives offers, `SUSPENDED` does not. */
export const INSTITUTION_STATUSES = ['ACTIVE', 'SUSPENDED'] as const;

/** One of {@link INSTITUTION_STATUSES}. */
export type InstitutionStatus = (typeof INSTITUTION_STATUSES)[number];

const counter = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * An institution's dispatch statistics, all integer counters:
 * - `offered`: applications offered to it; `accepted`, `declined`, `expired` (no answer in time): how offers ended;
 * - `abandoned` (弃单): accepted applications it later dropped;
 * - `successes` / `failures`: accepted applications that were disbursed / that failed after acceptance;
 * - `amountFen`: the total disbursed, in fen;
 * - `responseMsTotal` / `responses`: the summed time from offer to answer, and how many answers it sums;
 * - `complaintsFounded`: founded complaints whose decision was confirmed against it; `penaltiesFen`: the fines those
 *   decisions imposed, in fen. Both default to 0, so statistics stored before they existed still load.
 */
export const DispatchStats = z.strictObject({
  offered: counter,
  accepted: counter,
  declined: counter,
  expired: counter,
  abandoned: counter,
  successes: counter,
  failures: counter,
  amountFen: fenSchema,
  responseMsTotal: counter,
  responses: counter,
  complaintsFounded: counter.default(0),
  penaltiesFen: fenSchema.default(0),
});

/** An institution's dispatch statistics: see {@link DispatchStats}. */
export type DispatchStats = z.infer<typeof DispatchStats>;

/** A funding institution as stored. */
export const Institution = z.strictObject({
  id: dispatchIdSchema,
  /** The registered name, as on the business licence. */
  name: z.string().trim().min(1).max(100),
  /** 统一社会信用代码 (GB 32100); unique among institutions. */
  creditCode: creditCodeSchema,
  /** Region codes it serves, such as GB/T 2260 administrative codes ('44', '4403', '440305'). */
  regions: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { message: 'a region code is 1–32 letters, digits, "_" or "-"' }))
    .min(1)
    .max(500),
  /** Business categories it lends in (loan types such as 'mortgage', 'credit'). */
  categories: z
    .array(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'a category is 1–64 letters, digits, "_", "." or "-"' }),
    )
    .min(1)
    .max(100),
  /** The most applications it may hold open at once (concurrent capacity). */
  capacity: z.number().int().min(1).max(100_000),
  /** Applications it holds open now; dispatch keeps this up to date. */
  openCount: counter,
  /**
   * The seal it signs loan contracts with, when it signs through sealflow: one id, or one per vendor
   * (`{ esign: '…', cfca: '…' }`) when its contracts may be signed at several vendors, each naming seals its own way.
   */
  sealId: organizationSealIdSchema.optional(),
  status: z.enum(INSTITUTION_STATUSES),
  /**
   * When a suspension imposed by a complaint's penalty ends, epoch ms; null when the institution is active or was
   * suspended by hand (which lasts until someone lifts it). Records stored before it existed load as null.
   */
  suspendedUntil: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).nullable().default(null),
  stats: DispatchStats,
});

/** A funding institution (机构): see {@link Institution}. */
export type Institution = z.infer<typeof Institution>;

/** Institutions, filterable by `status`; the credit code is unique. */
export const institutionRepository = defineRepository({
  kind: 'dispatch-institution',
  label: 'institution',
  schema: Institution,
  id: (institution) => institution.id,
  tags: (institution) => ({ status: institution.status }),
  uniqueKey: (institution) => `credit-code:${institution.creditCode}`,
});

/** Statistics of an institution that has not been dispatched to yet. */
export function emptyDispatchStats(): DispatchStats {
  return {
    offered: 0,
    accepted: 0,
    declined: 0,
    expired: 0,
    abandoned: 0,
    successes: 0,
    failures: 0,
    amountFen: 0,
    responseMsTotal: 0,
    responses: 0,
    complaintsFounded: 0,
    penaltiesFen: 0,
  };
}

/**
 * Whether the institution is kept out of dispatch at `at` (epoch ms): `SUSPENDED` by hand, or by a complaint's
 * penalty that has not yet run out. A penalty suspension ends by itself at `suspendedUntil`, whether or not anyone
 * writes the institution again, so every reader decides from the time of the step it serves, never from a clock.
 */
export function isSuspendedAt(institution: Pick<Institution, 'status' | 'suspendedUntil'>, at: number): boolean {
  if (institution.status !== 'SUSPENDED') return false;
  return institution.suspendedUntil === null || at < institution.suspendedUntil;
}

/** 弃单率: abandoned / accepted (0 when it has accepted nothing yet). */
export function abandonmentRate(stats: DispatchStats): number {
  return stats.abandoned / Math.max(stats.accepted, 1);
}

/** Founded complaints per accepted offer (0 when it has neither). */
export function complaintRate(stats: DispatchStats): number {
  return stats.complaintsFounded / Math.max(stats.accepted, 1);
}

/** 成功率: successes / accepted (0 when it has accepted nothing yet). */
export function successRate(stats: DispatchStats): number {
  return stats.successes / Math.max(stats.accepted, 1);
}

/** The mean time from offer to answer in ms, or null when it has never answered. */
export function meanResponseMs(stats: DispatchStats): number | null {
  return stats.responses === 0 ? null : stats.responseMsTotal / stats.responses;
}

/** What a platform administrator enters to register or update an institution; counters are dispatch's own. */
export const InstitutionInput = Institution.pick({
  id: true,
  name: true,
  creditCode: true,
  regions: true,
  categories: true,
  capacity: true,
  sealId: true,
}).extend({ status: z.enum(INSTITUTION_STATUSES).default('ACTIVE') });

/** Input of {@link registerInstitution}: see {@link InstitutionInput}. */
export type InstitutionInput = z.input<typeof InstitutionInput>;

function parseInstitutionInput(input: InstitutionInput): z.output<typeof InstitutionInput> {
  const parsed = InstitutionInput.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'input';
  throw new ValidationError(`Institution ${field}: ${issue.message}. Correct it and register again.`, {
    details: { field },
  });
}

/**
 * Register an institution, or update the profile of one already registered (same id): name, credit code, regions,
 * categories, capacity and seal change; its open count and statistics are kept. A status given is a person's
 * decision: it replaces the current one and ends any penalty suspension's time limit (so `SUSPENDED` lasts until
 * lifted, and `ACTIVE` lifts a penalty early). An update without a status keeps the status and suspension as they
 * are. A new institution starts `ACTIVE` unless told otherwise, with empty statistics and a ledger of zero balances,
 * written in the same transaction. Another institution with the same credit code fails with `DUPLICATE`.
 */
export async function registerInstitution(
  tx: PersistenceTransaction,
  input: InstitutionInput,
  now: number,
): Promise<Stored<Institution>> {
  const profile = parseInstitutionInput(input);
  const existing = await institutionRepository.get(tx, profile.id);
  if (existing) {
    const { sealId: _dropped, ...kept } = existing.record;
    // Editing a profile must not lift a suspension by accident: only a status actually given changes it.
    const status =
      input.status === undefined
        ? { status: kept.status, suspendedUntil: kept.suspendedUntil }
        : { status: profile.status, suspendedUntil: null };
    return institutionRepository.update(tx, existing, { ...kept, ...profile, ...status }, now);
  }
  const stored = await institutionRepository.insert(
    tx,
    { ...profile, openCount: 0, suspendedUntil: null, stats: emptyDispatchStats() },
    now,
  );
  await ledgerBalancesRepository.insert(tx, zeroBalances(profile.id), now);
  return stored;
}

/** The institution with this id; `NotFoundError` when none is registered. */
export async function getInstitution(tx: PersistenceTransaction, id: string): Promise<Stored<Institution>> {
  const found = await institutionRepository.get(tx, id);
  if (!found) throw new NotFoundError(`There is no institution ${id}. Register it first, or check the id.`);
  return found;
}

/** Which institutions {@link listInstitutions} returns: by status, in id order, a page at a time. */
export interface InstitutionFilter {
  status?: InstitutionStatus;
  /** Only ids after this one (the last id of the previous page). */
  afterId?: string;
  /** Default 100. */
  limit?: number;
}

/** Institutions ordered by id. */
export async function listInstitutions(
  tx: PersistenceTransaction,
  filter: InstitutionFilter = {},
): Promise<Stored<Institution>[]> {
  return institutionRepository.find(tx, {
    ...(filter.status ? { tags: { status: filter.status } } : {}),
    ...(filter.afterId !== undefined ? { afterId: filter.afterId } : {}),
    limit: filter.limit ?? 100,
  });
}
