/** Shared by the emulator tests: signed transactions the way a client makes them, a platform certificate, and pdfsig. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CfcaDigest, signCfcaData } from '../src/client/signature.js';
import { createCfcaTestCertificate } from '../src/client/test-certificates.js';
import type { CfcaEmulator } from '../src/testing/index.js';

const work = mkdtempSync(join(tmpdir(), 'sealflow-cfca-'));
let counter = 0;

/** A platform's credentials: a CFCA-shaped test certificate and its key. */
export interface TestPlatformKey {
  certificatePem: string;
  keyPem: string;
}

export function makePlatformKey(
  commonName = 'AnxinSign@某某消费金融股份有限公司@91310000MA1FL00000@1',
): TestPlatformKey {
  const cert = createCfcaTestCertificate({ commonName });
  return { certificatePem: cert.certificatePem, keyPem: cert.privateKeyPem };
}

/** The request signature as the client makes it. */
export function signData(data: string, key: TestPlatformKey, digest: CfcaDigest = 'sha256'): string {
  return signCfcaData(data, { key: key.keyPem, certificate: key.certificatePem, digest });
}

const SHANGHAI = 8 * 3600_000;
/** `yyyyMMddHHmmss` in China Standard Time. */
export function txTimeOf(ms: number): string {
  return new Date(ms + SHANGHAI).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export interface TransactOptions {
  /** The platform key; default the one the emulator was made with. */
  key?: TestPlatformKey;
  platId?: string;
  txTime?: string;
  /** Raw `data` text instead of JSON.stringify({ head, ...body }). */
  rawData?: string;
  /** Change `data` after signing it. */
  tamper?: (data: string) => string;
  signature?: string;
  digest?: 'sha256' | 'sha1';
  /** Upload (3203): the PDF, sent multipart. */
  file?: Uint8Array;
  signal?: AbortSignal;
}

/** What came back; `json` is the wire JSON, read loosely by the assertions. */
export interface TransactResult {
  status: number;
  text: string;
  contentType: string | null;
  /** Undefined when the body is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: wire JSON, checked by the assertions that read it
  json: any;
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function makeTransact(emulator: CfcaEmulator, defaultKey: TestPlatformKey, now: () => number) {
  return async function transact(txCode: string, body: object, options: TransactOptions = {}): Promise<TransactResult> {
    const data = options.rawData ?? JSON.stringify({ head: { txTime: options.txTime ?? txTimeOf(now()) }, ...body });
    const signature = options.signature ?? signData(data, options.key ?? defaultKey, options.digest);
    const sent = options.tamper ? options.tamper(data) : data;
    const url = `${emulator.baseUrl}platId/${options.platId ?? emulator.platform.platId}/txCode/${txCode}/transaction`;
    let init: RequestInit;
    if (options.file) {
      const form = new FormData();
      form.set('data', sent);
      form.set('signature', signature);
      form.set('contractFile', new Blob([options.file], { type: 'application/octet-stream' }), 'contract.pdf');
      init = { method: 'POST', body: form };
    } else {
      init = {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams({ data: sent, signature }).toString(),
      };
    }
    const response = await fetch(url, { ...init, ...(options.signal ? { signal: options.signal } : {}) });
    const text = await response.text();
    return { status: response.status, text, contentType: response.headers.get('Content-Type'), json: parsed(text) };
  };
}

/** pdfsig's verdict on each signature of `pdf`. A missing pdfsig fails the test with the install command. */
export function pdfsig(pdf: Uint8Array): { raw: string; validations: string[] } {
  const probe = spawnSync('pdfsig', ['-v'], { encoding: 'utf8' });
  if (probe.error) throw new Error('pdfsig is not installed; install it: apt-get install -y poppler-utils');
  const file = join(work, `${counter++}.pdf`);
  writeFileSync(file, pdf);
  const r = spawnSync('pdfsig', [file], { encoding: 'utf8' });
  const raw = `${r.stdout}${r.stderr}`;
  return { raw, validations: [...raw.matchAll(/- Signature Validation: (.*)$/gm)].map((m) => m[1]!.trim()) };
}

/** The names of the entries of a ZIP archive, by `unzip -Z1`. */
export function zipEntries(bytes: Uint8Array): string[] {
  const file = join(work, `${counter++}.zip`);
  writeFileSync(file, bytes);
  const r = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  if (r.error) throw new Error('unzip is not installed; install it: apt-get install -y unzip');
  return r.stdout.split('\n').filter((l) => l !== '');
}
