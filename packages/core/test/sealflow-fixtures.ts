/** What the facade tests share: the least a host passes, an approved loan template, and a loan signing request. */
import { expect } from 'vitest';
import { dateInChina, type Sealflow, type SealflowOptions, type SignRequest, silentLogger } from '../src/index.js';
import { createMemorySigningVendor } from '../src/memory/index.js';
import { BORROWER, definitionWith, HASH_KEY, ORGANIZATIONS } from './signing-fixtures.js';
import { CONTRACT_PDF, editor } from './template-fixtures.js';

export const verified = { check: async () => ({ verified: true, method: 'three-element' }) };

/** The least a host passes: a vendor, the real-name check, the hash key and the platform's seal. */
export function minimal(overrides: Partial<SealflowOptions> = {}): SealflowOptions {
  return {
    vendors: { memory: createMemorySigningVendor() },
    identityVerifier: verified,
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_V' } },
    logger: silentLogger,
    worker: { pollMs: 5 },
    ...overrides,
  };
}

export async function approvedLoanTemplate(sealflow: Sealflow): Promise<string> {
  const draft = await sealflow.templates.importTemplate(editor, {
    code: 'LOAN_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: definitionWith(['platform']),
  });
  await sealflow.templates.submit(editor, draft.id);
  // One level by default, decided by the role `template-approver`.
  const approved = await sealflow.templates.approve({ id: 'amy', roles: ['template-approver'] }, draft.id);
  expect(approved.status).toBe('EFFECTIVE');
  return draft.id;
}

/** A loan starting on the signing date, as the template's business check requires. */
export function loan(businessNo: string, shown: string, now = Date.now()): SignRequest {
  const startDate = dateInChina(new Date(now));
  return {
    businessNo,
    scene: 'LOAN_CONTRACT',
    borrower: BORROWER,
    values: { loan: { amount: '50000.00', startDate, termMonths: 12 }, credit: { limit: '100000.00' } },
    consent: { at: Date.now(), channel: 'app', ip: '203.0.113.7', device: 'iPhone', documentVersionsShown: [shown] },
    actor: { id: 'lending-system' },
  };
}
