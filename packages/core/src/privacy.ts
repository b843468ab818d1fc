/**
 * Personal data never leaves sealflow unmasked: not in logs, error messages, events or audit payloads meant for
 * display. These helpers are the one place that decides what "masked" means.
 */

// 18-character numbers (GB 11643) and the 15-digit numbers issued before 1999: region kept, birth date hidden.
const ID_NUMBER = /(?<![0-9A-Za-z])(\d{6})(?:\d{8}\d{3}([\dXx])|\d{5}(\d{4}))(?![0-9A-Za-z])/g;
// A mainland mobile, also written with +86 / 0086 / 86 in front or grouped 3-4-4 with spaces or dashes.
const MOBILE = /(?<![\d+])((?:\+|00)?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)/g;

/** Text of anything a caller may pass where a string is expected, without calling a user-defined `toString`. */
function plainText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return '';
}

/**
 * 110101********1234 — keeps the region and the last four, as Chinese banks print it (110101*****1234 for the old
 * 15-digit numbers). Anything shorter than 15 characters is not an ID number one could recognise by its ends, so it is
 * masked whole rather than shown mostly in clear.
 */
export function maskIdNumber(value: string): string {
  const text = plainText(value);
  if (text.length < 15) return '*'.repeat(text.length);
  return text.slice(0, 6) + '*'.repeat(text.length - 10) + text.slice(-4);
}

/** 138****5678 (+86*******5678 with a country code); anything shorter than a mobile is masked whole. */
export function maskMobile(value: string): string {
  const text = plainText(value);
  if (text.length < 11) return '*'.repeat(text.length);
  return text.slice(0, 3) + '*'.repeat(text.length - 7) + text.slice(-4);
}

/** 张* / 欧阳** / J*** — keeps only the first character. */
export function maskName(value: string): string {
  const chars = Array.from(plainText(value));
  return chars.length <= 1 ? '*' : chars[0] + '*'.repeat(chars.length - 1);
}

/** Mask ID numbers and mobiles wherever they appear inside free text (error messages, vendor replies). */
export function maskText(text: string): string {
  // Mobiles first: a +86/0086 prefix would otherwise make a mobile look like a 15-digit ID number.
  return plainText(text)
    .replace(
      MOBILE,
      (_m, prefix: string | undefined, head: string, tail: string) => `${prefix ?? ''}${head}****${tail}`,
    )
    .replace(ID_NUMBER, (match: string, head: string, check: string | undefined, old: string | undefined) =>
      check !== undefined ? `${head}********${match.slice(-4)}` : `${head}*****${old}`,
    );
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
