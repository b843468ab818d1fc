/** What the API returns about signings: the record without hashes or internals, personal data masked. */
import { SIGNING_STATUS_LABELS, type SigningRecord } from '@sealflow/core';

export function signingView(record: SigningRecord) {
  return {
    id: record.id,
    businessNo: record.businessNo,
    scene: record.scene,
    funding: record.funding,
    funderId: record.funderId,
    attempt: record.attempt,
    status: record.status,
    statusLabel: SIGNING_STATUS_LABELS[record.status],
    stage: record.stage,
    customer: { maskedName: record.customer.maskedName, maskedIdNumber: record.customer.maskedIdNumber },
    documents: record.signed.map((d) => ({
      documentKey: d.documentKey,
      size: d.size,
      signatures: d.signatures,
    })),
    funderSignature: record.funderSignature
      ? {
          funderId: record.funderSignature.funderId,
          sealId: record.funderSignature.sealId,
          at: record.funderSignature.at,
        }
      : null,
    failure: record.failure ? { code: record.failure.code, message: record.failure.message } : null,
    createdAt: record.createdAt,
    completedAt: record.completedAt,
    nextAttemptId: record.nextAttemptId,
  };
}
