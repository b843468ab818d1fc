/**
 * Template management (后管): import, edit, revise, submit for approval, decide, and the guard signing calls.
 *
 * State lives in three repositories over the persistence's entity store: versions, per-code heads (version counter,
 * effective and open version — the head's conditional update is what serialises competing changes to one code), and
 * history entries. Every command writes its domain change, its history and (for approval) the workflow transition
 * in one transaction, so a failure leaves nothing half-written.
 */
import { z } from 'zod';
import type { Clock } from '../ports/clock.js';
import type { DocumentStore } from '../ports/document-store.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { inspectPdf } from '../pdf/inspect.js';
import {
  ConflictError,
  IllegalTransitionError,
  NotFoundError,
  PermissionError,
  SealflowError,
  type SealflowErrorOptions,
  ValidationError,
} from '../errors.js';
import { defineRepository, type Stored } from '../repository.js';
import type { Runtime, WorkflowState } from '../runtime/runtime.js';
import type { WorkflowDefinition } from '../runtime/workflow-definition.js';
import {
  APPROVAL_ESCALATED_EVENT,
  type ApprovalContext,
  type ApprovalEscalatedEvent,
  type ApprovalEvent,
  type ApprovalInput,
  type ApprovalLevel,
  approvalMakers,
  approvalRefusal,
  normaliseActorId,
  rejectionRefusal,
  TEMPLATE_APPROVAL_WORKFLOW,
  templateApprovalWorkflow,
  withdrawalRefusal,
} from './approval-workflow.js';
import {
  type DefinitionChange,
  type TEMPLATE_HISTORY_ACTIONS,
  type TemplateDefinition,
  type TemplateDefinitionChanges,
  type TemplateDefinitionInput,
  TemplateHead,
  TemplateHistoryEntry,
  type TemplatePdf,
  TemplateStatus,
  TemplateVersion,
  type TemplateVersionView,
  templateVersionId,
} from './model.js';
import {
  definitionProblems,
  TemplateDefinitionError,
  type TemplatePdfFacts,
  validateDefinition,
} from './validate-definition.js';

// ---------------------------------------------------------------------------------------------------------------
// Public types

/** Who issues a command. Roles come from the host's own identity system. */
export interface TemplateActor {
  id: string;
  roles: readonly string[];
}

export interface TemplateServiceOptions {
  /** A runtime created with {@link templateWorkflows} among its workflows. */
  runtime: Runtime;
  /** Where template PDFs are kept. */
  documents: DocumentStore;
  /** Defaults to the runtime's clock. */
  clock?: Clock;
  /** The approval levels every submission goes through, in order, e.g. legal then risk. */
  approvalLevels: readonly ApprovalLevel[];
  /** The role that may import, edit and submit templates. Default `template-editor`. */
  editorRole?: string;
  /** Escalate a request still undecided this many ms after submission. Default: no deadline. */
  approvalDeadlineMs?: number | null;
}

export interface ImportTemplateInput {
  code: string;
  name: string;
  scene: string;
  /** The template PDF as exported by operations, with its blanks as form fields or known coordinates. */
  pdf: Uint8Array;
  /** Variables, parties, checks and vendor bindings; may be added later with `updateDraft`. */
  definition?: Omit<TemplateDefinitionInput, 'code' | 'name' | 'scene'>;
}

export interface TemplateListFilter {
  code?: string;
  scene?: string;
  status?: TemplateStatus;
  /** Inclusive bounds on the last change, epoch ms. */
  updatedFrom?: number;
  updatedTo?: number;
  /** Default 100. */
  limit?: number;
  /** Keyset pagination: pass the last id of the previous page. */
  afterId?: string;
}

export interface DecisionOptions {
  /** The level the approver saw on screen; defaults to the level deciding now. A stale level is refused. */
  level?: number;
}

