/**
 * `esignVendor()`: core's SigningVendor port on e签宝 open API v3.
 *
 * The platform's organisation seal is applied by e签宝 as the flow starts (自动盖章); a person signs on e签宝's sign
 * page through a link (V3 has no silent signing for persons; the legacy v1 silent signing is an option, see
 * silent-sign.ts); a funder's organisation seals later with its own
 * signing call, with a seal of its own that it authorised to the platform's company. Everything a later process needs
 * to read a flow back (our create key, the request's fingerprint, each signer's role, the roles still to come, each
 * document's key) is written into e签宝's own objects (see tags.ts), so the adapter keeps no store of its own.
 */
import {
  isWholePdf,
  type Clock,
  inspectPdf,
  maskText,
  NotFoundError,
  type Scheduler,
  SealflowError,
  type SealPlacement,
  type SignedDocument,
  type SignerSpec,
  type SigningCapabilities,
  type SigningVendor,
  systemClock,
  systemScheduler,
  type VendorCallbackEvent,
  type VendorCallContext,
  type VendorDocumentRef,
  type VendorFlow,
  type VendorFlowStatus,
} from '@sealflow/core';
import axiosDefault, { type AxiosInstance, isAxiosError } from 'axios';
import { z } from 'zod';
import { createEsignClient, type EsignClient, type EsignClientOptions } from '../client/client.js';
import type { EsignCreateLog } from './create-log.js';
import { ESIGN_VENDOR_ID } from '../client/errors.js';
import { type CallbackQuery, md5Base64, verifyCallback } from '../client/signature.js';
import {
  beijingTime,
  DEFAULT_SILENT_SIGN_UNAUTHORIZED_CODES,
  type EsignPersonSilentSignOptions,
  psnIdOf,
  silentSignUnauthorized,
} from './silent-sign.js';
import {
  fingerprint,
  formatTag,
  keyDigest,
  keyOfUploadName,
  parseTag,
  safeFileName,
  safeTitle,
  uploadName,
} from './tags.js';

/** Where a seal box's `x`/`y` point goes in e签宝's `positionX`/`positionY`. */
export type EsignPositionAnchor = 'centre' | 'lower-left';

/** Options of {@link esignVendor}: the client's options plus how flows are built and found. */
export interface EsignVendorOptions extends EsignClientOptions {
  /** The vendor id core routes by and puts in callback URLs. Default `esign`. */
  id?: string;
  /** A client to use instead of one made from these options (the options still give the secret for callbacks). */
  client?: EsignClient;
  /**
   * e签宝 organisation ids (orgId) by unified social credit code. An organisation not listed is named by its
   * registered name and credit code, which e签宝 resolves to the organisation of that name.
   */
  orgIds?: Record<string, string>;
  /**
   * e签宝 business codes that mean "no such sign flow". e签宝 does not document one for V3; `getFlow` throws
   * `NotFoundError` for these. Default none: an unknown flow is then `VENDOR_REJECTED`.
   */
  unknownFlowCodes?: number[];
  /** e签宝's own SMS / e-mail notices to signers: `''` none (default), `'1'` SMS, `'2'` e-mail, `'1,2'`. */
  noticeTypes?: string;
  /** How the person proves identity on the sign page (`authConfig.psnAvailableAuthModes`), e.g. `['PSN_FACE']`. */
  personAuthModes?: string[];
  /** Willingness checks on the sign page (`authConfig.willingnessAuthModes`), e.g. `['CODE_SMS']`. */
  willingnessAuthModes?: string[];
  /** Where the sign page sends the person afterwards. */
  redirectUrl?: string;
  /**
   * Whether a placement's `x`/`y` with a width and height become the box's centre (default; what the emulator and
   * most integrations assume) or its lower-left corner in `positionX`/`positionY`. e签宝 does not say which it uses.
   */
  positionAnchor?: EsignPositionAnchor;
  /** How long an upload may stay "uploading"/"converting" before `uploadDocument` gives up (retryable). Default 30 s. */
  fileReadyTimeoutMs?: number;
  /** Pause between file status reads while waiting. Default 500 ms. */
  fileReadyPollMs?: number;
  /**
   * How far back `createFlow` looks (by flow start time) for a flow an earlier, unanswered try of the same key made
   * in any process. Each create reads one `sign-flow-list` page per 100 flows started in this window. Default 1 day.
   */
  createLookbackMs?: number;
  /**
   * A durable note of each create before it is sent ({@link persistentEsignCreateLog}), shared by every process that
   * signs. With it, a create whose key was never sent skips the lookup above, and a retry looks only at flows started
   * since the first try (less `clockSkewMs`): the vendor calls per signing stop growing with the day's volume. Without
   * it (the default) every create reads the whole `createLookbackMs` window, which is always safe.
   */
  createLog?: EsignCreateLog;
  /**
   * How far e签宝's clock may be behind this host's, for the lookup a retry makes from its create log note. Default
   * 5 minutes.
   */
  clockSkewMs?: number;
  /**
   * How far back `findFlow` looks. Default 90 days, the longest a flow can sign. With a create log that answers
   * `firstSent`, only back to the key's first try (less `clockSkewMs`), and not at all for a key never sent.
   */
  findLookbackMs?: number;
  /** At most this many `sign-flow-list` pages (100 flows each) per lookup. Default 50. */
  maxLookupPages?: number;
  /** Accepted distance of a callback's timestamp from this server's clock. Default 15 minutes. */
  callbackToleranceMs?: number;
  /**
   * Called with every callback that passed verification, before it is mapped: keep it as evidence. The body is what
   * e签宝 sent (it masks mobiles itself).
   */
  onVerifiedCallback?: (callback: EsignVerifiedCallback) => void | Promise<void>;
  /**
   * e签宝's legacy v1 silent signing for persons (静默签署授权 + 签署方自动盖章), off by default. With
   * `{ enabled: true }`, a person signer with `autoSign` is signed through the person's v1 authorisation instead of
   * being refused, and the vendor declares `personAutoSign`. It needs e签宝's consent in your contract; see the README.
   */
  personSilentSign?: EsignPersonSilentSignOptions;
  /** Used for the upload PUT and the downloads (the API calls use the client's). Default: axios' default instance. */
  http?: AxiosInstance;
}

/** A callback that passed verification, as e签宝 sent it. */
export interface EsignVerifiedCallback {
  receivedAt: number;
  action: string;
  signFlowId: string;
  /** The raw body, exactly as received. */
  rawBody: string;
  body: Record<string, unknown>;
}

