/**
 * The answers the emulator gives, in 安心签's words. Only a handful of 安心签's error codes are publicly known (they are
 * marked "安心签's"); the rest are the emulator's choice, picked in the same 8-digit pattern so that a client can still
 * branch on them. The README lists which is which, so nobody mistakes an invented code for 安心签's.
 */

/** A failure answered in 安心签's error form `{"errorCode","errorMessage"}` (no `head`). */
export class CfcaBusinessError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'CfcaBusinessError';
  }
}

/** `head.retCode` of every success. */
export const CFCA_SUCCESS = '60000000';

/** Error codes the emulator answers with. */
export const CFCA_CODES = {
  /** 安心签's: `已经开通代签权限` — 3101 for a (userId, projectCode) already authorised. */
  PROXY_SIGN_ALREADY_GRANTED: '60030401',
  /** 安心签's: `ID为…的用户信息不存在或不是审核通过状态` — an unknown userId. */
  USER_NOT_FOUND: '60030202',
  /** 安心签's: `该批次还没有执行完毕，请稍后再试` — 3211 while the batch still runs. */
  BATCH_NOT_FINISHED: '60030407',
  /** 安心签's (seen once): `ID为<platId>的用户合同编号为<no>的合同信息不存在` — unknown contract number. */
  CONTRACT_NOT_FOUND: '50030301',
  /** Emulator's choice: a missing, malformed or out-of-range field; the message names it. */
  PARAMETER_ERROR: '60010001',
  /** Emulator's choice: the request signature is missing, unreadable, by another certificate, or does not verify. */
  SIGNATURE_INVALID: '60010002',
  /** Emulator's choice: the platId in the URL is not a registered platform. */
  PLATFORM_NOT_FOUND: '60010003',
  /** Emulator's choice: `head.txTime` too far from the emulator's clock. */
  TX_TIME_INVALID: '60010004',
  /**
   * Emulator's choice: a call over the platform's rate limit (`rateLimit`); 安心签 documents neither its limits nor
   * this answer. Not in the client's table: a host maps it with the client's `errorCodes` option.
   */
  RATE_LIMITED: '60010006',
  /** Emulator's choice: a txCode the emulator does not implement. */
  TX_CODE_UNSUPPORTED: '60010005',
  /** Emulator's choice: an account with that ID number exists already (when duplicates are refused). */
  USER_EXISTS: '60030201',
  /** Emulator's choice: unknown seal, or a seal of another user. */
  SEAL_NOT_FOUND: '60030203',
  /** Emulator's choice: the SMS code does not match. */
  CHECK_CODE_WRONG: '60030402',
  /** Emulator's choice: the SMS code expired, or was tried too often. */
  CHECK_CODE_EXPIRED: '60030403',
  /** Emulator's choice: 3102 with no code sent for that (userId, projectCode). */
  CHECK_CODE_NOT_SENT: '60030404',
  /** Emulator's choice: proxy signing (isProxySign 1) without a 3101/3102 authorisation for (userId, projectCode). */
  PROXY_SIGN_NOT_AUTHORISED: '60030405',
  /** Emulator's choice: the contract's state does not allow it (completed, expired, already signed by that user). */
  CONTRACT_STATE: '60030406',
  /** Emulator's choice: the contract number was used before (when duplicates are refused). */
  CONTRACT_NO_EXISTS: '60030408',
  /** Emulator's choice: unknown templateId. */
  TEMPLATE_NOT_FOUND: '60030409',
  /** Emulator's choice: unknown batchNo in 3211. */
  BATCH_NOT_FOUND: '60030410',
  /** Emulator's choice: the batchNo was used before (when duplicates are refused). */
  BATCH_NO_EXISTS: '60030411',
} as const;

/** A parameter failure naming the field. */
export function parameterError(what: string): CfcaBusinessError {
  return new CfcaBusinessError(CFCA_CODES.PARAMETER_ERROR, `参数错误: ${what}`);
}
