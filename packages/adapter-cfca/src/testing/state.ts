/**
 * The emulator's state and its transactions: accounts and seals (30xx), proxy-sign authorisation by SMS code
 * (3101/3102), contracts from templates (3201, batch 3202/3211), uploaded contracts (3203), signing (3206–3208) and the
 * query (3210). Each transaction validates everything before it changes anything, so a refused call leaves no trace.
 */
import { randomInt } from 'node:crypto';
import { type Clock, SealflowError } from '@sealflow/core';
import { CFCA_CODES, CFCA_SUCCESS, CfcaBusinessError, parameterError } from './codes.js';
import {
  inspect,
  LazyIdentity,
  looksLikePdf,
  looksLikePng,
  prepare,
  type SealTarget,
  sealDocument,
} from './documents.js';
import {
  type AuthorisationRecord,
  type BatchRecord,
  type CheckCodeRecord,
  type ContractRecord,
  type ContractState,
  decimal,
  int,
  type Json,
  maskMobile,
  newFileId,
  newId,
  obj,
  type PlatformRecord,
  type SealRecord,
  type SignatoryRecord,
  str,
  type TemplateRecord,
  type TemplateSignatureField,
  txTime,
  type UserRecord,
} from './model.js';

const DAY = 86_400_000;
/** Seal sizes when a keyword placement gives none: a company seal and a person's name seal, in PDF points. */
const ENTERPRISE_SEAL = { width: 120, height: 120 };
const PERSON_SEAL = { width: 100, height: 50 };

export interface StateOptions {
  clock: Clock;
  checkCodeTtlMs: number;
  maxCheckCodeFailures: number;
  fixedCheckCode: string | undefined;
  batchDelayMs: number;
  duplicateContractNo: 'refuse' | 'return-existing';
  duplicateAccount: 'refuse' | 'return-existing';
  proxySignCheck: 'always' | 'when-asked';
  contractValidityDays: number;
}

/** A signature to make: who, where, with what. */
interface PlannedSignature {
  user: UserRecord;
  targets: SealTarget[];
  appearance: { image: Uint8Array } | { nameSeal: { name: string } };
  /** Template or PDF field names the signature fills (refused when already used). */
  fieldNames: string[];
}

export class EmulatorState {
  readonly platforms = new Map<string, PlatformRecord>();
  readonly users = new Map<string, UserRecord>();
  readonly seals = new Map<string, SealRecord>();
  readonly checkCodes = new Map<string, CheckCodeRecord>();
  readonly authorisations = new Map<string, AuthorisationRecord>();
  readonly templates = new Map<string, TemplateRecord>();
  readonly contracts = new Map<string, ContractRecord>();
  readonly batches = new Map<string, BatchRecord>();
  /** Every SMS (or voice) code sent, oldest first. */
  readonly outbox: { userId: string; mobilePhone: string; projectCode: string; code: string; sentAt: number }[] = [];
  holdAllBatches = false;
  private sequence = 0;
  private templateSequence = 0;

  constructor(readonly options: StateOptions) {}

  now(): number {
    return this.options.clock.now();
  }

  // ---------------------------------------------------------------- set-up (test controls)

  addPlatform(input: { platId: string; certificateDer: Uint8Array; name: string; identNo: string }): UserRecord {
    if (this.platforms.has(input.platId)) throw new RangeError(`Platform ${input.platId} exists already.`);
    this.platforms.set(input.platId, { platId: input.platId, certificateDer: input.certificateDer });
    // The platform is itself an enterprise user of 安心签: its platId is its userId.
    return this.addUser({
      userId: input.platId,
      platId: input.platId,
      kind: 'enterprise',
      name: input.name,
      identTypeCode: '8',
      identNo: input.identNo,
      mobilePhone: undefined,
      raw: { enterpriseName: input.name, identTypeCode: '8', identNo: input.identNo },
    });
  }

  private addUser(input: Omit<UserRecord, 'identity'>): UserRecord {
    const user: UserRecord = {
      ...input,
      identity: new LazyIdentity(
        input.kind === 'enterprise' ? input.name.slice(0, 60) : '安心签个人用户',
        input.kind === 'enterprise' ? input.name.slice(0, 60) : undefined,
      ),
    };
    this.users.set(user.userId, user);
    // Every account gets a default seal at opening, so no seal call is needed before signing.
    const sealId = newId();
    this.seals.set(sealId, { sealId, userId: user.userId, sealType: 1, image: undefined });
    return user;
  }

  defaultSealOf(userId: string): SealRecord | undefined {
    return [...this.seals.values()].find((s) => s.userId === userId);
  }

