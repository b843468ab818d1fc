import { X509Certificate } from 'node:crypto';
import { type Clock, systemClock } from '@sealflow/core';
import type { HttpHandler } from 'msw';
import { type CfcaFaults, FaultTable } from './faults.js';
import { type CfcaRateLimit, type CfcaTraffic, RateLimiter, TrafficCounter } from './limits.js';
import { createHandlers } from './handlers.js';
import { type ContractState, maskMobile, newId, type SignmentState, txTime } from './model.js';
import { EmulatorState } from './state.js';

/** A platform (platId + its registered certificate); the platform is itself an enterprise user with a default seal. */
export interface CfcaEmulatorPlatform {
  /** 32 upper-case hex characters; also the platform's own userId. */
  platId: string;
  name: string;
  /** The platform's default seal. */
  sealId: string;
}

/** How to register a platform. */
export interface CfcaEmulatorPlatformInput {
  /**
   * The platform certificate (PEM text or DER bytes) whose key signs the requests. Requests signed by any other key
   * are refused.
   */
  certificate: string | Uint8Array;
  /** Default: random, 32 upper-case hex characters. */
  platId?: string;
  /** Default '某某消费金融股份有限公司'. */
  name?: string;
  /** The platform company's unified social credit code. Default a made-up one. */
  identNo?: string;
}

/** Options of {@link createCfcaEmulator}. */
export interface CfcaEmulatorOptions {
  /** The first platform; more with `addPlatform`. */
  platform: CfcaEmulatorPlatformInput;
  /**
   * Where the emulated FEP lives, ending in `/` as 安心签's base URLs do; the handlers answer
   * `{baseUrl}platId/{platId}/txCode/{txCode}/transaction` and the two download GETs under it.
   * Default `https://anxinsign-emulator.test/FEP/`.
   */
  baseUrl?: string;
  /**
   * The emulator's time: `head.txTime` is checked against it, SMS codes and contracts expire by it, and answers carry
   * it. Use core's `createManualClock()` (from `@sealflow/core/memory`) to move time in a test. Default: the system
   * clock.
   */
  clock?: Clock;
  /**
   * Accepted distance of `head.txTime` (China Standard Time) from the emulator's clock, either way. 安心签's test
   * system does not check it and production's rule is not known; `null` switches the check off. Default 15 minutes.
   */
  txTimeToleranceMs?: number | null;
  /** HTTP status of answers in the error form; 安心签's is not known, and clients read the body either way. Default 200. */
  errorStatus?: number;
  /** SMS codes of 3101: how long one stays valid (default 5 minutes), wrong tries before it is void (default 5), and a fixed code instead of a random one. */
  checkCode?: { ttlMs?: number; maxFailures?: number; fixed?: string };
  /** How long a 3202 batch runs before 3211 has its result (emulator's clock). Default 0: done at the next call. */
  batchDelayMs?: number;
  /**
   * What a repeated key does, where 安心签's behaviour is not known. `contractNo` (a 3201/3203 `contractNo` or 3202
   * `batchNo` used before): `'refuse'` (default) answers CONTRACT_NO_EXISTS / BATCH_NO_EXISTS, `'return-existing'`
   * answers with the contract (or batch) made the first time. `account` (3001/3002 with an ID number already opened on
   * this platform): `'return-existing'` (default) answers with the existing userId, `'refuse'` answers USER_EXISTS.
   */
  duplicates?: { contractNo?: 'refuse' | 'return-existing'; account?: 'refuse' | 'return-existing' };
  /**
   * When signing on a user's behalf needs a 3101/3102 authorisation for (userId, projectCode): `'always'` (default)
   * or only when the request sets `isCheckProjectCode: 1` (`'when-asked'`). Creation with `isProxySign: 1` always
   * checks unless `isCheckProjectCode` is explicitly 0 under `'when-asked'`.
   */
  proxySignCheck?: 'always' | 'when-asked';
  /** Default `expiredDate` of a contract, in days from its creation. Default 30. */
  contractValidityDays?: number;
  /**
   * A QPS limit per platform: a transaction or download beyond it does nothing and is answered in the error form
   * with `CFCA_CODES.RATE_LIMITED` (`请求过于频繁`), with HTTP status `errorStatus` for transactions and 429 for
   * downloads. Measured with the emulator's clock. Default: no limit.
   */
  rateLimit?: CfcaRateLimit;
  /** Every call waits this long, in real time, before it is looked at: the distance to 安心签. Default 0. */
  latencyMs?: number;
}

