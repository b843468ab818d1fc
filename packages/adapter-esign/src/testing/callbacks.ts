/**
 * Callback (notify) delivery: JSON POSTs to a flow's notifyUrl, signed as e签宝 signs them, through the global fetch
 * (looked up on every call, so msw or a real server receives them). One queue for the whole emulator delivers events
 * in the order they happened unless a test asks otherwise.
 */
import type { Clock } from '@sealflow/core';
import { seededRandom } from './faults.js';

/** One event the emulator emitted to a notifyUrl (lost ones included). */
export interface EsignCallbackEvent {
  url: string;
  appId: string;
  action: string;
  signFlowId: string;
  /** The exact JSON text posted. */
  body: string;
  /**
   * What a fault did to it: never sent (`lost`), sent twice (`duplicated`), held by `reorderNext` (`held`), or sent
   * after the event that followed it (`reordered`, by `random`).
   */
  fault: 'lost' | 'duplicated' | 'held' | 'reordered' | undefined;
}

/** One HTTP attempt to deliver an event. */
export interface EsignCallbackAttempt {
  event: EsignCallbackEvent;
  attempt: number;
  headers: Record<string, string>;
  /** The receiver's HTTP status; undefined when the request failed (`error`). */
  status: number | undefined;
  error: string | undefined;
}

/** Which events a callback fault applies to. */
export interface CallbackMatch {
  action?: string;
  signFlowId?: string;
}

/** Controls and records of callback delivery. */
export interface EsignCallbacks {
  /** Every event emitted, in the order it happened. */
  readonly events: readonly EsignCallbackEvent[];
  /** Every delivery attempt, in the order made. */
  readonly attempts: readonly EsignCallbackAttempt[];
  /** Resolves when every event emitted so far (and not held or put back) has been delivered or given up on. */
  idle(): Promise<void>;
  /** The next `times` matching events are never sent. */
  lose(times?: number, match?: CallbackMatch): void;
  /** The next `times` matching events are sent twice (same body and body timestamp). */
  duplicate(times?: number, match?: CallbackMatch): void;
  /**
   * The next `count` events (any action) are held back and then sent newest first once all `count` were emitted:
   * SIGN_FLOW_COMPLETE arrives before the SIGN_MISSON_COMPLETE that led to it.
   */
  reorderNext(count: number): void;
  /** Sends the events still held by `reorderNext` (newest first) without waiting for the rest. */
  release(): Promise<void>;
  /**
   * A random share of matching events (from a seeded generator) is lost, sent twice, or sent after the event that
   * follows it (or after `reorderWaitMs` when none follows), each equally likely: e签宝's delivery at its worst, at a
   * known rate. Returns the off switch; the events' `fault` says what happened to each.
   */
  random(options: RandomCallbackFaultOptions): () => void;
}

/** Options of {@link EsignCallbacks.random}. */
export interface RandomCallbackFaultOptions {
  /** The share of matching events that get a fault, from 0 to 1. */
  rate: number;
  /** Seeds the generator: the same seed and the same events give the same faults. */
  seed: number;
  /** Which faults to pick from; default all three. */
  kinds?: readonly ('lost' | 'duplicated' | 'reordered')[];
  match?: CallbackMatch;
  /** Real milliseconds a reordered event waits for a following one before it is sent anyway. Default 200. */
  reorderWaitMs?: number;
}

export interface CallbackOptions {
  /** Attempts per event, the first included (e签宝 retries up to 16 times). Default 3. */
  maxAttempts?: number;
  /** Real milliseconds between attempts. Default 0. */
  retryDelayMs?: number;
  /** Real milliseconds before an attempt counts as failed (e签宝 expects an answer within 5 s). Default 5000. */
  timeoutMs?: number;
}

type Signer = (input: { appId: string; url: string; timestamp: string; body: string }) => string;

interface Rule {
  kind: 'lost' | 'duplicated';
  remaining: number;
  match: CallbackMatch;
}

interface RandomRule {
  rate: number;
  kinds: readonly ('lost' | 'duplicated' | 'reordered')[];
  match: CallbackMatch;
  /** Draws whether an event gets a fault. */
  next: () => number;
  /** Draws which fault, from a generator of its own (two consecutive outputs of one would be correlated). */
  pick: () => number;
  waitMs: number;
}

const matchesEvent = (match: CallbackMatch, input: { action: string; signFlowId: string }) =>
  (!match.action || match.action === input.action) && (!match.signFlowId || match.signFlowId === input.signFlowId);

export class CallbackQueue implements EsignCallbacks {
  readonly events: EsignCallbackEvent[] = [];
  readonly attempts: EsignCallbackAttempt[] = [];
  private chain: Promise<void> = Promise.resolve();
  private rules: Rule[] = [];
  private holdCount = 0;
  private held: EsignCallbackEvent[] = [];
  private randomRules: RandomRule[] = [];
  /** Events put back by a random rule: each is sent after the next event is, or when its wait runs out. */
  private deferred: { event: EsignCallbackEvent; timer: ReturnType<typeof setTimeout> }[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly sign: Signer,
    private readonly options: CallbackOptions = {},
  ) {}

