import { describe, expect, it } from 'vitest';
import { SealflowError } from '../errors.js';
import type { Notification, NotificationRecipient, Notifier } from '../ports/notifier.js';

/** A notifier under test, with a way to read back what reached each recipient. */
export interface ContractNotifier {
  notifier: Notifier;
  /** What `recipient` received, once per id, in delivery order (read from the adapter's outbox, inbox or a fake). */
  received(recipient: NotificationRecipient): Promise<Notification[]>;
}

/** Options of `runNotifierContract`. */
export interface NotifierContractOptions {
  /** Shown in test names, such as `memory` or `sms (sandbox)`. */
  name: string;
  /** A fresh notifier with nobody notified yet, per test. */
  create: () => Promise<ContractNotifier>;
  /** When set, the suite is skipped and this reason is printed. */
  skip?: string;
}

const institution: NotificationRecipient = { kind: 'institution', id: 'inst-contract-a' };
const otherInstitution: NotificationRecipient = { kind: 'institution', id: 'inst-contract-b' };

function routed(id: string, recipient: NotificationRecipient = institution, dueAt = 1_767_484_800_000): Notification {
  return { id, recipient, type: 'complaint.routed', data: { complaintNo: 'C-CONTRACT-1', reportDueAt: dueAt } };
}

const context = (key: string) => ({ idempotencyKey: key, workflowId: 'contract-workflow' });

/**
 * The executable form of the rules in `ports/notifier.ts`: delivery, deduplication by id (also under concurrent
 * repeats), recipients kept apart, and malformed or personal-data-carrying notifications refused before anything is
 * delivered. Every `Notifier` implementation runs it: `runNotifierContract({ name, create })`.
 */
export function runNotifierContract(options: NotifierContractOptions): void {
  if (typeof options.skip === 'string') {
    console.warn(`[sealflow] skipping ${options.name} notifier contract: ${options.skip}`);
    describe.skip(`${options.name} notifier contract`, () => {
      it('is skipped', () => {});
    });
    return;
  }
  describe(`${options.name} notifier contract`, () => {
    it('delivers a notification to its recipient as sent', async () => {
      const { notifier, received } = await options.create();
      await notifier.notify(routed('n-1'), context('k-1'));
      expect(await received(institution)).toEqual([routed('n-1')]);
    });

    it('a repeat of an id is delivered once, the first data kept, even with many concurrent repeats', async () => {
      const { notifier, received } = await options.create();
      await notifier.notify(routed('n-2'), context('k-2'));
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => notifier.notify(routed('n-2', institution, i), context('k-2'))),
      );
      await Promise.all(Array.from({ length: 25 }, () => notifier.notify(routed('n-3'), context('k-3'))));
      expect(await received(institution)).toEqual([routed('n-2'), routed('n-3')]);
    });

    it('keeps recipients apart: another institution, and staff with the same id, see nothing of it', async () => {
      const { notifier, received } = await options.create();
      await notifier.notify(routed('n-4'), context('k-4'));
      await notifier.notify(routed('n-5', otherInstitution), context('k-5'));
      expect((await received(institution)).map((n) => n.id)).toEqual(['n-4']);
      expect((await received(otherInstitution)).map((n) => n.id)).toEqual(['n-5']);
      expect(await received({ kind: 'staff', id: institution.id })).toEqual([]);
    });

    it('refuses malformed notifications with INVALID_INPUT and delivers nothing', async () => {
      const { notifier, received } = await options.create();
      const good = routed('n-6');
      const bad: unknown[] = [
        { ...good, id: '' },
        { ...good, id: 'x'.repeat(201) },
        { ...good, id: 'a\u0000b' },
        { ...good, recipient: { kind: 'mobile', id: 'x' } },
        { ...good, recipient: { kind: 'institution', id: '' } },
        { ...good, type: 'complaint.unknown' },
        { ...good, data: [] },
        { ...good, data: { at: new Date(0) } },
      ];
      for (const notification of bad) {
        const error = await notifier.notify(notification as Notification, context('k-6')).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SealflowError);
        expect((error as SealflowError).code).toBe('INVALID_INPUT');
        expect((error as SealflowError).retryable).toBe(false);
      }
      expect(await received(institution)).toEqual([]);
    });

    it('refuses data carrying an unmasked ID number, mobile or name, and never echoes it in the error', async () => {
      const { notifier, received } = await options.create();
      const leaks: Record<string, string>[] = [
        { note: '身份证 110101199003071234' },
        { contact: '13812345678' },
        { name: '王小明' },
      ];
      for (const data of leaks) {
        const error = (await notifier
          .notify({ ...routed('n-7'), data }, context('k-7'))
          .catch((e: unknown) => e)) as SealflowError;
        expect(error.code).toBe('INVALID_INPUT');
        expect(JSON.stringify(error.toJSON())).not.toMatch(/110101199003071234|13812345678|王小明/);
      }
      expect(await received(institution)).toEqual([]);
    });
  });
}
