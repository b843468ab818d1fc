/**
 * The emulator's e签宝: files, templates, organisations, seals, people and sign flows, and every operation the V3
 * API offers on them. The HTTP side (gateway checks, routes, faults) is in handlers.ts; this file knows nothing of
 * HTTP and answers failures by throwing {@link EsignBusinessError}.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '@sealflow/core';
import type { CallbackQueue } from './callbacks.js';
import { EsignBusinessError, ESIGN_CODES, invalidParameter } from './codes.js';
import { inspect, LazyIdentity, looksLikePdf, prepare, type SealPlacement, sealDocument } from './documents.js';
import {
  type AppRecord,
  FLOW_STATUS_TEXT,
  type FileRecord,
  type FlowDoc,
  type FlowRecord,
  type FlowStatus,
  newId,
  type OrgRecord,
  type PersonRecord,
  type SealRecord,
  type SignerRecord,
  type SignFieldRecord,
  type TemplateComponent,
  type TemplateRecord,
} from './model.js';

type Json = Record<string, unknown>;

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
const FORBIDDEN_NAME_CHARS = /[/\\:*"<>|?]|\p{Extended_Pictographic}/u;
const MOBILE = /^1\d{10}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** Side of a seal when the request gives no size: 42 mm, a common company seal. */
const ORG_SEAL_SIZE = 119;
const PERSON_SEAL_SIZE = 80;

export interface StateOptions {
  baseUrl: string;
  clock: Clock;
  fileReadyDelayMs: number;
  /** Emit SIGN_MISSON_COMPLETE for signers sealed automatically (unverified whether e签宝 does). */
  autoSignMissions: boolean;
  callbacks: CallbackQueue;
}

interface Download {
  bytes: Uint8Array;
  fileName: string;
  expiresAt: number;
}

export function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function maskMobileLikeEsign(mobile: string | undefined): string | null {
  return mobile ? `${mobile.slice(0, 3)}****${mobile.slice(7)}` : null;
}

function checkFileName(fileName: unknown, what: string): string {
  const name = str(fileName);
  if (!name) throw invalidParameter(`${what}不能为空`);
  if (name.length > 100) throw invalidParameter('文件名字长度不能大于100');
  if (FORBIDDEN_NAME_CHARS.test(name)) throw invalidParameter(`${what}不能包含特殊字符`);
  return name;
}

export class EmulatorState {
  readonly apps = new Map<string, AppRecord>();
  readonly orgs = new Map<string, OrgRecord>();
  readonly seals = new Map<string, SealRecord>();
  readonly people = new Map<string, PersonRecord>();
  readonly files = new Map<string, FileRecord>();
  readonly templates = new Map<string, TemplateRecord>();
  readonly flows = new Map<string, FlowRecord>();
  private readonly downloads = new Map<string, Download>();
  /** Sign links handed out (long and short), and whom they sign for. */
  /**
   * Silent-sign authorisations (v1 `signAuth`) by `appId:accountId`: the deadline in ms, or undefined for one
   * without a deadline.
   */
  readonly signAuths = new Map<string, { deadline: number | undefined }>();
  readonly signLinks = new Map<string, { signFlowId: string; signer: SignerRef | undefined; urlType: number }>();

  constructor(private readonly options: StateOptions) {}

  private now(): number {
    return this.options.clock.now();
  }

  private url(path: string): string {
    return `${this.options.baseUrl}${path}`;
  }

  // ---------------------------------------------------------------- accounts

  addOrg(input: { orgName: string; orgIDCardNum?: string; orgIDCardType?: string }): OrgRecord {
    const org: OrgRecord = {
      orgId: newId(),
      orgName: input.orgName,
      orgIDCardNum: input.orgIDCardNum ?? `91310000${randomBytes(5).toString('hex').toUpperCase()}`,
      orgIDCardType: input.orgIDCardType ?? 'CRED_ORG_USCC',
    };
    this.orgs.set(org.orgId, org);
    return org;
  }

  addSeal(orgId: string, input: { sealName?: string; sealBizType?: string } = {}): SealRecord {
    const org = this.orgs.get(orgId);
    if (!org) throw new RangeError(`addSeal: no organisation ${orgId}; create it with addOrg first.`);
    const seal: SealRecord = {
      sealId: newId(),
      orgId,
      sealName: input.sealName ?? `${org.orgName}合同专用章`,
      sealBizType: input.sealBizType ?? 'CONTRACT',
      authorizedOrgIds: new Set(),
      identity: new LazyIdentity(org.orgName.slice(0, 60), org.orgName.slice(0, 60)),
    };
    this.seals.set(seal.sealId, seal);
    return seal;
  }

  addPerson(input: {
    name?: string;
    idNo?: string;
    idType?: string;
    mobile?: string;
    email?: string;
    bankCards?: { cardNo: string; mobile?: string }[];
    realnamed?: boolean;
  }): PersonRecord {
    const person: PersonRecord = {
      psnId: newId(),
      name: input.name,
      idNo: input.idNo,
      idType: input.idType ?? 'CRED_PSN_CH_IDCARD',
      mobile: input.mobile,
      email: input.email,
      bankCards: (input.bankCards ?? []).map((c) => ({ cardNo: c.cardNo, mobile: c.mobile })),
      realnamed: input.realnamed ?? (input.name !== undefined && input.idNo !== undefined),
      identity: new LazyIdentity('e签宝个人用户', undefined),
    };
    this.people.set(person.psnId, person);
    return person;
  }

  private personByAccount(account: string): PersonRecord | undefined {
    for (const p of this.people.values()) if (p.mobile === account || p.email === account) return p;
    return undefined;
  }

  // ---------------------------------------------------------------- files

  createUploadUrl(app: AppRecord, body: Json): Json {
    const contentMd5 = str(body.contentMd5);
    if (!contentMd5) throw invalidParameter('contentMd5不能为空');
    const contentType = str(body.contentType);
    if (!contentType) throw invalidParameter('contentType不能为空');
    const fileName = checkFileName(body.fileName, 'fileName');
    const fileSize = num(body.fileSize);
    if (fileSize === undefined || fileSize <= 0) throw invalidParameter('fileSize必须大于0');
    const file: FileRecord = {
      fileId: newId(),
      appId: app.appId,
      fileName,
      contentType,
      contentMd5,
      fileSize,
      convertToPDF: body.convertToPDF === true,
      uploadToken: randomBytes(12).toString('hex'),
      bytes: undefined,
      uploadedAt: undefined,
      forcedStatus: undefined,
    };
    this.files.set(file.fileId, file);
    const expires = Math.floor((this.now() + HOUR) / 1000);
    return {
      fileId: file.fileId,
      fileUploadUrl: this.url(
        `/__oss/${file.fileId}?Expires=${expires}&OSSAccessKeyId=emulator&Signature=${file.uploadToken}`,
      ),
    };
  }

