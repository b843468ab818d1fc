/**
 * The signing gateway: the only way core talks to a `SigningVendor`.
 *
 * Adapters differ in how carefully they validate, what they throw and what they log; the gateway makes every vendor
 * behave the same towards the workflow: inputs are checked before a request leaves (a refused ID number costs no
 * vendor call and no vendor fee), outputs are checked before they are trusted, capability violations are refused
 * up front with the missing capability named, every try has its own timeout (a vendor that never answers costs a
 * retryable `VENDOR_TIMEOUT`, not a stuck caller), retryable failures are retried with the same idempotency key (so a
 * retry can never create a second flow), anything unexpected becomes a `SealflowError`, and every call is logged with
 * personal data masked — including the names the vendor may echo back in its own error texts.
 */
import type { z } from 'zod';
import { parseShape } from './request-shape.js';
import { SealflowError, TimeoutError, ValidationError } from '../errors.js';
import { type Clock, type Scheduler, systemClock, systemScheduler, withinTimeLimit } from '../ports/clock.js';
import { type Logger, silentLogger } from '../ports/logger.js';
import type {
  RawCallback,
  SignedDocument,
  SignerSpec,
  SigningCapabilities,
  SigningVendor,
  VendorCallbackEvent,
  VendorCallContext,
  VendorDocumentRef,
  VendorFlow,
} from '../ports/signing-vendor.js';
import { maskIdNumber, maskMobile, maskName, maskPersonalData, maskText } from '../privacy.js';
import {
  callbackEventSchema,
  callContextSchema,
  cancelReasonSchema,
  createFlowInputSchema,
  fillTemplateInputSchema,
  flowLookupSchema,
  rawCallbackSchema,
  roleSchema,
  signedDocumentsSchema,
  signerSpecSchema,
  signerUrlSchema,
  signingCapabilitiesSchema,
  uploadDocumentInputSchema,
  vendorDocumentRefSchema,
  vendorFlowSchema,
  vendorIdSchema,
} from './vendor-schemas.js';

/**
 * How many attempts the gateway makes at a vendor call that failed with a retryable error, and the backoff between
 * them.
 */
export interface SigningRetryOptions {
  /** Tries in total, the first included. Default 3. */
  attempts?: number;
  /** The delay before the second try; doubles for each further try. Default 200 ms. */
  baseDelayMs?: number;
  /** No single delay is longer than this. Default 5000 ms. */
  maxDelayMs?: number;
}

/** Options of {@link createSigningGateway}. */
export interface SigningGatewayOptions {
  logger?: Logger;
  /** Measures call durations. */
  clock?: Clock;
  /** Runs the per-try timeouts and the default waits between tries; tests pass the manual clock. */
  scheduler?: Scheduler;
  retry?: SigningRetryOptions;
  /**
   * How long one try of a vendor call may take, in ms (default 15 000). When it passes, the try's signal is aborted
   * and the try fails with the retryable `VENDOR_TIMEOUT`: it is retried like any retryable failure, with the same
   * idempotency key, and whatever the abandoned try returns later is ignored.
   */
  timeoutMs?: number;
  /** Per-method overrides of `timeoutMs`, such as a longer one for `downloadSigned` of large files. */
  methodTimeoutMs?: Partial<Record<Exclude<keyof SigningVendor, 'id' | 'capabilities'>, number>>;
  /** Waits between tries; tests pass one that records the delays and returns at once. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1): the jitter source. Tests pass a constant. */
  random?: () => number;
}

/** A vendor as core sees it: every method present; the ones the vendor lacks refuse with `VENDOR_UNSUPPORTED`. */
export type SigningGateway = Required<SigningVendor>;

type VendorMethod = Exclude<keyof SigningVendor, 'id' | 'capabilities'>;

const DEFAULT_CALL_TIMEOUT_MS = 15_000;

/** Every vendor call by name; a record, so a method added to the port cannot be forgotten here. */
const VENDOR_METHODS: Readonly<Record<VendorMethod, true>> = {
  uploadDocument: true,
  fillTemplate: true,
  createFlow: true,
  findFlow: true,
  appendSigner: true,
  getFlow: true,
  signerUrl: true,
  downloadSigned: true,
  cancelFlow: true,
  parseCallback: true,
};

