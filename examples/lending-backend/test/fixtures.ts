/** Shared test set-up: a backend on in-memory PGlite with two funders, and the requests a lending app sends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dateInChina, withCreditCodeCheckChar, withIdNumberCheckChar } from '@sealflow/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { type BackendOptions, DEMO_PLATFORM, type FunderAccount } from '../src/options.js';

/**
 * How long a backend may take to start (certificates, PGlite, the demo templates): well above the usual 20–40 s,
 * for a loaded CI machine.
 */
export const STARTUP_MS = 180_000;

export const LENDING_KEY = 'test-lending-app-key-0123456789';

export const FUNDER_A: FunderAccount = {
  id: 'bank-a',
  name: '甲银行股份有限公司',
  creditCode: withCreditCodeCheckChar('91330000704201560'),
  apiKey: 'test-funder-a-key-0123456789abcdef',
  sealId: 'bank-a-seal',
  regions: ['310000'],
  categories: ['mortgage'],
  capacity: 10,
};

export const FUNDER_B: FunderAccount = {
  id: 'bank-b',
  name: '乙小额贷款有限公司',
  creditCode: withCreditCodeCheckChar('91310000MA1B00000'),
  apiKey: 'test-funder-b-key-0123456789abcdef',
  sealId: 'bank-b-seal',
  regions: ['310000'],
  categories: ['mortgage'],
  capacity: 10,
};

/** Who may sign in to the back office in tests. */
export const BACK_OFFICE_OPERATOR = {
  id: 'ops.test',
  name: '测试运营',
  roles: ['template-approver', 'signing-operator'],
  password: 'test-operator-password',
};

/** Born 1990: the templates' age check (18–60) accepts him. */
export const CUSTOMER = { name: '张三丰', idNumber: withIdNumberCheckChar('11010119900307451'), mobile: '13912345678' };

/** Captured log lines, to check that no personal data reaches the logs. */
export function logSink() {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(line) } };
}

export async function startBackend(overrides: Partial<BackendOptions> = {}) {
  const documentsRoot = mkdtempSync(join(tmpdir(), 'lending-backend-'));
  const logs = logSink();
  const app: FastifyInstance = await buildApp({
    documentsRoot,
    hashKey: 'lending-backend-test-hash-key-0123456789',
    platform: DEMO_PLATFORM,
    lendingAppKeys: [LENDING_KEY],
    funders: [FUNDER_A, FUNDER_B],
    seedDemo: true,
    backOffice: { operators: [BACK_OFFICE_OPERATOR], secureCookie: false },
    pollMs: 20,
    // Debug, so sealflow's own lines are captured as well.
    logger: { level: 'debug', stream: logs.stream },
    ...overrides,
  });
  return {
    app,
    logs,
    async close() {
      await app.close();
      rmSync(documentsRoot, { recursive: true, force: true });
    },
  };
}

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });

let seq = 0;
/** A unique number per test run, so tests on one database never collide. */
export const nextNumber = (prefix: string) => `${prefix}${Date.now().toString(36).toUpperCase()}${++seq}`;

export function consent(at = Date.now()) {
  return {
    at,
    channel: 'app',
    ip: '203.0.113.7',
    device: 'iPhone15,2 iOS 18.1',
    documentVersionsShown: ['LOAN_CONTRACT_V.v0001'],
  };
}

function addMonths(isoDate: string, months: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

/** What the loan contract prints, starting today (China time). */
export function loanTerms(amount: string) {
  const today = dateInChina(new Date());
  return {
    amount,
    purpose: '个人消费（装修）',
    term: '12个月',
    annualRate: '7.20%（单利）',
    startDate: today,
    endDate: addMonths(today, 12),
    repayMethod: '等额本息，按月还款',
    signPlace: '上海市浦东新区',
  };
}

/** A loan application for dispatch, as the lending app sends it. */
export function dispatchDrawdown(applicationNumber: string, amountFen: number) {
  return {
    funding: 'dispatch',
    applicationNumber,
    customer: CUSTOMER,
    productCode: 'HOUSE',
    amountFen,
    region: '310000',
    businessCategory: 'mortgage',
    materials: [
      { kind: 'id-card', documentId: 'img-001', complete: true },
      { kind: 'property-certificate', documentId: 'img-002', complete: true },
    ],
  };
}

/** The back office's 贷审 reviewer (the back office makes this call; tests make it directly). */
export const REVIEWER = { id: 'reviewer-zhao', roles: ['loan-reviewer'] };

/** No plaintext personal data of the test customer in `text`. */
export function personalDataIn(text: string): string[] {
  return [CUSTOMER.idNumber, CUSTOMER.mobile, CUSTOMER.name].filter((secret) => text.includes(secret));
}
