/**
 * Fault injection for API calls: what goes wrong between the client and e签宝's gateway. The faults and what the
 * handlers make of them are e签宝's; the rules that pick the calls (`next`, `always`, `random`) are core's, shared with
 * the other emulators so that a rule, a rate and a seed behave alike whichever vendor a test is pointed at.
 */
import {
  type FaultControls,
  FaultTable as FaultRules,
  type RandomFaultRule,
  type RandomFaultRuleOptions,
  seededRandom,
} from '@sealflow/core/memory';

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

/** Options of {@link EsignFaults.random}. */
export interface RandomFaultOptions extends RandomFaultRuleOptions<EsignFault, FaultMatch> {
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
export interface RandomFaults extends RandomFaultRule<InjectedEsignFault> {}

/**
 * Controls for {@link EsignFault}s. The first `next`/`always` rule that matches a call is used (and counted down);
 * a call no such rule takes is offered to the `random` rules, the first matching one deciding.
 */
export interface EsignFaults extends FaultControls<EsignFault, FaultMatch, InjectedEsignFault> {
  /**
   * A random share of matching calls get a fault picked at random from a mix, from a seeded generator: a soak test
   * of a client (timeouts that were processed anyway, 5xx, rate limits, malformed bodies) at a known rate.
   */
  random(options: RandomFaultOptions): RandomFaults;
}

// The callback queue (callbacks.ts) draws its random faults from the same generator as the API's rules.
export { seededRandom };

/**
 * The emulator's side of {@link EsignFaults}: core's rules, matched on the gateway's method and path, which is all an
 * e签宝 call is known by before the emulator reads its body.
 */
export class FaultTable
  extends FaultRules<EsignFault, FaultMatch, [method: string, path: string], InjectedEsignFault>
  implements EsignFaults
{
  constructor() {
    super({ matches, injected: (fault, method, path) => ({ method, path, fault }) });
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