/** What a test sees of a contract. */
export interface CfcaEmulatorContractView {
  contractNo: string;
  platId: string;
  contractTypeCode: string;
  contractName: string;
  templateId: string | undefined;
  /** 0 nobody signed yet, 3 signing, 1 completed, 9 expired. */
  contractState: ContractState;
  expiredDate: string;
  signatories: { userId: string; signmentState: SignmentState }[];
  textValues: Record<string, string>;
  /** Signatures in the PDF so far. */
  signatureCount: number;
}

/** An SMS (or voice) code the emulator "sent"; the mobile number is masked. */
export interface CfcaEmulatorSms {
  userId: string;
  mobilePhone: string;
  projectCode: string;
  code: string;
  /** yyyyMMddHHmmss, China Standard Time. */
  sentAt: string;
}

/** An in-memory 安心签 for tests; see {@link createCfcaEmulator}. */
export interface CfcaEmulator {
  /** Ends with `/`. */
  readonly baseUrl: string;
  /** The first platform. */
  readonly platform: CfcaEmulatorPlatform;
  /** msw handlers for everything under `baseUrl`: give them to `setupServer(...emulator.handlers)`. */
  readonly handlers: HttpHandler[];
  /** Fault injection for transactions and downloads. */
  readonly faults: CfcaFaults;
  /** How many calls of registered platforms the FEP saw and how many it refused for the rate limit. */
  readonly traffic: CfcaTraffic;

  addPlatform(input: CfcaEmulatorPlatformInput): CfcaEmulatorPlatform;
  /** A person with an account (as after 3001), for tests that do not exercise account opening. */
  addPerson(input: { name: string; identNo: string; mobilePhone: string; identTypeCode?: string; platId?: string }): {
    userId: string;
  };
  /** A company with an account (as after 3002) and its default seal. */
  addEnterprise(input: { name: string; identNo: string; mobilePhone?: string; platId?: string }): {
    userId: string;
    sealId: string;
  };
  /**
   * A contract template as 安心签 sets one up for the platform: text fields are the PDF's AcroForm text fields;
   * signature fields are its empty AcroForm signature fields plus `signatureFields` (name → 0-based page and
   * rectangle in points from the page's lower-left corner). Returns the templateId (default `<contractTypeCode>_<n>`).
   */
  addTemplate(input: {
    pdf: Uint8Array;
    templateId?: string;
    /** Two capitals: JK (loan, default), MM, QT, ZL … */
    contractTypeCode?: string;
    contractName?: string;
    signatureFields?: Record<string, { page: number; rect: { x: number; y: number; width: number; height: number } }>;
    platId?: string;
  }): Promise<string>;
  /** The code of the latest SMS sent for (userId, projectCode), or for the user's latest project. */
  lastCheckCode(userId: string, projectCode?: string): string | undefined;
  /** Every SMS code sent, oldest first. */
  sms(): CfcaEmulatorSms[];
  /** A proxy-sign authorisation as after 3101 + 3102. */
  authorizeProxySign(userId: string, projectCode: string): void;
  /** Whether (userId, projectCode) is authorised. */
  isAuthorized(userId: string, projectCode: string): boolean;
  /** Batches created from now on stay unfinished until `finishBatch` (or `holdBatches(false)`). */
  holdBatches(hold: boolean): void;
  /** Runs a batch now, whatever its delay or hold. Throws for an unknown batch. */
  finishBatch(batchNo: string, platId?: string): Promise<void>;
  /** A contract as a test sees it; throws for an unknown number. */
  contract(contractNo: string): CfcaEmulatorContractView;
  /** The numbers of every contract, oldest first: lets a test prove that a retry made no second contract. */
  contractNumbers(): string[];
  /** The contract's PDF as signed so far. */
  document(contractNo: string): Uint8Array;
  /** The contract's `expiredDate` becomes yesterday: it is expired (9) unless completed. */
  expire(contractNo: string): void;
}