  async addTemplate(input: {
    platId: string;
    pdf: Uint8Array;
    templateId?: string;
    contractTypeCode?: string;
    contractName?: string;
    signatureFields?: Record<string, { page: number; rect: { x: number; y: number; width: number; height: number } }>;
  }): Promise<TemplateRecord> {
    if (!looksLikePdf(input.pdf)) throw new RangeError('addTemplate: pdf is not a PDF.');
    const info = await inspect(input.pdf);
    const contractTypeCode = input.contractTypeCode ?? 'JK';
    if (!/^[A-Z]{2}$/.test(contractTypeCode))
      throw new RangeError('addTemplate: contractTypeCode is two capitals (JK, MM …).');
    this.templateSequence += 1;
    const templateId = input.templateId ?? `${contractTypeCode}_${2300 + this.templateSequence}`;
    if (this.templates.has(templateId)) throw new RangeError(`Template ${templateId} exists already.`);
    const signatureFields = new Map<string, TemplateSignatureField>();
    for (const f of info.fields) if (f.type === 'signature') signatureFields.set(f.name, { name: f.name });
    for (const [name, placement] of Object.entries(input.signatureFields ?? {})) {
      if (placement.page < 0 || placement.page >= info.pageCount) {
        throw new RangeError(
          `addTemplate: signature field ${name} is on page ${placement.page} (0-based), which the PDF lacks.`,
        );
      }
      signatureFields.set(name, { name, page: placement.page, rect: placement.rect });
    }
    const template: TemplateRecord = {
      templateId,
      platId: input.platId,
      contractTypeCode,
      contractName: input.contractName ?? templateId,
      pdf: input.pdf,
      textFields: new Set(info.fields.filter((f) => f.type === 'text').map((f) => f.name)),
      signatureFields,
      prepared: undefined,
    };
    this.templates.set(templateId, template);
    return template;
  }

  authorise(userId: string, projectCode: string): void {
    this.authorisations.set(key(userId, projectCode), { userId, projectCode, authorizedAt: this.now() });
  }

  // ---------------------------------------------------------------- dispatch

  async run(
    platform: PlatformRecord,
    txCode: string,
    body: Json,
    file: Uint8Array | undefined,
    options: { holdBatch: boolean } = { holdBatch: false },
  ): Promise<Json> {
    // Batches run lazily, when the next call comes after their time; contract expiry is read off the clock.
    await this.settleBatches();
    switch (txCode) {
      case '3001':
        return this.openPerson(platform, body);
      case '3002':
        return this.openEnterprise(platform, body);
      case '3011':
        return this.sealAdd(platform, body);
      case '3012':
        return this.sealUpdate(platform, body);
      case '3013':
        return this.sealDelete(platform, body);
      case '3014':
        return this.sealQuery(platform, body);
      case '3101':
        return this.sendCheckCode(platform, body);
      case '3102':
        return this.confirmCheckCode(platform, body);
      case '3201': {
        const input = member(body, 'createContract');
        return { contract: this.contractView(await this.createFromTemplate(platform, input)) };
      }
      case '3202':
        return this.acceptBatch(platform, body, options.holdBatch);
      case '3203':
        return { contract: this.contractView(await this.upload(platform, body, file)) };
      case '3206':
        return { signContract: await this.signExisting(platform, member(body, 'signContract'), 'field') };
      case '3207':
        return {
          signContractByKeyword: await this.signExisting(platform, member(body, 'signContractByKeyword'), 'keyword'),
        };
      case '3208':
        return {
          signContractByCoordinate: await this.signExisting(
            platform,
            member(body, 'signContractByCoordinate'),
            'coordinate',
          ),
        };
      case '3210': {
        const no = str(member(body, 'contract').contractNo);
        if (!no) throw parameterError('contract.contractNo不能为空');
        return { contract: this.contractView(this.contract(platform, no)) };
      }
      case '3211':
        return this.batchResult(platform, body);
      case '3212': {
        const no = str(body.contractNo);
        if (!no) throw parameterError('contractNo不能为空');
        const c = this.contract(platform, no);
        return { contractNo: no, contractTextValue: c.saveTextValue ? c.textValues : {} };
      }
      default:
        throw new CfcaBusinessError(CFCA_CODES.TX_CODE_UNSUPPORTED, `不支持的交易码: ${txCode}`);
    }
  }

  // ---------------------------------------------------------------- accounts and seals

  openPerson(platform: PlatformRecord, body: Json): Json {
    const person = member(body, 'person');
    const name = required(person, 'personName', 'person');
    const identTypeCode = required(person, 'identTypeCode', 'person');
    const identNo = required(person, 'identNo', 'person');
    const mobilePhone = required(person, 'mobilePhone', 'person');
    required(person, 'authenticationMode', 'person');
    if (!/^1\d{10}$/.test(mobilePhone)) throw parameterError('person.mobilePhone格式不正确');
    if (identTypeCode === '0' && !/^\d{17}[\dXx]$/.test(identNo)) throw parameterError('person.identNo格式不正确');
    const user =
      this.existingAccount(platform, 'person', identTypeCode, identNo) ??
      this.addUser({
        userId: newId(),
        platId: platform.platId,
        kind: 'person',
        name,
        identTypeCode,
        identNo,
        mobilePhone,
        raw: person,
      });
    return {
      person: {
        ...user.raw,
        userId: user.userId,
        anXinSignMobilePhone: maskMobile(user.mobilePhone ?? ''),
        usedEmailLogin: 1,
        usedMobileLogin: 1,
        isOpenSM2: 0,
      },
      notSendPwd: int(body.notSendPwd) ?? 0,
    };
  }