  emit(input: { url: string; appId: string; action: string; signFlowId: string; body: string }): void {
    const rule = this.rules.find((r) => matchesEvent(r.match, input));
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    }
    const event: EsignCallbackEvent = { ...input, fault: rule?.kind ?? this.randomFault(input) };
    this.events.push(event);
    if (event.fault === 'lost') return;
    if (event.fault === 'reordered') {
      const wait = this.randomRules.find((r) => matchesEvent(r.match, input))?.waitMs ?? 200;
      const entry = { event, timer: setTimeout(() => this.sendDeferred(entry), wait) };
      this.deferred.push(entry);
      return;
    }
    if (this.holdCount > 0) {
      event.fault = 'held';
      this.held.push(event);
      this.holdCount -= 1;
      if (this.holdCount === 0) void this.release();
      return;
    }
    this.enqueue(event);
    if (event.fault === 'duplicated') this.enqueue(event);
    // Whatever was put back before this event goes out after it.
    for (const entry of this.deferred.splice(0)) {
      clearTimeout(entry.timer);
      this.enqueue(entry.event);
    }
  }

  random(options: RandomCallbackFaultOptions): () => void {
    const { rate, seed } = options;
    if (!(Number.isFinite(rate) && rate >= 0 && rate <= 1)) {
      throw new RangeError(`callbacks.random: rate must be a number from 0 to 1, got ${String(rate)}.`);
    }
    if (!Number.isInteger(seed))
      throw new RangeError(`callbacks.random: seed must be an integer, got ${String(seed)}.`);
    const kinds = options.kinds ?? ['lost', 'duplicated', 'reordered'];
    if (kinds.length === 0) throw new RangeError('callbacks.random: kinds must list at least one fault.');
    const rule: RandomRule = {
      rate,
      kinds: [...kinds],
      match: options.match ?? {},
      next: seededRandom(seed),
      pick: seededRandom(seed ^ 0x9e3779b9),
      waitMs: Math.max(0, options.reorderWaitMs ?? 200),
    };
    this.randomRules.push(rule);
    return () => {
      this.randomRules = this.randomRules.filter((r) => r !== rule);
    };
  }

  private randomFault(input: { action: string; signFlowId: string }): RandomRule['kinds'][number] | undefined {
    const rule = this.randomRules.find((r) => matchesEvent(r.match, input));
    if (!rule) return undefined;
    // Two draws per event, whatever the outcome, so one event's fault does not shift the later ones'.
    const hit = rule.next() < rule.rate;
    const kind = rule.kinds[Math.floor(rule.pick() * rule.kinds.length)];
    return hit ? kind : undefined;
  }

  private sendDeferred(entry: { event: EsignCallbackEvent; timer: ReturnType<typeof setTimeout> }): void {
    const at = this.deferred.indexOf(entry);
    if (at < 0) return;
    this.deferred.splice(at, 1);
    this.enqueue(entry.event);
  }

  idle(): Promise<void> {
    return this.chain;
  }

  lose(times = 1, match: CallbackMatch = {}): void {
    this.rules.push({ kind: 'lost', remaining: times, match });
  }

  duplicate(times = 1, match: CallbackMatch = {}): void {
    this.rules.push({ kind: 'duplicated', remaining: times, match });
  }

  reorderNext(count: number): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('reorderNext: count must be a positive integer.');
    this.holdCount = count;
  }

  release(): Promise<void> {
    const held = this.held.reverse();
    this.held = [];
    this.holdCount = 0;
    for (const event of held) this.enqueue(event);
    return this.chain;
  }

  private enqueue(event: EsignCallbackEvent): void {
    this.chain = this.chain.then(() => this.deliver(event));
  }

  private async deliver(event: EsignCallbackEvent): Promise<void> {
    const maxAttempts = Math.max(1, this.options.maxAttempts ?? 3);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1 && (this.options.retryDelayMs ?? 0) > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
      }
      const timestamp = String(this.clock.now());
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=UTF-8',
        'X-Tsign-Open-App-Id': event.appId,
        'X-Tsign-Open-TIMESTAMP': timestamp,
        'X-Tsign-Open-SIGNATURE': this.sign({ appId: event.appId, url: event.url, timestamp, body: event.body }),
        'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sha256',
      };
      const record: EsignCallbackAttempt = { event, attempt, headers, status: undefined, error: undefined };
      this.attempts.push(record);
      try {
        const response = await globalThis.fetch(event.url, {
          method: 'POST',
          headers,
          body: event.body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        record.status = response.status;
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
      } catch (error) {
        record.error = error instanceof Error ? error.message : String(error);
      }
    }
  }
}
