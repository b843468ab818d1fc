import { z } from 'zod';
import { ValidationError } from '../errors.js';
import type { DomainEvent } from '../runtime/runtime.js';

/**
 * Which domain events a subscriber receives: every one (the default), a list of event types — exact, or a prefix
 * ending in `.*` such as `signing.*` — or a predicate. Applied when the event is recorded for delivery, so a changed
 * filter affects later events only.
 */
export type WebhookEventFilter = readonly string[] | ((event: DomainEvent) => boolean);

/** An endpoint that receives webhooks: its id, URL, signing secret and which events it wants. */
export interface WebhookSubscriber {
  /**
   * A stable name for the endpoint, such as `funder-acme`: part of every delivery id, so renaming it orphans the
   * deliveries still queued under the old name. Letters, digits, `.`, `_` and `-`; at most 64 characters.
   */
  id: string;
  /** Where deliveries are POSTed: an `https:` URL (or `http:` inside a trusted network). Redirects are not followed. */
  url: string;
  /**
   * The HMAC-SHA256 key the receiver verifies with, at least 16 characters (`randomBytes(32).toString('hex')`).
   * Never stored: deliveries are signed with the secret configured when they are sent.
   */
  secret: string;
  events?: WebhookEventFilter;
  /** How long one delivery attempt may wait for the response, in ms (default 10 000); shorter than the lease. */
  timeoutMs?: number;
}

/** How long one delivery attempt waits for the response by default, in ms. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

const SubscriberShape = z.object({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1–64 letters, digits, ".", "_" or "-"'),
  url: z.string().refine((url) => {
    try {
      return ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      return false;
    }
  }, 'must be an absolute http: or https: URL'),
  secret: z.string().min(16, 'must be at least 16 characters; generate one with randomBytes(32).toString("hex")'),
  events: z
    .union([
      z.array(z.string().min(1, 'event types must not be empty')),
      z.custom<(e: DomainEvent) => boolean>((v) => typeof v === 'function'),
    ])
    .optional(),
  timeoutMs: z.number().int().positive().optional(),
});

/** A validated subscriber with its filter compiled. */
export interface ResolvedSubscriber extends WebhookSubscriber {
  timeoutMs: number;
  accepts(event: DomainEvent): boolean;
}

/** Validate the subscriber list once, at relay creation, so a typo fails the deploy rather than a delivery. */
export function resolveSubscribers(
  subscribers: readonly WebhookSubscriber[],
  leaseMs: number,
): Map<string, ResolvedSubscriber> {
  if (!Array.isArray(subscribers)) {
    throw new ValidationError('webhooks: subscribers must be an array of { id, url, secret, events?, timeoutMs? }.');
  }
  const problems: string[] = [];
  const resolved = new Map<string, ResolvedSubscriber>();
  subscribers.forEach((subscriber, index) => {
    const parsed = SubscriberShape.safeParse(subscriber);
    const label = `subscribers[${index}]`;
    if (!parsed.success) {
      // Field paths and rules only: the values (a secret, a URL with a token in it) never go into the message.
      for (const issue of parsed.error.issues) problems.push(`${label}.${issue.path.join('.')} ${issue.message}`);
      return;
    }
    const timeoutMs = subscriber.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    if (timeoutMs >= leaseMs) {
      problems.push(`${label}.timeoutMs (${timeoutMs} ms) must be shorter than leaseMs (${leaseMs} ms)`);
    }
    if (resolved.has(subscriber.id)) problems.push(`${label}.id "${subscriber.id}" is used twice`);
    resolved.set(subscriber.id, { ...subscriber, timeoutMs, accepts: compileFilter(subscriber.events) });
  });
  if (problems.length > 0) {
    throw new ValidationError(`Invalid webhook subscribers: ${problems.join('; ')}.`, { details: { problems } });
  }
  return resolved;
}

function compileFilter(filter: WebhookEventFilter | undefined): (event: DomainEvent) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === 'function') return filter;
  const exact = new Set(filter.filter((type) => !type.endsWith('*')));
  const prefixes = filter.filter((type) => type.endsWith('*')).map((type) => type.slice(0, -1));
  return (event) => exact.has(event.type) || prefixes.some((prefix) => event.type.startsWith(prefix));
}
