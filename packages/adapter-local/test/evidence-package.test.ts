/**
 * Timestamps in the evidence, and the offline verifier: a real signing with the local signer and a local RFC 3161 TSA
 * keeps every signature's token in the record and the evidence, the evidence entries get TSA tokens of their own,
 * and `sealflow-verify-evidence`, run as a separate process on the exported package, accepts it — and refuses it,
 * saying why, once a PDF byte, an evidence entry or a token has been changed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createSealflow,
  evidencePackageJson,
  hashAuditEntry,
  silentLogger,
  type SignRequest,
  type TimestampAuthority,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createManualClock, createMemoryDocumentStore, createMemoryPersistence } from '@sealflow/core/memory';
import { describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { localSigner, maskCertificateSubject, readPdfTimestamps, verifyPdfSignatures } from '../src/index.js';
import {
  createLocalTimestampAuthority,
  createSealImage,
  createTestSigningIdentity,
  type LocalTimestampAuthority,
} from '../src/testing/index.js';

const pdf = new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF));
const CLI = path.resolve(import.meta.dirname, '../src/verify-evidence-cli.ts');
const HASH_KEY = 'evidence-package-test-hash-key-0123456789';
const work = mkdtempSync(path.join(tmpdir(), 'sealflow-evidence-'));

async function setup(
  options: { tsa?: LocalTimestampAuthority; requireTimestamps?: boolean; fallbackWithoutTsa?: boolean } = {},
) {
  const clock = createManualClock(Date.now());
  const identity = (name: string) => createTestSigningIdentity({ commonName: name, organization: name });
  const vendor = localSigner({
    seals: {
      'platform-seal': { identity: identity('某某消费金融股份有限公司'), image: createSealImage({ size: 120 }) },
    },
    personIdentity: identity('某某消费金融 代签'),
    signingTime: () => new Date(clock.now()),
    ...(options.tsa ? { timestampAuthority: options.tsa } : {}),
  });
  const { runtime, templates, signing } = await createSealflow({
    persistence: createMemoryPersistence(),
    documents: createMemoryDocumentStore({ clock }),
    vendors: {
      local: vendor,
      // The same signer without a TSA, under its own id: a fallback that cannot timestamp.
      ...(options.fallbackWithoutTsa
        ? { plain: { ...localSigner({ seals: {}, signingTime: () => new Date(clock.now()) }), id: 'plain' } }
        : {}),
    },
    hashKey: HASH_KEY,
    verifyPdf: verifyPdfSignatures,
    ...(options.tsa ? { evidenceTimestampAuthority: options.tsa as TimestampAuthority } : {}),
    routing: {
      default: options.fallbackWithoutTsa ? ['local', 'plain'] : 'local',
      ...(options.requireTimestamps ? { requireTimestamps: true } : {}),
    },
    organizations: {
      platform: {
        name: '某某消费金融股份有限公司',
        creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
        sealId: 'platform-seal',
      },
    },
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    templateCodes: { CREDIT_GRANT: { 'credit-contract': 'CREDIT_T', 'data-query-authorization': 'QUERY_T' } },
    clock,
    logger: silentLogger,
    start: false,
  });
  const approve = async (code: string, documentType: string) => {
    const editor = { id: 'alice', roles: ['template-editor'] };
    const draft = await templates.importTemplate(editor, {
      code,
      name: code,
      documentType,
      pdf,
      definition: sealedContractDefinition(['platform']),
    });
    await templates.submit(editor, draft.id);
    await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
    return draft.id;
  };
  const shown = [await approve('CREDIT_T', 'CREDIT_CONTRACT'), await approve('QUERY_T', 'DATA_QUERY_AUTHORIZATION')];
  const request: SignRequest = {
    businessNo: 'CR-EVIDENCE-1',
    scene: 'CREDIT_GRANT',
    borrower: { name: '欧阳娜娜', idNumber: withIdNumberCheckChar('31010119900307002'), mobile: '13912345678' },
    values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
    consent: { at: clock.now(), channel: 'app', ip: '203.0.113.9', device: 'Android 15', documentVersionsShown: shown },
    actor: { id: 'lending-system' },
  };
  const drain = async () => {
    for (let i = 0; i < 30; i++) {
      if (Object.values(await runtime.runOnce({ limit: 50 })).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle');
  };
  return { signing, request, drain, vendor };
}

/** The parts of the entries' data the tampering tests change. */
type EntryData = {
  consent: { ip: string };
  documents: { timestamps: ({ field: string } & Record<string, unknown>)[] }[];
};
type PackageJson = {
  manifest: { entries: { seq: number; type: string; data: EntryData; hash: string }[] };
  files: { name: string; base64: string }[];
};

