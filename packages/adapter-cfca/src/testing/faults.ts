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

/** Controls for {@link CfcaFault}s; the first rule that matches a call is used (and counted down). */
export interface CfcaFaults {
  /** The next `times` (default 1) matching calls get `fault`. */
  next(fault: CfcaFault, options?: FaultMatch & { times?: number }): void;
  /** Every matching call gets `fault` until the returned function (or `clear`) removes it. */
  always(fault: CfcaFault, match?: FaultMatch): () => void;
  /** Removes every rule. */
  clear(): void;
}

export class FaultTable implements CfcaFaults {
  private rules: FaultRule[] = [];

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

  clear(): void {
    this.rules = [];
  }

  /** The fault for this call, if any, counting it. */
  take(route: CfcaRoute, txCode: string | undefined): CfcaFault | undefined {
    const rule = this.rules.find((r) => matches(r.match, route, txCode));
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.fault;
  }
}

function matches(match: FaultMatch, route: CfcaRoute, txCode: string | undefined): boolean {
  if (match.route !== undefined && match.route !== route) return false;
  if (match.txCode === undefined) return true;
  const codes = Array.isArray(match.txCode) ? match.txCode : [match.txCode];
  return txCode !== undefined && codes.includes(txCode);
}
