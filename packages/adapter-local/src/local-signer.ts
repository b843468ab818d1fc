/**
 * `localSigner()`: the local PAdES sealer as a `SigningVendor`, so every signing flow runs offline end to end with the
 * host's own certificates and no e-signature vendor.
 *
 * ## Who signs for the borrower
 * In the credit-grant scene (授信) the borrower does not draw anything: the customer's consent in the
 * app plus a real-name-verified identity *is* the signature, and the signature on the PDF is applied on the
 * customer's behalf (静默/自动签署). With a vendor, the vendor's certificate does that; here the platform's own
 * signing certificate (`personIdentity`) does. So `personAutoSign` is declared only when `personIdentity` is given,
 * and the host remains responsible for keeping the consent evidence that authorises it. Each person's signature is
 * its own PAdES signature whose /Reason says for whom it was made.
 *
 * ## What a flow is here
 * `createFlow` seals every auto-signed signer at once, in `order`, each placement an incremental update so earlier
 * signatures stay valid. A signer with `autoSign: false` waits: the flow stays `signing` until `appendSigner` is
 * called for that role with `autoSign: true` — the funder's own signing call with its own seal — or for a new role.
 * Waiting signers must come after every auto-signed one in `order`: there is nobody to sign in between.
 *
 * Every sealed output is checked with `verifyPdfSignatures` before it is kept or returned; one that does not verify
 * is a bug and is thrown as a non-retryable `VENDOR_FAILURE`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import {
  type CreateFlowInput,
  type DocumentStore,
  inspectPdf,
  NotFoundError,
  type PdfInspection,
  type Persistence,
  type SealPlacement,
  SealflowError,
  type SignedDocument,
  type SignerSpec,
  type SigningCapabilities,
  type SigningVendor,
  type UsedSeal,
  type VendorCallContext,
  ValidationError,
  type VendorFlow,
  TimestampError,
  type TimestampAuthority,
} from '@sealflow/core';
import { SealingError } from './errors.js';
import {
  type LocalFlowRecord,
  type LocalFlowStore,
  memoryLocalFlowStore,
  persistentLocalFlowStore,
} from './flow-store.js';
import { type SealAppearance, type SealField, sealPdf } from './seal-pdf.js';
import type { SealingPool } from './seal-pool.js';
import type { SigningIdentity } from './signing-identity.js';
import { signatureTimestamps } from './signature-timestamps.js';
import { type SignatureReport, verifyPdfSignatures } from './verify.js';

/** An organisation seal: the certificate that signs for the organisation and the picture shown where it seals. */
export interface LocalSeal {
  identity: SigningIdentity;
  /** The seal picture drawn in the placement (PNG or JPEG); without it the signature box is left blank. */
  image?: Uint8Array;
}

/**
 * What a person's signature shows in its placement: `'name-seal'` (a square red seal with `SignerSpec.name` in a CJK
 * font), `{ image }` (a picture the host supplies, such as the handwritten signature its app captured, PNG or JPEG)
 * or `'none'` (an empty box; the signature is still there and verifies).
 */
export type PersonAppearance = 'name-seal' | 'none' | { image: Uint8Array };

