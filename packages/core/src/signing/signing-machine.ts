/**
 * The signing workflow as an XState machine on the durable runtime. It is pure: it decides, effects do the I/O
 * (`signing-effects.ts`) and feed their results back as `<effect>.done` / `<effect>.failed` events.
 *
 * ```
 * validating ─(refused)──────────────────────────────────────────────────────────────┐
 *   │                                                                                  │
 * rendering ──► vendorPhase [deadline] ─► closingAtDeadline ─(cancel, then ask)─┬─────► failed
 *                 │                                                              └─(completed)─► acceptingCompletedFlow
 *                 startingVendorFlow ─► routing ─┬─(completed)─► downloading ─► verifying ─► archiving ─► completed
 *                                                ├─(deadline passed meanwhile)─► closingAtDeadline
 *                                                ├─(rejected/expired/…)─► failed
 *                                                ├─(funder due)─► awaitingFunder ─FUNDER_SIGN─► funderSigning ─► routing
 *                                                │                        (refused) ─► confirmingFailure ─► failed | acceptingCompletedFlow
 *                                                └─► awaitingCompletion ─(poll timer | VENDOR_CALLBACK)─► checkingStatus ─► routing
 *
 * startingVendorFlow ─(unavailable, holds no flow, a fallback left)─► startingVendorFlow at the route's next vendor
 * ```
 *
 * Crash safety: every effect's params are computed here from the saved context (the vendor deadline included), so an
 * effect re-run after a crash or a lost response sends exactly the request its first run sent, under the same
 * idempotency key. And no path records FAILED over a vendor flow that completed as asked: the deadline revokes the
 * flow first and then believes the vendor's answer, a refused funder call asks the vendor before failing, and a flow
 * found completed that way passes the same seal rule as in routing (acceptingCompletedFlow).
 *
 * Failover: when the route has a fallback and the vendor was unavailable and confirmed it holds no flow for the
 * signing (`mayFailOver`, decided by the startVendorFlow effect), the move to the next vendor is saved in the context
 * with this transition and only then does startingVendorFlow call that vendor: a re-run replays the saved decision.
 *
 * No PDF bytes live here: effect outputs are stored in the snapshot, so documents travel as DocumentStore file ids and
 * SHA-256 hashes. Personal data lives only in `sealed` (encrypted by the service); the rest of the context is safe to
 * store and audit.
 */
import { and, assign, emit, setup } from 'xstate';
import type { SerializedError } from '../runtime/workflow-definition.js';
import type { SignatureTimestamp, UsedSeal, VendorFlowStatus } from '../ports/signing-vendor.js';
import type { PartySealPlacement, VariablePlacement } from '../templates/model.js';
import type { ReplacementRule } from '../templates/formatters.js';
import { maskText } from '../privacy.js';
import { ownValue } from '../own-property.js';
import type { SigningFailure } from './records.js';
import type { Funding, PartySigning } from './scenes.js';

// ---------------------------------------------------------------------------------------------------------------
// Context

export interface PlannedDocument {
  key: string;
  fileName: string;
  templateCode: string;
  versionId: string;
  version: number;
  templateFileId: string;
  templateSha256: string;
  /** What the renderer fills: each placed variable with its replacement rule. */
  fields: { variable: string; source: string | null; placement: VariablePlacement; rule: ReplacementRule | null }[];
  /** Where each party's seal goes on this document, from the template. */
  seals: { role: string; placement: PartySealPlacement }[];
  /** How many signatures the signed document must carry (one per party placement). */
  expectedSignatures: number;
}

export interface PlannedParty {
  role: string;
  kind: 'person' | 'organization';
  signing: PartySigning;
  order: number;
  /** Organisations signing with a configured seal; null for the person (sealed data) and the funder (request). */
  organization: PlannedOrganization | null;
}

/**
 * An organisation that seals with a configured seal, as planned for one attempt. Seal ids are the vendors' own, so
 * the plan keeps the seal at every vendor of the route; the workflow asks for the one of the vendor the signing is
 * with (see {@link partySealAt}).
 */
export interface PlannedOrganization {
  name: string;
  creditCode: string;
  /** The seal id at the route's first vendor (for workflows planned before seals were kept per vendor, the only one). */
  sealId: string;
  /** The seal id at each vendor of the route, by vendor id. Absent in workflows planned before it was kept. */
  sealIds?: Record<string, string>;
}

export interface FlowView {
  flowId: string;
  status: VendorFlowStatus;
  /** `seal`: what an organisation that signed actually sealed with, as the vendor reports it. */
  signers: { role: string; status: string; seal?: UsedSeal }[];
  reason?: string;
}

export interface RenderedDocument {
  key: string;
  fileId: string;
  sha256: string;
  size: number;
}

export interface SignatureSummary {
  count: number;
  valid: boolean;
  problems: string[];
}

