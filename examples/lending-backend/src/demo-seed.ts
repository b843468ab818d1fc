/**
 * Demo data, so the service signs from its first start: the demo contract templates imported and approved,
 * and every configured funder registered as an institution with a deposit (头寸). A host does the first part in its
 * back office (maker-checker approval) and the deposits from real payments; registering funders from configuration
 * at start-up is a reasonable production pattern.
 */
import { readFileSync } from 'node:fs';
import type { DispatchActor, Sealflow } from '@sealflow/core';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { TEMPLATES } from './demo-templates.js';
import type { FunderAccount } from './options.js';

/** Who registers institutions at start-up: recorded in their audit trail. */
export const STARTUP_ADMIN: DispatchActor = { id: 'system:startup', roles: ['platform-admin'] };

const editor = { id: 'demo-seed.editor', roles: ['template-editor'] };
const approver = { id: 'demo-seed.approver', roles: ['template-approver'] };

/** Register (or update) each funder as an institution with its own seal; registering again keeps its statistics. */
export async function registerFunders(sealflow: Sealflow, funders: readonly FunderAccount[]): Promise<void> {
  const dispatch = sealflow.dispatch!;
  for (const funder of funders) {
    await dispatch.institutions.register(STARTUP_ADMIN, {
      id: funder.id,
      name: funder.name,
      creditCode: funder.creditCode,
      regions: funder.regions,
      categories: funder.categories,
      capacity: funder.capacity,
      sealId: funder.sealId,
    });
  }
}

/** The demo templates (approved once) and a demo deposit per funder (its idempotency key makes it once). */
export async function seedDemo(sealflow: Sealflow, funders: readonly FunderAccount[]): Promise<void> {
  const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  for (const template of TEMPLATES) {
    if (await sealflow.templates.getEffective(template.code)) continue;
    const draft = await sealflow.templates.importTemplate(editor, { ...template, pdf });
    await sealflow.templates.submit(editor, draft.id);
    await sealflow.templates.approve(approver, draft.id);
  }
  for (const funder of funders) {
    await sealflow.dispatch!.institutions.topUp(STARTUP_ADMIN, {
      institutionId: funder.id,
      account: 'deposit',
      amountFen: 1_000_000_000, // 1 000 万元
      key: `demo-deposit:${funder.id}`,
    });
  }
}