/** Configuration of {@link localSigner}: the seals and certificates it signs with and where its flows are kept. */
export interface LocalSignerOptions {
  /** Organisation seals by `SignerSpec.sealId`. */
  seals: Record<string, LocalSeal>;
  /** The certificate that signs for persons on their authorised behalf (see the module comment). */
  personIdentity?: SigningIdentity | ((signer: SignerSpec) => Promise<SigningIdentity>);
  /**
   * The mark each person's signature shows; default `'name-seal'`. A function decides per signer, e.g. returning the
   * handwritten signature image the app stored for this borrower, else `'name-seal'`.
   */
  personAppearance?: PersonAppearance | ((signer: SignerSpec) => PersonAppearance | Promise<PersonAppearance>);
  /** The TrueType font name seals are drawn with (its bytes); default the Noto Sans SC bundled with core. */
  nameSealFont?: Uint8Array;
  /** Goes into each signature's /M and `signedAt`, and decides deadlines. Default: now. */
  signingTime?: () => Date;
  /**
   * The database shared by every process that runs this signer. With `documents`, flows and uploads survive
   * restarts and are visible to every signer instance on the same database (see `persistentLocalFlowStore`).
   * Without both, flows live in this process's memory only: fine for tests and demos, wrong for production.
   */
  persistence?: Persistence;
  /** Where uploaded and signed PDFs are kept; required together with `persistence`. */
  documents?: DocumentStore;
  /** A custom flow store, instead of `persistence` + `documents`. */
  store?: LocalFlowStore;
  /**
   * Seal in worker threads (see `createSealingPool`) instead of this thread; the signer never closes it, the host
   * does at shutdown. Default: seal in-process.
   */
  pool?: SealingPool;
  /**
   * Timestamp every signature with this TSA (PAdES baseline B-T), e.g. `httpTimestampAuthority({ url })`. Timestamped
   * seals are made in this thread even with a `pool` (the TSA round trip is most of their time). A TSA that is down
   * fails the signing as retryable (`VENDOR_UNAVAILABLE`); any other TSA refusal is `VENDOR_REJECTED`.
   */
  timestampAuthority?: TimestampAuthority;
}

/** 42 mm, the diameter of a standard round company seal, in PDF points. */
const DEFAULT_SEAL_SIZE = 119;
const VENDOR = 'local';

/**
 * A `SigningVendor` that seals PDFs locally (PAdES, incremental updates) with the host's own certificates, so signing
 * flows run with no e-signature vendor. Without `persistence` + `documents` (or `store`) flows are kept in memory and
 * lost on restart: give them in production.
 */