  /** The PUT to an upload URL, answered as Aliyun OSS would (403 for a mismatching type or MD5). */
  acceptUpload(
    fileId: string,
    query: URLSearchParams,
    contentType: string | null,
    contentMd5: string | null,
    bytes: Uint8Array,
  ): { status: number; body: string; contentType: string } {
    const file = this.files.get(fileId);
    const ossError = (code: string, message: string) => ({
      status: 403,
      contentType: 'application/xml',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    });
    if (!file || query.get('Signature') !== file.uploadToken) {
      return ossError('SignatureDoesNotMatch', 'The request signature we calculated does not match.');
    }
    if (Number(query.get('Expires')) * 1000 < this.now()) return ossError('AccessDenied', 'Request has expired.');
    if (contentType !== file.contentType) {
      return ossError('SignatureDoesNotMatch', 'Content-Type differs from the one the upload URL was issued for.');
    }
    if (contentMd5 !== file.contentMd5) {
      return ossError('SignatureDoesNotMatch', 'Content-MD5 differs from the one the upload URL was issued for.');
    }
    if (createHash('md5').update(bytes).digest('base64') !== contentMd5) {
      return { ...ossError('InvalidDigest', 'The Content-MD5 you specified is not valid.'), status: 400 };
    }
    file.bytes = bytes;
    file.uploadedAt = this.now();
    return { status: 200, contentType: 'application/json', body: JSON.stringify({ errCode: 0, msg: '成功' }) };
  }

  fileStatus(file: FileRecord): number {
    if (file.forcedStatus !== undefined) return file.forcedStatus;
    if (!file.bytes || file.uploadedAt === undefined) return 0;
    if (this.now() < file.uploadedAt + this.options.fileReadyDelayMs) return file.convertToPDF ? 8 : 1;
    if (file.convertToPDF) return looksLikePdf(file.bytes) ? 5 : 9;
    return 2;
  }

  private file(app: AppRecord, fileId: string): FileRecord {
    const file = this.files.get(fileId);
    if (!file || file.appId !== app.appId) {
      throw new EsignBusinessError(ESIGN_CODES.FILE_NOT_FOUND, '查询合同信息失败: 合同不存在');
    }
    return file;
  }

  async fileDetail(app: AppRecord, fileId: string, withPageSize: boolean): Promise<Json> {
    const file = this.file(app, fileId);
    const status = this.fileStatus(file);
    const ready = (status === 2 || status === 5) && file.bytes !== undefined;
    let pageCount: number | null = null;
    let page: { width: number; height: number } | undefined;
    if (ready && file.bytes && looksLikePdf(file.bytes)) {
      const info = await inspect(file.bytes).catch(() => undefined);
      pageCount = info?.pageCount ?? null;
      page = info?.pages[0];
    }
    return {
      fileId: file.fileId,
      fileName: file.fileName,
      fileSize: null,
      fileStatus: status,
      fileDownloadUrl: ready && file.bytes ? this.mintDownload(file.bytes, file.fileName, HOUR) : null,
      fileTotalPageCount: pageCount,
      pageWidth: withPageSize && page ? page.width : null,
      pageHeight: withPageSize && page ? page.height : null,
    };
  }

  async keywordPositions(app: AppRecord, fileId: string, keywords: unknown): Promise<Json> {
    const list = Array.isArray(keywords) ? keywords.filter((k): k is string => typeof k === 'string' && k !== '') : [];
    if (list.length === 0) throw invalidParameter('未指定关键字');
    const file = this.files.get(fileId);
    if (!file || file.appId !== app.appId || !file.bytes) {
      throw new EsignBusinessError(ESIGN_CODES.KEYWORD_FILE_NOT_FOUND, `文档不存在:${fileId}`);
    }
    const info = await inspect(file.bytes, list);
    return {
      keywordPositions: list.map((keyword) => {
        const hits = info.keywordHits.filter((h) => h.keyword === keyword);
        const pages = [...new Set(hits.map((h) => h.page))].sort((a, b) => a - b);
        return {
          keyword,
          searchResult: hits.length > 0,
          positions: pages.map((page) => ({
            pageNum: page + 1,
            coordinates: hits
              .filter((h) => h.page === page)
              .map((h) => ({ positionX: round2(h.x + h.width / 2), positionY: round2(h.y + h.height / 2) })),
          })),
        };
      }),
    };
  }

  /** A file already uploaded and usable (status 2), for tests that do not exercise the upload. */
  seedFile(app: AppRecord, bytes: Uint8Array, fileName: string): FileRecord {
    const file: FileRecord = {
      fileId: newId(),
      appId: app.appId,
      fileName: checkFileName(fileName, 'fileName'),
      contentType: 'application/pdf',
      contentMd5: createHash('md5').update(bytes).digest('base64'),
      fileSize: bytes.length,
      convertToPDF: false,
      uploadToken: randomBytes(12).toString('hex'),
      bytes,
      uploadedAt: Number.NEGATIVE_INFINITY,
      forcedStatus: undefined,
    };
    this.files.set(file.fileId, file);
    return file;
  }

  // ---------------------------------------------------------------- downloads

  mintDownload(bytes: Uint8Array, fileName: string, validMs: number): string {
    const token = randomBytes(16).toString('hex');
    const expiresAt = this.now() + validMs;
    this.downloads.set(token, { bytes, fileName, expiresAt });
    return this.url(`/__download/${token}?Expires=${Math.floor(expiresAt / 1000)}`);
  }

  download(token: string): Download | 'expired' | undefined {
    const d = this.downloads.get(token);
    if (!d) return undefined;
    return d.expiresAt < this.now() ? 'expired' : d;
  }

  // ---------------------------------------------------------------- templates

  async addTemplate(app: AppRecord, input: { pdf: Uint8Array; docTemplateName: string; required?: string[] }) {
    const info = await inspect(input.pdf);
    const required = new Set(input.required ?? []);
    const seen = new Set<string>();
    const components: TemplateComponent[] = [];
    for (const field of info.fields) {
      if (seen.has(field.name)) continue;
      seen.add(field.name);
      components.push({
        componentId: newId(),
        componentKey: field.name,
        componentName: field.name,
        componentType: COMPONENT_TYPES[field.type] ?? 1,
        required: required.has(field.name),
        componentPosition: {
          componentPositionX: round2(field.rect.x + field.rect.width / 2),
          componentPositionY: round2(field.rect.y + field.rect.height / 2),
          componentPageNum: field.page + 1,
        },
        componentSize: { componentWidth: round2(field.rect.width), componentHeight: round2(field.rect.height) },
      });
    }
    for (const key of required) {
      if (!seen.has(key)) throw new RangeError(`addDocTemplate: the PDF has no form field named "${key}".`);
    }
    const template: TemplateRecord = {
      docTemplateId: newId(),
      appId: app.appId,
      docTemplateName: input.docTemplateName,
      createTime: this.now(),
      pdf: input.pdf,
      components,
      prepared: undefined,
    };
    this.templates.set(template.docTemplateId, template);
    return template;
  }

  private template(app: AppRecord, id: string): TemplateRecord {
    const t = this.templates.get(id);
    if (!t || t.appId !== app.appId) throw new EsignBusinessError(ESIGN_CODES.TEMPLATE_NOT_FOUND, '模板不存在');
    return t;
  }

  templateDetail(app: AppRecord, id: string): Json {
    const t = this.template(app, id);
    return {
      docTemplateId: t.docTemplateId,
      docTemplateName: t.docTemplateName,
      createTime: t.createTime,
      updateTime: t.createTime,
      fileDownloadUrl: this.mintDownload(t.pdf, `${t.docTemplateName}.pdf`, HOUR),
      components: t.components,
    };
  }

  templateList(app: AppRecord, query: URLSearchParams): Json {
    const all = [...this.templates.values()].filter((t) => t.appId === app.appId);
    const { pageNum, pageSize } = paging(query.get('pageNum'), query.get('pageSize'));
    return {
      total: all.length,
      docTemplates: all.slice((pageNum - 1) * pageSize, pageNum * pageSize).map((t) => ({
        docTemplateId: t.docTemplateId,
        docTemplateName: t.docTemplateName,
        createTime: t.createTime,
        updateTime: t.createTime,
      })),
    };
  }

