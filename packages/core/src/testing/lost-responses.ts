import { createHash } from 'node:crypto';
import { SealflowError } from '../errors.js';
import type { SigningVendor, VendorCallContext } from '../ports/signing-vendor.js';

/** The vendor methods that carry an idempotency key: every call a workflow's effects make. */
const KEYED_METHODS = [
  'uploadDocument',
  'fillTemplate',
  'createFlow',
  'appendSigner',
  'findFlow',
  'getFlow',
  'signerUrl',
  'downloadSigned',
  'cancelFlow',
] as const;

/** The vendor methods `withLostResponses` can make lose their answers. */
export type KeyedVendorMethod = (typeof KEYED_METHODS)[number];

/** Options of `withLostResponses`. */
export interface LostResponsesOptions {
  /** How many times each (method, idempotency key) loses its answer before one gets through. Default 1. */
  times?: number;
  /** Which methods lose answers. Default: all of them. */
  methods?: readonly KeyedVendorMethod[];
  /** Called after the vendor did the work and before the answer is lost: tests move their clock here. */
  onLost?: (call: { method: KeyedVendorMethod; idempotencyKey: string }) => void;
}

/**
 * A vendor whose calls do their work and then lose their answer; it records the answers lost and any conflicting
 * requests.
 */
export interface LostResponsesVendor extends SigningVendor {
  /** Every answer that was lost, in order. */
  readonly lost: { method: KeyedVendorMethod; idempotencyKey: string }[];
  /**
   * Keys under which the caller sent two different requests. A caller that computes a request from anything but its
   * saved state (a clock, a random id) shows up here, and a real vendor would refuse the second request.
   */
  conflicts(): { method: KeyedVendorMethod; idempotencyKey: string }[];
}

/**
 * Wraps a vendor so that calls **reach the vendor and do their work, but the answer never arrives**: the caller gets
 * a retryable `VENDOR_FAILURE`, as after a timeout, a reset connection or a crash between the vendor's commit and our
 * own. That is the failure idempotency keys exist for; a workflow passes when, after its retries, the vendor holds
 * exactly one object per key and the signing finishes as if nothing had happened.
 */
export function withLostResponses(vendor: SigningVendor, options: LostResponsesOptions = {}): LostResponsesVendor {
  const times = options.times ?? 1;
  const methods = new Set<KeyedVendorMethod>(options.methods ?? KEYED_METHODS);
  const lost: LostResponsesVendor['lost'] = [];
  const losses = new Map<string, number>();
  const requests = new Map<string, string>();
  const conflicts = new Map<string, { method: KeyedVendorMethod; idempotencyKey: string }>();

  const wrap = (method: KeyedVendorMethod) => {
    const original = vendor[method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (!original) return undefined;
    return async (...args: unknown[]) => {
      const context = args.at(-1) as VendorCallContext;
      const slot = `${method}\u0000${context.idempotencyKey}`;
      const request = fingerprint(args.slice(0, -1));
      const earlier = requests.get(slot);
      if (earlier === undefined) requests.set(slot, request);
      else if (earlier !== request) conflicts.set(slot, { method, idempotencyKey: context.idempotencyKey });
      const result = await original.apply(vendor, args);
      const count = losses.get(slot) ?? 0;
      if (!methods.has(method) || count >= times) return result;
      losses.set(slot, count + 1);
      const call = { method, idempotencyKey: context.idempotencyKey };
      lost.push(call);
      options.onLost?.(call);
      throw new SealflowError('VENDOR_FAILURE', `${vendor.id}.${method}: the connection was reset before the answer.`, {
        retryable: true,
        details: { vendor: vendor.id, method },
      });
    };
  };

  const wrapped: Record<string, unknown> = {};
  for (const method of KEYED_METHODS) {
    const fn = wrap(method);
    if (fn) wrapped[method] = fn;
  }
  return {
    ...(wrapped as Partial<SigningVendor>),
    id: vendor.id,
    capabilities: vendor.capabilities,
    ...(vendor.parseCallback ? { parseCallback: vendor.parseCallback.bind(vendor) } : {}),
    lost,
    conflicts: () => [...conflicts.values()],
  } as LostResponsesVendor;
}

/** Sorted-key JSON with byte arrays as their hash: equal requests, equal fingerprints. */
function fingerprint(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return `sha256:${createHash('sha256').update(v).digest('hex')}`;
    if (v instanceof AbortSignal) return undefined;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}
