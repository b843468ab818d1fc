/**
 * Deciding a submitted version: approve (level by level), reject, withdraw — and the escalation of an overdue
 * request. The approval workflow decides what is allowed (maker-checker, roles, the level deciding now); this file
 * applies its outcome to the version, the code's head and the history, in the transition's own transaction.
 */
import { ConflictError, IllegalTransitionError, NotFoundError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { Stored } from '../repository.js';
import type { WorkflowState } from '../runtime/runtime.js';
import {
  APPROVAL_ESCALATED_EVENT,
  type ApprovalContext,
  type ApprovalEscalatedEvent,
  type ApprovalEvent,
  approvalRefusal,
  rejectionRefusal,
  withdrawalRefusal,
} from './approval-workflow.js';
import type { TemplateHead, TemplateVersion, TemplateVersionView } from './model.js';
import { checkActor, requirePending } from './template-guards.js';
import type { DecisionOptions, TemplateActor } from './template-service.js';
import {
  type HistoryInput,
  heads,
  histories,
  loadVersion,
  makersOf,
  recordChange,
  type TemplateServiceContext,
  versions,
  view,
} from './template-store.js';

export function approve(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  versionId: string,
  options: DecisionOptions = {},
): Promise<TemplateVersionView> {
  return decide(ctx, actor, versionId, (context) => ({
    type: 'APPROVE',
    actorId: actor.id,
    roles: [...actor.roles],
    level: options.level ?? intendedLevel(context, actor),
  }));
}

export function reject(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  versionId: string,
  reason: string,
  options: DecisionOptions = {},
): Promise<TemplateVersionView> {
  return decide(ctx, actor, versionId, (context) => ({
    type: 'REJECT',
    actorId: actor.id,
    roles: [...actor.roles],
    level: options.level ?? intendedLevel(context, actor),
    reason,
  }));
}

export function withdraw(ctx: TemplateServiceContext, actor: TemplateActor, versionId: string) {
  return decide(ctx, actor, versionId, () => ({ type: 'WITHDRAW', actorId: actor.id }));
}

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

/**
 * Send a decision to the approval workflow; the domain writes ride along in the same transaction. If the machine
 * refuses it (someone decided first), reload and say which rule refused it rather than "event not accepted".
 */
async function decide(
  ctx: TemplateServiceContext,
  actor: TemplateActor,
  versionId: string,
  event: (context: ApprovalContext) => ApprovalEvent,
): Promise<TemplateVersionView> {
  checkActor(actor);
  const { runtime } = ctx;
  const current = await ctx.transaction((tx) => loadVersion(tx, versionId));
  requirePending(current.record);
  const workflowId = current.record.approvalWorkflowId;
  const before = await runtime.get(workflowId);
  if (!before) throw new NotFoundError(`The approval workflow ${workflowId} of ${versionId} is missing.`);
  // The machine holds the makers of every request it started; requests started before makers were recorded know
  // only their submitter, so the version's own record is added. A pending version never changes, so neither does
  // this set: checking it here cannot race with anything.
  const makers = await ctx.transaction((tx) => makersOf(tx, current.record));
  const withMakers = (context: ApprovalContext): ApprovalContext => ({
    ...context,
    makers: [...new Set([...(context.makers ?? []), ...makers])],
  });
  const decision = await withSupersedes(ctx, current.record.code, event(before.context as ApprovalContext));
  const refusal = refusalOf(withMakers(before.context as ApprovalContext), decision);
  if (refusal) throw refusal;
  try {
    await runtime.send(workflowId, decision, {
      actor: actor.id,
      alongside: (tx, next) => applyDecision(ctx, tx, versionId, decision, next),
    });
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    const after = await runtime.get(workflowId);
    if (after && after.status === 'active') {
      const explained = refusalOf(withMakers(after.context as ApprovalContext), decision);
      if (explained) throw explained;
    }
    const now = await ctx.transaction((tx) => loadVersion(tx, versionId));
    requirePending(now.record);
    throw error;
  }
  return view(await ctx.transaction((tx) => loadVersion(tx, versionId)));
}

/**
 * An approval names the code's EFFECTIVE version, which the machine announces as superseded if this is the final
 * level. It cannot change while this version is pending (a code has one open version, and only approving it changes
 * the effective one); `becameEffective` checks it again in the transaction that supersedes it.
 */
async function withSupersedes(ctx: TemplateServiceContext, code: string, event: ApprovalEvent): Promise<ApprovalEvent> {
  if (event.type !== 'APPROVE') return event;
  const supersedes = await ctx.transaction(async (tx) => {
    const effectiveId = (await heads.get(tx, code))?.record.effectiveVersionId ?? null;
    const effective = effectiveId === null ? null : await versions.get(tx, effectiveId);
    return effective ? { versionId: effective.record.id, version: effective.record.version } : null;
  });
  return { ...event, supersedes };
}

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

/** What one decision changes: the version as it now is, the history entries, and the code's head pointers. */
interface Outcome {
  version: TemplateVersion;
  entries: HistoryInput[];
  headChange: Partial<TemplateHead>;
}

/** Apply the workflow's transition to the version, its head and its history (inside the transition's transaction). */
async function applyDecision(
  ctx: TemplateServiceContext,
  tx: PersistenceTransaction,
  versionId: string,
  event: ApprovalEvent,
  next: WorkflowState,
): Promise<void> {
  const stored = await loadVersion(tx, versionId);
  requirePending(stored.record);
  const context = next.context as ApprovalContext;
  const head = await heads.get(tx, stored.record.code);
  const now = ctx.clock.now();
  const outcome: Outcome = { version: stored.record, entries: [], headChange: {} };
  if (event.type === 'APPROVE') levelApproved(outcome, context, event, now);
  if (next.stateValue === 'approved') await becameEffective(tx, outcome, head, event, now);
  else if (next.stateValue === 'rejected') rejected(outcome, context, event, now);
  else if (next.stateValue === 'withdrawn') withdrawn(outcome, event.actorId, now);
  await versions.update(tx, stored, outcome.version, now);
  await recordChange(ctx, tx, head, outcome.version.code, outcome.headChange, outcome.entries);
}

function levelApproved(
  outcome: Outcome,
  context: ApprovalContext,
  event: ApprovalEvent & { type: 'APPROVE' },
  now: number,
): void {
  // The levels the request was submitted with, even if the service's configuration changed since.
  const level = context.levels[event.level - 1];
  outcome.version = {
    ...outcome.version,
    approvals: [
      ...outcome.version.approvals,
      { level: event.level, name: level?.name ?? '', actorId: event.actorId, at: now },
    ],
  };
  outcome.entries.push({
    version: outcome.version,
    action: 'levelApproved',
    actorId: event.actorId,
    summary: `level ${event.level} (${level?.name}) approved by ${event.actorId}`,
  });
}

/** The last level approved: the version becomes EFFECTIVE (生效) and the one effective until now SUPERSEDED. */
async function becameEffective(
  tx: PersistenceTransaction,
  outcome: Outcome,
  head: Stored<TemplateHead> | null,
  event: ApprovalEvent,
  now: number,
): Promise<void> {
  const { actorId } = event;
  const previousId = head?.record.effectiveVersionId ?? null;
  const announced = (event.type === 'APPROVE' && event.supersedes?.versionId) || null;
  if (announced !== previousId) {
    // The event the machine announces and the domain must agree; they cannot differ unless the store was edited.
    throw new ConflictError(
      'VERSION_CONFLICT',
      `The effective version of ${outcome.version.code} changed while ${outcome.version.id} was being approved; approve again.`,
      { retryable: true, details: { versionId: outcome.version.id } },
    );
  }
  const version: TemplateVersion = {
    ...outcome.version,
    status: 'EFFECTIVE',
    decision: { outcome: 'approved', reason: null, by: actorId, at: now },
  };
  outcome.version = version;
  outcome.entries.push({
    version,
    action: 'approved',
    actorId,
    summary: `v${version.version} is now EFFECTIVE (生效)`,
  });
  if (previousId !== null && previousId !== version.id) {
    const previous = await loadVersion(tx, previousId);
    const superseded: TemplateVersion = { ...previous.record, status: 'SUPERSEDED', supersededBy: version.id };
    await versions.update(tx, previous, superseded, now);
    outcome.entries.push({
      version: superseded,
      action: 'superseded',
      actorId: 'system',
      summary: `v${superseded.version} SUPERSEDED (已替代) by v${version.version}`,
    });
  }
  outcome.headChange = { effectiveVersionId: version.id, openVersionId: null };
}

/** Rejected at any level: the version is INVALID (失效) and the code has no open version any more. */
function rejected(outcome: Outcome, context: ApprovalContext, event: ApprovalEvent, now: number): void {
  const reason = context.rejection?.reason ?? (event.type === 'REJECT' ? event.reason : '');
  const version: TemplateVersion = {
    ...outcome.version,
    status: 'INVALID',
    decision: { outcome: 'rejected', reason, by: event.actorId, at: now },
  };
  outcome.version = version;
  outcome.entries.push({
    version,
    action: 'rejected',
    actorId: event.actorId,
    reason,
    summary: `v${version.version} rejected at level ${context.rejection?.level}: INVALID (失效)`,
  });
  outcome.headChange = { openVersionId: null };
}

function withdrawn(outcome: Outcome, actorId: string, now: number): void {
  const version: TemplateVersion = {
    ...outcome.version,
    status: 'WITHDRAWN',
    decision: { outcome: 'withdrawn', reason: null, by: actorId, at: now },
  };
  outcome.version = version;
  outcome.entries.push({ version, action: 'withdrawn', actorId, summary: `v${version.version} WITHDRAWN (已撤回)` });
  outcome.headChange = { openVersionId: null };
}

/**
 * Escalation: the machine announces it, the history records it. Events are delivered at least once, so the entry is
 * keyed by the event id. Returns the function that stops listening.
 */
export function recordEscalations(ctx: TemplateServiceContext): () => void {
  return ctx.runtime.onEvent(async (event) => {
    if (event.type !== APPROVAL_ESCALATED_EVENT) return;
    const payload = event.payload as ApprovalEscalatedEvent;
    await ctx.transaction(async (tx) => {
      if (await histories.getByUniqueKey(tx, event.id)) return;
      const stored = await versions.get(tx, payload.versionId);
      if (!stored) return;
      const now = ctx.clock.now();
      let version = stored.record;
      if (version.status === 'PENDING_APPROVAL' && version.escalatedAt === null) {
        version = { ...version, escalatedAt: now };
        await versions.update(tx, stored, version, now);
      }
      await recordChange(ctx, tx, await heads.get(tx, version.code), version.code, {}, [
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
}
