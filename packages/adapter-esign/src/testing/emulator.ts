import { type Clock, systemClock } from '@sealflow/core';
import type { HttpHandler } from 'msw';
import { callbackSignature } from '../client/signature.js';
import { type CallbackOptions, CallbackQueue, type EsignCallbacks } from './callbacks.js';
import { type EsignFaults, FaultTable } from './faults.js';
import { createHandlers } from './handlers.js';
import { type EsignRateLimit, type EsignTraffic, RateLimiter, TrafficCounter } from './limits.js';
import { type FlowStatus, newId } from './model.js';
import { RealNameChecks } from './realname.js';
import { EmulatorState, type SignerRef } from './state.js';

/** An app (AppId + secret) of the emulator and the company it belongs to. */
export interface EsignEmulatorApp {
  appId: string;
  appSecret: string;
  /** The AppId's own company: it seals automatically, with its default seal unless a field names another. */
  orgId: string;
  orgName: string;
  /** The company's default seal. */
  sealId: string;
}

/** Options of {@link createEsignEmulator}. */
export interface EsignEmulatorOptions {
  /** Where the emulated API lives; the msw handlers answer everything under it. Default `https://esign-emulator.test`. */
  baseUrl?: string;
  /** The first app; more with `addApp`. Defaults: a sandbox-style AppId, a random secret, '某某消费金融股份有限公司'. */
  app?: { appId?: string; appSecret?: string; orgName?: string; orgIDCardNum?: string };
  /**
   * The emulator's time: request timestamps are checked against it, deadlines and download links expire by it, and
   * callbacks carry it. Use core's `createManualClock()` (from `@sealflow/core/memory`) to move time in a test; the
   * client under test must then sign with the same clock. Default: the system clock.
   */
  clock?: Clock;
  /** How long an uploaded file stays "uploading" (1) or "converting" (8) before it is usable. Default 0. */
  fileReadyDelayMs?: number;
  /** Accepted distance of `X-Tsign-Open-Ca-Timestamp` from the emulator's clock, either way. Default 15 minutes. */
  timestampToleranceMs?: number;
  callbacks?: CallbackOptions & {
    /**
     * Send SIGN_MISSON_COMPLETE for an organisation sealed automatically too. Whether e签宝 does is not documented;
     * default true, so a client must cope with it.
     */
    autoSignMissions?: boolean;
  };
  /** Apply e签宝's per-identity limits to the real-name data checks. Default true. */
  antiAbuse?: boolean;
  /**
   * A QPS limit per app, as e签宝's gateway enforces the one agreed for an app: a request beyond it does nothing and is
   * refused with HTTP 429 and the gateway's body `{"success":false,"code":429,"message":"TOO_MANY_REQUESTS"}` (e签宝
   * documents neither its limits nor this answer; it is the `rate-limit` fault's). Measured with the emulator's clock.
   * Default: no limit.
   */
  rateLimit?: EsignRateLimit;
  /**
   * Every request (API calls, uploads and downloads) waits this long, in real time, before it is looked at: the
   * distance to e签宝's servers. An aborted request stops waiting. Default 0.
   */
  latencyMs?: number;
}

/** A registered person (for real-name checks and as a signer by psnId). */
export interface EsignEmulatorPerson {
  name?: string;
  idNo?: string;
  /** Default CRED_PSN_CH_IDCARD. */
  idType?: string;
  mobile?: string;
  email?: string;
  /** Bank cards for the bank-card checks, each with its bank-reserved mobile (default: the person's mobile). */
  bankCards?: { cardNo: string; mobile?: string }[];
  /** Default: true when both name and ID number are given. */
  realnamed?: boolean;
}

/** What a test sees of a sign flow. */
export interface EsignEmulatorFlowView {
  signFlowId: string;
  appId: string;
  signFlowTitle: string;
  status: FlowStatus;
  expireTime: number;
  signers: {
    signerType: 0 | 1;
    signOrder: number;
    /** 0 waiting for earlier signers, 1 may sign now, 2 signed, 4 rejected. */
    signStatus: 0 | 1 | 2 | 4;
    psnId: string | undefined;
    orgId: string | undefined;
    customBizNums: string[];
    /** The signer's sign fields: the file each is on. */
    fields: { fileId: string }[];
  }[];
  docs: { fileId: string; fileName: string }[];
}

