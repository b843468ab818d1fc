/**
 * The commands a lending system calls: start a signing (`sign`), let the assigned funder seal (`signAsFunder`), and
 * re-sign a failed signing (`resign`, 补签). Each is idempotent: asking again returns the signing already started.
 */
import { z } from 'zod';
import { SealflowError, ValidationError } from '../errors.js';
import { refuseIfRefused, refuseIfSignedAtVendor, startAttempt, startOnce } from './attempts.js';
import { plan, requestFingerprint } from './planning.js';
import { type SigningRecord, signingRecordRepository } from './records.js';
import { parseShape, SignRequestShape, signingRecordId } from './request-shape.js';
import { partiesFor, type SigningScene } from './scenes.js';
import { type OrganizationSealId, organizationSealIdSchema, SealNotOwnedError, sealAtVendor } from './seals.js';
import { configError, contextOf, latestAttempt, requireRecord, type SigningServiceContext } from './service-context.js';
import type { SealedRequest } from './signing-effects.js';
import { FunderNotAssignedError } from './signing-errors.js';
import type { FunderActor, SignRequest, SigningActor } from './signing-service.js';

/** Start signing, or return the signing already started for (businessNo, scene). Refusals throw, keeping a record. */
export async function sign(ctx: SigningServiceContext, raw: SignRequest): Promise<SigningRecord> {
  const request = parseShape(SignRequestShape, raw, 'request') as SignRequest;
  const scene = sceneOf(ctx, request);
  const funding = request.funding ?? scene.fundings[0]!;
  if (!scene.fundings.includes(funding)) {
    throw new ValidationError(`Scene ${scene.code} takes funding ${scene.fundings.join(' or ')}, not ${funding}.`, {
      details: { paths: ['request.funding'] },
    });
  }
  const needsFunder = partiesFor(scene, funding).some((p) => p.signing === 'ownCall');
  if (needsFunder && !request.funder) {
    throw new ValidationError(
      `A ${funding}-funded ${scene.code} needs the assigned funder: pass funder { id, name, creditCode }.`,
      { details: { paths: ['request.funder'] } },
    );
  }
  const sealed: SealedRequest = { borrower: request.borrower, values: request.values ?? {} };
  const funder = needsFunder ? (request.funder ?? null) : null;
  const { businessNo } = request;
  const recordId = signingRecordId(scene.code, businessNo, 1);
  const fingerprint = requestFingerprint(ctx, { businessNo, scene: scene.code, funding, funder, request: sealed });

  // Idempotent on (businessNo, scene): the same request again gets the same signing, never a second flow.
  return startOnce(
    ctx,
    { recordId, scene: scene.code, businessNo, attempt: 1, fingerprint },
    async () => {
      const planned = await plan(ctx, {
        recordId,
        scene,
        funding,
        funder,
        request: sealed,
        consent: request.consent,
        businessNo,
        attempt: 1,
        previousAttemptId: null,
        actorId: request.actor.id,
      });
      return startAttempt(ctx, planned, request.actor.id);
    },
    async () => {
      const latest = await latestAttempt(ctx, await requireRecord(ctx, recordId));
      refuseIfRefused(latest);
      return latest;
    },
  );
}

function sceneOf(ctx: SigningServiceContext, request: SignRequest): SigningScene {
  const scene = ctx.scenes.get(request.scene);
  if (!scene) {
    throw new ValidationError(
      `Unknown signing scene ${request.scene}; configured: ${[...ctx.scenes.keys()].join(', ')}.`,
      { details: { paths: ['request.scene'] } },
    );
  }
  return scene;
}

