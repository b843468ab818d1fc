import type { EventObject } from 'xstate';
import { TimeoutError, toSealflowError } from '../errors.js';
import type { OutboxEntry } from '../ports/persistence.js';
import { withinTimeLimit } from '../ports/clock.js';
import { maskText } from '../privacy.js';
import type { WorkerDependencies } from './worker.js';
import type { EffectDefinition, SerializedError } from './workflow-definition.js';

/**
 * One attempt of an effect: the definition an outbox entry names, run with its idempotency key and raced against its
 * timeout, and what its result tells the machine.
 */

export interface EffectOutcome {
  entry: OutboxEntry;
  /** The claim under which the effect ran; its result is applied only while that claim is still held. */
  claimToken: string;
  /** Null when the effect succeeded. */
  failure: SerializedError | null;
  /** What to tell the machine; null for retryable failures and for results the definition chose not to report. */
  event: EventObject | null;
}

/** Outbox payload of an effect: which machine asked (effect names are per definition) and with what params. */
export interface EffectPayload {
  machine: string;
  params: unknown;
}

type AttemptDependencies = Pick<
  WorkerDependencies,
  'clock' | 'logger' | 'scheduler' | 'effectTimeoutMs' | 'definitionOf' | 'retry'
>;

export function effectAttempts(deps: AttemptDependencies) {
  const { clock, logger } = deps;

  /** The effect an outbox entry names; undefined when its workflow type or effect is not registered here. */
  function effectOf(entry: OutboxEntry): EffectDefinition | undefined {
    const { machine } = entry.payload as EffectPayload;
    try {
      return deps.definitionOf(entry.workflowId, machine).effects[entry.type];
    } catch {
      return undefined;
    }
  }

  /**
   * One attempt of an effect, raced against its timeout on the scheduler port. At the timeout the attempt is
   * abandoned, not stopped (a promise cannot be cancelled): its signal is aborted, and whatever it returns later is
   * dropped here, because the outcome was already decided.
   */
  async function runEffect(entry: OutboxEntry, claimToken: string): Promise<EffectOutcome> {
    const { machine, params } = entry.payload as EffectPayload;
    const effect = effectOf(entry);
    const timeoutMs = effect?.timeoutMs ?? deps.effectTimeoutMs;
    let timeout: Error | undefined;
    const timeoutError = () => {
      timeout = new TimeoutError(
        'EFFECT_TIMEOUT',
        `Effect ${entry.type} of workflow ${entry.workflowId} did not finish within ${timeoutMs} ms (attempt ` +
          `${entry.attempts}); it will be retried with the same idempotency key. If it needs longer, raise its ` +
          'timeoutMs (and leaseMs above it); if it hangs, make it honour context.signal.',
        { details: { workflowId: entry.workflowId, effect: entry.type, attempt: entry.attempts, timeoutMs } },
      );
      return timeout;
    };
    try {
      if (!effect) throw new Error(`no effect named '${entry.type}' is registered in workflow '${machine}'`);
      const output = await withinTimeLimit({ timeoutMs, scheduler: deps.scheduler, timeoutError }, (signal) =>
        effect.run(params, {
          workflowId: entry.workflowId,
          idempotencyKey: entry.id,
          attempt: entry.attempts,
          lastAttempt: entry.attempts >= { ...deps.retry, ...effect.retry }.maxAttempts,
          clock,
          logger,
          signal,
        }),
      );
      const value = output === undefined ? null : output;
      const done: EventObject = { type: `${entry.type}.done`, output: value } as EventObject;
      const event = effect.onDone ? effect.onDone(value, params) : done;
      return { entry, claimToken, failure: null, event };
    } catch (thrown) {
      const error = toSealflowError(thrown, `effect ${entry.type}`);
      if (thrown === timeout) {
        logger.warn('effect_timed_out', {
          workflowId: entry.workflowId,
          effect: entry.type,
          attempt: entry.attempts,
          timeoutMs,
        });
      }
      const failure = { code: error.code, message: maskText(error.message), retryable: error.retryable };
      const event = failure.retryable
        ? null
        : effect?.onFailed
          ? effect.onFailed(failure, params)
          : { type: `${entry.type}.failed`, error: failure };
      return { entry, claimToken, failure, event };
    }
  }

  return { effectOf, runEffect };
}