export function localSigner(options: LocalSignerOptions): SigningVendor {
  const { seals, personIdentity } = options;
  const signingTime = options.signingTime ?? (() => new Date());
  const store = flowStoreOf(options, signingTime);
  const capabilities: SigningCapabilities = Object.freeze({
    organizationAutoSeal: true,
    personAutoSign: personIdentity !== undefined,
    vendorTemplates: false,
    callbacks: false,
    appendSigners: true,
    padesOutput: true,
    maxSignersPerFlow: 5,
    // With a TSA every signature is PAdES B-T, and downloadSigned reports the tokens.
    timestamps: options.timestampAuthority !== undefined,
    // SM2/SM3 (国密) signatures are what an SM2 identity makes: declared when a configured seal or the person
    // identity is one.
    sm2:
      Object.values(seals).some((seal) => seal.identity.keyType === 'sm2') ||
      (typeof personIdentity === 'object' && personIdentity.keyType === 'sm2'),
  });

  /** One operation per flow at a time in this process, so a retried request cannot race its original. */
  const locks = new Map<string, Promise<unknown>>();
  const exclusive = <T>(flowId: string, task: () => Promise<T>): Promise<T> => {
    const previous = locks.get(flowId) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => {});
    locks.set(flowId, settled);
    void settled.then(() => {
      if (locks.get(flowId) === settled) locks.delete(flowId);
    });
    return next;
  };

  /**
   * Run `task` from a fresh read of the flow until its write lands: another process sharing the store may have
   * written the flow between our read and our write, and then the task decides again on what that process did.
   */
  const exclusiveFresh = <T>(flowId: string, task: () => Promise<T>): Promise<T> =>
    exclusive(flowId, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await task();
        } catch (error) {
          if (!(error instanceof StaleFlow)) throw error;
          if (attempt >= WRITE_ATTEMPTS) throw contended(flowId);
        }
      }
    });

  /** Store the flow at the revision it was read at; {@link StaleFlow} when someone else wrote it first. */
  const save = async (flow: LocalFlowRecord): Promise<void> => {
    if (!(await store.putFlow(flow))) throw new StaleFlow();
    flow.revision += 1;
  };

  const loadFlow = async (flowId: string): Promise<LocalFlowRecord> => {
    for (let attempt = 1; ; attempt++) {
      const flow = await store.getFlow(flowId);
      if (!flow) throw new NotFoundError(`The local signer has no flow "${flowId}".`, { details: { vendor: VENDOR } });
      if (flow.status !== 'signing' || flow.deadlineAt === undefined || signingTime().getTime() <= flow.deadlineAt) {
        return flow;
      }
      flow.status = 'expired';
      flow.reason = 'The deadline passed before every signer signed.';
      if (await store.putFlow(flow)) return { ...flow, revision: flow.revision + 1 };
      if (attempt >= WRITE_ATTEMPTS) throw contended(flowId);
    }
  };

  const identityFor = async (signer: SignerSpec): Promise<LocalSeal> => {
    if (signer.kind === 'organization') {
      const seal = signer.sealId === undefined ? undefined : seals[signer.sealId];
      if (!seal) {
        throw refuse(
          'SEAL_NOT_FOUND',
          `Signer "${signer.role}" has sealId "${signer.sealId ?? ''}", which is not among the configured seals ` +
            `(${Object.keys(seals).join(', ') || 'none'}).`,
        );
      }
      return seal;
    }
    if (!personIdentity) throw unsupported('personAutoSign (pass personIdentity to localSigner)');
    return { identity: typeof personIdentity === 'function' ? await personIdentity(signer) : personIdentity };
  };

  /** What the signature of `signer` shows: the organisation's seal picture, or the person's chosen mark. */
  const appearanceFor = async (
    signer: SignerSpec,
    image: Uint8Array | undefined,
  ): Promise<SealAppearance | undefined> => {
    if (signer.kind !== 'person') return image ? { image } : undefined;
    const choice = options.personAppearance ?? 'name-seal';
    const chosen = typeof choice === 'function' ? await choice(signer) : choice;
    if (chosen === 'none') return undefined;
    if (chosen === 'name-seal') return { nameSeal: { name: signer.name, font: options.nameSealFont } };
    if (chosen?.image instanceof Uint8Array) return { image: chosen.image };
    throw new ValidationError(
      `personAppearance for signer "${signer.role}" must be 'name-seal', 'none' or { image: Uint8Array }.`,
      { details: { path: 'personAppearance', role: signer.role } },
    );
  };

  /** Seal every placement of `signer`, document by document, verifying each result. */
  const signAll = async (flow: LocalFlowRecord, signer: SignerSpec, originals: Map<string, Uint8Array>) => {
    const { identity, image } = await identityFor(signer);
    const appearance = await appearanceFor(signer, image);
    const time = signingTime();
    for (const document of flow.documents) {
      const placements = signer.placements.filter((p) => p.documentKey === document.key);
      const inspection = await inspectionFor(originals.get(document.vendorFileId), placements);
      for (const [index, placement] of placements.entries()) {
        const field = fieldFor(placement, `sealflow_${signer.role}_${index + 1}`, inspection);
        const sealed = await seal(options.pool, options.timestampAuthority, document.bytes, {
          identity,
          field,
          appearance,
          reason:
            signer.kind === 'person'
              ? `${signer.role}: signed on the customer's authorised behalf`
              : `${signer.role}: organisation seal`,
          signingTime: time,
        });
        checkSealed(sealed, document.signatures + 1, `${signer.role} on ${document.key}`);
        document.bytes = sealed;
        document.signatures += 1;
      }
    }
    const used: UsedSeal | undefined =
      signer.kind === 'organization' && signer.sealId !== undefined
        ? {
            sealId: signer.sealId,
            certificateSha256: Buffer.from(identity.certificateSha256).toString('hex'),
            certificateSerial: new X509Certificate(identity.certificate).serialNumber,
          }
        : undefined;
    return { signedAt: time.getTime(), ...(used ? { seal: used } : {}) };
  };

  const originalsOf = async (flow: LocalFlowRecord): Promise<Map<string, Uint8Array>> => {
    const originals = new Map<string, Uint8Array>();
    for (const document of flow.documents) {
      const record = await store.getDocument(document.vendorFileId);
      if (record) originals.set(document.vendorFileId, record.bytes);
    }
    return originals;
  };

  return {
    id: VENDOR,
    capabilities,

    async uploadDocument(document, context) {
      const digest = sha256(document.bytes);
      const vendorFileId = `ld_${sha256(['upload', context.idempotencyKey, document.key, document.fileName, digest].join('\0')).slice(0, 32)}`;
      await store.putDocument({
        vendorFileId,
        key: document.key,
        fileName: document.fileName,
        bytes: Uint8Array.from(document.bytes),
      });
      return { key: document.key, vendorFileId, fileName: document.fileName };
    },

    async createFlow(input, context) {
      const flowId = flowIdFor(context);
      const fingerprint = fingerprintOf(input);
      return exclusiveFresh(flowId, async () => {
        const existing = await store.getFlow(flowId);
        if (existing) {
          if (existing.fingerprint !== fingerprint) throw keyReused(context, 'createFlow');
          return view(await loadFlow(flowId));
        }
        const signers = [...input.signers].sort((a, b) => a.order - b.order);
        checkCreatable(signers);
        const documents: LocalFlowRecord['documents'] = [];
        const originals = new Map<string, Uint8Array>();
        for (const ref of input.documents) {
          const record = await store.getDocument(ref.vendorFileId);
          if (!record)
            throw refuse('FILE_NOT_FOUND', `File "${ref.vendorFileId}" was never uploaded to the local signer.`);
          originals.set(ref.vendorFileId, record.bytes);
          documents.push({
            key: ref.key,
            vendorFileId: ref.vendorFileId,
            fileName: ref.fileName,
            bytes: record.bytes,
            signatures: countValidSignatures(record.bytes),
          });
        }
        const flow: LocalFlowRecord = {
          flowId,
          revision: 0,
          fingerprint,
          status: 'signing',
          ...(input.deadlineAt === undefined ? {} : { deadlineAt: input.deadlineAt }),
          documents,
          signers: signers.map((s) => ({ role: s.role, kind: s.kind, order: s.order, status: 'waiting' })),
          appended: {},
        };
        for (const signer of signers.filter((s) => s.autoSign)) {
          const signed = await signAll(flow, signer, originals);
          Object.assign(signerOf(flow, signer.role), { status: 'signed', ...signed });
        }
        settle(flow);
        await save(flow);
        return view(flow);
      });
    },

    async appendSigner(flowId, signer, context) {
      const fingerprint = fingerprintOf({ flowId, signer });
      return exclusiveFresh(flowId, async () => {
        const flow = await loadFlow(flowId);
        const earlier = flow.appended[context.idempotencyKey];
        if (earlier !== undefined) {
          if (earlier !== fingerprint) throw keyReused(context, 'appendSigner');
          return view(flow);
        }
        if (flow.status !== 'signing') {
          throw refuse('FLOW_FINISHED', `Flow "${flowId}" is ${flow.status}; no signer can be added or sign.`);
        }
        const unknownDocument = signer.placements.find((p) => !flow.documents.some((d) => d.key === p.documentKey));
        if (unknownDocument) {
          throw refuse('UNKNOWN_DOCUMENT', `Flow "${flowId}" has no document "${unknownDocument.documentKey}".`);
        }
        let entry = flow.signers.find((s) => s.role === signer.role);
        if (entry?.status === 'signed') {
          throw refuse('SIGNER_ALREADY_SIGNED', `Signer "${signer.role}" already signed flow "${flowId}".`);
        }
        if (entry && entry.kind !== signer.kind) {
          throw refuse('SIGNER_MISMATCH', `Signer "${signer.role}" of flow "${flowId}" is an ${entry.kind}.`);
        }
        if (!entry) {
          if (flow.signers.length >= capabilities.maxSignersPerFlow) {
            throw refuse('TOO_MANY_SIGNERS', `A local flow has at most ${capabilities.maxSignersPerFlow} signers.`);
          }
          entry = { role: signer.role, kind: signer.kind, order: signer.order, status: 'waiting' };
          flow.signers.push(entry);
        }
        entry.order = signer.order;
        if (signer.autoSign) {
          const before = flow.signers.find((s) => s !== entry && s.status !== 'signed' && s.order < signer.order);
          if (before) {
            throw refuse(
              'SIGNER_OUT_OF_ORDER',
              `Signer "${signer.role}" (order ${signer.order}) cannot sign before "${before.role}" (order ${before.order}).`,
            );
          }
          const signed = await signAll(flow, signer, await originalsOf(flow));
          Object.assign(entry, { status: 'signed', ...signed });
        }
        flow.appended[context.idempotencyKey] = fingerprint;
        settle(flow);
        await save(flow);
        return view(flow);
      });
    },

    async findFlow(lookup) {
      // Flow ids follow from the create key, so the lookup is a read of that one id.
      const flowId = flowIdFor({ idempotencyKey: lookup.createKey });
      return (await store.getFlow(flowId)) ? view(await loadFlow(flowId)) : null;
    },

    async getFlow(flowId) {
      return view(await loadFlow(flowId));
    },

    async downloadSigned(flowId): Promise<SignedDocument[]> {
      const flow = await loadFlow(flowId);
      if (flow.status !== 'completed') {
        throw refuse(
          'FLOW_NOT_COMPLETED',
          `Flow "${flowId}" is ${flow.status}; only a completed flow can be downloaded.`,
        );
      }
      return flow.documents.map((document) => {
        const reports = checkSealed(document.bytes, document.signatures, `download of ${document.key}`);
        // The tokens as embedded, read from the bytes handed out: the evidence names exactly what the PDF carries.
        const timestamps = signatureTimestamps(document.bytes, reports);
        return {
          key: document.key,
          fileName: document.fileName,
          bytes: Uint8Array.from(document.bytes),
          ...(timestamps.length > 0 ? { timestamps } : {}),
        };
      });
    },

    async cancelFlow(flowId, reason) {
      await exclusiveFresh(flowId, async () => {
        const flow = await loadFlow(flowId);
        if (flow.status === 'revoked') return;
        if (flow.status !== 'signing' && flow.status !== 'draft') {
          throw refuse('FLOW_FINISHED', `Flow "${flowId}" is ${flow.status} and can no longer be revoked.`);
        }
        flow.status = 'revoked';
        flow.reason = reason;
        for (const s of flow.signers) if (s.status !== 'signed') s.status = 'failed';
        await save(flow);
      });
    },
  };

  function checkCreatable(signers: SignerSpec[]): void {
    if (signers.length > capabilities.maxSignersPerFlow) {
      throw refuse('TOO_MANY_SIGNERS', `A local flow has at most ${capabilities.maxSignersPerFlow} signers.`);
    }
    const firstWaiting = signers.find((s) => !s.autoSign);
    const lateAuto = firstWaiting && signers.find((s) => s.autoSign && s.order > firstWaiting.order);
    if (firstWaiting && lateAuto) {
      throw unsupported(
        `an auto-signed signer ("${lateAuto.role}") after a waiting one ("${firstWaiting.role}"): the local signer ` +
          'seals when the flow starts, so waiting signers must come last in order',
      );
    }
    for (const signer of signers) {
      if (signer.autoSign && signer.kind === 'person' && !personIdentity) throw unsupported('personAutoSign');
      if (signer.autoSign && signer.kind === 'organization' && !(signer.sealId && seals[signer.sealId])) {
        throw refuse('SEAL_NOT_FOUND', `Signer "${signer.role}" names no configured seal.`);
      }
    }
  }
}

