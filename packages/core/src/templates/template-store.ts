/**
 * Where templates live: versions, per-code heads (version counter, effective and open version — the head's
 * conditional update is what serialises competing changes to one code) and history entries, as repositories over
 * the persistence's entity store; and what every command and query of the template service shares.
 */
import type { Clock } from '../ports/clock.js';
import type { DocumentStore } from '../ports/document-store.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { defineRepository, type Stored } from '../repository.js';
import type { Runtime } from '../runtime/runtime.js';
import { type ApprovalLevel, normaliseActorId } from './approval-workflow.js';
import {
  type DefinitionChange,
  type TEMPLATE_HISTORY_ACTIONS,
  TemplateHead,
  TemplateHistoryEntry,
  TemplateVersion,
  type TemplateVersionView,
} from './model.js';
import { NotFoundError } from '../errors.js';
import { checkRef } from './template-guards.js';

/** The service's configuration with its defaults filled in, and its one way into a transaction. */
export interface TemplateServiceContext {
  runtime: Runtime;
  documents: DocumentStore;
  clock: Clock;
  /** The role that may import, edit and submit templates. */
  editorRole: string;
  /** The approval levels every new submission goes through, in order. */
  levels: readonly ApprovalLevel[];
  /** Escalate a request still undecided this many ms after submission; null: never. */
  deadlineMs: number | null;
  transaction<T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T>;
}

export const templateVersionRepository = defineRepository({
  kind: 'template-version',
  schema: TemplateVersion,
  label: 'template version',
  id: (v) => v.id,
  // The document type's tag keeps the name `scene`: versions stored earlier carry it, and `list` must find them too.
  tags: (v) => ({ code: v.code, scene: v.definition.documentType, status: v.status }),
  uniqueKey: (v) => `${v.code}@${v.version}`,
});

export const templateHeadRepository = defineRepository({
  kind: 'template',
  schema: TemplateHead,
  label: 'template',
  id: (h) => h.code,
});

export const templateHistoryRepository = defineRepository({
  kind: 'template-history',
  schema: TemplateHistoryEntry,
  label: 'template history entry',
  id: (e) => e.id,
  tags: (e) => ({ code: e.code, versionId: e.versionId, action: e.action }),
  uniqueKey: (e) => e.eventId,
});

export const versions = templateVersionRepository;
export const heads = templateHeadRepository;
export const histories = templateHistoryRepository;

export type HistoryAction = (typeof TEMPLATE_HISTORY_ACTIONS)[number];
export interface HistoryInput {
  version: TemplateVersion;
  action: HistoryAction;
  actorId: string;
  summary: string;
  changes?: DefinitionChange[];
  reason?: string | null;
  eventId?: string | null;
}

/** History actions whose actor worked on the version (a maker); decisions are not among them. */
const MAKER_ACTIONS: ReadonlySet<HistoryAction> = new Set(['imported', 'revised', 'updated', 'submitted']);

export async function loadVersion(tx: PersistenceTransaction, versionId: string): Promise<Stored<TemplateVersion>> {
  checkRef(versionId, 'versionId');
  const stored = await versions.get(tx, versionId);
  if (!stored) throw new NotFoundError(`There is no template version ${versionId}.`, { details: { versionId } });
  return stored;
}

/** Insert history entries and move the head (counter, pointers) in one conditional write. */
export async function recordChange(
  ctx: TemplateServiceContext,
  tx: PersistenceTransaction,
  head: Stored<TemplateHead> | null,
  code: string,
  change: Partial<Omit<TemplateHead, 'code' | 'historySeq'>>,
  entries: HistoryInput[],
): Promise<void> {
  const now = ctx.clock.now();
  const base: TemplateHead = head?.record ?? {
    code,
    latestVersion: 0,
    effectiveVersionId: null,
    openVersionId: null,
    historySeq: 0,
  };
  let seq = base.historySeq;
  for (const entry of entries) {
    seq += 1;
    await histories.insert(
      tx,
      {
        id: `${code}/${String(seq).padStart(8, '0')}`,
        code,
        seq,
        versionId: entry.version.id,
        version: entry.version.version,
        action: entry.action,
        actorId: entry.actorId,
        at: now,
        summary: entry.summary,
        changes: entry.changes ?? [],
        reason: entry.reason ?? null,
        eventId: entry.eventId ?? null,
      },
      now,
    );
  }
  const next: TemplateHead = { ...base, ...change, historySeq: seq };
  if (head) await heads.update(tx, head, next, now);
  else await heads.insert(tx, next, now);
}

/**
 * The normalised ids of everyone who created, edited or submitted `version`. Versions stored before makers were
 * recorded have none; their creator and editors are read from the version's history instead.
 */
export async function makersOf(tx: PersistenceTransaction, version: TemplateVersion): Promise<string[]> {
  const known = [version.createdBy, ...version.makers, ...(version.submittedBy ? [version.submittedBy] : [])];
  if (version.makers.length === 0) {
    let afterId: string | undefined;
    for (;;) {
      const page = await histories.find(tx, {
        tags: { versionId: version.id },
        limit: 500,
        ...(afterId !== undefined ? { afterId } : {}),
      });
      for (const { record } of page) if (MAKER_ACTIONS.has(record.action)) known.push(record.actorId);
      if (page.length < 500) break;
      afterId = page[page.length - 1]!.record.id;
    }
  }
  return [...new Set(known.map(normaliseActorId))];
}

export function view(stored: Stored<TemplateVersion>): TemplateVersionView {
  return { ...stored.record, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
}
