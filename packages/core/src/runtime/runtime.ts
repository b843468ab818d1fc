import { createHash } from 'node:crypto';
import {
  type AnyMachineSnapshot,
  type EventObject,
  __unsafe_getAllOwnEventDescriptors as acceptedEventTypes,
  initialTransition,
  transition,
} from 'xstate';
import {
  ConflictError,
  IllegalTransitionError,
  NotFoundError,
  type SealflowError,
  ValidationError,
  toSealflowError,
} from '../errors.js';
import { type Clock, type Scheduler, systemClock, systemScheduler } from '../ports/clock.js';
import { type Logger, maskingLogger, silentLogger } from '../ports/logger.js';
import type {
  AuditEntry,
  OutboxEntry,
  Persistence,
  PersistenceTransaction,
  WorkflowChange,
  WorkflowFilter,
  WorkflowRow,
  WorkflowStatus,
} from '../ports/persistence.js';
import { maskPersonalData } from '../privacy.js';
import {
  type AuditVerification,
  type ChainKeys,
  appendAudit,
  canonicalJson,
  chainKeyring,
  verifyAuditEntries,
} from './audit-chain.js';
import { PendingWrites } from './pending-writes.js';
import { restoreSnapshot, stateValueText } from './snapshots.js';
import type { RetryPolicy, WorkflowDefinition } from './workflow-definition.js';
import { createWorker, type RuntimeWorker, type Worker, type WorkerOptions, type WorkerPass } from './worker.js';

/**
 * The durable workflow runtime.
 *
 * Machines are pure: `transition(machine, snapshot, event)` returns the next snapshot and the actions to run. The
 * runtime saves the snapshot with an optimistic version check and, in the same transaction, turns the actions into
 * outbox rows (effects and domain events) and durable timers (delayed transitions). Workers execute the outbox
 * later and feed results back as events. So a crash at any point loses nothing, and no effect runs twice with
 * different idempotency keys; several processes can share one database.
 */

/** An event for a workflow: a `type` and any JSON-serialisable fields. */
export type WorkflowEvent = EventObject & Record<string, unknown>;

/** A workflow as the runtime reports it: id, type, status, state value, context, output, versions and timestamps. */
export interface WorkflowState {
  id: string;
  /** The definition id. */
  type: string;
  machineVersion: number;
  /**
   * Goes up by one every time the row is written: on every transition a caller's event makes, and once for the
   * timer and effect results a worker settles together. Pass it back as `expectedVersion` to detect concurrent
   * changes.
   */
  rowVersion: number;
  status: WorkflowStatus;
  /** The XState state value. */
  value: unknown;
  /** The state value as dotted text, as stored for queries. */
  stateValue: string;
  context: unknown;
  output: unknown;
  createdAt: number;
  updatedAt: number;
}

/**
 * Options of {@link createRuntime}: persistence, the workflow definitions, audit keys, time, logging, retries and
 * leases.
 */
export interface RuntimeOptions {
  persistence: Persistence;
  workflows: readonly WorkflowDefinition[];
  /**
   * Host keys for the workflows' audit chains (HMAC-SHA256, key id recorded per entry; keep retired keys). Without
   * them the chains are plain SHA-256, which finds accidental damage and naive edits but not someone who re-hashes.
   */
  auditKeys?: ChainKeys;
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
  /** Default retry policy for effects; each effect may override parts of it. */
  retry?: Partial<RetryPolicy>;
  /**
   * How long a claimed effect or timer belongs to this process before another may take it (default 60 s). Keep it
   * longer than the longest effect timeout, or a second worker re-runs effects the first is still waiting for.
   */
  leaseMs?: number;
  /**
   * How long one attempt of an effect may run before it counts as a retryable `EFFECT_TIMEOUT`, unless the effect
   * sets its own `timeoutMs` (default: 30 s, or half of `leaseMs` when that is shorter). Must be below `leaseMs`.
   */
  effectTimeoutMs?: number;
  /** Random source for jitter; tests pass a fixed one. */
  random?: () => number;
}