  async createByDocTemplate(app: AppRecord, body: Json): Promise<Json> {
    const id = str(body.docTemplateId);
    if (!id) throw invalidParameter('docTemplateId不能为空');
    const fileName = checkFileName(body.fileName, 'fileName');
    if (!Array.isArray(body.components)) throw invalidParameter('components不能为空');
    const t = this.template(app, id);
    const values: Record<string, string> = {};
    for (const item of body.components) {
      const c = obj(item);
      const component = t.components.find(
        (x) => (c?.componentId !== undefined && x.componentId === c.componentId) || x.componentKey === c?.componentKey,
      );
      if (!c || !component) throw invalidParameter(`控件不存在: ${String(c?.componentKey ?? c?.componentId)}`);
      if (typeof c.componentValue !== 'string') throw invalidParameter('componentValue必须是字符串');
      if (c.componentValue !== '') values[component.componentKey] = c.componentValue;
    }
    if (body.requiredCheck === true) {
      const missing = t.components.find((c) => c.required && values[c.componentKey] === undefined);
      if (missing) {
        throw new EsignBusinessError(ESIGN_CODES.TEMPLATE_FILL, `创建合同失败: '${missing.componentName}'填充内容缺失`);
      }
    }
    t.prepared ??= prepare(t.pdf);
    const filled = (await t.prepared).render(values);
    const file = this.seedFile(app, filled, fileName.endsWith('.pdf') ? fileName : `${fileName}.pdf`);
    return { fileId: file.fileId, fileDownloadUrl: this.mintDownload(filled, file.fileName, HOUR) };
  }

  // ---------------------------------------------------------------- sign flows

  async createByFile(app: AppRecord, body: Json): Promise<Json> {
    const config = obj(body.signFlowConfig);
    if (!config) throw invalidParameter('signFlowConfig不能为空');
    const title = str(config.signFlowTitle);
    if (!title) throw invalidParameter('signFlowTitle不能为空');
    if (FORBIDDEN_NAME_CHARS.test(title)) throw invalidParameter('signFlowTitle不能包含特殊字符');
    const now = this.now();
    const expireTime = num(config.signFlowExpireTime) ?? now + 90 * DAY;
    if (expireTime > now + 90 * DAY) throw invalidParameter('signFlowExpireTime不能超过90天');
    if (expireTime <= now) throw invalidParameter('signFlowExpireTime不能早于当前时间');
    const autoStart = config.autoStart !== false;
    const autoFinish = config.autoFinish === true;
    const notifyUrl = str(config.notifyUrl);
    if (notifyUrl !== undefined && (/\s/.test(notifyUrl) || !/^https?:\/\/[^/]+/.test(notifyUrl))) {
      throw invalidParameter('notifyUrl格式不正确');
    }
    const redirect = obj(config.redirectConfig);
    if (redirect && redirect.redirectDelayTime !== undefined && !str(redirect.redirectUrl)) {
      throw invalidParameter('redirectUrl为空时,不允许传入redirectDelayTime');
    }

    const docsIn = Array.isArray(body.docs) ? body.docs : [];
    if (docsIn.length === 0 && autoStart) throw invalidParameter('docs不能为空');
    if (docsIn.length > 50) throw invalidParameter('docs不能超过50个');
    const docs: FlowDoc[] = [];
    for (const item of docsIn) {
      const d = obj(item);
      const fileId = str(d?.fileId);
      if (!fileId) throw invalidParameter('fileId不能为空');
      docs.push(await this.flowDoc(app, fileId, checkFileName(d?.fileName, 'fileName')));
    }
    const attachments = (Array.isArray(body.attachments) ? body.attachments : []).map((item) => {
      const a = obj(item);
      const fileId = str(a?.fileId);
      if (!fileId) throw invalidParameter('fileId不能为空');
      this.file(app, fileId);
      return { fileId, fileName: checkFileName(a?.fileName, 'fileName') };
    });

    const signersIn = Array.isArray(body.signers) ? body.signers : [];
    if (signersIn.length > 10) throw invalidParameter('单次创建签署方不能超过10个');
    const flow: FlowRecord = {
      signFlowId: newId(),
      appId: app.appId,
      signFlowTitle: title,
      status: 0,
      description: FLOW_STATUS_TEXT[0],
      revokeReason: undefined,
      createTime: now,
      startTime: undefined,
      finishTime: undefined,
      expireTime,
      autoStart,
      autoFinish,
      notifyUrl,
      config,
      docs,
      attachments,
      signers: [],
    };
    flow.signers = this.parseSigners(app, flow, signersIn, config.identityVerify !== false);
    this.checkFieldCount(flow);
    this.flows.set(flow.signFlowId, flow);
    if (autoStart) this.start(flow);
    return { signFlowId: flow.signFlowId };
  }

  private async flowDoc(app: AppRecord, fileId: string, fileName: string): Promise<FlowDoc> {
    const file = this.file(app, fileId);
    const status = this.fileStatus(file);
    if ((status !== 2 && status !== 5) || !file.bytes || !looksLikePdf(file.bytes)) {
      throw new EsignBusinessError(ESIGN_CODES.FILE_NOT_READY, '文档未成功转换成pdf');
    }
    const info = await inspect(file.bytes);
    return {
      fileId,
      fileName,
      bytes: file.bytes,
      pageCount: info.pageCount,
      pages: info.pages.map((p) => ({ width: p.width, height: p.height })),
    };
  }

  private checkFieldCount(flow: FlowRecord): void {
    if (flow.signers.length > 50) throw invalidParameter('签署方不能超过50个');
    if (flow.signers.reduce((n, s) => n + s.fields.length, 0) > 300) throw invalidParameter('签署区不能超过300个');
  }

  private parseSigners(app: AppRecord, flow: FlowRecord, signers: unknown[], identityVerify: boolean): SignerRecord[] {
    return signers.map((item) => {
      const s = obj(item) ?? {};
      if (s.signerType === undefined || s.signerType === null) throw invalidParameter('signerType不能为空');
      const signerType = num(s.signerType);
      if (signerType !== 0 && signerType !== 1) throw invalidParameter('signerType只支持0或1');
      const signConfig = obj(s.signConfig) ?? {};
      const signOrder = num(signConfig.signOrder) ?? 1;
      if (!Number.isInteger(signOrder) || signOrder < 1) throw invalidParameter('signOrder必须是大于0的整数');
      const fieldsIn = Array.isArray(s.signFields) ? s.signFields : [];
      if (fieldsIn.length === 0) throw invalidParameter('signFields不能为空');

      const signer: SignerRecord = {
        signerType,
        signOrder,
        signTaskType: num(signConfig.signTaskType) ?? 0,
        signStatus: 0,
        person: undefined,
        psnAccount: undefined,
        org: undefined,
        transactor: undefined,
        fields: [],
        operateTime: undefined,
      };
      if (signerType === 0) {
        const info = obj(s.psnSignerInfo);
        if (!info) throw invalidParameter('个人签署方psnSignerInfo不能为空');
        const resolved = this.resolvePerson(info, identityVerify, '个人签署方');
        signer.person = resolved.person;
        signer.psnAccount = resolved.account;
      } else {
        const info = obj(s.orgSignerInfo);
        signer.org = this.resolveOrg(app, info);
        const transactor = obj(info?.transactorInfo);
        if (transactor) signer.transactor = this.resolvePerson(transactor, identityVerify, '经办人').person;
      }
      signer.fields = fieldsIn.map((f) => this.parseField(app, flow, signer, obj(f) ?? {}));
      if (signer.signerType === 1 && !signer.transactor && signer.fields.some((f) => !f.autoSign)) {
        throw invalidParameter('非自动签署机构签署方经办人transactorInfo不能为空');
      }
      return signer;
    });
  }

