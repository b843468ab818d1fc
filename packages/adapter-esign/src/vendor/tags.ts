/**
 * What the adapter writes into e签宝 objects so that any process can read a flow back without a local store.
 *
 * e签宝 V3 takes no idempotency key and stores nothing of ours but two strings: each sign field's `customBizNum`
 * (echoed in `SIGN_MISSON_COMPLETE` and in the flow detail) and the name a file was uploaded under. The field tag
 * carries the create key's digest (to find a flow whose create answer was lost), the request's fingerprint (to refuse
 * the same key for a different request), the signer's role, and the roles that sign later with their own call; the
 * upload name carries the document key.
 */
import { createHash } from 'node:crypto';

const TAG_PREFIX = 'sf';
const SAFE = /^[A-Za-z0-9_-]+$/;

/** A role or document key as it may appear in a tag or file name: as is when plain, otherwise base64url after `=`. */
export function encodeName(value: string): string {
  return SAFE.test(value) ? value : `=${Buffer.from(value, 'utf8').toString('base64url')}`;
}

export function decodeName(value: string): string {
  return value.startsWith('=') ? Buffer.from(value.slice(1), 'base64url').toString('utf8') : value;
}

export function digest(value: string, length: number): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, length);
}

/** The digest of a create key, as written into every field of the flow it made. */
export function keyDigest(createKey: string): string {
  return digest(createKey, 16);
}

/** JSON with object keys sorted, so equal requests give equal fingerprints. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function fingerprint(value: unknown): string {
  return digest(canonicalJson(value), 10);
}

/** What a sign field's `customBizNum` says about its flow and signer. */
export interface FieldTag {
  key: string;
  fingerprint: string;
  role: string;
  /** Roles in the flow that sign later with their own call (not yet at e签宝). */
  waiting: string[];
}

export function formatTag(tag: FieldTag): string {
  const head = [TAG_PREFIX, tag.key, tag.fingerprint, encodeName(tag.role)].join('.');
  return [head, ...tag.waiting.map(encodeName)].join('~');
}

/** The tag of a `customBizNum`, or undefined for one this adapter did not write. */
export function parseTag(customBizNum: unknown): FieldTag | undefined {
  if (typeof customBizNum !== 'string') return undefined;
  // SIGN_MISSON_COMPLETE joins the customBizNums of a signer's fields with commas; they share their tag.
  const [first] = customBizNum.split(',');
  const [head, ...waiting] = (first ?? '').split('~');
  const parts = (head ?? '').split('.');
  if (parts.length !== 4 || parts[0] !== TAG_PREFIX || !parts[1] || !parts[2] || !parts[3]) return undefined;
  try {
    return {
      key: parts[1],
      fingerprint: parts[2],
      role: decodeName(parts[3]),
      waiting: waiting.filter((w) => w !== '').map(decodeName),
    };
  } catch {
    return undefined;
  }
}

const FILE_NAME_FORBIDDEN = /[/\\:*"<>|?]|\p{Extended_Pictographic}/gu;

/** A file name e签宝 accepts: no `/ \ : * " < > | ?` or emoji, a `.pdf` suffix, at most `max` characters. */
export function safeFileName(fileName: string, max = 100): string {
  let name = fileName.replace(FILE_NAME_FORBIDDEN, '_').trim() || 'document.pdf';
  if (!/\.pdf$/i.test(name)) name = `${name}.pdf`;
  if (name.length > max) name = `${name.slice(0, max - 4)}.pdf`;
  return name;
}

/** A flow title e签宝 accepts: the same characters refused as in file names. */
export function safeTitle(title: string): string {
  return title.replace(FILE_NAME_FORBIDDEN, '_').trim().slice(0, 100) || 'sealflow';
}

/** The name a document is uploaded under: the document key, then the file name people see. */
export function uploadName(key: string, fileName: string): string {
  const prefix = `sf[${encodeName(key)}]`;
  return safeFileName(`${prefix}${safeFileName(fileName)}`);
}

/** The document key of an upload name written by {@link uploadName}. */
export function keyOfUploadName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const match = /^sf\[([^\]]+)\]/.exec(name);
  if (!match?.[1]) return undefined;
  try {
    return decodeName(match[1]);
  } catch {
    return undefined;
  }
}
