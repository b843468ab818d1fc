/**
 * `cfcaVendor()`: core's SigningVendor port on CFCA 安心签's platform API (FEP).
 *
 * One document of a flow is one 安心签 contract: a filled CFCA template (3201, or 3202 in a batch polled with 3211)
 * or an uploaded PDF (3203). The platform seals as itself; everybody else is signed for by the platform under a
 * proxy-sign authorisation (代签授权) the person or company gave by SMS code (3101/3102). 安心签 pushes nothing, so
 * core polls `getFlow` (3210). 安心签 keeps no role names and no document keys, so the vendor writes a small record
 * per flow into a {@link CfcaVendorStore} before it creates anything; contract numbers are derived from the create
 * key, so a create whose answer was lost finds its contract with 3210 instead of making a second one.
 */
import { createHash } from 'node:crypto';
import {
  type FlowLookup,
  NotFoundError,
  SealflowError,
  type SealPlacement,
  type SignedDocument,
  type SigningCapabilities,
  type SigningVendor,
  systemClock,
  type VendorCallContext,
  type VendorFlow,
  type VendorFlowStatus,
} from '@sealflow/core';
import { type CfcaClient, type CfcaClientOptions, createCfcaClient } from '../client/client.js';
import { CFCA_VENDOR_ID } from '../client/errors.js';
import { type CfcaVendorStore, createMemoryCfcaStore } from './store.js';

/** A party as the account helpers need it. */
export interface CfcaParty {
  kind: 'person' | 'organization';
  /** Real name or registered company name. Personal data: never logged. */
  name: string;
  /** Resident ID number (person) or unified social credit code (organisation). */
  idNumber: string;
  mobile?: string;
}

/** The person who acts for a company at 安心签 (经办人), as 3002 needs one. Personal data: never logged. */
export interface CfcaTransactor {
  name: string;
  /** Resident ID number. */
  idNumber: string;
}

/** A proxy-sign authorisation (代签授权) a party gave with 3101/3102, as the platform recorded it. */
export interface CfcaProxySignAuthorization {
  /** The project the authorisation covers; 安心签 checks (userId, projectCode). */
  projectCode: string;
  /** When the party confirmed the SMS code (epoch ms); sent as `authorizationTime`. */
  authorizedAt?: number;
  /** The party's IP address or place at confirmation; sent as `location`. */
  location?: string;
}

/** Who is about to be signed for: the role, the kind and the 安心签 userId. */
export interface CfcaSignatory {
  role: string;
  kind: 'person' | 'organization';
  userId: string;
}

/** Options of {@link cfcaVendor}. Connection options are the client's; pass `client` to share one. */
export interface CfcaVendorOptions extends Partial<CfcaClientOptions> {
  /** The vendor id core routes by. Default `cfca`. */
  id?: string;
  /** A client to use instead of one made from the connection options. */
  client?: CfcaClient;
  /**
   * Where flow records are kept (see {@link CfcaVendorStore}). Default: in memory, which is only right for tests and
   * single-process demos.
   */
  store?: CfcaVendorStore;
  /** The platform company's unified social credit code: a signer with it seals as the platform itself (userId = platId). */
  platformCreditCode?: string;
  /** 安心签 userIds of other organisations (funders, guarantors) by unified social credit code. */
  organizations?: Record<string, string>;
  /**
   * The 安心签 userId the host already holds for a party, if any. Without one a person's account is opened with 3001
   * (once per process; 安心签 answers an existing ID number with the existing account on the test system).
   */
  userIdOf?: (party: CfcaParty) => string | undefined | Promise<string | undefined>;
  /**
   * The transactor (经办人) to open an organisation's account with (3002) when it has none configured; without it an
   * organisation that is neither the platform nor in `organizations` is refused.
   */
  enterpriseTransactor?: (party: CfcaParty) => CfcaTransactor | undefined | Promise<CfcaTransactor | undefined>;
  /** `person.authenticationMode` of 3001: how the platform verified the person. Default `公安部`. */
  authenticationMode?: string;
  /**
   * The authorisation under which the platform signs for `signatory` (everyone but the platform itself). Return
   * undefined when there is none: the vendor then refuses to sign for that party instead of asking 安心签.
   */
  proxySign?: (
    signatory: CfcaSignatory,
  ) => CfcaProxySignAuthorization | undefined | Promise<CfcaProxySignAuthorization | undefined>;
  /** Two capitals: `contractTypeCode` of uploaded contracts (3203). Default `JK` (loan). */
  contractTypeCode?: string;
  /**
   * `ours` (default): the vendor numbers contracts from the create key and sends `contractNo`, so a lost answer is
   * found with 3210. `cfca`: 安心签 numbers them; use it if production refuses platform-chosen numbers — a create
   * whose answer was lost can then not be found and is made again.
   */
  contractNumbers?: 'ours' | 'cfca';
  /** Create template documents in one 3202 batch (polled with 3211) instead of one 3201 each. Default false. */
  templateBatch?: boolean;
  /** Seal box size when a keyword or coordinate placement gives none, in PDF points. Default 120 × 60. */
  defaultSealSize?: { width: number; height: number };
  /** Uploaded and template documents kept for `createFlow` (they only live between the two calls). Default 200. */
  maxPendingDocuments?: number;
}

