/**
 * The answers the emulator gives, in e签宝's words. Most codes and messages are the ones e签宝 documents; the few it
 * does not document for V3 (marked "emulator's choice") are picked so that a client can still branch on them, and the
 * README lists them so nobody mistakes them for e签宝's.
 */

/** A business failure: HTTP 200 with a non-zero `code` in the `{ code, message, data }` envelope. */
export class EsignBusinessError extends Error {
  constructor(
    readonly esignCode: number,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
    this.name = 'EsignBusinessError';
  }
}

/** Business codes the emulator answers with. */
export const ESIGN_CODES = {
  /** `参数错误: …` — every validation failure of V3 requests. */
  INVALID_PARAMETER: 1435002,
  /** `查询合同信息失败: 合同不存在` — unknown fileId. */
  FILE_NOT_FOUND: 1430608,
  /** `文档未成功转换成pdf` — a file that is not in status 2 or 5 used in a flow. */
  FILE_NOT_READY: 1437513,
  /** `文档不存在` — keyword search on an unknown file. */
  KEYWORD_FILE_NOT_FOUND: 1437511,
  /** `未找到用户信息` — unknown person (also used for unknown organisations: emulator's choice). */
  USER_NOT_FOUND: 1450008,
  /** `非开启状态不允许撤回流程` — revoke outside state 1 (the V1 code; V3's is undocumented). */
  REVOKE_NOT_ALLOWED: 1437111,
  /** `流程已撤销` — revoke of a revoked flow (the V1 code). */
  ALREADY_REVOKED: 1437168,
  /** `流程非签署完成状态,不允许下载文档` — download before completion. */
  NOT_COMPLETED: 1437518,
  /** Unknown signFlowId: emulator's choice. */
  FLOW_NOT_FOUND: 1437100,
  /** start / finish / append / sign-url in a state that does not allow it: emulator's choice. */
  FLOW_STATE: 1437110,
  /** Unknown docTemplateId: emulator's choice. */
  TEMPLATE_NOT_FOUND: 1437700,
  /** A required template component left empty with `requiredCheck`: emulator's choice of code, e签宝's message. */
  TEMPLATE_FILL: 1437701,
  /** Unknown seal, or a seal the signing organisation may not use: emulator's choice. */
  SEAL_NOT_AVAILABLE: 1437800,
  /** v1 silent signing: unknown `accountId` (in `signAuth` or a field's `authorizedAccountId`): emulator's choice. */
  ACCOUNT_NOT_FOUND: 1435203,
  /** v1 `autoSign` for an account without a silent-sign authorisation from this app: emulator's choice. */
  SIGN_AUTH_MISSING: 1437360,
  /** v1 `autoSign` for an account whose silent-sign authorisation has passed its deadline: emulator's choice. */
  SIGN_AUTH_EXPIRED: 1437361,
  /** Real-name data check: the data do not match. */
  VERIFY_MISMATCH: 30504001,
  /** Real-name data check: a parameter is malformed. */
  VERIFY_BAD_PARAMETER: 30500101,
  /** Real-name data check: a parameter is missing. */
  VERIFY_MISSING_PARAMETER: 30500100,
  /** Real-name data check: the same identity was checked too often (anti-abuse ban). */
  VERIFY_RISK_CONTROL: 30504900,
  /** "Detail" check: the mobile number does not belong to the ID number. */
  VERIFY_MOBILE_MISMATCH: 30501010,
  /** "Detail" check: the name does not belong to the ID number. */
  VERIFY_NAME_MISMATCH: 30501006,
} as const;

/** Shorthand for the `参数错误: …` failure every V3 validation answers with. */
export function invalidParameter(what: string): EsignBusinessError {
  return new EsignBusinessError(ESIGN_CODES.INVALID_PARAMETER, `参数错误: ${what}`);
}
