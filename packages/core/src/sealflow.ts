/**
 * `createSealflow`: the SDK wired in one call — the durable runtime with the template-approval and signing workflows
 * (and, with `dispatch`, the funder-dispatch ones), the template service, the signing service (with `waitFor`), the
 * vendors behind their gateways, typed domain events, and one `close()` that stops it all in the right order.
 *
 * ```ts
 * const sealflow = await createSealflow({
 *   persistence: await pglitePersistence({ dataDir }),
 *   documents: fsDocumentStore({ root }),
 *   vendors: { local: localSigner({ seals, personIdentity }) },
 *   verifyPdf: verifyPdfSignatures,
 *   identityVerifier,
 *   hashKey: process.env.SIGNING_HASH_KEY!,
 *   organizations: { platform: { name, creditCode, sealId: 'platform-seal' } },
 * });
 * const record = await sealflow.signing.sign(request);
 * const done = await sealflow.signing.waitFor(record.id, { timeoutMs: 60_000 });
 * await sealflow.close();
 * ```
 *
 * The parts stay available (`createRuntime`, `signingWorkflows`, `createSigningService` …) for hosts that need a
 * shape the facade does not give; the facade only removes the wiring every host would otherwise retype.
 *
 * Defaults, chosen for an embedded SDK that must run with nothing but core installed:
 * - `persistence` and `documents`: core's in-memory implementations — for development and tests only, everything is
 *   lost when the process ends (a warning is logged once). Core cannot depend on the adapters, so production hosts
 *   pass `pglitePersistence` / `postgresPersistence` and `fsDocumentStore` / `s3DocumentStore` themselves.
 * - `clock`: the system clock; `scheduler`: the clock itself when it can schedule (`createManualClock()`), else timers.
 * - `logger`: warnings and errors as JSON lines on stderr (`consoleLogger('warn')`); pass `silentLogger` to mute.
 * - `routing`: every scene to the only vendor when there is one; with several, set `routing.default` at least.
 * - `approvalLevels`: one level, `approval`, decided by the role `template-approver`.
 * - `start`: true — a background worker runs effects, timers and events until `close()`.
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';
import type { ApplicationDomainEvent, ApplicationDomainEventType } from './dispatch/application-workflow.js';
import type { ComplaintDomainEvent, ComplaintDomainEventType } from './dispatch/complaint-workflow.js';
import { type Dispatch, type DispatchOptions, dispatchSetup } from './dispatch/dispatch-facade.js';
import type { DispatchDomainEvent, DispatchDomainEventType } from './dispatch/offer.js';
import { createMemoryNotifier } from './memory/memory-notifier.js';
import type { ChainNotary } from './ports/chain-notary.js';
import type { TimestampAuthority } from './ports/timestamp-authority.js';
import type { Notifier } from './ports/notifier.js';
import { type Clock, type Scheduler, systemClock, systemScheduler } from './ports/clock.js';
import type { DocumentStore } from './ports/document-store.js';
import { consoleLogger, type Logger, maskingLogger } from './ports/logger.js';
import type { Persistence } from './ports/persistence.js';
import type { IdentityVerifier, SigningVendor } from './ports/signing-vendor.js';
import type { ChainKeys } from './runtime/audit-chain.js';
import { createRuntime, type DomainEvent, type Runtime, type RuntimeOptions } from './runtime/runtime.js';
import type { WorkerOptions } from './runtime/worker.js';
import type { WorkflowDefinition } from './runtime/workflow-definition.js';
import {
  createSigningGateway,
  isSigningGateway,
  type SigningGateway,
  type SigningGatewayOptions,
} from './signing/gateway.js';
import type { SigningSceneInput } from './signing/scenes.js';
import type { SealRegistration } from './signing/seals.js';
import type { OrganizationParty, VerifyPdf } from './signing/signing-effects.js';
import type { SigningDomainEvent, SigningDomainEventType } from './signing/signing-machine.js';
import {
  createSigningService,
  type SigningRouting,
  type SigningService,
  type SigningServiceOptions,
  signingWorkflows,
} from './signing/signing-service.js';
import type { ApprovalLevel, TemplateDomainEvent, TemplateDomainEventType } from './templates/approval-workflow.js';
import { createTemplateService, type TemplateService, templateWorkflows } from './templates/template-service.js';
import { createMemoryDocumentStore } from './memory/memory-document-store.js';
import { createMemoryPersistence } from './memory/memory-persistence.js';
import type { LoopOptions } from './webhooks/loop.js';
import { createWebhookRelay, type WebhookRelay, type WebhookRelayOptions } from './webhooks/relay.js';

/**
 * Options of {@link createSealflow}: the stores, vendors, organisations and keys of a host, with development defaults.
 */
