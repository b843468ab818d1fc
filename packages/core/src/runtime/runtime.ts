import { randomUUID } from 'node:crypto';
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
} from '../errors.js';
import { type Clock, type Scheduler, systemClock, systemScheduler } from '../ports/clock.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type {
  NewOutboxEntry,
  OutboxEntry,
  Persistence,
  PersistenceTransaction,
  WorkflowFilter,
  WorkflowRow,
  WorkflowStatus,
} from '../ports/persistence.js';
import { maskPersonalData } from '../privacy.js';
import { type AuditVerification, appendAudit, verifyAuditEntries } from './audit-chain.js';
import { restoreSnapshot, stateValueText } from './snapshots.js';
import type { RetryPolicy, WorkflowDefinition } from './workflow-definition.js';
import { createWorker, type Worker, type WorkerOptions, type WorkerPass } from './worker.js';

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

export interface WorkflowState {
  id: string;
  /** The definition id. */
  type: string;
  machineVersion: number;
  /** Goes up by one on every transition; pass it back as `expectedVersion` to detect concurrent changes. */
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

export interface RuntimeOptions {
  persistence: Persistence;
  workflows: readonly WorkflowDefinition[];
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
  /** Default retry policy for effects; each effect may override parts of it. */
  retry?: Partial<RetryPolicy>;
  /** How long a claimed effect or timer belongs to this process before another may take it (default 60 s). */
  leaseMs?: number;
  /** Random source for jitter; tests pass a fixed one. */
  random?: () => number;
}

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

/** Events the runtime sends on the machine's behalf (timers, effect results): never an error when stale. */
interface InternalDelivery {
  internal: true;
  /** Extra writes that must commit with the transition, or abort everything when they return false. */
  claim: (tx: PersistenceTransaction) => Promise<boolean>;
}

const MAX_STALE_RETRIES = 20;

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
  /** Verify the hash chain of a workflow's audit log. */
  verifyAudit(workflowId: string): Promise<AuditVerification>;
  readonly persistence: Persistence;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Stop every worker started from this runtime and wait for their current pass. */
  stop(): Promise<void>;
}

export interface DomainEvent {
  /** Stable across redeliveries: use it to deduplicate. */
  id: string;
  workflowId: string;
  type: string;
  payload: unknown;
  occurredAt: number;
}

export type DomainEventHandler = (event: DomainEvent) => void | Promise<void>;

