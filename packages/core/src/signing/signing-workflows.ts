/**
 * The signing workflow as the runtime runs it: its definition (machine + effects) and the projection that keeps the
 * signing record and its evidence chain in step with every transition, in the transition's own transaction.
 */
import { ValidationError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import type { ChainKeyring } from '../runtime/audit-chain.js';
import type { DomainEvent, WorkflowState } from '../runtime/runtime.js';
import { defineWorkflow, type WorkflowDefinition } from '../runtime/workflow-definition.js';
import { parsedFont } from '../pdf/renderer.js';
import { customerKeys } from './customer-data.js';
import { appendEvidence, evidenceEntries, evidenceKeyring } from './evidence.js';
import { type RecordVendorAttempt, type SigningRecord, signingRecordRepository, statusForState } from './records.js';
import { sealRegistry } from './seals.js';
import { signingEffects } from './signing-effects.js';
import {
  failureOf,
  SIGNING_EVENT_TYPES,
  type SigningContext,
  type SigningDomainEvent,
  signingMachine,
} from './signing-machine.js';
import type { SigningEnvironment } from './signing-options.js';

/** True for a domain event emitted by a signing workflow. */
export function isSigningEvent(event: DomainEvent): event is DomainEvent & { payload: SigningDomainEvent } {
  return (SIGNING_EVENT_TYPES as readonly string[]).includes(event.type);
}

/** The workflow type of signings. */
export const SIGNING_WORKFLOW = 'signing';

/** The workflow definitions to register in the runtime, with the same environment the service gets. */
export function signingWorkflows(environment: SigningEnvironment): WorkflowDefinition[] {
  const keys = customerKeys(environment.hashKey);
  const keyring = evidenceKeyring(environment);
  const { problems } = sealRegistry(environment.organizations ?? {}, environment.seals);
  if (problems.length) {
    throw new ValidationError(`The signing seals are misconfigured: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const { preparedTemplates } = environment;
  if (preparedTemplates !== undefined && !(Number.isSafeInteger(preparedTemplates) && preparedTemplates >= 1)) {
    throw new ValidationError('preparedTemplates must be a whole number of at least 1 (the default is 32).', {
      details: { path: 'preparedTemplates' },
    });
  }
  // A font that cannot be used is a configuration error at start-up, not a failed signing hours later.
  if (environment.font !== undefined) checkFont(environment.font);
  return [
    defineWorkflow({
      id: SIGNING_WORKFLOW,
      version: 1,
      machine: signingMachine,
      effects: signingEffects({
        vendors: environment.vendors,
        documents: environment.documents,
        keys,
        organizations: environment.organizations ?? {},
        ...(environment.verifyPdf ? { verifyPdf: environment.verifyPdf } : {}),
        ...(environment.callbackUrl ? { callbackUrl: environment.callbackUrl } : {}),
        ...(preparedTemplates !== undefined ? { preparedTemplates } : {}),
        ...(environment.font !== undefined ? { font: environment.font } : {}),
      }),
      onTransition: (tx, state) => projectSigning(tx, state, keyring),
    }),
  ];
}

/** Failure stages at which no vendor had been called yet. */
const BEFORE_VENDOR: readonly string[] = ['validating', 'rendering'];

/**
 * The vendors tried, in order: the ones the workflow left, then the current one with its outcome. Times come from
 * saved facts only: the effect's confirmation for a vendor left, the transition that changed the current outcome.
 */
function vendorAttempts(
  context: SigningContext,
  status: SigningRecord['status'],
  at: number,
  previous: SigningRecord | null,
): RecordVendorAttempt[] {
  const left: RecordVendorAttempt[] = (context.vendorAttempts ?? []).map((a) => ({
    vendorId: a.vendorId,
    outcome: 'unavailable',
    code: a.code,
    at: a.at,
  }));
  // A signing that failed on the unavailability of its last vendor has no vendor beyond the ones it left, and one
  // refused or failed before the vendor phase never sent anything to a vendor.
  if (left.at(-1)?.vendorId === context.vendorId) return left;
  if (status === 'PENDING' || BEFORE_VENDOR.includes(context.failure?.stage ?? '')) return left;
  const outcome = status === 'COMPLETED' ? 'signed' : status === 'FAILED' ? 'failed' : 'current';
  const code = status === 'FAILED' ? (context.failure?.code ?? 'UNKNOWN') : null;
  const before = previous?.vendorAttempts.at(-1);
  const since = before?.vendorId === context.vendorId && before.outcome === outcome ? before.at : at;
  return [...left, { vendorId: context.vendorId, outcome, code, at: since }];
}

function checkFont(font: unknown): void {
  if (!(font instanceof Uint8Array)) {
    throw new ValidationError('font must be the bytes of a TrueType .ttf file (a Uint8Array or Buffer).', {
      details: { path: 'font' },
    });
  }
  parsedFont(font);
}

/** Keep the record and the evidence in step with the workflow, inside the transition's transaction. */
async function projectSigning(tx: PersistenceTransaction, state: WorkflowState, keyring: ChainKeyring): Promise<void> {
  const context = state.context as SigningContext;
  const stored = await signingRecordRepository.get(tx, context.recordId);
  const previous = stored?.record ?? null;
  const next = recordFor(context, state, previous);
  // The evidence first: the record carries the anchor of the chain as it stands after this transition.
  const entries = evidenceEntries(previous, next, context, state.updatedAt);
  next.evidence = await appendEvidence(tx, keyring, next, entries, previous?.evidence ?? null);
  if (!stored) await signingRecordRepository.insert(tx, next, state.updatedAt);
  else await signingRecordRepository.update(tx, stored, next, state.updatedAt);
}

function recordFor(context: SigningContext, state: WorkflowState, previous: SigningRecord | null): SigningRecord {
  const status = statusForState(state.stateValue);
  return {
    id: context.recordId,
    businessNo: context.businessNo,
    scene: context.scene,
    funding: context.funding,
    funderId: context.funder?.id ?? null,
    attempt: context.attempt,
    previousAttemptId: context.previousAttemptId,
    nextAttemptId: previous?.nextAttemptId ?? null,
    status,
    stage: state.stateValue,
    templates: context.documents.map((d) => ({
      documentKey: d.key,
      templateCode: d.templateCode,
      versionId: d.versionId,
      version: d.version,
      sha256: d.templateSha256,
    })),
    rendered: (context.rendered ?? []).map((r) => ({
      documentKey: r.key,
      fileId: r.fileId,
      sha256: r.sha256,
      size: r.size,
    })),
    signed: (context.archived ?? []).map((a) => ({
      documentKey: a.key,
      fileName: a.fileName,
      fileId: a.fileId,
      sha256: a.sha256,
      size: a.size,
      signatures: context.fetched?.find((f) => f.key === a.key)?.signatures?.count ?? null,
      timestamps: context.fetched?.find((f) => f.key === a.key)?.timestamps ?? [],
    })),
    vendor: { id: context.vendorId, flowId: context.flow?.flowId ?? null },
    vendorAttempts: vendorAttempts(context, status, state.updatedAt, previous),
    failedOverFrom: context.failedOverFrom ?? null,
    sealsUsed: (context.flow?.signers ?? []).flatMap((s) =>
      s.seal
        ? [
            {
              role: s.role,
              sealId: s.seal.sealId,
              certificateSha256: s.seal.certificateSha256 ?? null,
              certificateSerial: s.seal.certificateSerial ?? null,
            },
          ]
        : [],
    ),
    failure:
      status === 'FAILED' ? (context.failure ?? failureOf(state.stateValue, 'UNKNOWN', 'The signing failed.')) : null,
    customer: context.customer,
    funderSignature: context.funderSignature,
    requestedBy: context.requestedBy,
    createdAt: previous?.createdAt ?? state.createdAt,
    updatedAt: state.updatedAt,
    completedAt: status === 'COMPLETED' ? (previous?.completedAt ?? state.updatedAt) : null,
    failedAt: status === 'FAILED' ? (previous?.failedAt ?? state.updatedAt) : null,
    evidence: previous?.evidence ?? null,
  };
}
