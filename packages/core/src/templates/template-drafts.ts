/**
 * Editing templates (后管): import a template PDF with its definition, edit the draft, start a new draft from the
 * effective version, and submit a draft for approval. A submitted version never changes again.
 *
 * Every command writes its change and its history in one transaction, re-reading the version inside it: the checks
 * made before (on a copy that someone may have changed since) are made again where they count.
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { inspectPdf } from '../pdf/inspect.js';
import {
  type ApprovalInput,
  approvalMakers,
  normaliseActorId,
  TEMPLATE_APPROVAL_WORKFLOW,
} from './approval-workflow.js';
import { diffDefinitions, summarizeChanges } from './definition-diff.js';
import {
  type TemplateDefinition,
  type TemplateDefinitionChanges,
  type TemplateDefinitionInput,
  type TemplatePdf,
  type TemplateVersion,
  type TemplateVersionView,
  templateVersionId,
} from './model.js';
import { checkRef, openConflict, requireDraft, requireRole, TemplateStatusError } from './template-guards.js';
import type { ImportTemplateInput, TemplateActor } from './template-service.js';
import {
  heads,
  loadVersion,
  makersOf,
  recordChange,
  type TemplateServiceContext,
  versions,
  view,
} from './template-store.js';
import {
  definitionProblems,
  TemplateDefinitionError,
  type TemplatePdfFacts,
  validateDefinition,
} from './validate-definition.js';

/**
 * The PDF facts a definition is validated against. Page boxes are kept with the PDF; seal keywords (and the boxes of a
 * version imported before they were kept) are looked up in the stored PDF when the definition needs them.
 */
async function pdfFacts(
  ctx: TemplateServiceContext,
  pdf: TemplatePdf,
  definition: TemplateDefinitionInput | TemplateDefinition,
): Promise<TemplatePdfFacts> {
  // Read before the definition is validated (validation needs the keywords found): tolerate any shape here.
  const parties: unknown[] = Array.isArray(definition.parties) ? definition.parties : [];
  const keywords = [
    ...new Set(
      parties.flatMap((p) => {
        const keyword = (p as { seal?: { keyword?: unknown } } | null)?.seal?.keyword;
        return typeof keyword === 'string' ? [keyword] : [];
      }),
    ),
  ];
  const facts = { pageCount: pdf.pageCount, fields: pdf.fields, pageBoxes: pdf.pages };
  if (keywords.length === 0 && pdf.pages) return facts;
  // Read from the stored original, which the store verifies against its hash on the way out.
  const { bytes } = await ctx.documents.get(pdf.fileId);
  const inspection = await inspectPdf(bytes, { keywords });
  return {
    ...facts,
    keywordsFound: [...new Set(inspection.keywordHits.map((h) => h.keyword))],
    pageBoxes: pdf.pages ?? inspection.pages,
  };
}

