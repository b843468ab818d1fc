/**
 * The fault-injection bookkeeping of a vendor emulator, apart from the faults themselves. What a fault does, and
 * which calls a rule can name, is each vendor's own (an HTTP gateway matches by method and path, a transaction
 * front-end by its transaction code); how rules are counted down, which one wins and how a random rule picks its
 * calls is not, and a reliability run that compares two vendors is only fair when both pick the same way.
 */

/**
 * mulberry32: a small, fast 32-bit generator, good enough to pick faults and reproducible from its seed, which
 * `Math.random` is not: a run that found something must be repeatable from the seed it printed.
 */
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

/** Options of {@link FaultTable.random}: a rule that faults a share of the calls it matches. */
export interface RandomFaultRuleOptions<Fault, Match> {
  /** The share of matching calls that get a fault, from 0 to 1 (0.2: one call in five on average). */
  rate: number;
  /**
   * Seeds the generator that picks the calls and their faults: the same seed and the same sequence of calls give
   * the same faults, so a run that found something can be repeated. Print it with the results.
   */
  seed: number;
  /** The faults to pick from, each equally likely; list one twice to make it twice as likely. */
  faults: readonly Fault[];
  /** Which calls take part; omitted: every call. */
  match?: Match;
}

/** A running random rule: what it injected so far, and its off switch. */
export interface RandomFaultRule<Injected> {
  /** Matching calls the rule saw (faulted or not). */
  readonly calls: number;
  /** Every fault injected, in order. */
  readonly injected: readonly Injected[];
  /** Removes the rule; `clear` does too. */
  stop(): void;
}

/**
 * The `faults` control of an emulator, as tests see it: the rules without the emulator's side of the table. A vendor
 * names it after itself (`EsignFaults`) with its own fault and match types.
 */
export interface FaultControls<Fault, Match, Injected> {
  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: Fault, options?: Match & { times?: number }): void;
  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: Fault, match?: Match): () => void;
  /** A random share of matching calls get a fault picked at random from a mix, from a seeded generator. */
  random(options: RandomFaultRuleOptions<Fault, Match>): RandomFaultRule<Injected>;
  /** Removes every rule. */
  clear(): void;
}

/**
 * What a vendor tells a {@link FaultTable}: how its calls are described (`Call`, the arguments of `take`), how a
 * rule's match is tested against one, and what a random rule records of a call it faulted.
 */
export interface FaultTableOptions<Fault, Match, Call extends unknown[], Injected> {
  /** Whether a rule with this match applies to the call; an empty match is expected to take every call. */
  matches(match: Match, ...call: Call): boolean;
  /** The record of a fault a random rule injected, as the vendor's tests want to read it back. */
  injected(fault: Fault, ...call: Call): Injected;
}

interface CountedRule<Fault, Match> {
  match: Match;
  fault: Fault;
  remaining: number;
}

interface RandomRule<Fault, Match, Injected> {
  match: Match;
  rate: number;
  faults: readonly Fault[];
  /** Draws whether a call gets a fault. */
  next: () => number;
  /** Draws which fault: a generator of its own, so the two draws are not consecutive outputs of one. */
  pick: () => number;
  calls: number;
  injected: Injected[];
}

/**
 * The rules of an emulator's `faults` control. The first `next`/`always` rule that matches a call is used (and
 * counted down); a call no such rule takes is offered to the `random` rules, the first matching one deciding. A test
 * that pins one fault on one call thus sees it even while a soak rule runs underneath.
 *
 * The emulator asks {@link FaultTable.take} once per call, before doing the work, and acts on what it gets.
 */
export class FaultTable<Fault, Match extends object, Call extends unknown[], Injected>
  implements FaultControls<Fault, Match, Injected>
{
  private rules: CountedRule<Fault, Match>[] = [];
  private randomRules: RandomRule<Fault, Match, Injected>[] = [];

  /** @param vendor - how the vendor's calls are matched and recorded. */
  constructor(private readonly vendor: FaultTableOptions<Fault, Match, Call, Injected>) {}

  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: Fault, options: Match & { times?: number } = {} as Match & { times?: number }): void {
    const { times = 1, ...match } = options;
    if (!Number.isInteger(times) || times < 1) throw new RangeError('faults.next: times must be a positive integer.');
    this.rules.push({ match: match as Match, fault, remaining: times });
  }

  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: Fault, match: Match = {} as Match): () => void {
    const rule: CountedRule<Fault, Match> = { match, fault, remaining: Number.POSITIVE_INFINITY };
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  /** A random share of matching calls get a fault picked at random from a mix, from a seeded generator. */
  random(options: RandomFaultRuleOptions<Fault, Match>): RandomFaultRule<Injected> {
    const { rate, seed, faults } = options;
    if (!(Number.isFinite(rate) && rate >= 0 && rate <= 1)) {
      throw new RangeError(`faults.random: rate must be a number from 0 to 1, got ${String(rate)}.`);
    }
    if (!Number.isInteger(seed)) throw new RangeError(`faults.random: seed must be an integer, got ${String(seed)}.`);
    if (!Array.isArray(faults) || faults.length === 0) {
      throw new RangeError('faults.random: faults must list at least one fault to pick from.');
    }
    const rule: RandomRule<Fault, Match, Injected> = {
      match: options.match ?? ({} as Match),
      rate,
      faults: [...faults],
      next: seededRandom(seed),
      // Derived from the same seed (XOR with the golden-ratio constant), so the one seed printed replays both streams.
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

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
    this.randomRules = [];
  }

  /** The fault for this call, if any, counting it. */
  take(...call: Call): Fault | undefined {
    const rule = this.rules.find((r) => this.vendor.matches(r.match, ...call));
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      return rule.fault;
    }
    const random = this.randomRules.find((r) => this.vendor.matches(r.match, ...call));
    if (!random) return undefined;
    random.calls += 1;
    // Two draws per call, whatever the outcome, so one call's fault does not shift which later calls get one.
    const hit = random.next() < random.rate;
    const pick = random.faults[Math.floor(random.pick() * random.faults.length)]!;
    if (!hit) return undefined;
    random.injected.push(this.vendor.injected(pick, ...call));
    return pick;
  }
}