  private resolvePerson(info: Json, identityVerify: boolean, who: string): { person: PersonRecord; account?: string } {
    const psnId = str(info.psnId);
    const account = str(info.psnAccount);
    if ((psnId && account) || (!psnId && !account)) {
      throw invalidParameter(`${who}psnId和psnAccount不能同时为空或同时传值`);
    }
    const psnInfo = obj(info.psnInfo) ?? {};
    if (psnId) {
      const person = this.people.get(psnId);
      if (!person) throw invalidParameter(`${who}账号不存在,${psnId}`);
      return { person };
    }
    if (!account || (!MOBILE.test(account) && !EMAIL.test(account))) {
      throw invalidParameter(`${who}psnAccount必须是手机号或邮箱`);
    }
    const name = str(psnInfo.psnName);
    const idNo = str(psnInfo.psnIDCardNum);
    const existing = this.personByAccount(account);
    if (existing) {
      if (
        identityVerify &&
        existing.realnamed &&
        ((name !== undefined && name !== existing.name) || (idNo !== undefined && idNo !== existing.idNo))
      ) {
        throw invalidParameter(`${who}信息与已实名信息不一致`);
      }
      return { person: existing, account };
    }
    // e签宝 opens an account for an unknown mobile or email; it is real-named when the person first signs.
    const person = this.addPerson({
      ...(name ? { name } : {}),
      ...(idNo ? { idNo } : {}),
      ...(MOBILE.test(account) ? { mobile: account } : { email: account }),
      realnamed: false,
    });
    return { person, account };
  }

  private resolveOrg(app: AppRecord, info: Json | undefined): OrgRecord {
    const orgId = str(info?.orgId);
    const orgName = str(info?.orgName);
    if (orgId) {
      const org = this.orgs.get(orgId);
      if (!org) throw new EsignBusinessError(ESIGN_CODES.USER_NOT_FOUND, '未找到用户信息: 机构签署方不存在');
      return org;
    }
    if (orgName) {
      for (const org of this.orgs.values()) if (org.orgName === orgName) return org;
      const orgInfo = obj(info?.orgInfo) ?? {};
      return this.addOrg({
        orgName,
        ...(str(orgInfo.orgIDCardNum) ? { orgIDCardNum: str(orgInfo.orgIDCardNum) } : {}),
      });
    }
    // No orgSignerInfo: the AppId's own company.
    return this.orgs.get(app.orgId)!;
  }

  private parseField(
    app: AppRecord,
    flow: FlowRecord,
    signer: SignerRecord,
    f: Json,
    silentSignAuthorised = false,
  ): SignFieldRecord {
    const fileId = str(f.fileId);
    if (!fileId) throw invalidParameter('fileId不能为空');
    const doc = flow.docs.find((d) => d.fileId === fileId);
    if (!doc) throw invalidParameter(`签署区fileId不在docs中: ${fileId}`);
    const signFieldType = num(f.signFieldType) ?? 0;
    if (signFieldType !== 0 && signFieldType !== 1 && signFieldType !== 2) {
      throw invalidParameter('signFieldType无对应枚举值');
    }
    if (signFieldType === 1 && signer.signerType !== 0) throw invalidParameter('备注签署区必须是个人签署方');
    const config = obj(signFieldType === 1 ? f.remarkSignFieldConfig : f.normalSignFieldConfig);
    if (signFieldType === 0 && !config) throw invalidParameter('normalSignFieldConfig不能为空');
    const c = config ?? {};
    const autoSign = c.autoSign === true;
    // Only the v1 autoSign path, after the person's silent-sign authorisation was checked, signs for a person.
    if (autoSign && signer.signerType === 0 && !silentSignAuthorised) throw invalidParameter('个人签署不支持自动签署');
    const signFieldStyle = num(c.signFieldStyle) ?? 1;
    if (signFieldStyle !== 1 && signFieldStyle !== 2) throw invalidParameter('signFieldStyle无对应枚举值');
    const freeMode = c.freeMode === true;
    const position = obj(c.signFieldPosition);
    if (!freeMode && !position) throw invalidParameter('非自由模式signFieldPosition不能为空');
    const positionPage = position?.positionPage === undefined ? undefined : String(position.positionPage);
    const positionX = num(position?.positionX);
    const positionY = num(position?.positionY);
    if (position && signFieldStyle === 1 && (!positionPage || positionX === undefined || positionY === undefined)) {
      throw invalidParameter('单页签章区,positionX、positionY、positionPage不能为空');
    }
    if (position && signFieldStyle === 2 && (!positionPage || positionY === undefined)) {
      throw invalidParameter('骑缝签章区,positionY、positionPage不能为空');
    }
    const acrossPageMode = position?.acrossPageMode;
    if (acrossPageMode !== undefined && acrossPageMode !== 'ALL' && acrossPageMode !== 'AssignedPages') {
      throw invalidParameter('acrossPageMode无对应枚举值');
    }
    if (positionPage !== undefined) {
      const pages = positionPage.split(/[,-]/).map((p) => Number(p.trim()));
      if (signFieldStyle === 1 && !/^\d+$/.test(positionPage))
        throw invalidParameter('单页签章区positionPage只能是单页');
      if (pages.some((p) => !Number.isInteger(p) || p < 1 || p > doc.pageCount)) {
        throw invalidParameter(`positionPage超出文档页数(${doc.pageCount})`);
      }
    }
    const size = num(c.signFieldSize);
    const assignedSealId = str(c.assignedSealId);
    const field: SignFieldRecord = {
      signFieldId: newId(),
      fileId,
      customBizNum: str(f.customBizNum),
      signFieldType,
      mustSign: f.mustSign !== false,
      autoSign,
      freeMode,
      assignedSealId,
      signFieldStyle,
      positionPage,
      positionX,
      positionY,
      width: num(c.signFieldWidth) ?? size,
      height: num(c.signFieldHeight) ?? size,
      signFieldStatus: '0',
      statusUpdateTime: this.now(),
      sealId: undefined,
      sealOwnerId: undefined,
      raw: f,
    };
    if (autoSign && signer.org) this.sealFor(app, signer.org, assignedSealId, true);
    return field;
  }

  /**
   * The seal an organisation signs with: one of its own. Sealing automatically for a company other than the AppId's
   * needs that company to have authorised the seal to the AppId's company; its transactor signing by hand does not.
   */
  private sealFor(app: AppRecord, org: OrgRecord, sealId: string | undefined, automatic: boolean): SealRecord {
    const own = [...this.seals.values()].filter((s) => s.orgId === org.orgId);
    const seal = sealId ? this.seals.get(sealId) : own[0];
    if (!seal || seal.orgId !== org.orgId) {
      throw new EsignBusinessError(ESIGN_CODES.SEAL_NOT_AVAILABLE, '印章不存在或不属于该机构签署方');
    }
    if (automatic && org.orgId !== app.orgId && !seal.authorizedOrgIds.has(app.orgId)) {
      throw new EsignBusinessError(
        ESIGN_CODES.SEAL_NOT_AVAILABLE,
        '机构签署方未授权该印章给当前应用所属企业,不能自动签署',
      );
    }
    return seal;
  }

