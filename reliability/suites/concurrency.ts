/**
 * The concurrency suite: the races a lending system's request handlers and several host instances create, run at
 * the scale of a busy day's worst second, on PGlite and on PostgreSQL (a schema of its own per race).
 *
 * - Identical signing requests at once (a retrying client, a double-clicked button): one record, one vendor flow,
 *   one real-name check.
 * - One business number with different content at once: one accepted, the rest `DUPLICATE`.
 * - Approvers racing on one approval level of one template version: one approval, the rest refused.
 * - Position freezes racing on one institution whose position covers one: one freeze, the rest
 *   `POSITION_INSUFFICIENT`, and the ledger still verifies; the same freeze key sent many times at once: one effect.
 * - The customer's choice made by many desks at once among three accepted offers: one choice.
 * - Several `createSealflow` instances on one database, each with a running worker, draining one set of signings:
 *   each signing completes once, one vendor flow and one archive per signing, one `signing.completed` event.
 *
 * The vendor is the memory vendor (`@sealflow/core/memory`), wrapped to count the flows it creates per business
 * number: a second flow for one business number is what a customer would see as two contracts.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ReliabilityFigure, ReliabilityScale, ReliabilitySuite } from '../suite.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { probePostgres } from '../../packages/adapter-storage/test/support/postgres.js';
import {
  AMOUNT_FEN,
  dispatchHost,
  dispatchOf,
  INSTITUTIONS,
  offering,
  outcome,
  passed,
  seed,
  shared as dispatchParts,
  staffOf,
  terms,
} from '../../packages/adapter-storage/test/support/dispatch-host.js';
import { admin, cm } from '../../packages/core/test/dispatch-application-fixtures.js';
import { BORROWER, definitionWith, HASH_KEY, ORGANIZATIONS, SEALS } from '../../packages/core/test/signing-fixtures.js';
import { CONTRACT_PDF, editor } from '../../packages/core/test/template-fixtures.js';
import {
  createLedger,
  createSealflow,
  dateInChina,
  type DocumentStore,
  type Persistence,
  type Sealflow,
  type SignRequest,
  type SigningVendor,
  SIGNING_WORKFLOW,
  silentLogger,
  systemClock,
  type WorkflowDefinition,
} from '../../packages/core/src/index.js';
import { createMemoryDocumentStore, createMemorySigningVendor } from '../../packages/core/src/memory/index.js';

/** Concurrent callers per race: the full scale is the published figure; CI runs a tenth. */
const CALLERS: Record<ReliabilityScale, number> = { full: 1_000, ci: 100 };
/** Host instances sharing one database in the multi-instance race, and the signings they drain. */
const INSTANCES: Record<ReliabilityScale, number> = { full: 4, ci: 2 };
const DRAINED: Record<ReliabilityScale, number> = { full: 300, ci: 60 };
/**
 * Requests each instance has in flight while the signings are submitted. A request handler waits for a pooled
 * connection for at most 10 s (the pool's connection timeout); a thousand requests at once behind one instance's 8
 * connections, next to its worker, can wait longer than that on a loaded machine and fail with an AdapterError.
 */
const IN_FLIGHT_PER_INSTANCE = 50;

const TERMINAL = ['COMPLETED', 'FAILED'];
/** When the borrowers consented: the run's start, so the loan starts today (a start date before signing is refused). */
const CONSENT_AT = Date.now();
const LEGAL = [{ name: 'legal', roles: ['legal'] }];

// ---------------------------------------------------------------------------------------------------------------
// Databases

interface Backend {
  name: 'PGlite' | 'PostgreSQL';
  /** `count` persistences on one database: PGlite shares one in-process database, PostgreSQL one fresh schema. */
  open(count?: number): Promise<Persistence[]>;
  close(): Promise<void>;
}