/**
 * An in-memory CFCA 安心签 (the FEP platform API) behind msw handlers: signed transactions checked against the
 * platform certificate, accounts and seals, proxy-sign authorisation by SMS code, contracts from templates (one by
 * one or in batches that are polled), uploaded contracts, signing by field, keyword or coordinates with real PAdES
 * signatures, query and download, fault injection.
 *
 * ```ts
 * const emulator = createCfcaEmulator({ platform: { certificate: platformCertPem } });
 * const server = setupServer(...emulator.handlers);
 * server.listen();
 * // a client configured with emulator.baseUrl, emulator.platform.platId and the platform certificate's key
 * ```
 */
export function createCfcaEmulator(options: CfcaEmulatorOptions): CfcaEmulator {
  const baseUrl = (options.baseUrl ?? 'https://anxinsign-emulator.test/FEP/').replace(/\/?$/, '/');
  const clock = options.clock ?? systemClock;
  const duplicates = options.duplicates ?? {};
  const state = new EmulatorState({
    clock,
    checkCodeTtlMs: options.checkCode?.ttlMs ?? 5 * 60_000,
    maxCheckCodeFailures: options.checkCode?.maxFailures ?? 5,
    fixedCheckCode: options.checkCode?.fixed,
    batchDelayMs: options.batchDelayMs ?? 0,
    duplicateContractNo: duplicates.contractNo ?? 'refuse',
    duplicateAccount: duplicates.account ?? 'return-existing',
    proxySignCheck: options.proxySignCheck ?? 'always',
    contractValidityDays: options.contractValidityDays ?? 30,
  });
  const faults = new FaultTable();

  function addPlatform(input: CfcaEmulatorPlatformInput): CfcaEmulatorPlatform {
    let certificateDer: Uint8Array;
    try {
      certificateDer = new Uint8Array(new X509Certificate(input.certificate).raw);
    } catch {
      throw new RangeError('addPlatform: certificate must be an X.509 certificate, PEM text or DER bytes.');
    }
    const platId = input.platId ?? newId();
    if (!/^[0-9A-F]{32}$/.test(platId)) throw new RangeError('addPlatform: platId is 32 upper-case hex characters.');
    const name = input.name ?? '某某消费金融股份有限公司';
    state.addPlatform({ platId, certificateDer, name, identNo: input.identNo ?? '91310000MA1FL00000' });
    return { platId, name, sealId: state.defaultSealOf(platId)!.sealId };
  }

  const first = addPlatform(options.platform);
  const platformOf = (platId: string | undefined) => {
    const p = state.platforms.get(platId ?? first.platId);
    if (!p) throw new RangeError(`No platform ${platId}; register it with addPlatform.`);
    return p;
  };
  const contractOf = (contractNo: string) => {
    const c = state.contracts.get(contractNo);
    if (!c) throw new RangeError(`No contract ${contractNo}.`);
    return c;
  };
  const addUser = (
    kind: 'person' | 'enterprise',
    input: { name: string; identNo: string; mobilePhone?: string; identTypeCode?: string; platId?: string },
  ) => {
    const platform = platformOf(input.platId);
    const identTypeCode = input.identTypeCode ?? (kind === 'person' ? '0' : '8');
    const body =
      kind === 'person'
        ? {
            person: {
              personName: input.name,
              identTypeCode,
              identNo: input.identNo,
              mobilePhone: input.mobilePhone,
              authenticationMode: '公安部',
            },
          }
        : {
            enterprise: {
              enterpriseName: input.name,
              identTypeCode,
              identNo: input.identNo,
              mobilePhone: input.mobilePhone,
            },
            enterpriseTransactor: { transactorName: '经办人', identTypeCode: '0', identNo: '110101199001010000' },
          };
    // Through the transaction itself, so seeded accounts are exactly what 3001/3002 make.
    return kind === 'person' ? state.openPerson(platform, body) : state.openEnterprise(platform, body);
  };

  const latencyMs = options.latencyMs ?? 0;
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw new RangeError(`latencyMs must be a number of milliseconds of at least 0, got ${String(options.latencyMs)}.`);
  }
  const traffic = new TrafficCounter();

  return {
    baseUrl,
    platform: first,
    handlers: createHandlers({
      baseUrl,
      state,
      faults,
      txTimeToleranceMs: options.txTimeToleranceMs === null ? undefined : (options.txTimeToleranceMs ?? 15 * 60_000),
      errorStatus: options.errorStatus ?? 200,
      rateLimiter: options.rateLimit ? new RateLimiter(options.rateLimit, () => clock.now()) : undefined,
      latencyMs,
      traffic,
    }),
    faults,
    traffic,
    addPlatform,
    addPerson(input) {
      const found = addUser('person', input);
      return { userId: String((found.person as { userId: string }).userId) };
    },
    addEnterprise(input) {
      const found = addUser('enterprise', input);
      const userId = String((found.enterprise as { userId: string }).userId);
      return { userId, sealId: state.defaultSealOf(userId)!.sealId };
    },
    addTemplate: async (input) =>
      (await state.addTemplate({ ...input, platId: platformOf(input.platId).platId })).templateId,
    lastCheckCode(userId, projectCode) {
      const sent = state.outbox.filter(
        (m) => m.userId === userId && (projectCode === undefined || m.projectCode === projectCode),
      );
      return sent.at(-1)?.code;
    },
    sms: () =>
      state.outbox.map((m) => ({
        userId: m.userId,
        mobilePhone: maskMobile(m.mobilePhone),
        projectCode: m.projectCode,
        code: m.code,
        sentAt: txTime(m.sentAt),
      })),
    authorizeProxySign(userId, projectCode) {
      if (!state.users.has(userId)) throw new RangeError(`No user ${userId}.`);
      state.authorise(userId, projectCode);
    },
    isAuthorized: (userId, projectCode) =>
      [...state.authorisations.values()].some((a) => a.userId === userId && a.projectCode === projectCode),
    holdBatches(hold) {
      state.holdAllBatches = hold;
      if (!hold) for (const b of state.batches.values()) b.held = false;
    },
    async finishBatch(batchNo, platId) {
      const b = state.batch(platformOf(platId).platId, batchNo);
      if (!b) throw new RangeError(`No batch ${batchNo}.`);
      b.held = false;
      await state.runBatch(b);
    },
    contract(contractNo) {
      const c = contractOf(contractNo);
      return {
        contractNo: c.contractNo,
        platId: c.platId,
        contractTypeCode: c.contractTypeCode,
        contractName: c.contractName,
        templateId: c.templateId,
        contractState: state.contractState(c),
        expiredDate: c.expiredDate,
        signatories: c.signatories.map((s) => ({ userId: s.userId, signmentState: s.signmentState })),
        textValues: { ...c.textValues },
        signatureCount: c.signatureCount,
      };
    },
    contractNumbers: () => [...state.contracts.keys()],
    document: (contractNo) => contractOf(contractNo).bytes,
    expire(contractNo) {
      contractOf(contractNo).expiredDate = txTime(clock.now() - 86_400_000).slice(0, 8);
    },
  };
}
