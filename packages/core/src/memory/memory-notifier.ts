import { AdapterError } from '../errors.js';
import {
  checkNotification,
  type Notification,
  type NotificationRecipient,
  type Notifier,
  recipientKey,
} from '../ports/notifier.js';

/** A {@link Notifier} that keeps what it delivered in memory, so tests and demos can read it per recipient. */
export interface MemoryNotifier extends Notifier {
  /** Every notification delivered, once per id, in delivery order. */
  delivered(): Notification[];
  /** The notifications delivered to one recipient (kind and id both match), in delivery order. */
  for(recipient: NotificationRecipient): Notification[];
  /** How many times `notify` was called with a valid notification, repeats of a known id included. */
  attempts(): number;
  /**
   * Make the next `count` calls fail with a retryable error before delivering anything, as a transport that is down
   * would: the runtime retries them under the same id.
   */
  failNext(count: number): void;
}

/**
 * The reference notifier: validates every notification with `checkNotification`, delivers each id once (a repeat
 * is a no-op that resolves, whatever its data), and keeps deliveries as copies, so later changes to what a caller
 * passed never change what was delivered.
 */
export function createMemoryNotifier(): MemoryNotifier {
  const byId = new Map<string, Notification>();
  let attempts = 0;
  let failures = 0;
  return {
    async notify(notification) {
      checkNotification(notification);
      attempts++;
      if (failures > 0) {
        failures--;
        throw new AdapterError('The memory notifier was told to fail this delivery; it will be retried.');
      }
      if (byId.has(notification.id)) return;
      byId.set(notification.id, structuredClone(notification));
    },
    delivered: () => [...byId.values()].map((n) => structuredClone(n)),
    for(recipient) {
      const key = recipientKey(recipient);
      return [...byId.values()].filter((n) => recipientKey(n.recipient) === key).map((n) => structuredClone(n));
    },
    attempts: () => attempts,
    failNext(count) {
      failures = count;
    },
  };
}