export interface SealflowOptions {
  /**
   * Where workflows, signing records and evidence are kept: `pglitePersistence()` or `postgresPersistence()` from
   * `@sealflow/adapter-storage`. Default: in memory, for development and tests only. A persistence passed here is
   * the host's: `close()` leaves it open.
   */
  persistence?: Persistence;
  /**
   * Where template PDFs and signed documents are kept (the 影像平台): `fsDocumentStore()` or `s3DocumentStore()`.
   * Default: in memory, for development and tests only.
   */
  documents?: DocumentStore;
  /**
   * The signing vendors by id — the id routing, records and callback URLs use, and the vendor's own `id`:
   * `{ local: localSigner(…) }`. Each is put behind `createSigningGateway` (retries, timeouts, output checks) with
   * `vendorCalls`; a gateway already made by `createSigningGateway` is used as it is.
   */
  vendors: Readonly<Record<string, SigningVendor | SigningGateway>>;
  /** How the gateways made here retry and time out vendor calls (default 3 tries, 15 s per try). */
  vendorCalls?: Omit<SigningGatewayOptions, 'logger' | 'clock' | 'scheduler'>;
  /** The host's real-name verification (实名认证), asked before any borrower signs. */
  identityVerifier: IdentityVerifier;
  /** Secret (≥ 16 bytes) for the keyed hash of ID numbers and for sealing personal data in workflows. Keep it secret. */
  hashKey: string | Uint8Array;
  /** Keys for the evidence chains (default: derived from `hashKey`); see `SigningEnvironment.evidenceKeys`. */
  evidenceKeys?: ChainKeys;
  /** Where evidence heads are published outside the database (an RFC 3161 authority, write-once storage). */
  evidenceNotary?: ChainNotary;
  /** An RFC 3161 TSA that timestamps evidence entries (`signing.timestampEvidence`); see the signing options. */
  evidenceTimestampAuthority?: TimestampAuthority;
  /** Keys for the workflows' audit chains (HMAC); without them the chains are plain SHA-256. */
  auditKeys?: ChainKeys;
  /**
   * Organisations that seal with a configured seal, by party role: `{ platform: { name, creditCode, sealId } }`,
   * `sealId` being one seal id, or one per vendor id (`{ esign: '…', cfca: '…' }`) for routes across vendors.
   */
  organizations?: Readonly<Record<string, OrganizationParty>>;
  /** Which funder each further seal belongs to: `{ 'bank-1-seal': { owner: { funderId: 'bank-1' } } }`. */
  seals?: Readonly<Record<string, SealRegistration>>;
  /** The approval levels every template submission goes through, in order. Default: one level, `template-approver`. */
  approvalLevels?: readonly ApprovalLevel[];
  /** The role that may import, edit and submit templates. Default `template-editor`. */
  editorRole?: string;
  /** Escalate a template approval still undecided this many ms after submission. Default: no deadline. */
  approvalDeadlineMs?: number | null;
  /** Scenes added to (or replacing by code) the default ones. */
  scenes?: readonly SigningSceneInput[];
  /** Scene → document key → your template code: `{ LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } }`. */
  templateCodes?: SigningServiceOptions['templateCodes'];
  /** Which vendor signs what. Default: the only vendor. */
  routing?: SigningRouting;
  /** Signature check for vendors with PAdES output, such as `verifyPdfSignatures` from `@sealflow/adapter-local`. */
  verifyPdf?: VerifyPdf;
  /** The URL vendors with callbacks should notify, per vendor id. */
  callbackUrl?: (vendorId: string) => string;
  /** How many template versions each process keeps parsed for rendering; default 32. */
  preparedTemplates?: number;
  /**
   * The TrueType (glyf) font contract values are drawn in, as the bytes of a `.ttf`; default the bundled Noto Sans SC
   * Regular (`@sealflow/font-noto-sans-sc`). Checked when the SDK is created.
   */
  font?: Uint8Array;
  /** How long a vendor flow may take; default 30 minutes (a scene may set its own). */
  deadlineMs?: number;
  /** Polling of vendors without callbacks; see `SigningServiceOptions.polling`. */
  polling?: SigningServiceOptions['polling'];
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: the clock when it can schedule (a manual clock in tests), else the system's timers. */
  scheduler?: Scheduler;
  /** Default: warnings and errors as JSON lines (`consoleLogger('warn')`). Personal data is masked either way. */
  logger?: Logger;
  /** The runtime's effect retries, claim lease and effect timeout; see `RuntimeOptions`. */
  runtimeOptions?: Pick<RuntimeOptions, 'retry' | 'leaseMs' | 'effectTimeoutMs' | 'random'>;
  /** The background worker's concurrency and idle poll (used when `start` is true). */
  worker?: WorkerOptions;
  /**
   * Start a background worker now (default true). False for hosts that run workers elsewhere, or tests that drive
   * `runtime.runOnce()` themselves.
   */
  start?: boolean;
  /**
   * The workflows the runtime runs, given the built-in template and signing ones: add the host's own workflows to
   * the same runtime, or wrap effects (for instrumentation). Return the built-in ones too.
   */
  workflows?: (builtIn: WorkflowDefinition[]) => readonly WorkflowDefinition[];
  /**
   * Push domain events to HTTP endpoints, signed (see `createWebhookRelay` and docs/webhooks.md): the relay is
   * created before the worker starts, sends in the background when `start` is true (`loop`: its concurrency and
   * idle poll), and is closed after the runtime. Default: no relay.
   */
  webhooks?: Omit<WebhookRelayOptions, 'runtime' | 'scheduler'> & { loop?: LoopOptions };
  /**
   * Funder dispatch (loan applications, offers to institutions, positions, settlement, complaints), reachable as
   * `sealflow.dispatch`: its products, where the customer's choice is announced (`choiceDesk`), and optionally the
   * notifier (default in memory), rules and ranking weights. Its workflows run on the same runtime, and a choice
   * made with the customer's terms starts the funder-funded LOAN_CONTRACT signing. Default: no dispatch.
   */
  dispatch?: Omit<DispatchOptions, 'notifier'> & { notifier?: Notifier };
}

