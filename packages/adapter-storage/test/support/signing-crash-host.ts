/**
 * What the signing crash test's parent and its killable child processes share: the signing environment (apart from
 * the vendor, which lives in the parent) and the wire format of vendor calls over the child's IPC channel.
 */
import {
  type DocumentStore,
  NotFoundError,
  SealflowError,
  type SealflowErrorCode,
  type SigningCapabilities,
  type SigningGateway,
  type SigningVendor,
  type VendorCallContext,
  withCreditCodeCheckChar,
} from '@sealflow/core';

export const CRASH_HASH_KEY = 'adapter-storage-crash-hash-key-0123456789';
export const CRASH_VENDOR_ID = 'memory';

export function crashEnvironment(vendor: SigningGateway, documents: DocumentStore) {
  return {
    vendors: { [CRASH_VENDOR_ID]: vendor },
    documents,
    hashKey: CRASH_HASH_KEY,
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
        sealId: 'platform-seal',
      },
    },
  };
}

export interface VendorCallMessage {
  kind: 'vendor-call';
  id: number;
  method: string;
  args: unknown[];
}

export interface VendorReplyMessage {
  kind: 'vendor-reply';
  id: number;
  value?: unknown;
  error?: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

const METHODS = [
  'uploadDocument',
  'createFlow',
  'appendSigner',
  'findFlow',
  'getFlow',
  'downloadSigned',
  'cancelFlow',
] as const;

/**
 * The child's vendor: every call goes to the parent, which owns the real (memory) vendor, so the vendor outlives any
 * child. Only the idempotency key of the call context crosses; an abort signal cannot.
 */
export function ipcSigningVendor(capabilities: SigningCapabilities): SigningVendor {
  let sequence = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  process.on('message', (message: VendorReplyMessage) => {
    if (message?.kind !== 'vendor-reply') return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (!waiter) return;
    if (!message.error) return waiter.resolve(message.value);
    const { code, message: text, retryable, details } = message.error;
    waiter.reject(
      code === 'NOT_FOUND'
        ? new NotFoundError(text, { details })
        : new SealflowError(code as SealflowErrorCode, text, { retryable, details }),
    );
  });
  const call =
    (method: string) =>
    (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        const id = ++sequence;
        pending.set(id, { resolve, reject });
        const context = args.at(-1) as VendorCallContext;
        const sent: VendorCallMessage = {
          kind: 'vendor-call',
          id,
          method,
          args: [...args.slice(0, -1), { idempotencyKey: context.idempotencyKey }],
        };
        process.send?.(sent);
      });
  return {
    id: CRASH_VENDOR_ID,
    capabilities,
    ...Object.fromEntries(METHODS.map((method) => [method, call(method)])),
  } as unknown as SigningVendor;
}
