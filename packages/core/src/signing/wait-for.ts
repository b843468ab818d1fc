/**
 * `signing.waitFor(id, { timeoutMs })`: wait until a signing is final (COMPLETED or FAILED), driven by the runtime's
 * domain events rather than by polling the database.
 *
 * Three rules keep it honest:
 * - it subscribes before it reads the record, so a signing that finishes between the read and the subscription is not
 *   missed (the event, or the read, sees it);
 * - every waiter holds one timer and one abort listener, both released the moment it settles, and the single
 *   runtime subscription shared by all waiters is dropped when the last one leaves — nothing outlives a wait;
 * - the event only says "look again": the record is read after it, so the caller gets the record as stored, with
 *   its failure, signed documents and evidence anchor, never a reconstruction from an event payload.
 *
 * Domain events are delivered to the process whose worker takes them. In a deployment of several processes the
 * completion may be delivered elsewhere; the record is therefore read once more when the time runs out, and only a
 * signing still unfinished then is reported as a timeout.
 */
import { SealflowError, ValidationError } from '../errors.js';
import type { Scheduler } from '../ports/clock.js';
import type { DomainEvent, Runtime } from '../runtime/runtime.js';
import type { SigningRecord } from './records.js';

export interface WaitForOptions {
  /** How long to wait, in ms; when it passes the wait rejects with `SIGNING_WAIT_TIMEOUT`. The signing goes on. */
  timeoutMs: number;
  /** Stops waiting early (a closed HTTP request, a shutdown): the wait rejects with `SIGNING_WAIT_ABORTED`. */
  signal?: AbortSignal;
}

/** The signing was not final within `timeoutMs`. It carries on in the background; wait again or look later. */
export class SigningWaitTimeoutError extends SealflowError {
  readonly recordId: string;

  constructor(recordId: string, timeoutMs: number, status: string | null) {
    super(
      'SIGNING_WAIT_TIMEOUT',
      `Signing ${recordId} is still ${status ?? 'unfinished'} after ${timeoutMs} ms of waiting. It carries on in the ` +
        `background: wait again, or read it later with signing.get('${recordId}').`,
      { retryable: true, details: { recordId, timeoutMs, status } },
    );
    this.recordId = recordId;
  }
}

const FINAL_EVENTS: ReadonlySet<string> = new Set(['signing.completed', 'signing.failed']);

export function isFinalSigning(record: SigningRecord): boolean {
  return record.status === 'COMPLETED' || record.status === 'FAILED';
}

interface Waiter {
  settle(outcome: { record: SigningRecord } | { error: unknown }): void;
}

export interface SigningWaiters {
  waitFor(recordId: string, options: WaitForOptions): Promise<SigningRecord>;
  /** Reject every pending wait with `SIGNING_SERVICE_CLOSED` and drop the subscription. */
  close(): void;
}

export function signingWaiters(deps: {
  runtime: Runtime;
  scheduler: Scheduler;
  /** Reads a record by id (validating the id); null when there is none. */
  read: (recordId: string) => Promise<SigningRecord | null>;
}): SigningWaiters {
  const waiting = new Map<string, Set<Waiter>>();
  let unsubscribe: (() => void) | null = null;
  let closed = false;

  function onEvent(event: DomainEvent): void {
    if (!FINAL_EVENTS.has(event.type) || !waiting.has(event.workflowId)) return;
    // Not awaited: the worker delivering the event must not wait on (or fail because of) a reader.
    void look(event.workflowId);
  }

  /** Read the record and settle every waiter of it if it is final. */
  async function look(recordId: string): Promise<void> {
    let record: SigningRecord | null;
    try {
      record = await deps.read(recordId);
    } catch (error) {
      for (const waiter of [...(waiting.get(recordId) ?? [])]) waiter.settle({ error });
      return;
    }
    if (record && isFinalSigning(record)) {
      for (const waiter of [...(waiting.get(recordId) ?? [])]) waiter.settle({ record });
    }
  }

  function add(recordId: string, waiter: Waiter): void {
    const set = waiting.get(recordId) ?? new Set<Waiter>();
    waiting.set(recordId, set.add(waiter));
    unsubscribe ??= deps.runtime.onEvent(onEvent);
  }

  function remove(recordId: string, waiter: Waiter): void {
    const set = waiting.get(recordId);
    set?.delete(waiter);
    if (set?.size === 0) waiting.delete(recordId);
    if (waiting.size === 0 && unsubscribe) {
      unsubscribe();
      unsubscribe = null;
    }
  }

  function waitFor(recordId: string, options: WaitForOptions): Promise<SigningRecord> {
    let checked: WaitForOptions;
    try {
      checked = checkOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { timeoutMs, signal } = checked;
    if (closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(abortedError(recordId, signal.reason));
    return new Promise<SigningRecord>((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        settle(outcome) {
          if (settled) return;
          settled = true;
          cancelTimer();
          signal?.removeEventListener('abort', onAbort);
          remove(recordId, waiter);
          if ('record' in outcome) resolve(outcome.record);
          else reject(outcome.error);
        },
      };
      const onAbort = () => waiter.settle({ error: abortedError(recordId, signal?.reason) });
      const onTimeout = async () => {
        // One last read: the completion may have been delivered to another process's worker.
        try {
          const record = await deps.read(recordId);
          if (record && isFinalSigning(record)) waiter.settle({ record });
          else waiter.settle({ error: new SigningWaitTimeoutError(recordId, timeoutMs, record?.status ?? null) });
        } catch (error) {
          waiter.settle({ error });
        }
      };
      // Subscribed first, read second: a completion in between is seen by one or the other.
      add(recordId, waiter);
      const cancelTimer = deps.scheduler.schedule(() => void onTimeout(), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      deps
        .read(recordId)
        .then((record) => {
          if (!record) {
            waiter.settle({
              error: new SealflowError('NOT_FOUND', `There is no signing record ${recordId} to wait for.`, {
                details: { recordId },
              }),
            });
          } else if (isFinalSigning(record)) waiter.settle({ record });
        })
        .catch((error: unknown) => waiter.settle({ error }));
    });
  }

  return {
    waitFor,
    close() {
      closed = true;
      for (const set of [...waiting.values()]) for (const waiter of [...set]) waiter.settle({ error: closedError() });
    },
  };
}

function checkOptions(options: WaitForOptions): WaitForOptions {
  const timeoutMs = (options as Partial<WaitForOptions> | undefined)?.timeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ValidationError(
      `waitFor needs { timeoutMs }: a positive number of milliseconds to wait, such as 60000; got ${String(timeoutMs)}.`,
      { details: { paths: ['options.timeoutMs'] } },
    );
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ValidationError('waitFor options.signal must be an AbortSignal (from an AbortController).', {
      details: { paths: ['options.signal'] },
    });
  }
  return options;
}

function abortedError(recordId: string, reason: unknown): SealflowError {
  return new SealflowError(
    'SIGNING_WAIT_ABORTED',
    `Waiting for signing ${recordId} was aborted; the signing itself carries on.`,
    { cause: reason, details: { recordId } },
  );
}

function closedError(): SealflowError {
  return new SealflowError(
    'SIGNING_SERVICE_CLOSED',
    'The signing service was closed while waiting; the signing itself carries on. Wait again on a running service.',
  );
}
