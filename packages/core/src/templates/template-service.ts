/**
 * Template management (后管): import, edit, revise, submit for approval, decide, and the guard signing calls.
 *
 * State lives in three repositories over the persistence's entity store: versions, per-code heads (version counter,
 * effective and open version — the head's conditional update is what serialises competing changes to one code), and
 * history entries. Every command writes its domain change, its history and (for approval) the workflow transition
 * in one transaction, so a failure leaves nothing half-written.
 *
 * The service is assembled here from parts a reader can take one at a time:
 * - `template-drafts.ts`: import, edit, revise and submit;
 * - `template-decisions.ts`: approve, reject, withdraw, escalation;
 * - `template-queries.ts`: versions, lists, history and the guard signing calls;
 * - `template-store.ts`, `template-guards.ts`, `definition-diff.ts`: storage, checks, readable diffs.
 */
import { ValidationError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { DocumentStore } from '../ports/document-store.js';
import type { Runtime } from '../runtime/runtime.js';
import type { WorkflowDefinition } from '../runtime/workflow-definition.js';
import { type ApprovalLevel, templateApprovalWorkflow } from './approval-workflow.js';
import type {
  TemplateDefinitionChanges,
  TemplateDefinitionInput,
  TemplateHistoryEntry,
  TemplateStatus,
  TemplateVersionView,
} from './model.js';
import { approve, recordEscalations, reject, withdraw } from './template-decisions.js';
import { importTemplate, reviseEffective, submit, updateDraft } from './template-drafts.js';
import { checkLevels } from './template-guards.js';
import { getEffective, getVersion, history, listVersions, requireEffective } from './template-queries.js';
import type { TemplateServiceContext } from './template-store.js';

export { diffDefinitions } from './definition-diff.js';
export { TemplateStatusError } from './template-guards.js';
export { templateHeadRepository, templateHistoryRepository, templateVersionRepository } from './template-store.js';

// ---------------------------------------------------------------------------------------------------------------
// Public types

/** Who issues a command. Roles come from the host's own identity system. */
export interface TemplateActor {
  id: string;
  roles: readonly string[];
}

/** Options of {@link createTemplateService}. */
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

/** A new template to import: code, name, scene, the PDF and optionally the rest of its definition. */
export interface ImportTemplateInput {
  code: string;
  name: string;
  /** What kind of document this is, such as `LOAN_CONTRACT` (see `KNOWN_DOCUMENT_TYPES`); signing scenes ask for it. */
  documentType: string;
  /** The template PDF as exported by operations, with its blanks as form fields or known coordinates. */
  pdf: Uint8Array;
  /** Variables, parties, checks and vendor bindings; may be added later with `updateDraft`. */
  definition?: Omit<TemplateDefinitionInput, 'code' | 'name' | 'documentType'>;
}

/** Which template versions to list. */
export interface TemplateListFilter {
  code?: string;
  documentType?: string;
  status?: TemplateStatus;
  /** Inclusive bounds on the last change, epoch ms. */
  updatedFrom?: number;
  updatedTo?: number;
  /** Default 100. */
  limit?: number;
  /** Keyset pagination: pass the last id of the previous page. */
  afterId?: string;
}

/** Options of an approval or rejection. */
export interface DecisionOptions {
  /** The level the approver saw on screen; defaults to the level deciding now. A stale level is refused. */
  level?: number;
}

/**
 * The template service: import and edit drafts, submit, approve, reject and withdraw them, revise the effective
 * version, and read versions and history.
 */
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

// ---------------------------------------------------------------------------------------------------------------
// The service

/** Create the template service over a runtime that runs `templateWorkflows()`. */
export function createTemplateService(options: TemplateServiceOptions): TemplateService {
  const ctx = serviceContext(options);
  const unsubscribe = recordEscalations(ctx);
  return {
    importTemplate: (actor, input) => importTemplate(ctx, actor, input),
    updateDraft: (actor, versionId, changes) => updateDraft(ctx, actor, versionId, changes),
    reviseEffective: (actor, code) => reviseEffective(ctx, actor, code),
    submit: (actor, versionId) => submit(ctx, actor, versionId),
    approve: (actor, versionId, decisionOptions) => approve(ctx, actor, versionId, decisionOptions),
    reject: (actor, versionId, reason, decisionOptions) => reject(ctx, actor, versionId, reason, decisionOptions),
    withdraw: (actor, versionId) => withdraw(ctx, actor, versionId),
    getVersion: (versionId) => getVersion(ctx, versionId),
    getEffective: (code) => getEffective(ctx, code),
    list: (filter) => listVersions(ctx, filter),
    history: (code) => history(ctx, code),
    requireEffective: (codeOrVersionId) => requireEffective(ctx, codeOrVersionId),
    close() {
      unsubscribe();
    },
  };
}

function serviceContext(options: TemplateServiceOptions): TemplateServiceContext {
  const { runtime } = options;
  const levels = checkLevels(options.approvalLevels);
  const deadlineMs = options.approvalDeadlineMs ?? null;
  if (deadlineMs !== null && (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0)) {
    throw new ValidationError('approvalDeadlineMs must be a positive whole number of milliseconds, or null.');
  }
  return {
    runtime,
    documents: options.documents,
    clock: options.clock ?? runtime.clock,
    editorRole: options.editorRole ?? 'template-editor',
    levels,
    deadlineMs,
    transaction: (work) => runtime.persistence.transaction(work),
  };
}