export interface FetchedDocument {
  key: string;
  fileName: string;
  sha256: string;
  size: number;
  /** The signed file starts with the exact rendered bytes: the vendor signed what we rendered. */
  extendsRendered: boolean;
  /** From the host's `verifyPdf`; null when the vendor's output is not PAdES and cannot be checked locally. */
  signatures: SignatureSummary | null;
  /** The RFC 3161 timestamps the vendor reported in the file; absent when it reported none. */
  timestamps?: SignatureTimestamp[];
}

export interface ArchivedDocument {
  key: string;
  fileName: string;
  fileId: string;
  sha256: string;
  size: number;
}

/**
 * The borrower's recorded consent to sign: when, on which channel, from which IP and device, and which document
 * versions were shown.
 */
export interface Consent {
  /** When the customer ticked the box, epoch ms. */
  at: number;
  channel: string;
  ip: string;
  device: string;
  /** Template version ids the customer was shown, e.g. `CREDIT_CONTRACT.v0003`. */
  documentVersionsShown: string[];
}

/** One vendor of a signing's route, with how the workflow works with it. */
export interface RouteLeg {
  vendorId: string;
  /** The vendor's output is PAdES: signatures must verify with the host's `verifyPdf`. */
  verifySignatures: boolean;
  polling: { baseMs: number; maxMs: number };
}

/** A vendor the signing left: it was unavailable and confirmed it holds no flow for the signing. */
export interface VendorUnavailable {
  vendorId: string;
  /** The code of the failure that made the signing move on, such as `VENDOR_UNAVAILABLE`. */
  code: string;
  /** What failed, masked. */
  message: string;
  /** When the vendor confirmed it holds no flow, epoch ms. */
  at: number;
}

/** The funder assigned to a signing. */
export interface FunderRef {
  id: string;
  name: string;
  creditCode: string;
}

export interface SigningInput {
  recordId: string;
  businessNo: string;
  scene: string;
  sceneName: string;
  attempt: number;
  previousAttemptId: string | null;
  funding: Funding;
  funder: FunderRef | null;
  /** The vendor the signing is with: the route's first, or the fallback it moved to. */
  vendorId: string;
  /** The vendor's output is PAdES: signatures must verify with the host's `verifyPdf`. */
  verifySignatures: boolean;
  /**
   * The vendors the signing may use, in order of preference: the first, then the fallbacks. Absent in workflows
   * started before routes had fallbacks (they have none).
   */
  route?: RouteLeg[];
  deadlineMs: number;
  polling: { baseMs: number; maxMs: number };
  /** The signing day in China, YYYY-MM-DD: the same in validation and rendering. */
  signingDate: string;
  requestedBy: string;
  requestedAt: number;
  customer: { maskedName: string; maskedIdNumber: string; idNumberHash: string };
  /** Keyed hash of the request's content: a second `sign` with different content is refused. */
  requestFingerprint: string;
  consent: Consent;
  identityCheck: { method: string | null; verifiedAt: number | null } | null;
  /** The borrower and the values, encrypted: the only personal data the workflow holds. */
  sealed: string;
  documents: PlannedDocument[];
  parties: PlannedParty[];
  /** Why validation refused the request; null when it passed. */
  refusal: SigningFailure | null;
}

export interface SigningContext extends SigningInput {
  /**
   * When the vendor flow expires, epoch ms: `requestedAt + deadlineMs`, fixed when the workflow starts. It goes into
   * `createFlow`, so a re-run of that call after a crash or a lost response sends the vendor the very same request.
   */
  deadlineAt: number;
  /** The deadline passed while the vendor flow was being created: close it as soon as its id is known. */
  deadlinePassed: boolean;
  rendered: RenderedDocument[] | null;
  /**
   * When rendering finished, epoch ms (from the effect's output, so a replay sees the same instant). The deadline
   * timer runs from here to `deadlineAt`: a signing that waited in a queue keeps the deadline the vendor is sent.
   * Absent in snapshots saved before it was kept; their timer runs `deadlineMs` from the vendor phase's start.
   */
  renderedAt?: number | null;
  flow: FlowView | null;
  pollAttempt: number;
  funderSignature: { actorId: string; funderId: string; sealId: string; at: number } | null;
  fetched: FetchedDocument[] | null;
  archived: ArchivedDocument[] | null;
  failure: SigningFailure | null;
  /**
   * The vendors the signing left, in order: each was unavailable and confirmed it holds no flow for the signing.
   * Saved with the move to the next vendor, before that vendor is called. Absent in older workflows.
   */
  vendorAttempts?: VendorUnavailable[];
  /** The route's first vendor, once the signing has moved to a fallback; else null (absent in older workflows). */
  failedOverFrom?: string | null;
}

// ---------------------------------------------------------------------------------------------------------------
// Effect parameters (what the outbox stores for each effect)

export interface RenderParams {
  recordId: string;
  businessNo: string;
  signingDate: string;
  sealed: string;
  funder: FunderRef | null;
  documents: PlannedDocument[];
}

