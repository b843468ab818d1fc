/**
 * Chapter 1 — templates (录入 → 配置 → 审批): the 授信合同, 数据查询授权书 and 借款合同 imported with their variables,
 * parties and checks (`template-definitions.ts`), taken through 法务 then 风控. The first 借款合同 draft is rejected
 * and becomes 失效 (INVALID); the corrected one becomes 生效 (EFFECTIVE), the only status signing accepts.
 */
import { readFileSync } from 'node:fs';
import { SealflowError, type TemplateVersionView } from '@sealflow/core';
import { CONTRACT_TEMPLATE_PDF } from '../../fixtures/paths.js';
import { TEMPLATE_STAFF } from './cast.js';
import { type Chapter, count } from './narration.js';
import { loanContractWithoutRate, TEMPLATES } from './template-definitions.js';

export interface TemplatesOutcome {
  /** Template code → its effective version id. */
  effective: Record<string, string>;
  /** The rejected first draft of the 借款合同. */
  rejected: TemplateVersionView;
  /** Code and maker-checker refusal of the submitter's own approval. */
  selfApprovalRefused: string;
  /** The history's summary of the edit that added the annual rate to the second draft. */
  rateAdded: string[];
}

const { editor, legal, risk } = TEMPLATE_STAFF;

export async function configureTemplates({ qs, log }: Chapter): Promise<TemplatesOutcome> {
  const { templates } = qs.sealflow;
  const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
  const describe = (v: TemplateVersionView) =>
    `${v.id.padEnd(22)} ${v.status.padEnd(10)} ${v.definition.name} (${count(v.definition.variables.length, 'variable')}, ` +
    `${count(v.definition.parties.length, 'party', 'parties')}, ${count(v.definition.checks.length, 'check')})`;

  // The first 借款合同 draft: 法务 finds the annual rate missing and rejects it, with the reason kept in its history.
  const [loan, ...creditDocuments] = TEMPLATES;
  const draft = await templates.importTemplate(editor, { ...loan, definition: loanContractWithoutRate, pdf });
  await templates.submit(editor, draft.id);
  const rejected = await templates.reject(legal, draft.id, '未载明年化利率，不符合息费披露要求');
  log(`   ${describe(rejected)}: 法务 rejected it (失效): ${rejected.decision?.reason}`);

  const effective: Record<string, string> = {};
  let selfApprovalRefused = '';
  let rateAdded: string[] = [];
  for (const template of [loan, ...creditDocuments]) {
    // The 借款合同 is imported again as it was rejected, then edited to add the rate: a draft changes until submitted.
    const definition = template === loan ? loanContractWithoutRate : template.definition;
    let version = await templates.importTemplate(editor, { ...template, definition, pdf });
    if (template === loan) {
      version = await templates.updateDraft(editor, version.id, { variables: template.definition.variables });
      const [updated] = (await templates.history(template.code)).filter((entry) => entry.action === 'updated');
      rateAdded = (updated?.changes ?? []).map((change) => change.summary);
      log(`   ${version.id}: draft edited: ${rateAdded.join('; ')}`);
    }
    await templates.submit(editor, version.id);
    if (template === loan) {
      // Maker-checker: whoever submitted cannot approve. Typed errors carry a stable code to branch on.
      const refused = await templates.approve(editor, version.id).catch((error: unknown) => error);
      if (!(refused instanceof SealflowError)) throw new Error('The submitter was allowed to approve.');
      selfApprovalRefused = refused.code;
      log(`   ${version.id}: the submitter's own approval is refused: ${refused.code}`);
    }
    await templates.approve(legal, version.id); // 法务
    const approved = await templates.approve(risk, version.id); // 风控: the last level, so it takes effect
    effective[template.code] = approved.id;
    log(`   ${describe(approved)}`);
  }
  return { effective, rejected, selfApprovalRefused, rateAdded };
}
