/**
 * The signing workflow's effects: all of its I/O — rendering into the DocumentStore, vendor calls through the gateway
 * (every call keyed by the effect's idempotency key, so a re-run after a crash never makes a second flow), download,
 * signature checks and archiving. Outputs are small and JSON: file ids, hashes and flow states, never PDF bytes.
 */
import { SealflowError } from '../errors.js';
import { prepareTemplate, type PreparedTemplate, type BlankSpec } from '../pdf/index.js';
import { type DocumentStore, sha256Hex } from '../ports/document-store.js';
import type { FlowLookup, SealPlacement, SignerSpec, VendorFlow } from '../ports/signing-vendor.js';
import type { EffectContext, EffectDefinition } from '../runtime/workflow-definition.js';
import { maskName, maskText } from '../privacy.js';
import { applyRule, type RuleInput } from '../templates/formatters.js';
import { funderSource } from '../templates/request-sources.js';
import type { PartySealPlacement } from '../templates/model.js';
import type { CustomerKeys } from './customer-data.js';
import type { OrganizationSealId } from './seals.js';
import type { SigningGateway } from './gateway.js';
import type {
  ArchiveParams,
  FetchedDocument,
  FetchParams,
  FlowParams,
  FlowView,
  FunderRef,
  FunderSignParams,
  PlannedDocument,
  RenderParams,
  SignatureSummary,
  StartFlowParams,
  VendorUnavailable,
} from './signing-machine.js';
import { isVendorUnavailable, mayFailOver } from './routes.js';
import { ownValue } from '../own-property.js';

/** What the host's `verifyPdf` says about one signature; adapter-local's `verifyPdfSignatures` fits as is. */
export interface PdfSignatureCheck {
  valid: boolean;
  /** False when bytes were appended after this signature (only the last one covers the whole file). */
  coversWholeDocument?: boolean;
  problems?: readonly string[];
}

/** Verifies the signatures of a signed PDF (PAdES vendors), e.g. `verifyPdfSignatures` from adapter-local. */
export type VerifyPdf = (pdf: Uint8Array) => readonly PdfSignatureCheck[] | Promise<readonly PdfSignatureCheck[]>;

/**
 * An organisation that seals with a configured seal: the platform, the payment company.
 *
 * @example
 * ```ts
 * // One seal id at every vendor (a single vendor, or vendors that share the id):
 * platform: { name: '某某消费金融股份有限公司', creditCode: '91310000MA1FL0000X', sealId: 'platform-seal' }
 * // The seal id each vendor issued, by vendor id, for routes that fail over between vendors:
 * platform: { name, creditCode, sealId: { esign: 'c0a8…e签宝 sealId', cfca: 'CFCA-SEAL-001', local: 'platform-seal' } }
 * ```
 */
export interface OrganizationParty {
  name: string;
  /** 统一社会信用代码. */
  creditCode: string;
  /**
   * The seal it signs with, as the vendor names it: e签宝's sealId, 安心签's sealCode, the local signer's seal name.
   * One string is used at every vendor; a record gives the seal id per vendor id (the ids of `vendors` and routing).
   * Every vendor a route can send one of its signings to needs an entry: a missing one is refused at start-up.
   */
  sealId: OrganizationSealId;
}

/** The borrower and the values, as sealed into the workflow. */
export interface SealedRequest {
  borrower: { name: string; idNumber: string; mobile: string };
  values: Record<string, unknown>;
}

export interface SigningEffectDependencies {
  vendors: Readonly<Record<string, SigningGateway>>;
  documents: DocumentStore;
  keys: CustomerKeys;
  verifyPdf?: VerifyPdf;
  organizations: Readonly<Record<string, OrganizationParty>>;
  callbackUrl?: (vendorId: string) => string;
  /** How many parsed template versions to keep; default `DEFAULT_PREPARED_TEMPLATES`. */
  preparedTemplates?: number;
  /** The host's font for contract values; default the bundled one. */
  font?: Uint8Array;
}

/** Parsed templates kept per process: enough for every version a lender has in use, bounded for the years after. */
export const DEFAULT_PREPARED_TEMPLATES = 32;