export interface TemplateService {
  importTemplate(actor: TemplateActor, input: ImportTemplateInput): Promise<TemplateVersionView>;
  updateDraft(
    actor: TemplateActor,
    versionId: string,
    changes: TemplateDefinitionChanges,
  ): Promise<TemplateVersionView>;
  reviseEffective(actor: TemplateActor, code: string): Promise<TemplateVersionView>;
  submit(actor: TemplateActor, versionId: string): Promise<TemplateVersionView>;
  approve(actor: TemplateActor, versionId: string, options?: DecisionOptions): Promise<TemplateVersionView>;
  reject(
    actor: TemplateActor,
    versionId: string,
    reason: string,
    options?: DecisionOptions,
  ): Promise<TemplateVersionView>;
  withdraw(actor: TemplateActor, versionId: string): Promise<TemplateVersionView>;
  getVersion(versionId: string): Promise<TemplateVersionView | null>;
  getEffective(code: string): Promise<TemplateVersionView | null>;
  list(filter?: TemplateListFilter): Promise<TemplateVersionView[]>;
  history(code: string): Promise<TemplateHistoryEntry[]>;
  /** The guard signing calls: the EFFECTIVE version for a code, or the version itself if it is EFFECTIVE. */
  requireEffective(codeOrVersionId: string): Promise<TemplateVersionView>;
  /** Stop listening to the runtime's domain events. */
  close(): void;
}

/** The workflow definitions the runtime must be created with. */
export function templateWorkflows(): WorkflowDefinition[] {
  return [templateApprovalWorkflow];
}