/** An in-memory e签宝 open API v3 for tests; see {@link createEsignEmulator}. */
export interface EsignEmulator {
  readonly baseUrl: string;
  /** The first app. */
  readonly app: EsignEmulatorApp;
  /** msw handlers answering everything under `baseUrl`: give them to `setupServer(...emulator.handlers)`. */
  readonly handlers: HttpHandler[];
  /** Fault injection for API calls. */
  readonly faults: EsignFaults;
  /** Callback records and fault injection. */
  readonly callbacks: EsignCallbacks;
  /** How many API calls the gateway saw and how many it refused for the rate limit. */
  readonly traffic: EsignTraffic;

  addApp(input?: { appId?: string; appSecret?: string; orgName?: string; orgIDCardNum?: string }): EsignEmulatorApp;
  /** A company with one seal (its default). */
  addOrg(input: { orgName: string; orgIDCardNum?: string }): { orgId: string; orgName: string; sealId: string };
  addSeal(orgId: string, input?: { sealName?: string; sealBizType?: string }): string;
  /** The seal's company authorises it to `toOrgId` (e.g. a funder to the platform), so that company may seal with it automatically. */
  authorizeSeal(sealId: string, toOrgId: string): void;
  /** Withdraws an authorisation given with `authorizeSeal`. */
  revokeSealAuthorization(sealId: string, fromOrgId: string): void;
  addPerson(input: EsignEmulatorPerson): { psnId: string };
  /**
   * What `POST /v1/signAuth/{accountId}` does: the app may sign for the person (v1 签署方自动盖章) until `deadline`
   * (ms), or without a deadline. The person's `psnId` is their v1 `accountId` here.
   */
  authorizeSilentSign(psnId: string, options?: { deadline?: number; appId?: string }): void;
  /** Withdraws a silent-sign authorisation (what `DELETE /v1/signAuth/{accountId}` does). */
  revokeSilentSign(psnId: string, appId?: string): void;
  /** The person's silent-sign authorisation for the app: `{ deadline }` (undefined: none), or undefined if none. */
  silentSignAuthorization(psnId: string, appId?: string): { deadline: number | undefined } | undefined;
  /** A doc template from a PDF with AcroForm fields; each field is a component whose key is the field's name. */
  addDocTemplate(input: {
    pdf: Uint8Array;
    docTemplateName: string;
    required?: string[];
    appId?: string;
  }): Promise<string>;
  /** A file already uploaded and usable (status 2), for tests that do not exercise the upload. */
  seedFile(input: { pdf: Uint8Array; fileName: string; appId?: string }): string;
  /** Makes a file fail: 3 (upload failed) or 9 (conversion failed). */
  setFileStatus(fileId: string, status: 3 | 9): void;

  /** What the person does on the sign page: signs every field of theirs (their turn must have come). */
  signAsPerson(signFlowId: string, signer: { psnAccount: string } | { psnId: string }): void;
  /**
   * What the signer does after opening a link from `sign-url` (long or short): signs (a person their fields, an
   * organisation's transactor with its default seal) or, with `reject`, refuses and ends the flow rejected.
   */
  signByUrl(url: string, options?: { reject?: string }): void;
  /** The person refuses to sign: the flow ends rejected (7). */
  rejectAsPerson(signFlowId: string, signer: { psnAccount: string } | { psnId: string }, reason?: string): void;
  /** An organisation's transactor signs by hand, with `sealId` or the organisation's default seal. */
  signAsOrg(signFlowId: string, signer: { orgId: string }, options?: { sealId?: string }): void;
  /** The flow's deadline passes now: it ends expired (5). */
  expire(signFlowId: string): void;
  /** Ends every signing flow whose deadline passed by the emulator's clock (API calls do this too). */
  sweep(): void;