/** The object variable `source` paths are read from: the host's values plus the request's parties. */
export function resolutionRoot(
  request: SealedRequest,
  facts: {
    businessNo: string;
    signingDate: string;
    funder: FunderRef | null;
    organizations: Readonly<Record<string, OrganizationParty>>;
  },
): Record<string, unknown> {
  const organizations = Object.fromEntries(
    Object.entries(facts.organizations).map(([role, o]) => [role, { name: o.name, creditCode: o.creditCode }]),
  );
  return {
    ...organizations,
    ...request.values,
    borrower: request.borrower,
    funder: funderSource(facts.funder),
    signing: { businessNo: facts.businessNo, date: facts.signingDate },
  };
}

export function valueAt(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const part of path.split('.')) {
    node = ownValue(node, part);
  }
  return node;
}

export function signingEffects(deps: SigningEffectDependencies): Record<string, EffectDefinition> {
  const { documents, keys } = deps;
  // Least recently used first: a Map iterates in insertion order, and a hit is re-inserted at the end.
  const prepared = new Map<string, Promise<PreparedTemplate>>();
  const preparedLimit = deps.preparedTemplates ?? DEFAULT_PREPARED_TEMPLATES;

  const vendor = (vendorId: string): SigningGateway => {
    const gateway = ownValue<SigningGateway>(deps.vendors, vendorId);
    if (!gateway) {
      throw new SealflowError(
        'VENDOR_NOT_CONFIGURED',
        `No signing vendor "${vendorId}" is configured; this signing was routed to it. Add it to vendors.`,
        { retryable: false, details: { vendorId } },
      );
    }
    return gateway;
  };

  /** Parse each template version once while it is in use: the PreparedTemplate is reused for every contract. */
  const preparedFor = (document: PlannedDocument): Promise<PreparedTemplate> => {
    let entry = prepared.get(document.versionId);
    if (entry) {
      prepared.delete(document.versionId);
      prepared.set(document.versionId, entry);
    } else {
      entry = (async () => {
        const { bytes } = await documents.get(document.templateFileId);
        if (sha256Hex(bytes) !== document.templateSha256) {
          throw new SealflowError(
            'TEMPLATE_PDF_CHANGED',
            `The PDF of template ${document.versionId} in the document store is not the one that was approved.`,
            { retryable: false, details: { versionId: document.versionId } },
          );
        }
        const blanks: BlankSpec[] = document.fields.flatMap((f) =>
          'page' in f.placement
            ? [{ name: blankName(f.variable), page: f.placement.page, rect: f.placement.rect }]
            : [],
        );
        return prepareTemplate(bytes, deps.font ? { blanks, font: deps.font } : { blanks });
      })();
      const failed = entry;
      failed.catch(() => {
        if (prepared.get(document.versionId) === failed) prepared.delete(document.versionId);
      });
      prepared.set(document.versionId, entry);
      for (const oldest of prepared.keys()) {
        if (prepared.size <= preparedLimit) break;
        prepared.delete(oldest);
      }
    }
    return entry;
  };

  const renderDocuments: EffectDefinition<RenderParams> = {
    async run(params, context) {
      const request = keys.open<SealedRequest>(params.sealed);
      const root = resolutionRoot(request, {
        businessNo: params.businessNo,
        signingDate: params.signingDate,
        funder: params.funder,
        organizations: deps.organizations,
      });
      const out = [];
      for (const document of params.documents) {
        const template = await preparedFor(document);
        const texts: Record<string, string> = {};
        for (const field of document.fields) {
          const value = field.source === null ? undefined : valueAt(root, field.source);
          if (value === undefined || value === null || value === '') continue;
          const text = applyRule(field.rule ?? { kind: 'text' }, value as RuleInput);
          texts['field' in field.placement ? field.placement.field : blankName(field.variable)] = text;
        }
        const bytes = template.render(texts);
        const stored = await documents.put({
          bytes,
          contentType: 'application/pdf',
          key: `signing/${params.recordId}/${document.key}.rendered.pdf`,
          metadata: {
            'record-id': params.recordId,
            'business-no': params.businessNo,
            kind: 'rendered',
            document: document.key,
            'template-version': document.versionId,
          },
        });
        out.push({ key: document.key, fileId: stored.fileId, sha256: stored.sha256, size: stored.size });
      }
      return { documents: out, renderedAt: context.clock.now() };
    },
  };

  /**
   * Start the flow at the vendor the signing is with. When the route has a fallback and this vendor fails in a way
   * the failover rule allows (`mayFailOver`), the output is the vendor's unavailability instead of a flow, and the
   * machine saves the move to the fallback.
   *
   * The runtime's last run (`lastAttempt`) that fails retryably does not leave the signing to a dead letter: it asks
   * the vendor what it holds. A flow it made is adopted as it stands (routing then waits for it, and the deadline
   * closes it); none is reported as the vendor's unavailability, which fails the signing with the last error's code
   * (or moves it to the fallback). Only when the vendor cannot say does the error stand, for an operator to retry.
   */
  const startVendorFlow: EffectDefinition<StartFlowParams, FlowView | { unavailable: VendorUnavailable }> = {
    async run(params, context) {
      const gateway = vendor(params.vendorId);
      const request = keys.open<SealedRequest>(params.sealed);
      const createKey = `${context.idempotencyKey}:flow`;
      try {
        return flowView(await startFlow(gateway, params, request, context, createKey), request);
      } catch (error) {
        const givingUp = context.lastAttempt && error instanceof SealflowError && error.retryable;
        if (!givingUp && (!params.fallbackVendorId || !isVendorUnavailable(error))) throw error;
        const lookup = await lookupAfterFailure(gateway, { createKey, businessNo: params.businessNo }, context.signal);
        if (lookup.kind === 'found') {
          // The vendor holds a flow for this signing (a timed-out try made it, or the vendor recorded it before it
          // failed): the signing stays there. A retryable failure is retried as without a fallback, and the retry's
          // create under the same key resumes or returns that flow; a refusal, or the last run, adopts it as it stands.
          if (!givingUp && error instanceof SealflowError && error.retryable) throw error;
          context.logger.warn('vendor_flow_adopted', {
            vendor: params.vendorId,
            businessNo: params.businessNo,
            flowId: lookup.flow.flowId,
            refusedWith: error instanceof SealflowError ? error.code : 'UNKNOWN',
          });
          return flowView(lookup.flow, request);
        }
        if (givingUp ? lookup.kind !== 'none' : !mayFailOver(error, lookup.kind)) throw error;
        const failure = error as SealflowError;
        context.logger.warn(params.fallbackVendorId ? 'vendor_failed_over' : 'vendor_given_up', {
          vendor: params.vendorId,
          businessNo: params.businessNo,
          code: failure.code,
          fallback: params.fallbackVendorId,
        });
        return {
          unavailable: {
            vendorId: params.vendorId,
            code: failure.code,
            message: maskText(scrubName(failure.message, request)),
            at: context.clock.now(),
          },
        };
      }
    },
    onDone: (output) =>
      'unavailable' in output
        ? { type: 'startVendorFlow.unavailable', output: output.unavailable }
        : { type: 'startVendorFlow.done', output },
  };

  /** Upload the rendered documents and create the flow; a refused create adopts the flow an earlier run made. */
  async function startFlow(
    gateway: SigningGateway,
    params: StartFlowParams,
    request: SealedRequest,
    context: EffectContext,
    createKey: string,
  ): Promise<VendorFlow> {
    const refs = [];
    for (const rendered of params.rendered) {
      const planned = params.documents.find((d) => d.key === rendered.key);
      const bytes = await renderedBytes(documents, rendered.fileId, rendered.sha256, rendered.key);
      refs.push(
        await gateway.uploadDocument(
          { key: rendered.key, fileName: planned?.fileName ?? `${rendered.key}.pdf`, bytes },
          { idempotencyKey: `${context.idempotencyKey}:up:${rendered.key}`, signal: context.signal },
        ),
      );
    }
    const signers: SignerSpec[] = params.parties.map((party) => {
      const placements = placementsFor(params.documents, party.role);
      if (party.kind === 'person') {
        return {
          role: party.role,
          kind: 'person',
          name: request.borrower.name,
          idNumber: request.borrower.idNumber,
          mobile: request.borrower.mobile,
          autoSign: party.signing === 'auto',
          order: party.order,
          placements,
        };
      }
      if (party.signing === 'ownCall') {
        return {
          role: party.role,
          kind: 'organization',
          name: params.funder?.name ?? '',
          idNumber: params.funder?.creditCode ?? '',
          autoSign: false,
          order: party.order,
          placements,
        };
      }
      return {
        role: party.role,
        kind: 'organization',
        name: party.organization?.name ?? '',
        idNumber: party.organization?.creditCode ?? '',
        sealId: party.organization?.sealId ?? '',
        autoSign: true,
        order: party.order,
        placements,
      };
    });
    const callbackUrl = gateway.capabilities.callbacks ? deps.callbackUrl?.(params.vendorId) : undefined;
    let flow: VendorFlow;
    try {
      flow = await gateway.createFlow(
        {
          title: params.title,
          businessNo: params.businessNo,
          documents: refs,
          signers,
          ...(params.deadlineAt === undefined ? {} : { deadlineAt: params.deadlineAt }),
          ...(callbackUrl ? { callbackUrl } : {}),
        },
        { idempotencyKey: createKey, signal: context.signal },
      );
    } catch (error) {
      const earlier = await flowMadeEarlier(
        gateway,
        { createKey, businessNo: params.businessNo },
        error,
        context.signal,
      );
      if (!earlier) throw error;
      context.logger.warn('vendor_flow_adopted', {
        vendor: params.vendorId,
        businessNo: params.businessNo,
        flowId: earlier.flowId,
        refusedWith: error instanceof SealflowError ? error.code : 'UNKNOWN',
      });
      flow = earlier;
    }
    return flow;
  }

  const pollVendorFlow: EffectDefinition<FlowParams> = {
    async run(params, context) {
      const flow = await vendor(params.vendorId).getFlow(params.flowId, {
        idempotencyKey: context.idempotencyKey,
        signal: context.signal,
      });
      return flowView(flow, params.sealed === undefined ? undefined : keys.open<SealedRequest>(params.sealed));
    },
  };

  const appendFunderSigner: EffectDefinition<FunderSignParams> = {
    async run(params, context) {
      const flow = await vendor(params.vendorId).appendSigner(
        params.flowId,
        {
          role: params.role,
          kind: 'organization',
          name: params.funder.name,
          idNumber: params.funder.creditCode,
          sealId: params.sealId,
          autoSign: true,
          order: params.order,
          placements: placementsFor(params.documents, params.role),
        },
        { idempotencyKey: context.idempotencyKey, signal: context.signal },
      );
      return flowView(flow, params.sealed === undefined ? undefined : keys.open<SealedRequest>(params.sealed));
    },
  };

  /** Download and measure: hashes, whether each file extends what we rendered, and its signatures. */
  const fetchSigned: EffectDefinition<FetchParams> = {
    async run(params, context) {
      const signed = await vendor(params.vendorId).downloadSigned(params.flowId, {
        idempotencyKey: context.idempotencyKey,
        signal: context.signal,
      });
      const out: FetchedDocument[] = [];
      for (const document of signed) {
        const rendered = params.rendered.find((r) => r.key === document.key);
        const original = rendered
          ? await renderedBytes(documents, rendered.fileId, rendered.sha256, rendered.key)
          : null;
        out.push({
          key: document.key,
          fileName: params.documents.find((d) => d.key === document.key)?.fileName ?? document.fileName,
          sha256: sha256Hex(document.bytes),
          size: document.bytes.byteLength,
          extendsRendered: original !== null && extendsBytes(document.bytes, original),
          signatures: params.verifySignatures ? await checkSignatures(deps.verifyPdf, document.bytes) : null,
          ...(document.timestamps?.length ? { timestamps: document.timestamps } : {}),
        });
      }
      return { documents: out, renderedAt: context.clock.now() };
    },
  };

  /** Archive exactly the bytes that were verified: download again and refuse anything whose hash moved. */
  const archiveSigned: EffectDefinition<ArchiveParams> = {
    async run(params, context) {
      const signed = await vendor(params.vendorId).downloadSigned(params.flowId, {
        idempotencyKey: context.idempotencyKey,
        signal: context.signal,
      });
      const matched = params.fetched.map((verified) => {
        const document = signed.find((d) => d.key === verified.key);
        if (!document || sha256Hex(document.bytes) !== verified.sha256) {
          throw new SealflowError(
            'SIGNED_DOCUMENT_CHANGED',
            `The vendor returned a different ${verified.key} than the one that was verified (hash mismatch); nothing was archived.`,
            { retryable: false, details: { documentKey: verified.key } },
          );
        }
        return { verified, bytes: document.bytes };
      });
      const out = [];
      for (const { verified, bytes } of matched) {
        const stored = await documents.put({
          bytes,
          contentType: 'application/pdf',
          key: `signing/${params.recordId}/${verified.key}.signed.pdf`,
          metadata: {
            'record-id': params.recordId,
            'business-no': params.businessNo,
            scene: params.scene,
            kind: 'signed',
            document: verified.key,
          },
        });
        out.push({
          key: verified.key,
          fileName: verified.fileName,
          fileId: stored.fileId,
          sha256: stored.sha256,
          size: stored.size,
        });
      }
      return { documents: out, renderedAt: context.clock.now() };
    },
  };

  /**
   * Revoke the flow at the deadline, then report the state the vendor holds. A refused cancel is expected: the flow
   * finished meanwhile, perhaps completed, and the vendor's answer to getFlow is what the workflow acts on.
   */
  const cancelVendorFlow: EffectDefinition<FlowParams> = {
    async run(params, context) {
      const gateway = vendor(params.vendorId);
      try {
        await gateway.cancelFlow(params.flowId, params.cancelReason ?? 'signing deadline passed', {
          idempotencyKey: context.idempotencyKey,
          signal: context.signal,
        });
      } catch (error) {
        if (!(error instanceof SealflowError) || error.retryable) throw error;
      }
      const flow = await gateway.getFlow(params.flowId, {
        idempotencyKey: `${context.idempotencyKey}:status`,
        signal: context.signal,
      });
      return flowView(flow, params.sealed === undefined ? undefined : keys.open<SealedRequest>(params.sealed));
    },
  };

  return {
    renderDocuments,
    startVendorFlow,
    pollVendorFlow,
    appendFunderSigner,
    fetchSigned,
    archiveSigned,
    cancelVendorFlow,
  };
}