  flow(app: AppRecord, signFlowId: string): FlowRecord {
    this.sweep();
    const flow = this.flows.get(signFlowId);
    if (!flow || flow.appId !== app.appId) throw new EsignBusinessError(ESIGN_CODES.FLOW_NOT_FOUND, '签署流程不存在');
    return flow;
  }

  startFlow(app: AppRecord, signFlowId: string): Json {
    const flow = this.flow(app, signFlowId);
    if (flow.status !== 0) throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程非草稿状态,不允许开启');
    if (flow.docs.length === 0) throw invalidParameter('docs不能为空');
    if (flow.signers.length === 0) throw invalidParameter('signers不能为空');
    this.start(flow);
    return {};
  }

  private start(flow: FlowRecord): void {
    flow.status = 1;
    flow.description = FLOW_STATUS_TEXT[1];
    flow.startTime = this.now();
    this.advance(flow);
  }

  finishFlow(app: AppRecord, signFlowId: string): Json {
    const flow = this.flow(app, signFlowId);
    if (flow.status !== 1) throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程非签署中状态,不允许完结');
    if (flow.signers.some((s) => s.signStatus !== 2)) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程中存在未签署的签署方,不允许完结');
    }
    this.finish(flow, 2);
    return {};
  }

  revokeFlow(app: AppRecord, signFlowId: string, body: Json): Json {
    const flow = this.flow(app, signFlowId);
    const reason = str(body.revokeReason);
    if (reason && reason.length > 50) throw invalidParameter('revokeReason不能超过50个字符');
    if (flow.status === 3) throw new EsignBusinessError(ESIGN_CODES.ALREADY_REVOKED, '流程已撤销');
    if (flow.status !== 1) throw new EsignBusinessError(ESIGN_CODES.REVOKE_NOT_ALLOWED, '非开启状态不允许撤回流程');
    flow.revokeReason = reason;
    this.finish(flow, 3, reason);
    return {};
  }

  delayFlow(app: AppRecord, signFlowId: string, body: Json): Json {
    const flow = this.flow(app, signFlowId);
    const expire = num(body.signFlowExpireTime);
    if (expire === undefined) throw invalidParameter('signFlowExpireTime不能为空');
    if (flow.status !== 1 && flow.status !== 0) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程已结束,不允许延期');
    }
    // Like creation: at most 90 days from now.
    if (expire <= this.now() || expire > this.now() + 90 * DAY) {
      throw invalidParameter('signFlowExpireTime超出允许范围');
    }
    flow.expireTime = expire;
    return {};
  }

  appendSigners(app: AppRecord, signFlowId: string, body: Json): Json {
    const flow = this.flow(app, signFlowId);
    if (flow.status !== 0 && flow.status !== 1) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程已结束,不允许追加签署方');
    }
    if (flow.autoFinish) throw invalidParameter('自动完结的流程不允许追加签署区');
    const signersIn = Array.isArray(body.signers) ? body.signers : [];
    if (signersIn.length === 0) throw invalidParameter('signers不能为空');
    const added = this.parseSigners(app, flow, signersIn, body.identityVerify !== false);
    const before = flow.signers;
    flow.signers = [...before, ...added];
    try {
      this.checkFieldCount(flow);
    } catch (error) {
      flow.signers = before;
      throw error;
    }
    if (flow.status === 1) this.advance(flow);
    return {
      signFieldResults: added.flatMap((s) =>
        s.fields.map((f) => ({ fileId: f.fileId, signFieldId: f.signFieldId, customBizNum: f.customBizNum ?? null })),
      ),
    };
  }

  signUrl(app: AppRecord, signFlowId: string, body: Json): Json {
    const flow = this.flow(app, signFlowId);
    const urlType = num(body.urlType) ?? 2;
    if (urlType === 2 && flow.status !== 1) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程非签署中状态,不允许获取签署链接');
    }
    if (urlType === 1 && flow.status !== 1 && flow.status !== 2) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '当前流程状态不允许查看');
    }
    const operator = obj(body.operator);
    const psnId = str(operator?.psnId);
    const account = str(operator?.psnAccount);
    const organization = obj(body.organization);
    const signer = flow.signers.find((s) => {
      const person = s.signerType === 0 ? s.person : s.transactor;
      const personMatches =
        person !== undefined &&
        (person.psnId === psnId || (account !== undefined && (person.mobile === account || person.email === account)));
      if (s.signerType === 0) return !organization && personMatches;
      const orgMatches =
        organization !== undefined &&
        (s.org?.orgId === organization.orgId ||
          (organization.orgName !== undefined && s.org?.orgName === organization.orgName));
      return orgMatches && (operator === undefined || personMatches);
    });
    if (urlType === 2 && !signer) throw invalidParameter('operator不是该流程的签署人');
    let ref: SignerRef | undefined;
    if (signer?.signerType === 1) ref = { orgId: signer.org!.orgId };
    else if (signer) ref = { psnId: signer.person!.psnId };
    const who =
      ref === undefined ? 'viewer=1' : 'orgId' in ref ? `orgId=${ref.orgId}` : `psnId=${signer!.person!.psnId}`;
    const url = this.url(`/__sign/${flow.signFlowId}?${who}&urlType=${urlType}`);
    const shortUrl = this.url(`/__s/${randomBytes(5).toString('hex')}`);
    const link = { signFlowId: flow.signFlowId, signer: ref, urlType };
    this.signLinks.set(url, link);
    this.signLinks.set(shortUrl, link);
    return { url, shortUrl };
  }

  fileDownloadUrl(app: AppRecord, signFlowId: string, body: Json): Json {
    const flow = this.flow(app, signFlowId);
    if (flow.status !== 2) {
      throw new EsignBusinessError(ESIGN_CODES.NOT_COMPLETED, '流程非签署完成状态,不允许下载文档');
    }
    const seconds = num(body.urlAvailableDate);
    if (seconds !== undefined && (seconds < 1 || seconds > 3600))
      throw invalidParameter('urlAvailableDate取值范围1-3600');
    const validMs = (seconds ?? 3600) * 1000;
    return {
      files: flow.docs.map((d) => ({
        fileId: d.fileId,
        fileName: d.fileName,
        downloadUrl: this.mintDownload(d.bytes, d.fileName, validMs),
      })),
      attachments: flow.attachments.map((a) => {
        const file = this.files.get(a.fileId);
        return {
          fileId: a.fileId,
          fileName: a.fileName,
          downloadUrl: file?.bytes ? this.mintDownload(file.bytes, a.fileName, validMs) : null,
        };
      }),
      certificateDownloadUrl: null,
    };
  }

  previewFileDownloadUrl(app: AppRecord, signFlowId: string, docFileId: string | null): Json {
    const flow = this.flow(app, signFlowId);
    const doc = flow.docs.find((d) => d.fileId === docFileId);
    if (!doc) throw invalidParameter('docFileId不在流程中');
    return {
      fileId: doc.fileId,
      fileName: doc.fileName,
      fileDownloadUrl: this.mintDownload(doc.bytes, doc.fileName, HOUR),
    };
  }

  flowStatus(app: AppRecord, signFlowId: string): Json {
    const flow = this.flow(app, signFlowId);
    return { draftStatus: flow.status === 0 ? 1 : 0, signFlowStatus: flow.status, rescissionStatus: 0 };
  }

  detail(app: AppRecord, signFlowId: string): Json {
    const flow = this.flow(app, signFlowId);
    const platform = this.orgs.get(app.orgId);
    return {
      signFlowStatus: flow.status,
      signFlowDescription: flow.description,
      revokeReason: flow.revokeReason ?? null,
      rescissionStatus: 0,
      rescissionSignFlowIds: [],
      signFlowCreateTime: flow.createTime,
      signFlowStartTime: flow.startTime ?? null,
      signFlowFinishTime: flow.finishTime ?? null,
      signFlowInitiator: { orgInitiator: { orgId: platform?.orgId, orgName: platform?.orgName }, psnInitiator: null },
      signFlowConfig: {
        signFlowTitle: flow.signFlowTitle,
        autoFinish: flow.autoFinish,
        signFlowExpireTime: flow.expireTime,
        notifyUrl: flow.notifyUrl ?? null,
        chargeConfig: flow.config.chargeConfig ?? null,
        noticeConfig: flow.config.noticeConfig ?? null,
        signConfig: flow.config.signConfig ?? null,
      },
      docs: flow.docs.map((d) => ({ fileId: d.fileId, fileName: d.fileName, fileEditPwd: null, contractNum: null })),
      attachments: flow.attachments,
      copiers: [],
      signers: flow.signers.map((s) => ({
        signerType: s.signerType,
        signOrder: s.signOrder,
        signStatus: s.signStatus,
        signTaskType: s.signTaskType,
        psnSigner: s.person ? personView(s.person) : null,
        orgSigner: s.org
          ? { orgId: s.org.orgId, orgName: s.org.orgName, transactor: s.transactor ? personView(s.transactor) : null }
          : null,
        signFields: s.fields.map((f) => ({
          signFieldId: f.signFieldId,
          signFieldStatus: f.signFieldStatus,
          statusUpdateTime: f.statusUpdateTime,
          failReason: null,
          customBizNum: f.customBizNum ?? null,
          fileId: f.fileId,
          signFieldType: f.signFieldType,
          mustSign: f.mustSign,
          normalSignFieldConfig:
            f.signFieldType === 0
              ? {
                  freeMode: f.freeMode,
                  autoSign: f.autoSign,
                  sealId: f.sealId ?? null,
                  sealOwnerId: f.sealOwnerId ?? null,
                  assignedSealId: f.assignedSealId ?? null,
                  signFieldStyle: f.signFieldStyle,
                  signFieldPosition:
                    f.positionPage === undefined
                      ? null
                      : {
                          positionPage: f.positionPage,
                          positionX: f.positionX ?? null,
                          positionY: f.positionY ?? null,
                        },
                }
              : null,
          remarkSignFieldConfig: f.signFieldType === 1 ? (obj(f.raw.remarkSignFieldConfig) ?? null) : null,
        })),
      })),
    };
  }

  /** `sign-flow-list`; the item shape beyond ids, title, status and times is undocumented and mirrors /detail. */
  list(app: AppRecord, body: Json): Json {
    this.sweep();
    const pageNum = num(body.pageNum) ?? 1;
    const pageSize = num(body.pageSize) ?? 20;
    if (!Number.isInteger(pageNum) || pageNum < 1 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      throw invalidParameter('pageNum、pageSize取值不正确');
    }
    const statuses = Array.isArray(body.signFlowStatus) ? body.signFlowStatus.map(Number) : undefined;
    const from = num(body.signFlowStartTimeFrom);
    const to = num(body.signFlowStartTimeTo);
    const matching = [...this.flows.values()]
      .filter((f) => f.appId === app.appId)
      .filter((f) => !statuses || statuses.length === 0 || statuses.includes(f.status))
      .filter((f) => from === undefined || (f.startTime ?? f.createTime) >= from)
      .filter((f) => to === undefined || (f.startTime ?? f.createTime) <= to)
      .sort((a, b) => b.createTime - a.createTime);
    return {
      total: matching.length,
      signFlowInfos: matching.slice((pageNum - 1) * pageSize, pageNum * pageSize).map((f) => {
        const d = this.detail(app, f.signFlowId);
        return { signFlowId: f.signFlowId, signFlowTitle: f.signFlowTitle, ...d };
      }),
    };
  }

  // ---------------------------------------------------------------- the state machine

  /** Expires every signing flow whose deadline passed (by the emulator's clock). */
  // ---------------------------------------------------------------- v1 silent signing (签署方自动盖章)

  private signAuthKey(app: AppRecord, accountId: string): string {
    return `${app.appId}:${accountId}`;
  }

  private account(accountId: string): PersonRecord {
    const person = this.people.get(accountId);
    if (!person) throw new EsignBusinessError(ESIGN_CODES.ACCOUNT_NOT_FOUND, `账号不存在: ${accountId}`);
    return person;
  }

  /** `POST /v1/signAuth/{accountId}`: the app may sign for the person until `deadline` (Beijing time), or always. */
  setSignAuth(app: AppRecord, accountId: string, body: Json): Json {
    const person = this.account(accountId);
    if (!person.realnamed) throw invalidParameter('账号未实名认证,不能设置静默签署授权');
    let deadline: number | undefined;
    if (body.deadline !== undefined && body.deadline !== null && body.deadline !== '') {
      deadline = parseBeijingTime(body.deadline);
      if (deadline === undefined) throw invalidParameter('deadline格式不正确,应为yyyy-MM-dd HH:mm:ss');
      if (deadline <= this.now()) throw invalidParameter('deadline不能早于当前时间');
    }
    this.signAuths.set(this.signAuthKey(app, accountId), { deadline });
    return {};
  }

  /** `DELETE /v1/signAuth/{accountId}`: withdraws the authorisation. */
  deleteSignAuth(app: AppRecord, accountId: string): Json {
    this.account(accountId);
    this.signAuths.delete(this.signAuthKey(app, accountId));
    return {};
  }

  /** Whether the app may sign for the person now; throws e签宝's refusal otherwise. */
  private checkSignAuth(app: AppRecord, accountId: string): void {
    const auth = this.signAuths.get(this.signAuthKey(app, accountId));
    if (!auth) throw new EsignBusinessError(ESIGN_CODES.SIGN_AUTH_MISSING, `用户未设置静默签署授权: ${accountId}`);
    if (auth.deadline !== undefined && auth.deadline <= this.now()) {
      throw new EsignBusinessError(ESIGN_CODES.SIGN_AUTH_EXPIRED, `用户静默签署授权已过期: ${accountId}`);
    }
  }

  /**
   * `POST /v1/signflows/{flowId}/signfields/autoSign`: fields the person's authorisation signs without them, in a
   * draft flow when it starts, in a signing flow at the person's turn. Fields of one account and order make one
   * signer; `thirdOrderNo` is shown as the field's `customBizNum` in V3's /detail (emulator's choice).
   */
  autoSignFields(app: AppRecord, flowId: string, body: Json): Json {
    const flow = this.flow(app, flowId);
    if (flow.status !== 0 && flow.status !== 1) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程已结束,不允许添加签署区');
    }
    const fieldsIn = Array.isArray(body.signfields) ? body.signfields : [];
    if (fieldsIn.length === 0) throw invalidParameter('signfields不能为空');
    const added: SignerRecord[] = [];
    const beans: Json[] = [];
    const before = flow.signers.map((s) => ({ signer: s, fields: s.fields }));
    try {
      for (const item of fieldsIn) {
        const f = obj(item) ?? {};
        const accountId = str(f.authorizedAccountId);
        if (!accountId) throw invalidParameter('authorizedAccountId不能为空');
        const person = this.account(accountId);
        this.checkSignAuth(app, accountId);
        const order = num(f.order) ?? 1;
        if (!Number.isInteger(order) || order < 1) throw invalidParameter('order必须是大于0的整数');
        const pos = obj(f.posBean);
        const signType = num(f.signType) ?? 1;
        let signer = [...flow.signers, ...added].find(
          (s) => s.signerType === 0 && s.person?.psnId === accountId && s.signOrder === order && s.signStatus !== 2,
        );
        if (!signer) {
          signer = {
            signerType: 0,
            signOrder: order,
            signTaskType: 0,
            signStatus: 0,
            person,
            psnAccount: undefined,
            org: undefined,
            transactor: undefined,
            fields: [],
            operateTime: undefined,
          };
          added.push(signer);
        }
        const width = num(pos?.width);
        const field = this.parseField(
          app,
          flow,
          signer,
          {
            fileId: f.fileId,
            ...(str(f.thirdOrderNo) ? { customBizNum: str(f.thirdOrderNo) } : {}),
            normalSignFieldConfig: {
              autoSign: true,
              signFieldStyle: signType,
              ...(width === undefined ? {} : { signFieldWidth: width, signFieldHeight: width }),
              ...(pos
                ? {
                    signFieldPosition: {
                      positionPage: pos.posPage === undefined ? undefined : String(pos.posPage),
                      positionX: pos.posX,
                      positionY: pos.posY,
                    },
                  }
                : {}),
            },
          },
          true,
        );
        signer.fields = [...signer.fields, field];
        beans.push({ signfieldId: field.signFieldId, fileId: field.fileId, accountId });
      }
      flow.signers = [...flow.signers, ...added];
      this.checkFieldCount(flow);
    } catch (error) {
      for (const { signer, fields } of before) signer.fields = fields;
      flow.signers = before.map((b) => b.signer);
      throw error;
    }
    if (flow.status === 1) this.advance(flow);
    return { signfieldBeans: beans };
  }

  /**
   * `POST /v1/signflows/{flowId}/signfields/platformSign`: the AppId's own company seals (`sealId`, or its default
   * seal) without anyone, like a V3 organisation field with `autoSign`. Fields of one order make one signer.
   */
  platformSignFields(app: AppRecord, flowId: string, body: Json): Json {
    const flow = this.flow(app, flowId);
    if (flow.status !== 0 && flow.status !== 1) {
      throw new EsignBusinessError(ESIGN_CODES.FLOW_STATE, '流程已结束,不允许添加签署区');
    }
    const fieldsIn = Array.isArray(body.signfields) ? body.signfields : [];
    if (fieldsIn.length === 0) throw invalidParameter('signfields不能为空');
    const org = this.orgs.get(app.orgId)!;
    const added: SignerRecord[] = [];
    const beans: Json[] = [];
    for (const item of fieldsIn) {
      const f = obj(item) ?? {};
      const order = num(f.order) ?? 1;
      if (!Number.isInteger(order) || order < 1) throw invalidParameter('order必须是大于0的整数');
      const pos = obj(f.posBean);
      const width = num(pos?.width);
      let signer = added.find((s) => s.signOrder === order);
      if (!signer) {
        signer = {
          signerType: 1,
          signOrder: order,
          signTaskType: 0,
          signStatus: 0,
          person: undefined,
          psnAccount: undefined,
          org,
          transactor: undefined,
          fields: [],
          operateTime: undefined,
        };
        added.push(signer);
      }
      const field = this.parseField(app, flow, signer, {
        fileId: f.fileId,
        ...(str(f.thirdOrderNo) ? { customBizNum: str(f.thirdOrderNo) } : {}),
        normalSignFieldConfig: {
          autoSign: true,
          signFieldStyle: num(f.signType) ?? 1,
          ...(str(f.sealId) ? { assignedSealId: str(f.sealId) } : {}),
          ...(width === undefined ? {} : { signFieldWidth: width, signFieldHeight: width }),
          ...(pos
            ? {
                signFieldPosition: {
                  positionPage: pos.posPage === undefined ? undefined : String(pos.posPage),
                  positionX: pos.posX,
                  positionY: pos.posY,
                },
              }
            : {}),
        },
      });
      signer.fields.push(field);
      beans.push({ signfieldId: field.signFieldId, fileId: field.fileId, accountId: org.orgId });
    }
    flow.signers = [...flow.signers, ...added];
    try {
      this.checkFieldCount(flow);
    } catch (error) {
      flow.signers = flow.signers.slice(0, flow.signers.length - added.length);
      throw error;
    }
    if (flow.status === 1) this.advance(flow);
    return { signfieldBeans: beans };
  }

  sweep(): void {
    const now = this.now();
    for (const flow of this.flows.values()) {
      if (flow.status === 1 && flow.expireTime <= now) this.finish(flow, 5);
    }
  }

  /**
   * Moves a signing flow on: the lowest sign order still open signs next; organisations with only automatic fields
   * are sealed at once, everyone else is now "signing" (their link works). When nobody is left, an autoFinish flow
   * completes.
   */
  private advance(flow: FlowRecord): void {
    while (flow.status === 1) {
      const open = flow.signers.filter((s) => s.signStatus !== 2);
      if (open.length === 0) {
        if (flow.autoFinish) this.finish(flow, 2);
        return;
      }
      const order = Math.min(...open.map((s) => s.signOrder));
      let sealed = false;
      for (const signer of open.filter((s) => s.signOrder === order)) {
        if (signer.signerType === 1 && signer.fields.every((f) => f.autoSign)) {
          const app = this.apps.get(flow.appId)!;
          this.signFields(flow, signer, (field) => this.sealFor(app, signer.org!, field.assignedSealId, true));
          this.completeMission(flow, signer, 2, this.options.autoSignMissions);
          sealed = true;
        } else if (signer.signerType === 0 && signer.fields.length > 0 && signer.fields.every((f) => f.autoSign)) {
          // v1 签署方自动盖章: signed for the person under the authorisation checked when the fields were added.
          this.signFields(flow, signer, () => undefined);
          this.completeMission(flow, signer, 2, this.options.autoSignMissions);
          sealed = true;
        } else if (signer.signStatus === 0) {
          signer.signStatus = 1;
          for (const f of signer.fields) f.signFieldStatus = '1';
        }
      }
      if (!sealed) return;
    }
  }

  private signFields(flow: FlowRecord, signer: SignerRecord, sealOf: (f: SignFieldRecord) => SealRecord | undefined) {
    const signingTime = new Date(this.now());
    for (const field of signer.fields) {
      if (field.signFieldType === 0) {
        const doc = flow.docs.find((d) => d.fileId === field.fileId)!;
        const seal = sealOf(field);
        const identity = seal ? seal.identity : signer.person!.identity;
        const orgSigner = seal !== undefined;
        doc.bytes = sealDocument(doc.bytes, {
          identity: identity.signingIdentity,
          fieldName: `esign_${field.signFieldId}`,
          placement: placementOf(field, doc, orgSigner ? ORG_SEAL_SIZE : PERSON_SEAL_SIZE),
          appearance: orgSigner
            ? { image: identity.image }
            : signer.person?.name
              ? { nameSeal: { name: signer.person.name } }
              : undefined,
          reason: orgSigner ? '企业签章' : '本人签署',
          signingTime,
        });
        if (seal) {
          field.sealId = seal.sealId;
          field.sealOwnerId = seal.orgId;
        }
      }
      field.signFieldStatus = '2';
      field.statusUpdateTime = this.now();
    }
  }

  private completeMission(flow: FlowRecord, signer: SignerRecord, result: 2 | 4, notify: boolean): void {
    signer.signStatus = result;
    signer.operateTime = this.now();
    if (!notify) return;
    const operator = signer.signerType === 0 ? signer.person : signer.transactor;
    const bizNums = [...new Set(signer.fields.map((f) => f.customBizNum).filter((n) => n !== undefined))];
    this.emit(flow, 'SIGN_MISSON_COMPLETE', {
      action: 'SIGN_MISSON_COMPLETE',
      timestamp: this.now(),
      signFlowId: flow.signFlowId,
      customBizNum: bizNums.join(','),
      signOrder: signer.signOrder,
      operateTime: signer.operateTime,
      signResult: result,
      resultDescription: result === 2 ? '签署完成' : '拒签',
      operator: operator
        ? {
            psnId: operator.psnId,
            psnAccount: { accountMobile: maskMobileLikeEsign(operator.mobile), accountEmail: operator.email ?? null },
          }
        : null,
      ...(signer.org ? { organization: { orgId: signer.org.orgId, orgName: signer.org.orgName } } : {}),
    });
  }

  private finish(flow: FlowRecord, status: Exclude<FlowStatus, 0 | 1>, reason?: string): void {
    flow.status = status;
    flow.description = reason ?? FLOW_STATUS_TEXT[status];
    flow.finishTime = this.now();
    this.emit(flow, 'SIGN_FLOW_COMPLETE', {
      action: 'SIGN_FLOW_COMPLETE',
      timestamp: this.now(),
      signFlowId: flow.signFlowId,
      signFlowTitle: flow.signFlowTitle,
      signFlowStatus: String(status),
      statusDescription: flow.description,
      signFlowCreateTime: flow.createTime,
      signFlowStartTime: flow.startTime ?? null,
      signFlowFinishTime: flow.finishTime,
    });
  }

  private emit(flow: FlowRecord, action: string, body: Json): void {
    if (!flow.notifyUrl) return;
    this.options.callbacks.emit({
      url: flow.notifyUrl,
      appId: flow.appId,
      action,
      signFlowId: flow.signFlowId,
      body: JSON.stringify(body),
    });
  }

  // ---------------------------------------------------------------- what the signers do on the sign page

  private signerFor(flow: FlowRecord, who: SignerRef): SignerRecord {
    const signer = flow.signers.find((s) => {
      if ('orgId' in who) return s.signerType === 1 && s.org?.orgId === who.orgId;
      if (s.signerType !== 0 || !s.person) return false;
      if ('psnId' in who) return s.person.psnId === who.psnId;
      return s.person.mobile === who.psnAccount || s.person.email === who.psnAccount;
    });
    if (!signer)
      throw new RangeError('The flow has no such signer; name it as the flow does (psnAccount, psnId or orgId).');
    return signer;
  }

  private signable(signFlowId: string, who: SignerRef): { flow: FlowRecord; signer: SignerRecord } {
    this.sweep();
    const flow = this.flows.get(signFlowId);
    if (!flow) throw new RangeError(`No sign flow ${signFlowId}.`);
    if (flow.status !== 1)
      throw new RangeError(
        `Sign flow ${signFlowId} is ${FLOW_STATUS_TEXT[flow.status]} (${flow.status}), not signing.`,
      );
    const signer = this.signerFor(flow, who);
    if (signer.signStatus === 2) throw new RangeError('That signer has already signed.');
    if (signer.signStatus === 0)
      throw new RangeError('That signer is not next in the sign order; earlier signers must sign first.');
    return { flow, signer };
  }

  signAs(signFlowId: string, who: SignerRef, sealId?: string): void {
    const { flow, signer } = this.signable(signFlowId, who);
    const app = this.apps.get(flow.appId)!;
    if (signer.signerType === 1) {
      const seal = this.sealFor(app, signer.org!, sealId, false);
      this.signFields(flow, signer, () => seal);
    } else {
      signer.person!.realnamed = true;
      this.signFields(flow, signer, () => undefined);
    }
    this.completeMission(flow, signer, 2, true);
    this.advance(flow);
  }

  rejectAs(signFlowId: string, who: SignerRef, reason: string | undefined): void {
    const { flow, signer } = this.signable(signFlowId, who);
    for (const f of signer.fields) {
      f.signFieldStatus = '4';
      f.statusUpdateTime = this.now();
    }
    this.completeMission(flow, signer, 4, true);
    this.finish(flow, 7, reason ?? FLOW_STATUS_TEXT[7]);
  }

  expire(signFlowId: string): void {
    const flow = this.flows.get(signFlowId);
    if (!flow) throw new RangeError(`No sign flow ${signFlowId}.`);
    if (flow.status !== 1)
      throw new RangeError(`Only a signing flow can expire; this one is ${FLOW_STATUS_TEXT[flow.status]}.`);
    flow.expireTime = this.now();
    this.sweep();
  }
}

