/**
 * `sealflow.dispatch` hosts on real SQL for the dispatch suites: each test gets a database of its own (PGlite in
 * memory, or a fresh PostgreSQL schema), hosts run a real background worker, and a manual clock drives the 24 h
 * windows. Several hosts may share one PostgreSQL schema, signing vendor and document store.
 */
import { randomBytes } from 'node:crypto';
import {
  createSealflow,
  dateInChina,
  type Dispatch,
  type DispatchActor,
  type DocumentStore,
  type LoanContractTerms,
  type Persistence,
  type Sealflow,
  type SigningVendor,
  silentLogger,
  systemScheduler,
  type WorkflowDefinition,
} from '@sealflow/core';
import {
  createManualClock,
  createMemoryDocumentStore,
  createMemoryNotifier,
  createMemorySigningVendor,
  type ManualClock,
} from '@sealflow/core/memory';
import pg from 'pg';
import { COMPLETE, cm, PRODUCTS, admin, reviewer } from '../../../core/test/dispatch-application-fixtures.js';
import {
  BORROWER,
  creditCode,
  definitionWith,
  FUNDER,
  HASH_KEY,
  ORGANIZATIONS,
  SEALS,
} from '../../../core/test/signing-fixtures.js';
import { CONTRACT_PDF, editor } from '../../../core/test/template-fixtures.js';
import { twice } from '../../../core/test/effects-twice.js';

export { twice };
import { pglitePersistence } from '../../src/pglite.js';
import { postgresPersistence } from '../../src/postgres.js';
import { probePostgres } from './postgres.js';

export const HOUR = 3_600_000;
export const AMOUNT_FEN = 30_000_000;

export const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});
export const bank = staffOf(FUNDER.id);

/** Institutions in ranking order (most deposit first); the funder bank's seal is bound to it. */
export const INSTITUTIONS = [
  { id: FUNDER.id, name: FUNDER.name, creditCode: FUNDER.creditCode, sealId: 'funder-seal', deposit: 900_000_000 },
  { id: 'inst-b', name: '乙小贷公司', creditCode: creditCode('91310000MA1B00000'), deposit: 800_000_000 },
  { id: 'inst-c', name: '丙小贷公司', creditCode: creditCode('91310000MA1C00000'), deposit: 700_000_000 },
  { id: 'inst-d', name: '丁小贷公司', creditCode: creditCode('91310000MA1D00000'), deposit: 600_000_000 },
];
export type InstitutionSeed = (typeof INSTITUTIONS)[number];

const { url, skip: noPostgres } = await probePostgres();

/** A backend that opens a fresh database per call and drops every PostgreSQL schema it made at `cleanup`. */
export interface FreshBackend {
  name: 'PGlite' | 'PostgreSQL';
  skip: string | undefined;
  /** A new, empty database; `schema` names the PostgreSQL schema, so other hosts can open the same one. */
  open(): Promise<{ persistence: Persistence; reopen?: () => Promise<Persistence> }>;
  cleanup(): Promise<void>;
}

