/**
 * Starting an attempt exactly once per key (businessNo, scene, attempt), however many callers ask at the same time,
 * in this process or another: the first content to claim the key is validated and started, any other content is a
 * DUPLICATE, and callers with the same content get the claimant's record (or its refusal).
 */
import { ConflictError, NotFoundError, SealflowError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { Plan } from './planning.js';
import type { SigningRecord } from './records.js';
import { type ClaimOutcome, claimSigningKey, isClaimRace, releaseSigningKey } from './request-claims.js';
import { requireRecord, type SigningServiceContext } from './service-context.js';
import { SigningRefusedError } from './signing-errors.js';
import type { SigningContext } from './signing-machine.js';
import { SIGNING_WORKFLOW } from './signing-workflows.js';

/** How long a claimant may take to validate before another request may take the key over. */
const CLAIM_HOLD_MS = 60_000;
/** Callers waiting for a claimant in another process check every 25 ms, doubling to 1 s. */
const CLAIM_POLL_MS = 25;
const CLAIM_POLL_MAX_MS = 1_000;

/** Failure stages at which the workflow had not seen the flow completed (see `failureOf` in the machine). */
const FAILED_BEFORE_DOWNLOAD: readonly string[] = [
  'startingVendorFlow',
  'checkingStatus',
  'funderSigning',
  'vendorPhase',
];

/** The key an attempt is claimed under, with the fingerprint of the content claiming it. */
export interface AttemptKey {
  recordId: string;
  scene: string;
  businessNo: string;
  attempt: number;
  fingerprint: string;
}

/** Start an attempt from a plan; a refused plan still starts (and at once fails) the workflow, so a record is kept. */
export async function startAttempt(
  ctx: SigningServiceContext,
  planned: Plan,
  actorId: string,
  alongside?: (tx: PersistenceTransaction) => Promise<void>,
): Promise<SigningRecord> {
  const { recordId } = planned.input;
  const state = await ctx.options.runtime.start(SIGNING_WORKFLOW, {
    id: recordId,
    input: planned.input,
    actor: actorId,
    ifExists: 'return',
    ...(alongside ? { alongside } : {}),
  });
  // Only after a claim outlived its hold can someone else have started the attempt meanwhile: compare again.
  const started = state.context as SigningContext;
  if (started.requestFingerprint !== planned.input.requestFingerprint) {
    throw duplicateError(started.businessNo, started.scene, recordId);
  }
  const record = await requireRecord(ctx, recordId);
  refuseIfRefused(record, planned.error);
  return record;
}

export function duplicateError(businessNo: string, scene: string, recordId: string): ConflictError {
  return new ConflictError(
    'DUPLICATE',
    `Business number ${businessNo} was already sent for ${scene} with different content (record ${recordId}). Use a new business number, or resign the record.`,
    { details: { recordId } },
  );
}

/**
 * Claim the attempt's key with the request's fingerprint, then validate and start the attempt — once, however many
 * callers ask for the key at the same time, in this process or another. The content that claimed the key first
 * wins; any other content is a DUPLICATE. Callers with the same content wait for the claimant and get its record
 * (or its refusal); only the claimant validates, so the real-name verifier is asked once.
 */
export async function startOnce(
  ctx: SigningServiceContext,
  key: AttemptKey,
  start: () => Promise<SigningRecord>,
  existing: () => Promise<SigningRecord>,
): Promise<SigningRecord> {
  let waitedMs = 0;
  let pauseMs = CLAIM_POLL_MS;
  for (;;) {
    const outcome = await claimKey(ctx, key);
    if (outcome.kind === 'taken') throw duplicateError(key.businessNo, key.scene, key.recordId);
    if (outcome.kind === 'started') return existing();
    if (outcome.kind === 'claimed') return runClaimed(ctx, key, start);
    const local = ctx.validating.get(key.recordId);
    if (local) {
      // The same request, being validated here: its outcome is ours (a refusal is read from the record next).
      try {
        await local;
      } catch (error) {
        if (!(error instanceof SigningRefusedError)) throw error;
      }
      continue;
    }
    // Being validated by another process: poll until its attempt starts or its claim expires.
    if (waitedMs >= CLAIM_HOLD_MS + CLAIM_POLL_MAX_MS) {
      throw new SealflowError(
        'SIGNING_IN_PROGRESS',
        `Business number ${key.businessNo} for ${key.scene} is being validated by another request; ask again shortly.`,
        { retryable: true, details: { recordId: key.recordId } },
      );
    }
    await new Promise<void>((resolve) => ctx.scheduler.schedule(resolve, pauseMs));
    waitedMs += pauseMs;
    pauseMs = Math.min(pauseMs * 2, CLAIM_POLL_MAX_MS);
  }
}

/** We hold the claim: validate and start, letting callers in this process share the outcome meanwhile. */
async function runClaimed(
  ctx: SigningServiceContext,
  key: AttemptKey,
  start: () => Promise<SigningRecord>,
): Promise<SigningRecord> {
  const run = start().catch(async (error: unknown) => {
    // Validation could not finish (a refusal has started its FAILED attempt, which keeps the key): give the
    // key up for the next request rather than make it wait for the hold to expire. The hold covers a failure.
    await ctx
      .transaction((tx) => releaseSigningKey(tx, key.recordId, key.fingerprint, ctx.clock.now()))
      .catch(() => {});
    throw error;
  });
  ctx.validating.set(key.recordId, run);
  try {
    return await run;
  } finally {
    if (ctx.validating.get(key.recordId) === run) ctx.validating.delete(key.recordId);
  }
}

async function claimKey(ctx: SigningServiceContext, key: AttemptKey): Promise<ClaimOutcome> {
  for (let race = 0; ; race++) {
    try {
      return await ctx.transaction((tx) =>
        claimSigningKey(tx, { ...key, now: ctx.clock.now(), holdMs: CLAIM_HOLD_MS }),
      );
    } catch (error) {
      // Someone claimed the key between our read and our write: read again (at most a few times in practice).
      if (!isClaimRace(error) || race >= 10) throw error;
    }
  }
}

/** A record refused at validation is thrown as the refusal, with the original error as cause when we have it. */
export function refuseIfRefused(record: SigningRecord, cause: SealflowError | null = null): void {
  if (record.status === 'FAILED' && record.failure?.stage === 'validating') {
    throw new SigningRefusedError(record.id, record.failure, cause ?? undefined);
  }
}

/**
 * A record that failed before its flow was downloaded says "not signed"; the vendor has the last word. If the vendor
 * completed the flow anyway (a record written by an older release, a vendor that reported a state it then left), a
 * re-sign would make a second contract for the same loan: refuse it. Failures after the download (the signed output
 * was refused) are what a re-sign is for.
 */
export async function refuseIfSignedAtVendor(ctx: SigningServiceContext, record: SigningRecord): Promise<void> {
  const { id: vendorId, flowId } = record.vendor;
  const gateway = ctx.options.vendors[vendorId];
  if (!flowId || !gateway || !FAILED_BEFORE_DOWNLOAD.includes(record.failure?.stage ?? '')) return;
  let status: string;
  try {
    ({ status } = await gateway.getFlow(flowId, { idempotencyKey: `${record.id}:resign-check` }));
  } catch (error) {
    if (error instanceof NotFoundError) return;
    throw error;
  }
  if (status !== 'completed') return;
  throw new SealflowError(
    'SIGNING_COMPLETED_AT_VENDOR',
    `Signing ${record.id} is FAILED (${record.failure?.code}), but vendor ${vendorId} completed its flow ${flowId}: ` +
      'the contract is signed. A re-sign (补签) would make a second contract, so none was started; have the signed ' +
      'documents retrieved from the vendor instead.',
    { details: { recordId: record.id, vendorId, flowId, failure: record.failure?.code } },
  );
}