async function backends(): Promise<{ list: Backend[]; skipped: string[] }> {
  const { url, skip } = await probePostgres();
  const opened: Persistence[] = [];
  const schemas: string[] = [];
  const closeAll = async () => {
    for (const p of new Set(opened.splice(0))) await p.close().catch(() => {});
  };
  const list: Backend[] = [
    {
      name: 'PGlite',
      async open(count = 1) {
        const one = await pglitePersistence();
        opened.push(one);
        return Array.from({ length: count }, () => one);
      },
      close: closeAll,
    },
  ];
  if (skip === undefined) {
    list.push({
      name: 'PostgreSQL',
      async open(count = 1) {
        const schema = `reliability_race_${randomBytes(4).toString('hex')}`;
        schemas.push(schema);
        const out: Persistence[] = [];
        // One after another: the first applies the migrations into the new schema.
        for (let i = 0; i < count; i++) out.push(await postgresPersistence({ connectionString: url, schema, max: 8 }));
        opened.push(...out);
        return out;
      },
      async close() {
        await closeAll();
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        for (const schema of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    });
  }
  return { list, skipped: skip === undefined ? [] : [`PostgreSQL skipped: ${skip}`] };
}

// ---------------------------------------------------------------------------------------------------------------
// Signing hosts

/** The vendor as the lender's hosts share it, counting distinct flows per business number (what a customer sees). */
function countingVendor() {
  const inner = createMemorySigningVendor();
  const flows = new Map<string, Set<string>>();
  const vendor: SigningVendor = {
    ...inner,
    id: inner.id,
    capabilities: inner.capabilities,
    async createFlow(input, context) {
      const flow = await inner.createFlow(input, context);
      const set = flows.get(input.businessNo) ?? new Set<string>();
      set.add(flow.flowId);
      flows.set(input.businessNo, set);
      return flow;
    },
  };
  return { vendor, flows };
}

interface Parts {
  vendor: SigningVendor;
  documents: DocumentStore;
  identityChecks: string[];
  /** Successful effect runs per `workflowId:effect`, across every instance sharing these parts. */
  effectRuns: Map<string, number>;
}

function parts(): Parts & { flows: Map<string, Set<string>> } {
  const { vendor, flows } = countingVendor();
  return { vendor, flows, documents: createMemoryDocumentStore(), identityChecks: [], effectRuns: new Map() };
}

/** The signing workflow with each effect's successful runs counted, so "applied twice" shows. */
function countedEffects(definition: WorkflowDefinition, runs: Map<string, number>): WorkflowDefinition {
  if (definition.id !== SIGNING_WORKFLOW) return definition;
  return {
    ...definition,
    effects: Object.fromEntries(
      Object.entries(definition.effects).map(([name, effect]) => [
        name,
        {
          ...effect,
          async run(params: never, context: never) {
            const result = await effect.run(params, context);
            const key = `${(context as { workflowId: string }).workflowId}:${name}`;
            runs.set(key, (runs.get(key) ?? 0) + 1);
            return result;
          },
        },
      ]),
    ),
  } as WorkflowDefinition;
}

function signingHost(persistence: Persistence, shared: Parts, worker: boolean): Promise<Sealflow> {
  return createSealflow({
    persistence,
    documents: shared.documents,
    vendors: { memory: shared.vendor },
    hashKey: HASH_KEY,
    organizations: { platform: ORGANIZATIONS.platform },
    seals: SEALS,
    approvalLevels: LEGAL,
    identityVerifier: {
      check: async (person) => {
        shared.identityChecks.push(person.idNumber);
        return { verified: true, method: 'three-element' };
      },
    },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    workflows: (builtIn) => builtIn.map((d) => countedEffects(d, shared.effectRuns)),
    logger: silentLogger,
    start: worker,
    worker: { concurrency: 8, pollMs: 10 },
  });
}

/** Import, submit and approve the loan contract (borrower and platform); returns the version id. */
async function approveLoanContract(host: Sealflow): Promise<string> {
  const draft = await host.templates.importTemplate(editor, {
    code: 'LOAN_CONTRACT_V',
    name: '个人借款合同',
    documentType: 'LOAN_CONTRACT',
    pdf: CONTRACT_PDF,
    definition: definitionWith(['platform']),
  });
  await host.templates.submit(editor, draft.id);
  const effective = await host.templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
  if (effective.status !== 'EFFECTIVE') throw new Error(`the loan contract is ${effective.status}, not EFFECTIVE`);
  return draft.id;
}

function loanRequest(businessNo: string, version: string, amount = '88000.00'): SignRequest {
  return {
    businessNo,
    scene: 'LOAN_CONTRACT',
    borrower: BORROWER,
    values: {
      loan: { amount, startDate: dateInChina(new Date(CONSENT_AT)), termMonths: 12 },
      credit: { limit: '100000.00' },
    },
    consent: {
      at: CONSENT_AT,
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [version],
    },
    actor: { id: 'lending-system' },
  };
}

/** Worker passes until every record is terminal (for hosts without a background worker). */
async function drain(host: Sealflow, ids: string[], timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    await host.runtime.runOnce({ limit: 100 });
    const records = await Promise.all(ids.map((id) => host.signing.get(id)));
    if (records.every((r) => r && TERMINAL.includes(r.status))) return;
    if (Date.now() > until) throw new Error(`signings not settled after ${timeoutMs / 1000} s`);
  }
}

const codeOf = (error: unknown) => (error as { code?: string }).code ?? `untyped: ${String(error)}`;
const tally = (codes: string[]) => {
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

// ---------------------------------------------------------------------------------------------------------------
// The races

interface RaceResult {
  figures: ReliabilityFigure[];
  findings: string[];
}

async function identicalRequests(backend: Backend, n: number): Promise<RaceResult> {
  const [persistence] = await backend.open();
  const shared = parts();
  const host = await signingHost(persistence!, shared, false);
  const findings: string[] = [];
  try {
    const version = await approveLoanContract(host);
    const request = loanRequest('LN-RACE-SAME', version);
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: n }, () =>
        host.signing.sign(request).then(
          (record) => ({ id: record.id }),
          (error: unknown) => ({ code: codeOf(error) }),
        ),
      ),
    );
    const raceMs = Date.now() - started;
    const ids = new Set(outcomes.flatMap((o) => ('id' in o ? [o.id] : [])));
    const refused = outcomes.flatMap((o) => ('code' in o ? [o.code] : []));
    if (refused.length) findings.push(`identical requests refused: ${tally(refused)}`);
    if (ids.size !== 1) findings.push(`${n} identical requests made ${ids.size} records`);
    await drain(host, [...ids]);
    const [record] = await host.signing.find({ businessNo: 'LN-RACE-SAME' });
    const flows = shared.flows.get('LN-RACE-SAME')?.size ?? 0;
    if (record?.status !== 'COMPLETED') findings.push(`the signing ended ${record?.status}, not COMPLETED`);
    if (flows !== 1) findings.push(`${n} identical requests made ${flows} vendor flows`);
    if (shared.identityChecks.length !== 1) {
      findings.push(`${n} identical requests ran ${shared.identityChecks.length} real-name checks`);
    }
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: ${n.toLocaleString('en')} identical sign() at once`,
          value: `${ids.size} record, ${flows} vendor flow, ${shared.identityChecks.length} real-name check, ${refused.length} refused; ${seconds(raceMs)}`,
        },
      ],
    };
  } finally {
    await host.close();
  }
}

async function differentContent(backend: Backend, n: number): Promise<RaceResult> {
  const [persistence] = await backend.open();
  const shared = parts();
  const host = await signingHost(persistence!, shared, false);
  const findings: string[] = [];
  try {
    const version = await approveLoanContract(host);
    const started = Date.now();
    // Every caller a different amount, so exactly one content can be the one signed.
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        host.signing.sign(loanRequest('LN-RACE-DIFF', version, `${10_000 + i}.00`)).then(
          (record) => ({ id: record.id }),
          (error: unknown) => ({ code: codeOf(error) }),
        ),
      ),
    );
    const raceMs = Date.now() - started;
    const accepted = outcomes.flatMap((o) => ('id' in o ? [o.id] : []));
    const refused = outcomes.flatMap((o) => ('code' in o ? [o.code] : []));
    const duplicates = refused.filter((c) => c === 'DUPLICATE').length;
    if (accepted.length !== 1) findings.push(`${accepted.length} of ${n} different contents were accepted`);
    if (duplicates !== n - 1) findings.push(`refusals other than DUPLICATE: ${tally(refused)}`);
    await drain(host, accepted);
    const records = await host.signing.find({ businessNo: 'LN-RACE-DIFF' });
    const flows = shared.flows.get('LN-RACE-DIFF')?.size ?? 0;
    if (records.length !== 1) findings.push(`one business number has ${records.length} records`);
    if (flows !== 1) findings.push(`one business number has ${flows} vendor flows`);
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: one business number, ${n.toLocaleString('en')} different contents at once`,
          value: `${accepted.length} accepted, ${duplicates} DUPLICATE, ${records.length} record, ${flows} vendor flow; ${seconds(raceMs)}`,
        },
      ],
    };
  } finally {
    await host.close();
  }
}

