/**
 * Claims on a signing attempt's key, `(scene, businessNo, attempt)`, taken before the request is validated.
 *
 * The claim stores the keyed fingerprint of the request's content with the key, and the transaction that claims the
 * key is the one that compares: whoever commits the claim first decides what the business number means, so of many
 * concurrent `sign` calls exactly one content wins and every other content is a DUPLICATE — whatever the timing.
 * Only the caller holding the claim validates and starts the attempt, so the customer's real-name verification is
 * asked once per signing; the others wait for the record.
 *
 * A claim is held for a while (`heldUntil`). A caller that crashes between claiming and starting leaves a claim that
 * expires; the next request for the key may then take it over (with its own content: the key never started a
 * signing, so nothing was promised under it).
 */
import { z } from 'zod';
import { ConflictError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository } from '../repository.js';
import { signingUniqueKey } from './records.js';

export const SigningClaim = z.object({
  /** The record id of the attempt the key belongs to. */
  id: z.string(),
  scene: z.string(),
  businessNo: z.string(),
  attempt: z.number().int().min(1),
  /** Keyed fingerprint of the request's content (no personal data in clear). */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  /** Until when the claimant may still be validating; 0 once it gave up. After it, the key may be taken over. */
  heldUntil: z.number().int(),
});
export type SigningClaim = z.infer<typeof SigningClaim>;

export const signingClaimRepository = defineRepository({
  kind: 'signing-claim',
  label: 'signing request',
  schema: SigningClaim,
  id: (claim) => claim.id,
  uniqueKey: (claim) => signingUniqueKey(claim.scene, claim.businessNo, claim.attempt),
});

export type ClaimOutcome =
  /** The caller holds the key: validate and start the attempt. */
  | { kind: 'claimed' }
  /** Another caller with the same content holds the key and is validating: wait for its record. */
  | { kind: 'held'; heldUntil: number }
  /** The attempt's workflow exists and was started with the same content. */
  | { kind: 'started' }
  /** The key belongs to other content. */
  | { kind: 'taken' };

export interface ClaimRequest {
  recordId: string;
  scene: string;
  businessNo: string;
  attempt: number;
  fingerprint: string;
  now: number;
  holdMs: number;
}

/** Read, compare and claim in one transaction; a concurrent claimant makes the insert fail and the caller retry. */
export async function claimSigningKey(tx: PersistenceTransaction, request: ClaimRequest): Promise<ClaimOutcome> {
  const started = await startedFingerprint(tx, request.recordId);
  if (started !== undefined) return started === request.fingerprint ? { kind: 'started' } : { kind: 'taken' };
  const stored = await signingClaimRepository.get(tx, request.recordId);
  const claim: SigningClaim = {
    id: request.recordId,
    scene: request.scene,
    businessNo: request.businessNo,
    attempt: request.attempt,
    fingerprint: request.fingerprint,
    heldUntil: request.now + request.holdMs,
  };
  if (!stored) {
    await signingClaimRepository.insert(tx, claim, request.now);
    return { kind: 'claimed' };
  }
  if (stored.record.heldUntil > request.now) {
    return stored.record.fingerprint === request.fingerprint
      ? { kind: 'held', heldUntil: stored.record.heldUntil }
      : { kind: 'taken' };
  }
  // Given up or expired without a workflow: nothing was started under the key, so this request may have it.
  await signingClaimRepository.update(tx, stored, claim, request.now);
  return { kind: 'claimed' };
}

/** Give the key up after validation could not finish (not after a refusal: that starts a FAILED attempt). */
export async function releaseSigningKey(
  tx: PersistenceTransaction,
  recordId: string,
  fingerprint: string,
  now: number,
): Promise<void> {
  if ((await startedFingerprint(tx, recordId)) !== undefined) return;
  const stored = await signingClaimRepository.get(tx, recordId);
  if (!stored || stored.record.fingerprint !== fingerprint || stored.record.heldUntil <= now) return;
  await signingClaimRepository.update(tx, stored, { ...stored.record, heldUntil: 0 }, now);
}

/**
 * The fingerprint an attempt's workflow was started with; undefined when there is no workflow. Read from the
 * workflow itself, so attempts started before claims existed are compared the same way.
 */
async function startedFingerprint(tx: PersistenceTransaction, recordId: string): Promise<string | undefined> {
  const row = await tx.workflows.get(recordId);
  if (!row) return undefined;
  const context = (row.snapshot as { context?: { requestFingerprint?: unknown } } | null)?.context;
  return typeof context?.requestFingerprint === 'string' ? context.requestFingerprint : '';
}

/** A claim that lost to a concurrent claimant (DUPLICATE on insert, VERSION_CONFLICT on take-over): read again. */
export function isClaimRace(error: unknown): boolean {
  return error instanceof ConflictError && (error.code === 'DUPLICATE' || error.code === 'VERSION_CONFLICT');
}