// -----------------------------------------------------------------------------------------------------------------

/**
 * After a refused create (the vendor says the key was used for a different request, or answers something the
 * gateway refuses), the flow an earlier run of this very effect made under the same key, if the vendor has one.
 * Retryable failures are left to the runtime's retry; a vendor without `findFlow` leaves the refusal as it was.
 */
async function flowMadeEarlier(
  gateway: SigningGateway,
  lookup: FlowLookup,
  refusal: unknown,
  signal: AbortSignal,
): Promise<VendorFlow | null> {
  if (!(refusal instanceof SealflowError) || refusal.retryable) return null;
  try {
    return await gateway.findFlow(lookup, { idempotencyKey: `${lookup.createKey}:find`, signal });
  } catch (error) {
    if (error instanceof SealflowError && error.code === 'VENDOR_UNSUPPORTED') return null;
    // The vendor could not tell: try the whole step again rather than fail over a flow that may exist.
    if (error instanceof SealflowError && error.retryable) throw error;
    return null;
  }
}

/**
 * After a failed start, whether the vendor holds a flow made under this signing's create key: the lookup the failover
 * rule needs. Asked once the gateway's own tries are over, so every try that might have created the flow was made.
 */
async function lookupAfterFailure(
  gateway: SigningGateway,
  lookup: FlowLookup,
  signal: AbortSignal,
): Promise<{ kind: 'found'; flow: VendorFlow } | { kind: 'none' } | { kind: 'cannot-tell' }> {
  if (signal.aborted) return { kind: 'cannot-tell' };
  try {
    const flow = await gateway.findFlow(lookup, { idempotencyKey: `${lookup.createKey}:failover-find`, signal });
    return flow === null ? { kind: 'none' } : { kind: 'found', flow };
  } catch {
    // No lookup (VENDOR_UNSUPPORTED) or a failed one: the vendor cannot say it holds no flow, so nobody may assume it.
    return { kind: 'cannot-tell' };
  }
}