  openEnterprise(platform: PlatformRecord, body: Json): Json {
    const enterprise = member(body, 'enterprise');
    const transactor = member(body, 'enterpriseTransactor');
    const name = required(enterprise, 'enterpriseName', 'enterprise');
    const identTypeCode = required(enterprise, 'identTypeCode', 'enterprise');
    const identNo = required(enterprise, 'identNo', 'enterprise');
    const mobilePhone = str(enterprise.mobilePhone);
    required(transactor, 'transactorName', 'enterpriseTransactor');
    required(transactor, 'identTypeCode', 'enterpriseTransactor');
    required(transactor, 'identNo', 'enterpriseTransactor');
    const user =
      this.existingAccount(platform, 'enterprise', identTypeCode, identNo) ??
      this.addUser({
        userId: newId(),
        platId: platform.platId,
        kind: 'enterprise',
        name,
        identTypeCode,
        identNo,
        mobilePhone,
        raw: enterprise,
      });
    return {
      enterprise: { ...user.raw, userId: user.userId },
      enterpriseTransactor: transactor,
      notSendPwd: int(body.notSendPwd) ?? 0,
    };
  }

  private existingAccount(
    platform: PlatformRecord,
    kind: UserRecord['kind'],
    identTypeCode: string,
    identNo: string,
  ): UserRecord | undefined {
    const existing = [...this.users.values()].find(
      (u) =>
        u.platId === platform.platId &&
        u.kind === kind &&
        u.identTypeCode === identTypeCode &&
        u.identNo.toUpperCase() === identNo.toUpperCase(),
    );
    if (existing && this.options.duplicateAccount === 'refuse') {
      throw new CfcaBusinessError(CFCA_CODES.USER_EXISTS, '该证件号码已开户');
    }
    return existing;
  }

  user(platform: PlatformRecord, userId: string | undefined): UserRecord {
    const user = userId ? this.users.get(userId) : undefined;
    if (!user || user.platId !== platform.platId) {
      throw new CfcaBusinessError(CFCA_CODES.USER_NOT_FOUND, `ID为${userId ?? ''}的用户信息不存在或不是审核通过状态`);
    }
    return user;
  }

  private seal(user: UserRecord, sealId: string | undefined): SealRecord {
    const seal = sealId === undefined ? this.defaultSealOf(user.userId) : this.seals.get(sealId);
    if (!seal || seal.userId !== user.userId) {
      throw new CfcaBusinessError(CFCA_CODES.SEAL_NOT_FOUND, `印章不存在或不属于该用户: ${sealId ?? '默认印章'}`);
    }
    return seal;
  }

  private sealImage(user: UserRecord, seal: SealRecord): Uint8Array {
    return seal.image ?? user.identity.image;
  }

  private sealView(user: UserRecord, seal: SealRecord): Json {
    return {
      sealId: seal.sealId,
      sealType: seal.sealType,
      imageData: Buffer.from(this.sealImage(user, seal)).toString('base64'),
    };
  }

