/**
 * Reading templates: a version, the effective version of a code, lists by code, document type, status or time, a
 * code's history, and the guard signing calls (`requireEffective`).
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import { type TemplateHistoryEntry, TemplateStatus, type TemplateVersionView } from './model.js';
import { checkRef, TemplateStatusError } from './template-guards.js';
import type { TemplateListFilter } from './template-service.js';
import { heads, histories, type TemplateServiceContext, versions, view } from './template-store.js';

const TemplateListFilterShape = z
  .object({
    code: z.string().optional(),
    documentType: z.string().optional(),
    // A filter naming an unknown key would silently match everything: say what to use instead.
    scene: z
      .undefined({ error: 'filter by documentType (e.g. LOAN_CONTRACT); scene is not a template field.' })
      .optional(),
    status: TemplateStatus.optional(),
    updatedFrom: z.number().optional(),
    updatedTo: z.number().optional(),
    limit: z.number().int().positive().optional(),
    afterId: z.string().optional(),
  })
  .nullish()
  .transform((filter) => filter ?? {});

export async function getVersion(ctx: TemplateServiceContext, versionId: string): Promise<TemplateVersionView | null> {
  checkRef(versionId, 'versionId');
  const stored = await ctx.transaction((tx) => versions.get(tx, versionId));
  return stored ? view(stored) : null;
}

export async function getEffective(ctx: TemplateServiceContext, code: string): Promise<TemplateVersionView | null> {
  checkRef(code, 'code');
  return ctx.transaction(async (tx) => {
    const head = await heads.get(tx, code);
    if (!head?.record.effectiveVersionId) return null;
    const stored = await versions.get(tx, head.record.effectiveVersionId);
    return stored ? view(stored) : null;
  });
}

export async function listVersions(
  ctx: TemplateServiceContext,
  raw: TemplateListFilter = {},
): Promise<TemplateVersionView[]> {
  const parsed = TemplateListFilterShape.safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(
      `list filter — ${parsed.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; ')}`,
    );
  }
  const filter = parsed.data;
  const tags: Record<string, string> = {};
  if (filter.code !== undefined) tags.code = filter.code;
  // Stored under the tag `scene`, the name versions have always been tagged with, so every stored version matches.
  if (filter.documentType !== undefined) tags.scene = filter.documentType;
  if (filter.status !== undefined) tags.status = filter.status;
  const rows = await ctx.transaction((tx) =>
    versions.find(tx, {
      tags,
      ...(filter.updatedFrom !== undefined ? { updatedFrom: filter.updatedFrom } : {}),
      ...(filter.updatedTo !== undefined ? { updatedTo: filter.updatedTo } : {}),
      ...(filter.afterId !== undefined ? { afterId: filter.afterId } : {}),
      limit: filter.limit ?? 100,
    }),
  );
  return rows.map(view);
}

/** Every history entry of a code, oldest first. */
export async function history(ctx: TemplateServiceContext, code: string): Promise<TemplateHistoryEntry[]> {
  checkRef(code, 'code');
  const out: TemplateHistoryEntry[] = [];
  for (;;) {
    const page = await ctx.transaction((tx) =>
      histories.find(tx, {
        tags: { code },
        limit: 500,
        ...(out.length ? { afterId: out[out.length - 1]!.id } : {}),
      }),
    );
    out.push(...page.map((s) => s.record));
    if (page.length < 500) return out;
  }
}

/** The guard signing calls: the EFFECTIVE version for a code, or the version itself if it is EFFECTIVE. */
export async function requireEffective(
  ctx: TemplateServiceContext,
  codeOrVersionId: string,
): Promise<TemplateVersionView> {
  checkRef(codeOrVersionId, 'code or version id');
  return ctx.transaction(async (tx) => {
    const byId = await versions.get(tx, codeOrVersionId);
    if (byId) {
      if (byId.record.status === 'EFFECTIVE') return view(byId);
      throw new TemplateStatusError(
        'TEMPLATE_NOT_EFFECTIVE',
        `Template ${byId.record.id} is ${byId.record.status}, not EFFECTIVE: only an effective (生效) template may be ` +
          'used for signing.',
        { details: { versionId: byId.record.id, code: byId.record.code, status: byId.record.status } },
      );
    }
    const head = await heads.get(tx, codeOrVersionId);
    if (!head) {
      throw new NotFoundError(`There is no template version or code ${codeOrVersionId}.`, {
        details: { ref: codeOrVersionId },
      });
    }
    const effective = head.record.effectiveVersionId ? await versions.get(tx, head.record.effectiveVersionId) : null;
    if (effective?.record.status === 'EFFECTIVE') return view(effective);
    throw new TemplateStatusError(
      'TEMPLATE_NOT_EFFECTIVE',
      `Template ${codeOrVersionId} has no EFFECTIVE version: it must be approved before it is used for signing.`,
      { details: { code: codeOrVersionId, status: null } },
    );
  });
}
