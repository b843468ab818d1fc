import type { AnyStateMachine, EventObject } from 'xstate';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { WorkflowState } from './runtime.js';

/**
 * What an effect handler learns about the call it is making.
 *
 * `idempotencyKey` is derived from the workflow and the step that requested the effect, so a re-run after a crash
 * (or after a lost lease) presents the same key. Pass it to every remote call that can take one: that is what makes
 * "at least once" execution look like "exactly once" to a vendor.
 */
export interface EffectContext {
  workflowId: string;
  idempotencyKey: string;
  /** 1 on the first try. */
  attempt: number;
  /**
   * This run is the last the retry policy allows (`maxAttempts`): if it fails retryably, the effect becomes a dead
   * letter and its workflow waits for an operator. An effect that can end its workflow safely instead (ask the remote
   * side what it holds and report that as an outcome the machine handles) does so on this run.
   */
  lastAttempt: boolean;
  clock: Clock;
  logger: Logger;
  /**
   * Aborted when the effect's timeout passes (its reason is the `EFFECT_TIMEOUT` error). The worker stops waiting
   * at that moment and schedules a retry with the same idempotency key; hand the signal to every call that takes
   * one (vendor calls, `fetch`) so the abandoned attempt stops too instead of running on unobserved.
   */
  signal: AbortSignal;
}

/** An error as it is stored and fed back to a workflow: no stack, no cause chain, message already masked. */
export interface SerializedError {
  code: string;
  message: string;
  retryable: boolean;
}

/** How often and how far apart a failing effect is retried before it becomes a dead letter. */
export interface RetryPolicy {
  /** Attempts before an effect goes to the dead letters (default 5). */
  maxAttempts: number;
  /** First retry delay in ms (default 1 000); doubles per attempt. */
  baseDelayMs: number;
  /** Cap on one delay in ms (default 5 minutes). */
  maxDelayMs: number;
  /** 0..1: the share of each delay that is randomised, so retries of many workflows spread out (default 0.5). */
  jitter: number;
}

/**
 * One side effect a machine may request by naming it as an action.
 *
 * The machine declares the action in `setup({ actions: { name: () => {} } })` (a no-op: the runtime never runs
 * actions inside a transition) and uses it like any action, with `params`. The runtime writes it to the outbox in
 * the same transaction as the new state; a worker runs `run(params)` later and feeds the result back as an event.
 */
// biome-ignore lint/suspicious/noExplicitAny: a workflow's effects map holds effects of different param types.
export interface EffectDefinition<Params = any, Output = any> {
  run(params: Params, context: EffectContext): Promise<Output>;
  /** The event fed back on success; default `{ type: '<name>.done', output }`. Return null to send nothing. */
  onDone?: (output: Output, params: Params) => EventObject | null;
  /**
   * The event fed back when the effect fails permanently (a non-retryable error); default
   * `{ type: '<name>.failed', error }`. Retryable errors are retried instead, then dead-lettered without an event,
   * because a person may still retry them; put a deadline in the machine if it must not wait forever.
   */
  onFailed?: (error: SerializedError, params: Params) => EventObject | null;
  retry?: Partial<RetryPolicy>;
  /**
   * How long one attempt may run, in ms, before the worker gives up on it: the attempt fails with the retryable
   * `EFFECT_TIMEOUT` (so it is retried, with the same idempotency key, under `retry`) and its result, should it
   * still arrive, is dropped. Default: the runtime's `effectTimeoutMs`. Must be shorter than the runtime's
   * `leaseMs`, so no other worker takes the effect over while this one is still waiting for it.
   */
  timeoutMs?: number;
}

/** Turns a snapshot written by version `from` into one that version `from + 1` can restore. */
// biome-ignore lint/suspicious/noExplicitAny: a migration reads and writes an older, untyped snapshot shape.
export type SnapshotMigration = (snapshot: any) => any;

/** A workflow type the runtime can run: its xstate machine, effects, snapshot migrations and hooks. */
export interface WorkflowDefinition<TMachine extends AnyStateMachine = AnyStateMachine> {
  /** Stable name stored with every row, such as `template-approval`. Never rename a definition in use. */
  readonly id: string;
  /** Bump when a change to the machine makes old snapshots unreadable, and register a migration from the old one. */
  readonly version: number;
  readonly machine: TMachine;
  readonly effects: Readonly<Record<string, EffectDefinition>>;
  /** `migrations[n]` migrates a version-n snapshot to version n+1. */
  readonly migrations: Readonly<Record<number, SnapshotMigration>>;
  /** See {@link TransitionHook}. */
  readonly onTransition?: TransitionHook;
}

/**
 * Domain writes that must commit with every saved change of a workflow of this type, whoever caused it: `start`, a
 * caller's `send`, an effect's result or a due timer (which have no `alongside`). It runs inside that transaction
 * after the new state is saved, once per saved change (several events settled together give one call with the final
 * state); throwing aborts the transaction, so keep it to reads and writes of the workflow's own records.
 */
export type TransitionHook = (tx: PersistenceTransaction, state: WorkflowState) => Promise<void>;

/**
 * Define a workflow type for {@link createRuntime}: an xstate machine, the effects it asks for by name, and the
 * migrations of snapshots written by older machine versions.
 */
export function defineWorkflow<TMachine extends AnyStateMachine>(definition: {
  id: string;
  version: number;
  machine: TMachine;
  effects?: Record<string, EffectDefinition>;
  migrations?: Record<number, SnapshotMigration>;
  onTransition?: TransitionHook;
}): WorkflowDefinition<TMachine> {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.id)) {
    throw new TypeError(`workflow id '${definition.id}' must be lower-case kebab-case, such as 'template-approval'`);
  }
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new TypeError(`workflow '${definition.id}' needs a positive integer version, got ${definition.version}`);
  }
  return Object.freeze({
    id: definition.id,
    version: definition.version,
    machine: definition.machine,
    effects: Object.freeze({ ...definition.effects }),
    migrations: Object.freeze({ ...definition.migrations }),
    ...(definition.onTransition ? { onTransition: definition.onTransition } : {}),
  });
}