/** A new code's first version, or the next version of a code without an open one, as a DRAFT. */
export async function importTemplate(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  input: ImportTemplateInput,
): Promise<TemplateVersionView> {
  requireRole(actor, ctx.editorRole, 'import a template');
  if (typeof input !== 'object' || input === null)
    throw new ValidationError('importTemplate needs { code, name, documentType, pdf }.');
  if ('scene' in input && !('documentType' in input)) {
    throw new ValidationError(
      'importTemplate takes the kind of document as documentType (e.g. LOAN_CONTRACT), not scene.',
      {
        details: { path: 'documentType' },
      },
    );
  }
  if (!(input.pdf instanceof Uint8Array)) {
    throw new ValidationError('pdf must be the template PDF as a Uint8Array (a Buffer is fine).', {
      details: { path: 'pdf' },
    });
  }
  // Inspect and validate before storing anything, so a bad upload leaves no trace. A definition whose shape is
  // already wrong is refused before the PDF is parsed: its problems do not depend on the PDF.
  const given = { ...input.definition, code: input.code, name: input.name, documentType: input.documentType };
  const shape = definitionProblems(given, { pageCount: 0, fields: [] });
  if (!shape.definition) throw new TemplateDefinitionError(shape.problems);
  const inspection = await inspectPdf(input.pdf);
  const pdfFields = inspection.fields.map((f) => ({
    name: f.name,
    type: f.type,
    page: f.page,
    rect: f.rect,
    ...(f.maxLength !== undefined ? { maxLength: f.maxLength } : {}),
  }));
  const definition = validateDefinition(given, {
    pageCount: inspection.pageCount,
    fields: pdfFields,
    pageBoxes: inspection.pages,
  });
  const existing = await ctx.transaction((tx) => heads.get(tx, definition.code));
  if (existing?.record.openVersionId) throw openConflict(existing.record);

  const nextVersion = (existing?.record.latestVersion ?? 0) + 1;
  const document = await ctx.documents.put({
    bytes: input.pdf,
    contentType: 'application/pdf',
    key: `templates/${definition.code}/v${nextVersion}.pdf`,
    metadata: { kind: 'template', code: definition.code },
  });
  // If the transaction below fails the stored PDF is unreferenced; the document store's retention removes it.
  return ctx.transaction(async (tx) => {
    const head = await heads.get(tx, definition.code);
    if (head?.record.openVersionId) throw openConflict(head.record);
    const number = (head?.record.latestVersion ?? 0) + 1;
    const version: TemplateVersion = {
      id: templateVersionId(definition.code, number),
      code: definition.code,
      version: number,
      definition,
      pdf: {
        fileId: document.fileId,
        sha256: document.sha256,
        pageCount: inspection.pageCount,
        fields: pdfFields,
        pages: inspection.pages.map(({ x, y, width, height }) => ({ x, y, width, height })),
      },
      ...freshDraft(actor, null),
    };
    const stored = await versions.insert(tx, version, ctx.clock.now());
    await recordChange(ctx, tx, head, version.code, { latestVersion: number, openVersionId: version.id }, [
      {
        version,
        action: 'imported',
        actorId: actor.id,
        summary: `v${number} imported: ${inspection.pageCount} pages, ${pdfFields.length} fields, ${definition.variables.length} variables`,
      },
    ]);
    return view(stored);
  });
}

/** Change a DRAFT's definition; the history keeps a readable diff, and the editor becomes one of its makers. */
export async function updateDraft(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  versionId: string,
  changes: TemplateDefinitionChanges,
): Promise<TemplateVersionView> {
  requireRole(actor, ctx.editorRole, 'edit a template');
  if (typeof changes !== 'object' || changes === null) throw new ValidationError('changes must be an object.');
  const stored = await ctx.transaction((tx) => loadVersion(tx, versionId));
  requireDraft(stored.record, 'edited');
  if ('code' in changes && (changes as { code?: unknown }).code !== stored.record.code) {
    throw new ValidationError(`The code of a template never changes; import a new template for a new code.`, {
      details: { path: 'code' },
    });
  }
  // An explicit `undefined` means "not changed", not "reset to the default".
  const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
  const merged = { ...stored.record.definition, ...given, code: stored.record.code };
  const definition = validateDefinition(merged, await pdfFacts(ctx, stored.record.pdf, merged));
  return ctx.transaction(async (tx) => {
    const fresh = await loadVersion(tx, versionId);
    requireDraft(fresh.record, 'edited');
    const diff = diffDefinitions(fresh.record.definition, definition);
    if (diff.length === 0) return view(fresh);
    const makers = await makersOf(tx, fresh.record);
    const version: TemplateVersion = {
      ...fresh.record,
      definition,
      makers: [...new Set([...makers, normaliseActorId(actor.id)])],
    };
    const updated = await versions.update(tx, fresh, version, ctx.clock.now());
    await recordChange(ctx, tx, await heads.get(tx, version.code), version.code, {}, [
      { version, action: 'updated', actorId: actor.id, changes: diff, summary: summarizeChanges(diff) },
    ]);
    return view(updated);
  });
}