export interface StartFlowParams {
  recordId: string;
  businessNo: string;
  title: string;
  vendorId: string;
  sealed: string;
  funder: FunderRef | null;
  /** From the context, never from the clock when the effect runs: a re-run must send the same request. */
  deadlineAt: number;
  /**
   * The vendor the signing moves to if this one is unavailable and holds no flow for it; null (or absent, in older
   * outbox rows) when the route has no vendor left, and a failure is then reported as it always was.
   */
  fallbackVendorId?: string | null;
  documents: PlannedDocument[];
  rendered: RenderedDocument[];
  parties: PlannedParty[];
}

export interface FlowParams {
  vendorId: string;
  flowId: string;
  /** To mask the customer's name in a vendor's free-text reason. */
  sealed?: string;
  /** Why a flow is revoked (told to the vendor); the deadline when absent. */
  cancelReason?: string;
}

export interface FunderSignParams extends FlowParams {
  funder: FunderRef;
  sealId: string;
  order: number;
  role: string;
  documents: PlannedDocument[];
}

export interface FetchParams extends FlowParams {
  documents: PlannedDocument[];
  rendered: RenderedDocument[];
  verifySignatures: boolean;
}

export interface ArchiveParams extends FlowParams {
  recordId: string;
  businessNo: string;
  scene: string;
  fetched: FetchedDocument[];
}

// ---------------------------------------------------------------------------------------------------------------
// Events

type Failed<T extends string> = { type: `${T}.failed`; error: SerializedError };

export type SigningEvent =
  | { type: 'renderDocuments.done'; output: { documents: RenderedDocument[]; renderedAt?: number } }
  | Failed<'renderDocuments'>
  | { type: 'startVendorFlow.done'; output: FlowView }
  /** The vendor was unavailable and holds no flow for the signing: the signing may move to its fallback. */
  | { type: 'startVendorFlow.unavailable'; output: VendorUnavailable }
  | Failed<'startVendorFlow'>
  | { type: 'pollVendorFlow.done'; output: FlowView }
  | Failed<'pollVendorFlow'>
  | { type: 'appendFunderSigner.done'; output: FlowView }
  | Failed<'appendFunderSigner'>
  | { type: 'fetchSigned.done'; output: { documents: FetchedDocument[] } }
  | Failed<'fetchSigned'>
  | { type: 'archiveSigned.done'; output: { documents: ArchivedDocument[] } }
  | Failed<'archiveSigned'>
  | { type: 'cancelVendorFlow.done'; output: FlowView }
  | Failed<'cancelVendorFlow'>
  /** A verified, not yet seen vendor callback: a hint to check the flow now. */
  | { type: 'VENDOR_CALLBACK'; eventId: string; kind: string }
  /** The assigned funder's own signing call. */
  | { type: 'FUNDER_SIGN'; funderId: string; actorId: string; sealId: string; at: number };

// ---------------------------------------------------------------------------------------------------------------
// Domain events (emitted through the outbox with stable ids)

/** What every signing domain event carries: the record, the business number, the scene and the attempt. */
export interface SigningEventBase {
  recordId: string;
  businessNo: string;
  scene: string;
  attempt: number;
}

/** The domain events of a signing, delivered through {@link Runtime.onEvent} (see {@link isSigningEvent}). */
export type SigningDomainEvent =
  | (SigningEventBase & { type: 'signing.started'; templates: { documentKey: string; versionId: string }[] })
  | (SigningEventBase & { type: 'signing.documents-rendered'; documents: { documentKey: string; sha256: string }[] })
  | (SigningEventBase & { type: 'signing.vendor-flow-started'; vendorId: string; flowId: string })
  | (SigningEventBase & {
      type: 'signing.vendor-failed-over';
      /** The vendor the signing left, with the code of its failure. */
      fromVendorId: string;
      code: string;
      /** The vendor the signing moved to. */
      toVendorId: string;
    })
  | (SigningEventBase & { type: 'signing.awaiting-funder'; funderId: string })
  | (SigningEventBase & { type: 'signing.funder-signing'; funderId: string })
  | (SigningEventBase & { type: 'signing.vendor-completed'; vendorId: string; flowId: string })
  | (SigningEventBase & {
      type: 'signing.completed';
      documents: { documentKey: string; fileId: string; sha256: string }[];
    })
  | (SigningEventBase & { type: 'signing.failed'; failure: SigningFailure });

/** The `type` of a {@link SigningDomainEvent}. */
export type SigningDomainEventType = SigningDomainEvent['type'];

/** Every signing domain event type. */
export const SIGNING_EVENT_TYPES: readonly SigningDomainEventType[] = [
  'signing.started',
  'signing.documents-rendered',
  'signing.vendor-flow-started',
  'signing.vendor-failed-over',
  'signing.awaiting-funder',
  'signing.funder-signing',
  'signing.vendor-completed',
  'signing.completed',
  'signing.failed',
];

