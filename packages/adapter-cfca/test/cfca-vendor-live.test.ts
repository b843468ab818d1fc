/**
 * `cfcaVendor()` against a real 安心签 system. Runs only when the platform's credentials are configured:
 * CFCA_BASE_URL, CFCA_PLAT_ID, CFCA_PFX (path of the .pfx) and CFCA_PFX_PASSWORD for mutual TLS, CFCA_SIGNER_KEY and
 * CFCA_SIGNER_CERT (paths of the same key and certificate as PEM, for the request signature, since Node cannot read a
 * PKCS#12 key for signing); optional CFCA_CA (PEM bundle path),
 * CFCA_VERIFY_HOSTNAME=false (the test host is an IP address), CFCA_LIVE_SIGN=1 (also create and seal a contract).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cfcaVendor } from '../src/index.js';

const env = process.env;
const missing = [
  'CFCA_BASE_URL',
  'CFCA_PLAT_ID',
  'CFCA_PFX',
  'CFCA_PFX_PASSWORD',
  'CFCA_SIGNER_KEY',
  'CFCA_SIGNER_CERT',
].filter((name) => !env[name]);
const contractPdf = new Uint8Array(readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)));

if (missing.length > 0) {
  console.warn(`[sealflow] skipping the live 安心签 tests: ${missing.join(', ')} not set (see the package README).`);
}

describe.skipIf(missing.length > 0)('cfcaVendor against a real 安心签 system', () => {
  const pfx = missing.length > 0 ? new Uint8Array() : new Uint8Array(readFileSync(env.CFCA_PFX!));
  const vendor = () =>
    cfcaVendor({
      baseUrl: env.CFCA_BASE_URL!,
      platId: env.CFCA_PLAT_ID!,
      tls: {
        pfx,
        passphrase: env.CFCA_PFX_PASSWORD!,
        ...(env.CFCA_CA ? { ca: readFileSync(env.CFCA_CA, 'utf8') } : {}),
        verifyHostname: env.CFCA_VERIFY_HOSTNAME !== 'false',
      },
      signer: {
        key: readFileSync(env.CFCA_SIGNER_KEY!, 'utf8'),
        certificate: readFileSync(env.CFCA_SIGNER_CERT!, 'utf8'),
        ...(env.CFCA_SIGNER_PASSPHRASE ? { passphrase: env.CFCA_SIGNER_PASSPHRASE } : {}),
      },
      platformCreditCode: env.CFCA_PLATFORM_CREDIT_CODE ?? 'PLATFORM',
      timeoutMs: 60_000,
    });

  it('lists the platform’s own seals (3014)', async () => {
    const seals = await vendor().listSeals(env.CFCA_PLAT_ID!);
    expect(seals.length).toBeGreaterThan(0);
    for (const seal of seals) expect(seal.sealId).toMatch(/^[0-9A-Za-z]+$/);
  });

  it.skipIf(env.CFCA_LIVE_SIGN !== '1')('uploads a contract, seals it as the platform and downloads it', async () => {
    const cfca = vendor();
    const [seal] = await cfca.listSeals(env.CFCA_PLAT_ID!);
    const run = Date.now().toString(36);
    const document = await cfca.uploadDocument(
      { key: 'contract', fileName: 'contract.pdf', bytes: contractPdf },
      { idempotencyKey: `live-${run}-up` },
    );
    const flow = await cfca.createFlow(
      {
        title: 'sealflow live test',
        businessNo: `LIVE${run}`,
        documents: [document],
        signers: [
          {
            role: 'platform',
            kind: 'organization',
            name: 'platform',
            idNumber: env.CFCA_PLATFORM_CREDIT_CODE ?? 'PLATFORM',
            sealId: seal!.sealId,
            autoSign: true,
            order: 1,
            placements: [{ documentKey: 'contract', page: 7, x: 100, y: 230, width: 120, height: 60 }],
          },
        ],
      },
      { idempotencyKey: `live-${run}-create` },
    );
    expect(flow.status).toBe('completed');
    const [signed] = await cfca.downloadSigned(flow.flowId, { idempotencyKey: `live-${run}-download` });
    expect(Buffer.from(signed!.bytes.subarray(0, 5)).toString('latin1')).toBe('%PDF-');
  });
});
