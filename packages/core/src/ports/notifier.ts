/**
 * The notifier port: how sealflow tells people that something needs them — an institution that a new offer waits
 * for its answer, a customer that their complaint was handled, a member of staff that a deadline passed.
 *
 * Implementations: `createMemoryNotifier()` in `@sealflow/core/memory` (the reference and test oracle); a host
 * writes its own over its 站内信 (in-app messages), SMS gateway, e-mail or push service. Every implementation runs
 * `runNotifierContract()` from `@sealflow/core/testing`, the executable form of the rules below.
 *
 * ## How notifications are sent: through the outbox, never inline
 * A workflow never calls the notifier from a command. Its machine names a `notify` action whose params are a
 * {@link Notification} computed only from the workflow's saved context; the runtime writes that action to the outbox
 * in the same transaction as the new state, and a worker delivers it later with {@link notificationEffect}. So a
 * notification is sent if and only if the transition that asked for it committed, and a crash between the two loses
 * nothing. Because the params are a pure function of saved state (no clock reads, random ids or fresh lookups when
 * the effect runs), every retry sends exactly the same notification.
 *
 * ## Rules every implementation keeps
 * - **Delivery is at least once.** A worker that crashes after the notifier accepted a notification but before it
 *   recorded that fact delivers it again. `Notification.id` is stable across such retries: it is the idempotency key.
 *   A notifier that can deduplicate does (a second `notify` with a known id is a no-op that resolves); receivers that
 *   cannot be deduplicated upstream (an SMS) should dedupe on their side by id. `NotifyContext.idempotencyKey` is the
 *   outbox step's key and is passed for adapters whose transport takes its own key.
 * - **A known id keeps its first delivery.** Repeats are never delivered as new messages, even with different data.
 * - **Recipients are addressed, never looked up.** `recipient` names a kind and a host id (an institution id, a
 *   staff member's id, the host's customer id); the notifier resolves the channel. It never receives a mobile number
 *   or an e-mail address from sealflow.
 * - **`data` never holds unmasked personal data.** No ID numbers, mobiles or names in clear: a notification names the
 *   complaint or application by its number, and the receiver looks the rest up with its own permissions.
 *   {@link checkNotification} refuses data that masking would change, so a mistake fails loudly in tests.
 * - **Bad input is refused before anything is sent**, with a `ValidationError` that is not retryable: the effect
 *   fails for good instead of retrying a message that can never be valid.
 * - Failures of the transport (a gateway that is down) surface as retryable errors (`AdapterError`); the runtime
 *   retries them with backoff under the same id, then dead-letters them for a person to retry.
 */
import { ValidationError } from '../errors.js';
import { jsonProblem } from '../model/json.js';
import { maskPersonalData } from '../privacy.js';
import type { EffectDefinition } from '../runtime/workflow-definition.js';

/** A JSON value in a notification's data. */
export type NotificationValue =
  | string
  | number
  | boolean
  | null
  | NotificationValue[]
  | { [key: string]: NotificationValue };

/** Who a notification is for: the kind of recipient and the host's id for it. */
export interface NotificationRecipient {
  /** `institution`: a funder (its back office); `staff`: a platform person; `customer`: a borrower. */
  kind: 'institution' | 'staff' | 'customer';
  /** The host's id of the institution, staff member or customer; never a phone number or e-mail address. */
  id: string;
}

/**
 * The notification types sealflow's workflows send:
 * - `offer.new`: an institution has a new application to accept or decline;
 * - `offer.deadline-approaching`: its answer is due soon;
 * - `offer.chosen` / `offer.not-chosen`: the customer chose it, or another institution;
 * - `dispatch.choice-open`: an institution accepted; the customer may choose until `choiceDeadline`;
 * - `complaint.refused`: a complaint was not accepted (the reply is with the complaint);
 * - `complaint.suggestion-recorded`: a suggestion was recorded, with thanks;
 * - `complaint.routed`: a complaint was routed to an institution, which must report back by `reportDueAt`;
 * - `complaint.report-overdue`: the institution did not report back in time;
 * - `complaint.feedback`: the outcome of a complaint is ready for the customer.
 */
export const NOTIFICATION_TYPES = [
  'offer.new',
  'offer.deadline-approaching',
  'offer.chosen',
  'offer.not-chosen',
  'dispatch.choice-open',
  'complaint.refused',
  'complaint.suggestion-recorded',
  'complaint.routed',
  'complaint.report-overdue',
  'complaint.feedback',
] as const;

