/** The lending backend's funder API, as a funder's system calls it: its own API key on every request. */

/** An answer the backend refused, with its problem details (RFC 9457). */
export class BackendProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${status} ${code}: ${detail}`);
    this.name = 'BackendProblem';
  }
}

export interface OfferSummary {
  offerId: string;
  dispatchId: string;
  applicationId: string;
  institutionId: string;
  amountFen: number;
  region: string;
  category: string;
  deadline: number;
  status: string;
}

export interface LoanSummary {
  applicationId: string;
  applicationNumber: string;
  status: string;
  institutionId: string | null;
  loanContract: { recordId: string | null; businessNo: string } | null;
}

export function backendClient(options: { baseUrl: () => string; apiKey: string }) {
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const response = await fetch(`${options.baseUrl()}/funder${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
      throw new BackendProblem(response.status, problem.code ?? 'UNKNOWN', problem.detail ?? response.statusText);
    }
    return response;
  }
  const json = async <T>(method: 'GET' | 'POST', path: string, body?: unknown) =>
    (await (await call(method, path, body)).json()) as T;
  const offer = (offerId: string) => `/offers/${encodeURIComponent(offerId)}`;
  const loan = (applicationId: string) => `/loans/${encodeURIComponent(applicationId)}`;

  return {
    offers: () => json<{ offers: OfferSummary[] }>('GET', '/offers').then((r) => r.offers),
    accept: (offerId: string) => json<unknown>('POST', `${offer(offerId)}/accept`, {}),
    decline: (offerId: string, reason: string) => json<unknown>('POST', `${offer(offerId)}/decline`, { reason }),
    loans: () => json<{ loans: LoanSummary[] }>('GET', '/loans').then((r) => r.loans),
    sign: (applicationId: string) => json<{ id: string; status: string }>('POST', `${loan(applicationId)}/sign`, {}),
    contract: async (applicationId: string) =>
      new Uint8Array(await (await call('GET', `${loan(applicationId)}/contract`)).arrayBuffer()),
    position: () => json<{ balances: { deposit: number; frozen: number } }>('GET', '/position'),
  };
}

export type BackendClient = ReturnType<typeof backendClient>;