  /** A flow as a test sees it; throws for an unknown id. */
  flow(signFlowId: string): EsignEmulatorFlowView;
  /** The ids of flows with a sign field whose customBizNum is `customBizNum`, or with that exact title. */
  findFlows(query: { customBizNum?: string; signFlowTitle?: string }): string[];
  /** A document of a flow as signed so far (the first document by default). */
  document(signFlowId: string, fileId?: string): Uint8Array;
}

/**
 * An in-memory e签宝 open API v3 behind msw handlers: files and templates, sign flows and their state machine,
 * organisations and seals, real-name data checks, signed callbacks, fault injection, and real signed PDFs.
 *
 * ```ts
 * const emulator = createEsignEmulator();
 * const server = setupServer(...emulator.handlers);
 * server.listen();
 * // a client configured with emulator.baseUrl, emulator.app.appId and emulator.app.appSecret
 * ```
 */
export function createEsignEmulator(options: EsignEmulatorOptions = {}): EsignEmulator {
  const baseUrl = (options.baseUrl ?? 'https://esign-emulator.test').replace(/\/$/, '');
  const clock = options.clock ?? systemClock;
  // Callbacks are signed with the secret of the flow's app, looked up when one is sent (the state exists by then).
  const callbacks: CallbackQueue = new CallbackQueue(
    clock,
    ({ appId, url, timestamp, body }): string =>
      callbackSignature({
        timestamp,
        query: new URL(url).search,
        rawBody: body,
        secret: s.apps.get(appId)?.appSecret ?? '',
      }),
    options.callbacks,
  );
  const s: EmulatorState = new EmulatorState({
    baseUrl,
    clock,
    fileReadyDelayMs: options.fileReadyDelayMs ?? 0,
    autoSignMissions: options.callbacks?.autoSignMissions ?? true,
    callbacks,
  });
  const faults = new FaultTable();
  const realName = new RealNameChecks(() => s.people.values(), options.antiAbuse ?? true);

  const appOf = (appId: string | undefined) => {
    const app = s.apps.get(appId ?? first.appId);
    if (!app) throw new RangeError(`No app ${appId}; create it with addApp.`);
    return app;
  };

  function addApp(input: EsignEmulatorOptions['app'] = {}): EsignEmulatorApp {
    const org = s.addOrg({
      orgName: input.orgName ?? '某某消费金融股份有限公司',
      ...(input.orgIDCardNum ? { orgIDCardNum: input.orgIDCardNum } : {}),
    });
    const seal = s.addSeal(org.orgId, { sealName: `${org.orgName}合同专用章` });
    const appId = input.appId ?? `7438${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
    if (s.apps.has(appId)) throw new RangeError(`App ${appId} exists already.`);
    const appSecret = input.appSecret ?? newId();
    s.apps.set(appId, { appId, appSecret, orgId: org.orgId });
    return { appId, appSecret, orgId: org.orgId, orgName: org.orgName, sealId: seal.sealId };
  }

  const first = addApp(options.app);

  const latencyMs = options.latencyMs ?? 0;
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw new RangeError(`latencyMs must be a number of milliseconds of at least 0, got ${String(options.latencyMs)}.`);
  }
  const traffic = new TrafficCounter();
  const handlers = createHandlers({
    rateLimiter: options.rateLimit ? new RateLimiter(options.rateLimit, () => clock.now()) : undefined,
    latencyMs,
    traffic,
    baseUrl,
    state: s,
    faults,
    realName,
    now: () => clock.now(),
    timestampToleranceMs: options.timestampToleranceMs ?? 15 * 60_000,
  });

  return {
    baseUrl,
    app: first,
    handlers,
    faults,
    callbacks,
    traffic,
    addApp,
    addOrg(input) {
      const org = s.addOrg(input);
      return { orgId: org.orgId, orgName: org.orgName, sealId: s.addSeal(org.orgId).sealId };
    },
    addSeal: (orgId, input) => s.addSeal(orgId, input).sealId,
    authorizeSeal(sealId, toOrgId) {
      const seal = s.seals.get(sealId);
      if (!seal) throw new RangeError(`No seal ${sealId}.`);
      if (!s.orgs.has(toOrgId)) throw new RangeError(`No organisation ${toOrgId}.`);
      seal.authorizedOrgIds.add(toOrgId);
    },
    revokeSealAuthorization(sealId, fromOrgId) {
      s.seals.get(sealId)?.authorizedOrgIds.delete(fromOrgId);
    },
    addPerson: (input) => ({ psnId: s.addPerson(input).psnId }),
    authorizeSilentSign(psnId, opts) {
      if (!s.people.has(psnId)) throw new RangeError(`No person ${psnId}.`);
      s.signAuths.set(`${appOf(opts?.appId).appId}:${psnId}`, { deadline: opts?.deadline });
    },
    revokeSilentSign(psnId, appId) {
      s.signAuths.delete(`${appOf(appId).appId}:${psnId}`);
    },
    silentSignAuthorization(psnId, appId) {
      const auth = s.signAuths.get(`${appOf(appId).appId}:${psnId}`);
      return auth ? { deadline: auth.deadline } : undefined;
    },
    addDocTemplate: async (input) => (await s.addTemplate(appOf(input.appId), input)).docTemplateId,
    seedFile: (input) => s.seedFile(appOf(input.appId), input.pdf, input.fileName).fileId,
    setFileStatus(fileId, status) {
      const file = s.files.get(fileId);
      if (!file) throw new RangeError(`No file ${fileId}.`);
      file.forcedStatus = status;
    },
    signAsPerson: (id, signer) => s.signAs(id, signer),
    rejectAsPerson: (id, signer, reason) => s.rejectAs(id, signer, reason),
    signByUrl(url, opts) {
      const link = s.signLinks.get(url);
      if (!link) throw new RangeError("That URL was not handed out by this emulator's sign-url.");
      if (!link.signer || link.urlType !== 2) throw new RangeError('That link only previews the flow; it cannot sign.');
      if (opts?.reject !== undefined) s.rejectAs(link.signFlowId, link.signer, opts.reject);
      else s.signAs(link.signFlowId, link.signer);
    },
    signAsOrg: (id, signer, opts) => s.signAs(id, signer as SignerRef, opts?.sealId),
    expire: (id) => s.expire(id),
    sweep: () => s.sweep(),
    flow(signFlowId) {
      s.sweep();
      const f = s.flows.get(signFlowId);
      if (!f) throw new RangeError(`No sign flow ${signFlowId}.`);
      return {
        signFlowId: f.signFlowId,
        appId: f.appId,
        signFlowTitle: f.signFlowTitle,
        status: f.status,
        expireTime: f.expireTime,
        signers: f.signers.map((x) => ({
          signerType: x.signerType,
          signOrder: x.signOrder,
          signStatus: x.signStatus,
          psnId: x.person?.psnId,
          orgId: x.org?.orgId,
          customBizNums: x.fields.flatMap((field) => (field.customBizNum ? [field.customBizNum] : [])),
          fields: x.fields.map((field) => ({ fileId: field.fileId })),
        })),
        docs: f.docs.map((d) => ({ fileId: d.fileId, fileName: d.fileName })),
      };
    },
    findFlows(query) {
      return [...s.flows.values()]
        .filter(
          (f) =>
            (query.signFlowTitle === undefined || f.signFlowTitle === query.signFlowTitle) &&
            (query.customBizNum === undefined ||
              f.signers.some((x) => x.fields.some((field) => field.customBizNum === query.customBizNum))),
        )
        .map((f) => f.signFlowId);
    },
    document(signFlowId, fileId) {
      const f = s.flows.get(signFlowId);
      const doc = fileId === undefined ? f?.docs[0] : f?.docs.find((d) => d.fileId === fileId);
      if (!doc) throw new RangeError(`No such document in sign flow ${signFlowId}.`);
      return doc.bytes;
    },
  };
}
