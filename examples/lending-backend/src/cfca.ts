/**
 * CFCA 安心签 as the signing vendor: the vendor's flow records and the borrowers' proxy-sign authorisations (代签授权)
 * kept in the backend's own database, so every process and every restart sees them.
 *
 * 安心签 signs for a person only under an authorisation the person gave by SMS code (3101 sends the code, 3102
 * confirms it). The lending app runs that step before the person's first signing through `/lending/cfca/*`; the
 * vendor then finds the authorisation here when it signs. Organisations (a funder sealing with its own seal) authorise
 * the platform once, on paper with CFCA: their 安心签 user ids are listed in the configuration.
 */
import {
  type CfcaProxySignAuthorization,
  type CfcaVendor,
  type CfcaVendorOptions,
  cfcaVendor,
  persistentCfcaStore,
} from '@sealflow/adapter-cfca';
import { type Clock, type Persistence, systemClock } from '@sealflow/core';

/** How the backend reaches 安心签 and under which project it signs for others. */
export interface CfcaSetup {
  /** The client's connection: `baseUrl`, `platId`, `tls`, `signer`, and optionally `qps`, `timeoutMs`, `ca`. */
  connection: Pick<CfcaVendorOptions, 'baseUrl' | 'platId' | 'tls' | 'signer' | 'qps' | 'burst' | 'timeoutMs'>;
  /** The 安心签 project (projectCode) borrowers authorise the platform to sign in. */
  projectCode: string;
  /** The platform's own 安心签 seal id. */
  platformSealId: string;
  /** 安心签 user ids of the funders (and other organisations) by unified social credit code. */
  organizations?: Record<string, string>;
}

const authorisationKey = (userId: string, projectCode: string) => `proxy-sign:${userId}:${projectCode}`;

/** The CFCA vendor and the authorisation steps the lending app drives. */
export interface CfcaSigning {
  vendor: CfcaVendor;
  /** Open (or find) the borrower's 安心签 account and have 安心签 send the authorisation code by SMS. */
  sendCode(borrower: { name: string; idNumber: string; mobile: string }): Promise<{
    userId: string;
    alreadyAuthorized: boolean;
    maskedMobile?: string;
  }>;
  /** Confirm the code the borrower typed in, and record the authorisation for the vendor to use. */
  confirmCode(input: { userId: string; checkCode: string; location?: string }): Promise<void>;
}

export function cfcaSigning(
  setup: CfcaSetup,
  platform: { creditCode: string },
  persistence: Persistence,
  clock: Clock = systemClock,
): CfcaSigning {
  // The vendor's flow records and the authorisations, in the backend's database.
  const store = persistentCfcaStore({ persistence, clock });
  const organizationUserIds = new Set(Object.values(setup.organizations ?? {}));
  const record = (userId: string, authorisation: CfcaProxySignAuthorization) =>
    store.set(authorisationKey(userId, setup.projectCode), JSON.stringify(authorisation));

  const vendor = cfcaVendor({
    ...setup.connection,
    store,
    // A signer with the platform's credit code seals as the platform itself.
    platformCreditCode: platform.creditCode,
    ...(setup.organizations ? { organizations: setup.organizations } : {}),
    async proxySign(signatory) {
      // An organisation's authorisation was signed with CFCA on paper; a person's was recorded by confirmCode.
      if (signatory.kind === 'organization' && organizationUserIds.has(signatory.userId)) {
        return { projectCode: setup.projectCode };
      }
      const stored = await store.get(authorisationKey(signatory.userId, setup.projectCode));
      return stored ? (JSON.parse(stored) as CfcaProxySignAuthorization) : undefined;
    },
  });

  return {
    vendor,
    async sendCode(borrower) {
      const userId = await vendor.accountOf({ kind: 'person', ...borrower });
      const sent = await vendor.sendProxySignCode({ userId, projectCode: setup.projectCode });
      if (sent.alreadyAuthorized) await record(userId, { projectCode: setup.projectCode, authorizedAt: clock.now() });
      return { userId, ...sent };
    },
    async confirmCode({ userId, checkCode, location }) {
      await vendor.confirmProxySignCode({
        userId,
        projectCode: setup.projectCode,
        checkCode,
        ...(location ? { location } : {}),
      });
      await record(userId, {
        projectCode: setup.projectCode,
        authorizedAt: clock.now(),
        ...(location ? { location } : {}),
      });
    },
  };
}
