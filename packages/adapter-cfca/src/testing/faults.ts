/**
 * Fault injection: what goes wrong between the client and 安心签's front-end processor (FEP). The faults and what the
 * handlers make of them are 安心签's; the rules that pick the calls (`next`, `always`, `random`) are core's, shared
 * with the other emulators so that a rule, a rate and a seed behave alike whichever vendor a test is pointed at.
 */
import {
  type FaultControls,
  FaultTable as FaultRules,
  type RandomFaultRule,
  type RandomFaultRuleOptions,
} from '@sealflow/core/memory';

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

/** Options of {@link CfcaFaults.random}. */
export interface RandomFaultOptions extends RandomFaultRuleOptions<CfcaFault, FaultMatch> {
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
export interface RandomFaults extends RandomFaultRule<InjectedCfcaFault> {}

/**
 * Controls for {@link CfcaFault}s. The first `next`/`always` rule that matches a call is used (and counted down); a
 * call no such rule takes is offered to the `random` rules, the first matching one deciding.
 */
export interface CfcaFaults extends FaultControls<CfcaFault, FaultMatch, InjectedCfcaFault> {
  /**
   * A random share of matching calls get a fault picked at random from a mix, from a seeded generator: a soak test
   * of a client (timeouts that were processed anyway, 5xx, rate limits, malformed bodies, batches that never
   * finish) at a known rate.
   */
  random(options: RandomFaultOptions): RandomFaults;
}

/**
 * The emulator's side of {@link CfcaFaults}: core's rules, matched on the route and the txCode, the number 安心签's
 * documentation and a client's logs name a transaction by (3202, 3211 …), rather than on its URL.
 */
export class FaultTable
  extends FaultRules<CfcaFault, FaultMatch, [route: CfcaRoute, txCode: string | undefined], InjectedCfcaFault>
  implements CfcaFaults
{
  constructor() {
    super({ matches, injected: (fault, route, txCode) => ({ route, txCode, fault }) });
  }
}

function matches(match: FaultMatch, route: CfcaRoute, txCode: string | undefined): boolean {
  if (match.route !== undefined && match.route !== route) return false;
  if (match.txCode === undefined) return true;
  const codes = Array.isArray(match.txCode) ? match.txCode : [match.txCode];
  return txCode !== undefined && codes.includes(txCode);
}