const REQUIRED_METHODS = ['uploadDocument', 'createFlow', 'getFlow', 'downloadSigned', 'cancelFlow'] as const;

/** Optional methods a vendor must have once it declares the capability that promises them. */
const METHODS_BY_CAPABILITY = [
  ['vendorTemplates', 'fillTemplate'],
  ['appendSigners', 'appendSigner'],
  ['callbacks', 'parseCallback'],
] as const satisfies readonly (readonly [keyof SigningCapabilities, VendorMethod])[];

/**
 * Wrap a vendor in the gateway core always talks to: input validation, capability checks, retries with backoff,
 * timeouts and masked logging, the same for every vendor.
 */
export function createSigningGateway(vendor: SigningVendor, options: SigningGatewayOptions = {}): SigningGateway {
  checkVendorShape(vendor);
  const capabilities = Object.freeze({ ...vendor.capabilities });
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const sleep = options.sleep ?? schedulerSleep(scheduler);
  const timeoutOf = callTimeouts(options);
  const random = options.random ?? Math.random;
  const attempts = Math.max(1, Math.floor(options.retry?.attempts ?? 3));
  const baseDelayMs = Math.max(0, options.retry?.baseDelayMs ?? 200);
  const maxDelayMs = Math.max(baseDelayMs, options.retry?.maxDelayMs ?? 5000);

  /** Exponential backoff with "equal jitter": never less than half the step, so retries cannot bunch up at zero. */
  const delayBefore = (attempt: number) => {
    const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 2));
    return Math.round(step / 2 + (random() * step) / 2);
  };

  async function call<T>(
    method: VendorMethod,
    context: VendorCallContext | undefined,
    personal: PersonalData,
    logFields: Record<string, unknown>,
    invoke: (signal: AbortSignal) => Promise<unknown>,
    output: z.ZodType<T>,
    checkOutput?: (value: T) => string | undefined,
  ): Promise<T> {
    const maxTries = context ? attempts : 1; // parseCallback checks a signature: trying again gives the same answer
    const timeoutMs = timeoutOf(method);
    for (let attempt = 1; ; attempt++) {
      const started = clock.now();
      const log = (outcome: string, extra: Record<string, unknown> = {}) =>
        logger.debug(
          'vendor_call',
          personal.scrub(
            maskPersonalData({
              vendor: vendor.id,
              method,
              attempt,
              idempotencyKey: context?.idempotencyKey,
              ...logFields,
              outcome,
              durationMs: clock.now() - started,
              ...extra,
            }),
          ),
        );
      if (context?.signal?.aborted) {
        // The caller gave up before this try (its effect timed out, say): nothing it would learn is wanted.
        const error = abortedError(vendor.id, method, context.signal.reason);
        log('error', { code: error.code, retryable: false, error: error.message });
        throw error;
      }
      let result: unknown;
      try {
        // The try ends at its timeout, or when the caller gives up, even if the vendor ignores its signal.
        result = await withinTimeLimit(
          {
            timeoutMs,
            scheduler,
            signal: context?.signal,
            abortError: (reason) => abortedError(vendor.id, method, reason),
            timeoutError: () =>
              new TimeoutError(
                'VENDOR_TIMEOUT',
                `${vendor.id}.${method} did not answer within ${timeoutMs} ms (try ${attempt}). It is tried again ` +
                  'with the same idempotency key while tries remain; if the vendor is merely slow, raise timeoutMs.',
                { details: { vendor: vendor.id, method, timeoutMs, attempt } },
              ),
          },
          invoke,
        );
      } catch (thrown) {
        const error = normalise(thrown, vendor.id, method, personal);
        const retry = error.retryable && attempt < maxTries && !context?.signal?.aborted;
        log(retry ? 'retry' : 'error', { code: error.code, retryable: error.retryable, error: error.message });
        if (!retry) throw error;
        // Aborted while waiting: the caller gave up, so it gets the failure that made us wait.
        await sleep(delayBefore(attempt + 1), context?.signal).catch(() => {
          throw error;
        });
        continue;
      }
      const parsed = output.safeParse(result);
      const problem = parsed.success ? checkOutput?.(parsed.data) : zodProblems(parsed.error);
      if (problem !== undefined || !parsed.success) {
        const error = new SealflowError(
          'VENDOR_BAD_RESPONSE',
          personal.scrubText(`${vendor.id}.${method} returned something the port does not allow: ${problem}`),
          { retryable: false, details: { vendor: vendor.id, method } },
        );
        log('bad_response', { code: error.code, error: error.message });
        throw error;
      }
      log('ok');
      return parsed.data;
    }
  }

  const unsupported = (method: VendorMethod, capability: string) =>
    new SealflowError(
      'VENDOR_UNSUPPORTED',
      `Vendor "${vendor.id}" does not declare capability ${capability}, so ${method} is not available.`,
      { retryable: false, details: { vendor: vendor.id, method, capability } },
    );

  /** Refuse a signer the vendor cannot handle before the vendor sees it. */
  const checkSignerCapabilities = (signer: SignerSpec, method: VendorMethod) => {
    if (!signer.autoSign) return;
    if (signer.kind === 'person' && !capabilities.personAutoSign) {
      throw new SealflowError(
        'VENDOR_UNSUPPORTED',
        `Vendor "${vendor.id}" lacks capability personAutoSign: signer "${signer.role}" is a person and must sign ` +
          'in the vendor UI (autoSign: false, then signerUrl).',
        { retryable: false, details: { vendor: vendor.id, method, capability: 'personAutoSign', role: signer.role } },
      );
    }
    if (signer.kind === 'organization' && !capabilities.organizationAutoSeal) {
      throw new SealflowError(
        'VENDOR_UNSUPPORTED',
        `Vendor "${vendor.id}" lacks capability organizationAutoSeal: signer "${signer.role}" cannot be sealed ` +
          'automatically.',
        {
          retryable: false,
          details: { vendor: vendor.id, method, capability: 'organizationAutoSeal', role: signer.role },
        },
      );
    }
  };

  const flowMatches = (flowId: string) => (flow: VendorFlow) =>
    flow.flowId === flowId ? undefined : `flowId is "${flow.flowId}", asked for "${flowId}"`;

  const gateway: SigningGateway = {
    id: vendor.id,
    capabilities,

    async uploadDocument(document, context) {
      const ctx = parseContext(context);
      const input = parse(uploadDocumentInputSchema, document, 'document');
      return call(
        'uploadDocument',
        ctx,
        NO_PERSONAL_DATA,
        { documentKey: input.key, fileName: input.fileName, size: input.bytes.byteLength },
        (signal) => vendor.uploadDocument(input, { ...ctx, signal }),
        vendorDocumentRefSchema,
        (ref: VendorDocumentRef) => (ref.key === input.key ? undefined : `key is "${ref.key}", sent "${input.key}"`),
      );
    },

    async fillTemplate(template, context) {
      const ctx = parseContext(context);
      const fill = vendor.fillTemplate;
      if (!capabilities.vendorTemplates || !fill) throw unsupported('fillTemplate', 'vendorTemplates');
      const input = parse(fillTemplateInputSchema, template, 'template');
      // Template values are contract text: the borrower's name is in them (ID numbers and mobiles are found by shape).
      const personal = personalData(
        Object.entries(input.values)
          .filter(([key]) => /name$/i.test(key))
          .map(([, value]) => ({ free: value })),
      );
      return call(
        'fillTemplate',
        ctx,
        personal,
        { documentKey: input.key, vendorTemplateId: input.vendorTemplateId },
        (signal) => fill.call(vendor, input, { ...ctx, signal }),
        vendorDocumentRefSchema,
        (ref: VendorDocumentRef) => (ref.key === input.key ? undefined : `key is "${ref.key}", sent "${input.key}"`),
      );
    },

    async createFlow(flowInput, context) {
      const ctx = parseContext(context);
      const input = parse(createFlowInputSchema, flowInput, 'flow');
      if (input.signers.length > capabilities.maxSignersPerFlow) {
        throw new SealflowError(
          'VENDOR_UNSUPPORTED',
          `Vendor "${vendor.id}" takes at most ${capabilities.maxSignersPerFlow} signers per flow (maxSignersPerFlow); ` +
            `this flow has ${input.signers.length}.`,
          {
            retryable: false,
            details: { vendor: vendor.id, capability: 'maxSignersPerFlow', limit: capabilities.maxSignersPerFlow },
          },
        );
      }
      for (const signer of input.signers) checkSignerCapabilities(signer, 'createFlow');
      // A title such as "张三的借款合同" carries a name that is already among the signers'.
      const personal = personalData(input.signers);
      return call(
        'createFlow',
        ctx,
        personal,
        {
          businessNo: input.businessNo,
          documents: input.documents.map((d) => d.key),
          signers: input.signers.map((s) => `${s.role}:${s.kind}${s.autoSign ? ':auto' : ''}`),
        },
        (signal) => vendor.createFlow(input, { ...ctx, signal }),
        vendorFlowSchema,
        (flow: VendorFlow) => {
          const missing = input.signers.filter((s) => !flow.signers.some((f) => f.role === s.role));
          return missing.length ? `signers lack role(s) ${missing.map((s) => s.role).join(', ')}` : undefined;
        },
      ).then((flow) => maskFlow(flow, personal));
    },

    async appendSigner(flowId, signer, context) {
      const ctx = parseContext(context);
      const append = vendor.appendSigner;
      if (!capabilities.appendSigners || !append) throw unsupported('appendSigner', 'appendSigners');
      const id = parse(vendorIdSchema, flowId, 'flowId');
      const spec = parse(signerSpecSchema, signer, 'signer');
      checkSignerCapabilities(spec, 'appendSigner');
      const personal = personalData([spec]);
      return call(
        'appendSigner',
        ctx,
        personal,
        { flowId: id, signer: `${spec.role}:${spec.kind}${spec.autoSign ? ':auto' : ''}` },
        (signal) => append.call(vendor, id, spec, { ...ctx, signal }),
        vendorFlowSchema,
        (flow: VendorFlow) =>
          flowMatches(id)(flow) ??
          (flow.signers.some((s) => s.role === spec.role) ? undefined : `signers lack role ${spec.role}`),
      ).then((flow) => maskFlow(flow, personal));
    },

    async findFlow(lookup, context) {
      const ctx = parseContext(context);
      const findFlow = vendor.findFlow;
      if (!findFlow) throw unsupported('findFlow', 'a flow lookup (findFlow)');
      const query = parse(flowLookupSchema, lookup, 'lookup');
      return call(
        'findFlow',
        ctx,
        NO_PERSONAL_DATA,
        { createKey: query.createKey, businessNo: query.businessNo },
        (signal) => findFlow.call(vendor, query, { ...ctx, signal }),
        vendorFlowSchema.nullable(),
      ).then((flow) => (flow === null ? null : maskFlow(flow, NO_PERSONAL_DATA)));
    },

    async getFlow(flowId, context) {
      const ctx = parseContext(context);
      const id = parse(vendorIdSchema, flowId, 'flowId');
      return call(
        'getFlow',
        ctx,
        NO_PERSONAL_DATA,
        { flowId: id },
        (signal) => vendor.getFlow(id, { ...ctx, signal }),
        vendorFlowSchema,
        flowMatches(id),
      ).then((flow) => maskFlow(flow, NO_PERSONAL_DATA));
    },

    async signerUrl(flowId, role, context) {
      const ctx = parseContext(context);
      const signerUrl = vendor.signerUrl;
      if (!signerUrl) throw unsupported('signerUrl', 'a signing UI (signerUrl)');
      const id = parse(vendorIdSchema, flowId, 'flowId');
      const signerRole = parse(roleSchema, role, 'role');
      return call(
        'signerUrl',
        ctx,
        NO_PERSONAL_DATA,
        { flowId: id, role: signerRole },
        (signal) => signerUrl.call(vendor, id, signerRole, { ...ctx, signal }),
        signerUrlSchema,
      );
    },

    async downloadSigned(flowId, context) {
      const ctx = parseContext(context);
      const id = parse(vendorIdSchema, flowId, 'flowId');
      return call<SignedDocument[]>(
        'downloadSigned',
        ctx,
        NO_PERSONAL_DATA,
        { flowId: id },
        (signal) => vendor.downloadSigned(id, { ...ctx, signal }),
        signedDocumentsSchema,
      );
    },

    async cancelFlow(flowId, reason, context) {
      const ctx = parseContext(context);
      const id = parse(vendorIdSchema, flowId, 'flowId');
      const why = parse(cancelReasonSchema, reason, 'reason');
      await call(
        'cancelFlow',
        ctx,
        NO_PERSONAL_DATA,
        { flowId: id, reason: why },
        async (signal) => {
          await vendor.cancelFlow(id, why, { ...ctx, signal });
          return null;
        },
        NOTHING,
      );
    },

    async parseCallback(callback: RawCallback): Promise<VendorCallbackEvent> {
      const parseCallback = vendor.parseCallback;
      if (!capabilities.callbacks || !parseCallback) throw unsupported('parseCallback', 'callbacks');
      const raw = parse(rawCallbackSchema, callback, 'callback');
      return call(
        'parseCallback',
        undefined,
        NO_PERSONAL_DATA,
        {},
        () => parseCallback.call(vendor, raw),
        callbackEventSchema,
      );
    },
  };
  madeGateways.add(gateway);
  return gateway;
}