const base = (context: SigningContext): SigningEventBase => ({
  recordId: context.recordId,
  businessNo: context.businessNo,
  scene: context.scene,
  attempt: context.attempt,
});

// ---------------------------------------------------------------------------------------------------------------
// Failures a person can act on

const ADVICE: Record<string, string> = {
  rendering:
    'Check the template and the values (a value too long for its field, a character the font lacks), then re-sign.',
  startingVendorFlow: 'Check the vendor configuration (seals, capabilities) and the rendered documents, then re-sign.',
  checkingStatus: 'Check the flow at the vendor, then re-sign.',
  funderSigning: "Check the funder's seal id with the funder, then re-sign.",
  downloading: 'The vendor did not hand over the signed documents; check the flow at the vendor, then re-sign.',
  verifying: 'The signed documents were not accepted and nothing was archived; raise it with the vendor, then re-sign.',
  archiving: 'Nothing was archived; check the document store and the vendor, then re-sign.',
  vendorPhase: 'The vendor flow was cancelled; re-sign when the customer is ready.',
};

/** The vendor flow a step acts on, with what masks the customer's name in the vendor's free-text reasons. */
function flowParams(context: SigningContext): FlowParams {
  return { vendorId: context.vendorId, flowId: context.flow?.flowId ?? '', sealed: context.sealed };
}

export function failureOf(stage: string, code: string, message: string): SigningFailure {
  const advice = ADVICE[stage];
  return { code, stage, message: maskText(advice ? `${message} ${advice}` : message) };
}

/** The named action every `<effect>.failed` transition runs, with the stage that failed. */
const failedAt = (stage: string) => ({ type: 'recordFailure' as const, params: { stage } });

function flowEndedFailure(flow: FlowView | null): SigningFailure {
  const status = flow?.status ?? 'failed';
  const code =
    status === 'expired' ? 'VENDOR_FLOW_EXPIRED' : status === 'rejected' ? 'VENDOR_FLOW_REJECTED' : 'VENDOR_FLOW_ENDED';
  return failureOf(
    'checkingStatus',
    code,
    `The vendor flow ${flow?.flowId ?? ''} ended ${status}${flow?.reason ? `: ${flow.reason}` : ''}.`,
  );
}

const FLOW_ENDED: readonly VendorFlowStatus[] = ['rejected', 'revoked', 'expired', 'failed'];

// ---------------------------------------------------------------------------------------------------------------
// The machine