/** A vendor's message may quote the customer's name, which has no shape `maskText` could find. */
function scrubName(message: string, request: SealedRequest): string {
  const name = request.borrower.name.trim();
  return name ? message.split(name).join(maskName(name)) : message;
}

function blankName(variable: string): string {
  return `sealflow_blank_${variable}`;
}

/** The rendered document, as it was when rendered: the store checks its own hash, we check ours. */
async function renderedBytes(
  documents: DocumentStore,
  fileId: string,
  sha256: string,
  key: string,
): Promise<Uint8Array> {
  const changed = (cause?: unknown) =>
    new SealflowError(
      'DOCUMENT_CHANGED_AFTER_RENDERING',
      `The rendered ${key} (file ${fileId}) is no longer the document that was rendered; it was not sent for signing.`,
      { retryable: false, cause, details: { documentKey: key, fileId } },
    );
  let bytes: Uint8Array;
  try {
    ({ bytes } = await documents.get(fileId));
  } catch (error) {
    if (error instanceof SealflowError && error.code === 'DOCUMENT_INTEGRITY') throw changed(error);
    throw error;
  }
  if (sha256Hex(bytes) !== sha256) throw changed();
  return bytes;
}

function placementsFor(documents: readonly PlannedDocument[], role: string): SealPlacement[] {
  return documents.flatMap((d) =>
    d.seals.filter((s) => s.role === role).map((s) => toSealPlacement(d.key, s.placement)),
  );
}