/** The assigned funder signs a funder-funded loan with its own seal. */
export async function signAsFunder(
  ctx: SigningServiceContext,
  actor: FunderActor,
  recordId: string,
  { sealId: asked }: { sealId: OrganizationSealId },
): Promise<SigningRecord> {
  parseShape(z.object({ id: z.string().min(1), funderId: z.string().min(1) }), actor, 'actor');
  parseShape(organizationSealIdSchema, asked, 'sealId');
  const record = await requireRecord(ctx, recordId);
  if (record.funding !== 'funder' || record.funderId !== actor.funderId) {
    throw new FunderNotAssignedError(recordId, actor.funderId);
  }
  // The flow is with one vendor by now (it never moves once started): the seal is the funder's seal there.
  const vendorId = record.vendor.id;
  const sealId = sealAtVendor(asked, vendorId);
  if (sealId === undefined) {
    throw new ValidationError(
      `Signing ${recordId} is with vendor ${vendorId}, but the seal ids given are for ${Object.keys(asked).join(', ')}: add sealId.${vendorId} (the funder's seal id at ${vendorId}).`,
      { details: { paths: [`sealId.${vendorId}`], recordId, vendorId } },
    );
  }
  if (!ctx.seals.belongsTo(sealId, { funderId: actor.funderId }, vendorId)) {
    throw new SealNotOwnedError(sealId, { funderId: actor.funderId }, { recordId, vendorId });
  }
  const notAwaiting = (status: string) =>
    new SealflowError(
      'SIGNING_NOT_AWAITING_FUNDER',
      `Signing ${recordId} is ${status}, not waiting for the funder's signature.`,
      { details: { recordId, status } },
    );
  if (record.status !== 'AWAITING_FUNDER') throw notAwaiting(record.status);
  try {
    await ctx.options.runtime.send(
      recordId,
      { type: 'FUNDER_SIGN', funderId: actor.funderId, actorId: actor.id, sealId, at: ctx.clock.now() },
      { actor: actor.id },
    );
  } catch (error) {
    if (error instanceof SealflowError && ['EVENT_NOT_ACCEPTED', 'WORKFLOW_FINISHED'].includes(error.code)) {
      throw notAwaiting((await requireRecord(ctx, recordId)).status);
    }
    throw error;
  }
  return requireRecord(ctx, recordId);
}

/** 补签: a new attempt of a FAILED record, linked to it; idempotent. */
export async function resign(
  ctx: SigningServiceContext,
  recordId: string,
  actor: SigningActor,
): Promise<SigningRecord> {
  parseShape(z.object({ id: z.string().min(1) }), actor, 'actor');
  const record = await requireRecord(ctx, recordId);
  if (record.nextAttemptId) return latestAttempt(ctx, record);
  if (record.status !== 'FAILED') {
    throw new SealflowError(
      'SIGNING_NOT_FAILED',
      `Signing ${recordId} is ${record.status}; only a FAILED signing can be re-signed (补签).`,
      { details: { recordId, status: record.status } },
    );
  }
  await refuseIfSignedAtVendor(ctx, record);
  const context = await contextOf(ctx, recordId);
  const scene = ctx.scenes.get(context.scene);
  if (!scene) throw configError(`Scene ${context.scene} is no longer configured.`, { scene: context.scene });
  const attempt = record.attempt + 1;
  const nextId = signingRecordId(scene.code, record.businessNo, attempt);
  // The fingerprint stays the first attempt's: it is what `sign` compares a repeated request with.
  const fingerprint = context.requestFingerprint;
  return startOnce(
    ctx,
    { recordId: nextId, scene: scene.code, businessNo: record.businessNo, attempt, fingerprint },
    async () => {
      const planned = await plan(ctx, {
        recordId: nextId,
        scene,
        funding: context.funding,
        funder: context.funder,
        request: ctx.keys.open<SealedRequest>(context.sealed),
        consent: context.consent,
        businessNo: record.businessNo,
        attempt,
        previousAttemptId: recordId,
        actorId: actor.id,
      });
      planned.input = { ...planned.input, requestFingerprint: fingerprint };
      // The failed attempt points at its successor in the same transaction that starts it.
      return startAttempt(ctx, planned, actor.id, async (tx) => {
        const stored = await signingRecordRepository.get(tx, recordId);
        if (stored && stored.record.nextAttemptId === null) {
          await signingRecordRepository.update(
            tx,
            stored,
            { ...stored.record, nextAttemptId: nextId },
            ctx.clock.now(),
          );
        }
      });
    },
    async () => latestAttempt(ctx, await requireRecord(ctx, nextId)),
  );
}