  private sealAdd(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'sealAdd');
    const user = this.user(platform, str(input.userId));
    const seal = obj(input.seal);
    if (!seal) throw parameterError('sealAdd.seal不能为空');
    const image = pngOf(seal.imageData, 'sealAdd.seal.imageData');
    const record: SealRecord = { sealId: newId(), userId: user.userId, sealType: int(seal.sealType) ?? 1, image };
    this.seals.set(record.sealId, record);
    return { sealAdd: { userId: user.userId, seal: this.sealView(user, record) } };
  }

  private sealUpdate(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'sealUpdate');
    const user = this.user(platform, str(input.userId));
    const seal = obj(input.seal);
    if (!seal) throw parameterError('sealUpdate.seal不能为空');
    const sealId = str(seal.sealId);
    if (!sealId) throw parameterError('sealUpdate.seal.sealId不能为空');
    const record = this.seal(user, sealId);
    record.image = pngOf(seal.imageData, 'sealUpdate.seal.imageData');
    return { sealUpdate: { userId: user.userId, seal: this.sealView(user, record) } };
  }

  private sealDelete(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'sealDelete');
    const user = this.user(platform, str(input.userId));
    const sealId = str(obj(input.seal)?.sealId);
    if (!sealId) throw parameterError('sealDelete.seal.sealId不能为空');
    this.seal(user, sealId);
    this.seals.delete(sealId);
    return { sealDelete: { userId: user.userId, seal: { sealId } } };
  }

  private sealQuery(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'sealQuery');
    const user = this.user(platform, str(input.userId));
    const sealId = str(input.sealId);
    const seals = sealId ? [this.seal(user, sealId)] : [...this.seals.values()].filter((s) => s.userId === user.userId);
    return { sealQuery: { userId: user.userId, sealId, seals: seals.map((s) => this.sealView(user, s)) } };
  }

  // ---------------------------------------------------------------- proxy-sign authorisation

  private sendCheckCode(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'proxySign');
    const user = this.user(platform, str(input.userId));
    const projectCode = str(input.projectCode);
    if (!projectCode) throw parameterError('proxySign.projectCode不能为空');
    if (this.authorisations.has(key(user.userId, projectCode))) {
      throw new CfcaBusinessError(CFCA_CODES.PROXY_SIGN_ALREADY_GRANTED, '已经开通代签权限');
    }
    if (!user.mobilePhone) throw parameterError('该用户未登记手机号，无法发送验证码');
    const isSendVoice = int(input.isSendVoice) ?? 0;
    const code = this.options.fixedCheckCode ?? String(randomInt(0, 1_000_000)).padStart(6, '0');
    const sentAt = this.now();
    // A new code replaces the previous one for the same (user, project), as SMS codes do.
    this.checkCodes.set(key(user.userId, projectCode), {
      userId: user.userId,
      projectCode,
      code,
      sentAt,
      expiresAt: sentAt + this.options.checkCodeTtlMs,
      failures: 0,
      isSendVoice,
    });
    this.outbox.push({ userId: user.userId, mobilePhone: user.mobilePhone, projectCode, code, sentAt });
    return {
      proxySign: { userId: user.userId, projectCode, isSendVoice },
      contactWay: { userId: user.userId, mobilePhone: maskMobile(user.mobilePhone) },
    };
  }

  private confirmCheckCode(platform: PlatformRecord, body: Json): Json {
    const input = member(body, 'proxySign');
    const user = this.user(platform, str(input.userId));
    const projectCode = str(input.projectCode);
    if (!projectCode) throw parameterError('proxySign.projectCode不能为空');
    const checkCode = str(input.checkCode);
    if (!checkCode) throw parameterError('proxySign.checkCode不能为空');
    const k = key(user.userId, projectCode);
    const answer = { proxySign: { userId: user.userId, projectCode, checkCode } };
    const record = this.checkCodes.get(k);
    // A repeated confirmation (its first answer lost) finds the authorisation already in place.
    if (!record && this.authorisations.has(k)) return answer;
    if (!record) throw new CfcaBusinessError(CFCA_CODES.CHECK_CODE_NOT_SENT, '请先获取验证码');
    if (this.now() > record.expiresAt || record.failures >= this.options.maxCheckCodeFailures) {
      throw new CfcaBusinessError(CFCA_CODES.CHECK_CODE_EXPIRED, '验证码已失效，请重新获取');
    }
    if (record.code !== checkCode) {
      record.failures += 1;
      throw new CfcaBusinessError(CFCA_CODES.CHECK_CODE_WRONG, '验证码错误');
    }
    this.checkCodes.delete(k);
    this.authorise(user.userId, projectCode);
    return answer;
  }

  private requireAuthorisation(user: UserRecord, signInfo: Json, platform: PlatformRecord): void {
    if (user.userId === platform.platId) return;
    const asked = int(signInfo.isCheckProjectCode) === 1;
    if (this.options.proxySignCheck === 'when-asked' && !asked) return;
    const projectCode = str(signInfo.projectCode);
    if (!projectCode || !this.authorisations.has(key(user.userId, projectCode))) {
      throw new CfcaBusinessError(
        CFCA_CODES.PROXY_SIGN_NOT_AUTHORISED,
        `用户${user.userId}未授权项目${projectCode ?? ''}的代签`,
      );
    }
  }

  // ---------------------------------------------------------------- contracts

  contract(platform: PlatformRecord, contractNo: string): ContractRecord {
    const c = this.contracts.get(contractNo);
    if (!c || c.platId !== platform.platId) {
      throw new CfcaBusinessError(
        CFCA_CODES.CONTRACT_NOT_FOUND,
        `ID为${platform.platId}的用户合同编号为${contractNo}的合同信息不存在`,
      );
    }
    return c;
  }

  /** The contract already numbered `contractNo`, when duplicates are answered with it; refuses when they are not. */
  private duplicateOf(platform: PlatformRecord, contractNo: string | undefined): ContractRecord | undefined {
    if (contractNo === undefined) return undefined;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(contractNo)) throw parameterError('contractNo只能包含字母、数字、下划线和横线');
    const existing = this.contracts.get(contractNo);
    if (!existing) return undefined;
    if (this.options.duplicateContractNo === 'refuse' || existing.platId !== platform.platId) {
      throw new CfcaBusinessError(CFCA_CODES.CONTRACT_NO_EXISTS, `合同编号${contractNo}已存在`);
    }
    return existing;
  }

  private nextContractNo(typeCode: string): string {
    this.sequence += 1;
    return `${typeCode}${txTime(this.now()).slice(0, 8)}${String(this.sequence).padStart(9, '0')}`;
  }

  private expiredDate(input: unknown): string {
    const given = str(input);
    if (given !== undefined) {
      if (!/^\d{8}$/.test(given)) throw parameterError('expiredDate格式应为yyyyMMdd');
      if (given < txTime(this.now()).slice(0, 8)) throw parameterError('expiredDate不能早于当前日期');
      return given;
    }
    return txTime(this.now() + this.options.contractValidityDays * DAY).slice(0, 8);
  }

  async createFromTemplate(platform: PlatformRecord, input: Json): Promise<ContractRecord> {
    const existing = this.duplicateOf(platform, str(input.contractNo));
    if (existing) return existing;
    const templateId = str(input.templateId);
    if (!templateId) throw parameterError('templateId不能为空');
    const template = this.templates.get(templateId);
    if (!template || template.platId !== platform.platId) {
      throw new CfcaBusinessError(CFCA_CODES.TEMPLATE_NOT_FOUND, `模板${templateId}不存在`);
    }
    const values = textValues(input);
    // Keys that name no text field are kept and echoed but not printed: integrators put their own order ids there.
    const printed = Object.fromEntries(Object.entries(values).filter(([name]) => template.textFields.has(name)));
    const expiredDate = this.expiredDate(input.expiredDate);
    const fieldsOf = (signLocation: unknown, who: string): string[] => {
      const names = splitLocation(signLocation);
      if (names.length === 0) throw parameterError(`${who}.signLocation不能为空`);
      const missing = names.find((n) => !template.signatureFields.has(n));
      if (missing !== undefined) throw parameterError(`模板中不存在签名域${missing}`);
      return names;
    };

    const { signatories, plan } = this.planSigners(platform, input, (signInfo, who) => {
      const names = fieldsOf(signInfo.signLocation, who);
      return { fieldNames: names, targets: names.map((n) => fieldTarget(template.signatureFields.get(n)!)) };
    });

    template.prepared ??= prepare(template.pdf);
    let bytes: Uint8Array;
    try {
      bytes = (await template.prepared).render(printed);
    } catch (error) {
      if (error instanceof SealflowError) throw parameterError(`合同模板填充失败: ${error.message}`);
      throw error;
    }
    const info = await inspect(bytes);
    const contract: ContractRecord = {
      contractNo: str(input.contractNo) ?? this.nextContractNo(template.contractTypeCode),
      platId: platform.platId,
      contractTypeCode: template.contractTypeCode,
      contractName: str(input.contractName) ?? template.contractName,
      templateId,
      createTime: this.now(),
      expiredDate,
      fileId: newFileId(),
      bytes,
      pages: info.pages.map((p) => ({ width: p.width, height: p.height })),
      signatureFields: template.signatureFields,
      signatories,
      usedFields: new Set(),
      textValues: values,
      saveTextValue: int(input.isSaveTextValue) === 1,
      signatureCount: 0,
    };
    this.contracts.set(contract.contractNo, contract);
    for (const p of plan) this.apply(contract, p);
    return contract;
  }

  /**
   * Who signs a new contract: the platform (isSign 0 copy, 1 now, 2 later) and each `signInfos` entry (isProxySign 1
   * now, under an authorisation; otherwise later; isCopy 1 a copy only). Validates all before anything is made.
   */
  private planSigners(
    platform: PlatformRecord,
    input: Json,
    locate: (signInfo: Json, who: string) => { fieldNames: string[]; targets: SealTarget[] },
  ): { signatories: SignatoryRecord[]; plan: PlannedSignature[] } {
    const signatories: SignatoryRecord[] = [];
    const plan: PlannedSignature[] = [];
    const isSign = int(input.isSign) ?? 0;
    if (![0, 1, 2].includes(isSign)) throw parameterError('isSign只能为0、1或2');
    const platformUser = this.user(platform, platform.platId);
    signatories.push({ userId: platform.platId, signmentState: isSign === 0 ? 9 : 0, signTime: undefined });
    if (isSign === 1) {
      const { fieldNames, targets } = locate(input, 'platform');
      plan.push({
        user: platformUser,
        fieldNames,
        targets,
        appearance: this.appearance(platformUser, input),
      });
    }
    const infos = input.signInfos === undefined ? [] : input.signInfos;
    if (!Array.isArray(infos)) throw parameterError('signInfos必须是数组');
    infos.forEach((item, i) => {
      const signInfo = obj(item);
      if (!signInfo) throw parameterError(`signInfos[${i}]必须是对象`);
      const user = this.user(platform, str(signInfo.userId));
      if (signatories.some((s) => s.userId === user.userId)) throw parameterError(`signInfos[${i}].userId重复`);
      if (int(signInfo.isCopy) === 1) {
        signatories.push({ userId: user.userId, signmentState: 9, signTime: undefined });
        return;
      }
      signatories.push({ userId: user.userId, signmentState: 0, signTime: undefined });
      if (int(signInfo.isProxySign) === 1) {
        this.requireAuthorisation(
          user,
          { ...signInfo, isCheckProjectCode: signInfo.isCheckProjectCode ?? 1 },
          platform,
        );
        const { fieldNames, targets } = locate(signInfo, `signInfos[${i}]`);
        plan.push({ user, fieldNames, targets, appearance: this.appearance(user, signInfo) });
      }
    });
    const fields = plan.flatMap((p) => p.fieldNames);
    if (new Set(fields).size !== fields.length) throw parameterError('同一签名域不能由多方签署');
    return { signatories, plan };
  }

  /** A person signs with their name; a company with `imageData` (wins), `sealId`, or its default seal. */
  private appearance(user: UserRecord, signInfo: Json): PlannedSignature['appearance'] {
    if (signInfo.imageData !== undefined) return { image: pngOf(signInfo.imageData, 'imageData') };
    const sealId = str(signInfo.sealId);
    if (user.kind === 'person' && sealId === undefined) return { nameSeal: { name: user.name } };
    const seal = this.seal(user, sealId);
    return { image: this.sealImage(user, seal) };
  }

  private apply(contract: ContractRecord, p: PlannedSignature): void {
    const signingTime = this.now();
    for (const target of p.targets) {
      contract.signatureCount += 1;
      contract.bytes = sealDocument(contract.bytes, {
        identity: p.user.identity.signingIdentity,
        target:
          'existingFieldName' in target || target.name !== 'Signature'
            ? target
            : { ...target, name: `Signature${contract.signatureCount}` },
        appearance: p.appearance,
        reason: p.user.userId === contract.platId ? '平台签章' : '代签',
        signingTime: new Date(signingTime),
      });
    }
    for (const name of p.fieldNames) contract.usedFields.add(name);
    const signatory = contract.signatories.find((s) => s.userId === p.user.userId);
    if (signatory) {
      signatory.signmentState = 1;
      signatory.signTime = signingTime;
    }
  }

  contractState(c: ContractRecord): ContractState {
    const parties = c.signatories.filter((s) => s.signmentState !== 9);
    if (parties.every((s) => s.signmentState === 1)) return 1;
    if (this.isExpired(c)) return 9;
    return parties.some((s) => s.signmentState === 1) ? 3 : 0;
  }

  private isExpired(c: ContractRecord): boolean {
    return txTime(this.now()).slice(0, 8) > c.expiredDate;
  }

  contractView(c: ContractRecord): Json {
    return {
      contractNo: c.contractNo,
      contractTypeCode: c.contractTypeCode,
      contractName: c.contractName,
      contractState: this.contractState(c),
      createTime: txTime(c.createTime),
      expiredDate: c.expiredDate,
      fileId: c.fileId,
      signatories: c.signatories.map((s) => {
        const user = this.users.get(s.userId)!;
        return {
          userId: s.userId,
          userName: user.name,
          identTypeCode: user.identTypeCode,
          identNo: user.identNo,
          signmentState: s.signmentState,
          ...(s.signTime === undefined ? {} : { signTime: Number(txTime(s.signTime)) }),
        };
      }),
    };
  }

  // ---------------------------------------------------------------- batches

  private acceptBatch(platform: PlatformRecord, body: Json, hold: boolean): Json {
    const batchNo = str(body.batchNo);
    if (!batchNo) throw parameterError('batchNo不能为空');
    if (!Array.isArray(body.createContracts) || body.createContracts.length === 0) {
      throw parameterError('createContracts不能为空');
    }
    if (body.createContracts.length > 100) throw parameterError('createContracts不能超过100个');
    const requests = body.createContracts.map((item, i) => {
      const o = obj(item);
      if (!o) throw parameterError(`createContracts[${i}]必须是对象`);
      if (!str(o.templateId)) throw parameterError(`createContracts[${i}].templateId不能为空`);
      return o;
    });
    const k = key(platform.platId, batchNo);
    const existing = this.batches.get(k);
    if (existing) {
      if (this.options.duplicateContractNo === 'refuse') {
        throw new CfcaBusinessError(CFCA_CODES.BATCH_NO_EXISTS, `批次号${batchNo}已存在`);
      }
      return { batchNo, createContracts: existing.requests };
    }
    this.batches.set(k, {
      batchNo,
      platId: platform.platId,
      acceptedAt: this.now(),
      requests,
      results: undefined,
      held: hold || this.holdAllBatches,
    });
    return { batchNo, createContracts: requests };
  }

  batch(platId: string, batchNo: string): BatchRecord | undefined {
    return this.batches.get(key(platId, batchNo));
  }

  /** Runs every batch whose time has come and that nobody holds. */
  async settleBatches(): Promise<void> {
    for (const b of this.batches.values()) {
      if (b.results || b.held || this.now() < b.acceptedAt + this.options.batchDelayMs) continue;
      await this.runBatch(b);
    }
  }

  async runBatch(b: BatchRecord): Promise<void> {
    if (b.results) return;
    const platform = this.platforms.get(b.platId)!;
    const results: Json[] = [];
    for (const request of b.requests) {
      try {
        const c = await this.createFromTemplate(platform, request);
        results.push({ ...request, contractNo: c.contractNo, fileId: c.fileId, code: CFCA_SUCCESS, message: 'OK' });
      } catch (error) {
        if (!(error instanceof CfcaBusinessError)) throw error;
        results.push({ ...request, code: error.errorCode, message: error.message });
      }
    }
    b.results = results;
  }

  private batchResult(platform: PlatformRecord, body: Json): Json {
    const batchNo = str(body.batchNo);
    if (!batchNo) throw parameterError('batchNo不能为空');
    const b = this.batch(platform.platId, batchNo);
    if (!b) throw new CfcaBusinessError(CFCA_CODES.BATCH_NOT_FOUND, `批次${batchNo}不存在`);
    if (!b.results) throw new CfcaBusinessError(CFCA_CODES.BATCH_NOT_FINISHED, '该批次还没有执行完毕，请稍后再试');
    return { batchNo, createContracts: b.results };
  }

  // ---------------------------------------------------------------- uploaded contracts and signing

  private async upload(platform: PlatformRecord, body: Json, file: Uint8Array | undefined): Promise<ContractRecord> {
    const input = member(body, 'uploadContract');
    const existing = this.duplicateOf(platform, str(input.contractNo));
    if (existing) return existing;
    if (!file) throw parameterError('contractFile不能为空');
    if (!looksLikePdf(file)) throw parameterError('contractFile不是PDF文件');
    const contractTypeCode = required(input, 'contractTypeCode', 'uploadContract');
    if (!/^[A-Z]{2}$/.test(contractTypeCode)) throw parameterError('uploadContract.contractTypeCode格式不正确');
    const contractName = required(input, 'contractName', 'uploadContract');
    const expiredDate = this.expiredDate(input.expiredDate);
    let info: Awaited<ReturnType<typeof inspect>>;
    try {
      info = await inspect(file);
    } catch {
      throw parameterError('contractFile无法读取');
    }
    const pages = info.pages.map((p) => ({ width: p.width, height: p.height }));
    const signatureFields = new Map<string, TemplateSignatureField>();
    for (const f of info.fields) if (f.type === 'signature') signatureFields.set(f.name, { name: f.name });

    // Keyword hits need the text, so they are looked up before planning (planning itself stays synchronous).
    const keywords = [input, ...(Array.isArray(input.signInfos) ? input.signInfos : [])]
      .map((x) => str(obj(obj(x)?.signKeyword)?.keyword))
      .filter((k): k is string => k !== undefined);
    const hits = keywords.length > 0 ? (await inspect(file, keywords)).keywordHits : [];
    const { signatories, plan } = this.planSigners(platform, input, (signInfo, who) => ({
      fieldNames: [],
      targets: placements(signInfo, who, pages, hits, this.users.get(str(signInfo.userId) ?? platform.platId)),
    }));

    const contract: ContractRecord = {
      contractNo: str(input.contractNo) ?? this.nextContractNo(contractTypeCode),
      platId: platform.platId,
      contractTypeCode,
      contractName,
      templateId: undefined,
      createTime: this.now(),
      expiredDate,
      fileId: newFileId(),
      bytes: file,
      pages,
      signatureFields,
      signatories,
      usedFields: new Set(),
      textValues: {},
      saveTextValue: false,
      signatureCount: 0,
    };
    this.contracts.set(contract.contractNo, contract);
    for (const p of plan) this.apply(contract, p);
    return contract;
  }

  private async signExisting(
    platform: PlatformRecord,
    input: Json,
    how: 'field' | 'keyword' | 'coordinate',
  ): Promise<Json> {
    const contractNo = str(input.contractNo);
    if (!contractNo) throw parameterError('contractNo不能为空');
    const contract = this.contract(platform, contractNo);
    const signInfo = obj(input.signInfo);
    if (!signInfo) throw parameterError('signInfo不能为空');
    const user = this.user(platform, str(signInfo.userId));
    const state = this.contractState(contract);
    if (state === 1) throw new CfcaBusinessError(CFCA_CODES.CONTRACT_STATE, '合同已签署完成，不能再签署');
    if (state === 9) throw new CfcaBusinessError(CFCA_CODES.CONTRACT_STATE, '合同已过期，不能签署');
    const signatory = contract.signatories.find((s) => s.userId === user.userId);
    if (!signatory || signatory.signmentState === 9) {
      throw new CfcaBusinessError(CFCA_CODES.CONTRACT_STATE, `用户${user.userId}不是该合同的签署方`);
    }
    if (signatory.signmentState === 1) {
      throw new CfcaBusinessError(CFCA_CODES.CONTRACT_STATE, `用户${user.userId}已签署该合同`);
    }
    this.requireAuthorisation(user, signInfo, platform);

    let fieldNames: string[] = [];
    let targets: SealTarget[];
    if (how === 'field') {
      fieldNames = splitLocation(signInfo.signLocation);
      if (fieldNames.length === 0) throw parameterError('signInfo.signLocation不能为空');
      const missing = fieldNames.find((n) => !contract.signatureFields.has(n));
      if (missing !== undefined) throw parameterError(`合同中不存在签名域${missing}`);
      const used = fieldNames.find((n) => contract.usedFields.has(n));
      if (used !== undefined) throw new CfcaBusinessError(CFCA_CODES.CONTRACT_STATE, `签名域${used}已签署`);
      targets = fieldNames.map((n) => fieldTarget(contract.signatureFields.get(n)!));
    } else {
      const keyword = how === 'keyword' ? str(obj(input.signKeyword)?.keyword) : undefined;
      if (how === 'keyword' && keyword === undefined) throw parameterError('signKeyword.keyword不能为空');
      const hits = keyword ? (await inspect(contract.bytes, [keyword])).keywordHits : [];
      const located = how === 'keyword' ? { signKeyword: input.signKeyword } : { signLocations: input.signLocations };
      targets = placements(located, 'signInfo', contract.pages, hits, user);
      if (targets.length === 0) throw parameterError('signLocations不能为空');
    }
    this.apply(contract, { user, fieldNames, targets, appearance: this.appearance(user, signInfo) });
    return { ...input, contractNo };
  }
}