/** Domain events by type, with their payloads. */
export type SealflowEventPayloads = { [T in SigningDomainEventType]: Extract<SigningDomainEvent, { type: T }> } & {
  [T in TemplateDomainEventType]: Extract<TemplateDomainEvent, { type: T }>;
} & { [T in ApplicationDomainEventType]: Extract<ApplicationDomainEvent, { type: T }> } & {
  [T in DispatchDomainEventType]: Extract<DispatchDomainEvent, { type: T }>;
} & { [T in ComplaintDomainEventType]: Extract<ComplaintDomainEvent, { type: T }> };
/** The type of a domain event a {@link Sealflow} instance delivers. */
export type SealflowEventType = keyof SealflowEventPayloads;
/** A domain event of one type, with its typed payload. */
export type SealflowEvent<T extends SealflowEventType = SealflowEventType> = DomainEvent & {
  type: T;
  payload: SealflowEventPayloads[T];
};
/** A subscriber to {@link SealflowEvents}. */
export type SealflowEventHandler<E> = (event: E) => void | Promise<void>;

/**
 * Subscriptions to the runtime's domain events. Delivery is at least once, with an id stable across redeliveries
 * (deduplicate on `event.id`); a handler that throws has the event delivered again later.
 */
export interface SealflowEvents {
  /** Events of one type, typed: `on('signing.completed', (e) => e.payload.recordId)`. Returns the unsubscribe. */
  on<T extends SealflowEventType>(type: T, handler: SealflowEventHandler<SealflowEvent<T>>): () => void;
  /** Every event (`'*'`), or the events of a host workflow's own type. */
  on(type: '*' | (string & {}), handler: SealflowEventHandler<DomainEvent>): () => void;
}

/**
 * A wired sealflow instance (see {@link createSealflow}): the template and signing services, the runtime, typed
 * events, the stores in use, and `close`.
 */