/** Runs the verifier as its own process, the way a third party would. */
function verifyCli(pkg: string | PackageJson, ...args: string[]) {
  const file = path.join(work, `package-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@sealflow/source', CLI, file, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const tsa = createLocalTimestampAuthority({ name: 'test-tsa', commonName: 'sealflow test TSA' });
const tsaCa = path.join(work, 'tsa-root.pem');
writeFileSync(tsaCa, tsa.rootCertificatePem);

describe('timestamps in the record and the evidence', () => {
  it('keeps every signature token the local signer reports, and the TSA tokens over every evidence entry', async () => {
    const s = await setup({ tsa, requireTimestamps: true });
    const record = await s.signing.sign(s.request);
    await s.drain();
    const done = (await s.signing.get(record.id))!;
    expect(done.failure).toBeNull();
    expect(done.status).toBe('COMPLETED');
    const [file] = await s.signing.download(record.id);
    // One token per signature (borrower and platform), byte for byte the ones in the archived PDF.
    const embedded = readPdfTimestamps(file!.bytes);
    expect(embedded).toHaveLength(2);
    const kept = done.signed.find((d) => d.documentKey === file!.documentKey)!.timestamps;
    expect(kept.map((t) => [t.field, t.kind, t.token, t.tsaName])).toEqual(
      embedded.map((t) => [t.field, 'signature', Buffer.from(t.token).toString('base64'), t.tsaName]),
    );
    expect(kept[0]!.tsaName).toContain('sealflow test TSA');
    const archived = (await s.signing.exportEvidencePackage(record.id)).manifest.entries.find(
      (e) => e.type === 'documents.archived',
    );
    expect((archived!.data as { documents: { timestamps: unknown }[] }).documents[0]!.timestamps).toEqual(
      done.signed[0]!.timestamps,
    );

    // The evidence entries: one token each, over the entry's plain SHA-256; a second call adds nothing.
    const first = await s.signing.timestampEvidence(record.id, { id: 'ops' });
    const entries = (await s.signing.exportEvidencePackage(record.id)).manifest.entries;
    expect(first.timestamps.map((t) => t.seq)).toEqual(entries.slice(0, -1).map((e) => e.seq));
    for (const t of first.timestamps) expect(t.digest).toBe(hashAuditEntry(entries[t.seq - 1]!));
    expect(entries.at(-1)!.type).toBe('evidence.timestamped');
    expect((await s.signing.timestampEvidence(record.id, { id: 'ops' })).timestamps).toEqual([]);
    const verified = await s.signing.verifyEvidence(record.id);
    expect(verified.problems).toEqual([]);
    expect(verified.timestamps.map((t) => t.problem)).toEqual(first.timestamps.map(() => null));
  });

  it('refuses a route that requires timestamps to a vendor that does not declare them', async () => {
    const s = await setup({ requireTimestamps: true });
    expect(s.vendor.capabilities).toMatchObject({ timestamps: false, sm2: false });
    await expect(s.signing.sign(s.request)).rejects.toMatchObject({
      code: 'VENDOR_UNSUPPORTED',
      details: { missing: [expect.stringContaining('timestamps')] },
    });
  });

  it('refuses a route whose fallback cannot timestamp, before any vendor is called', async () => {
    const s = await setup({ tsa, requireTimestamps: true, fallbackWithoutTsa: true });
    expect(s.vendor.capabilities.timestamps).toBe(true);
    await expect(s.signing.sign(s.request)).rejects.toMatchObject({
      code: 'SIGNING_ROUTE_UNBOUND',
      details: { fallbacks: [{ vendorId: 'plain', problem: expect.stringContaining('timestamps') }] },
    });
  });

  it('does not timestamp evidence without an authority, or before the signing has finished', async () => {
    const plain = await setup();
    const record = await plain.signing.sign(plain.request);
    await expect(plain.signing.timestampEvidence(record.id, { id: 'ops' })).rejects.toMatchObject({
      code: 'TIMESTAMP_AUTHORITY_NOT_CONFIGURED',
    });
    const s = await setup({ tsa });
    const running = await s.signing.sign(s.request);
    await expect(s.signing.timestampEvidence(running.id, { id: 'ops' })).rejects.toMatchObject({
      code: 'EVIDENCE_NOT_FINISHED',
    });
  });
});

describe('sealflow-verify-evidence on an exported package', async () => {
  const s = await setup({ tsa, requireTimestamps: true });
  const record = await s.signing.sign(s.request);
  await s.drain();
  await s.signing.timestampEvidence(record.id, { id: 'ops' });
  const json = evidencePackageJson(await s.signing.exportEvidencePackage(record.id));
  const copy = (): PackageJson => JSON.parse(json);

  it('accepts the package as exported, with the TSA root as trust anchor; --json for machines', () => {
    const run = verifyCli(json, '--tsa-ca', tsaCa);
    expect(run.stdout).toMatch(/^VALID: evidence of signing/);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(verifyCli(json, '--tsa-ca', tsaCa, '--json').stdout);
    expect(report.ok).toBe(true);
    expect(report.timestamps.filter((t: { kind: string }) => t.kind === 'signature')).toHaveLength(4);
    expect(report.timestamps.every((t: { anchored: boolean }) => t.anchored)).toBe(true);
    // Without the key, every entry's content is still checked: by the TSA token over it.
    expect(report.chainContent.unchecked).toEqual([]);
  });

  it("masks the names in signers' certificate subjects unless --show-names is given, in text and in JSON", () => {
    const full = JSON.parse(verifyCli(json, '--tsa-ca', tsaCa, '--json', '--show-names').stdout);
    const subjects: string[] = full.signatures.map((s: { signer: string }) => s.signer);
    expect(subjects.length).toBeGreaterThan(0);
    const text = verifyCli(json, '--tsa-ca', tsaCa);
    const masked = JSON.parse(verifyCli(json, '--tsa-ca', tsaCa, '--json').stdout);
    for (const subject of subjects) {
      expect(maskCertificateSubject(subject)).not.toBe(subject);
      expect(text.stdout).not.toContain(`by ${subject}`);
      expect(text.stdout).toContain(`by ${maskCertificateSubject(subject)}`);
    }
    expect(masked.signatures.map((s: { signer: string }) => s.signer)).toEqual(subjects.map(maskCertificateSubject));
    expect(verifyCli(json, '--tsa-ca', tsaCa, '--show-names').stdout).toContain(`by ${subjects[0]}`);
  });

  it('refuses tokens of a TSA that is not among the trust anchors', () => {
    const other = path.join(work, 'other-root.pem');
    writeFileSync(other, createLocalTimestampAuthority().rootCertificatePem);
    const run = verifyCli(json, '--tsa-ca', other);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('TSA_CERTIFICATE_UNTRUSTED');
  });

  it('refuses a package whose signed PDF had one byte changed', () => {
    const pkg = copy();
    const signed = pkg.files.find((f) => f.name.startsWith('signed/'))!;
    const bytes = Buffer.from(signed.base64, 'base64');
    const at = bytes.indexOf('/Type /Page') + 1; // inside the signed first revision
    bytes[at] = bytes[at]! ^ 0x20;
    signed.base64 = bytes.toString('base64');
    const run = verifyCli(pkg, '--tsa-ca', tsaCa);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`files: ${signed.name} is not the file the evidence recorded`);
    expect(run.stdout).toContain('the document digest does not match');
  });

  it('refuses a package with an evidence entry edited, with or without the evidence key', () => {
    const pkg = copy();
    const requested = pkg.manifest.entries.find((e) => e.type === 'signing.requested')!;
    requested.data.consent.ip = '198.51.100.7';
    const run = verifyCli(pkg, '--tsa-ca', tsaCa);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(
      `entry ${requested.seq}: the entry no longer matches the digest the TSA timestamped (edited)`,
    );
    const keyFile = path.join(work, 'hash-key');
    writeFileSync(keyFile, HASH_KEY);
    const keyed = verifyCli(pkg, '--tsa-ca', tsaCa, '--hash-key-file', keyFile);
    expect(keyed.status).toBe(1);
    expect(keyed.stdout).toContain(`chain: entry ${requested.seq} does not match its keyed link (edited)`);
  });

  it('refuses a package whose signature tokens were swapped', () => {
    const pkg = copy();
    const archived = pkg.manifest.entries.find((e) => e.type === 'documents.archived')!;
    // A whole token with what it says, taken from the other signature: valid in itself, but not this signature's.
    const [a, b] = archived.data.documents[0]!.timestamps as [
      EntryData['documents'][0]['timestamps'][0],
      EntryData['documents'][0]['timestamps'][0],
    ];
    for (const field of ['token', 'imprint', 'time']) [a[field], b[field]] = [b[field], a[field]];
    const run = verifyCli(pkg, '--tsa-ca', tsaCa);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`${a.field}: the token in the evidence is not the token in the PDF (swapped)`);
    expect(run.stdout).toContain(`entry ${archived.seq}: the entry no longer matches the digest`);
  });

  it('exits 2 on something that is not an evidence package', () => {
    const run = verifyCli('{"hello":1}');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('EVIDENCE_PACKAGE_MALFORMED');
  });
});

describe('maskCertificateSubject', () => {
  it('masks what names a person and keeps the organisation readable', () => {
    expect(maskCertificateSubject('CN=欧阳娜娜,SERIALNUMBER=110101199003077777,O=某某消费金融股份有限公司,C=CN')).toBe(
      'CN=欧***,SERIALNUMBER=110101********7777,O=某某消费金融股份有限公司,C=CN',
    );
    expect(maskCertificateSubject('C=CN, GN=娜娜, SN=欧阳, serialNumber=A12345')).toBe(
      'C=CN, GN=娜*, SN=欧*, serialNumber=A*****',
    );
    // A mobile or ID number outside those parts is masked as in any text.
    expect(maskCertificateSubject('CN=x,OU=13812345678')).toBe('CN=*,OU=138****5678');
  });
});
