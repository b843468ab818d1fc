import type { Scheduler } from '../ports/clock.js';
import { maskText } from '../privacy.js';
import type { DomainEvent } from '../runtime/runtime.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';
import type { ResolvedSubscriber } from './subscribers.js';

/**
 * One delivery attempt: POST the event to one subscriber and classify what happened. The attempt never throws;
 * everything it learns is in the returned outcome, and nothing of the body or the URL goes into it (bodies are not
 * logged, and URLs may carry tokens).
 */

/** What a receiver gets as the request body. */
export interface WebhookBody {
  /** The domain event's stable id, also in `Sealflow-Event-Id`: deduplicate on it. */
  id: string;
  type: string;
  workflowId: string;
  /** When the event happened, epoch milliseconds. */
  occurredAt: number;
  /** The event as the workflow emitted it. */
  data: unknown;
}

export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  /** Worth trying again: 5xx, 408, 429, a timeout or a network error. `retryAfterMs` from a `Retry-After` header. */
  | { kind: 'retry'; error: string; status?: number; retryAfterMs?: number }
  /** Trying again cannot help: the receiver refused it (another 4xx) or redirected it. */
  | { kind: 'reject'; error: string; status: number };

export interface AttemptContext {
  subscriber: ResolvedSubscriber;
  event: DomainEvent;
  /** 1 on the first attempt. */
  attempt: number;
  /** The sender's time, epoch ms; its seconds are signed. */
  now: number;
  scheduler: Scheduler;
  fetch: typeof fetch;
}

export function webhookBody(event: DomainEvent): string {
  const body: WebhookBody = {
    id: event.id,
    type: event.type,
    workflowId: event.workflowId,
    occurredAt: event.occurredAt,
    data: event.payload,
  };
  return JSON.stringify(body);
}

export async function attemptDelivery(context: AttemptContext): Promise<AttemptOutcome> {
  const { subscriber, event } = context;
  const body = webhookBody(event);
  const timestamp = Math.floor(context.now / 1000);
  const abort = new AbortController();
  const cancelTimeout = context.scheduler.schedule(() => abort.abort(), subscriber.timeoutMs);
  try {
    const response = await context.fetch(subscriber.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'sealflow-webhooks',
        'sealflow-event-id': event.id,
        'sealflow-event-type': event.type,
        'sealflow-timestamp': String(timestamp),
        'sealflow-delivery-attempt': String(context.attempt),
        [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(subscriber.secret, timestamp, body),
      },
      body,
      redirect: 'manual',
      signal: abort.signal,
    });
    // The response body is not needed; release the connection instead of reading whatever was sent.
    await response.body?.cancel().catch(() => {});
    return classify(response);
  } catch (error) {
    if (abort.signal.aborted) {
      return { kind: 'retry', error: `no response within ${subscriber.timeoutMs} ms (timeoutMs)` };
    }
    return { kind: 'retry', error: `network error: ${networkReason(error)}` };
  } finally {
    cancelTimeout();
  }
}

function classify(response: Response): AttemptOutcome {
  const { status } = response;
  const label = `HTTP ${status}${response.statusText ? ` ${maskText(response.statusText).slice(0, 60)}` : ''}`;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status >= 300 && status < 400) {
    return {
      kind: 'reject',
      status,
      error: `${label}: the endpoint redirects, and redirects are not followed; configure the final URL, then replay`,
    };
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return {
      kind: 'reject',
      status,
      error: `${label}: the receiver refused the delivery, which is not retried (a 4xx other than 408 and 429); fix the receiver or the subscriber's settings, then replay`,
    };
  }
  const retryAfterMs = retryAfter(response.headers.get('retry-after'));
  return { kind: 'retry', status, error: label, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** `Retry-After` in seconds; the HTTP-date form is rare for webhooks and left to the normal backoff. */
function retryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,9}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** The system's reason (`ECONNREFUSED`, `ENOTFOUND`), not fetch's generic "fetch failed". */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  const message = error instanceof Error ? error.message : String(error);
  return maskText(message).slice(0, 200);
}
