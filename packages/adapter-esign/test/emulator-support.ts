/** Shared by the emulator tests: signed calls the way a client makes them, the platform as a signer, and pdfsig. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignerSpec } from '@sealflow/core';
import { signRequest } from '../src/client/signature.js';
import { type EsignVendorOptions, esignVendor } from '../src/index.js';
import type { EsignEmulator } from '../src/testing/index.js';

/** `esignVendor` on the emulator's first app, with a limit no test reaches, and `options` on top. */
export function emulatorVendor(emulator: EsignEmulator, options: Partial<EsignVendorOptions> = {}) {
  return esignVendor({
    appId: emulator.app.appId,
    appSecret: emulator.app.appSecret,
    host: emulator.baseUrl,
    qps: 1000,
    burst: 1000,
    ...options,
  });
}

/**
 * The emulator app's own company as an organisation signer that seals automatically with the seal e签宝 gave it;
 * `creditCode` is the one the emulator was made with.
 */
export function platformSigner(
  emulator: EsignEmulator,
  creditCode: string,
  options: Pick<SignerSpec, 'order' | 'placements'>,
): SignerSpec {
  return {
    role: 'platform',
    kind: 'organization',
    name: emulator.app.orgName,
    idNumber: creditCode,
    sealId: emulator.app.sealId,
    autoSign: true,
    ...options,
  };
}

export interface CallOptions {
  body?: unknown;
  /** Raw body text to send instead of JSON.stringify(body). */
  rawBody?: string;
  secret?: string;
  appId?: string;
  timestamp?: number;
  /** Change the sent body after signing it. */
  tamper?: (body: string) => string;
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

/** What came back; `data` is the wire JSON, read loosely by the assertions. */
export interface CallResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked by the assertions that read it
  json: { code: number; message: string; data: any; success?: boolean };
}

/** A signed request to the emulator; `pathAndQuery` as on the wire. */
export async function call(
  emulator: EsignEmulator,
  now: number,
  method: string,
  pathAndQuery: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const signed = signRequest({
    appId: options.appId ?? emulator.app.appId,
    appSecret: options.secret ?? emulator.app.appSecret,
    method,
    pathAndQuery,
    ...(body === undefined ? {} : { body }),
    timestamp: options.timestamp ?? now,
  });
  const headers: Record<string, string> = { ...signed.headers };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  const response = await fetch(`${emulator.baseUrl}${pathAndQuery}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: options.tamper ? options.tamper(body) : body }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) };
}

/** Calls that must succeed: returns `data`. */
export async function ok(
  emulator: EsignEmulator,
  now: number,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked by the assertions that read it
): Promise<any> {
  const r = await call(emulator, now, method, path, body === undefined ? {} : { body });
  if (r.status !== 200 || r.json.code !== 0)
    throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.data;
}

const work = mkdtempSync(join(tmpdir(), 'sealflow-esign-'));
let counter = 0;

/** pdfsig's verdict on each signature of `pdf`. A missing pdfsig fails the test with the install command. */
export function pdfsig(pdf: Uint8Array): { raw: string; validations: string[]; totalDocumentSigned: boolean } {
  const probe = spawnSync('pdfsig', ['-v'], { encoding: 'utf8' });
  if (probe.error) throw new Error('pdfsig is not installed; install it: apt-get install -y poppler-utils');
  const file = join(work, `${counter++}.pdf`);
  writeFileSync(file, pdf);
  const r = spawnSync('pdfsig', [file], { encoding: 'utf8' });
  const raw = `${r.stdout}${r.stderr}`;
  const validations = [...raw.matchAll(/- Signature Validation: (.*)$/gm)].map((m) => m[1]!.trim());
  return {
    raw,
    validations,
    totalDocumentSigned: /- Total document signed/.test(raw.split(/^Signature #/m).at(-1) ?? ''),
  };
}