async function approvals(backend: Backend, n: number): Promise<RaceResult> {
  const [persistence] = await backend.open();
  const shared = parts();
  const host = await signingHost(persistence!, shared, false);
  const findings: string[] = [];
  try {
    const draft = await host.templates.importTemplate(editor, {
      code: 'LOAN_CONTRACT_V',
      name: '个人借款合同',
      documentType: 'LOAN_CONTRACT',
      pdf: CONTRACT_PDF,
      definition: definitionWith(['platform']),
    });
    await host.templates.submit(editor, draft.id);
    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => host.templates.approve({ id: `legal-${i}`, roles: ['legal'] }, draft.id)),
    );
    const raceMs = Date.now() - started;
    const won = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [codeOf(r.reason)] : []));
    const version = await host.templates.getVersion(draft.id);
    if (won !== 1) findings.push(`${won} of ${n} racing approvals succeeded`);
    if (refused.some((c) => c.startsWith('untyped'))) findings.push(`untyped refusals: ${tally(refused)}`);
    if (version?.status !== 'EFFECTIVE') findings.push(`the version is ${version?.status}, not EFFECTIVE`);
    if (version?.approvals.length !== 1) findings.push(`the version holds ${version?.approvals.length} approvals`);
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: ${n.toLocaleString('en')} approvers on one level at once`,
          value: `${won} approved, refused: ${tally(refused)}; ${version?.approvals.length} approval kept; ${seconds(raceMs)}`,
        },
      ],
    };
  } finally {
    await host.close();
  }
}

async function freezes(backend: Backend, n: number): Promise<RaceResult> {
  const [persistence] = await backend.open();
  const dispatch = dispatchParts();
  const host = await dispatchHost(persistence!, dispatch);
  const findings: string[] = [];
  try {
    // Two institutions whose positions cover one application each.
    const [distinct, sameKey] = INSTITUTIONS.slice(1, 3).map((i) => ({ ...i, deposit: AMOUNT_FEN }));
    await seed(host, [distinct!, sameKey!]);
    const ledger = createLedger({ persistence: persistence!, clock: systemClock });
    const freeze = (institutionId: string, key: string, applicationId: string) =>
      ledger.freeze({ institutionId, amountFen: AMOUNT_FEN, key, applicationId }).then(
        (result) => (result.replayed ? 'replayed' : 'applied'),
        (error: unknown) => codeOf(error),
      );
    let started = Date.now();
    const many = await Promise.all(
      Array.from({ length: n }, (_, i) => freeze(distinct!.id, `race-${i}`, `SQ-RACE-${i}`)),
    );
    const manyMs = Date.now() - started;
    started = Date.now();
    const one = await Promise.all(Array.from({ length: n }, () => freeze(sameKey!.id, 'race-one', 'SQ-RACE-ONE')));
    const oneMs = Date.now() - started;

    const applied = many.filter((o) => o === 'applied').length;
    const insufficient = many.filter((o) => o === 'POSITION_INSUFFICIENT').length;
    if (applied !== 1) findings.push(`${applied} of ${n} freezes took a position that covers one`);
    if (applied + insufficient !== n) findings.push(`unexpected freeze outcomes: ${tally(many)}`);
    const oneApplied = one.filter((o) => o === 'applied').length;
    const replayed = one.filter((o) => o === 'replayed').length;
    if (oneApplied !== 1 || replayed !== n - 1) findings.push(`one key sent ${n} times: ${tally(one)}`);
    const problems: string[] = [];
    for (const institution of [distinct!, sameKey!]) {
      const verification = await host.dispatch.institutions.verify(admin, institution.id);
      problems.push(...verification.problems.map((p) => `${institution.id}: ${p}`));
      const balances = await host.dispatch.institutions.balances(admin, institution.id);
      if (balances.frozen !== AMOUNT_FEN || balances.deposit !== 0) {
        problems.push(`${institution.id}: frozen ${balances.frozen}, deposit ${balances.deposit}`);
      }
    }
    if (problems.length) findings.push(`ledger does not verify: ${problems.join('; ')}`);
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: ${n.toLocaleString('en')} freezes at once on a position covering one`,
          value: `${applied} applied, ${insufficient} POSITION_INSUFFICIENT; ledger ${problems.length ? 'BROKEN' : 'verifies'}; ${seconds(manyMs)}`,
        },
        {
          label: `${backend.name}: one freeze key sent ${n.toLocaleString('en')} times at once`,
          value: `${oneApplied} applied, ${replayed} replayed; ${seconds(oneMs)}`,
        },
      ],
    };
  } finally {
    await host.sealflow.close();
  }
}

