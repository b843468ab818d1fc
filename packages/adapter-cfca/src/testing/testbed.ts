/**
 * A ready 安心签 for other packages' tests: an emulator with the platform's certificate, a funder company, and
 * `cfcaVendor()`s wired to it, so a test that needs "a CFCA vendor" writes one line instead of forty.
 */
import type { Clock, Scheduler } from '@sealflow/core';
import { createCfcaTestCertificate } from '../client/test-certificates.js';
import { type CfcaVendor, type CfcaVendorOptions, cfcaVendor } from '../vendor/cfca-vendor.js';
import { type CfcaEmulator, type CfcaEmulatorOptions, createCfcaEmulator } from './emulator.js';

/** Options of {@link createCfcaTestbed}. */
export interface CfcaTestbedOptions {
  /** The platform company: its name and unified social credit code (the vendor seals as it for this code). */
  platform: { name: string; creditCode: string };
  /** Funder companies that seal with their own seals through the platform (authorised for proxy signing). */
  funders?: { name: string; creditCode: string }[];
  /** The emulator's other options (clock, batchDelayMs, duplicates, …). */
  emulator?: Omit<CfcaEmulatorOptions, 'platform'>;
  /** The project every authorisation is given for. Default `SEALFLOW`. */
  projectCode?: string;
}

/** What {@link createCfcaTestbed} sets up. */
export interface CfcaTestbed {
  readonly emulator: CfcaEmulator;
  /** The platform's userId (= platId) and default seal. */
  readonly platform: { name: string; creditCode: string; userId: string; sealId: string };
  /** Each funder's 安心签 userId and default seal, by credit code. */
  readonly funders: Record<string, { name: string; userId: string; sealId: string }>;
  readonly projectCode: string;
  /**
   * Gives a person an account and a proxy-sign authorisation, as after the SMS step; returns the userId. A person the
   * vendor meets without this is refused with `PROXY_SIGN_NOT_AUTHORISED`.
   */
  authorizePerson(person: { name: string; idNumber: string; mobile: string }): string;
  /** A vendor on the emulator; `extra` overrides any option (a `clock`, a `store`, `timeoutMs`, …). */
  vendor(extra?: Partial<CfcaVendorOptions> & { clock?: Clock; scheduler?: Scheduler }): CfcaVendor;
}

/**
 * An emulator plus vendors for it. Serve `testbed.emulator.handlers` with msw's `setupServer` before calling the
 * vendor. Authorisations the testbed gave are what the vendors' `proxySign` returns.
 */
export function createCfcaTestbed(options: CfcaTestbedOptions): CfcaTestbed {
  const certificate = createCfcaTestCertificate({
    commonName: `AnxinSign@${options.platform.name}@${options.platform.creditCode}@1`,
  });
  const emulator = createCfcaEmulator({
    ...options.emulator,
    platform: {
      certificate: certificate.certificatePem,
      name: options.platform.name,
      identNo: options.platform.creditCode,
    },
  });
  const projectCode = options.projectCode ?? 'SEALFLOW';
  const authorised = new Set<string>();
  const funders: CfcaTestbed['funders'] = {};
  for (const funder of options.funders ?? []) {
    const opened = emulator.addEnterprise({
      name: funder.name,
      identNo: funder.creditCode,
      mobilePhone: '13800000000',
    });
    emulator.authorizeProxySign(opened.userId, projectCode);
    authorised.add(opened.userId);
    funders[funder.creditCode] = { name: funder.name, ...opened };
  }
  const organizations = Object.fromEntries(Object.entries(funders).map(([code, f]) => [code, f.userId]));
  return {
    emulator,
    platform: { ...options.platform, userId: emulator.platform.platId, sealId: emulator.platform.sealId },
    funders,
    projectCode,
    authorizePerson(person) {
      const { userId } = emulator.addPerson({
        name: person.name,
        identNo: person.idNumber,
        mobilePhone: person.mobile,
      });
      emulator.authorizeProxySign(userId, projectCode);
      authorised.add(userId);
      return userId;
    },
    vendor: (extra = {}) =>
      cfcaVendor({
        baseUrl: emulator.baseUrl,
        platId: emulator.platform.platId,
        tls: { cert: certificate.certificatePem, key: certificate.privateKeyPem },
        signer: { key: certificate.privateKeyPem, certificate: certificate.certificatePem },
        qps: 1000,
        burst: 1000,
        platformCreditCode: options.platform.creditCode,
        organizations,
        proxySign: ({ userId }) => (authorised.has(userId) ? { projectCode } : undefined),
        ...extra,
      }),
  };
}
