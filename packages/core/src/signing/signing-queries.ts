/**
 * What the back office reads: records found by business number, customer, scene, status or time; the signed
 * documents, checked against the evidence on every download; and where a person signs at the vendor.
 */
import { z } from 'zod';
import { SealflowError } from '../errors.js';
import { ownValue } from '../own-property.js';
import { archivedDocuments } from './evidence.js';
import type { SigningGateway } from './gateway.js';
import { type SigningRecord, signingRecordRepository } from './records.js';
import { parseShape, SigningQueryShape } from './request-shape.js';
import { configError, requireRecord, type SigningServiceContext } from './service-context.js';
import type { DownloadedDocument, SigningQuery } from './signing-service.js';

/** Records scanned per page; the query's own limit applies to what is returned. */
const PAGE = 200;

export async function findRecords(ctx: SigningServiceContext, raw: SigningQuery = {}): Promise<SigningRecord[]> {
  const query = parseShape(SigningQueryShape, raw, 'query');
  const limit = query.limit ?? 100;
  const tags: Record<string, string> = {};
  if (query.businessNo !== undefined) tags.businessNo = query.businessNo;
  if (query.scene !== undefined) tags.scene = query.scene;
  if (query.status !== undefined) tags.status = query.status;
  if (query.customerIdNumber !== undefined) tags.customer = ctx.keys.idNumberHash(query.customerIdNumber);
  const out: SigningRecord[] = [];
  let afterId = query.afterId;
  for (;;) {
    const page = await ctx.transaction((tx) =>
      signingRecordRepository.find(tx, {
        tags,
        // createdAt ≤ updatedAt, so this narrows the scan without losing a record created in range.
        ...(query.from !== undefined ? { updatedFrom: query.from } : {}),
        ...(afterId !== undefined ? { afterId } : {}),
        limit: PAGE,
      }),
    );
    for (const { record } of page) {
      if (query.from !== undefined && record.createdAt < query.from) continue;
      if (query.to !== undefined && record.createdAt > query.to) continue;
      out.push(record);
      if (out.length >= limit) return out;
    }
    if (page.length < PAGE) return out;
    afterId = page.at(-1)?.record.id;
  }
}

/** The archived signed PDFs, read now and checked against the hashes in the evidence. */
export async function download(ctx: SigningServiceContext, recordId: string): Promise<DownloadedDocument[]> {
  const record = await requireRecord(ctx, recordId);
  if (record.status !== 'COMPLETED') {
    throw new SealflowError(
      'SIGNING_NOT_COMPLETED',
      `Signing ${recordId} is ${record.status}; only a completed signing has signed documents.`,
      { details: { recordId, status: record.status } },
    );
  }
  return (await archivedDocuments(ctx.evidenceDeps, recordId)).map((d) => ({
    documentKey: d.documentKey,
    fileName: d.fileName,
    fileId: d.fileId,
    sha256: d.sha256,
    bytes: d.bytes,
  }));
}

/** Where a person signs at the vendor, while the record's flow is open. */
export async function signerUrl(
  ctx: SigningServiceContext,
  recordId: string,
  role: string,
): Promise<{ url: string; expiresAt?: number }> {
  parseShape(
    z.string().regex(/^[a-z][A-Za-z0-9]{0,39}$/, { message: 'must be a party role such as borrower.' }),
    role,
    'role',
  );
  const record = await requireRecord(ctx, recordId);
  if (record.vendor.flowId === null || record.status !== 'SIGNING') {
    throw new SealflowError(
      'SIGNING_NOT_AT_VENDOR',
      `Signing ${recordId} has no open vendor flow (${record.status}).`,
      {
        details: { recordId },
      },
    );
  }
  const gateway = ownValue<SigningGateway>(ctx.options.vendors, record.vendor.id);
  if (!gateway) throw configError(`Vendor ${record.vendor.id} is not configured.`, { vendorId: record.vendor.id });
  return gateway.signerUrl(record.vendor.flowId, role, {
    idempotencyKey: `${recordId}:url:${role}:${ctx.clock.now()}`,
  });
}