/** A port callback event with the verified raw e签宝 event kept alongside, for evidence. */
export interface EsignCallbackEvent extends VendorCallbackEvent {
  raw: EsignVerifiedCallback;
}

const CAPABILITIES: SigningCapabilities = {
  organizationAutoSeal: true,
  // V3 refuses autoSign for a person (个人签署不支持自动签署); persons sign on the sign page unless the legacy v1
  // silent signing is switched on (personSilentSign).
  personAutoSign: false,
  vendorTemplates: true,
  callbacks: true,
  appendSigners: true,
  // e签宝 signs with CA certificates in PAdES-style signatures; core verifies them like any other PDF signature.
  padesOutput: true,
  // ≤10 signers per create call, ≤50 per flow.
  maxSignersPerFlow: 10,
  // No V3 call this adapter uses hands out RFC 3161 tokens, so there are none to report and routing.requireTimestamps
  // cannot be kept here (see the README).
  timestamps: false,
  // 国密 (SM2) certificates are an account-level product at e签宝, not part of the V3 calls this adapter makes.
  sm2: false,
};

const DAY = 86_400_000;
const MAX_FLOW_LIFETIME_MS = 90 * DAY;
const PAGE_SIZE = 100;
/** Reads of one `sign-flow-list` page before a lookup fails, and the first pause between them (doubled each time). */
const LIST_PAGE_TRIES = 4;
const LIST_PAGE_RETRY_MS = 100;

// ---------------------------------------------------------------------------------------------- wire shapes

const fileUploadSchema = z.looseObject({ fileId: z.string().min(1), fileUploadUrl: z.string().min(1) });
const fileDetailSchema = z.looseObject({
  fileId: z.string().optional(),
  fileName: z.string().nullish(),
  fileStatus: z.number().int(),
  fileDownloadUrl: z.string().nullish(),
});
const filledSchema = z.looseObject({ fileId: z.string().min(1) });
const createdSchema = z.looseObject({ signFlowId: z.string().min(1) });
const keywordSchema = z.looseObject({
  keywordPositions: z
    .array(
      z.looseObject({
        keyword: z.string(),
        searchResult: z.boolean().nullish(),
        positions: z
          .array(
            z.looseObject({
              pageNum: z.number(),
              coordinates: z.array(z.looseObject({ positionX: z.number(), positionY: z.number() })).nullish(),
            }),
          )
          .nullish(),
      }),
    )
    .nullish(),
});
const fieldSchema = z.looseObject({
  customBizNum: z.string().nullish(),
  fileId: z.string().nullish(),
  signFieldStatus: z.union([z.string(), z.number()]).nullish(),
  statusUpdateTime: z.number().nullish(),
  normalSignFieldConfig: z.looseObject({ sealId: z.string().nullish(), autoSign: z.boolean().nullish() }).nullish(),
});
const signerSchema = z.looseObject({
  signerType: z.number().nullish(),
  signOrder: z.number().nullish(),
  signStatus: z.number().nullish(),
  psnSigner: z.looseObject({ psnId: z.string().nullish() }).nullish(),
  orgSigner: z.looseObject({ orgId: z.string().nullish() }).nullish(),
  signFields: z.array(fieldSchema).nullish(),
});
const detailSchema = z.looseObject({
  signFlowStatus: z.number().int(),
  signFlowDescription: z.string().nullish(),
  revokeReason: z.string().nullish(),
  signFlowFinishTime: z.number().nullish(),
  signFlowConfig: z.looseObject({ autoFinish: z.boolean().nullish(), signFlowTitle: z.string().nullish() }).nullish(),
  docs: z.array(z.looseObject({ fileId: z.string(), fileName: z.string().nullish() })).nullish(),
  signers: z.array(signerSchema).nullish(),
});
type Detail = z.infer<typeof detailSchema>;
const listSchema = z.looseObject({
  total: z.number().nullish(),
  signFlowInfos: z
    .array(
      z.looseObject({
        signFlowId: z.string(),
        signFlowCreateTime: z.number().nullish(),
        signers: z.array(signerSchema).nullish(),
      }),
    )
    .nullish(),
});
const signUrlSchema = z.looseObject({ url: z.string().nullish(), shortUrl: z.string().nullish() });
const downloadSchema = z.looseObject({
  files: z
    .array(z.looseObject({ fileId: z.string(), fileName: z.string().nullish(), downloadUrl: z.string().min(1) }))
    .nullish(),
});
const callbackBodySchema = z.looseObject({
  action: z.string().min(1),
  signFlowId: z.string().min(1),
  timestamp: z.union([z.number(), z.string()]).nullish(),
  signOrder: z.number().nullish(),
  signResult: z.union([z.number(), z.string()]).nullish(),
  customBizNum: z.string().nullish(),
  operateTime: z.number().nullish(),
  signFlowStatus: z.union([z.number(), z.string()]).nullish(),
  signFlowFinishTime: z.number().nullish(),
  operator: z.looseObject({ psnId: z.string().nullish() }).nullish(),
  organization: z.looseObject({ orgId: z.string().nullish() }).nullish(),
});

const FLOW_STATUS: Record<number, VendorFlowStatus> = {
  0: 'draft',
  1: 'signing',
  2: 'completed',
  3: 'revoked',
  5: 'expired',
  7: 'rejected',
};
const SIGNER_STATUS: Record<number, VendorFlow['signers'][number]['status']> = {
  0: 'waiting',
  1: 'signing',
  2: 'signed',
  3: 'signing',
  4: 'rejected',
};

// ---------------------------------------------------------------------------------------------- errors

function rejected(message: string, vendorCode: string, extra: Record<string, unknown> = {}): SealflowError {
  return new SealflowError('VENDOR_REJECTED', message, {
    retryable: false,
    details: { vendor: ESIGN_VENDOR_ID, vendorCode, ...extra },
  });
}

function unsupported(message: string, capability: string): SealflowError {
  return new SealflowError('VENDOR_UNSUPPORTED', message, {
    retryable: false,
    details: { vendor: ESIGN_VENDOR_ID, capability },
  });
}

/** A failed upload PUT or download GET (Aliyun OSS, not the API gateway). */
function storageError(what: string, cause: unknown): SealflowError {
  const status = isAxiosError(cause) ? cause.response?.status : undefined;
  const retryable = status === undefined || status >= 500 || status === 429 || status === 403;
  return new SealflowError(
    retryable ? 'VENDOR_UNAVAILABLE' : 'VENDOR_REJECTED',
    `e签宝 file storage refused the ${what}${status === undefined ? ' (no answer)' : ` (HTTP ${status})`}. ` +
      (retryable
        ? 'It can be tried again; a new link is fetched each time.'
        : 'Check that nothing between this server and e签宝 changes the bytes or headers.'),
    { cause, retryable, details: { vendor: ESIGN_VENDOR_ID, httpStatus: status } },
  );
}