async function choices(backend: Backend, n: number): Promise<RaceResult> {
  const [persistence] = await backend.open();
  const dispatch = dispatchParts();
  const host = await dispatchHost(persistence!, dispatch);
  const findings: string[] = [];
  try {
    await seed(host);
    const id = await passed(host);
    const offered = (await offering(host, id)).offers.map((o) => o.institutionId);
    for (const institutionId of offered) {
      const [offer] = await host.dispatch.offers.offersFor(staffOf(institutionId), { dispatchId: dispatchOf(id) });
      await host.dispatch.offers.accept(offer!.offerId, staffOf(institutionId));
    }
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        outcome(host.dispatch.offers.choose(dispatchOf(id), offered[i % offered.length]!, cm, terms(dispatch.clock))),
      ),
    );
    const raceMs = Date.now() - started;
    const won = results.filter((r) => 'ok' in r).length;
    const refused = results.flatMap((r) => ('code' in r ? [r.code] : []));
    const view = await host.dispatch.offers.get(dispatchOf(id), { id: 'fu', roles: ['follow-up-manager'] });
    const chosen = view.offers.filter((o) => o.status === 'chosen').map((o) => o.institutionId);
    if (won !== 1) findings.push(`${won} of ${n} racing choices succeeded`);
    if (refused.some((c) => c.startsWith('unexpected'))) findings.push(`untyped refusals: ${tally(refused)}`);
    if (chosen.length !== 1) findings.push(`${chosen.length} offers are chosen`);
    const problems: string[] = [];
    for (const institutionId of offered) {
      problems.push(...(await host.dispatch.institutions.verify(admin, institutionId)).problems);
      const holds = (await host.dispatch.institutions.balances(admin, institutionId)).holds;
      // The chosen institution keeps its hold (released ones are released by the worker, shortly after).
      if (institutionId === chosen[0] && holds[id] !== AMOUNT_FEN) problems.push(`${institutionId} lost its hold`);
    }
    if (problems.length) findings.push(`ledger does not verify: ${problems.join('; ')}`);
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: ${n.toLocaleString('en')} choices at once among 3 accepted offers`,
          value: `${won} chosen, refused: ${tally(refused)}; ${seconds(raceMs)}`,
        },
      ],
    };
  } finally {
    await host.sealflow.close();
  }
}

/** Several instances, each with a running worker, drain one set of signings started at all of them. */
async function instances(backend: Backend, n: number, count: number): Promise<RaceResult> {
  const persistences = await backend.open(count);
  const shared = parts();
  const hosts: Sealflow[] = [];
  const findings: string[] = [];
  try {
    for (const persistence of persistences) hosts.push(await signingHost(persistence, shared, true));
    const version = await approveLoanContract(hosts[0]!);
    const completed = new Map<string, Set<string>>();
    const failed = new Set<string>();
    for (const host of hosts) {
      host.runtime.onEvent((event) => {
        if (event.type === 'signing.failed') failed.add(event.workflowId);
        if (event.type !== 'signing.completed') return;
        const ids = completed.get(event.workflowId) ?? new Set<string>();
        ids.add(event.id);
        completed.set(event.workflowId, ids);
      });
    }
    const businessNos = Array.from({ length: n }, (_, i) => `LN-MULTI-${String(i).padStart(5, '0')}`);
    const started = Date.now();
    // Each request reaches one instance, every fourth also reaches the next one (a retry through the load balancer).
    const records: string[] = [];
    let next = 0;
    const submit = async (businessNo: string, i: number) => {
      const request = loanRequest(businessNo, version);
      const [record, again] = await Promise.all([
        hosts[i % count]!.signing.sign(request),
        i % 4 === 0 ? hosts[(i + 1) % count]!.signing.sign(request) : null,
      ]);
      if (again && again.id !== record.id) findings.push(`${businessNo}: a retry at another instance made a record`);
      records[i] = record.id;
    };
    await Promise.all(
      Array.from({ length: IN_FLIGHT_PER_INSTANCE * count }, async () => {
        while (next < n) {
          const i = next++;
          await submit(businessNos[i]!, i);
        }
      }),
    );
    // Done when every signing has told the hosts it completed or failed (events arrive after the commit).
    const until = Date.now() + 600_000;
    while (completed.size + failed.size < n) {
      if (Date.now() > until) {
        findings.push(`after 600 s: ${completed.size} completed, ${failed.size} failed of ${n}`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const drainMs = Date.now() - started;

    const final = await Promise.all(records.map((id) => hosts[0]!.signing.get(id)));
    const notCompleted = final.filter((r) => r?.status !== 'COMPLETED');
    if (notCompleted.length) {
      findings.push(
        `${notCompleted.length} signings did not complete: ${notCompleted
          .slice(0, 5)
          .map((r) => `${r?.id} ${r?.status}/${r?.stage} ${r?.failure?.code ?? ''}`)
          .join(', ')}`,
      );
    }
    const twoFlows = businessNos.filter((b) => (shared.flows.get(b)?.size ?? 0) !== 1);
    if (twoFlows.length) findings.push(`${twoFlows.length} business numbers without exactly one vendor flow`);
    const twoEvents = [...completed].filter(([, ids]) => ids.size !== 1);
    if (twoEvents.length) findings.push(`${twoEvents.length} signings completed more than once`);
    const effectNames = new Set([...shared.effectRuns.keys()].map((k) => k.slice(k.lastIndexOf(':') + 1)));
    const repeated = [...shared.effectRuns].filter(([, runs]) => runs > 1);
    // Evidence: one flow started, one archive, one completion per signing; a sample keeps the suite's time bounded.
    const sample = records.slice(0, Math.min(records.length, 100));
    let evidenceProblems = 0;
    for (const id of sample) {
      const { manifest } = await hosts[1 % count]!.signing.exportEvidencePackage(id);
      const types = manifest.entries.map((e) => e.type);
      const once = ['vendor.flow-started', 'documents.archived', 'signing.completed'].every(
        (t) => types.filter((x) => x === t).length === 1,
      );
      if (!manifest.verification.ok || !once) evidenceProblems++;
    }
    if (evidenceProblems) findings.push(`${evidenceProblems} of ${sample.length} evidence packages show a repeat`);
    const byInstance = await Promise.all(hosts.map((h) => h.runtime.deadLetters.list()));
    if (byInstance.some((d) => d.length)) findings.push('dead letters left by the instances');
    return {
      findings: findings.map((f) => `${backend.name}: ${f}`),
      figures: [
        {
          label: `${backend.name}: ${count} instances with workers, ${n.toLocaleString('en')} signings (a quarter sent to two instances)`,
          value: `${n - notCompleted.length} completed once, ${twoFlows.length} with a second vendor flow, ${twoEvents.length} completed twice; ${seconds(drainMs)} (${(n / (drainMs / 1000)).toFixed(1)} signings/s)`,
        },
        {
          label: `${backend.name}: effect runs repeated (at-least-once: a repeat must change nothing)`,
          value: `${repeated.length} of ${shared.effectRuns.size} (${[...effectNames].join(', ')}); evidence checked for ${sample.length} signings`,
        },
      ],
    };
  } finally {
    for (const host of hosts) await host.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The suite

export const DESCRIPTION = `
The races a lending system creates when request handlers retry, desks click at the same moment and several host
instances share one database, each on PGlite (one in-process database) and on PostgreSQL (127.0.0.1:5432, a fresh
schema per race, pools of 8 connections per instance). The full scale sends 1,000 callers at once; the reduced scale
(\`--ci\`) 100 callers and 2 instances.

- **Identical signing requests**: \`sign()\` with the same request from every caller. One record, one flow at the
  vendor (the memory vendor, counting the flows it creates per business number), one real-name check.
- **One business number, different content**: every caller a different loan amount. One accepted, the rest
  \`DUPLICATE\`; one record and one vendor flow.
- **Template approvals**: every caller a different approver on the one approval level of one version. One approval;
  the others refused with a typed error (\`APPROVAL_LEVEL_MISMATCH\` or \`TEMPLATE_NOT_PENDING\` by when they read).
- **Position freezes**: freezes for different applications on one institution whose position covers one: one applied,
  the rest \`POSITION_INSUFFICIENT\`; and one freeze key sent by every caller: applied once, replayed for the rest.
  Both ledgers then verify (balances equal their entries, the hash chain holds).
- **The customer's choice**: every caller chooses one of three accepted offers of one dispatch. One choice.
- **Several instances**: 4 \`createSealflow\` instances on one database (2 at the reduced scale), each with a running
  worker (concurrency 8), take 300 signing requests in turn (60 at the reduced scale), 50 in flight per instance, a
  quarter of them also at the next instance. Each signing completes once: one vendor flow per business number, one
  \`signing.completed\` event, and in a sample of 100 evidence packages one \`vendor.flow-started\`, one
  \`documents.archived\` and one \`signing.completed\` entry. Effects are delivered at least once; a repeated run is
  counted and must change nothing.

A limit worth knowing: a request waits at most 10 seconds for a pooled connection (the PostgreSQL pool's connection
timeout). A thousand different signing requests at once behind one instance's 8 connections, while its worker runs,
can wait longer than that on a busy machine; the late ones fail with an \`AdapterError\` and nothing is written for
them, so the lending system retries them. Size the pool (\`max\`) and the request handlers' concurrency together.

The times are wall time on a shared machine and are there to show the scale ran, not as a benchmark (that is
\`pnpm bench\`). The same races at a smaller scale are asserted by \`packages/adapter-storage/test/signing-sql.test.ts\`,
\`dispatch-concurrency.test.ts\`, \`dispatch-ledger-sql.test.ts\` and \`template-lifecycle-sql.test.ts\`.`;

const suite: ReliabilitySuite = {
  name: 'concurrency',
  title: 'Concurrency: races on one business number, one approval, one position, several instances',
  description: DESCRIPTION,
  async run(scale: ReliabilityScale) {
    const n = CALLERS[scale];
    const started = Date.now();
    const { list, skipped } = await backends();
    const figures: ReliabilityFigure[] = [];
    const findings: string[] = [];
    if (skipped.length) {
      console.warn(`[reliability] ${skipped.join('; ')}`);
      figures.push({ label: 'Skipped', value: skipped.join('; ') });
    }
    for (const backend of list) {
      try {
        for (const race of [identicalRequests, differentContent, approvals, freezes, choices]) {
          const result = await race(backend, n);
          for (const f of result.figures) console.log(`  ${f.label}: ${f.value}`);
          figures.push(...result.figures);
          findings.push(...result.findings);
          await backend.close();
        }
        const result = await instances(backend, DRAINED[scale], INSTANCES[scale]);
        figures.push(...result.figures);
        findings.push(...result.findings);
      } catch (error) {
        findings.push(`${backend.name}: the race itself failed: ${(error as Error).stack ?? error}`);
      } finally {
        await backend.close();
      }
    }
    figures.push({ label: 'Wall time', value: seconds(Date.now() - started) });
    return { passed: findings.length === 0, figures, findings };
  },
};
export default suite;
