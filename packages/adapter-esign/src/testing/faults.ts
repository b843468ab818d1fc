/** Fault injection for API calls: what goes wrong between the client and e签宝's gateway. */

/** One thing that can go wrong with an API call. */
export type EsignFault =
  /** Wait `ms` (real time) and then answer normally. */
  | { kind: 'latency'; ms: number }
  /**
   * Never answer: the call hangs until the client aborts it. With `processed: true` the emulator does the work first
   * (the flow is created, the revoke happens) and only the answer is lost: what a client's lookup-before-retry is for.
   */
  | { kind: 'timeout'; processed?: boolean }
  /** An HTTP error from the gateway or a proxy (502, 503 …), with an optional body (default: an nginx-like page). */
  | { kind: 'http'; status: number; body?: string; processed?: boolean }
  /**
   * A rate-limit refusal. e签宝 publishes no QPS limit nor its answer; the emulator answers HTTP 429 with the
   * gateway's shape, `{"success":false,"code":429,"message":"TOO_MANY_REQUESTS"}`.
   */
  | { kind: 'rate-limit' }
  /** HTTP 200 with a body that is not JSON (a truncated or HTML answer). */
  | { kind: 'malformed'; processed?: boolean }
  /** A business failure in the envelope: HTTP 200, `{ code, message, data: null }`. */
  | { kind: 'business'; code: number; message: string }
  /** The connection drops: fetch rejects with a network error. */
  | { kind: 'network' };

/** Which calls a fault applies to. */
export interface FaultMatch {
  /**
   * The API path: exact (`/v3/sign-flow/create-by-file`), with `:name` segments (`/v3/sign-flow/:id/detail`), or a
   * RegExp tested against the path. Omitted: every API call.
   */
  path?: string | RegExp;
  /** Upper-case HTTP method; omitted: any. */
  method?: string;
}

interface FaultRule {
  match: FaultMatch;
  fault: EsignFault;
  remaining: number;
}

/** Options of {@link EsignFaults.random}. */
export interface RandomFaultOptions {
  /** The share of matching calls that get a fault, from 0 to 1 (0.2: one call in five on average). */
  rate: number;
  /**
   * Seeds the generator that picks the calls and their faults: the same seed and the same sequence of calls give
   * the same faults, so a run that found something can be repeated. Print it with the results.
   */
  seed: number;
  /** The faults to pick from, each equally likely; list one twice to make it twice as likely. */
  faults: readonly EsignFault[];
  /** Which calls take part; omitted: every API call. */
  match?: FaultMatch;
}

/** One fault a random rule injected. */
export interface InjectedEsignFault {
  method: string;
  path: string;
  fault: EsignFault;
}

/** A running random rule: what it injected so far, and its off switch. */
export interface RandomFaults {
  /** Matching calls the rule saw (faulted or not). */
  readonly calls: number;
  /** Every fault injected, in order. */
  readonly injected: readonly InjectedEsignFault[];
  /** Removes the rule; `clear` does too. */
  stop(): void;
}

/**
 * Controls for {@link EsignFault}s. The first `next`/`always` rule that matches a call is used (and counted down);
 * a call no such rule takes is offered to the `random` rules, the first matching one deciding.
 */
export interface EsignFaults {
  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: EsignFault, options?: FaultMatch & { times?: number }): void;
  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: EsignFault, match?: FaultMatch): () => void;
  /**
   * A random share of matching calls get a fault picked at random from a mix, from a seeded generator: a soak test
   * of a client (timeouts that were processed anyway, 5xx, rate limits, malformed bodies) at a known rate.
   */
  random(options: RandomFaultOptions): RandomFaults;
  /** Removes every rule. */
  clear(): void;
}

/** mulberry32: a small, fast 32-bit generator, good enough to pick faults and reproducible from its seed. */
export function seededRandom(seed: number): () => number {
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
  faults: readonly EsignFault[];
  /** Draws whether a call gets a fault. */
  next: () => number;
  /** Draws which fault: a generator of its own, so the two draws are not consecutive outputs of one. */
  pick: () => number;
  calls: number;
  injected: InjectedEsignFault[];
}

export class FaultTable implements EsignFaults {
  private rules: FaultRule[] = [];
  private randomRules: RandomRule[] = [];

  next(fault: EsignFault, options: FaultMatch & { times?: number } = {}): void {
    const { times = 1, ...match } = options;
    if (!Number.isInteger(times) || times < 1) throw new RangeError('faults.next: times must be a positive integer.');
    this.rules.push({ match, fault, remaining: times });
  }

  always(fault: EsignFault, match: FaultMatch = {}): () => void {
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
  take(method: string, path: string): EsignFault | undefined {
    const rule = this.rules.find((r) => matches(r.match, method, path));
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule.fault;
    }
    const random = this.randomRules.find((r) => matches(r.match, method, path));
    if (!random) return undefined;
    random.calls += 1;
    // Two draws per call, whatever the outcome, so one call's fault does not shift which later calls get one.
    const hit = random.next() < random.rate;
    const pick = random.faults[Math.floor(random.pick() * random.faults.length)]!;
    if (!hit) return undefined;
    random.injected.push({ method, path, fault: pick });
    return pick;
  }
}

function matches(match: FaultMatch, method: string, path: string): boolean {
  if (match.method && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return true;
  if (match.path instanceof RegExp) return match.path.test(path);
  if (!match.path.includes(':')) return match.path === path;
  const pattern = match.path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`).test(path);
}