export function createRuntime(options: RuntimeOptions): Runtime {
  const { persistence } = options;
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const logger = options.logger ?? silentLogger;
  const definitions = new Map<string, WorkflowDefinition>();
  for (const definition of options.workflows) {
    if (definitions.has(definition.id)) throw new TypeError(`workflow '${definition.id}' is registered twice`);
    definitions.set(definition.id, definition);
  }
  const eventHandlers = new Set<DomainEventHandler>();
  const workers = new Set<Worker>();

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

  /** Write what a transition asked for: effects and events to the outbox, delays as timers, cancels as deletions. */
  async function recordActions(
    tx: PersistenceTransaction,
    workflowId: string,
    step: number,
    actions: readonly { type: string; params?: unknown }[],
    definition: WorkflowDefinition,
    now: number,
  ): Promise<void> {
    const outbox: NewOutboxEntry[] = [];
    for (const [index, action] of actions.entries()) {
      const params = (action.params ?? null) as Record<string, any> | null;
      const id = `${workflowId}/${step}/${index}`;
      if (action.type === 'xstate.raise' && params && typeof params.delay === 'number') {
        await tx.timers.schedule({
          workflowId,
          timerId: String(params.id),
          event: params.event,
          dueAt: now + params.delay,
          token: randomUUID(),
        });
      } else if (action.type === 'xstate.cancel' && params) {
        await tx.timers.cancel(workflowId, String(params.sendId));
      } else if (action.type === 'xstate.emit' && params) {
        const event = params.event as EventObject;
        outbox.push({
          id: `${id}:${event.type}`,
          workflowId,
          kind: 'event',
          type: event.type,
          payload: event,
          availableAt: now,
          createdAt: now,
        });
      } else if (action.type in definition.effects) {
        outbox.push({
          id: `${id}:${action.type}`,
          workflowId,
          kind: 'effect',
          type: action.type,
          payload: { machine: definition.id, params },
          availableAt: now,
          createdAt: now,
        });
      } else if (!action.type.startsWith('xstate.')) {
        logger.debug('runtime_action_ignored', { workflowId, action: action.type, machine: definition.id });
      }
    }
    if (outbox.length > 0) await tx.outbox.enqueue(outbox);
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
    try {
      await persistence.transaction(async (tx) => {
        await tx.workflows.insert(row);
        await recordActions(tx, row.id, 1, actions, definition, now);
        await appendAudit(tx, row.id, {
          type: 'workflow.started',
          actor: startOptions.actor ?? 'system',
          data: {
            machine: definition.id,
            version: definition.version,
            state: row.stateValue,
            input: maskPersonalData(startOptions.input ?? null),
          },
          at: now,
        });
        await startOptions.alongside?.(tx, toState(row, snapshot));
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
    return toState(row, snapshot);
  }

  /**
   * The one path by which an event changes a workflow. Retries the whole transaction when another writer moved the
   * row on first (unless the caller pinned a version), so concurrent events are serialised per workflow.
   */
  async function deliver(
    id: string,
    event: EventObject,
    sendOptions: SendOptions,
    delivery?: InternalDelivery,
  ): Promise<WorkflowState | null> {
    if (!event || typeof event.type !== 'string' || event.type.length === 0) {
      throw new ValidationError('An event must be an object with a non-empty string `type`.');
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await persistence.transaction(async (tx) => {
          if (delivery && !(await delivery.claim(tx))) return null;
          const row = await tx.workflows.get(id);
          if (!row) {
            if (delivery) return null;
            throw new NotFoundError(`There is no workflow ${id}. Check the id, or start it first.`);
          }
          return await step(tx, row, event, sendOptions, delivery);
        });
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

  async function step(
    tx: PersistenceTransaction,
    row: WorkflowRow,
    event: EventObject,
    sendOptions: SendOptions,
    delivery: InternalDelivery | undefined,
  ): Promise<WorkflowState | null> {
    if (sendOptions.expectedVersion !== undefined && row.rowVersion !== sendOptions.expectedVersion) {
      throw new StaleRowSignal(`expected version ${sendOptions.expectedVersion}, found ${row.rowVersion}`);
    }
    const definition = definitionFor(row);
    if (row.status !== 'active') {
      if (delivery) return null;
      throw new IllegalTransitionError(
        'WORKFLOW_FINISHED',
        `Workflow ${row.id} has finished (${row.status}, in state ${row.stateValue}) and takes no more events; ${event.type} was not applied.`,
      );
    }
    const snapshot = restoreSnapshot(definition, row);
    const rejection = rejectionOf(definition, row, snapshot, event);
    if (rejection) {
      if (delivery) {
        logger.debug('runtime_stale_event_ignored', { workflowId: row.id, event: event.type, state: row.stateValue });
        return toState(row, snapshot);
      }
      throw rejection;
    }
    const [next, actions] = transition(definition.machine, snapshot, event);
    const now = clock.now();
    const nextRowVersion = row.rowVersion + 1;
    const change = {
      machineVersion: definition.version,
      status: next.status,
      stateValue: stateValueText(next.value),
      snapshot: JSON.parse(JSON.stringify(definition.machine.getPersistedSnapshot(next))),
      updatedAt: now,
    };
    if (!(await tx.workflows.update(row.id, row.rowVersion, change))) {
      throw new StaleRowSignal(`version ${row.rowVersion} is no longer current`);
    }
    await recordActions(tx, row.id, nextRowVersion, actions, definition, now);
    if (change.status !== 'active') await tx.timers.cancelAll(row.id);
    await appendAudit(tx, row.id, {
      type: 'workflow.transition',
      actor: sendOptions.actor ?? 'system',
      data: { event: maskPersonalData(event), from: row.stateValue, to: change.stateValue, rowVersion: nextRowVersion },
      at: now,
    });
    const state = toState({ ...row, ...change, rowVersion: nextRowVersion }, next);
    await sendOptions.alongside?.(tx, state);
    return state;
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
    logger.info('workflow_event', { workflowId: id, event: event.type, state: state?.stateValue });
    return state!;
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
    leaseMs: options.leaseMs ?? 60_000,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    random: options.random ?? Math.random,
    definitionOf: (workflowId: string, machineId: string) => definitionFor({ id: workflowId, machineId }),
    deliverInternal: (workflowId: string, event: EventObject, claim: InternalDelivery['claim']) =>
      deliver(workflowId, event, { actor: 'system' }, { internal: true, claim }),
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
            await appendAudit(tx, entry.workflowId, {
              type: 'effect.requeued',
              actor: 'system',
              data: { effectId },
              at: clock.now(),
            });
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
      const entries = await persistence.transaction((tx) => tx.audit.list(workflowId));
      return verifyAuditEntries(entries);
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