/**
 * Options of {@link Runtime.send}: an expected row version, the acting user, and writes made in the same transaction.
 */
export interface SendOptions {
  /** Fail with VERSION_CONFLICT unless the workflow is still at this row version. */
  expectedVersion?: number;
  /** Recorded in the audit log; defaults to `system`. */
  actor?: string;
  /**
   * Domain writes that must commit or roll back with this transition (a template's status, a record). Runs after
   * the new state is saved, inside the same transaction; throwing aborts both.
   */
  alongside?: (tx: PersistenceTransaction, next: WorkflowState) => Promise<void>;
}

/**
 * Options of {@link Runtime.start}: the workflow id, its input, the acting user, and what to do if it already exists.
 */
export interface StartOptions {
  id: string;
  input?: unknown;
  actor?: string;
  /** What to do when a workflow with this id exists: `throw` (default) a DUPLICATE conflict, or `return` it. */
  ifExists?: 'throw' | 'return';
  /** Domain writes that commit with the start, as in `SendOptions.alongside`. */
  alongside?: (tx: PersistenceTransaction, state: WorkflowState) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 300_000, jitter: 0.5 };

/** Thrown inside a transaction to roll it back and try the whole step again with fresh data. */
class StaleRowSignal extends Error {}

/**
 * An event the runtime delivers on the machine's behalf (a due timer, an effect's result); never an error when the
 * machine has moved on. `event` null settles the claim without telling the machine anything.
 */
export interface InternalDelivery<Ref = unknown> {
  workflowId: string;
  event: EventObject | null;
  /** What the claimer needs to settle its claim: an outbox entry, a timer. */
  ref: Ref;
}

/** How a batch's claims are settled, supplied by the worker that holds them. */
export interface SettleHooks<Ref = unknown> {
  /** Complete the claims still held, in the transaction; return the deliveries whose claims were. */
  claim(
    tx: PersistenceTransaction,
    deliveries: readonly InternalDelivery<Ref>[],
    now: number,
  ): Promise<InternalDelivery<Ref>[]>;
  /** Deliveries for workflows that cannot be restored (corrupt, unknown type, no migration): park them for a person. */
  reportUnusable(
    tx: PersistenceTransaction,
    failures: readonly { delivery: InternalDelivery<Ref>; error: SealflowError }[],
    now: number,
  ): Promise<void>;
  /**
   * More work for the same transaction, once the results are applied (the worker claims what comes next); `queued`
   * counts the effects and events the applied transitions added to the outbox. Runs again if the transaction does.
   */
  alsoInTransaction?(
    tx: PersistenceTransaction,
    now: number,
    queued: { effects: number; events: number },
  ): Promise<void>;
}

export interface SettleReport {
  applied: number;
  lost: number;
  unusable: number;
}

const MAX_STALE_RETRIES = 20;

/**
 * The durable workflow runtime: starts and drives xstate machines persisted through the persistence port, runs
 * their effects and timers through the outbox, and delivers their domain events.
 */
export interface Runtime {
  start(type: string, options: StartOptions): Promise<WorkflowState>;
  send(id: string, event: WorkflowEvent, options?: SendOptions): Promise<WorkflowState>;
  get(id: string): Promise<WorkflowState | null>;
  list(filter?: WorkflowFilter): Promise<WorkflowState[]>;
  /** Run due timers and claimable effects and events once; returns what was processed. For tests and cron hosts. */
  runOnce(options?: { limit?: number }): Promise<WorkerPass>;
  /** Start a background worker that polls until `stop()`. */
  startWorker(options?: WorkerOptions): Worker;
  /** Subscribe to domain events (the machine's `emit` actions), delivered at least once with a stable id. */
  onEvent(handler: DomainEventHandler): () => void;
  readonly deadLetters: {
    /** Effects that exhausted their retries and wait for a person. */
    list(filter?: { workflowId?: string; limit?: number }): Promise<OutboxEntry[]>;
    /** Put a dead (or failed) effect back in the queue with its attempts reset. */
    retry(effectId: string): Promise<void>;
  };
  /**
   * Verify a workflow's audit chain, and that its last entry describes the workflow row as it is: a removed tail, or a
   * row changed without its transition, shows in `workflow`.
   */
  verifyAudit(workflowId: string): Promise<WorkflowAuditVerification>;
  readonly persistence: Persistence;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Stop every worker started from this runtime and wait for their current pass. */
  stop(): Promise<void>;
}

