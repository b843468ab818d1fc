import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NotFoundError, SealflowError } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type {
  RawCallback,
  SignedDocument,
  SignerSpec,
  SigningCapabilities,
  SigningVendor,
  UsedSeal,
  VendorCallbackEvent,
  VendorCallContext,
  VendorDocumentRef,
  VendorFlow,
  VendorFlowStatus,
} from '../ports/signing-vendor.js';

/** The vendor methods whose calls a {@link MemorySigningVendor} records and can be scripted to fail. */
export type SigningVendorMethod = Exclude<keyof SigningVendor, 'id' | 'capabilities'>;

/** Options of `createMemorySigningVendor`. */
export interface MemorySigningVendorOptions {
  /** Default `memory`. */
  id?: string;
  /** Merged over the defaults: everything supported except `padesOutput`, 5 signers per flow. */
  capabilities?: Partial<SigningCapabilities>;
  /**
   * Thrown, in order, by the next calls of each method before it does anything; once a method's list is used up it
   * works normally. `{ createFlow: [retryableError, retryableError] }` makes the first two creates fail.
   */
  failures?: Partial<Record<SigningVendorMethod, unknown[]>>;
  /** Signing times, deadlines and callback timestamps. */
  clock?: Clock;
  /** HMAC key of the callbacks this vendor sends. */
  callbackSecret?: string;
}

/**
 * An in-memory {@link SigningVendor} that follows the port contract, records its calls and counts the flows it holds.
 */
export interface MemorySigningVendor extends SigningVendor {
  /** Every call that reached this vendor, in order, including the ones that failed as scripted. */
  readonly calls: { method: SigningVendorMethod; idempotencyKey?: string }[];
  /** Flows and files actually created: what idempotency tests count. */
  flowCount(): number;
  fileCount(): number;
  /** What a person does in the vendor's signing page: sign now (signers before them in `order` must have signed). */
  sign(flowId: string, role: string): void;
  /** A person refuses in the signing page: the flow ends `rejected`. */
  reject(flowId: string, role: string, reason: string): void;
  /** A genuine, signed callback about the flow's current state, as the vendor would POST it. */
  callbackFor(flowId: string, kind: VendorCallbackEvent['kind'], role?: string): RawCallback;
  /** Add scripted failures after creation. */
  failNext(method: SigningVendorMethod, ...errors: unknown[]): void;
}

const SIGNED_MARKER = '% sealflow memory signing vendor (test double) signed by:';
const CALLBACK_WINDOW_MS = 5 * 60_000;

interface MemoryFlow {
  flowId: string;
  fingerprint: string;
  status: VendorFlowStatus;
  documents: VendorDocumentRef[];
  signers: { spec: SignerSpec; status: VendorFlow['signers'][number]['status']; signedAt?: number }[];
  deadlineAt?: number;
  reason?: string;
}

/**
 * A **test double** of a signing vendor, for core's own workflow tests and for hosts' tests: no PDF is signed. A
 * "signed" document is the uploaded bytes with a comment line appended that names the roles that signed, so tests
 * can tell signed from unsigned output; it carries no signature and proves nothing. Use `localSigner()` from
 * `@sealflow/adapter-local` for real PAdES output without a vendor.
 *
 * It keeps the port's rules (idempotency by key, honest capabilities, `NotFoundError`, refusals that are not
 * retryable) and passes `runSigningVendorContract`, so workflows tested against it meet the same behaviour as against
 * a real vendor. Persons that are not auto-signed wait until a test calls `sign(flowId, role)`.
 */