/** Who signs, named as in the flow. */
export type SignerRef = { psnAccount: string } | { psnId: string } | { orgId: string };

function personView(p: PersonRecord): Json {
  return {
    psnId: p.psnId,
    psnName: p.name ?? null,
    psnAccount: { accountMobile: p.mobile ?? null, accountEmail: p.email ?? null },
  };
}

/**
 * Where a field's seal goes. The position is taken as the seal's centre, in PDF points from the page's lower-left
 * corner (e签宝 does not say whether it is the centre or a corner). A cross-page (骑缝) field gets one seal on the
 * right edge of its first page; a free-mode field without a position goes at the foot of the last page, where a
 * signer would usually drop it.
 */
function placementOf(field: SignFieldRecord, doc: FlowDoc, defaultSize: number): SealPlacement {
  const width = field.width ?? defaultSize;
  const height = field.height ?? width;
  if (field.positionPage === undefined) {
    const page = doc.pageCount - 1;
    const size = doc.pages[page] ?? { width: 595, height: 842 };
    return { page, centreX: size.width / 2, centreY: height, width, height };
  }
  const page = Number(field.positionPage.split(/[,-]/)[0]) - 1;
  if (field.signFieldStyle === 2) {
    const size = doc.pages[page] ?? { width: 595, height: 842 };
    return { page, centreX: size.width - width / 2, centreY: field.positionY ?? size.height / 2, width, height };
  }
  return { page, centreX: field.positionX ?? 0, centreY: field.positionY ?? 0, width, height };
}

/** `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8), as e签宝's v1 API writes times, to ms; undefined if malformed. */
function parseBeijingTime(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value) : null;
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h - 8, mi, se);
  const back = new Date(ms + 8 * 3_600_000);
  // Reject dates that roll over (2026-02-30).
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return undefined;
  return ms;
}

function paging(pageNumRaw: string | null, pageSizeRaw: string | null): { pageNum: number; pageSize: number } {
  const pageNum = Number(pageNumRaw ?? 1);
  const pageSize = Number(pageSizeRaw ?? 20);
  if (!Number.isInteger(pageNum) || pageNum < 1 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
    throw invalidParameter('pageNum、pageSize取值不正确');
  }
  return { pageNum, pageSize };
}

export { paging };

const COMPONENT_TYPES: Record<string, number> = {
  text: 1,
  checkbox: 9,
  radio: 10,
  dropdown: 14,
  listbox: 14,
  signature: 6,
};

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