/**
 * The workflow row against its audit chain. Each `workflow.started` / `workflow.transition` entry records the row
 * version it produced and a digest of the row it wrote (status, state, machine version, snapshot), in the same
 * transaction, so the last such entry must describe the row exactly:
 * - `workflow-missing`: audit entries without their workflow row;
 * - `truncated`: the row is at a later version than the audit's last entry records (its last entries were removed);
 * - `row-rolled-back`: the audit records a later version than the row has (the row was put back);
 * - `row-mismatch`: the same version, but the row is not what that transition wrote (the row was edited).
 */
export type WorkflowAuditProblem =
  | { kind: 'workflow-missing' }
  | { kind: 'truncated' | 'row-rolled-back'; rowVersion: number; auditedRowVersion: number }
  | { kind: 'row-mismatch'; rowVersion: number };

/** An audit verification of one workflow: the chain, and whether its last entry matches the workflow row. */
export interface WorkflowAuditVerification extends AuditVerification {
  /** Link of the last entry: publish or timestamp it to pin the whole chain. */
  head: string | null;
  workflow: WorkflowAuditProblem[];
}

/** What an audit entry fixes of the row its transition wrote. */
export function workflowRowDigest(row: Pick<WorkflowRow, 'machineVersion' | 'status' | 'stateValue' | 'snapshot'>) {
  const { machineVersion, status, stateValue, snapshot } = row;
  return createHash('sha256').update(canonicalJson({ machineVersion, status, stateValue, snapshot })).digest('hex');
}

/** The row version and digest a start or transition entry recorded; null for other entries. */
function auditedRow(entry: AuditEntry): { rowVersion: number; digest: string | null } | null {
  const data = (entry.data ?? {}) as { rowVersion?: number; row?: string };
  if (entry.type === 'workflow.started') return { rowVersion: data.rowVersion ?? 1, digest: data.row ?? null };
  if (entry.type === 'workflow.transition' && typeof data.rowVersion === 'number') {
    return { rowVersion: data.rowVersion, digest: data.row ?? null };
  }
  return null;
}

function workflowAuditProblems(row: WorkflowRow | null, entries: readonly AuditEntry[]): WorkflowAuditProblem[] {
  if (row === null) return entries.length === 0 ? [] : [{ kind: 'workflow-missing' }];
  // Every start writes its first entry with the row, so a row without any is a chain deleted down to nothing.
  if (entries.length === 0) return [{ kind: 'truncated', rowVersion: row.rowVersion, auditedRowVersion: 0 }];
  const last = entries.map(auditedRow).findLast((audited) => audited !== null);
  if (!last) return [{ kind: 'truncated', rowVersion: row.rowVersion, auditedRowVersion: 0 }];
  if (last.rowVersion < row.rowVersion) {
    return [{ kind: 'truncated', rowVersion: row.rowVersion, auditedRowVersion: last.rowVersion }];
  }
  if (last.rowVersion > row.rowVersion) {
    return [{ kind: 'row-rolled-back', rowVersion: row.rowVersion, auditedRowVersion: last.rowVersion }];
  }
  // Entries written before digests were recorded can only be held to the version.
  if (last.digest !== null && last.digest !== workflowRowDigest(row)) {
    return [{ kind: 'row-mismatch', rowVersion: row.rowVersion }];
  }
  return [];
}