function toSealPlacement(documentKey: string, placement: PartySealPlacement): SealPlacement {
  if ('field' in placement) return { documentKey, field: placement.field };
  if ('keyword' in placement) {
    return {
      documentKey,
      keyword: placement.keyword,
      ...(placement.offset ? { offsetX: placement.offset.x, offsetY: placement.offset.y } : {}),
    };
  }
  return { documentKey, page: placement.page, ...placement.rect };
}

/**
 * The flow as the workflow keeps it. A vendor's free-text reason may quote the customer ("张三 不同意"): ID numbers and
 * mobiles are masked by shape (the gateway did), the name is masked here because only we know it.
 */
function flowView(flow: VendorFlow, request?: SealedRequest): FlowView {
  let reason = flow.reason;
  const name = request?.borrower.name.trim();
  if (reason !== undefined && name) reason = reason.split(name).join(maskName(name));
  return {
    flowId: flow.flowId,
    status: flow.status,
    signers: flow.signers.map((s) => ({ role: s.role, status: s.status, ...(s.seal ? { seal: { ...s.seal } } : {}) })),
    ...(reason === undefined ? {} : { reason: maskText(reason) }),
  };
}

/** Signatures add bytes after the signed revision (incremental updates): the rendered file must be a prefix. */
function extendsBytes(signed: Uint8Array, rendered: Uint8Array): boolean {
  if (signed.byteLength <= rendered.byteLength) return false;
  return Buffer.from(signed.buffer, signed.byteOffset, rendered.byteLength).equals(
    Buffer.from(rendered.buffer, rendered.byteOffset, rendered.byteLength),
  );
}

async function checkSignatures(verifyPdf: VerifyPdf | undefined, pdf: Uint8Array): Promise<SignatureSummary> {
  if (!verifyPdf) return { count: 0, valid: false, problems: ['no verifyPdf hook is configured'] };
  try {
    const reports = await verifyPdf(pdf);
    const problems = reports.flatMap((r, i) =>
      r.valid ? [] : (r.problems ?? ['invalid']).map((p) => `#${i + 1}: ${p}`),
    );
    const covers = reports.some((r) => r.coversWholeDocument !== false);
    if (reports.length > 0 && !covers) problems.push('no signature covers the whole file');
    return {
      count: reports.filter((r) => r.valid).length,
      valid: reports.length > 0 && problems.length === 0,
      problems: problems.slice(0, 5),
    };
  } catch (error) {
    return { count: 0, valid: false, problems: [error instanceof Error ? error.message.slice(0, 200) : 'unreadable'] };
  }
}
