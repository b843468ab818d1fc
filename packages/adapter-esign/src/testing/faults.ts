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

/** Controls for {@link EsignFault}s; the first rule that matches a call is used (and counted down). */
export interface EsignFaults {
  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: EsignFault, options?: FaultMatch & { times?: number }): void;
  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: EsignFault, match?: FaultMatch): () => void;
  /** Removes every rule. */
  clear(): void;
}

export class FaultTable implements EsignFaults {
  private rules: FaultRule[] = [];

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

  clear(): void {
    this.rules = [];
  }

  /** The fault for this call, if any, counting it. */
  take(method: string, path: string): EsignFault | undefined {
    const rule = this.rules.find((r) => matches(r.match, method, path));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.fault;
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