/** Gateways made by `createSigningGateway`: a gateway looks like a vendor, and wrapping it twice multiplies retries. */
const madeGateways = new WeakSet<object>();

/** Whether `value` came from `createSigningGateway` (so it must not be wrapped again). */
export function isSigningGateway(value: unknown): value is SigningGateway {
  return typeof value === 'object' && value !== null && madeGateways.has(value);
}

// -----------------------------------------------------------------------------------------------------------------

function checkVendorShape(vendor: SigningVendor): void {
  if (vendor === null || typeof vendor !== 'object') {
    throw new ValidationError('createSigningGateway needs a SigningVendor object.');
  }
  const problems: string[] = [];
  if (typeof vendor.id !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(vendor.id)) {
    problems.push('id must be a short lower-case id such as "local", "esign" or "cfca"');
  }
  const capabilities = signingCapabilitiesSchema.safeParse(vendor.capabilities);
  if (!capabilities.success) problems.push(`capabilities: ${zodProblems(capabilities.error)}`);
  const missing = REQUIRED_METHODS.filter((method) => typeof vendor[method] !== 'function');
  if (missing.length) problems.push(`missing required method(s) ${missing.join(', ')}`);
  if (capabilities.success) {
    for (const [capability, method] of METHODS_BY_CAPABILITY) {
      if (capabilities.data[capability] && typeof vendor[method] !== 'function') {
        problems.push(`declares ${capability} but has no ${method}()`);
      }
    }
  }
  if (problems.length) {
    throw new ValidationError(`Signing vendor "${String(vendor.id)}" is not usable: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
}

function parseContext(context: VendorCallContext): VendorCallContext {
  return parse(callContextSchema, context ?? {}, 'context');
}

/** The same readable problems as a signing request's: each names the field and what it is for. */
function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  return parseShape(schema, value, what);
}

function zodProblems(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

const NOTHING = { safeParse: (value: unknown) => ({ success: true, data: value }) } as unknown as z.ZodType<null>;

// --- personal data ---------------------------------------------------------------------------------------------

interface PersonalData {
  /** Replace every known personal value (and any ID number or mobile) in a text with its masked form. */
  scrubText(text: string): string;
  scrub<T>(value: T): T;
}

/**
 * Vendors echo what they were sent ("张三的身份证号 110101…与手机号不匹配"). `maskText` finds ID numbers and mobiles
 * by shape, but a name has no shape: the gateway knows the names it just sent, so it replaces exactly those.
 */
function personalData(signers: readonly Partial<SignerSpec & { free: string }>[]): PersonalData {
  const replacements = new Map<string, string>();
  for (const signer of signers) {
    if (signer.name && signer.kind === 'person') replacements.set(signer.name, maskName(signer.name));
    if (signer.idNumber) replacements.set(signer.idNumber, maskIdNumber(signer.idNumber));
    if (signer.mobile) replacements.set(signer.mobile, maskMobile(signer.mobile));
    if (signer.free && signer.free.length >= 2) replacements.set(signer.free, maskName(signer.free));
  }
  // Longest first, so "欧阳娜娜" is replaced before a shorter value inside it.
  const ordered = [...replacements].sort((a, b) => b[0].length - a[0].length);
  const scrubText = (text: string) => {
    let out = text;
    for (const [plain, masked] of ordered) out = out.split(plain).join(masked);
    return maskText(out);
  };
  const scrub = <T>(value: T): T => scrubDeep(value, scrubText) as T;
  return { scrubText, scrub };
}

const NO_PERSONAL_DATA = personalData([]);

function scrubDeep(value: unknown, scrubText: (text: string) => string): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, scrubText));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, scrubText)]));
  }
  return value;
}

/** The port says a flow's reason is masked; the gateway makes sure. */
function maskFlow(flow: VendorFlow, personal: PersonalData): VendorFlow {
  return flow.reason === undefined ? flow : { ...flow, reason: personal.scrubText(flow.reason) };
}

/**
 * Known errors pass through (their message scrubbed of personal data the vendor may have echoed); anything else is a
 * `VENDOR_FAILURE` — retryable, because an unexpected throw from an HTTP client is usually the network.
 */
function normalise(thrown: unknown, vendorId: string, method: VendorMethod, personal: PersonalData): SealflowError {
  if (thrown instanceof SealflowError) {
    const message = personal.scrubText(thrown.message);
    if (message !== thrown.message) thrown.message = message;
    return thrown;
  }
  const original = thrown instanceof Error ? thrown : new Error(String(thrown));
  // Keep the stack for whoever debugs the adapter, but not the personal data inside the original message.
  const cause = new Error(personal.scrubText(original.message));
  cause.name = original.name;
  cause.stack = original.stack === undefined ? undefined : personal.scrubText(original.stack);
  if (isAbort(original)) return abortedError(vendorId, method, cause);
  return new SealflowError('VENDOR_FAILURE', `${vendorId}.${method} failed: ${cause.message}`, {
    cause,
    retryable: true,
    details: { vendor: vendorId, method },
  });
}

function abortedError(vendorId: string, method: VendorMethod, cause: unknown): SealflowError {
  return new SealflowError('VENDOR_ABORTED', `${vendorId}.${method} was aborted by the caller.`, {
    cause,
    retryable: false,
    details: { vendor: vendorId, method },
  });
}

function isAbort(error: Error): boolean {
  return error.name === 'AbortError';
}

/** Each method's timeout per try, from the options; refuses a timeout that is not a positive number of ms. */
function callTimeouts(options: SigningGatewayOptions): (method: VendorMethod) => number {
  const fallback = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const byMethod: Partial<Record<string, number>> = { ...options.methodTimeoutMs };
  const invalid = (ms: unknown) => typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0;
  const problems = invalid(fallback) ? [`timeoutMs is ${String(fallback)}`] : [];
  for (const [method, ms] of Object.entries(byMethod)) {
    if (!Object.hasOwn(VENDOR_METHODS, method)) problems.push(`methodTimeoutMs.${method} is not a vendor call`);
    else if (ms !== undefined && invalid(ms)) problems.push(`methodTimeoutMs.${method} is ${String(ms)}`);
  }
  if (problems.length) {
    throw new ValidationError(
      `Signing gateway timeouts must be positive numbers of milliseconds: ${problems.join('; ')}.`,
      { details: { problems } },
    );
  }
  return (method) => byMethod[method] ?? fallback;
}

function schedulerSleep(scheduler: Scheduler) {
  return (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const cancel = scheduler.schedule(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        cancel();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
}