/** A new DRAFT copied from the EFFECTIVE version, which stays effective until the draft is approved. */
export async function reviseEffective(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  code: string,
): Promise<TemplateVersionView> {
  requireRole(actor, ctx.editorRole, 'revise a template');
  checkRef(code, 'code');
  return ctx.transaction(async (tx) => {
    const head = await heads.get(tx, code);
    if (!head) throw new NotFoundError(`There is no template with code ${code}.`, { details: { code } });
    if (head.record.effectiveVersionId === null) {
      throw new TemplateStatusError(
        'TEMPLATE_NOT_EFFECTIVE',
        `Template ${code} has no EFFECTIVE version to revise; edit its draft instead.`,
        { details: { code } },
      );
    }
    if (head.record.openVersionId) throw openConflict(head.record);
    const effective = await loadVersion(tx, head.record.effectiveVersionId);
    const number = head.record.latestVersion + 1;
    const version: TemplateVersion = {
      ...effective.record,
      id: templateVersionId(code, number),
      version: number,
      // The people who made the effective version are not makers of this one unless they edit it.
      ...freshDraft(actor, effective.record.id),
    };
    const stored = await versions.insert(tx, version, ctx.clock.now());
    await recordChange(ctx, tx, head, code, { latestVersion: number, openVersionId: version.id }, [
      {
        version,
        action: 'revised',
        actorId: actor.id,
        summary: `v${number} drafted from effective v${effective.record.version}`,
      },
    ]);
    return view(stored);
  });
}

/** Validate a DRAFT for signing and start its approval, with everyone who made it barred from approving it. */
export async function submit(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  versionId: string,
): Promise<TemplateVersionView> {
  requireRole(actor, ctx.editorRole, 'submit a template for approval');
  const current = await ctx.transaction((tx) => loadVersion(tx, versionId));
  requireDraft(current.record, 'submitted');
  const facts = await pdfFacts(ctx, current.record.pdf, current.record.definition);
  validateDefinition(current.record.definition, facts, { stage: 'submit' });
  const makers = approvalMakers(actor.id, await ctx.transaction((tx) => makersOf(tx, current.record)));
  const input: ApprovalInput = {
    versionId,
    code: current.record.code,
    version: current.record.version,
    submittedBy: actor.id,
    makers,
    levels: ctx.levels.map((l) => ({ name: l.name, roles: [...l.roles] })),
    deadlineMs: ctx.deadlineMs,
  };
  const workflowId = `${TEMPLATE_APPROVAL_WORKFLOW}:${versionId}`;
  await ctx.runtime.start(TEMPLATE_APPROVAL_WORKFLOW, {
    id: workflowId,
    input,
    actor: actor.id,
    alongside: async (tx) => {
      // Re-read inside the transaction: the checks above ran on a copy that someone may have changed since.
      const fresh = await loadVersion(tx, versionId);
      requireDraft(fresh.record, 'submitted');
      validateDefinition(fresh.record.definition, facts, { stage: 'submit' });
      // Someone who edited the draft after the request was built would be missing from its makers, and could
      // then approve their own edit: submit what the submitter saw, or nothing.
      const lateMakers = (await makersOf(tx, fresh.record)).filter((maker) => !makers.includes(maker));
      if (lateMakers.length > 0) {
        throw new ConflictError(
          'VERSION_CONFLICT',
          `Template ${versionId} was edited while it was being submitted. Review the latest changes and submit again.`,
          { retryable: true, details: { versionId } },
        );
      }
      const now = ctx.clock.now();
      const version: TemplateVersion = {
        ...fresh.record,
        status: 'PENDING_APPROVAL',
        makers,
        submittedBy: actor.id,
        submittedAt: now,
        approvalWorkflowId: workflowId,
      };
      await versions.update(tx, fresh, version, now);
      await recordChange(ctx, tx, await heads.get(tx, version.code), version.code, {}, [
        {
          version,
          action: 'submitted',
          actorId: actor.id,
          summary: `v${version.version} submitted for approval (${ctx.levels.map((l) => l.name).join(' → ')})`,
        },
      ]);
    },
  });
  return view(await ctx.transaction((tx) => loadVersion(tx, versionId)));
}

/** The state of a version just opened as a draft by `actor`: its only maker, nothing submitted or decided yet. */
function freshDraft(actor: { id: string }, revisedFrom: string | null) {
  return {
    status: 'DRAFT' as const,
    createdBy: actor.id,
    makers: [normaliseActorId(actor.id)],
    revisedFrom,
    submittedBy: null,
    submittedAt: null,
    approvals: [],
    escalatedAt: null,
    decision: null,
    approvalWorkflowId: null,
    supersededBy: null,
  };
}