/** A domain event emitted by a workflow, delivered at least once with a stable id. */
export interface DomainEvent {
  /** Stable across redeliveries: use it to deduplicate. */
  id: string;
  workflowId: string;
  type: string;
  payload: unknown;
  occurredAt: number;
}

/** A subscriber to domain events (see {@link Runtime.onEvent}). */
export type DomainEventHandler = (event: DomainEvent) => void | Promise<void>;

/** Create the durable workflow runtime over a persistence adapter and a set of workflow definitions. */
export function createRuntime(options: RuntimeOptions): Runtime {
  const { persistence } = options;
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const logger = maskingLogger(options.logger ?? silentLogger);
  const definitions = new Map<string, WorkflowDefinition>();
  for (const definition of options.workflows) {
    if (definitions.has(definition.id)) throw new TypeError(`workflow '${definition.id}' is registered twice`);
    definitions.set(definition.id, definition);
  }
  const leaseMs = options.leaseMs ?? 60_000;
  const effectTimeoutMs = options.effectTimeoutMs ?? Math.min(30_000, Math.floor(leaseMs / 2));
  checkTimeouts(leaseMs, effectTimeoutMs, options.workflows);
  const auditKeyring = options.auditKeys ? chainKeyring(options.auditKeys, { field: 'auditKeys' }) : undefined;
  const eventHandlers = new Set<DomainEventHandler>();
  const workers = new Set<RuntimeWorker>();
  let nextToWake = 0;

  /**
   * This process just committed effects or events: hand them to one of its started workers now (the next with a
   * free slot, in turn), instead of leaving them to the next poll. Workers of other processes still find them by
   * polling, so this only shortens the wait; it decides nothing.
   */
  function wakeAWorker(queued: { effects: number; events: number }): void {
    if (queued.effects + queued.events === 0 || workers.size === 0) return;
    const started = [...workers];
    for (let i = 0; i < started.length; i++) {
      if (started[(nextToWake + i) % started.length]!.wake()) {
        nextToWake = (nextToWake + i + 1) % started.length;
        return;
      }
    }
  }

  function definitionFor(row: Pick<WorkflowRow, 'id' | 'machineId'>): WorkflowDefinition {
    const definition = definitions.get(row.machineId);
    if (!definition) {
      throw new IllegalTransitionError(
        'UNKNOWN_WORKFLOW_TYPE',
        `Workflow ${row.id} is a '${row.machineId}', which this runtime does not know. ` +
          `Register its definition in createRuntime({ workflows }). Known: ${[...definitions.keys()].join(', ')}.`,
      );
    }
    return definition;
  }

  function toState(row: WorkflowRow, snapshot?: AnyMachineSnapshot): WorkflowState {
    const stored = row.snapshot as { value?: unknown; context?: unknown; output?: unknown };
    return {
      id: row.id,
      type: row.machineId,
      machineVersion: row.machineVersion,
      rowVersion: row.rowVersion,
      status: row.status,
      value: snapshot ? snapshot.value : stored?.value,
      stateValue: row.stateValue,
      context: snapshot ? snapshot.context : stored?.context,
      output: snapshot ? snapshot.output : stored?.output,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }

  async function start(type: string, startOptions: StartOptions): Promise<WorkflowState> {
    const definition = definitions.get(type);
    if (!definition) {
      throw new IllegalTransitionError(
        'UNKNOWN_WORKFLOW_TYPE',
        `There is no workflow type '${type}'. Register it in createRuntime({ workflows }); known: ${[...definitions.keys()].join(', ')}.`,
      );
    }
    if (typeof startOptions.id !== 'string' || startOptions.id.length === 0 || startOptions.id.length > 200) {
      throw new ValidationError('A workflow id must be a non-empty string of at most 200 characters.');
    }
    const [snapshot, actions] = initialTransition(definition.machine, startOptions.input as never);
    const now = clock.now();
    const row: WorkflowRow = {
      id: startOptions.id,
      machineId: definition.id,
      machineVersion: definition.version,
      status: snapshot.status,
      stateValue: stateValueText(snapshot.value),
      snapshot: JSON.parse(JSON.stringify(definition.machine.getPersistedSnapshot(snapshot))),
      rowVersion: 1,
      createdAt: now,
      updatedAt: now,
    };
    const writes = new PendingWrites(auditKeyring);
    writes.recordActions(row.id, 1, actions, definition, now, ignored(definition, row.id));
    writes.recordAudit(
      row.id,
      {
        type: 'workflow.started',
        actor: startOptions.actor ?? 'system',
        data: {
          machine: definition.id,
          version: definition.version,
          state: row.stateValue,
          input: maskPersonalData(startOptions.input ?? null),
          rowVersion: 1,
          row: workflowRowDigest(row),
        },
        at: now,
      },
      true,
    );
    if (snapshot.status !== 'active') writes.recordFinished(row.id);
    try {
      await persistence.transaction(async (tx) => {
        await tx.workflows.insert(row);
        await writes.flush(tx);
        const state = toState(row, snapshot);
        await definition.onTransition?.(tx, state);
        await startOptions.alongside?.(tx, state);
      });
    } catch (error) {
      if (error instanceof ConflictError && error.code === 'DUPLICATE') {
        const existing = await get(startOptions.id);
        if (startOptions.ifExists === 'return' && existing && existing.type === type) return existing;
        throw new ConflictError(
          'DUPLICATE',
          `A workflow with id ${startOptions.id} already exists${existing ? ` (${existing.type}, ${existing.stateValue})` : ''}. ` +
            "Use a new id, or pass ifExists: 'return' to get the existing one.",
          { cause: error },
        );
      }
      throw error;
    }
    logger.info('workflow_started', { workflowId: row.id, machine: definition.id, state: row.stateValue });
    wakeAWorker(writes.queued);
    return toState(row, snapshot);
  }

  const ignored = (definition: WorkflowDefinition, workflowId: string) => (action: string) =>
    logger.debug('runtime_action_ignored', { workflowId, action, machine: definition.id });

  /**
   * Apply events to one loaded workflow, in order, recording what the transitions ask for in `writes`. Pure apart
   * from `writes`: nothing reaches the database until the caller saves the returned change and flushes.
   * External events that the machine cannot take throw; internal ones (timers, effect results that arrive after
   * the machine moved on) are skipped.
   */
  function applyEvents(
    row: WorkflowRow,
    events: readonly EventObject[],
    writes: PendingWrites,
    context: { now: number; actor: string; internal: boolean },
  ): { change: WorkflowChange; snapshot: AnyMachineSnapshot; rowVersion: number } | null {
    const definition = definitionFor(row);
    let snapshot = restoreSnapshot(definition, row);
    // The row is written once for all these events, and the store moves it one version up, so every transition
    // here produces that one version: audit entries recording more would no longer match the row, and outbox ids
    // made from a version the next transaction reuses would collide with its own (and be dropped as duplicates).
    const rowVersion = row.rowVersion + 1;
    let transitions = 0;
    let stateValue = row.stateValue;
    let written: WorkflowChange['snapshot'] = null;
    for (const event of events) {
      const rejection = snapshot.status === 'active' ? rejectionOf(definition, row, snapshot, event) : null;
      if (snapshot.status !== 'active' || rejection) {
        if (!context.internal) throw rejection;
        logger.debug('runtime_stale_event_ignored', { workflowId: row.id, event: event.type, state: stateValue });
        continue;
      }
      const [next, actions] = transition(definition.machine, snapshot, event);
      // The first transition's outbox ids are `<id>/<version>/<index>`; later ones in the same write add `.<k>`.
      const step = transitions === 0 ? `${rowVersion}` : `${rowVersion}.${transitions}`;
      transitions++;
      const nextValue = stateValueText(next.value);
      written = JSON.parse(JSON.stringify(definition.machine.getPersistedSnapshot(next)));
      const digest = workflowRowDigest({
        machineVersion: definition.version,
        status: next.status,
        stateValue: nextValue,
        snapshot: written,
      });
      writes.recordActions(row.id, step, actions, definition, context.now, ignored(definition, row.id));
      writes.recordAudit(row.id, {
        type: 'workflow.transition',
        actor: context.actor,
        data: { event: maskPersonalData(event), from: stateValue, to: nextValue, rowVersion, row: digest },
        at: context.now,
      });
      if (next.status !== 'active') writes.recordFinished(row.id);
      snapshot = next;
      stateValue = nextValue;
    }
    if (transitions === 0) return null;
    const change: WorkflowChange = {
      machineVersion: definition.version,
      status: snapshot.status,
      stateValue,
      snapshot: written,
      updatedAt: context.now,
    };
    return { change, snapshot, rowVersion };
  }

  /** The path by which a caller's event changes a workflow: one locked row, one transaction. */
  async function deliver(id: string, event: WorkflowEvent, sendOptions: SendOptions): Promise<WorkflowState> {
    if (!event || typeof event.type !== 'string' || event.type.length === 0) {
      throw new ValidationError('An event must be an object with a non-empty string `type`.');
    }
    let queued = { effects: 0, events: 0 };
    for (let attempt = 0; ; attempt++) {
      try {
        const state = await persistence.transaction(async (tx) => {
          const row = await tx.workflows.get(id, { lock: true });
          if (!row) throw new NotFoundError(`There is no workflow ${id}. Check the id, or start it first.`);
          if (sendOptions.expectedVersion !== undefined && row.rowVersion !== sendOptions.expectedVersion) {
            throw new StaleRowSignal(`expected version ${sendOptions.expectedVersion}, found ${row.rowVersion}`);
          }
          if (row.status !== 'active') {
            throw new IllegalTransitionError(
              'WORKFLOW_FINISHED',
              `Workflow ${row.id} has finished (${row.status}, in state ${row.stateValue}) and takes no more events; ${event.type} was not applied.`,
            );
          }
          const writes = new PendingWrites(auditKeyring);
          const now = clock.now();
          const applied = applyEvents(row, [event], writes, {
            now,
            actor: sendOptions.actor ?? 'system',
            internal: false,
          })!;
          if (!(await tx.workflows.update(row.id, row.rowVersion, applied.change))) {
            throw new StaleRowSignal(`version ${row.rowVersion} is no longer current`);
          }
          await writes.flush(tx);
          queued = writes.queued;
          const state = toState({ ...row, ...applied.change, rowVersion: applied.rowVersion }, applied.snapshot);
          await definitionFor(row).onTransition?.(tx, state);
          await sendOptions.alongside?.(tx, state);
          return state;
        });
        wakeAWorker(queued);
        return state;
      } catch (error) {
        if (!(error instanceof StaleRowSignal)) throw error;
        if (sendOptions.expectedVersion !== undefined || attempt >= MAX_STALE_RETRIES) {
          throw new ConflictError(
            'VERSION_CONFLICT',
            `Workflow ${id} was changed by someone else (${error.message}). Reload it and decide again.`,
            { retryable: true },
          );
        }
      }
    }
  }

  /**
   * Settle what workers produced — effect results, due timers — in one transaction: lock the workflows, compute
   * every transition, keep only deliveries whose claims are still ours, then write snapshots, outbox, timers and
   * audit in a fixed number of statements. A workflow that cannot be restored is reported back, not retried blindly.
   */
  async function settle<Ref>(
    deliveries: readonly InternalDelivery<Ref>[],
    hooks: SettleHooks<Ref>,
  ): Promise<SettleReport> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await persistence.transaction(async (tx) => {
          const now = clock.now();
          const ids = [...new Set(deliveries.filter((d) => d.event).map((d) => d.workflowId))].sort();
          const rows = new Map((await tx.workflows.getMany(ids, { lock: true })).map((row) => [row.id, row]));
          const unusable = new Map<string, SealflowError>();
          const compute = (kept: readonly InternalDelivery<Ref>[]) => {
            const writes = new PendingWrites(auditKeyring);
            const updates: { id: string; expectedRowVersion: number; change: WorkflowChange }[] = [];
            const states: { row: WorkflowRow; state: WorkflowState }[] = [];
            for (const id of ids) {
              const row = rows.get(id);
              const events = kept.filter((d) => d.workflowId === id && d.event).map((d) => d.event!);
              if (row?.status !== 'active' || unusable.has(id) || events.length === 0) continue;
              try {
                const applied = applyEvents(row, events, writes, { now, actor: 'system', internal: true });
                if (applied) {
                  updates.push({ id, expectedRowVersion: row.rowVersion, change: applied.change });
                  const next = { ...row, ...applied.change, rowVersion: applied.rowVersion };
                  states.push({ row, state: toState(next, applied.snapshot) });
                }
              } catch (error) {
                unusable.set(id, toSealflowError(error, `workflow ${id}`));
              }
            }
            return { writes, updates, states };
          };
          let planned = compute(deliveries);
          const usable = deliveries.filter((d) => !unusable.has(d.workflowId));
          const kept = await hooks.claim(tx, usable, now);
          if (kept.length !== usable.length) planned = compute(kept);
          const updated = await tx.workflows.updateMany(planned.updates);
          if (updated.length !== planned.updates.length) throw new StaleRowSignal('a locked workflow row moved');
          await planned.writes.flush(tx);
          for (const { row, state } of planned.states) await definitionFor(row).onTransition?.(tx, state);
          const failures = deliveries
            .filter((d) => unusable.has(d.workflowId))
            .map((d) => ({ delivery: d, error: unusable.get(d.workflowId)! }));
          await hooks.reportUnusable(tx, failures, now);
          await hooks.alsoInTransaction?.(tx, now, planned.writes.queued);
          return { applied: kept.length, lost: usable.length - kept.length, unusable: failures.length };
        });
      } catch (error) {
        if (!(error instanceof StaleRowSignal) || attempt >= MAX_STALE_RETRIES) throw error;
      }
    }
  }

  function rejectionOf(
    definition: WorkflowDefinition,
    row: WorkflowRow,
    snapshot: AnyMachineSnapshot,
    event: EventObject,
  ): SealflowError | null {
    if (!definition.machine.events.includes(event.type)) {
      return new IllegalTransitionError(
        'UNKNOWN_EVENT',
        `${definition.id} has no event '${event.type}'. Events it knows: ${definition.machine.events.filter((e) => !e.startsWith('xstate.')).join(', ')}.`,
        { details: { workflowId: row.id, event: event.type } },
      );
    }
    if (!snapshot.can(event)) {
      const accepted = acceptedEventTypes(snapshot).filter((e) => !e.startsWith('xstate.'));
      return new IllegalTransitionError(
        'EVENT_NOT_ACCEPTED',
        `Workflow ${row.id} is in state '${row.stateValue}' and cannot take '${event.type}' now` +
          (accepted.length ? `; it accepts: ${accepted.join(', ')}.` : '.'),
        { details: { workflowId: row.id, event: event.type, state: row.stateValue } },
      );
    }
    return null;
  }

  async function send(id: string, event: WorkflowEvent, sendOptions: SendOptions = {}): Promise<WorkflowState> {
    const state = await deliver(id, event, sendOptions);
    logger.info('workflow_event', { workflowId: id, event: event.type, state: state.stateValue });
    return state;
  }

  async function get(id: string): Promise<WorkflowState | null> {
    const row = await persistence.transaction((tx) => tx.workflows.get(id));
    return row ? toState(row) : null;
  }

  const workerDeps = {
    persistence,
    clock,
    scheduler,
    logger,
    leaseMs,
    effectTimeoutMs,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    random: options.random ?? Math.random,
    definitionOf: (workflowId: string, machineId: string) => definitionFor({ id: workflowId, machineId }),
    settle,
    eventHandlers,
  };

  const runtime: Runtime = {
    start,
    send,
    get,
    async list(filter) {
      const rows = await persistence.transaction((tx) => tx.workflows.list(filter));
      return rows.map((row) => toState(row));
    },
    runOnce: (runOptions) => createWorker(workerDeps, {}).runOnce(runOptions?.limit),
    startWorker(workerOptions = {}) {
      const worker = createWorker(workerDeps, workerOptions);
      workers.add(worker);
      worker.start();
      return worker;
    },
    onEvent(handler) {
      eventHandlers.add(handler);
      return () => void eventHandlers.delete(handler);
    },
    deadLetters: {
      list: (filter = {}) =>
        persistence.transaction((tx) => tx.outbox.list({ ...filter, kind: 'effect', status: 'dead' })),
      async retry(effectId) {
        const requeued = await persistence.transaction(async (tx) => {
          const entry = await tx.outbox.get(effectId);
          if (!entry) throw new NotFoundError(`There is no effect ${effectId}. List dead letters to find ids.`);
          if (entry.status !== 'dead' && entry.status !== 'failed') {
            throw new ValidationError(
              `Effect ${effectId} is ${entry.status}, not dead or failed; only those can be retried.`,
            );
          }
          const ok = await tx.outbox.requeue(effectId, clock.now());
          if (ok) {
            await appendAudit(
              tx,
              entry.workflowId,
              { type: 'effect.requeued', actor: 'system', data: { effectId }, at: clock.now() },
              auditKeyring,
            );
          }
          return ok;
        });
        if (!requeued)
          throw new ConflictError(
            'VERSION_CONFLICT',
            `Effect ${effectId} changed while it was being retried; list it again.`,
          );
      },
    },
    async verifyAudit(workflowId) {
      const { row, entries } = await persistence.transaction(async (tx) => ({
        row: await tx.workflows.get(workflowId),
        entries: await tx.audit.list(workflowId),
      }));
      const chain = verifyAuditEntries(entries, auditKeyring);
      const workflow = workflowAuditProblems(row, entries);
      return { ...chain, ok: chain.ok && workflow.length === 0, head: entries.at(-1)?.hash ?? null, workflow };
    },
    persistence,
    clock,
    logger,
    async stop() {
      await Promise.all([...workers].map((w) => w.stop()));
      workers.clear();
    },
  };
  return runtime;
}