/** A command that the version's status does not allow. `details.status` is the status found. */
export class TemplateStatusError extends SealflowError {
  constructor(
    code: 'TEMPLATE_VERSION_IMMUTABLE' | 'TEMPLATE_NOT_PENDING' | 'TEMPLATE_NOT_EFFECTIVE',
    message: string,
    options: SealflowErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Repositories

export const templateVersionRepository = defineRepository({
  kind: 'template-version',
  schema: TemplateVersion,
  label: 'template version',
  id: (v) => v.id,
  tags: (v) => ({ code: v.code, scene: v.definition.scene, status: v.status }),
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

const versions = templateVersionRepository;
const heads = templateHeadRepository;
const histories = templateHistoryRepository;

type HistoryAction = (typeof TEMPLATE_HISTORY_ACTIONS)[number];
interface HistoryInput {
  version: TemplateVersion;
  action: HistoryAction;
  actorId: string;
  summary: string;
  changes?: DefinitionChange[];
  reason?: string | null;
  eventId?: string | null;
}

// ---------------------------------------------------------------------------------------------------------------
// The service

export function createTemplateService(options: TemplateServiceOptions): TemplateService {
  const { runtime, documents } = options;
  const clock = options.clock ?? runtime.clock;
  const editorRole = options.editorRole ?? 'template-editor';
  const levels = checkLevels(options.approvalLevels);
  const deadlineMs = options.approvalDeadlineMs ?? null;
  if (deadlineMs !== null && (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0)) {
    throw new ValidationError('approvalDeadlineMs must be a positive whole number of milliseconds, or null.');
  }
  const transaction = <T>(work: (tx: PersistenceTransaction) => Promise<T>) => runtime.persistence.transaction(work);

  // ---- helpers bound to this service --------------------------------------------------------------------------

  async function loadVersion(tx: PersistenceTransaction, versionId: string): Promise<Stored<TemplateVersion>> {
    checkRef(versionId, 'versionId');
    const stored = await versions.get(tx, versionId);
    if (!stored) throw new NotFoundError(`There is no template version ${versionId}.`, { details: { versionId } });
    return stored;
  }

  /** Insert history entries and move the head (counter, pointers) in one conditional write. */
  async function record(
    tx: PersistenceTransaction,
    head: Stored<TemplateHead> | null,
    code: string,
    change: Partial<Omit<TemplateHead, 'code' | 'historySeq'>>,
    entries: HistoryInput[],
  ): Promise<void> {
    const now = clock.now();
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
  async function makersOf(tx: PersistenceTransaction, version: TemplateVersion): Promise<string[]> {
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

  function view(stored: Stored<TemplateVersion>): TemplateVersionView {
    return { ...stored.record, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
  }

  async function pdfFacts(
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
    if (keywords.length === 0) return { pageCount: pdf.pageCount, fields: pdf.fields };
    // Keywords are looked up in the stored original, which the store verifies against its hash on the way out.
    const { bytes } = await documents.get(pdf.fileId);
    const inspection = await inspectPdf(bytes, { keywords });
    return {
      pageCount: pdf.pageCount,
      fields: pdf.fields,
      keywordsFound: [...new Set(inspection.keywordHits.map((h) => h.keyword))],
    };
  }

  function requireRole(actor: TemplateActor, role: string, action: string): void {
    checkActor(actor);
    if (!actor.roles.includes(role)) {
      throw new PermissionError(`${actor.id} cannot ${action}: it needs the role ${role}.`, {
        details: { missingRole: role, actorId: actor.id },
      });
    }
  }

  function requireDraft(version: TemplateVersion, action: string): void {
    if (version.status !== 'DRAFT') {
      throw new TemplateStatusError(
        'TEMPLATE_VERSION_IMMUTABLE',
        `Template ${version.id} is ${version.status}, not DRAFT, so it cannot be ${action}: a submitted version never ` +
          `changes. ${version.status === 'EFFECTIVE' ? 'Use reviseEffective to start a new draft.' : 'Start a new draft of the code.'}`,
        { details: { versionId: version.id, status: version.status } },
      );
    }
  }

  function requirePending(
    version: TemplateVersion,
  ): asserts version is TemplateVersion & { approvalWorkflowId: string } {
    if (version.status !== 'PENDING_APPROVAL' || version.approvalWorkflowId === null) {
      throw new TemplateStatusError(
        'TEMPLATE_NOT_PENDING',
        `Template ${version.id} is ${version.status}, not PENDING_APPROVAL: there is no approval to decide` +
          (version.decision ? ` (it was ${version.decision.outcome} by ${version.decision.by}).` : '.'),
        { details: { versionId: version.id, status: version.status } },
      );
    }
  }

  function openConflict(head: TemplateHead): ConflictError {
    return new ConflictError(
      'DUPLICATE',
      `Template ${head.code} already has an open version ${head.openVersionId} (draft or in approval): ` +
        'edit, submit or withdraw that one instead of starting another.',
      { details: { code: head.code, openVersionId: head.openVersionId } },
    );
  }

  // ---- decisions ---------------------------------------------------------------------------------------------

  /**
   * Send a decision to the approval workflow; the domain writes ride along in the same transaction. If the machine
   * refuses it (someone decided first), reload and say which rule refused it rather than "event not accepted".
   */
  /**
   * The level an approver means when they do not say: the one their roles belong to. A legal approver who arrives
   * just after a colleague approved the legal level is told that level was decided, not that they lack the risk role.
   */
  function intendedLevel(context: ApprovalContext, actor: TemplateActor): number {
    const holds = (level: number) => context.levels[level - 1]?.roles.some((role) => actor.roles.includes(role));
    if (holds(context.level)) return context.level;
    // Only levels already decided: someone holding a later level's role who comes too early is told the role needed now.
    for (let level = context.level - 1; level >= 1; level--) if (holds(level)) return level;
    return context.level;
  }

  async function decide(actor: TemplateActor, versionId: string, event: (context: ApprovalContext) => ApprovalEvent) {
    checkActor(actor);
    const current = await transaction((tx) => loadVersion(tx, versionId));
    requirePending(current.record);
    const workflowId = current.record.approvalWorkflowId;
    const before = await runtime.get(workflowId);
    if (!before) throw new NotFoundError(`The approval workflow ${workflowId} of ${versionId} is missing.`);
    // The machine holds the makers of every request it started; requests started before makers were recorded know
    // only their submitter, so the version's own record is added. A pending version never changes, so neither does
    // this set: checking it here cannot race with anything.
    const makers = await transaction((tx) => makersOf(tx, current.record));
    const withMakers = (context: ApprovalContext): ApprovalContext => ({
      ...context,
      makers: [...new Set([...(context.makers ?? []), ...makers])],
    });
    const decision = event(before.context as ApprovalContext);
    const refusal = refusalOf(withMakers(before.context as ApprovalContext), decision);
    if (refusal) throw refusal;
    try {
      await runtime.send(workflowId, decision, {
        actor: actor.id,
        alongside: (tx, next) => applyDecision(tx, versionId, decision, next),
      });
    } catch (error) {
      if (!(error instanceof IllegalTransitionError)) throw error;
      const after = await runtime.get(workflowId);
      if (after && after.status === 'active') {
        const explained = refusalOf(withMakers(after.context as ApprovalContext), decision);
        if (explained) throw explained;
      }
      const now = await transaction((tx) => loadVersion(tx, versionId));
      requirePending(now.record);
      throw error;
    }
    return view(await transaction((tx) => loadVersion(tx, versionId)));
  }

  async function applyDecision(
    tx: PersistenceTransaction,
    versionId: string,
    event: ApprovalEvent,
    next: WorkflowState,
  ): Promise<void> {
    const stored = await loadVersion(tx, versionId);
    requirePending(stored.record);
    const context = next.context as ApprovalContext;
    const head = await heads.get(tx, stored.record.code);
    const now = clock.now();
    let version = stored.record;
    const entries: HistoryInput[] = [];
    let headChange: Partial<TemplateHead> = {};

    if (event.type === 'APPROVE') {
      // The levels the request was submitted with, even if the service's configuration changed since.
      const level = context.levels[event.level - 1];
      version = {
        ...version,
        approvals: [
          ...version.approvals,
          { level: event.level, name: level?.name ?? '', actorId: event.actorId, at: now },
        ],
      };
      entries.push({
        version,
        action: 'levelApproved',
        actorId: event.actorId,
        summary: `level ${event.level} (${level?.name}) approved by ${event.actorId}`,
      });
    }
    if (next.stateValue === 'approved') {
      version = {
        ...version,
        status: 'EFFECTIVE',
        decision: { outcome: 'approved', reason: null, by: event.actorId, at: now },
      };
      entries.push({
        version,
        action: 'approved',
        actorId: event.actorId,
        summary: `v${version.version} is now EFFECTIVE (生效)`,
      });
      const previousId = head?.record.effectiveVersionId ?? null;
      if (previousId !== null && previousId !== version.id) {
        const previous = await loadVersion(tx, previousId);
        const superseded: TemplateVersion = { ...previous.record, status: 'SUPERSEDED', supersededBy: version.id };
        await versions.update(tx, previous, superseded, now);
        entries.push({
          version: superseded,
          action: 'superseded',
          actorId: 'system',
          summary: `v${superseded.version} SUPERSEDED (已替代) by v${version.version}`,
        });
      }
      headChange = { effectiveVersionId: version.id, openVersionId: null };
    } else if (next.stateValue === 'rejected') {
      const reason = context.rejection?.reason ?? (event.type === 'REJECT' ? event.reason : '');
      version = {
        ...version,
        status: 'INVALID',
        decision: { outcome: 'rejected', reason, by: event.actorId, at: now },
      };
      entries.push({
        version,
        action: 'rejected',
        actorId: event.actorId,
        reason,
        summary: `v${version.version} rejected at level ${context.rejection?.level}: INVALID (失效)`,
      });
      headChange = { openVersionId: null };
    } else if (next.stateValue === 'withdrawn') {
      version = {
        ...version,
        status: 'WITHDRAWN',
        decision: { outcome: 'withdrawn', reason: null, by: event.actorId, at: now },
      };
      entries.push({
        version,
        action: 'withdrawn',
        actorId: event.actorId,
        summary: `v${version.version} WITHDRAWN (已撤回)`,
      });
      headChange = { openVersionId: null };
    }
    await versions.update(tx, stored, version, now);
    await record(tx, head, version.code, headChange, entries);
  }

  // ---- escalation: the machine announces it, history records it (at least once, so idempotent by event id) ----

  const unsubscribe = runtime.onEvent(async (event) => {
    if (event.type !== APPROVAL_ESCALATED_EVENT) return;
    const payload = event.payload as ApprovalEscalatedEvent;
    await transaction(async (tx) => {
      if (await histories.getByUniqueKey(tx, event.id)) return;
      const stored = await versions.get(tx, payload.versionId);
      if (!stored) return;
      const now = clock.now();
      let version = stored.record;
      if (version.status === 'PENDING_APPROVAL' && version.escalatedAt === null) {
        version = { ...version, escalatedAt: now };
        await versions.update(tx, stored, version, now);
      }
      await record(tx, await heads.get(tx, version.code), version.code, {}, [
        {
          version,
          action: 'escalated',
          actorId: 'system',
          eventId: event.id,
          summary: `approval overdue at level ${payload.level} (${payload.levelName}): escalated`,
        },
      ]);
    });
  });

  // ---- commands and queries -----------------------------------------------------------------------------------

  return {
    async importTemplate(actor, input) {
      requireRole(actor, editorRole, 'import a template');
      if (typeof input !== 'object' || input === null)
        throw new ValidationError('importTemplate needs { code, name, scene, pdf }.');
      if (!(input.pdf instanceof Uint8Array)) {
        throw new ValidationError('pdf must be the template PDF as a Uint8Array (a Buffer is fine).', {
          details: { path: 'pdf' },
        });
      }
      // Inspect and validate before storing anything, so a bad upload leaves no trace. A definition whose shape is
      // already wrong is refused before the PDF is parsed: its problems do not depend on the PDF.
      const given = { ...input.definition, code: input.code, name: input.name, scene: input.scene };
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
      const definition = validateDefinition(given, { pageCount: inspection.pageCount, fields: pdfFields });
      const existing = await transaction((tx) => heads.get(tx, definition.code));
      if (existing?.record.openVersionId) throw openConflict(existing.record);

      const nextVersion = (existing?.record.latestVersion ?? 0) + 1;
      const document = await documents.put({
        bytes: input.pdf,
        contentType: 'application/pdf',
        key: `templates/${definition.code}/v${nextVersion}.pdf`,
        metadata: { kind: 'template', code: definition.code },
      });
      // If the transaction below fails the stored PDF is unreferenced; the document store's retention removes it.
      return transaction(async (tx) => {
        const head = await heads.get(tx, definition.code);
        if (head?.record.openVersionId) throw openConflict(head.record);
        const number = (head?.record.latestVersion ?? 0) + 1;
        const version: TemplateVersion = {
          id: templateVersionId(definition.code, number),
          code: definition.code,
          version: number,
          status: 'DRAFT',
          definition,
          pdf: { fileId: document.fileId, sha256: document.sha256, pageCount: inspection.pageCount, fields: pdfFields },
          createdBy: actor.id,
          makers: [normaliseActorId(actor.id)],
          revisedFrom: null,
          submittedBy: null,
          submittedAt: null,
          approvals: [],
          escalatedAt: null,
          decision: null,
          approvalWorkflowId: null,
          supersededBy: null,
        };
        const stored = await versions.insert(tx, version, clock.now());
        await record(tx, head, version.code, { latestVersion: number, openVersionId: version.id }, [
          {
            version,
            action: 'imported',
            actorId: actor.id,
            summary: `v${number} imported: ${inspection.pageCount} pages, ${pdfFields.length} fields, ${definition.variables.length} variables`,
          },
        ]);
        return view(stored);
      });
    },

    async updateDraft(actor, versionId, changes) {
      requireRole(actor, editorRole, 'edit a template');
      if (typeof changes !== 'object' || changes === null) throw new ValidationError('changes must be an object.');
      const stored = await transaction((tx) => loadVersion(tx, versionId));
      requireDraft(stored.record, 'edited');
      if ('code' in changes && (changes as { code?: unknown }).code !== stored.record.code) {
        throw new ValidationError(`The code of a template never changes; import a new template for a new code.`, {
          details: { path: 'code' },
        });
      }
      // An explicit `undefined` means "not changed", not "reset to the default".
      const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
      const merged = { ...stored.record.definition, ...given, code: stored.record.code };
      const definition = validateDefinition(merged, await pdfFacts(stored.record.pdf, merged));
      return transaction(async (tx) => {
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
        const updated = await versions.update(tx, fresh, version, clock.now());
        await record(tx, await heads.get(tx, version.code), version.code, {}, [
          { version, action: 'updated', actorId: actor.id, changes: diff, summary: summarizeChanges(diff) },
        ]);
        return view(updated);
      });
    },

    async reviseEffective(actor, code) {
      requireRole(actor, editorRole, 'revise a template');
      checkRef(code, 'code');
      return transaction(async (tx) => {
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
          status: 'DRAFT',
          createdBy: actor.id,
          // The people who made the effective version are not makers of this one unless they edit it.
          makers: [normaliseActorId(actor.id)],
          revisedFrom: effective.record.id,
          submittedBy: null,
          submittedAt: null,
          approvals: [],
          escalatedAt: null,
          decision: null,
          approvalWorkflowId: null,
          supersededBy: null,
        };
        const stored = await versions.insert(tx, version, clock.now());
        await record(tx, head, code, { latestVersion: number, openVersionId: version.id }, [
          {
            version,
            action: 'revised',
            actorId: actor.id,
            summary: `v${number} drafted from effective v${effective.record.version}`,
          },
        ]);
        return view(stored);
      });
    },

    async submit(actor, versionId) {
      requireRole(actor, editorRole, 'submit a template for approval');
      const current = await transaction((tx) => loadVersion(tx, versionId));
      requireDraft(current.record, 'submitted');
      const facts = await pdfFacts(current.record.pdf, current.record.definition);
      validateDefinition(current.record.definition, facts, { stage: 'submit' });
      const makers = approvalMakers(actor.id, await transaction((tx) => makersOf(tx, current.record)));
      const input: ApprovalInput = {
        versionId,
        code: current.record.code,
        version: current.record.version,
        submittedBy: actor.id,
        makers,
        levels: levels.map((l) => ({ name: l.name, roles: [...l.roles] })),
        deadlineMs,
      };
      const workflowId = `${TEMPLATE_APPROVAL_WORKFLOW}:${versionId}`;
      await runtime.start(TEMPLATE_APPROVAL_WORKFLOW, {
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
          const now = clock.now();
          const version: TemplateVersion = {
            ...fresh.record,
            status: 'PENDING_APPROVAL',
            makers,
            submittedBy: actor.id,
            submittedAt: now,
            approvalWorkflowId: workflowId,
          };
          await versions.update(tx, fresh, version, now);
          await record(tx, await heads.get(tx, version.code), version.code, {}, [
            {
              version,
              action: 'submitted',
              actorId: actor.id,
              summary: `v${version.version} submitted for approval (${levels.map((l) => l.name).join(' → ')})`,
            },
          ]);
        },
      });
      return view(await transaction((tx) => loadVersion(tx, versionId)));
    },

    approve(actor, versionId, decisionOptions = {}) {
      return decide(actor, versionId, (context) => ({
        type: 'APPROVE',
        actorId: actor.id,
        roles: [...actor.roles],
        level: decisionOptions.level ?? intendedLevel(context, actor),
      }));
    },

    reject(actor, versionId, reason, decisionOptions = {}) {
      return decide(actor, versionId, (context) => ({
        type: 'REJECT',
        actorId: actor.id,
        roles: [...actor.roles],
        level: decisionOptions.level ?? intendedLevel(context, actor),
        reason,
      }));
    },

    withdraw(actor, versionId) {
      return decide(actor, versionId, () => ({ type: 'WITHDRAW', actorId: actor.id }));
    },

    async getVersion(versionId) {
      checkRef(versionId, 'versionId');
      const stored = await transaction((tx) => versions.get(tx, versionId));
      return stored ? view(stored) : null;
    },

    async getEffective(code) {
      checkRef(code, 'code');
      return transaction(async (tx) => {
        const head = await heads.get(tx, code);
        if (!head?.record.effectiveVersionId) return null;
        const stored = await versions.get(tx, head.record.effectiveVersionId);
        return stored ? view(stored) : null;
      });
    },

    async list(raw = {}) {
      const parsed = TemplateListFilterShape.safeParse(raw);
      if (!parsed.success) {
        throw new ValidationError(
          `list filter — ${parsed.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; ')}`,
        );
      }
      const filter = parsed.data;
      const tags: Record<string, string> = {};
      if (filter.code !== undefined) tags.code = filter.code;
      if (filter.scene !== undefined) tags.scene = filter.scene;
      if (filter.status !== undefined) tags.status = filter.status;
      const rows = await transaction((tx) =>
        versions.find(tx, {
          tags,
          ...(filter.updatedFrom !== undefined ? { updatedFrom: filter.updatedFrom } : {}),
          ...(filter.updatedTo !== undefined ? { updatedTo: filter.updatedTo } : {}),
          ...(filter.afterId !== undefined ? { afterId: filter.afterId } : {}),
          limit: filter.limit ?? 100,
        }),
      );
      return rows.map(view);
    },

    async history(code) {
      checkRef(code, 'code');
      const out: TemplateHistoryEntry[] = [];
      for (;;) {
        const page = await transaction((tx) =>
          histories.find(tx, {
            tags: { code },
            limit: 500,
            ...(out.length ? { afterId: out[out.length - 1]!.id } : {}),
          }),
        );
        out.push(...page.map((s) => s.record));
        if (page.length < 500) return out;
      }
    },

    async requireEffective(codeOrVersionId) {
      checkRef(codeOrVersionId, 'code or version id');
      return transaction(async (tx) => {
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
        const effective = head.record.effectiveVersionId
          ? await versions.get(tx, head.record.effectiveVersionId)
          : null;
        if (effective?.record.status === 'EFFECTIVE') return view(effective);
        throw new TemplateStatusError(
          'TEMPLATE_NOT_EFFECTIVE',
          `Template ${codeOrVersionId} has no EFFECTIVE version: it must be approved before it is used for signing.`,
          { details: { code: codeOrVersionId, status: null } },
        );
      });
    },

    close() {
      unsubscribe();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Plain helpers

/** History actions whose actor worked on the version (a maker); decisions are not among them. */
const MAKER_ACTIONS: ReadonlySet<HistoryAction> = new Set(['imported', 'revised', 'updated', 'submitted']);

function refusalOf(context: ApprovalContext, event: ApprovalEvent) {
  switch (event.type) {
    case 'APPROVE':
      return approvalRefusal(context, event);
    case 'REJECT':
      return rejectionRefusal(context, event);
    case 'WITHDRAW':
      return withdrawalRefusal(context, event);
  }
}

/** Codes and version ids come from hosts' requests: anything but a short string is refused before storage sees it. */
function checkRef(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new ValidationError(`${what} must be a template code or version id such as LOAN_CONTRACT_V.v0001.`, {
      details: { path: what },
    });
  }
}

const TemplateListFilterShape = z
  .object({
    code: z.string().optional(),
    scene: z.string().optional(),
    status: TemplateStatus.optional(),
    updatedFrom: z.number().optional(),
    updatedTo: z.number().optional(),
    limit: z.number().int().positive().optional(),
    afterId: z.string().optional(),
  })
  .nullish()
  .transform((filter) => filter ?? {});

function checkActor(actor: TemplateActor): void {
  if (
    typeof actor !== 'object' ||
    actor === null ||
    typeof actor.id !== 'string' ||
    actor.id.length === 0 ||
    !Array.isArray(actor.roles) ||
    !actor.roles.every((r) => typeof r === 'string')
  ) {
    throw new ValidationError('actor must be { id: non-empty string, roles: string[] }.', {
      details: { path: 'actor' },
    });
  }
  // Maker-checker compares normalised ids; an id with nothing left after normalising would match nobody.
  if (normaliseActorId(actor.id) === '') {
    throw new ValidationError(
      'actor.id is blank: pass the id of the person acting, as your identity system knows it.',
      {
        details: { path: 'actor.id' },
      },
    );
  }
}

function checkLevels(input: readonly ApprovalLevel[]): ApprovalLevel[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ValidationError('approvalLevels needs at least one level, e.g. [{ name: "legal", roles: ["legal"] }].');
  }
  return input.map((level, index) => {
    if (
      typeof level?.name !== 'string' ||
      level.name === '' ||
      !Array.isArray(level.roles) ||
      level.roles.length === 0
    ) {
      throw new ValidationError(`approvalLevels[${index}] needs a name and at least one role.`, {
        details: { path: `approvalLevels.${index}` },
      });
    }
    return { name: level.name, roles: [...level.roles] };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Readable diffs of definitions

/** Arrays whose items are matched by a key, so reordering or inserting one does not read as changing all. */
const KEYED_ARRAYS: Record<string, string> = { variables: 'key', parties: 'role' };
/** Values shown whole in a diff line (`text → mask(1,0)`), not broken into their fields. */
const LEAF_KEYS = new Set(['rule', 'placement', 'seal', 'than']);

/** What changed between two definitions, one entry per changed value, with a one-line summary each. */
export function diffDefinitions(before: TemplateDefinition, after: TemplateDefinition): DefinitionChange[] {
  const changes: DefinitionChange[] = [];
  walk('', before, after, undefined, changes);
  return changes;
}

function walk(path: string, a: unknown, b: unknown, key: string | undefined, out: DefinitionChange[]): void {
  if (deepEqual(a, b)) return;
  const bothObjects = isPlainObject(a) && isPlainObject(b);
  const bothArrays = Array.isArray(a) && Array.isArray(b);
  if (
    (key !== undefined && LEAF_KEYS.has(key)) ||
    !(bothObjects || (bothArrays && (a as unknown[]).some(isPlainObject)))
  ) {
    out.push(change(path, a, b));
    return;
  }
  const join = (k: string) => (path ? `${path}.${k}` : k);
  if (bothArrays) {
    const idKey = key !== undefined ? KEYED_ARRAYS[key] : undefined;
    const name = (item: unknown, index: number) => {
      const id = idKey && isPlainObject(item) ? item[idKey] : undefined;
      return typeof id === 'string' ? id : String(index);
    };
    const left = new Map((a as unknown[]).map((item, i) => [name(item, i), item]));
    const right = new Map((b as unknown[]).map((item, i) => [name(item, i), item]));
    for (const k of new Set([...left.keys(), ...right.keys()]))
      walk(join(k), left.get(k), right.get(k), undefined, out);
    return;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(left), ...Object.keys(right)])) walk(join(k), left[k], right[k], k, out);
}

function change(path: string, before: unknown, after: unknown): DefinitionChange {
  const summary =
    before === undefined
      ? `${path}: added ${show(after)}`
      : after === undefined
        ? `${path}: removed ${show(before)}`
        : `${path}: ${show(before)} → ${show(after)}`;
  // Absent rather than `undefined`: the entry must read back from JSON exactly as it was written.
  return {
    path,
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    summary,
  };
}

/** A compact, human form of a definition value. */
function show(value: unknown): string {
  if (value === undefined || value === null) return '∅';
  if (typeof value === 'string') return value;
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'mask':
      return `mask(${v.keepStart},${v.keepEnd})`;
    case 'date':
      return `date(${v.pattern})`;
    case 'amountWithSeparators':
      return `amountWithSeparators(${v.decimals})`;
  }
  if (typeof v.kind === 'string' && typeof v.message === 'string') return `${v.kind} "${v.message}"`;
  if (typeof v.kind === 'string' && Object.keys(v).length <= 2) return v.kind;
  if (typeof v.key === 'string' && typeof v.label === 'string') return `${v.label} (${v.type})`;
  if (typeof v.role === 'string' && typeof v.kind === 'string') return `${v.role} (${v.kind})`;
  if (typeof v.field === 'string') return `field ${v.field}`;
  if (typeof v.keyword === 'string') return `keyword "${v.keyword}"`;
  if (typeof v.page === 'number' && isPlainObject(v.rect)) {
    const r = v.rect as Record<string, number>;
    return `page ${v.page} (${r.x},${r.y} ${r.width}×${r.height})`;
  }
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

function summarizeChanges(changes: readonly DefinitionChange[]): string {
  const lines = changes.slice(0, 5).map((c) => c.summary);
  return lines.join('; ') + (changes.length > 5 ? `; and ${changes.length - 5} more` : '');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}