function cutOff(flowId: string, fileId: string, length: number): SealflowError {
  return new SealflowError(
    'VENDOR_BAD_RESPONSE',
    `e签宝 file storage sent ${length} bytes for a signed document of flow ${flowId} that are not a whole PDF (no ` +
      '%PDF- header or no %%EOF at the end: cut off on the way). It is tried again with a new link.',
    { retryable: true, details: { vendor: ESIGN_VENDOR_ID, flowId, fileId, bytes: length } },
  );
}

// ---------------------------------------------------------------------------------------------- the adapter

/**
 * The SigningVendor on e签宝 open API v3. Configure it with the app's credentials and host; everything else has a
 * default. See the package README for what is certain and what is configurable.
 */
export function esignVendor(options: EsignVendorOptions): SigningVendor {
  const client = options.client ?? createEsignClient(options);
  const clock: Clock = options.clock ?? systemClock;
  const scheduler: Scheduler = options.scheduler ?? systemScheduler;
  const http = options.http ?? options.axios ?? axiosDefault;
  const id = options.id ?? ESIGN_VENDOR_ID;
  const unknownFlowCodes = new Set(options.unknownFlowCodes ?? []);
  const anchor = options.positionAnchor ?? 'centre';
  const fileReadyTimeoutMs = options.fileReadyTimeoutMs ?? 30_000;
  const fileReadyPollMs = options.fileReadyPollMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const silent = options.personSilentSign?.enabled === true ? options.personSilentSign : undefined;
  const unauthorizedCodes = new Set(silent?.unauthorizedCodes ?? DEFAULT_SILENT_SIGN_UNAUTHORIZED_CODES);

  // Same key, same answer, within this process: a retry after a lost answer does not upload or fill twice.
  const uploads = new Map<string, { ref: VendorDocumentRef; fingerprint: string }>();
  // Flows this process created, by idempotency key: a retry here needs no lookup at e签宝.
  const created = new Map<string, { flowId: string; fingerprint: string }>();
  // What each file this process uploaded or filled holds (the upload's or fill's fingerprint), by e签宝's file id.
  const fileContents = new Map<string, string>();
  // Document keys by e签宝 file id, learnt from uploads and file names.
  const documentKeys = new Map<string, string>();

  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const cancel = scheduler.schedule(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          cancel();
          reject(signal.reason);
        },
        { once: true },
      );
    });

  const call = <T>(
    method: 'GET' | 'POST',
    path: string,
    context: VendorCallContext | undefined,
    extra: { body?: unknown; query?: Record<string, string | number | undefined>; schema?: z.ZodType<T> } = {},
  ): Promise<T> =>
    client.request<T>(method, path, {
      ...extra,
      ...(context?.signal ? { signal: context.signal } : {}),
    });

  async function waitUntilUsable(fileId: string, context: VendorCallContext): Promise<void> {
    const deadline = clock.now() + fileReadyTimeoutMs;
    for (;;) {
      const file = await call('GET', `/v3/files/${encodeURIComponent(fileId)}`, context, { schema: fileDetailSchema });
      // Only 2 (uploaded) and 5 (converted to PDF) may be used in a sign flow.
      if (file.fileStatus === 2 || file.fileStatus === 5) return;
      if (file.fileStatus === 3 || file.fileStatus === 9 || file.fileStatus === 12) {
        throw rejected(
          `e签宝 could not take the uploaded file ${fileId} (file status ${file.fileStatus}: the upload or the PDF ` +
            'conversion failed). Check that the document is a valid, unencrypted PDF and upload it again.',
          `FILE_STATUS_${file.fileStatus}`,
          { fileId },
        );
      }
      if (clock.now() >= deadline) {
        throw new SealflowError(
          'VENDOR_FILE_NOT_READY',
          `e签宝 had not finished processing file ${fileId} after ${fileReadyTimeoutMs} ms (status ` +
            `${file.fileStatus}). It can be tried again; raise fileReadyTimeoutMs if this is common.`,
          { retryable: true, details: { vendor: ESIGN_VENDOR_ID, fileId, fileStatus: file.fileStatus } },
        );
      }
      await sleep(fileReadyPollMs, context.signal);
    }
  }

  async function keyOfFile(fileId: string, context: VendorCallContext): Promise<string | undefined> {
    const known = documentKeys.get(fileId);
    if (known !== undefined) return known;
    const file = await call('GET', `/v3/files/${encodeURIComponent(fileId)}`, context, { schema: fileDetailSchema });
    const key = keyOfUploadName(file.fileName);
    if (key !== undefined) documentKeys.set(fileId, key);
    return key;
  }

  async function fetchBytes(url: string, what: string, signal?: AbortSignal): Promise<Uint8Array> {
    try {
      const response = await http.get<ArrayBuffer>(url, {
        responseType: 'arraybuffer',
        timeout: timeoutMs,
        maxRedirects: 3,
        ...(signal ? { signal } : {}),
      });
      return new Uint8Array(response.data);
    } catch (error) {
      throw storageError(what, error);
    }
  }

  // ------------------------------------------------------------------------------- placements → sign fields

  interface Position {
    positionPage: string;
    positionX: number;
    positionY: number;
    width?: number;
    height?: number;
  }

  async function positionsFor(
    placements: SealPlacement[],
    fileIdOf: (documentKey: string) => string,
    context: VendorCallContext,
  ): Promise<{ fileId: string; position: Position }[]> {
    const inspected = new Map<string, Awaited<ReturnType<typeof inspectPdf>>>();
    const out: { fileId: string; position: Position }[] = [];
    for (const placement of placements) {
      const fileId = fileIdOf(placement.documentKey);
      if ('keyword' in placement) {
        const found = await call('POST', `/v3/files/${encodeURIComponent(fileId)}/keyword-positions`, context, {
          body: { keywords: [placement.keyword] },
          schema: keywordSchema,
        });
        const hit = found.keywordPositions
          ?.find((k) => k.keyword === placement.keyword)
          ?.positions?.find((p) => (p.coordinates?.length ?? 0) > 0);
        const at = hit?.coordinates?.[0];
        if (!hit || !at) {
          throw rejected(
            `The keyword "${placement.keyword}" of a seal placement is not in document "${placement.documentKey}" ` +
              'as e签宝 reads it. Check the template, or place the seal by coordinates.',
            'KEYWORD_NOT_FOUND',
            { documentKey: placement.documentKey },
          );
        }
        out.push({
          fileId,
          position: {
            positionPage: String(hit.pageNum),
            positionX: round2(at.positionX + (placement.offsetX ?? 0)),
            positionY: round2(at.positionY + (placement.offsetY ?? 0)),
          },
        });
        continue;
      }
      if ('field' in placement) {
        // e签宝 places by coordinates only: read the field's box from the uploaded PDF itself.
        let info = inspected.get(fileId);
        if (!info) {
          const file = await call('GET', `/v3/files/${encodeURIComponent(fileId)}`, context, {
            schema: fileDetailSchema,
          });
          if (!file.fileDownloadUrl) {
            throw rejected(`e签宝 gives no download link for file ${fileId}; upload it again.`, 'FILE_NOT_READABLE');
          }
          info = await inspectPdf(await fetchBytes(file.fileDownloadUrl, 'document download', context.signal));
          inspected.set(fileId, info);
        }
        const field = info.fields.find((f) => f.name === placement.field && f.page >= 0);
        if (!field) {
          throw rejected(
            `Document "${placement.documentKey}" has no form field "${placement.field}" to place a seal on. ` +
              'Check the template, or place the seal by coordinates.',
            'FIELD_NOT_FOUND',
            { documentKey: placement.documentKey },
          );
        }
        out.push({
          fileId,
          position: box(field.page, field.rect.x, field.rect.y, field.rect.width, field.rect.height),
        });
        continue;
      }
      out.push({ fileId, position: box(placement.page, placement.x, placement.y, placement.width, placement.height) });
    }
    return out;
  }

  function box(page: number, x: number, y: number, width?: number, height?: number): Position {
    const sized = width !== undefined && height !== undefined;
    const centred = anchor === 'centre' && sized;
    return {
      positionPage: String(page + 1),
      positionX: round2(centred ? x + width / 2 : x),
      positionY: round2(centred ? y + height / 2 : y),
      ...(sized ? { width: round2(width), height: round2(height) } : {}),
    };
  }

  async function signerBody(
    signer: SignerSpec,
    tag: string,
    fileIdOf: (documentKey: string) => string,
    context: VendorCallContext,
  ): Promise<Record<string, unknown>> {
    if (signer.placements.length === 0) {
      throw rejected(
        `Signer "${signer.role}" has no seal placement; e签宝 needs a position for every signer.`,
        'NO_PLACEMENT',
        { role: signer.role },
      );
    }
    const positions = await positionsFor(signer.placements, fileIdOf, context);
    const signFields = positions.map(({ fileId, position }) => ({
      fileId,
      customBizNum: tag,
      signFieldType: 0,
      normalSignFieldConfig: {
        autoSign: signer.kind === 'organization' && signer.autoSign,
        freeMode: false,
        movableSignField: false,
        signFieldStyle: 1,
        ...(signer.kind === 'organization' && signer.sealId ? { assignedSealId: signer.sealId } : {}),
        ...(position.width === undefined ? {} : { signFieldWidth: position.width, signFieldHeight: position.height }),
        signFieldPosition: {
          positionPage: position.positionPage,
          positionX: position.positionX,
          positionY: position.positionY,
        },
      },
    }));
    if (signer.kind === 'person') {
      if (!signer.mobile) {
        throw rejected(
          `Signer "${signer.role}" has no mobile number: e签宝 names a person signer by mobile (psnAccount) and ` +
            'sends the sign page there. Add the mobile to the request.',
          'NO_MOBILE',
          { role: signer.role },
        );
      }
      return {
        signerType: 0,
        signConfig: { signOrder: signer.order },
        ...(options.noticeTypes === undefined ? {} : { noticeConfig: { noticeTypes: options.noticeTypes } }),
        psnSignerInfo: {
          psnAccount: signer.mobile,
          psnInfo: { psnName: signer.name, psnIDCardNum: signer.idNumber, psnIDCardType: 'CRED_PSN_CH_IDCARD' },
        },
        signFields,
      };
    }
    const orgId = options.orgIds?.[signer.idNumber];
    return {
      signerType: 1,
      signConfig: { signOrder: signer.order },
      orgSignerInfo: orgId
        ? { orgId }
        : { orgName: signer.name, orgInfo: { orgIDCardNum: signer.idNumber, orgIDCardType: 'CRED_ORG_USCC' } },
      signFields,
    };
  }

  // ------------------------------------------------------------------------------- flows as the port sees them

  const detailOf = async (flowId: string, context: VendorCallContext): Promise<Detail> => {
    try {
      return await call('GET', `/v3/sign-flow/${encodeURIComponent(flowId)}/detail`, context, {
        schema: detailSchema,
      });
    } catch (error) {
      const vendorCode = error instanceof SealflowError ? error.details?.vendorCode : undefined;
      if (typeof vendorCode === 'number' && unknownFlowCodes.has(vendorCode)) {
        throw new NotFoundError(`e签宝 does not know sign flow ${flowId}; check the flow id and the environment.`, {
          cause: error,
          details: { vendor: ESIGN_VENDOR_ID, flowId, vendorCode },
        });
      }
      throw error;
    }
  };

  /** The tags of a flow's fields: its create key, the roles at e签宝, and the roles still to sign with their call. */
  function tagsOf(signers: z.infer<typeof signerSchema>[] | null | undefined) {
    const tags = (signers ?? []).flatMap((s) => (s.signFields ?? []).map((f) => parseTag(f.customBizNum)));
    const present = tags.filter((t) => t !== undefined);
    const roles = new Set(present.map((t) => t.role));
    const waiting = [...new Set(present.flatMap((t) => t.waiting))].filter((role) => !roles.has(role));
    return { first: present[0], waiting };
  }

  function toVendorFlow(flowId: string, detail: Detail): VendorFlow {
    const { waiting } = tagsOf(detail.signers);
    const signers: VendorFlow['signers'] = (detail.signers ?? []).map((s, i) => {
      const fields = s.signFields ?? [];
      const role = fields.map((f) => parseTag(f.customBizNum)?.role).find((r) => r !== undefined) ?? `signer-${i + 1}`;
      const status = SIGNER_STATUS[s.signStatus ?? 0] ?? 'waiting';
      const out: VendorFlow['signers'][number] = { role, status };
      if (status === 'signed') {
        const times = fields.map((f) => f.statusUpdateTime).filter((t): t is number => typeof t === 'number');
        out.signedAt = times.length ? Math.max(...times) : (detail.signFlowFinishTime ?? clock.now());
        const sealId = fields.map((f) => f.normalSignFieldConfig?.sealId).find((x) => typeof x === 'string' && x);
        if (s.signerType === 1 && sealId) out.seal = { sealId };
      }
      return out;
    });
    for (const role of waiting) signers.push({ role, status: 'waiting' });
    const status = FLOW_STATUS[detail.signFlowStatus] ?? 'failed';
    const flow: VendorFlow = { flowId, status, signers };
    if (status === 'rejected' || status === 'revoked' || status === 'expired' || status === 'failed') {
      const reason = detail.revokeReason ?? detail.signFlowDescription;
      if (reason) flow.reason = maskText(reason).slice(0, 200);
    }
    return flow;
  }

  /**
   * A flow made with signers still to come runs without autoFinish, so e签宝 waits for them; once everyone at
   * e签宝 signed and nobody is still to come, it is finished here.
   */
  async function settled(flowId: string, context: VendorCallContext): Promise<VendorFlow> {
    let detail = await detailOf(flowId, context);
    const signers = detail.signers ?? [];
    if (
      detail.signFlowStatus === 1 &&
      detail.signFlowConfig?.autoFinish !== true &&
      signers.length > 0 &&
      signers.every((s) => s.signStatus === 2) &&
      tagsOf(signers).waiting.length === 0
    ) {
      try {
        await call('POST', `/v3/sign-flow/${encodeURIComponent(flowId)}/finish`, context, { body: {} });
      } catch (error) {
        // Finished meanwhile by another caller: the detail below says how it stands.
        if (!(error instanceof SealflowError) || error.retryable) throw error;
      }
      detail = await detailOf(flowId, context);
    }
    return toVendorFlow(flowId, detail);
  }

  /**
   * One `sign-flow-list` page, read again after a retryable failure. A lookup reads several pages, and all of them
   * must arrive for it to say anything: failing the whole lookup on one lost page would make a retry after a lost
   * answer (the moment a lookup matters) fail as often as the pages it reads, while a page is safe to read twice.
   */
  async function listPage(body: Record<string, unknown>, context: VendorCallContext) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call('POST', '/v3/sign-flow/sign-flow-list', context, { body, schema: listSchema });
      } catch (error) {
        const again = error instanceof SealflowError && error.retryable && attempt < LIST_PAGE_TRIES;
        if (!again || context.signal?.aborted) throw error;
        await sleep(LIST_PAGE_RETRY_MS * 2 ** (attempt - 1), context.signal);
      }
    }
  }

  /** The flows whose fields carry `key`, newest first, looking back `lookbackMs` by start time. */
  async function flowsByKey(key: string, lookbackMs: number, context: VendorCallContext) {
    const found: { flowId: string; fingerprint: string; createdAt: number }[] = [];
    const maxPages = options.maxLookupPages ?? 50;
    const from = clock.now() - lookbackMs;
    for (let pageNum = 1; pageNum <= maxPages; pageNum++) {
      const page = await listPage(
        { pageNum, pageSize: PAGE_SIZE, signFlowStartTimeFrom: from, signFlowStartTimeTo: clock.now() + DAY },
        context,
      );
      const infos = page.signFlowInfos ?? [];
      for (const info of infos) {
        const { first } = tagsOf(info.signers);
        if (first?.key === key) {
          found.push({
            flowId: info.signFlowId,
            fingerprint: first.fingerprint,
            createdAt: info.signFlowCreateTime ?? Number.POSITIVE_INFINITY,
          });
        }
      }
      if (infos.length < PAGE_SIZE || (page.total ?? 0) <= pageNum * PAGE_SIZE) break;
    }
    // The first flow the key made comes first; a later one could only come from a key reused for another request.
    return found.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** How far back a flow made by a create first sent at `firstSentAt` can have started, by e签宝's clock. */
  const sinceFirstTry = (firstSentAt: number) => clock.now() - firstSentAt + (options.clockSkewMs ?? 5 * 60_000);

  /**
   * The flows an earlier try of the create `key` may have made. With a create log, none when no try was ever sent
   * (the note is written before the request, so a crash after it still leaves the note), else those started since
   * the first try; without one, every flow of the `createLookbackMs` window.
   */
  async function earlierCreates(key: string, context: VendorCallContext) {
    const lookbackMs = options.createLookbackMs ?? DAY;
    if (!options.createLog) return flowsByKey(key, lookbackMs, context);
    const now = clock.now();
    const firstSentAt = await options.createLog.note(key, now);
    if (firstSentAt === undefined) return [];
    return flowsByKey(key, Math.min(lookbackMs, sinceFirstTry(firstSentAt)), context);
  }

  /**
   * Adds the v1 签署方自动盖章 fields of the persons signed for without them to the draft flow, then starts it, so
   * that e签宝 seals each at their turn. A person whose fields are at e签宝 already (an earlier try whose answer was
   * lost) is skipped; a flow that already started is left as it is.
   */
  async function signSilently(
    flowId: string,
    persons: SignerSpec[],
    input: Parameters<SigningVendor['createFlow']>[0],
    made: { key: string; print: string },
    context: VendorCallContext,
  ): Promise<void> {
    if (!silent) return;
    const detail = await detailOf(flowId, context);
    if (detail.signFlowStatus !== 0) return;
    const present = new Set(
      (detail.signers ?? []).flatMap((s) => (s.signFields ?? []).map((f) => parseTag(f.customBizNum)?.role)),
    );
    // Fields go on the flow's own files. A try resuming after a crash re-uploaded the documents and holds new file
    // ids; the flow keeps the first try's, in the order the request listed its documents (same fingerprint).
    const flowDocs = detail.docs ?? [];
    const sameDocs =
      flowDocs.length === input.documents.length &&
      flowDocs.every((d, i) => d.fileName == null || d.fileName === safeFileName(input.documents[i]!.fileName));
    const fileIds = new Map(input.documents.map((d, i) => [d.key, sameDocs ? flowDocs[i]!.fileId : d.vendorFileId]));
    const fileIdOf = (documentKey: string) => {
      const fileId = fileIds.get(documentKey);
      if (!fileId) {
        throw rejected(`A seal placement names document "${documentKey}", which is not in the flow.`, 'NO_DOCUMENT');
      }
      return fileId;
    };
    for (const person of persons) {
      if (present.has(person.role)) continue;
      if (person.placements.length === 0) {
        throw rejected(
          `Signer "${person.role}" has no seal placement; e签宝 needs a position for every signer.`,
          'NO_PLACEMENT',
          { role: person.role },
        );
      }
      const accountId = silent.accountId
        ? await silent.accountId(person, context)
        : await psnIdOf(client, person, context);
      try {
        if (silent.authorization === 'per-flow') {
          // The flow's deadline comes from the saved request, so every try sets the same authorisation.
          await call('POST', `/v1/signAuth/${encodeURIComponent(accountId)}`, context, {
            body: input.deadlineAt === undefined ? {} : { deadline: beijingTime(input.deadlineAt) },
          });
        }
        const positions = await positionsFor(person.placements, fileIdOf, context);
        const tag = formatTag({ key: made.key, fingerprint: made.print, role: person.role, waiting: [] });
        await call('POST', `/v1/signflows/${encodeURIComponent(flowId)}/signfields/autoSign`, context, {
          body: {
            signfields: positions.map(({ fileId, position }) => ({
              fileId,
              authorizedAccountId: accountId,
              order: person.order,
              posBean: {
                posPage: position.positionPage,
                posX: position.positionX,
                posY: position.positionY,
                ...(position.width === undefined ? {} : { width: position.width }),
              },
              signType: 1,
              thirdOrderNo: tag,
            })),
          },
        });
      } catch (error) {
        const vendorCode = error instanceof SealflowError ? error.details?.vendorCode : undefined;
        if (typeof vendorCode === 'number' && unauthorizedCodes.has(vendorCode)) {
          throw silentSignUnauthorized(person.role, 'NOT_AUTHORIZED', { cause: error, vendorCode });
        }
        throw error;
      }
    }
    try {
      await call('POST', `/v3/sign-flow/${encodeURIComponent(flowId)}/start`, context, { body: {} });
    } catch (error) {
      // Started meanwhile by a concurrent try: that is what was asked for.
      if (!(error instanceof SealflowError) || error.retryable) throw error;
      if ((await detailOf(flowId, context)).signFlowStatus === 0) throw error;
    }
  }

  function createFingerprint(input: Parameters<SigningVendor['createFlow']>[0]): string {
    return fingerprint({
      title: input.title,
      businessNo: input.businessNo,
      // A file by what was put in it, not by e签宝's id: a try after a crash uploads the same bytes again and gets a
      // new file id, and must still find the flow the lost try created. Files this process did not make keep their id.
      documents: input.documents.map((d) => ({
        key: d.key,
        content: fileContents.get(d.vendorFileId) ?? d.vendorFileId,
        fileName: d.fileName,
      })),
      signers: input.signers,
      deadlineAt: input.deadlineAt,
      callbackUrl: input.callbackUrl,
    });
  }

  function keyReused(idempotencyKey: string, flowId: string): SealflowError {
    return rejected(
      `Idempotency key ${idempotencyKey} already created e签宝 flow ${flowId} for a different request; use a new key ` +
        'for a new request, or findFlow to adopt the flow the key made.',
      'IDEMPOTENCY_KEY_REUSED',
      { flowId },
    );
  }

  const vendor: SigningVendor = {
    id,
    capabilities: { ...CAPABILITIES, personAutoSign: silent !== undefined },

    async uploadDocument(document, context) {
      const print = fingerprint({ key: document.key, fileName: document.fileName, md5: md5Base64(document.bytes) });
      const earlier = uploads.get(context.idempotencyKey);
      if (earlier) {
        if (earlier.fingerprint !== print) throw keyReused(context.idempotencyKey, earlier.ref.vendorFileId);
        return earlier.ref;
      }
      if (document.bytes.byteLength === 0) {
        throw rejected(`Document "${document.key}" is empty; e签宝 takes files of at least one byte.`, 'EMPTY_FILE');
      }
      const contentMd5 = md5Base64(document.bytes);
      const contentType = 'application/pdf';
      const target = await call('POST', '/v3/files/file-upload-url', context, {
        body: {
          contentMd5,
          contentType,
          fileName: uploadName(document.key, document.fileName),
          fileSize: document.bytes.byteLength,
          convertToPDF: false,
        },
        schema: fileUploadSchema,
      });
      try {
        await http.put(target.fileUploadUrl, Buffer.from(document.bytes), {
          // The PUT must carry exactly the type and MD5 the link was issued for, and nothing e签宝-specific.
          headers: { 'Content-Type': contentType, 'Content-MD5': contentMd5 },
          transformRequest: [(data: unknown) => data],
          timeout: timeoutMs,
          maxBodyLength: Number.POSITIVE_INFINITY,
          maxContentLength: Number.POSITIVE_INFINITY,
          ...(context.signal ? { signal: context.signal } : {}),
        });
      } catch (error) {
        throw storageError('upload', error);
      }
      await waitUntilUsable(target.fileId, context);
      const ref = { key: document.key, vendorFileId: target.fileId, fileName: safeFileName(document.fileName) };
      documentKeys.set(target.fileId, document.key);
      fileContents.set(target.fileId, print);
      uploads.set(context.idempotencyKey, { ref, fingerprint: print });
      return ref;
    },

    async fillTemplate(input, context) {
      const print = fingerprint(input);
      const earlier = uploads.get(context.idempotencyKey);
      if (earlier) {
        if (earlier.fingerprint !== print) throw keyReused(context.idempotencyKey, earlier.ref.vendorFileId);
        return earlier.ref;
      }
      const filled = await call('POST', '/v3/files/create-by-doc-template', context, {
        body: {
          docTemplateId: input.vendorTemplateId,
          fileName: uploadName(input.key, input.fileName),
          components: Object.entries(input.values).map(([componentKey, componentValue]) => ({
            componentKey,
            componentValue,
          })),
          requiredCheck: true,
        },
        schema: filledSchema,
      });
      await waitUntilUsable(filled.fileId, context);
      const ref = { key: input.key, vendorFileId: filled.fileId, fileName: safeFileName(input.fileName) };
      documentKeys.set(filled.fileId, input.key);
      fileContents.set(filled.fileId, print);
      uploads.set(context.idempotencyKey, { ref, fingerprint: print });
      return ref;
    },

    async createFlow(input, context) {
      const persons = input.signers.filter((s) => s.kind === 'person' && s.autoSign);
      if (persons.length > 0 && !silent) {
        throw unsupported(
          `e签宝 V3 cannot sign for a person without the person (signer "${persons[0]!.role}"): persons sign on ` +
            "e签宝's sign page (autoSign: false, then signerUrl). This vendor lacks personAutoSign; e签宝's legacy v1 silent " +
            'signing is available with the personSilentSign option if your e签宝 contract covers it.',
          'personAutoSign',
        );
      }
      const key = keyDigest(context.idempotencyKey);
      const print = createFingerprint(input);
      // e签宝 takes no idempotency key: a flow an earlier, unanswered try made is found by the key in its fields.
      const known = created.get(context.idempotencyKey);
      const [earlier] = known ? [known] : await earlierCreates(key, context);
      if (earlier) {
        if (earlier.fingerprint !== print) throw keyReused(context.idempotencyKey, earlier.flowId);
        // An earlier try may have stopped between creating the draft and starting it.
        if (persons.length > 0) await signSilently(earlier.flowId, persons, input, { key, print }, context);
        return settled(earlier.flowId, context);
      }

      const fileIds = new Map(input.documents.map((d) => [d.key, d.vendorFileId]));
      const fileIdOf = (documentKey: string) => {
        const fileId = fileIds.get(documentKey);
        if (!fileId) {
          throw rejected(`A seal placement names document "${documentKey}", which is not in the flow.`, 'NO_DOCUMENT');
        }
        return fileId;
      };
      // An organisation that does not seal now signs later with its own call (appendSigner): e签宝 only learns of
      // it then, and the flow must not finish before.
      const later = input.signers.filter((s) => s.kind === 'organization' && !s.autoSign);
      // Persons signed for without them are added through the v1 API once the draft exists (signSilently).
      const immediate = input.signers.filter((s) => !later.includes(s) && !persons.includes(s));
      if (immediate.length === 0 && persons.length === 0) {
        throw rejected('A flow needs at least one signer who signs now; every signer was waiting.', 'NO_SIGNER');
      }
      const waiting = [...later, ...persons].map((s) => s.role);
      const signers = [];
      for (const signer of immediate) {
        signers.push(
          await signerBody(
            signer,
            formatTag({ key, fingerprint: print, role: signer.role, waiting }),
            fileIdOf,
            context,
          ),
        );
      }
      const expireTime =
        input.deadlineAt === undefined
          ? undefined
          : Math.min(input.deadlineAt, clock.now() + MAX_FLOW_LIFETIME_MS - 60_000);
      const authConfig = {
        ...(options.personAuthModes ? { psnAvailableAuthModes: options.personAuthModes } : {}),
        ...(options.willingnessAuthModes ? { willingnessAuthModes: options.willingnessAuthModes } : {}),
      };
      const answer = await call('POST', '/v3/sign-flow/create-by-file', context, {
        body: {
          docs: input.documents.map((d) => ({ fileId: d.vendorFileId, fileName: safeFileName(d.fileName) })),
          signFlowConfig: {
            signFlowTitle: safeTitle(input.title),
            // A draft, when persons' v1 fields are still to be added: e签宝 seals them when the flow starts.
            autoStart: persons.length === 0,
            autoFinish: waiting.length === 0,
            ...(expireTime === undefined ? {} : { signFlowExpireTime: expireTime }),
            ...(input.callbackUrl ? { notifyUrl: input.callbackUrl } : {}),
            noticeConfig: { noticeTypes: options.noticeTypes ?? '' },
            ...(options.redirectUrl ? { redirectConfig: { redirectUrl: options.redirectUrl } } : {}),
            ...(Object.keys(authConfig).length ? { authConfig } : {}),
          },
          signers,
        },
        schema: createdSchema,
      });
      for (const d of input.documents) documentKeys.set(d.vendorFileId, d.key);
      created.set(context.idempotencyKey, { flowId: answer.signFlowId, fingerprint: print });
      if (persons.length > 0) await signSilently(answer.signFlowId, persons, input, { key, print }, context);
      return settled(answer.signFlowId, context);
    },

    async appendSigner(flowId, signer, context) {
      if (signer.kind === 'person') {
        throw unsupported(
          'e签宝 persons sign on the sign page of the flow they were created in; a person cannot be added to sign ' +
            'later through this adapter.',
          'appendSigners',
        );
      }
      if (!signer.autoSign) {
        throw unsupported(
          `Organisation "${signer.role}" can only be added to sign with its seal automatically (autoSign: true); ` +
            "signing by a transactor on e签宝's page is not supported by this adapter.",
          'appendSigners',
        );
      }
      const detail = await detailOf(flowId, context);
      const flow = toVendorFlow(flowId, detail);
      const { first, waiting } = tagsOf(detail.signers);
      const present = flow.signers.find((s) => s.role === signer.role && !waiting.includes(s.role));
      // The same call again (its answer was lost): the signer is already at e签宝.
      if (present) return settled(flowId, context);
      if (flow.status !== 'signing' && flow.status !== 'draft') {
        throw rejected(
          `e签宝 flow ${flowId} is ${flow.status}; a signer can only be added to a flow that is still signing.`,
          'FLOW_FINISHED',
          { flowId, status: flow.status },
        );
      }
      if (detail.signFlowConfig?.autoFinish === true) {
        throw rejected(
          `e签宝 flow ${flowId} finishes by itself once its signers signed (autoFinish), so no signer can be added. ` +
            'Create the flow with the later signer waiting (autoSign: false) instead.',
          'FLOW_AUTO_FINISH',
          { flowId },
        );
      }
      const fileIds = new Map<string, string>();
      for (const doc of detail.docs ?? []) {
        const key = await keyOfFile(doc.fileId, context);
        if (key !== undefined) fileIds.set(key, doc.fileId);
      }
      const fileIdOf = (documentKey: string) => {
        const fileId = fileIds.get(documentKey);
        if (!fileId) {
          throw rejected(
            `A seal placement names document "${documentKey}", which is not in flow ${flowId}.`,
            'NO_DOCUMENT',
          );
        }
        return fileId;
      };
      const tag = formatTag({
        key: first?.key ?? keyDigest(flowId),
        fingerprint: fingerprint(signer),
        role: signer.role,
        waiting: [],
      });
      await call('POST', `/v3/sign-flow/${encodeURIComponent(flowId)}/signers/sign-fields`, context, {
        body: { signers: [await signerBody(signer, tag, fileIdOf, context)] },
      });
      return settled(flowId, context);
    },

    async findFlow(lookup, context) {
      const key = keyDigest(lookup.createKey);
      let lookbackMs = options.findLookbackMs ?? 90 * DAY;
      if (options.createLog?.firstSent) {
        // The note is written before a create is sent: a key without one made no flow, anywhere.
        const firstSentAt = await options.createLog.firstSent(key);
        if (firstSentAt === undefined) return null;
        lookbackMs = Math.min(lookbackMs, sinceFirstTry(firstSentAt));
      }
      const [first] = await flowsByKey(key, lookbackMs, context);
      if (!first) return null;
      const flow = await settled(first.flowId, context);
      // A draft is a create that stopped before its persons' silent signing started it (refused, or cut off): only
      // createFlow with the same key finishes it, so it is not a flow to adopt.
      return flow.status === 'draft' ? null : flow;
    },

    getFlow: (flowId, context) => settled(flowId, context),

    async signerUrl(flowId, role, context) {
      const detail = await detailOf(flowId, context);
      const signer = (detail.signers ?? []).find((s) =>
        (s.signFields ?? []).some((f) => parseTag(f.customBizNum)?.role === role),
      );
      if (!signer) {
        throw rejected(`e签宝 flow ${flowId} has no signer "${role}" yet.`, 'NO_SUCH_SIGNER', { flowId, role });
      }
      const body: Record<string, unknown> = { urlType: 2, clientType: 'ALL', needLogin: false };
      if (signer.signerType === 1) {
        if (!signer.orgSigner?.orgId) throw rejected(`Signer "${role}" has no e签宝 organisation id.`, 'NO_ORG_ID');
        body.organization = { orgId: signer.orgSigner.orgId };
      } else {
        if (!signer.psnSigner?.psnId) throw rejected(`Signer "${role}" has no e签宝 person id.`, 'NO_PSN_ID');
        body.operator = { psnId: signer.psnSigner.psnId };
      }
      if (options.redirectUrl) body.redirectConfig = { redirectUrl: options.redirectUrl };
      const link = await call('POST', `/v3/sign-flow/${encodeURIComponent(flowId)}/sign-url`, context, {
        body,
        schema: signUrlSchema,
      });
      const url = link.url ?? link.shortUrl;
      if (!url) throw rejected(`e签宝 gave no sign link for flow ${flowId}.`, 'NO_SIGN_URL');
      return { url };
    },

    async downloadSigned(flowId, context) {
      const detail = await detailOf(flowId, context);
      if (detail.signFlowStatus !== 2) {
        throw rejected(
          `e签宝 flow ${flowId} is ${FLOW_STATUS[detail.signFlowStatus] ?? detail.signFlowStatus}, not completed; ` +
            'signed documents can only be downloaded once it is.',
          'NOT_COMPLETED',
          { flowId },
        );
      }
      const links = await call('GET', `/v3/sign-flow/${encodeURIComponent(flowId)}/file-download-url`, context, {
        schema: downloadSchema,
      });
      const out: SignedDocument[] = [];
      for (const file of links.files ?? []) {
        const key = await keyOfFile(file.fileId, context);
        const fileName = safeFileName(
          file.fileName ?? detail.docs?.find((d) => d.fileId === file.fileId)?.fileName ?? 'signed.pdf',
        );
        const bytes = await fetchBytes(file.downloadUrl, 'signed document download', context.signal);
        if (!isWholePdf(bytes)) throw cutOff(flowId, file.fileId, bytes.length);
        out.push({ key: key ?? fileName.replace(/\.pdf$/i, ''), fileName, bytes });
      }
      return out;
    },

    async cancelFlow(flowId, reason, context) {
      const detail = await detailOf(flowId, context);
      if (detail.signFlowStatus === 3) return;
      if (detail.signFlowStatus !== 1 && detail.signFlowStatus !== 0) {
        throw rejected(
          `e签宝 flow ${flowId} is ${FLOW_STATUS[detail.signFlowStatus] ?? detail.signFlowStatus} and can no longer ` +
            'be revoked.',
          'FLOW_FINISHED',
          { flowId, status: detail.signFlowStatus },
        );
      }
      try {
        await call('POST', `/v3/sign-flow/${encodeURIComponent(flowId)}/revoke`, context, {
          body: { revokeReason: maskText(reason).slice(0, 50) },
        });
      } catch (error) {
        if (!(error instanceof SealflowError) || error.retryable) throw error;
        // Revoked by a concurrent call: that is what was asked for.
        if ((await detailOf(flowId, context)).signFlowStatus !== 3) throw error;
      }
    },

    async parseCallback(callback) {
      const rawBody =
        typeof callback.rawBody === 'string' ? callback.rawBody : Buffer.from(callback.rawBody).toString('utf8');
      verifyCallback({
        headers: callback.headers,
        query: callback.query as CallbackQuery,
        rawBody: callback.rawBody,
        secret: options.appSecret,
        appId: options.appId,
        now: clock.now(),
        ...(options.callbackToleranceMs === undefined ? {} : { toleranceMs: options.callbackToleranceMs }),
      });
      let json: unknown;
      try {
        json = JSON.parse(rawBody);
      } catch {
        json = undefined;
      }
      const parsed = callbackBodySchema.safeParse(json);
      if (!parsed.success) {
        throw new SealflowError(
          'CALLBACK_REJECTED',
          'e签宝 callback refused: its signature is valid but the body is not an e签宝 sign-flow event ' +
            '(action and signFlowId are required). Subscribe this URL to sign-flow events only.',
          { retryable: false, details: { vendor: ESIGN_VENDOR_ID, reason: 'BAD_BODY' } },
        );
      }
      const body = parsed.data;
      const raw: EsignVerifiedCallback = {
        receivedAt: clock.now(),
        action: body.action,
        signFlowId: body.signFlowId,
        rawBody,
        body: body as Record<string, unknown>,
      };
      await options.onVerifiedCallback?.(raw);
      const timestamp = Number(body.timestamp ?? 0);
      const who = body.organization?.orgId ?? body.operator?.psnId ?? '';
      const event: EsignCallbackEvent = {
        // The body's timestamp is the first attempt's and stays the same in retries.
        eventId: [body.action, body.signFlowId, String(body.timestamp ?? ''), String(body.signOrder ?? ''), who].join(
          ':',
        ),
        flowId: body.signFlowId,
        kind: 'other',
        occurredAt: Number.isSafeInteger(timestamp) && timestamp > 0 ? timestamp : clock.now(),
        vendorAction: body.action,
        raw,
      };
      if (body.action === 'SIGN_MISSON_COMPLETE') {
        if (typeof body.operateTime === 'number') event.occurredAt = body.operateTime;
        const result = Number(body.signResult);
        const role = parseTag(body.customBizNum)?.role;
        if (result === 2) {
          event.kind = 'signer-signed';
          if (role) event.role = role;
        } else if (result === 4) {
          event.kind = 'flow-rejected';
          if (role) event.role = role;
        }
      } else if (body.action === 'SIGN_FLOW_COMPLETE') {
        if (typeof body.signFlowFinishTime === 'number') event.occurredAt = body.signFlowFinishTime;
        const kinds: Record<string, VendorCallbackEvent['kind']> = {
          '2': 'flow-completed',
          '3': 'flow-revoked',
          '5': 'flow-expired',
          '7': 'flow-rejected',
        };
        event.kind = kinds[String(body.signFlowStatus)] ?? 'other';
      }
      return event;
    },
  };
  return vendor;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
