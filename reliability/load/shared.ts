/**
 * What the load suite and its vendor process share: the messages between them and the borrowers, whose e签宝
 * accounts the vendor process opens and authorises for silent signing before the run.
 */
import { withCreditCodeCheckChar, withIdNumberCheckChar } from '../../packages/core/src/index.js';

export const LOAD_PLATFORM = {
  name: '某某消费金融股份有限公司',
  creditCode: withCreditCodeCheckChar('91310000MA1FL0000'),
};

export interface LoadBorrower {
  name: string;
  idNumber: string;
  mobile: string;
}

const SURNAMES = ['欧阳', '诸葛', '司马', '上官', '王', '李', '张', '刘', '陈', '杨'];

/** A hundred borrowers; signing n goes to borrower n mod 100. */
export const LOAD_BORROWERS: LoadBorrower[] = Array.from({ length: 100 }, (_, i) => ({
  name: `${SURNAMES[i % SURNAMES.length]}娜娜`,
  idNumber: withIdNumberCheckChar(`310101199003${String(1000 + i * 2).padStart(5, '0')}`),
  mobile: `1391235${String(1000 + i).padStart(4, '0')}`,
}));

/** How the vendor process sets up the emulator: argv[2] of esign-server.ts, as JSON. */
export interface EsignServerTask {
  qps: number;
  latencyMs: number;
  borrowers: LoadBorrower[];
}

export interface EsignServerConfig {
  baseUrl: string;
  appId: string;
  appSecret: string;
  sealId: string;
}

/** The gateway's count of API calls: per second of arrival (unix seconds), in total, and refused for the limit. */
export interface EsignServerCensus {
  perSecond: [second: number, calls: number][];
  /** Calls by `METHOD /path` (ids as `:id`), most first. */
  perRoute: [route: string, calls: number][];
  requests: number;
  rateLimited: number;
  flows: number;
  completedFlows: number;
  /** The vendor process's own RSS, for the record: it holds every flow and PDF in memory, the host does not. */
  rssBytes: number;
}

export type ToEsignServer = { kind: 'census' };
export type FromEsignServer =
  | { kind: 'ready'; config: EsignServerConfig }
  | { kind: 'census'; census: EsignServerCensus };