export function createMemorySigningVendor(options: MemorySigningVendorOptions = {}): MemorySigningVendor {
  const id = options.id ?? 'memory';
  const capabilities: SigningCapabilities = Object.freeze({
    organizationAutoSeal: true,
    personAutoSign: true,
    vendorTemplates: true,
    callbacks: true,
    appendSigners: true,
    padesOutput: false,
    maxSignersPerFlow: 5,
    ...options.capabilities,
  });
  const clock = options.clock ?? systemClock;
  const secret = options.callbackSecret ?? 'memory-vendor-callback-secret';
  const failures = new Map<SigningVendorMethod, unknown[]>(
    Object.entries(options.failures ?? {}).map(([method, list]) => [method as SigningVendorMethod, [...(list ?? [])]]),
  );
  const calls: MemorySigningVendor['calls'] = [];
  const files = new Map<string, { ref: VendorDocumentRef; bytes: Uint8Array }>();
  const flows = new Map<string, MemoryFlow>();
  /** `method:key` → what the first call with that key produced, and a fingerprint of its input. */
  const idempotent = new Map<string, { fingerprint: string; result: string }>();
  let sequence = 0;

  const enter = (method: SigningVendorMethod, context?: VendorCallContext) => {
    calls.push({ method, idempotencyKey: context?.idempotencyKey });
    const failure = failures.get(method)?.shift();
    if (failure !== undefined) throw failure;
  };

  const refuse = (vendorCode: string, message: string) =>
    new SealflowError('VENDOR_REJECTED', message, { retryable: false, details: { vendor: id, vendorCode } });

  const unsupported = (what: string) =>
    new SealflowError('VENDOR_UNSUPPORTED', `The memory vendor "${id}" was created without ${what}.`, {
      retryable: false,
      details: { vendor: id, capability: what },
    });

  /** Returns the earlier result for this key, refuses a different input under it, or records the new one. */
  const once = (method: string, key: string, fingerprint: string, make: () => string): string => {
    const slot = `${method}:${key}`;
    const earlier = idempotent.get(slot);
    if (earlier) {
      if (earlier.fingerprint !== fingerprint) {
        throw refuse('IDEMPOTENCY_KEY_REUSED', `Idempotency key "${key}" was used for a different ${method} request.`);
      }
      return earlier.result;
    }
    const result = make();
    idempotent.set(slot, { fingerprint, result });
    return result;
  };

  const flowOf = (flowId: string): MemoryFlow => {
    const flow = flows.get(flowId);
    if (!flow) throw new NotFoundError(`The memory vendor has no flow "${flowId}".`, { details: { vendor: id } });
    if (flow.status === 'signing' && flow.deadlineAt !== undefined && clock.now() > flow.deadlineAt) {
      flow.status = 'expired';
      for (const s of flow.signers) if (s.status !== 'signed') s.status = 'failed';
    }
    return flow;
  };

  const checkSigner = (spec: SignerSpec) => {
    if (spec.autoSign && spec.kind === 'person' && !capabilities.personAutoSign) throw unsupported('personAutoSign');
    if (spec.autoSign && spec.kind === 'organization' && !capabilities.organizationAutoSeal) {
      throw unsupported('organizationAutoSeal');
    }
  };

  /** Signers sign by `order`: auto signers of the due group sign at once; the flow completes when all have. */
  const advance = (flow: MemoryFlow) => {
    for (;;) {
      const pending = flow.signers.filter((s) => s.status !== 'signed');
      if (pending.length === 0) {
        flow.status = 'completed';
        return;
      }
      const due = Math.min(...pending.map((s) => s.spec.order));
      let signedAny = false;
      for (const s of pending) {
        if (s.spec.order !== due) s.status = 'waiting';
        else if (s.spec.autoSign) {
          s.status = 'signed';
          s.signedAt = clock.now();
          signedAny = true;
        } else s.status = 'signing';
      }
      if (!signedAny) return;
    }
  };

  const view = (flow: MemoryFlow): VendorFlow => ({
    flowId: flow.flowId,
    status: flow.status,
    signers: flow.signers.map((s) => ({
      role: s.spec.role,
      status: s.status,
      ...(s.signedAt === undefined ? {} : { signedAt: s.signedAt }),
      ...(s.status === 'signed' && s.spec.kind === 'organization' && s.spec.sealId
        ? { seal: usedSeal(s.spec.sealId) }
        : {}),
    })),
    ...(flow.reason === undefined ? {} : { reason: flow.reason }),
  });

  const signByHand = (flowId: string, role: string) => {
    const flow = flowOf(flowId);
    const signer = flow.signers.find((s) => s.spec.role === role);
    if (!signer) throw refuse('SIGNER_NOT_FOUND', `Flow "${flowId}" has no signer "${role}".`);
    if (flow.status !== 'signing' || signer.status !== 'signing') {
      throw refuse('SIGNER_NOT_DUE', `Signer "${role}" cannot sign flow "${flowId}" now (${signer.status}).`);
    }
    return { flow, signer };
  };

  const digestOf = (key: string, input: unknown) =>
    createHash('sha256').update(key).update(stable(input)).digest('hex');

  return {
    id,
    capabilities,
    calls,
    flowCount: () => flows.size,
    fileCount: () => files.size,

    async uploadDocument(document, context) {
      enter('uploadDocument', context);
      const digest = createHash('sha256').update(document.bytes).digest('hex');
      const fingerprint = stable({ key: document.key, fileName: document.fileName, digest });
      const fileId = once('uploadDocument', context.idempotencyKey, fingerprint, () => {
        const fileId = `mf_${digestOf(context.idempotencyKey, fingerprint).slice(0, 24)}`;
        files.set(fileId, {
          ref: { key: document.key, vendorFileId: fileId, fileName: document.fileName },
          bytes: Uint8Array.from(document.bytes),
        });
        return fileId;
      });
      return { ...(files.get(fileId)?.ref as VendorDocumentRef) };
    },

    async fillTemplate(input, context) {
      enter('fillTemplate', context);
      if (!capabilities.vendorTemplates) throw unsupported('vendorTemplates');
      const fingerprint = stable(input);
      const fileId = once('fillTemplate', context.idempotencyKey, fingerprint, () => {
        const fileId = `mt_${digestOf(context.idempotencyKey, fingerprint).slice(0, 24)}`;
        const text = `%PDF-1.7\n% memory template ${input.vendorTemplateId}, ${Object.keys(input.values).length} values\n%%EOF\n`;
        files.set(fileId, {
          ref: { key: input.key, vendorFileId: fileId, fileName: input.fileName },
          bytes: new TextEncoder().encode(text),
        });
        return fileId;
      });
      return { ...(files.get(fileId)?.ref as VendorDocumentRef) };
    },

    async createFlow(input, context) {
      enter('createFlow', context);
      if (input.signers.length > capabilities.maxSignersPerFlow) {
        throw refuse('TOO_MANY_SIGNERS', `At most ${capabilities.maxSignersPerFlow} signers per flow.`);
      }
      input.signers.forEach(checkSigner);
      for (const doc of input.documents) {
        if (!files.has(doc.vendorFileId)) {
          throw refuse('FILE_NOT_FOUND', `File "${doc.vendorFileId}" was never uploaded to the memory vendor.`);
        }
      }
      const fingerprint = stable(input);
      const flowId = once('createFlow', context.idempotencyKey, fingerprint, () => {
        const flow: MemoryFlow = {
          flowId: `mflow_${++sequence}_${digestOf(context.idempotencyKey, fingerprint).slice(0, 12)}`,
          fingerprint,
          status: 'signing',
          documents: input.documents.map((d) => ({ ...d })),
          signers: structuredClone([...input.signers])
            .sort((a, b) => a.order - b.order)
            .map((spec) => ({ spec, status: 'waiting' as const })),
          ...(input.deadlineAt === undefined ? {} : { deadlineAt: input.deadlineAt }),
        };
        advance(flow);
        flows.set(flow.flowId, flow);
        return flow.flowId;
      });
      return view(flowOf(flowId));
    },

    async appendSigner(flowId, signer, context) {
      enter('appendSigner', context);
      if (!capabilities.appendSigners) throw unsupported('appendSigners');
      checkSigner(signer);
      const flow = flowOf(flowId);
      once('appendSigner', context.idempotencyKey, stable({ flowId, signer }), () => {
        if (flow.status !== 'signing') {
          throw refuse('FLOW_FINISHED', `Flow "${flowId}" is ${flow.status}; no signer can be added.`);
        }
        const existing = flow.signers.find((s) => s.spec.role === signer.role);
        if (existing?.status === 'signed') {
          throw refuse('SIGNER_ALREADY_SIGNED', `Signer "${signer.role}" already signed flow "${flowId}".`);
        }
        if (existing) existing.spec = structuredClone(signer);
        else {
          if (flow.signers.length >= capabilities.maxSignersPerFlow) {
            throw refuse('TOO_MANY_SIGNERS', `At most ${capabilities.maxSignersPerFlow} signers per flow.`);
          }
          flow.signers.push({ spec: structuredClone(signer), status: 'waiting' });
        }
        advance(flow);
        return flowId;
      });
      return view(flow);
    },

    async findFlow(lookup, context) {
      enter('findFlow', context);
      const flowId = idempotent.get(`createFlow:${lookup.createKey}`)?.result;
      return flowId === undefined ? null : view(flowOf(flowId));
    },

    async getFlow(flowId, context) {
      enter('getFlow', context);
      return view(flowOf(flowId));
    },

    async signerUrl(flowId, role, context) {
      enter('signerUrl', context);
      signByHand(flowId, role);
      return { url: `https://sign.memory.invalid/${encodeURIComponent(flowId)}/${encodeURIComponent(role)}` };
    },

    async downloadSigned(flowId, context): Promise<SignedDocument[]> {
      enter('downloadSigned', context);
      const flow = flowOf(flowId);
      if (flow.status !== 'completed') {
        throw refuse(
          'FLOW_NOT_COMPLETED',
          `Flow "${flowId}" is ${flow.status}; only a completed flow can be downloaded.`,
        );
      }
      const marker = new TextEncoder().encode(`\n${SIGNED_MARKER} ${flow.signers.map((s) => s.spec.role).join(',')}\n`);
      return flow.documents.map((doc) => {
        const original = files.get(doc.vendorFileId)?.bytes ?? new Uint8Array();
        const bytes = new Uint8Array(original.byteLength + marker.byteLength);
        bytes.set(original);
        bytes.set(marker, original.byteLength);
        return { key: doc.key, fileName: doc.fileName, bytes };
      });
    },

    async cancelFlow(flowId, reason, context) {
      enter('cancelFlow', context);
      const flow = flowOf(flowId);
      if (flow.status === 'revoked') return;
      if (flow.status !== 'signing' && flow.status !== 'draft') {
        throw refuse('FLOW_FINISHED', `Flow "${flowId}" is ${flow.status} and can no longer be revoked.`);
      }
      flow.status = 'revoked';
      flow.reason = reason;
    },

    async parseCallback(callback) {
      enter('parseCallback');
      if (!capabilities.callbacks) throw unsupported('callbacks');
      const rejected = (why: string) =>
        new SealflowError('CALLBACK_REJECTED', `Memory vendor callback rejected: ${why}.`, { retryable: false });
      const body = typeof callback.rawBody === 'string' ? callback.rawBody : new TextDecoder().decode(callback.rawBody);
      const timestamp = Number(header(callback, 'x-memory-timestamp'));
      const signature = header(callback, 'x-memory-signature') ?? '';
      if (!Number.isFinite(timestamp)) throw rejected('no timestamp');
      if (Math.abs(clock.now() - timestamp) > CALLBACK_WINDOW_MS) throw rejected('timestamp outside the window');
      const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
      const given = Buffer.from(signature, 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw rejected('bad signature');
      return JSON.parse(body) as VendorCallbackEvent;
    },

    sign(flowId, role) {
      const { flow, signer } = signByHand(flowId, role);
      signer.status = 'signed';
      signer.signedAt = clock.now();
      advance(flow);
    },

    reject(flowId, role, reason) {
      const { flow, signer } = signByHand(flowId, role);
      signer.status = 'rejected';
      flow.status = 'rejected';
      flow.reason = reason;
    },

    callbackFor(flowId, kind, role) {
      const flow = flowOf(flowId);
      const occurredAt = clock.now();
      const event: VendorCallbackEvent = {
        eventId: `mev_${createHash('sha256')
          .update(`${flowId}|${kind}|${role ?? ''}|${flow.status}`)
          .digest('hex')
          .slice(0, 24)}`,
        flowId,
        kind,
        ...(role === undefined ? {} : { role }),
        occurredAt,
        vendorAction: kind.toUpperCase().replace('-', '_'),
      };
      const rawBody = JSON.stringify(event);
      const signature = createHmac('sha256', secret).update(`${occurredAt}.${rawBody}`).digest('hex');
      return {
        headers: { 'x-memory-timestamp': String(occurredAt), 'x-memory-signature': signature },
        query: {},
        rawBody,
      };
    },

    failNext(method, ...errors) {
      failures.set(method, [...(failures.get(method) ?? []), ...errors]);
    },
  };
}

/** A stand-in certificate per seal id: stable, so tests can tell which seal a signer "used". */
export function memorySealCertificate(sealId: string): { certificateSha256: string; certificateSerial: string } {
  const certificateSha256 = createHash('sha256').update(`memory-vendor-certificate:${sealId}`).digest('hex');
  return { certificateSha256, certificateSerial: certificateSha256.slice(0, 16).toUpperCase() };
}

function usedSeal(sealId: string): UsedSeal {
  return { sealId, ...memorySealCertificate(sealId) };
}

function header(callback: RawCallback, name: string): string | undefined {
  const value = callback.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** JSON with sorted keys and byte arrays as their hash: the same request always gives the same fingerprint. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return `sha256:${createHash('sha256').update(v).digest('hex')}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}