/**
 * An effect that may run longer than its claim's lease would be taken over by another worker while this one still
 * waits for it, so every timeout must end before the lease does; refused when the runtime is created, not when the
 * first slow effect runs.
 */
function checkTimeouts(leaseMs: number, effectTimeoutMs: number, workflows: readonly WorkflowDefinition[]): void {
  const positive = (ms: unknown) => typeof ms === 'number' && Number.isFinite(ms) && ms > 0;
  if (!positive(leaseMs)) {
    throw new ValidationError(`leaseMs must be a positive number of milliseconds, got ${String(leaseMs)}.`);
  }
  const problems: string[] = [];
  const check = (what: string, ms: unknown) => {
    if (!positive(ms)) problems.push(`${what} must be a positive number of milliseconds, got ${String(ms)}`);
    else if ((ms as number) >= leaseMs) problems.push(`${what} (${ms} ms) is not shorter than leaseMs (${leaseMs} ms)`);
  };
  check('effectTimeoutMs', effectTimeoutMs);
  for (const workflow of workflows) {
    for (const [name, effect] of Object.entries(workflow.effects)) {
      if (effect.timeoutMs !== undefined)
        check(`effect '${name}' of workflow '${workflow.id}' timeoutMs`, effect.timeoutMs);
    }
  }
  if (problems.length) {
    throw new ValidationError(
      `Effect timeouts do not fit the lease: ${problems.join('; ')}. Shorten the timeout or raise leaseMs above it.`,
      { details: { problems, leaseMs } },
    );
  }
}
