/**
 * e签宝's pure data checks (信息比对): does a name, ID number, mobile or bank card belong together, checked against the
 * people a test registered. With e签宝's anti-abuse limits on the same identity: more than 10 checks in a minute
 * bans it for a minute, more than 20 in 10 minutes for 10 minutes, more than 50 in a day for 30 minutes.
 */
import { EsignBusinessError, ESIGN_CODES } from './codes.js';
import { newId, type PersonRecord } from './model.js';

export type RealNameCheck = 'base' | 'telecom2Factors' | 'telecom3Factors' | 'bank3Factors' | 'bank4Factors';

const FIELDS: Record<RealNameCheck, string[]> = {
  base: ['idNo', 'name'],
  telecom2Factors: ['name', 'mobileNo'],
  telecom3Factors: ['idNo', 'name', 'mobileNo'],
  bank3Factors: ['idNo', 'name', 'cardNo'],
  bank4Factors: ['idNo', 'name', 'cardNo', 'mobileNo'],
};

const MINUTE = 60_000;
const BANS = [
  { window: MINUTE, limit: 10, ban: MINUTE },
  { window: 10 * MINUTE, limit: 20, ban: 10 * MINUTE },
  { window: 24 * 60 * MINUTE, limit: 50, ban: 30 * MINUTE },
];

export class RealNameChecks {
  private readonly calls = new Map<string, number[]>();
  private readonly bannedUntil = new Map<string, number>();

  constructor(
    private readonly people: () => Iterable<PersonRecord>,
    private readonly antiAbuse: boolean,
  ) {}

  check(kind: RealNameCheck, detail: boolean, body: Record<string, unknown>, now: number): { verifyId: string } {
    const values: Record<string, string> = {};
    for (const field of FIELDS[kind]) {
      const value = body[field];
      if (typeof value !== 'string' || value.trim() === '') {
        throw new EsignBusinessError(ESIGN_CODES.VERIFY_MISSING_PARAMETER, `缺少参数: ${field}`);
      }
      values[field] = value.trim();
    }
    if (values.idNo !== undefined && !/^\d{17}[\dXx]$/.test(values.idNo)) {
      throw new EsignBusinessError(ESIGN_CODES.VERIFY_BAD_PARAMETER, '参数错误: idNo格式不正确');
    }
    if (values.mobileNo !== undefined && !/^1\d{10}$/.test(values.mobileNo)) {
      throw new EsignBusinessError(ESIGN_CODES.VERIFY_BAD_PARAMETER, '参数错误: mobileNo格式不正确');
    }
    if (values.cardNo !== undefined && !/^\d{12,19}$/.test(values.cardNo)) {
      throw new EsignBusinessError(ESIGN_CODES.VERIFY_BAD_PARAMETER, '参数错误: cardNo格式不正确');
    }
    if (this.antiAbuse) this.countCall(values.idNo?.toUpperCase() ?? `${values.name}|${values.mobileNo}`, now);

    const verifyId = newId();
    const mismatch = this.mismatch(kind, values);
    if (mismatch === undefined) return { verifyId };
    if (detail && mismatch === 'name') {
      throw new EsignBusinessError(ESIGN_CODES.VERIFY_NAME_MISMATCH, '姓名与身份证号不一致', { verifyId });
    }
    if (detail && mismatch === 'mobile') {
      throw new EsignBusinessError(ESIGN_CODES.VERIFY_MOBILE_MISMATCH, '手机号与身份证号不一致', { verifyId });
    }
    throw new EsignBusinessError(ESIGN_CODES.VERIFY_MISMATCH, '信息比对不通过,请检查信息的正确性', { verifyId });
  }

  /** undefined when the data match a registered person; otherwise what differs first. */
  private mismatch(kind: RealNameCheck, v: Record<string, string>): 'name' | 'mobile' | 'other' | undefined {
    const people = [...this.people()];
    if (kind === 'telecom2Factors') {
      return people.some((p) => p.name === v.name && p.mobile === v.mobileNo) ? undefined : 'other';
    }
    const person = people.find((p) => p.idNo !== undefined && p.idNo.toUpperCase() === v.idNo?.toUpperCase());
    if (!person) return 'other';
    if (person.name !== v.name) return 'name';
    if (kind === 'telecom3Factors') return person.mobile === v.mobileNo ? undefined : 'mobile';
    if (kind === 'bank3Factors') return person.bankCards.some((c) => c.cardNo === v.cardNo) ? undefined : 'other';
    if (kind === 'bank4Factors') {
      const card = person.bankCards.find((c) => c.cardNo === v.cardNo);
      if (!card) return 'other';
      return (card.mobile ?? person.mobile) === v.mobileNo ? undefined : 'mobile';
    }
    return undefined;
  }

  private countCall(key: string, now: number): void {
    const until = this.bannedUntil.get(key);
    if (until !== undefined && now < until) throw riskControl();
    const calls = (this.calls.get(key) ?? []).filter((t) => t > now - BANS[2]!.window);
    calls.push(now);
    this.calls.set(key, calls);
    for (const { window, limit, ban } of BANS) {
      if (calls.filter((t) => t > now - window).length > limit) {
        this.bannedUntil.set(key, now + ban);
        throw riskControl();
      }
    }
  }
}

function riskControl(): EsignBusinessError {
  return new EsignBusinessError(ESIGN_CODES.VERIFY_RISK_CONTROL, '请求已判定被风控');
}

export function realNameCheckOf(path: string): { kind: RealNameCheck; detail: boolean } | undefined {
  const m =
    /^\/v2\/identity\/verify\/individual\/(base|telecom2Factors|telecom3Factors|bank3Factors|bank4Factors)(\/detail)?$/.exec(
      path,
    );
  if (!m) return undefined;
  return { kind: m[1] as RealNameCheck, detail: m[2] !== undefined };
}