export const signingMachine = setup({
  types: {
    context: {} as SigningContext,
    input: {} as SigningInput,
    events: {} as SigningEvent,
    emitted: {} as SigningDomainEvent,
  },
  // Effects: declared as no-ops; the runtime turns them into outbox rows and a worker runs them.
  actions: {
    recordFailure: assign(({ event }, params: { stage: string }) => ({
      failure:
        'error' in event
          ? failureOf(params.stage, event.error.code, event.error.message)
          : failureOf(params.stage, 'UNKNOWN', `Unexpected ${event.type}.`),
    })),
    renderDocuments: (_, _params: RenderParams) => {},
    startVendorFlow: (_, _params: StartFlowParams) => {},
    pollVendorFlow: (_, _params: FlowParams) => {},
    appendFunderSigner: (_, _params: FunderSignParams) => {},
    fetchSigned: (_, _params: FetchParams) => {},
    archiveSigned: (_, _params: ArchiveParams) => {},
    cancelVendorFlow: (_, _params: FlowParams) => {},
    /** Keep the vendor the signing leaves, with why and when: the record lists every vendor tried. */
    recordUnavailable: assign(({ context, event }) =>
      event.type === 'startVendorFlow.unavailable'
        ? { vendorAttempts: [...(context.vendorAttempts ?? []), event.output] }
        : {},
    ),
    /**
     * Move the signing to the route's next vendor. Saved with this transition, before the next vendor's flow is
     * started (the entry of startingVendorFlow reads it from here), so a crash or a retry never decides again.
     */
    failOver: assign(({ context }) => {
      const next = nextLeg(context);
      if (!next) return {};
      return {
        vendorId: next.vendorId,
        verifySignatures: next.verifySignatures,
        polling: next.polling,
        failedOverFrom: context.failedOverFrom ?? context.vendorId,
      };
    }),
  },
  delays: {
    deadline: ({ context }) =>
      typeof context.renderedAt === 'number'
        ? Math.max(0, vendorDeadlineAt(context) - context.renderedAt)
        : context.deadlineMs,
    /** Backoff: base, 2×base, 4×base … up to max. */
    pollDelay: ({ context }) => Math.min(context.polling.maxMs, context.polling.baseMs * 2 ** context.pollAttempt),
  },
  guards: {
    refusedAtValidation: ({ context }) => context.refusal !== null,
    flowCompleted: ({ context }) => context.flow?.status === 'completed',
    flowEnded: ({ context }) => context.flow !== null && FLOW_ENDED.includes(context.flow.status),
    hasFlow: ({ context }) => context.flow !== null,
    /** The route has a vendor after the current one (else the effect reports unavailability only when it gives up). */
    fallbackRemains: ({ context }) => nextLeg(context) !== null,
    deadlinePassed: ({ context }) => context.deadlinePassed,
    /** The deadline came while the documents were being rendered (the request waited in a queue): no vendor call. */
    deadlinePassedWhileRendering: ({ context, event }) =>
      event.type === 'renderDocuments.done' &&
      typeof event.output.renderedAt === 'number' &&
      event.output.renderedAt >= vendorDeadlineAt(context),
    /** What the vendor answered after the cancel: only a completed flow survives the deadline. */
    closedFlowCompleted: ({ event }) => event.type === 'cancelVendorFlow.done' && event.output.status === 'completed',
    polledFlowCompleted: ({ event }) => event.type === 'pollVendorFlow.done' && event.output.status === 'completed',
    /** An organisation signed with another seal than the one it was asked to sign with. */
    sealNotAsAsked: ({ context }) => sealsNotAsAsked(context).length > 0,
    flowOpen: ({ context }) => context.flow?.status === 'signing' || context.flow?.status === 'draft',
    /** Every other signer has signed and the funder (an ownCall party) is due. */
    funderDue: ({ context }) => {
      const own = context.parties.find((p) => p.signing === 'ownCall');
      if (!own || !context.flow || context.flow.status !== 'signing') return false;
      const signers = context.flow.signers;
      return (
        signers.some((s) => s.role === own.role && s.status !== 'signed') &&
        signers.filter((s) => s.role !== own.role).every((s) => s.status === 'signed')
      );
    },
    assignedFunder: ({ context, event }) => event.type === 'FUNDER_SIGN' && event.funderId === context.funder?.id,
    signedSetIncomplete: ({ context }) => {
      const keys = new Set((context.fetched ?? []).map((d) => d.key));
      return context.documents.some((d) => !keys.has(d.key)) || keys.size !== context.documents.length;
    },
    signedNotFromRendered: ({ context }) => (context.fetched ?? []).some((d) => !d.extendsRendered),
    signaturesDoNotVerify: ({ context }) =>
      context.verifySignatures &&
      (context.fetched ?? []).some((d) => {
        const expected = context.documents.find((p) => p.key === d.key)?.expectedSignatures ?? 1;
        return d.signatures === null || !d.signatures.valid || d.signatures.count < expected;
      }),
  },
}).createMachine({
  id: 'signing',
  initial: 'validating',
  context: ({ input }) => ({
    ...input,
    deadlineAt: input.requestedAt + input.deadlineMs,
    deadlinePassed: false,
    rendered: null,
    renderedAt: null,
    flow: null,
    pollAttempt: 0,
    funderSignature: null,
    fetched: null,
    archived: null,
    failure: null,
    vendorAttempts: [],
    failedOverFrom: null,
  }),
  states: {
    // The service validated before starting (so the caller gets the typed error at once); the outcome decides here.
    validating: {
      always: [
        {
          guard: 'refusedAtValidation',
          target: 'failed',
          actions: assign({ failure: ({ context }) => context.refusal }),
        },
        { target: 'rendering' },
      ],
    },
    rendering: {
      entry: [
        emit(({ context }) => ({
          type: 'signing.started' as const,
          ...base(context),
          templates: context.documents.map((d) => ({ documentKey: d.key, versionId: d.versionId })),
        })),
        {
          type: 'renderDocuments',
          params: ({ context }) => ({
            recordId: context.recordId,
            businessNo: context.businessNo,
            signingDate: context.signingDate,
            sealed: context.sealed,
            funder: context.funder,
            documents: context.documents,
          }),
        },
      ],
      on: {
        'renderDocuments.done': [
          {
            guard: 'deadlinePassedWhileRendering',
            target: 'failed',
            actions: assign({ failure: ({ context }) => deadlineBeforeVendorFailure(context) }),
          },
          {
            target: 'vendorPhase',
            actions: [
              assign({
                rendered: ({ event }) => event.output.documents,
                renderedAt: ({ event }) => event.output.renderedAt ?? null,
              }),
              emit(({ context, event }) => ({
                type: 'signing.documents-rendered' as const,
                ...base(context),
                documents: event.output.documents.map((d) => ({ documentKey: d.key, sha256: d.sha256 })),
              })),
            ],
          },
        ],
        'renderDocuments.failed': { target: 'failed', actions: failedAt('rendering') },
      },
    },
    vendorPhase: {
      initial: 'startingVendorFlow',
      after: {
        // Failing here without asking the vendor could hide a flow that completed meanwhile, and a re-sign would then
        // make a second contract: close the flow first and fail only if the vendor says it did not complete.
        deadline: [
          { guard: 'hasFlow', target: 'closingAtDeadline' },
          // The flow is still being created and its id is unknown: wait for it (see routing), never abandon it.
          { actions: assign({ deadlinePassed: true }) },
        ],
      },
      states: {
        startingVendorFlow: {
          entry: {
            type: 'startVendorFlow',
            params: ({ context }) => ({
              recordId: context.recordId,
              businessNo: context.businessNo,
              title: `${context.sceneName} ${context.businessNo}`.slice(0, 100),
              vendorId: context.vendorId,
              sealed: context.sealed,
              funder: context.funder,
              deadlineAt: vendorDeadlineAt(context),
              fallbackVendorId: nextLeg(context)?.vendorId ?? null,
              documents: context.documents,
              rendered: context.rendered ?? [],
              // Each organisation's seal at this vendor, from the plan: a failover sends the fallback its own seal id.
              parties: partiesAt(context),
            }),
          },
          on: {
            'startVendorFlow.done': {
              target: 'routing',
              actions: [
                assign({ flow: ({ event }) => event.output }),
                emit(({ context, event }) => ({
                  type: 'signing.vendor-flow-started' as const,
                  ...base(context),
                  vendorId: context.vendorId,
                  flowId: event.output.flowId,
                })),
              ],
            },
            'startVendorFlow.unavailable': [
              {
                // Too late to start over at another vendor: the signing fails as any other past its deadline.
                guard: 'deadlinePassed',
                target: '#signing.failed',
                actions: ['recordUnavailable', assign({ failure: ({ context }) => deadlineFailure(context) })],
              },
              {
                guard: 'fallbackRemains',
                target: 'startingVendorFlow',
                reenter: true,
                actions: [
                  emit(({ context, event }) => ({
                    type: 'signing.vendor-failed-over' as const,
                    ...base(context),
                    fromVendorId: event.output.vendorId,
                    code: event.output.code,
                    toVendorId: nextLeg(context)?.vendorId ?? '',
                  })),
                  'recordUnavailable',
                  'failOver',
                ],
              },
              {
                target: '#signing.failed',
                actions: [
                  'recordUnavailable',
                  assign({
                    failure: ({ event }) => failureOf('startingVendorFlow', event.output.code, event.output.message),
                  }),
                ],
              },
            ],
            'startVendorFlow.failed': { target: '#signing.failed', actions: failedAt('startingVendorFlow') },
          },
        },
        routing: {
          always: [
            {
              guard: and(['sealNotAsAsked', 'flowOpen']),
              target: '#signing.failed',
              actions: [
                assign({ failure: ({ context }) => sealFailure(context) }),
                {
                  type: 'cancelVendorFlow',
                  params: ({ context }) => ({
                    ...flowParams(context),
                    cancelReason: 'a signer used a seal that was not asked for',
                  }),
                },
              ],
            },
            {
              guard: 'sealNotAsAsked',
              target: '#signing.failed',
              actions: assign({ failure: ({ context }) => sealFailure(context) }),
            },
            { guard: 'flowCompleted', target: '#signing.downloading' },
            { guard: 'deadlinePassed', target: '#signing.closingAtDeadline' },
            {
              guard: 'flowEnded',
              target: '#signing.failed',
              actions: assign({ failure: ({ context }) => flowEndedFailure(context.flow) }),
            },
            { guard: 'funderDue', target: 'awaitingFunder' },
            { target: 'awaitingCompletion' },
          ],
        },
        awaitingCompletion: {
          after: { pollDelay: 'checkingStatus' },
          on: { VENDOR_CALLBACK: 'checkingStatus' },
        },
        checkingStatus: {
          entry: {
            type: 'pollVendorFlow',
            params: ({ context }) => flowParams(context),
          },
          on: {
            'pollVendorFlow.done': {
              target: 'routing',
              actions: assign({
                flow: ({ event }) => event.output,
                pollAttempt: ({ context }) => context.pollAttempt + 1,
              }),
            },
            'pollVendorFlow.failed': { target: '#signing.failed', actions: failedAt('checkingStatus') },
          },
        },
        awaitingFunder: {
          entry: emit(({ context }) => ({
            type: 'signing.awaiting-funder' as const,
            ...base(context),
            funderId: context.funder?.id ?? '',
          })),
          on: {
            FUNDER_SIGN: {
              guard: 'assignedFunder',
              target: 'funderSigning',
              actions: [
                assign({
                  funderSignature: ({ event }) => ({
                    actorId: event.actorId,
                    funderId: event.funderId,
                    sealId: event.sealId,
                    at: event.at,
                  }),
                }),
                emit(({ context, event }) => ({
                  type: 'signing.funder-signing' as const,
                  ...base(context),
                  funderId: event.funderId,
                })),
              ],
            },
          },
        },
        funderSigning: {
          entry: {
            type: 'appendFunderSigner',
            params: ({ context }) => {
              const own = context.parties.find((p) => p.signing === 'ownCall');
              return {
                ...flowParams(context),
                funder: context.funder as FunderRef,
                sealId: context.funderSignature?.sealId ?? '',
                role: own?.role ?? 'funder',
                order: own?.order ?? 2,
                documents: context.documents,
              };
            },
          },
          on: {
            'appendFunderSigner.done': { target: 'routing', actions: assign({ flow: ({ event }) => event.output }) },
            // The funder's call may have been refused after the vendor completed the flow (a lost response, a retry):
            // ask the vendor before recording a failure.
            'appendFunderSigner.failed': { target: 'confirmingFailure', actions: failedAt('funderSigning') },
          },
        },
        /** A step failed while the flow exists: a FAILED record must never hide a flow the vendor completed. */
        confirmingFailure: {
          entry: {
            type: 'pollVendorFlow',
            params: ({ context }) => flowParams(context),
          },
          on: {
            'pollVendorFlow.done': [
              {
                guard: 'polledFlowCompleted',
                target: '#signing.acceptingCompletedFlow',
                actions: assign({ flow: ({ event }) => event.output, failure: null }),
              },
              { target: '#signing.failed', actions: assign({ flow: ({ event }) => event.output }) },
            ],
            'pollVendorFlow.failed': '#signing.failed',
          },
        },
      },
    },
    /** A flow found completed outside routing (at the deadline, after a refusal) passes the same seal rule. */
    acceptingCompletedFlow: {
      always: [
        {
          guard: 'sealNotAsAsked',
          target: 'failed',
          actions: assign({ failure: ({ context }) => sealFailure(context) }),
        },
        { target: 'downloading' },
      ],
    },
    /** The deadline passed with a vendor flow open: revoke it, then believe only what the vendor says it is now. */
    closingAtDeadline: {
      entry: {
        type: 'cancelVendorFlow',
        params: ({ context }) => flowParams(context),
      },
      on: {
        'cancelVendorFlow.done': [
          {
            guard: 'closedFlowCompleted',
            target: 'acceptingCompletedFlow',
            actions: assign({ flow: ({ event }) => event.output }),
          },
          {
            target: 'failed',
            actions: [
              assign({ flow: ({ event }) => event.output }),
              assign({ failure: ({ context }) => deadlineFailure(context) }),
            ],
          },
        ],
        'cancelVendorFlow.failed': {
          target: 'failed',
          actions: assign({ failure: ({ context, event }) => deadlineFailure(context, event.error.message) }),
        },
      },
    },
    downloading: {
      entry: [
        emit(({ context }) => ({
          type: 'signing.vendor-completed' as const,
          ...base(context),
          vendorId: context.vendorId,
          flowId: context.flow?.flowId ?? '',
        })),
        {
          type: 'fetchSigned',
          params: ({ context }) => ({
            vendorId: context.vendorId,
            flowId: context.flow?.flowId ?? '',
            documents: context.documents,
            rendered: context.rendered ?? [],
            verifySignatures: context.verifySignatures,
          }),
        },
      ],
      on: {
        'fetchSigned.done': {
          target: 'verifying',
          actions: assign({ fetched: ({ event }) => event.output.documents }),
        },
        'fetchSigned.failed': { target: 'failed', actions: failedAt('downloading') },
      },
    },
    // The rules that decide whether signed output may be archived, as named guards over what fetchSigned measured.
    verifying: {
      always: [
        {
          guard: 'signedSetIncomplete',
          target: 'failed',
          actions: assign({
            failure: () =>
              failureOf(
                'verifying',
                'SIGNED_DOCUMENTS_INCOMPLETE',
                'The vendor returned a different set of documents than was signed: the bundle is signed together or not at all.',
              ),
          }),
        },
        {
          guard: 'signedNotFromRendered',
          target: 'failed',
          actions: assign({
            failure: ({ context }) =>
              failureOf(
                'verifying',
                'SIGNED_DOCUMENT_MISMATCH',
                `The vendor returned ${(context.fetched ?? [])
                  .filter((d) => !d.extendsRendered)
                  .map((d) => d.key)
                  .join(
                    ', ',
                  )} that is not the rendered document with signatures added: its hash does not match what was rendered.`,
              ),
          }),
        },
        {
          guard: 'signaturesDoNotVerify',
          target: 'failed',
          actions: assign({
            failure: ({ context }) =>
              failureOf(
                'verifying',
                'SIGNATURE_INVALID',
                `Signatures do not verify: ${(context.fetched ?? [])
                  .map(
                    (d) =>
                      `${d.key}: ${d.signatures ? `${d.signatures.count} signature(s)${d.signatures.problems.length ? ` (${d.signatures.problems.slice(0, 3).join('; ')})` : ''}` : 'not checked'}`,
                  )
                  .join('; ')}.`,
              ),
          }),
        },
        { target: 'archiving' },
      ],
    },
    archiving: {
      entry: {
        type: 'archiveSigned',
        params: ({ context }) => ({
          vendorId: context.vendorId,
          flowId: context.flow?.flowId ?? '',
          recordId: context.recordId,
          businessNo: context.businessNo,
          scene: context.scene,
          fetched: context.fetched ?? [],
        }),
      },
      on: {
        'archiveSigned.done': {
          target: 'completed',
          actions: assign({ archived: ({ event }) => event.output.documents }),
        },
        'archiveSigned.failed': { target: 'failed', actions: failedAt('archiving') },
      },
    },
    completed: {
      type: 'final',
      entry: emit(({ context }) => ({
        type: 'signing.completed' as const,
        ...base(context),
        documents: (context.archived ?? []).map((d) => ({ documentKey: d.key, fileId: d.fileId, sha256: d.sha256 })),
      })),
    },
    failed: {
      type: 'final',
      entry: emit(({ context }) => ({
        type: 'signing.failed' as const,
        ...base(context),
        failure: context.failure ?? failureOf('unknown', 'UNKNOWN', 'The signing failed.'),
      })),
    },
  },
});