function key(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

function member(body: Json, name: string): Json {
  const m = obj(body[name]);
  if (!m) throw parameterError(`${name}不能为空`);
  return m;
}

function required(o: Json, field: string, where: string): string {
  const v = str(o[field]);
  if (v === undefined) throw parameterError(`${where}.${field}不能为空`);
  return v;
}

function pngOf(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || value === '') throw parameterError(`${what}不能为空`);
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (!looksLikePng(bytes)) throw parameterError(`${what}必须是Base64编码的PNG图片`);
  return bytes;
}

/** `textValueInfo`, or the older `investmentInfo` it replaced; numbers become text. */
function textValues(input: Json): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of ['investmentInfo', 'textValueInfo']) {
    if (input[name] === undefined) continue;
    const map = obj(input[name]);
    if (!map) throw parameterError(`${name}必须是对象`);
    for (const [field, value] of Object.entries(map)) {
      if (value === null || value === undefined || value === '') continue;
      if (typeof value !== 'string' && typeof value !== 'number') throw parameterError(`${name}.${field}必须是字符串`);
      values[field] = String(value);
    }
  }
  return values;
}

/** `"Signature1;Signature2;"` → names (a trailing `;` is tolerated). */
function splitLocation(value: unknown): string[] {
  return (str(value) ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function fieldTarget(field: TemplateSignatureField): SealTarget {
  if (field.page === undefined || field.rect === undefined) return { existingFieldName: field.name };
  return { name: field.name, page: field.page, rect: field.rect };
}

/**
 * Where an upload or a 3207/3208 signature goes: `signLocations[]` (1-based page, lower-left and upper-right corners
 * in points from the page's lower-left) or `signKeyword` (the seal centred on the keyword's first occurrence, moved
 * by the offsets).
 */
function placements(
  located: Json,
  who: string,
  pages: { width: number; height: number }[],
  hits: { keyword: string; page: number; x: number; y: number; width: number; height: number }[],
  user: UserRecord | undefined,
): SealTarget[] {
  if (Array.isArray(located.signLocations) && located.signLocations.length > 0) {
    return located.signLocations.map((item, i) => {
      const l = obj(item) ?? {};
      const page = int(l.signOnPage);
      const [lbx, lby, rux, ruy] = ['signLocationLBX', 'signLocationLBY', 'signLocationRUX', 'signLocationRUY'].map(
        (f) => decimal(l[f]),
      );
      if (page === undefined || page < 1 || page > pages.length) {
        throw parameterError(`${who}.signLocations[${i}].signOnPage超出合同页数`);
      }
      if (
        lbx === undefined ||
        lby === undefined ||
        rux === undefined ||
        ruy === undefined ||
        rux <= lbx ||
        ruy <= lby
      ) {
        throw parameterError(`${who}.signLocations[${i}]坐标不正确`);
      }
      const size = pages[page - 1]!;
      if (lbx < 0 || lby < 0 || rux > size.width || ruy > size.height) {
        throw parameterError(`${who}.signLocations[${i}]坐标超出页面范围`);
      }
      return { name: 'Signature', page: page - 1, rect: { x: lbx, y: lby, width: rux - lbx, height: ruy - lby } };
    });
  }
  const kw = obj(located.signKeyword);
  if (kw) {
    const keyword = str(kw.keyword);
    if (!keyword) throw parameterError(`${who}.signKeyword.keyword不能为空`);
    const hit = hits.find((h) => h.keyword === keyword);
    if (!hit) throw parameterError(`合同中未找到关键字: ${keyword}`);
    const fallback = user?.kind === 'person' ? PERSON_SEAL : ENTERPRISE_SEAL;
    const width = decimal(kw.imageWidth) ?? fallback.width;
    const height = decimal(kw.imageHeight) ?? fallback.height;
    const cx = hit.x + hit.width / 2 + (decimal(kw.offsetCoordX) ?? 0);
    const cy = hit.y + hit.height / 2 + (decimal(kw.offsetCoordY) ?? 0);
    return [{ name: 'Signature', page: hit.page, rect: { x: cx - width / 2, y: cy - height / 2, width, height } }];
  }
  if (who === 'signInfo') return [];
  throw parameterError(`${who}需要signLocations或signKeyword`);
}
