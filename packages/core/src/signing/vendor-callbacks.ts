/**
 * Vendor callbacks, as received from any HTTP framework: verified by the vendor's gateway, deduplicated by the
 * vendor's event id, and applied to the signing whose flow they are about.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, SealflowError } from '../errors.js';
import { ownValue } from '../own-property.js';
import type { RawCallback } from '../ports/signing-vendor.js';
import { defineRepository } from '../repository.js';
import type { SigningGateway } from './gateway.js';
import { flowTag, signingRecordRepository } from './records.js';
import type { SigningServiceContext } from './service-context.js';

/** Vendor callbacks already applied, by vendor and event id: a redelivery is acknowledged, not applied again. */
const callbackReceipts = defineRepository({
  kind: 'signing-callback',
  label: 'signing callback',
  schema: z.object({
    id: z.string(),
    vendorId: z.string(),
    eventId: z.string(),
    flowId: z.string(),
    kind: z.string(),
    recordId: z.string(),
    applied: z.boolean(),
    receivedAt: z.number().int(),
  }),
  id: (receipt) => receipt.id,
  uniqueKey: (receipt) => receipt.id,
  tags: (receipt) => ({ recordId: receipt.recordId }),
});

/** Verify, deduplicate and apply a vendor callback, as received. */
export async function handleVendorCallback(
  ctx: SigningServiceContext,
  vendorId: string,
  callback: RawCallback,
): Promise<{ status: 'accepted' | 'duplicate'; recordId?: string }> {
  const { transaction, clock } = ctx;
  const gateway = typeof vendorId === 'string' ? ownValue<SigningGateway>(ctx.options.vendors, vendorId) : undefined;
  if (!gateway) {
    const shown = typeof vendorId === 'string' ? vendorId.slice(0, 64) : `(a ${typeof vendorId})`;
    throw new NotFoundError(`No signing vendor "${shown}" is configured; check the vendor id in the callback URL.`, {
      details: { vendorId: shown },
    });
  }
  const event = await gateway.parseCallback(callback);
  const receiptId = createHash('sha256').update(`${vendorId}\u0000${event.eventId}`).digest('hex');
  if (await transaction((tx) => callbackReceipts.get(tx, receiptId))) return { status: 'duplicate' };
  const [found] = await transaction((tx) =>
    signingRecordRepository.find(tx, { tags: { flow: flowTag(vendorId, event.flowId) }, limit: 1 }),
  );
  if (!found) {
    // Possibly faster than our own record of the flow: ask the vendor to deliver it again.
    throw new SealflowError(
      'CALLBACK_UNKNOWN_FLOW',
      `Vendor ${vendorId} called back about flow ${event.flowId}, which no signing record knows (yet).`,
      { retryable: true, details: { vendorId, flowId: event.flowId } },
    );
  }
  const recordId = found.record.id;
  const receipt = (applied: boolean) => ({
    id: receiptId,
    vendorId,
    eventId: event.eventId,
    flowId: event.flowId,
    kind: event.kind,
    recordId,
    applied,
    receivedAt: clock.now(),
  });
  const isDuplicate = (error: unknown) => error instanceof SealflowError && error.code === 'DUPLICATE';
  try {
    await ctx.options.runtime.send(
      recordId,
      { type: 'VENDOR_CALLBACK', eventId: event.eventId, kind: event.kind },
      {
        actor: vendorId,
        alongside: (tx) => callbackReceipts.insert(tx, receipt(true), clock.now()).then(() => {}),
      },
    );
    return { status: 'accepted', recordId };
  } catch (error) {
    if (isDuplicate(error)) return { status: 'duplicate', recordId };
    if (!(error instanceof SealflowError && ['EVENT_NOT_ACCEPTED', 'WORKFLOW_FINISHED'].includes(error.code))) {
      throw error;
    }
  }
  // Authentic, but the workflow has moved on (it polled first, or finished): acknowledge and keep the receipt.
  try {
    await transaction((tx) => callbackReceipts.insert(tx, receipt(false), clock.now()));
  } catch (error) {
    if (isDuplicate(error)) return { status: 'duplicate', recordId };
    throw error;
  }
  return { status: 'accepted', recordId };
}
