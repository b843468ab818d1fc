#!/usr/bin/env node
/**
 * sealflow-verify-evidence: checks an exported evidence package offline and exits 0 when it holds, 1 when it does
 * not, 2 when it cannot run (unreadable package or option). See `verifyEvidencePackage` for what it checks.
 *
 *   sealflow-verify-evidence package.json [--tsa-ca tsa-root.pem]… [--hash-key-file f | --evidence-keys-file f.json]
 *                            [--json] [--show-names]
 */
import { readFileSync } from 'node:fs';
import { SealflowError } from '@sealflow/core';
import {
  type EvidencePackageVerifyOptions,
  formatEvidenceReport,
  maskCertificateSubject,
  readEvidencePackageJson,
  verifyEvidencePackage,
} from './evidence-verifier.js';

const USAGE = `Usage: sealflow-verify-evidence <package.json> [options]

Checks a sealflow evidence package (written with evidencePackageJson) without sealflow's database:
the documents' hashes, the PDF signatures, the RFC 3161 timestamps and the evidence chain.

Options:
  --tsa-ca <file.pem>            trust this TSA (or root) certificate; repeat for several. Without it, timestamp
                                 tokens are checked for integrity only.
  --hash-key-file <file>         the signing service's hashKey (the file's contents), to check keyed chain links
  --evidence-keys-file <f.json>  the host's evidenceKeys, { "current": "…", "keys": { "<id>": "<secret>" } }
  --json                         print the report as JSON
  --show-names                   print signers' certificate subjects in full; by default the parts that can name
                                 a person (CN, serialNumber, given and family names) are masked
  -h, --help                     this text

Exit status: 0 valid, 1 not valid, 2 could not run.
`;

function fail(message: string): never {
  process.stderr.write(`sealflow-verify-evidence: ${message}\n`);
  process.exit(2);
}

function main(argv: readonly string[]): void {
  const anchors: string[] = [];
  const keys: NonNullable<EvidencePackageVerifyOptions['keys']> = {};
  let json = false;
  let showSignerNames = false;
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => argv[++i] ?? fail(`${arg} needs a file`);
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      return;
    } else if (arg === '--json') json = true;
    else if (arg === '--show-names') showSignerNames = true;
    else if (arg === '--tsa-ca') anchors.push(read(value()));
    else if (arg === '--hash-key-file') keys.hashKey = read(value()).trim();
    else if (arg === '--evidence-keys-file') {
      try {
        keys.evidenceKeys = JSON.parse(read(value()));
      } catch {
        fail(`${arg}: the file is not JSON of the form { "current": "…", "keys": { "<id>": "<secret>" } }`);
      }
    } else if (arg.startsWith('-')) fail(`unknown option ${arg}\n\n${USAGE}`);
    else if (file === undefined) file = arg;
    else fail(`one package at a time (got ${file} and ${arg})`);
  }
  if (file === undefined) fail(`no package given\n\n${USAGE}`);
  for (const pem of anchors) {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) fail('--tsa-ca takes a PEM certificate file');
  }
  try {
    const pkg = readEvidencePackageJson(read(file));
    const report = verifyEvidencePackage(pkg, {
      tsaTrustAnchors: anchors,
      ...(keys.hashKey || keys.evidenceKeys ? { keys } : {}),
    });
    const shown = showSignerNames
      ? report
      : {
          ...report,
          signatures: report.signatures.map((s) => ({
            ...s,
            signer: s.signer === undefined ? undefined : maskCertificateSubject(s.signer),
          })),
        };
    process.stdout.write(
      json ? `${JSON.stringify(shown, null, 2)}\n` : formatEvidenceReport(shown, { showSignerNames: true }),
    );
    process.exitCode = report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof SealflowError) fail(`${error.code}: ${error.message}`);
    throw error;
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return fail(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

main(process.argv.slice(2));
