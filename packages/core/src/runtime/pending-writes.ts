import { randomUUID } from 'node:crypto';
import type { EventObject } from 'xstate';
import type { NewOutboxEntry, PersistenceTransaction, TimerRow } from '../ports/persistence.js';
import { type AuditInput, type ChainKeyring, appendAuditBatch } from './audit-chain.js';
import type { WorkflowDefinition } from './workflow-definition.js';

/**
 * What a set of transitions asks the database to do besides saving snapshots, gathered first and written in a
 * fixed number of statements however many transitions there were. That is what lets a worker settle a whole batch
 * of effect results in one short transaction.
 */
export class PendingWrites {
  private readonly outbox: NewOutboxEntry[] = [];
  /** Last operation per timer wins: a later transition may cancel what an earlier one scheduled, or the reverse. */
  private readonly timers = new Map<
    string,
    { schedule: Omit<TimerRow, 'leaseUntil'> | null; workflowId: string; timerId: string }
  >();
  private readonly audit: { streamId: string; input: AuditInput }[] = [];
  private readonly finished = new Set<string>();
  private readonly newStreams = new Set<string>();

  /** `auditKeyring` keys the audit entries; without it they are plain hashes. */
  constructor(private readonly auditKeyring?: ChainKeyring) {}

  /**
   * Turn one transition's actions into outbox rows and timer operations. `step` names the transition: the row
   * version it produced, with `.<k>` for the k-th further transition written in the same row version.
   */
  recordActions(
    workflowId: string,
    step: number | string,
    actions: readonly { type: string; params?: unknown }[],
    definition: WorkflowDefinition,
    now: number,
    onIgnored: (action: string) => void,
  ): void {
    for (const [index, action] of actions.entries()) {
      const params = (action.params ?? null) as Record<string, unknown> | null;
      const id = `${workflowId}/${step}/${index}`;
      if (action.type === 'xstate.raise' && params && typeof params.delay === 'number') {
        const timerId = String(params.id);
        this.timers.set(`${workflowId}\u0000${timerId}`, {
          workflowId,
          timerId,
          schedule: { workflowId, timerId, event: params.event, dueAt: now + params.delay, token: randomUUID() },
        });
      } else if (action.type === 'xstate.cancel' && params) {
        const timerId = String(params.sendId);
        this.timers.set(`${workflowId}\u0000${timerId}`, { workflowId, timerId, schedule: null });
      } else if (action.type === 'xstate.emit' && params) {
        const event = params.event as EventObject;
        this.outbox.push({
          id: `${id}:${event.type}`,
          workflowId,
          kind: 'event',
          type: event.type,
          payload: event,
          availableAt: now,
          createdAt: now,
        });
      } else if (action.type in definition.effects) {
        this.outbox.push({
          id: `${id}:${action.type}`,
          workflowId,
          kind: 'effect',
          type: action.type,
          payload: { machine: definition.id, params },
          availableAt: now,
          createdAt: now,
        });
      } else if (!action.type.startsWith('xstate.')) {
        onIgnored(action.type);
      }
    }
  }

  /** How many effects and domain events the recorded transitions add to the outbox. */
  get queued(): { effects: number; events: number } {
    const effects = this.outbox.filter((entry) => entry.kind === 'effect').length;
    return { effects, events: this.outbox.length - effects };
  }

  /** `newStream`: the stream is being created in this transaction (a new workflow), so it has no head to read. */
  recordAudit(streamId: string, input: AuditInput, newStream = false): void {
    this.audit.push({ streamId, input });
    if (newStream) this.newStreams.add(streamId);
  }

  /** A workflow that reached a final state: its remaining timers go, whatever earlier transitions scheduled. */
  recordFinished(workflowId: string): void {
    this.finished.add(workflowId);
    for (const [key, op] of this.timers) if (op.workflowId === workflowId) this.timers.delete(key);
  }

  async flush(tx: PersistenceTransaction): Promise<void> {
    if (this.outbox.length > 0) await tx.outbox.enqueue(this.outbox);
    const ops = [...this.timers.values()];
    const cancels = ops
      .filter((op) => op.schedule === null)
      .map(({ workflowId, timerId }) => ({ workflowId, timerId }));
    const schedules = ops.flatMap((op) => (op.schedule ? [op.schedule] : []));
    if (cancels.length > 0) await tx.timers.cancelMany(cancels);
    if (schedules.length > 0) await tx.timers.scheduleMany(schedules);
    if (this.finished.size > 0) await tx.timers.cancelAll([...this.finished]);
    if (this.audit.length > 0) await appendAuditBatch(tx, this.audit, this.newStreams, this.auditKeyring);
  }
}