export function freshBackends(prefix: string): FreshBackend[] {
  const schemas: string[] = [];
  const opened: Persistence[] = [];
  const keep = (persistence: Persistence) => {
    opened.push(persistence);
    return persistence;
  };
  const closeAll = async () => {
    for (const persistence of opened.splice(0)) await persistence.close().catch(() => {});
  };
  return [
    {
      name: 'PGlite',
      skip: undefined,
      open: async () => ({ persistence: keep(await pglitePersistence()) }),
      cleanup: closeAll,
    },
    {
      name: 'PostgreSQL',
      skip: noPostgres,
      async open() {
        const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
        schemas.push(schema);
        const reopen = async () => keep(await postgresPersistence({ connectionString: url, schema, max: 8 }));
        return { persistence: await reopen(), reopen };
      },
      async cleanup() {
        await closeAll();
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        for (const schema of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    },
  ];
}

/** What hosts sharing one database also share: the clock, the signing vendor and the document store. */
export interface Shared {
  clock: ManualClock;
  vendor: SigningVendor;
  documents: DocumentStore;
}

export function shared(): Shared {
  const clock = createManualClock(Date.UTC(2026, 10, 30, 2));
  return { clock, vendor: createMemorySigningVendor({ clock }), documents: createMemoryDocumentStore({ clock }) };
}

export interface DispatchHost {
  sealflow: Sealflow;
  dispatch: Dispatch;
  notifier: ReturnType<typeof createMemoryNotifier>;
}

/** One SDK instance with dispatch and a running background worker. */
export async function dispatchHost(
  persistence: Persistence,
  parts: Shared,
  options: { workflows?: (builtIn: WorkflowDefinition[]) => WorkflowDefinition[] } = {},
): Promise<DispatchHost> {
  const notifier = createMemoryNotifier();
  const sealflow = await createSealflow({
    persistence,
    documents: parts.documents,
    vendors: { memory: parts.vendor },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    seals: SEALS,
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_V' } },
    clock: parts.clock,
    // The worker polls in real time; only the workflows' own windows follow the manual clock.
    scheduler: systemScheduler,
    logger: process.env.DISPATCH_DEBUG ? (console as never) : silentLogger,
    start: true,
    worker: { concurrency: 8, pollMs: 10 },
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier },
    ...(options.workflows ? { workflows: options.workflows } : {}),
  });
  return { sealflow, dispatch: sealflow.dispatch!, notifier };
}

/** The loan template approved, and `institutions` registered with their deposits. */
export async function seed(host: DispatchHost, institutions: InstitutionSeed[] = INSTITUTIONS): Promise<void> {
  const { sealflow, dispatch } = host;
  const draft = await sealflow.templates.importTemplate(editor, {
    code: 'LOAN_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: definitionWith(['platform', 'funder']),
  });
  await sealflow.templates.submit(editor, draft.id);
  await sealflow.templates.approve({ id: 'amy', roles: ['template-approver'] }, draft.id);
  for (const { deposit, ...profile } of institutions) {
    await dispatch.institutions.register(admin, {
      ...profile,
      regions: ['310000'],
      categories: ['mortgage'],
      capacity: 10,
    });
    await dispatch.institutions.topUp(admin, {
      institutionId: profile.id,
      account: 'deposit',
      amountFen: deposit,
      key: `seed:${profile.id}`,
    });
  }
}

/** Poll until `check` returns a value other than undefined (the worker runs in the background). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let seq = 0;
/** An application opened with complete materials and passed; returns once its first dispatch is offering. */
export async function passed(host: DispatchHost, amountFen = AMOUNT_FEN): Promise<string> {
  const { dispatch } = host;
  const opened = await dispatch.applications.open(cm, {
    applicationNumber: `SQ-PG-${process.pid}-${++seq}`,
    customer: BORROWER,
    productCode: 'HOUSE',
    amountFen,
    region: '310000',
    businessCategory: 'mortgage',
  });
  const id = opened.applicationId;
  await dispatch.applications.registerCustomer(cm, id, BORROWER);
  await dispatch.applications.submitMaterials(cm, id, COMPLETE);
  await dispatch.applications.confirmProduct(cm, id);
  await dispatch.applications.submitForReview(cm, id);
  await dispatch.applications.pass(reviewer, id);
  return id;
}

export const dispatchOf = (applicationId: string, n = 1) => `dispatch:${applicationId}:${n}`;

/** Wait until the application's dispatch `n` is offering with at least one offer. */
export async function offering(host: DispatchHost, applicationId: string, n = 1) {
  return eventually(`dispatch ${n} of ${applicationId} offering`, async () => {
    const view = await host.dispatch.offers.get(dispatchOf(applicationId, n), {
      id: 'fu',
      roles: ['follow-up-manager'],
    });
    return view.state === 'offering' && view.offers.length > 0 ? view : undefined;
  });
}

/** The terms the customer agreed to, as of the clock's now. */
export function terms(clock: ManualClock): LoanContractTerms {
  const now = clock.now();
  return {
    consent: { at: now, channel: 'app', ip: '203.0.113.7', device: 'iPhone', documentVersionsShown: ['LOAN_V.v0001'] },
    values: {
      loan: { amount: '300000.00', startDate: dateInChina(new Date(now)), termMonths: 12 },
      credit: { limit: '500000.00' },
    },
  };
}

/** A call's outcome as a value: `ok`, or the error's code. */
export function outcome<T>(promise: Promise<T>): Promise<{ ok: T } | { code: string }> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ code: (error as { code?: string }).code ?? `unexpected: ${String(error)}` }),
  );
}
