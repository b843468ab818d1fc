/** Shared by the vendor tests: an emulator with a platform, a borrower and a funder, and vendors wired to it. */
import { readFileSync } from 'node:fs';
import { type Clock, type Scheduler, type SignerSpec, withCreditCodeCheckChar } from '@sealflow/core';
import { TEST_BORROWER } from '../../../fixtures/signers.js';
import { type CfcaVendorOptions, cfcaVendor } from '../src/index.js';
import { type CfcaEmulator, type CfcaEmulatorOptions, createCfcaEmulator } from '../src/testing/index.js';
import { makePlatformKey, type TestPlatformKey } from './emulator-support.js';

export const contractPdf = new Uint8Array(
  readFileSync(new URL('../../../fixtures/contract-8p-25f.pdf', import.meta.url)),
);
export const platformCode = withCreditCodeCheckChar('91310000MA1FL0000');
export const funderCode = withCreditCodeCheckChar('91110000100000000');
export const PROJECT = 'SEALFLOW-LOANS';

export interface VendorWorld {
  emulator: CfcaEmulator;
  key: TestPlatformKey;
  borrowerUserId: string;
  funder: { userId: string; sealId: string };
  borrower: SignerSpec;
  platform: SignerSpec;
  funderSigner: SignerSpec;
  /** A vendor on this emulator; `authorised` lists the userIds whose authorisation the host has on record. */
  vendor(extra?: Partial<CfcaVendorOptions>): ReturnType<typeof cfcaVendor>;
}

export function vendorWorld(
  emulatorOptions: Partial<CfcaEmulatorOptions> = {},
  time: { clock?: Clock; scheduler?: Scheduler } = {},
): VendorWorld {
  const key = makePlatformKey();
  const emulator = createCfcaEmulator({
    platform: { certificate: key.certificatePem, identNo: platformCode },
    ...emulatorOptions,
  });
  const person = emulator.addPerson({
    name: TEST_BORROWER.name,
    identNo: TEST_BORROWER.idNumber,
    mobilePhone: TEST_BORROWER.mobile!,
  });
  const funder = emulator.addEnterprise({
    name: '某某银行股份有限公司',
    identNo: funderCode,
    mobilePhone: '13800000001',
  });
  emulator.authorizeProxySign(person.userId, PROJECT);
  emulator.authorizeProxySign(funder.userId, PROJECT);
  const borrower: SignerSpec = { ...TEST_BORROWER, autoSign: true };
  const platform: SignerSpec = {
    role: 'platform',
    kind: 'organization',
    name: emulator.platform.name,
    idNumber: platformCode,
    sealId: emulator.platform.sealId,
    autoSign: true,
    order: 2,
    placements: [{ documentKey: 'contract', page: 7, x: 100, y: 230, width: 120, height: 60 }],
  };
  const funderSigner: SignerSpec = {
    role: 'funder',
    kind: 'organization',
    name: '某某银行股份有限公司',
    idNumber: funderCode,
    sealId: funder.sealId,
    autoSign: true,
    order: 3,
    placements: [{ documentKey: 'contract', page: 7, x: 100, y: 140, width: 120, height: 60 }],
  };
  return {
    emulator,
    key,
    borrowerUserId: person.userId,
    funder,
    borrower,
    platform,
    funderSigner,
    vendor: (extra = {}) =>
      cfcaVendor({
        baseUrl: emulator.baseUrl,
        platId: emulator.platform.platId,
        tls: { cert: key.certificatePem, key: key.keyPem },
        signer: { key: key.keyPem, certificate: key.certificatePem },
        qps: 1000,
        burst: 1000,
        ...time,
        platformCreditCode: platformCode,
        organizations: { [funderCode]: funder.userId },
        proxySign: () => ({ projectCode: PROJECT, authorizedAt: Date.UTC(2026, 0, 5, 2), location: '10.0.0.8' }),
        ...extra,
      }),
  };
}