/** `cfcaVendor()`'s SigningVendor plus the 安心签 steps a host runs itself. */
export interface CfcaVendor extends SigningVendor {
  readonly client: CfcaClient;
  /**
   * The party's 安心签 userId: the platform's, a configured or host-provided one, or a new account (3001 for a person;
   * 3002 for an organisation when `enterpriseTransactor` names its transactor).
   */
  accountOf(party: CfcaParty, context?: { signal?: AbortSignal }): Promise<string>;
  /**
   * 3101: 安心签 sends the party an SMS (or voice) code that authorises the platform to sign for it in `projectCode`.
   * `alreadyAuthorized` when 安心签 answers that the authorisation exists.
   */
  sendProxySignCode(
    input: { userId: string; projectCode: string; voice?: boolean },
    context?: { signal?: AbortSignal },
  ): Promise<{ alreadyAuthorized: boolean; maskedMobile?: string }>;
  /** 3102: confirm the code the party typed in. Record the answer; {@link CfcaVendorOptions.proxySign} returns it later. */
  confirmProxySignCode(
    input: { userId: string; projectCode: string; checkCode: string; location?: string },
    context?: { signal?: AbortSignal },
  ): Promise<CfcaProxySignAuthorization & { userId: string; authorizedAt: number }>;
  /** 3011: add a seal image (PNG) to a user; returns the new sealId. */
  addSeal(userId: string, png: Uint8Array, context?: { signal?: AbortSignal }): Promise<string>;
  /** 3012: replace a seal's image. */
  updateSeal(userId: string, sealId: string, png: Uint8Array, context?: { signal?: AbortSignal }): Promise<void>;
  /** 3013: delete a seal. */
  deleteSeal(userId: string, sealId: string, context?: { signal?: AbortSignal }): Promise<void>;
  /** 3014: a user's seals (sealId, sealType, PNG). */
  listSeals(
    userId: string,
    context?: { signal?: AbortSignal },
  ): Promise<{ sealId: string; sealType?: number; image?: Uint8Array }[]>;
  /** The signed contracts of a completed flow as one ZIP (安心签's batch download). */
  downloadSignedArchive(flowId: string, context?: { signal?: AbortSignal }): Promise<Uint8Array>;
}

const CAPABILITIES: SigningCapabilities = {
  organizationAutoSeal: true,
  // Under a 3101/3102 authorisation the platform signs for the person (代签).
  personAutoSign: true,
  vendorTemplates: true,
  // No push notification exists for platform-signed contracts; core polls getFlow.
  callbacks: false,
  // A signatory listed at creation signs later with its own call (3206–3208); 安心签 cannot add signatories.
  appendSigners: true,
  padesOutput: true,
  // Not documented; integrations sign with two to four parties.
  maxSignersPerFlow: 10,
  // Timestamps are a CFCA product of their own; none of the 3xxx calls this adapter uses returns a token.
  timestamps: false,
  // SM2 certificates are chosen when the platform's account is set up at CFCA, not per request (see the README).
  sm2: false,
};

const RECORD_VERSION = 1;
const CST_OFFSET_MS = 8 * 3_600_000;

/** A document between uploadDocument/fillTemplate and createFlow. */
type PendingDocument =
  | { source: 'upload'; key: string; fileName: string; bytes: Uint8Array; fingerprint: string }
  | {
      source: 'template';
      key: string;
      fileName: string;
      templateId: string;
      values: Record<string, string>;
      fingerprint: string;
    };

interface SignerRecord {
  role: string;
  kind: 'person' | 'organization';
  userId: string;
  sealId?: string;
  /** False while the signer waits for its own call (appendSigner). */
  autoSign: boolean;
  order: number;
  placements: SealPlacement[];
}

interface ContractRecord {
  key: string;
  fileName: string;
  source: 'upload' | 'template';
  /** The document's pending id, to find its bytes or template while creating. */
  vendorFileId: string;
  /** Ours from the start, or 安心签's once created (`contractNumbers: 'cfca'`). */
  contractNo?: string;
}

interface FlowRecord {
  v: number;
  flowId: string;
  fingerprint: string;
  title: string;
  deadlineAt?: number;
  contracts: ContractRecord[];
  signers: SignerRecord[];
  batchNo?: string;
  batchDone?: boolean;
  /** The masked reason when a batch entry failed. */
  failure?: string;
  revoked?: { reason: string; at: number };
}

interface ContractView {
  contractNo: string;
  contractState: number;
  signatories: { userId: string; signmentState: number; signTime?: number }[];
}

// ---------------------------------------------------------------------------------------------- errors

function rejected(message: string, vendorCode: string, extra: Record<string, unknown> = {}): SealflowError {
  return new SealflowError('VENDOR_REJECTED', message, {
    retryable: false,
    details: { vendor: CFCA_VENDOR_ID, vendorCode, ...extra },
  });
}

function unsupported(message: string, capability: string): SealflowError {
  return new SealflowError('VENDOR_UNSUPPORTED', message, {
    retryable: false,
    details: { vendor: CFCA_VENDOR_ID, capability },
  });
}

function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `yyyyMMdd` in China Standard Time. */
function cstDate(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 10).replaceAll('-', '');
}