// -----------------------------------------------------------------------------------------------------------------

/** How many times an operation starts over when other processes keep writing the same flow first. */
const WRITE_ATTEMPTS = 5;

/** Another writer stored the flow since it was read: internal, answered by reading it again. */
class StaleFlow extends Error {}

function contended(flowId: string): SealflowError {
  return new SealflowError(
    'VENDOR_FAILURE',
    `Flow "${flowId}" kept being changed by other signer instances while this one wrote it; try the call again.`,
    { retryable: true, details: { vendor: VENDOR, vendorCode: 'FLOW_CONTENDED' } },
  );
}

/** `persistence` + `documents`, a custom `store`, or (single process only) memory. */
function flowStoreOf(options: LocalSignerOptions, signingTime: () => Date): LocalFlowStore {
  const { persistence, documents, store } = options;
  if (store && (persistence || documents)) {
    throw new ValidationError('localSigner: give either store or persistence + documents, not both.', {
      details: { field: 'store' },
    });
  }
  if (store) return store;
  if (persistence && documents) {
    return persistentLocalFlowStore({ persistence, documents, clock: { now: () => signingTime().getTime() } });
  }
  if (persistence || documents) {
    throw new ValidationError(
      `localSigner: ${persistence ? 'documents' : 'persistence'} is missing. Flows are kept in the database and ` +
        "their PDFs in a document store, so give both (the runtime's persistence and your DocumentStore).",
      { details: { field: persistence ? 'documents' : 'persistence' } },
    );
  }
  return memoryLocalFlowStore();
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The flow id follows from the key, so a retried create finds the flow its first attempt made. */
function flowIdFor(context: VendorCallContext): string {
  return `lf_${sha256(`flow\0${context.idempotencyKey}`).slice(0, 32)}`;
}

/** A hash, not the request: the request holds names and ID numbers the store must not keep. */
function fingerprintOf(value: CreateFlowInput | { flowId: string; signer: SignerSpec }): string {
  return sha256(
    JSON.stringify(value, (_key, v: unknown) =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
        : v,
    ),
  );
}

function signerOf(flow: LocalFlowRecord, role: string): LocalFlowRecord['signers'][number] {
  const signer = flow.signers.find((s) => s.role === role);
  if (!signer) throw new Error(`local signer: flow ${flow.flowId} lost signer ${role}`);
  return signer;
}

/** Complete the flow when everyone signed; otherwise the earliest waiting order group is the one due. */
function settle(flow: LocalFlowRecord): void {
  const pending = flow.signers.filter((s) => s.status !== 'signed');
  if (pending.length === 0) {
    flow.status = 'completed';
    return;
  }
  const due = Math.min(...pending.map((s) => s.order));
  for (const s of pending) s.status = s.order === due ? 'signing' : 'waiting';
}

function view(flow: LocalFlowRecord): VendorFlow {
  return {
    flowId: flow.flowId,
    status: flow.status,
    signers: flow.signers.map(({ role, status, signedAt, seal }) => ({
      role,
      status,
      ...(signedAt === undefined ? {} : { signedAt }),
      ...(seal === undefined ? {} : { seal: { ...seal } }),
    })),
    ...(flow.reason === undefined ? {} : { reason: flow.reason }),
  };
}

async function inspectionFor(original: Uint8Array | undefined, placements: SealPlacement[]) {
  const keywords = placements.flatMap((p) => ('keyword' in p ? [p.keyword] : []));
  if (!original || !placements.some((p) => 'field' in p || 'keyword' in p)) return undefined;
  try {
    return await inspectPdf(original, { keywords });
  } catch (error) {
    throw refuse('PDF_UNREADABLE', 'The document could not be read to find fields or keywords.', error);
  }
}

function fieldFor(placement: SealPlacement, newName: string, inspection: PdfInspection | undefined): SealField {
  if ('page' in placement) {
    return {
      name: newName,
      page: placement.page,
      rect: {
        x: placement.x,
        y: placement.y,
        width: placement.width ?? DEFAULT_SEAL_SIZE,
        height: placement.height ?? DEFAULT_SEAL_SIZE,
      },
    };
  }
  if ('field' in placement) {
    const field = inspection?.fields.find((f) => f.name === placement.field && f.page >= 0);
    if (!field)
      throw refuse('FIELD_NOT_FOUND', `Document "${placement.documentKey}" has no field "${placement.field}".`);
    // A signature field is signed in place; any other field only lends its box to a new signature field.
    return field.type === 'signature'
      ? { existingFieldName: field.name }
      : { name: newName, page: field.page, rect: field.rect };
  }
  // Signature blocks sit at the end of a contract, while the same words ("甲方", "借款人") also open it: take the last.
  const hit = inspection?.keywordHits.filter((h) => h.keyword === placement.keyword).at(-1);
  if (!hit) {
    throw refuse('KEYWORD_NOT_FOUND', `Document "${placement.documentKey}" does not contain "${placement.keyword}".`);
  }
  const centreX = hit.x + hit.width / 2 + (placement.offsetX ?? 0);
  const centreY = hit.y + hit.height / 2 + (placement.offsetY ?? 0);
  return {
    name: newName,
    page: hit.page,
    rect: {
      x: Math.max(0, centreX - DEFAULT_SEAL_SIZE / 2),
      y: Math.max(0, centreY - DEFAULT_SEAL_SIZE / 2),
      width: DEFAULT_SEAL_SIZE,
      height: DEFAULT_SEAL_SIZE,
    },
  };
}

/** A refused placement or certificate is the request's fault: retrying the same request cannot help. */
async function seal(
  pool: SealingPool | undefined,
  timestampAuthority: TimestampAuthority | undefined,
  pdf: Uint8Array,
  options: Parameters<typeof sealPdf>[1],
): Promise<Uint8Array> {
  try {
    if (timestampAuthority) return await sealPdf(pdf, { ...options, timestampAuthority });
    return pool ? await pool.seal(pdf, options) : sealPdf(pdf, options);
  } catch (error) {
    if (error instanceof TimestampError) {
      throw new SealflowError(
        error.retryable ? 'VENDOR_UNAVAILABLE' : 'VENDOR_REJECTED',
        `The local signer could not timestamp the signature: ${error.message}`,
        { cause: error, retryable: error.retryable, details: { vendor: VENDOR, vendorCode: error.code } },
      );
    }
    if (error instanceof SealingError) {
      throw new SealflowError('VENDOR_REJECTED', `The local signer could not seal: ${error.message}`, {
        cause: error,
        retryable: false,
        details: { vendor: VENDOR, vendorCode: error.code },
      });
    }
    throw new SealflowError('VENDOR_FAILURE', 'The local signer failed while sealing (a bug: please report it).', {
      cause: error,
      retryable: false,
      details: { vendor: VENDOR },
    });
  }
}

function countValidSignatures(pdf: Uint8Array): number {
  try {
    return verifyPdfSignatures(pdf).length;
  } catch {
    return 0;
  }
}

/** Every signature valid, as many as there should be, and the last one covering the whole file. */
function checkSealed(pdf: Uint8Array, expected: number, what: string): SignatureReport[] {
  const reports = verifyPdfSignatures(pdf);
  const problems = reports.filter((r) => !r.valid).flatMap((r) => r.problems.map((p) => `${r.fieldName}: ${p}`));
  if (reports.length !== expected) problems.push(`${reports.length} signatures, expected ${expected}`);
  if (expected > 0 && !reports.some((r) => r.coversWholeDocument)) problems.push('no signature covers the whole file');
  if (problems.length) {
    throw new SealflowError(
      'VENDOR_FAILURE',
      `The local signer produced a PDF that does not verify (${what}): ${problems.join('; ')}.`,
      {
        retryable: false,
        details: { vendor: VENDOR, problems },
      },
    );
  }
  return reports;
}

function refuse(vendorCode: string, message: string, cause?: unknown): SealflowError {
  return new SealflowError('VENDOR_REJECTED', message, {
    retryable: false,
    ...(cause === undefined ? {} : { cause }),
    details: { vendor: VENDOR, vendorCode },
  });
}

function unsupported(what: string): SealflowError {
  return new SealflowError('VENDOR_UNSUPPORTED', `The local signer does not support ${what}.`, {
    retryable: false,
    details: { vendor: VENDOR },
  });
}

function keyReused(context: VendorCallContext, method: string): SealflowError {
  return refuse(
    'IDEMPOTENCY_KEY_REUSED',
    `Idempotency key "${context.idempotencyKey}" was used for a different ${method} request.`,
  );
}
