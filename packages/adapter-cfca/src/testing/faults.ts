/** Fault injection: what goes wrong between the client and 安心签's front-end processor (FEP). */

/** One thing that can go wrong with a call. */
export type CfcaFault =
  /** Wait `ms` (real time) and then answer normally. */
  | { kind: 'latency'; ms: number }
  /**
   * Never answer: the call hangs until the client aborts it. With `processed: true` the emulator does the work first
   * (the contract is created, the signature made) and only the answer is lost: what a client's lookup by 3210 is for.
   */
  | { kind: 'timeout'; processed?: boolean }
  /** An HTTP error from the FEP or a proxy (502, 503 …), with an optional body (default: an HTML error page). */
  | { kind: 'http'; status: number; body?: string; processed?: boolean }
  /**
   * A rate-limit refusal. 安心签 publishes no QPS limit nor its answer; the emulator answers what a gateway in front
   * of it would: HTTP 429 with an HTML page.
   */
  | { kind: 'rate-limit' }
  /** HTTP 200 with a body cut off in the middle (not JSON, or a PDF that ends early for downloads). */
  | { kind: 'malformed'; processed?: boolean }
  /** An answer in 安心签's error form, `{"errorCode","errorMessage"}`, instead of doing the work. */
  | { kind: 'error'; errorCode: string; errorMessage: string }
  /** The connection drops: fetch rejects with a network error. */
  | { kind: 'network' }
  /**
   * For 3202: the batch is accepted as usual but never finishes, so 3211 answers `60030407` until the test calls
   * `emulator.finishBatch(batchNo)`.
   */
  | { kind: 'stuck-batch' };

/** Which calls a fault applies to. */
export interface FaultMatch {
  /** Transactions with this txCode (or any of these). Omitted: any transaction, and downloads unless `route` says. */
  txCode?: string | string[];
  /** `transaction` (POST …/txCode/…/transaction), `download` or `batch-download` (the GETs). Omitted: any. */
  route?: CfcaRoute;
}

export type CfcaRoute = 'transaction' | 'download' | 'batch-download';

interface FaultRule {
  match: FaultMatch;
  fault: CfcaFault;
  remaining: number;
}

/** Options of {@link CfcaFaults.random}. */
export interface RandomFaultOptions {
  /** The share of matching calls that get a fault, from 0 to 1 (0.2: one call in five on average). */
  rate: number;
  /**
   * Seeds the generator that picks the calls and their faults: the same seed and the same sequence of calls give
   * the same faults, so a run that found something can be repeated. Print it with the results.
   */
  seed: number;
  /** The faults to pick from, each equally likely; list one twice to make it twice as likely. */
  faults: readonly CfcaFault[];
  /** Which calls take part; omitted: every call. */
  match?: FaultMatch;
}

/** One fault a random rule injected. */
export interface InjectedCfcaFault {
  route: CfcaRoute;
  txCode: string | undefined;
  fault: CfcaFault;
}

/** A running random rule: what it injected so far, and its off switch. */
export interface RandomFaults {
  /** Matching calls the rule saw (faulted or not). */
  readonly calls: number;
  /** Every fault injected, in order. */
  readonly injected: readonly InjectedCfcaFault[];
  /** Removes the rule; `clear` does too. */
  stop(): void;
}

/**
 * Controls for {@link CfcaFault}s. The first `next`/`always` rule that matches a call is used (and counted down); a
 * call no such rule takes is offered to the `random` rules, the first matching one deciding.
 */
export interface CfcaFaults {
  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: CfcaFault, options?: FaultMatch & { times?: number }): void;
  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: CfcaFault, match?: FaultMatch): () => void;
  /**
   * A random share of matching calls get a fault picked at random from a mix, from a seeded generator: a soak test
   * of a client (timeouts that were processed anyway, 5xx, rate limits, malformed bodies, batches that never
   * finish) at a known rate.
   */
  random(options: RandomFaultOptions): RandomFaults;
  /** Removes every rule. */
  clear(): void;
}

/**
 * mulberry32: a small, fast 32-bit generator, good enough to pick faults and reproducible from its seed. (The same
 * as the e签宝 emulator's: the two adapters share no testing code.)
 */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RandomRule {
  match: FaultMatch;
  rate: number;
  faults: readonly CfcaFault[];
  /** Draws whether a call gets a fault. */
  next: () => number;
  /** Draws which fault: a generator of its own, so the two draws are not consecutive outputs of one. */
  pick: () => number;
  calls: number;
  injected: InjectedCfcaFault[];
}

export class FaultTable implements CfcaFaults {
  private rules: FaultRule[] = [];
  private randomRules: RandomRule[] = [];

  next(fault: CfcaFault, options: FaultMatch & { times?: number } = {}): void {
    const { times = 1, ...match } = options;
    if (!Number.isInteger(times) || times < 1) throw new RangeError('faults.next: times must be a positive integer.');
    this.rules.push({ match, fault, remaining: times });
  }

  always(fault: CfcaFault, match: FaultMatch = {}): () => void {
    const rule: FaultRule = { match, fault, remaining: Number.POSITIVE_INFINITY };
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  random(options: RandomFaultOptions): RandomFaults {
    const { rate, seed, faults } = options;
    if (!(Number.isFinite(rate) && rate >= 0 && rate <= 1)) {
      throw new RangeError(`faults.random: rate must be a number from 0 to 1, got ${String(rate)}.`);
    }
    if (!Number.isInteger(seed)) throw new RangeError(`faults.random: seed must be an integer, got ${String(seed)}.`);
    if (!Array.isArray(faults) || faults.length === 0) {
      throw new RangeError('faults.random: faults must list at least one fault to pick from.');
    }
    const rule: RandomRule = {
      match: options.match ?? {},
      rate,
      faults: [...faults],
      next: seededRandom(seed),
      pick: seededRandom(seed ^ 0x9e3779b9),
      calls: 0,
      injected: [],
    };
    this.randomRules.push(rule);
    return {
      get calls() {
        return rule.calls;
      },
      injected: rule.injected,
      stop: () => {
        this.randomRules = this.randomRules.filter((r) => r !== rule);
      },
    };
  }

  clear(): void {
    this.rules = [];
    this.randomRules = [];
  }

  /** The fault for this call, if any, counting it. */
  take(route: CfcaRoute, txCode: string | undefined): CfcaFault | undefined {
    const rule = this.rules.find((r) => matches(r.match, route, txCode));
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule.fault;
    }
    const random = this.randomRules.find((r) => matches(r.match, route, txCode));
    if (!random) return undefined;
    random.calls += 1;
    // Two draws per call, whatever the outcome, so one call's fault does not shift which later calls get one.
    const hit = random.next() < random.rate;
    const pick = random.faults[Math.floor(random.pick() * random.faults.length)]!;
    if (!hit) return undefined;
    random.injected.push({ route, txCode, fault: pick });
    return pick;
  }
}

function matches(match: FaultMatch, route: CfcaRoute, txCode: string | undefined): boolean {
  if (match.route !== undefined && match.route !== route) return false;
  if (match.txCode === undefined) return true;
  const codes = Array.isArray(match.txCode) ? match.txCode : [match.txCode];
  return txCode !== undefined && codes.includes(txCode);
}