/** The seal id an organisation was planned to sign with at a vendor: its seal there, else its only one. */
export function partySealAt(organization: PlannedOrganization, vendorId: string): string {
  return ownValue<string>(organization.sealIds, vendorId) ?? organization.sealId;
}

/** The parties as the vendor the signing is with gets them: each organisation with its seal at that vendor. */
function partiesAt(context: SigningContext): PlannedParty[] {
  return context.parties.map((party) =>
    party.organization
      ? {
          ...party,
          organization: {
            name: party.organization.name,
            creditCode: party.organization.creditCode,
            sealId: partySealAt(party.organization, context.vendorId),
          },
        }
      : party,
  );
}

/**
 * The seal each organisation party was asked to sign with at the vendor the signing is with: its configured
 * auto-seal at that vendor, or the funder's chosen seal.
 */
export function sealsAsked(context: SigningContext): Map<string, string> {
  const asked = new Map<string, string>();
  for (const party of context.parties) {
    if (party.organization) asked.set(party.role, partySealAt(party.organization, context.vendorId));
    else if (party.signing === 'ownCall' && context.funderSignature)
      asked.set(party.role, context.funderSignature.sealId);
  }
  return asked;
}

/** Signers whose reported seal differs from the one asked, or who sealed without being asked for a seal yet. */
function sealsNotAsAsked(context: SigningContext): { role: string; asked: string | null; used: string }[] {
  const asked = sealsAsked(context);
  const organizations = new Set(context.parties.filter((p) => p.kind === 'organization').map((p) => p.role));
  return (context.flow?.signers ?? []).flatMap((signer) => {
    if (!signer.seal || !organizations.has(signer.role)) return [];
    const expected = asked.get(signer.role) ?? null;
    return expected === signer.seal.sealId ? [] : [{ role: signer.role, asked: expected, used: signer.seal.sealId }];
  });
}

