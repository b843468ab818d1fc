/**
 * Personal data never leaves sealflow unmasked: not in logs, error messages, events or audit payloads meant for
 * display. These helpers are the one place that decides what "masked" means.
 */

const ID_NUMBER = /(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])/g;
const MOBILE = /(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)/g;

/** 110101********1234 — keeps the region and the last four, as Chinese banks print it. */
export function maskIdNumber(value: string): string {
  if (value.length < 8) return '*'.repeat(value.length);
  return value.slice(0, 6) + '*'.repeat(value.length - 10) + value.slice(-4);
}

/** 138****5678 */
export function maskMobile(value: string): string {
  if (value.length < 7) return '*'.repeat(value.length);
  return value.slice(0, 3) + '*'.repeat(value.length - 7) + value.slice(-4);
}

/** 张* / 欧阳** / J*** — keeps only the first character. */
export function maskName(value: string): string {
  const chars = Array.from(value);
  return chars.length <= 1 ? '*' : chars[0] + '*'.repeat(chars.length - 1);
}

/** Mask ID numbers and mobiles wherever they appear inside free text (error messages, vendor replies). */
export function maskText(text: string): string {
  return text
    .replace(ID_NUMBER, (_m, head: string, tail: string) => `${head}********${tail.slice(-4)}`)
    .replace(MOBILE, (_m, head: string, tail: string) => `${head}****${tail}`);
}

const NAME_KEYS = /(^|_)(name|fullname|realname|signername|customername|borrowername|contactname)$/i;
const ID_KEYS = /(idno|idnumber|idcard|certno|licenseno|identity)$/i;
const MOBILE_KEYS = /(mobile|phone|tel)$/i;

/**
 * Deep-copy `value` with personal data masked: fields whose key names a person's name, ID number or phone are masked
 * by kind, and every string is scanned for ID numbers and mobiles. Safe on cycles and non-plain objects.
 */
export function maskPersonalData<T>(value: T): T {
  return maskValue(value, undefined, new WeakSet()) as T;
}

function maskValue(value: unknown, key: string | undefined, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') {
    if (key !== undefined) {
      const k = key.replace(/[-_\s]/g, '');
      if (ID_KEYS.test(k)) return maskIdNumber(value);
      if (MOBILE_KEYS.test(k)) return maskMobile(value);
      if (NAME_KEYS.test(key) || NAME_KEYS.test(k)) return maskName(value);
    }
    return maskText(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: maskText(value.message), code: (value as { code?: unknown }).code };
  }
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((item) => maskValue(item, key, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskValue(v, k, seen);
  return out;
}