/** `yyyyMMddHHmmss` in China Standard Time. */
function cstTime(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** 安心签's `signTime` (a number or string `yyyyMMddHHmmss`, China Standard Time) as epoch ms. */
function parseCstTime(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : '';
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) - CST_OFFSET_MS;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function asInt(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

const isCode = (error: unknown, code: string) => error instanceof SealflowError && error.code === code;

// ---------------------------------------------------------------------------------------------- the adapter

/**
 * The SigningVendor on CFCA 安心签. Configure the connection (base URL, platId, TLS and signing certificate), the
 * platform's credit code, and where proxy-sign authorisations come from; see the package README.
 */
export function cfcaVendor(options: CfcaVendorOptions): CfcaVendor {
  const client = options.client ?? createCfcaClient(options as CfcaClientOptions);
  const clock = options.clock ?? systemClock;
  const id = options.id ?? CFCA_VENDOR_ID;
  const store = options.store ?? createMemoryCfcaStore();
  const numbering = options.contractNumbers ?? 'ours';
  const typeCode = options.contractTypeCode ?? 'JK';
  if (!/^[A-Z]{2}$/.test(typeCode)) {
    throw new SealflowError('INVALID_INPUT', `contractTypeCode must be two capitals such as JK, got "${typeCode}".`);
  }
  const sealSize = options.defaultSealSize ?? { width: 120, height: 60 };
  const maxPending = options.maxPendingDocuments ?? 200;
  const pending = new Map<string, PendingDocument>();
  const accounts = new Map<string, string>();

  const call = (context: { signal?: AbortSignal } | undefined) => (context?.signal ? { signal: context.signal } : {});

  function remember(vendorFileId: string, document: PendingDocument): void {
    pending.delete(vendorFileId);
    pending.set(vendorFileId, document);
    for (const oldest of pending.keys()) {
      if (pending.size <= maxPending) break;
      pending.delete(oldest);
    }
  }

  function keyReused(idempotencyKey: string, what: string): SealflowError {
    return rejected(
      `The idempotency key was used before for a different ${what}; core never does this on purpose. Use a new key ` +
        'for a new request.',
      'IDEMPOTENCY_KEY_REUSED',
      { idempotencyKeySha256: sha256(idempotencyKey).slice(0, 16) },
    );
  }

  // ------------------------------------------------------------------------------- accounts and authorisations

  async function accountOf(party: CfcaParty, context?: { signal?: AbortSignal }): Promise<string> {
    const code = party.idNumber.toUpperCase();
    if (party.kind === 'organization') {
      if (options.platformCreditCode && code === options.platformCreditCode.toUpperCase()) return client.platId;
      const configured = options.organizations?.[party.idNumber] ?? options.organizations?.[code];
      if (configured) return configured;
    }
    const known = accounts.get(`${party.kind}:${code}`) ?? (await options.userIdOf?.(party));
    if (known) {
      accounts.set(`${party.kind}:${code}`, known);
      return known;
    }
    if (party.kind === 'organization') {
      const transactor = await options.enterpriseTransactor?.(party);
      if (transactor) {
        const opened = await openEnterprise(party, transactor, context);
        accounts.set(`${party.kind}:${code}`, opened);
        return opened;
      }
      throw rejected(
        'This organisation has no 安心签 account configured. List its userId in the vendor option organizations, ' +
          'keyed by its credit code, or name its transactor (经办人) in enterpriseTransactor so the vendor opens the ' +
          'account (3002); the platform itself is recognised by platformCreditCode.',
        'ORGANIZATION_UNKNOWN',
      );
    }
    if (!party.mobile) {
      throw rejected(
        'A person without a mobile number cannot get a 安心签 account (3001 needs it for the authorisation SMS). ' +
          'Pass the mobile, or give the userId through the vendor option userIdOf.',
        'MOBILE_REQUIRED',
      );
    }
    const answer = await client.transaction<{ person?: { userId?: string } }>(
      '3001',
      {
        person: {
          personName: party.name,
          identTypeCode: '0',
          identNo: party.idNumber,
          mobilePhone: party.mobile,
          authenticationMode: options.authenticationMode ?? '公安部',
        },
        notSendPwd: 1,
      },
      call(context),
    );
    const userId = answer.person?.userId;
    if (!userId) throw rejected('安心签 opened the account but answered without a userId (3001).', 'NO_USER_ID');
    accounts.set(`${party.kind}:${code}`, userId);
    return userId;
  }

  async function openEnterprise(
    party: CfcaParty,
    transactor: CfcaTransactor,
    context?: { signal?: AbortSignal },
  ): Promise<string> {
    const answer = await client.transaction<{ enterprise?: { userId?: string } }>(
      '3002',
      {
        enterprise: {
          enterpriseName: party.name,
          identTypeCode: '8',
          identNo: party.idNumber,
          ...(party.mobile ? { mobilePhone: party.mobile } : {}),
        },
        enterpriseTransactor: { transactorName: transactor.name, identTypeCode: '0', identNo: transactor.idNumber },
        notSendPwd: 1,
      },
      call(context),
    );
    const userId = answer.enterprise?.userId;
    if (!userId) throw rejected('安心签 opened the account but answered without a userId (3002).', 'NO_USER_ID');
    return userId;
  }

  async function authorisationOf(signer: SignerRecord): Promise<CfcaProxySignAuthorization | undefined> {
    if (signer.userId === client.platId) return undefined;
    const found = await options.proxySign?.({ role: signer.role, kind: signer.kind, userId: signer.userId });
    if (!found) {
      throw rejected(
        `Signer "${signer.role}" has no proxy-sign authorisation (代签授权) on record, so the platform may not sign ` +
          'for it. Run the SMS step first (sendProxySignCode, then confirmProxySignCode) and return the result from ' +
          'the vendor option proxySign.',
        'PROXY_SIGN_NOT_AUTHORISED',
        { role: signer.role },
      );
    }
    return found;
  }

  /** The signInfo members that say who signs and under which authorisation. */
  async function signInfoOf(signer: SignerRecord): Promise<Record<string, unknown>> {
    const authorisation = await authorisationOf(signer);
    return {
      userId: signer.userId,
      ...(signer.kind === 'organization' && signer.sealId ? { sealId: signer.sealId } : {}),
      ...(authorisation
        ? {
            projectCode: authorisation.projectCode,
            isCheckProjectCode: 1,
            ...(authorisation.authorizedAt === undefined
              ? {}
              : { authorizationTime: cstTime(authorisation.authorizedAt) }),
            ...(authorisation.location === undefined ? {} : { location: authorisation.location }),
          }
        : {}),
    };
  }

  // ------------------------------------------------------------------------------- placements

  function placementsIn(signer: SignerRecord, documentKey: string): SealPlacement[] {
    return signer.placements.filter((p) => p.documentKey === documentKey);
  }

  function fieldNames(signer: SignerRecord, placements: SealPlacement[]): string {
    const names = placements.map((p) => ('field' in p ? p.field : undefined));
    if (names.some((n) => n === undefined)) {
      throw rejected(
        `Signer "${signer.role}" is placed by keyword or coordinates in a CFCA template; template contracts are ` +
          'signed in their signature fields only. Name the template field in the placement.',
        'PLACEMENT_NOT_SUPPORTED',
        { role: signer.role },
      );
    }
    return names.join(';');
  }

  /** The signing transaction for one signer on one uploaded contract: 3206 fields, 3207 a keyword, 3208 boxes. */
  function signingCall(
    signer: SignerRecord,
    placements: SealPlacement[],
  ): { txCode: '3206' | '3207' | '3208'; member: string; extra: Record<string, unknown>; signInfo: object } {
    if (placements.every((p) => 'field' in p)) {
      return {
        txCode: '3206',
        member: 'signContract',
        extra: {},
        signInfo: { signLocation: fieldNames(signer, placements) },
      };
    }
    if (placements.every((p) => 'page' in p)) {
      return {
        txCode: '3208',
        member: 'signContractByCoordinate',
        extra: {
          signLocations: placements.map((p) => {
            const box = p as Extract<SealPlacement, { page: number }>;
            const width = box.width ?? sealSize.width;
            const height = box.height ?? sealSize.height;
            return {
              signOnPage: String(box.page + 1),
              signLocationLBX: String(box.x),
              signLocationLBY: String(box.y),
              signLocationRUX: String(box.x + width),
              signLocationRUY: String(box.y + height),
            };
          }),
        },
        signInfo: {},
      };
    }
    if (placements.length === 1 && 'keyword' in placements[0]!) {
      const p = placements[0];
      return {
        txCode: '3207',
        member: 'signContractByKeyword',
        extra: {
          signKeyword: {
            keyword: p.keyword,
            offsetCoordX: String(p.offsetX ?? 0),
            offsetCoordY: String(p.offsetY ?? 0),
            imageWidth: String(sealSize.width),
            imageHeight: String(sealSize.height),
          },
        },
        signInfo: {},
      };
    }
    throw rejected(
      `Signer "${signer.role}" mixes placement kinds (or names several keywords) in one document; 安心签 signs a ` +
        'party once per contract, by fields, by one keyword, or by coordinates. Use one kind per document.',
      'PLACEMENT_NOT_SUPPORTED',
      { role: signer.role },
    );
  }

  // ------------------------------------------------------------------------------- records and views

  async function readRecord(flowId: string): Promise<FlowRecord | undefined> {
    const text = await store.get(`flow:${flowId}`);
    if (text === undefined) return undefined;
    const record = JSON.parse(text) as FlowRecord;
    if (record.v !== RECORD_VERSION) {
      throw new SealflowError(
        'VENDOR_FAILURE',
        `The CFCA flow record of ${flowId} has version ${record.v}; this version of the adapter reads ${RECORD_VERSION}.`,
        { retryable: false, details: { vendor: CFCA_VENDOR_ID, flowId } },
      );
    }
    return record;
  }

  const writeRecord = (record: FlowRecord) => store.set(`flow:${record.flowId}`, JSON.stringify(record));

  async function queryContract(
    contractNo: string,
    context?: { signal?: AbortSignal },
  ): Promise<ContractView | undefined> {
    let answer: Record<string, unknown>;
    try {
      answer = await client.transaction('3210', { contract: { contractNo } }, call(context));
    } catch (error) {
      if (isCode(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
    const contract = asRecord(answer.contract);
    const state = asInt(contract?.contractState);
    if (!contract || state === undefined) {
      throw new SealflowError('VENDOR_BAD_RESPONSE', `安心签 answered 3210 for ${contractNo} without contractState.`, {
        retryable: false,
        details: { vendor: CFCA_VENDOR_ID, contractNo },
      });
    }
    const signatories = (Array.isArray(contract.signatories) ? contract.signatories : []).flatMap((item) => {
      const s = asRecord(item);
      const userId = typeof s?.userId === 'string' ? s.userId : undefined;
      if (!s || !userId) return [];
      const signTime = parseCstTime(s.signTime);
      return [{ userId, signmentState: asInt(s.signmentState) ?? 0, ...(signTime === undefined ? {} : { signTime }) }];
    });
    return { contractNo, contractState: state, signatories };
  }

  /** 3211 for a batch that has not been seen finished; updates the record. */
  async function settleBatch(record: FlowRecord, context?: { signal?: AbortSignal }): Promise<void> {
    if (!record.batchNo || record.batchDone || record.failure) return;
    let answer: Record<string, unknown>;
    try {
      answer = await client.transaction('3211', { batchNo: record.batchNo }, call(context));
    } catch (error) {
      if (isCode(error, 'VENDOR_NOT_READY')) return;
      throw error;
    }
    const results = Array.isArray(answer.createContracts) ? answer.createContracts.map(asRecord) : [];
    const failed = results.find((r) => r && String(r.code ?? '60000000') !== '60000000');
    if (failed) {
      record.failure = `安心签 could not create contract ${String(failed.contractNo ?? '')} of batch ${record.batchNo} (code ${String(failed.code)}).`;
    } else {
      if (numbering === 'cfca') {
        const templates = record.contracts.filter((c) => c.source === 'template');
        templates.forEach((c, i) => {
          const no = results[i]?.contractNo;
          if (typeof no === 'string') c.contractNo = no;
        });
      }
      record.batchDone = true;
    }
    await writeRecord(record);
  }

  async function view(record: FlowRecord, context?: { signal?: AbortSignal }): Promise<VendorFlow> {
    await settleBatch(record, context);
    const batchPending = record.batchNo !== undefined && !record.batchDone && !record.failure;
    const contracts = new Map<string, ContractView>();
    for (const c of record.contracts) {
      if (!c.contractNo || (batchPending && c.source === 'template')) continue;
      const found = await queryContract(c.contractNo, context);
      if (found) contracts.set(c.key, found);
    }
    const signers = record.signers.map((signer) => {
      const mine = record.contracts.filter((c) => placementsIn(signer, c.key).length > 0);
      const states = mine.map((c) => contracts.get(c.key)?.signatories.find((s) => s.userId === signer.userId));
      const signed = mine.length > 0 && states.every((s) => s?.signmentState === 1);
      const refused = states.some((s) => s?.signmentState === 2);
      const signedAt = signed ? Math.max(...states.map((s) => s?.signTime ?? 0)) : undefined;
      const status: VendorFlow['signers'][number]['status'] = signed
        ? 'signed'
        : refused
          ? 'rejected'
          : signer.autoSign
            ? 'signing'
            : 'waiting';
      return {
        role: signer.role,
        status,
        ...(signed && signedAt ? { signedAt } : {}),
        ...(signed && signer.kind === 'organization' && signer.sealId ? { seal: { sealId: signer.sealId } } : {}),
      };
    });
    const states = [...contracts.values()].map((c) => c.contractState);
    const allThere = contracts.size === record.contracts.length;
    let status: VendorFlowStatus;
    let reason: string | undefined;
    if (allThere && states.every((s) => s === 1)) status = 'completed';
    else if (record.revoked) {
      status = 'revoked';
      reason = record.revoked.reason;
    } else if (record.failure) {
      status = 'failed';
      reason = record.failure;
    } else if (states.includes(9)) {
      status = 'expired';
      reason = '安心签 expired a contract of the flow (its expiredDate passed).';
    } else if (states.includes(2)) status = 'rejected';
    else if (batchPending && record.deadlineAt !== undefined && clock.now() > record.deadlineAt) {
      status = 'expired';
      reason = `安心签 batch ${record.batchNo} had not finished when the flow's deadline passed.`;
    } else if (batchPending || !allThere) status = 'draft';
    else status = 'signing';
    return { flowId: record.flowId, status, signers, ...(reason === undefined ? {} : { reason }) };
  }

  // ------------------------------------------------------------------------------- creating contracts

  function pendingOf(c: ContractRecord): PendingDocument {
    const document = pending.get(c.vendorFileId);
    if (!document) {
      throw new SealflowError(
        'VENDOR_DOCUMENT_GONE',
        `Document "${c.key}" (${c.vendorFileId}) is no longer held by this process, and its contract was not created ` +
          'yet. Upload or fill it again and create the flow again with the same key.',
        { retryable: true, details: { vendor: CFCA_VENDOR_ID, documentKey: c.key } },
      );
    }
    return document;
  }

  function platformSigner(record: FlowRecord, documentKey: string): SignerRecord | undefined {
    return record.signers.find((s) => s.userId === client.platId && placementsIn(s, documentKey).length > 0);
  }

  function othersIn(record: FlowRecord, documentKey: string): SignerRecord[] {
    return record.signers.filter((s) => s.userId !== client.platId && placementsIn(s, documentKey).length > 0);
  }

  async function templateRequest(record: FlowRecord, c: ContractRecord): Promise<Record<string, unknown>> {
    const document = pendingOf(c);
    if (document.source !== 'template') throw new Error('unreachable: template contract without a template');
    const platform = platformSigner(record, c.key);
    const platformNow = platform?.autoSign === true;
    const signInfos = [];
    for (const signer of othersIn(record, c.key)) {
      const location = fieldNames(signer, placementsIn(signer, c.key));
      signInfos.push(
        signer.autoSign
          ? { ...(await signInfoOf(signer)), isProxySign: 1, signLocation: location }
          : { userId: signer.userId, isProxySign: 0, signLocation: location },
      );
    }
    return {
      templateId: document.templateId,
      ...(c.contractNo && numbering === 'ours' ? { contractNo: c.contractNo } : {}),
      contractName: record.title,
      isSign: platform ? (platformNow ? 1 : 2) : 0,
      ...(platform ? { signLocation: fieldNames(platform, placementsIn(platform, c.key)) } : {}),
      ...(platformNow && platform.sealId ? { sealId: platform.sealId } : {}),
      textValueInfo: document.values,
      ...(record.deadlineAt === undefined ? {} : { expiredDate: cstDate(record.deadlineAt) }),
      signInfos,
    };
  }

  async function createContract(record: FlowRecord, c: ContractRecord, context: VendorCallContext): Promise<void> {
    try {
      await sendCreate(record, c, context);
    } catch (error) {
      // A concurrent or earlier try made it: 安心签 refuses the number (or answers oddly), and 3210 shows the contract.
      if (!(error instanceof SealflowError) || error.retryable || numbering !== 'ours' || !c.contractNo) throw error;
      if (!(await queryContract(c.contractNo, context))) throw error;
    }
  }

  async function sendCreate(record: FlowRecord, c: ContractRecord, context: VendorCallContext): Promise<void> {
    let answer: Record<string, unknown>;
    if (c.source === 'template') {
      answer = await client.transaction('3201', { createContract: await templateRequest(record, c) }, call(context));
    } else {
      const document = pendingOf(c);
      if (document.source !== 'upload') throw new Error('unreachable: uploaded contract without bytes');
      const platform = platformSigner(record, c.key);
      // Created with nobody signing; each signer then signs in its own call (3206–3208), which a retry can resume.
      answer = await client.transaction(
        '3203',
        {
          uploadContract: {
            contractTypeCode: typeCode,
            ...(c.contractNo && numbering === 'ours' ? { contractNo: c.contractNo } : {}),
            contractName: record.title,
            isSign: platform ? 2 : 0,
            ...(record.deadlineAt === undefined ? {} : { expiredDate: cstDate(record.deadlineAt) }),
            signInfos: othersIn(record, c.key).map((s) => ({ userId: s.userId, isProxySign: 0 })),
          },
        },
        { ...call(context), contractFile: { bytes: document.bytes, filename: document.fileName } },
      );
    }
    const number = asRecord(answer.contract)?.contractNo;
    if (numbering === 'cfca' && typeof number === 'string') {
      c.contractNo = number;
      await writeRecord(record);
    }
  }

  /** Signs `signer` on uploaded contract `c` unless 安心签 already shows it signed. */
  async function signUploaded(
    c: ContractRecord,
    signer: SignerRecord,
    state: ContractView | undefined,
    context: VendorCallContext,
  ): Promise<void> {
    const placements = placementsIn(signer, c.key);
    if (!c.contractNo || placements.length === 0) return;
    if (state?.signatories.find((s) => s.userId === signer.userId)?.signmentState === 1) return;
    const how = signingCall(signer, placements);
    const signInfo = { ...(await signInfoOf(signer)), ...how.signInfo };
    try {
      await client.transaction(
        how.txCode,
        { [how.member]: { contractNo: c.contractNo, signInfo, ...how.extra } },
        call(context),
      );
    } catch (error) {
      // A signature whose answer was lost: 安心签 refuses the second one, and the contract shows the first.
      if (error instanceof SealflowError && !error.retryable) {
        const now = await queryContract(c.contractNo, context);
        if (now?.signatories.find((s) => s.userId === signer.userId)?.signmentState === 1) return;
      }
      throw error;
    }
  }

  /** Creates what is missing of the flow and signs its auto-signers; safe to run again with the same record. */
  async function advance(record: FlowRecord, resuming: boolean, context: VendorCallContext): Promise<void> {
    if (record.revoked) return;
    const templates = record.contracts.filter((c) => c.source === 'template');
    if (options.templateBatch && templates.length > 0) {
      let submitted = false;
      if (resuming && !record.batchDone && !record.failure) {
        try {
          await client.transaction('3211', { batchNo: record.batchNo }, call(context));
          submitted = true;
        } catch (error) {
          if (isCode(error, 'VENDOR_NOT_READY')) submitted = true;
          else if (!(error instanceof SealflowError) || error.retryable) throw error;
        }
      } else if (resuming) submitted = true;
      if (!submitted) {
        const createContracts = [];
        for (const c of templates) createContracts.push(await templateRequest(record, c));
        await client.transaction('3202', { batchNo: record.batchNo, createContracts }, call(context));
      }
    } else {
      for (const c of templates) {
        if (resuming && c.contractNo && (await queryContract(c.contractNo, context))) continue;
        await createContract(record, c, context);
      }
    }
    for (const c of record.contracts.filter((x) => x.source === 'upload')) {
      const state = resuming && c.contractNo ? await queryContract(c.contractNo, context) : undefined;
      if (!state) await createContract(record, c, context);
      const ordered = [...record.signers].filter((s) => s.autoSign).sort((a, b) => a.order - b.order);
      for (const signer of ordered) await signUploaded(c, signer, state, context);
    }
  }

  function flowIdOf(createKey: string): string {
    // Letters and digits only: it is also the stem of the contract numbers, which 安心签 keeps as they are sent.
    return `SF${sha256(`${id}\u0000${createKey}`).slice(0, 22).toUpperCase()}`;
  }

  function fingerprintOf(input: Parameters<SigningVendor['createFlow']>[0]): string {
    return sha256(
      JSON.stringify({
        title: input.title,
        businessNo: input.businessNo,
        documents: input.documents,
        signers: input.signers,
        deadlineAt: input.deadlineAt ?? null,
      }),
    );
  }

  async function recordOf(flowId: string): Promise<FlowRecord> {
    const record = /^[A-Za-z0-9_-]{1,64}$/.test(flowId) ? await readRecord(flowId) : undefined;
    if (!record) {
      throw new NotFoundError(
        `No CFCA flow ${flowId} is known to this vendor's store. If another process created it, give every process ` +
          'the same store (vendor option store).',
        { details: { vendor: CFCA_VENDOR_ID, flowId } },
      );
    }
    return record;
  }

  // ------------------------------------------------------------------------------- the port

  const vendor: CfcaVendor = {
    id,
    capabilities: CAPABILITIES,
    client,
    accountOf,

    async uploadDocument(document, context) {
      const vendorFileId = `UP${sha256(`${id}\u0000${context.idempotencyKey}`).slice(0, 30).toUpperCase()}`;
      const print = sha256(document.bytes) + sha256(`${document.key}\u0000${document.fileName}`);
      const earlier = pending.get(vendorFileId);
      if (earlier && earlier.fingerprint !== print) throw keyReused(context.idempotencyKey, 'document');
      remember(vendorFileId, {
        source: 'upload',
        ...document,
        bytes: new Uint8Array(document.bytes),
        fingerprint: print,
      });
      return { key: document.key, vendorFileId, fileName: document.fileName };
    },

    async fillTemplate(input, context) {
      const vendorFileId = `TP${sha256(`${id}\u0000${context.idempotencyKey}`).slice(0, 30).toUpperCase()}`;
      const print = sha256(JSON.stringify(input));
      const earlier = pending.get(vendorFileId);
      if (earlier && earlier.fingerprint !== print) throw keyReused(context.idempotencyKey, 'template');
      remember(vendorFileId, {
        source: 'template',
        key: input.key,
        fileName: input.fileName,
        templateId: input.vendorTemplateId,
        values: { ...input.values },
        fingerprint: print,
      });
      return { key: input.key, vendorFileId, fileName: input.fileName };
    },

    async createFlow(input, context) {
      const flowId = flowIdOf(context.idempotencyKey);
      const print = fingerprintOf(input);
      const existing = await readRecord(flowId);
      if (existing) {
        if (existing.fingerprint !== print) throw keyReused(context.idempotencyKey, 'flow');
        await advance(existing, true, context);
        return view(existing, context);
      }

      for (const d of input.documents) {
        const document = pending.get(d.vendorFileId);
        if (!document) {
          throw rejected(
            `Document "${d.key}" (${d.vendorFileId}) was not uploaded or filled through this vendor; upload it first.`,
            'UNKNOWN_FILE',
            { documentKey: d.key },
          );
        }
      }
      const keys = new Set(input.documents.map((d) => d.key));
      const signers: SignerRecord[] = [];
      for (const s of input.signers) {
        const stray = s.placements.find((p) => !keys.has(p.documentKey));
        if (stray) {
          throw rejected(
            `Signer "${s.role}" is placed in document "${stray.documentKey}", which is not in the flow.`,
            'NO_DOCUMENT',
            { role: s.role },
          );
        }
        const record: SignerRecord = {
          role: s.role,
          kind: s.kind,
          userId: await accountOf(s, context),
          ...(s.sealId ? { sealId: s.sealId } : {}),
          autoSign: s.autoSign,
          order: s.order,
          placements: s.placements,
        };
        signers.push(record);
      }
      const users = signers.map((s) => s.userId);
      if (new Set(users).size !== users.length) {
        throw rejected(
          'Two signers of the flow are the same 安心签 user; a contract lists each user once.',
          'SIGNER_TWICE',
        );
      }
      const record: FlowRecord = {
        v: RECORD_VERSION,
        flowId,
        fingerprint: print,
        title: input.title,
        ...(input.deadlineAt === undefined ? {} : { deadlineAt: input.deadlineAt }),
        contracts: input.documents.map((d, i) => {
          const source = pending.get(d.vendorFileId)!.source;
          return {
            key: d.key,
            fileName: d.fileName,
            source,
            vendorFileId: d.vendorFileId,
            ...(numbering === 'ours' ? { contractNo: `${flowId}${String(i + 1).padStart(2, '0')}` } : {}),
          };
        }),
        signers,
        ...(options.templateBatch && input.documents.some((d) => pending.get(d.vendorFileId)!.source === 'template')
          ? { batchNo: `${flowId}B` }
          : {}),
      };
      // Everything that can be refused without 安心签 is refused before anything is created or written.
      for (const c of record.contracts) {
        for (const s of signers) {
          const placements = placementsIn(s, c.key);
          if (placements.length === 0) continue;
          if (c.source === 'template') fieldNames(s, placements);
          else signingCall(s, placements);
          if (s.autoSign) await authorisationOf(s);
        }
      }
      await writeRecord(record);
      await advance(record, false, context);
      return view(record, context);
    },

    async appendSigner(flowId, signer, context) {
      if (!signer.autoSign) {
        throw unsupported(
          `Signer "${signer.role}" can only be added to sign for itself (autoSign: true); 安心签 signing by the ` +
            "party's own certificate is not supported by this adapter.",
          'appendSigners',
        );
      }
      const record = await recordOf(flowId);
      const listed = record.signers.find((s) => s.role === signer.role);
      if (!listed) {
        throw rejected(
          `CFCA flow ${flowId} has no signer "${signer.role}": 安心签 fixes a contract's signatories when it is created, ` +
            'so a later signer must be in the flow from the start (autoSign: false).',
          'NOT_A_SIGNATORY',
          { flowId, role: signer.role },
        );
      }
      const before = await view(record, context);
      if (before.signers.find((s) => s.role === signer.role)?.status === 'signed') return before;
      if (before.status !== 'signing') {
        throw rejected(
          `CFCA flow ${flowId} is ${before.status}; a signer can only sign a flow that is still signing.`,
          'FLOW_FINISHED',
          { flowId, status: before.status },
        );
      }
      listed.autoSign = true;
      listed.placements = signer.placements;
      if (signer.kind === 'organization' && signer.sealId) listed.sealId = signer.sealId;
      for (const c of record.contracts) {
        const placements = placementsIn(listed, c.key);
        if (placements.length > 0 && c.source === 'template') fieldNames(listed, placements);
        else if (placements.length > 0) signingCall(listed, placements);
      }
      await authorisationOf(listed);
      // Written first: the seal it was asked to use is what getFlow reports once the signature shows.
      await writeRecord(record);
      for (const c of record.contracts) {
        if (!c.contractNo || placementsIn(listed, c.key).length === 0) continue;
        await signUploaded(c, listed, await queryContract(c.contractNo, context), context);
      }
      return view(record, context);
    },

    async findFlow(lookup: FlowLookup, context) {
      const flowId = flowIdOf(lookup.createKey);
      const record = await readRecord(flowId);
      if (record) return view(record, context);
      if (numbering === 'ours' && (await queryContract(`${flowId}01`, context))) {
        throw rejected(
          `安心签 holds contract ${flowId}01 made under this create key, but this vendor's store has no record of its ` +
            'signers. Give every process the same store (vendor option store).',
          'FLOW_RECORD_MISSING',
          { flowId },
        );
      }
      return null;
    },

    getFlow: async (flowId, context) => view(await recordOf(flowId), context),

    async downloadSigned(flowId, context) {
      const record = await recordOf(flowId);
      const flow = await view(record, context);
      if (flow.status !== 'completed') {
        throw rejected(
          `CFCA flow ${flowId} is ${flow.status}, not completed; signed contracts can only be downloaded once it is.`,
          'NOT_COMPLETED',
          { flowId },
        );
      }
      const out: SignedDocument[] = [];
      for (const c of record.contracts) {
        out.push({ key: c.key, fileName: c.fileName, bytes: await client.download(c.contractNo!, call(context)) });
      }
      return out;
    },

    async cancelFlow(flowId, reason, context) {
      const record = await recordOf(flowId);
      if (record.revoked) return;
      const flow = await view(record, context);
      if (flow.status === 'completed') {
        throw rejected(`CFCA flow ${flowId} is completed and can no longer be cancelled.`, 'FLOW_FINISHED', {
          flowId,
        });
      }
      // 安心签 documents no transaction that revokes a contract: the adapter stops signing it, and an unsigned
      // contract lapses at its expiredDate.
      record.revoked = { reason: reason.slice(0, 200), at: clock.now() };
      await writeRecord(record);
    },

    async sendProxySignCode(input, context) {
      try {
        const answer = await client.transaction<{ contactWay?: { mobilePhone?: string } }>(
          '3101',
          { proxySign: { userId: input.userId, projectCode: input.projectCode, isSendVoice: input.voice ? 1 : 0 } },
          call(context),
        );
        const masked = answer.contactWay?.mobilePhone;
        return { alreadyAuthorized: false, ...(masked ? { maskedMobile: masked } : {}) };
      } catch (error) {
        if (isCode(error, 'DUPLICATE')) return { alreadyAuthorized: true };
        throw error;
      }
    },

    async confirmProxySignCode(input, context) {
      if (!/^\d{4,8}$/.test(input.checkCode)) {
        throw new SealflowError(
          'INVALID_INPUT',
          'The SMS code is 4 to 8 digits; ask the person to type the code from the latest 安心签 SMS.',
          { details: { vendor: CFCA_VENDOR_ID } },
        );
      }
      await client.transaction(
        '3102',
        { proxySign: { userId: input.userId, projectCode: input.projectCode, checkCode: input.checkCode } },
        call(context),
      );
      return {
        userId: input.userId,
        projectCode: input.projectCode,
        authorizedAt: clock.now(),
        ...(input.location === undefined ? {} : { location: input.location }),
      };
    },

    async addSeal(userId, png, context) {
      const answer = await client.transaction<{ sealAdd?: { seal?: { sealId?: string } } }>(
        '3011',
        { sealAdd: { userId, seal: { imageData: Buffer.from(png).toString('base64') } } },
        call(context),
      );
      const sealId = answer.sealAdd?.seal?.sealId;
      if (!sealId) throw rejected('安心签 added the seal but answered without a sealId (3011).', 'NO_SEAL_ID');
      return sealId;
    },

    async updateSeal(userId, sealId, png, context) {
      await client.transaction(
        '3012',
        { sealUpdate: { userId, seal: { sealId, imageData: Buffer.from(png).toString('base64') } } },
        call(context),
      );
    },

    async deleteSeal(userId, sealId, context) {
      await client.transaction('3013', { sealDelete: { userId, seal: { sealId } } }, call(context));
    },

    async listSeals(userId, context) {
      const answer = await client.transaction<{ sealQuery?: { seals?: unknown[] } }>(
        '3014',
        { sealQuery: { userId } },
        call(context),
      );
      return (answer.sealQuery?.seals ?? []).flatMap((item) => {
        const s = asRecord(item);
        if (!s || typeof s.sealId !== 'string') return [];
        const sealType = asInt(s.sealType);
        return [
          {
            sealId: s.sealId,
            ...(sealType === undefined ? {} : { sealType }),
            ...(typeof s.imageData === 'string' ? { image: new Uint8Array(Buffer.from(s.imageData, 'base64')) } : {}),
          },
        ];
      });
    },

    async downloadSignedArchive(flowId, context) {
      const record = await recordOf(flowId);
      const flow = await view(record, context);
      if (flow.status !== 'completed') {
        throw rejected(
          `CFCA flow ${flowId} is ${flow.status}, not completed; signed contracts can only be downloaded once it is.`,
          'NOT_COMPLETED',
          { flowId },
        );
      }
      return client.batchDownload(
        record.contracts.map((c) => c.contractNo!),
        call(context),
      );
    },
  };
  return vendor;
}