function sealFailure(context: SigningContext): SigningFailure {
  const wrong = sealsNotAsAsked(context)
    .map((w) => `${w.role} sealed with "${w.used}"${w.asked ? ` instead of "${w.asked}"` : ' before it was asked to'}`)
    .join('; ');
  return failureOf(
    'checkingStatus',
    'SEAL_NOT_AS_ASKED',
    `The vendor reports that ${wrong}; the signed documents are not accepted. Check the seal configuration at the vendor.`,
  );
}

function deadlineFailure(context: SigningContext, closeProblem?: string): SigningFailure {
  const minutes = Math.round(context.deadlineMs / 60_000);
  return failureOf(
    'vendorPhase',
    'SIGNING_DEADLINE_PASSED',
    `The vendor flow did not complete within ${minutes} minute(s)${context.flow ? ` (flow ${context.flow.flowId}, ${context.flow.status})` : ''}.` +
      (closeProblem ? ` Closing it at the vendor failed: ${closeProblem}` : ''),
  );
}

function deadlineBeforeVendorFailure(context: SigningContext): SigningFailure {
  const minutes = Math.round(context.deadlineMs / 60_000);
  // Not failureOf: its advice for the rendering stage (check the template and values) would mislead here.
  return {
    code: 'SIGNING_DEADLINE_PASSED',
    stage: 'rendering',
    message:
      `The signing's deadline (${minutes} minute(s) from the request) passed before its documents were rendered; ` +
      'nothing was sent to the vendor. If requests wait in a queue this long, add workers or raise deadlineMs, then ' +
      're-sign.',
  };
}

/** The vendor after the current one on the signing's route; null when there is none (or no route was saved). */
export function nextLeg(context: Pick<SigningInput, 'route' | 'vendorId'>): RouteLeg | null {
  const route = context.route ?? [];
  const at = route.findIndex((leg) => leg.vendorId === context.vendorId);
  return at < 0 ? null : (route[at + 1] ?? null);
}

/** Snapshots saved before `deadlineAt` was kept in the context derive it from the same saved facts. */
function vendorDeadlineAt(context: SigningContext): number {
  return context.deadlineAt ?? context.requestedAt + context.deadlineMs;
}
