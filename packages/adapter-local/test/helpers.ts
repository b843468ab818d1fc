/**
 * External verifiers for the tests: poppler's `pdfsig` and `openssl cms -verify`. Both must be installed; a test
 * that silently skipped verification would prove nothing, so a missing tool fails loudly with the install command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const work = mkdtempSync(join(tmpdir(), 'sealflow-local-'));
let counter = 0;

export function requireTool(tool: 'pdfsig' | 'openssl'): void {
  const r = spawnSync(tool, tool === 'pdfsig' ? ['-v'] : ['version'], { encoding: 'utf8' });
  if (r.error) {
    const install = tool === 'pdfsig' ? 'apt-get install -y poppler-utils' : 'apt-get install -y openssl';
    throw new Error(`${tool} is not installed; these tests verify signatures with it. Install it: ${install}`);
  }
}

export function tempFile(name: string, bytes: Uint8Array | string): string {
  const file = join(work, `${counter++}-${name}`);
  writeFileSync(file, bytes);
  return file;
}

export interface PdfsigSignature {
  index: number;
  fieldName: string | undefined;
  commonName: string | undefined;
  dn: string | undefined;
  subFilter: string | undefined;
  totalDocumentSigned: boolean;
  validation: string | undefined;
}

/** Runs pdfsig and parses its report. pdfsig exits non-zero when a signature is invalid; the report is still there. */
export function pdfsig(pdf: Uint8Array): { raw: string; signatures: PdfsigSignature[] } {
  const file = tempFile('doc.pdf', pdf);
  const r = spawnSync('pdfsig', [file], { encoding: 'utf8' });
  const raw = `${r.stdout}${r.stderr}`;
  const signatures: PdfsigSignature[] = [];
  for (const block of raw.split(/^Signature #/m).slice(1)) {
    const get = (label: string) => new RegExp(`- ${label}: (.*)$`, 'm').exec(block)?.[1]?.trim();
    signatures.push({
      index: Number(/^(\d+)/.exec(block)?.[1]),
      fieldName: get('Signature Field Name'),
      commonName: get('Signer Certificate Common Name'),
      dn: get('Signer full Distinguished Name'),
      subFilter: get('Signature Type'),
      totalDocumentSigned: /- Total document signed/.test(block),
      validation: get('Signature Validation'),
    });
  }
  return { raw, signatures };
}

/** The /Contents DER and the signed bytes of the signature whose /ByteRange is the n-th in the file. */
export function extractSignature(pdf: Uint8Array, n: number): { cms: Buffer; signed: Buffer } {
  const text = Buffer.from(pdf).toString('latin1');
  const ranges = [...text.matchAll(/\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g)];
  const m = ranges[n];
  if (!m) throw new Error(`no ByteRange #${n}`);
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  const hex = text.slice(a + b + 1, c - 1);
  const der = Buffer.from(hex, 'hex');
  // Trim the zero padding after the DER element.
  let len = der[1]!;
  let hdr = 2;
  if (len & 0x80) {
    const k = len & 0x7f;
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + der[2 + i]!;
    hdr = 2 + k;
  }
  return {
    cms: der.subarray(0, hdr + len),
    signed: Buffer.concat([Buffer.from(pdf.subarray(a, a + b)), Buffer.from(pdf.subarray(c, c + d))]),
  };
}

/** `openssl cms -verify -binary -inform DER -noverify` of the n-th signature over its signed ranges, plus `extra`. */
function cmsVerify(pdf: Uint8Array, n: number, extra: string[]) {
  const { cms, signed } = extractSignature(pdf, n);
  const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-noverify'];
  args.push('-in', tempFile('sig.der', cms), '-content', tempFile('signed.bin', signed), ...extra, '-out', '/dev/null');
  return spawnSync('openssl', args, { encoding: 'utf8' });
}

/** True only on openssl's "Verification successful". */
export function opensslVerify(pdf: Uint8Array, n: number): { ok: boolean; output: string } {
  const r = cmsVerify(pdf, n, []);
  const output = `${r.stdout}${r.stderr}`;
  return { ok: r.status === 0 && /Verification successful/.test(output), output };
}

export function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8' });
}

/**
 * The signer certificate embedded in the n-th signature, as openssl reads it: its SHA-256 fingerprint (lower-case hex)
 * and serial number (hex). `-signer` writes exactly the certificate that verified the signature.
 */
export function opensslSignerCertificate(pdf: Uint8Array, n: number): { sha256: string; serial: string } {
  const signerFile = tempFile('signer.pem', '');
  const r = cmsVerify(pdf, n, ['-signer', signerFile]);
  if (r.status !== 0) throw new Error(`openssl cms -verify failed: ${r.stdout}${r.stderr}`);
  const out = execFileSync('openssl', ['x509', '-in', signerFile, '-noout', '-fingerprint', '-sha256', '-serial'], {
    encoding: 'utf8',
  });
  const fingerprint = /Fingerprint=([0-9A-F:]+)/i.exec(out)?.[1] ?? '';
  const serial = /serial=([0-9A-F]+)/i.exec(out)?.[1] ?? '';
  return { sha256: fingerprint.replaceAll(':', '').toLowerCase(), serial };
}