export interface Sealflow {
  templates: TemplateService;
  signing: SigningService;
  runtime: Runtime;
  events: SealflowEvents;
  persistence: Persistence;
  documents: DocumentStore;
  /** The webhook relay, when `webhooks` was given: `deadLetters()`, `replay(id)`, `runOnce()`. */
  webhooks: WebhookRelay | undefined;
  /** Funder dispatch, when `dispatch` was given: applications, offers, institutions, complaints, ratings. */
  dispatch: Dispatch | undefined;
  /**
   * Stop: pending `waitFor` calls reject, event subscriptions end, the worker finishes its current pass, and the
   * persistence is closed if `createSealflow` created it. Safe to call twice.
   */
  close(): Promise<void>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const port = (what: string, methods: readonly string[]) =>
  z.custom<unknown>((v) => isObject(v) && methods.every((m) => typeof v[m] === 'function'), {
    message: `must be ${what}`,
  });
const fn = (what: string) => z.custom<unknown>((v) => typeof v === 'function', { message: `must be ${what}` });
const ms = z.number().positive().finite();
/** A vendor id, or vendor ids in order of preference (the later ones are fallbacks). */
const route = z.union([z.string(), z.array(z.string())]);

/** What a host hands over, checked before anything is created; the services check the rest in their own terms. */
const OptionsShape = z.strictObject({
  persistence: port('a Persistence, such as pglitePersistence() or postgresPersistence(…)', [
    'transaction',
    'close',
  ]).optional(),
  documents: port('a DocumentStore, such as fsDocumentStore(…) or s3DocumentStore(…)', [
    'put',
    'get',
    'head',
  ]).optional(),
  vendors: z
    .record(
      z.string().min(1),
      z.custom<unknown>(isObject, { message: 'must be a signing vendor, such as localSigner(…)' }),
    )
    .refine((v) => Object.keys(v).length > 0, {
      message: 'must name at least one signing vendor: { local: localSigner(…) }',
    }),
  vendorCalls: z.record(z.string(), z.unknown()).optional(),
  identityVerifier: port('an IdentityVerifier: { check(person) } answering real-name checks', ['check']),
  hashKey: z.union([z.string(), z.instanceof(Uint8Array)], {
    error: 'must be a secret string or bytes of at least 16 bytes, such as process.env.SIGNING_HASH_KEY',
  }),
  evidenceKeys: z.unknown().optional(),
  evidenceNotary: z.unknown().optional(),
  evidenceTimestampAuthority: z.unknown().optional(),
  auditKeys: z.unknown().optional(),
  organizations: z.record(z.string(), z.unknown()).optional(),
  seals: z.record(z.string(), z.unknown()).optional(),
  approvalLevels: z
    .array(z.object({ name: z.string().min(1), roles: z.array(z.string().min(1)).min(1) }))
    .min(1, { message: 'needs at least one level, such as { name: "legal", roles: ["legal"] }' })
    .optional(),
  editorRole: z.string().min(1).optional(),
  approvalDeadlineMs: ms.nullable().optional(),
  scenes: z.array(z.unknown()).optional(),
  templateCodes: z.record(z.string(), z.record(z.string(), z.string())).optional(),
  routing: z
    .strictObject({
      default: route.optional(),
      scenes: z.record(z.string(), route).optional(),
      templates: z.record(z.string(), route).optional(),
      requireTimestamps: z
        .union([
          z.boolean(),
          z.strictObject({ scenes: z.array(z.string()).optional(), templates: z.array(z.string()).optional() }),
        ])
        .optional(),
    })
    .optional(),
  verifyPdf: fn('a function, such as verifyPdfSignatures').optional(),
  callbackUrl: fn('a function from vendor id to URL').optional(),
  preparedTemplates: z.number().optional(),
  font: z.instanceof(Uint8Array, { message: 'the bytes of a TrueType .ttf file' }).optional(),
  deadlineMs: ms.optional(),
  polling: z.record(z.string(), z.number()).optional(),
  clock: port('a Clock: { now() }', ['now']).optional(),
  scheduler: port('a Scheduler: { schedule(task, delayMs) }', ['schedule']).optional(),
  logger: port('a Logger: { debug, info, warn, error }', ['debug', 'info', 'warn', 'error']).optional(),
  runtimeOptions: z.record(z.string(), z.unknown()).optional(),
  worker: z.strictObject({ concurrency: z.number().int().positive().optional(), pollMs: ms.optional() }).optional(),
  start: z.boolean().optional(),
  workflows: fn('a function from the built-in workflows to the ones to run').optional(),
  // Checked in full by createWebhookRelay, which names each subscriber's field.
  webhooks: z.looseObject({ subscribers: z.array(z.unknown()) }).optional(),
  // Products are checked in full by the application service, which names each product's field.
  dispatch: z
    .strictObject({
      products: z.array(z.unknown()).min(1, { message: 'needs at least one loan product' }),
      choiceDesk: z.string().min(1),
      notifier: port('a Notifier: { notify(notification, { idempotencyKey }) }', ['notify']).optional(),
      config: z.record(z.string(), z.unknown()).optional(),
      weights: z.record(z.string(), z.number()).optional(),
      complaintReportWithinMs: ms.optional(),
      loanContractScene: z.string().min(1).optional(),
    })
    .optional(),
});

function checkOptions(options: unknown): asserts options is SealflowOptions {
  const result = OptionsShape.safeParse(options);
  if (result.success) return;
  const problems = result.error.issues.map((issue) => {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}${at ? ` in ${at}` : ''}`;
    }
    const message = issue.message.replace(/^Invalid input: /, '');
    if (valueAt(options, issue.path) === undefined) {
      return issue.code === 'invalid_type' ? `${at} is required` : `${at} is required, and ${message}`;
    }
    return `${at} ${message}`;
  });
  throw new ValidationError(`createSealflow options are invalid — ${problems.join('; ')}.`, {
    details: { paths: result.error.issues.map((i) => i.path.map(String).join('.')) },
  });
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) at = isObject(at) ? at[key as string] : undefined;
  return at;
}

/** Each in-memory default warns once per process: a host that forgot a store should hear it, not every test. */
const warned = new Set<string>();
function warnOnce(logger: Logger, part: 'persistence' | 'documents'): void {
  if (warned.has(part)) return;
  warned.add(part);
  logger.warn('sealflow_in_memory_default', {
    part,
    advice:
      part === 'persistence'
        ? 'No persistence was given: workflows, records and evidence are kept in memory and lost on exit. ' +
          'For development and tests only; pass pglitePersistence() or postgresPersistence() from @sealflow/adapter-storage.'
        : 'No document store was given: templates and signed PDFs are kept in memory and lost on exit. ' +
          'For development and tests only; pass fsDocumentStore() or s3DocumentStore() from @sealflow/adapter-storage.',
  });
}

function schedulerOf(options: SealflowOptions, clock: Clock): Scheduler {
  if (options.scheduler) return options.scheduler;
  const candidate = clock as Partial<Scheduler>;
  return typeof candidate.schedule === 'function' ? (candidate as Scheduler) : systemScheduler;
}

function createEvents(runtime: Runtime): SealflowEvents & { clear(): void } {
  const subscriptions = new Set<() => void>();
  return {
    on(type: string, handler: SealflowEventHandler<never>) {
      if (typeof type !== 'string' || type.length === 0 || typeof handler !== 'function') {
        throw new ValidationError(
          "events.on(type, handler): type is an event type such as 'signing.completed' or '*'.",
        );
      }
      const off = runtime.onEvent((event) =>
        type === '*' || event.type === type ? (handler as SealflowEventHandler<DomainEvent>)(event) : undefined,
      );
      subscriptions.add(off);
      return () => {
        subscriptions.delete(off);
        off();
      };
    },
    clear() {
      for (const off of subscriptions) off();
      subscriptions.clear();
    },
  };
}

/** Create the runtime and the services from one options object; see the module comment for the defaults. */
export async function createSealflow(options: SealflowOptions): Promise<Sealflow> {
  checkOptions(options);
  const logger = maskingLogger(options.logger ?? consoleLogger('warn'));
  const clock = options.clock ?? systemClock;
  const scheduler = schedulerOf(options, clock);
  const ownsPersistence = options.persistence === undefined;
  if (ownsPersistence) warnOnce(logger, 'persistence');
  if (options.documents === undefined) warnOnce(logger, 'documents');
  const persistence = options.persistence ?? createMemoryPersistence();
  const documents = options.documents ?? createMemoryDocumentStore({ clock });
  try {
    return assemble(options, { logger, clock, scheduler, persistence, documents, ownsPersistence });
  } catch (error) {
    if (ownsPersistence) await persistence.close();
    throw error;
  }
}

function assemble(
  options: SealflowOptions,
  parts: {
    logger: Logger;
    clock: Clock;
    scheduler: Scheduler;
    persistence: Persistence;
    documents: DocumentStore;
    ownsPersistence: boolean;
  },
): Sealflow {
  const { logger, clock, scheduler, persistence, documents } = parts;
  const vendors = Object.fromEntries(
    Object.entries(options.vendors).map(([id, vendor]) => [
      id,
      isSigningGateway(vendor)
        ? vendor
        : createSigningGateway(vendor, { ...options.vendorCalls, logger, clock, scheduler }),
    ]),
  );
  const environment = {
    vendors,
    documents,
    hashKey: options.hashKey,
    ...defined({
      evidenceKeys: options.evidenceKeys,
      verifyPdf: options.verifyPdf,
      organizations: options.organizations,
      seals: options.seals,
      callbackUrl: options.callbackUrl,
      preparedTemplates: options.preparedTemplates,
      font: options.font,
    }),
  };
  const dispatchParts = options.dispatch
    ? dispatchSetup({
        ...options.dispatch,
        notifier: options.dispatch.notifier ?? createMemoryNotifier(),
        identityVerifier: options.identityVerifier,
        hashKey: options.hashKey,
      })
    : undefined;
  const builtIn = [...templateWorkflows(), ...signingWorkflows(environment), ...(dispatchParts?.workflows ?? [])];
  const runtime = createRuntime({
    ...options.runtimeOptions,
    persistence,
    workflows: options.workflows ? options.workflows(builtIn) : builtIn,
    clock,
    scheduler,
    logger,
    ...defined({ auditKeys: options.auditKeys }),
  });
  const templates = createTemplateService({
    runtime,
    documents,
    approvalLevels: options.approvalLevels ?? [{ name: 'approval', roles: ['template-approver'] }],
    ...defined({ editorRole: options.editorRole, approvalDeadlineMs: options.approvalDeadlineMs }),
  });
  let signing: SigningService;
  try {
    signing = createSigningService({
      ...environment,
      runtime,
      templates,
      identityVerifier: options.identityVerifier,
      scheduler,
      ...defined({
        routing: options.routing,
        scenes: options.scenes,
        templateCodes: options.templateCodes,
        deadlineMs: options.deadlineMs,
        polling: options.polling,
        evidenceNotary: options.evidenceNotary,
        evidenceTimestampAuthority: options.evidenceTimestampAuthority,
      }),
    });
  } catch (error) {
    templates.close();
    throw error;
  }
  let dispatch: Dispatch | undefined;
  try {
    dispatch = dispatchParts?.connect(runtime, signing);
  } catch (error) {
    signing.close();
    templates.close();
    throw error;
  }
  const events = createEvents(runtime);
  // Before the worker starts, so no event is handed out while the relay is not listening.
  const webhooks = relayOf(options, runtime, scheduler, () => {
    signing.close();
    templates.close();
  });
  if (options.start ?? true) {
    runtime.startWorker(options.worker);
    webhooks?.start(options.webhooks?.loop);
  }

  let closing: Promise<void> | undefined;
  return {
    templates,
    signing,
    runtime,
    events,
    persistence,
    documents,
    webhooks,
    dispatch,
    close() {
      closing ??= (async () => {
        // Waiters and subscribers first (nothing new starts), then the worker's current pass, then the database.
        signing.close();
        templates.close();
        events.clear();
        await runtime.stop();
        // After the worker: events it hands out until then are still recorded for delivery.
        await webhooks?.close();
        if (parts.ownsPersistence) await persistence.close();
      })();
      return closing;
    },
  };
}

function relayOf(
  options: SealflowOptions,
  runtime: Runtime,
  scheduler: Scheduler,
  undo: () => void,
): WebhookRelay | undefined {
  if (!options.webhooks) return undefined;
  const { loop: _loop, ...relayOptions } = options.webhooks;
  try {
    return createWebhookRelay({ ...relayOptions, runtime, scheduler });
  } catch (error) {
    undo();
    throw error;
  }
}

/** The entries whose value is not undefined, for options objects under `exactOptionalPropertyTypes`. */
function defined<T extends Record<string, unknown>>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