/** One of {@link NOTIFICATION_TYPES}. */
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** One message to one recipient. */
export interface Notification {
  /**
   * Stable across redeliveries, and unique per message: the idempotency key receivers dedupe by. Workflows derive it
   * from saved state (`complaint:C2026-0001:routed:institution:inst-a`). At most 200 characters, no U+0000.
   */
  id: string;
  recipient: NotificationRecipient;
  type: NotificationType;
  /** Plain JSON facts for the message template: numbers, dates, statuses. Never unmasked personal data. */
  data: Record<string, NotificationValue>;
}

/** What the notifier learns about the delivery attempt. */
export interface NotifyContext {
  /** The outbox step's idempotency key; the same on every retry of this delivery. */
  idempotencyKey: string;
  /** The workflow whose transition asked for the notification, when there is one. */
  workflowId?: string;
  /** Aborted when the attempt times out; pass it to network calls. */
  signal?: AbortSignal;
}

/** The notifier port: deliver one notification, at least once, deduplicated by `notification.id`. */
export interface Notifier {
  /**
   * Deliver `notification`. Resolves once the transport has accepted it (or had already accepted this id); throws a
   * `ValidationError` for a malformed notification and a retryable error when the transport failed.
   */
  notify(notification: Notification, context: NotifyContext): Promise<void>;
}

const RECIPIENT_KINDS: readonly NotificationRecipient['kind'][] = ['institution', 'staff', 'customer'];

function validText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.trim() !== '' && value.length <= max && !value.includes('\u0000');
}

const DATA_LIMITS = { maxDepth: 4, maxEntries: 200, maxStringLength: 2_000 };

function isJsonRecord(value: unknown): value is Record<string, NotificationValue> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return jsonProblem(value, DATA_LIMITS) === undefined;
}

/**
 * Throw a `ValidationError` unless `notification` keeps the port's rules: a stable id (≤ 200 characters), a known
 * recipient kind with an id, a known type, and plain JSON data that holds no unmasked ID number, mobile or name.
 * The message names the field, never the offending value.
 */
export function checkNotification(notification: Notification): void {
  const refuse = (field: string, what: string): never => {
    throw new ValidationError(`notification.${field} ${what}`, { details: { field: `notification.${field}` } });
  };
  if (notification === null || typeof notification !== 'object') refuse('', 'must be an object.');
  if (!validText(notification.id, 200)) refuse('id', 'must be a non-empty string of at most 200 characters.');
  const recipient = notification.recipient;
  if (!recipient || !RECIPIENT_KINDS.includes(recipient.kind)) {
    refuse('recipient.kind', `must be one of ${RECIPIENT_KINDS.join(', ')}.`);
  }
  if (!validText(recipient.id, 200)) refuse('recipient.id', 'must be the host id of the recipient.');
  if (!(NOTIFICATION_TYPES as readonly string[]).includes(notification.type)) {
    refuse('type', `must be one of ${NOTIFICATION_TYPES.join(', ')}.`);
  }
  if (!isJsonRecord(notification.data)) refuse('data', 'must be a plain JSON object.');
  if (JSON.stringify(maskPersonalData(notification.data)) !== JSON.stringify(notification.data)) {
    refuse('data', 'holds personal data (an ID number, mobile or name): name the record by its number instead.');
  }
}

/** The identity of a recipient as one string: kind and id, so `staff:x` and `institution:x` never mix. */
export function recipientKey(recipient: NotificationRecipient): string {
  return `${recipient.kind}:${recipient.id}`;
}

/**
 * The outbox effect that delivers a machine's `notify` action: register it as
 * `defineWorkflow({ effects: { notify: notificationEffect(notifier) } })` and name `notify` in the machine with the
 * {@link Notification} as params. Malformed notifications fail for good (`notify.failed` goes back to the machine,
 * which may ignore it); transport failures are retried under the same id.
 */
export function notificationEffect(notifier: Notifier): EffectDefinition<Notification, null> {
  return {
    async run(notification, context) {
      checkNotification(notification);
      await notifier.notify(notification, {
        idempotencyKey: context.idempotencyKey,
        workflowId: context.workflowId,
        signal: context.signal,
      });
      return null;
    },
    onDone: () => null,
    onFailed: () => null,
  };
}
