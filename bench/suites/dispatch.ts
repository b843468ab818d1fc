/**
 * Funder dispatch. First: ranking 10,000 institutions for one application with `rankInstitutions`, beside a naive
 * ranking measured in the same run (filter, map to scored objects, `Array.prototype.sort`, slice) that applies the
 * same filters and the same scores. Two pools: a realistic mix (31 regions, 4 categories, some suspended or full, so
 * a few hundred pass the filters) and a worst case where all 10,000 pass. Each figure is the median or p95 of 200
 * timed runs after warm-up, cycling through 16 applications, the two implementations timed alternately.
 *
 * Then workflow throughput (`workflowRows`): whole applications driven through review, dispatch (declines,
 * acceptances, expiries on a manual clock), choice and settlement on PGlite and on PostgreSQL, beside each database's
 * single-row transaction floor measured in the same run. `DISPATCH_BENCH_APPLICATIONS` sets how many (default
 * 10,000).
 */
import {
  DEFAULT_RANKING_WEIGHTS,
  RANKING_TERMS,
  type RankingApplication,
  type RankingCandidate,
  type RankingWeights,
  rankInstitutions,
  createSealflow,
  type DispatchActor,
  type Persistence,
  silentLogger,
  withCreditCodeCheckChar,
  withIdNumberCheckChar,
} from '../../packages/core/src/index.js';
import {
  createManualClock,
  createMemoryNotifier,
  createMemorySigningVendor,
  type ManualClock,
  seededRandom,
} from '../../packages/core/src/memory/index.js';
import { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { floor, openBenchPool, pgliteFloor, postgresFloor } from '../floor.js';
import { countingPersistence, postgresServerCpuMs } from '../persistence.js';
import type { BenchRow, BenchSuite } from '../harness.js';
import { summarize } from '../harness.js';

const POOL = 10_000;
const WARM_UP = 50;
const RUNS = 200;
const REGIONS = Array.from({ length: 31 }, (_, i) => String(110000 + i * 10000));
const CATEGORIES = ['mortgage', 'car', 'credit', 'business'];

/** A seeded PRNG, so every run ranks the same pool. */
const random = seededRandom;

function pick<T>(rnd: () => number, from: readonly T[], howMany: number): T[] {
  const out = new Set<T>();
  while (out.size < howMany) out.add(from[Math.floor(rnd() * from.length)]!);
  return [...out];
}

function makePool(seed: number, allEligible: boolean): RankingCandidate[] {
  const rnd = random(seed);
  return Array.from({ length: POOL }, (_, i): RankingCandidate => {
    const accepted = rnd() < 0.1 ? 0 : Math.floor(rnd() * 2000);
    const successes = Math.floor(accepted * (0.5 + rnd() * 0.5));
    const responses = accepted === 0 ? 0 : accepted + Math.floor(rnd() * 500);
    const capacity = 5 + Math.floor(rnd() * 50);
    return {
      id: `inst-${String(i).padStart(5, '0')}`,
      status: allEligible || rnd() < 0.9 ? 'ACTIVE' : 'SUSPENDED',
      regions: allEligible ? REGIONS : pick(rnd, REGIONS, 1 + Math.floor(rnd() * 5)),
      categories: allEligible ? CATEGORIES : pick(rnd, CATEGORIES, 1 + Math.floor(rnd() * 3)),
      capacity,
      openApplications: allEligible ? Math.floor(rnd() * capacity) : Math.floor(rnd() * (capacity + 3)),
      positionFen: allEligible ? 5_000_000_00 + Math.floor(rnd() * 1e10) : Math.floor(rnd() * 2e9),
      stats: {
        offered: responses + Math.floor(rnd() * 100),
        accepted,
        declined: responses - accepted,
        expired: Math.floor(rnd() * 50),
        abandoned: Math.floor((accepted - successes) * rnd()),
        successes,
        failures: Math.floor((accepted - successes) * rnd()),
        amountFen: successes * Math.floor(1e6 + rnd() * 5e7),
        responseMsTotal: responses * Math.floor(60_000 + rnd() * 20 * 3_600_000),
        responses,
      },
    };
  });
}

function makeApplications(seed: number): RankingApplication[] {
  const rnd = random(seed);
  return Array.from({ length: 16 }, () => ({
    amountFen: Math.floor(1e6 + rnd() * 5e7),
    region: REGIONS[Math.floor(rnd() * REGIONS.length)]!,
    category: CATEGORIES[Math.floor(rnd() * CATEGORIES.length)]!,
  }));
}

/** The obvious implementation: the same filters and score, written with arrays of objects and a full sort. */
function naiveRank(
  application: RankingApplication,
  candidates: readonly RankingCandidate[],
  weights: RankingWeights,
  limit?: number,
): { id: string; score: number }[] {
  const total = RANKING_TERMS.reduce((sum, term) => sum + weights[term], 0);
  const scored = candidates
    .filter(
      (c) =>
        c.status === 'ACTIVE' &&
        c.regions.includes(application.region) &&
        c.categories.includes(application.category) &&
        c.openApplications < c.capacity &&
        c.positionFen >= application.amountFen,
    )
    .map((c) => {
      const s = c.stats;
      const terms: Record<string, number> = {
        abandonment: s.accepted === 0 ? 0.5 : Math.max(0, 1 - s.abandoned / s.accepted),
        success: s.accepted === 0 ? 0.5 : Math.min(1, s.successes / s.accepted),
        response: s.responses === 0 ? 0.5 : 7_200_000 / (7_200_000 + s.responseMsTotal / s.responses),
        volume: Math.min(1, Math.log1p(s.successes) / Math.log1p(1000)),
        amount: Math.min(1, Math.log1p(s.amountFen / 100) / Math.log1p(1e9)),
        headroom: (c.positionFen - application.amountFen) / c.positionFen,
        complaints: !s.complaintsFounded ? 1 : 0.05 / (0.05 + s.complaintsFounded / Math.max(s.accepted, 1)),
      };
      const score = RANKING_TERMS.reduce((sum, term) => sum + (weights[term] / total) * terms[term]!, 0);
      return { ...c, score };
    })
    .sort((a, b) => b.score - a.score || a.openApplications - b.openApplications || (a.id < b.id ? -1 : 1));
  return (limit === undefined ? scored : scored.slice(0, limit)).map((c) => ({ id: c.id, score: c.score }));
}

/**
 * Median and p95 ms of `RUNS` calls of each of `a` and `b`, after `WARM_UP` untimed ones, cycling through
 * `applications`. The two are timed alternately, call by call, so load from other processes on a shared machine
 * falls on both alike instead of on whichever happened to run during a busy spell.
 */
function timePair(
  applications: RankingApplication[],
  a: (application: RankingApplication) => unknown,
  b: (application: RankingApplication) => unknown,
) {
  for (let i = 0; i < WARM_UP; i++) {
    a(applications[i % applications.length]!);
    b(applications[i % applications.length]!);
  }
  const samplesA: number[] = [];
  const samplesB: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const application = applications[i % applications.length]!;
    let t = performance.now();
    a(application);
    samplesA.push(performance.now() - t);
    t = performance.now();
    b(application);
    samplesB.push(performance.now() - t);
  }
  return [summarize(samplesA), summarize(samplesB)] as const;
}

/** Fail loudly if the two implementations disagree: a fast wrong ranking is not a result. */
function checkSameOrder(pool: RankingCandidate[], applications: RankingApplication[]): number {
  let eligible = 0;
  for (const application of applications) {
    const fast = rankInstitutions(application, pool).ranked.map((r) => r.id);
    const naive = naiveRank(application, pool, DEFAULT_RANKING_WEIGHTS).map((r) => r.id);
    if (fast.join() !== naive.join()) throw new Error('rankInstitutions and the naive ranking disagree');
    eligible += fast.length;
  }
  return Math.round(eligible / applications.length);
}

function rankingRows(label: string, pool: RankingCandidate[], applications: RankingApplication[]): BenchRow[] {
  const eligible = checkSameOrder(pool, applications);
  const rows: BenchRow[] = [];
  for (const limit of [3, undefined]) {
    const what = `rank ${POOL.toLocaleString('en')} institutions, ${label} (~${eligible} eligible), ${limit === undefined ? 'full ranking' : `limit ${limit}`}`;
    const [naive, fast] = timePair(
      applications,
      (a) => naiveRank(a, pool, DEFAULT_RANKING_WEIGHTS, limit),
      (a) => rankInstitutions(a, pool, { limit }),
    );
    for (const stat of ['median', 'p95'] as const) {
      const baseline = `naive filter+map+sort: ${what} ${stat}`;
      rows.push({ name: baseline, unit: 'ms', value: naive[stat] });
      rows.push({
        name: `rankInstitutions: ${what} ${stat}`,
        unit: 'ms',
        value: fast[stat],
        baseline,
        baselineValue: naive[stat],
        ratio: naive[stat] / fast[stat],
      });
    }
  }
  return rows;
}

const HOUR = 3_600_000;
/** Applications in a run: `DISPATCH_BENCH_APPLICATIONS` (default 10,000). */
const APPLICATIONS = Number(process.env.DISPATCH_BENCH_APPLICATIONS ?? 10_000);
/** Applications in flight together: each step is taken for the whole batch at once, as many desks would. */
const BATCH = 100;
/** Progress goes to stderr every this many applications, with the rate since the last line. */
const PROGRESS_EVERY = 1_000;
/** Applications between VACUUMs on a PostgreSQL server without autovacuum (see `standInForAutovacuum`). */
const MAINTENANCE_EVERY = 1_000;
const WORKFLOW_REGIONS = ['310000', '110000', '440000', '320000', '330000'];
const INSTITUTIONS = 50;
const AMOUNT_FEN = 30_000_000;
const FIGURES = {
  disbursedFen: 29_000_000,
  institutionCommissionFen: 290_000,
  customerServiceFeeFen: 145_000,
  commissionFen: 435_000,
};
const PRODUCTS = [
  { code: 'HOUSE', name: '房抵贷', requiredMaterials: ['id-card', 'property-certificate'], maxAmountFen: 500_000_000 },
];
const MATERIALS = [
  { kind: 'id-card', documentId: 'doc-1', complete: true },
  { kind: 'property-certificate', documentId: 'doc-2', complete: true },
];
const cm: DispatchActor = { id: 'cm-li', roles: ['customer-manager'] };
const reviewer: DispatchActor = { id: 'rev-zhao', roles: ['loan-reviewer'] };
const followUp: DispatchActor = { id: 'fu-zhou', roles: ['follow-up-manager'] };
const settler: DispatchActor = { id: 'set-wu', roles: ['settler'] };
const admin: DispatchActor = { id: 'adm-zheng', roles: ['platform-admin'] };
const staffOf = (institutionId: string): DispatchActor => ({
  id: `${institutionId}-staff`,
  roles: ['institution'],
  institutionId,
});
const institutionId = (i: number) => `inst-${String(i).padStart(3, '0')}`;

interface WorkflowRates {
  applicationsPerSecond: number;
  transactionsPerApplication: number;
  /** Wall time with at least one persistence transaction open, as a share of the run's wall time. */
  busyShare: number;
  /** Transaction durations summed, over wall time: above 1 when transactions overlap. */
  summedShare: number;
  cpuMsPerApplication: number;
  /** Commands retried after a retryable conflict, per application. */
  retriesPerApplication: number;
  serverCpuMsPerApplication: number | null;
}

/**
 * Drive `count` applications, `BATCH` at a time, from intake to settlement on a fresh sealflow: intake and review,
 * pass (the runtime starts the dispatch: three offers each), then per application the first offer declined (its
 * place goes to the next candidate), the second accepted, the third accepted for every third application and left
 * to expire for the others, the fourth left to expire — the clock moves 25 h so the runtime expires them — then the
 * customer's choice (without contract terms: no signing, the figure is dispatch), the hand-over to the institution,
 * face-signing, disbursement, settlement figures, the customer's confirmation and payment.
 */
async function driveApplications(
  base: Persistence,
  count: number,
  label: string,
  maintenance?: () => Promise<void>,
): Promise<WorkflowRates> {
  const persistence = countingPersistence(base);
  const clock = createManualClock(Date.UTC(2026, 10, 30, 2));
  const sealflow = await createSealflow({
    persistence,
    vendors: { memory: createMemorySigningVendor({ clock }) },
    identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
    hashKey: 'bench-dispatch-hash-key-0123456789abcdef',
    clock,
    logger: silentLogger,
    start: false,
    dispatch: { products: PRODUCTS, choiceDesk: 'follow-up-desk', notifier: createMemoryNotifier() },
  });
  const dispatch = sealflow.dispatch!;
  const drain = async () => {
    for (let i = 0; i < 200; i++) {
      const pass = await sealflow.runtime.runOnce({ limit: BATCH });
      if (Object.values(pass).every((n) => n === 0)) return;
    }
    throw new Error('the runtime did not settle in 200 passes');
  };
  try {
    for (let i = 0; i < INSTITUTIONS; i++) {
      const id = institutionId(i);
      await dispatch.institutions.register(admin, {
        id,
        name: `第${i}小贷公司`,
        creditCode: withCreditCodeCheckChar(`91310000MA1${String(i).padStart(6, '0')}`),
        regions: [WORKFLOW_REGIONS[i % WORKFLOW_REGIONS.length]!],
        categories: ['mortgage'],
        capacity: 100_000,
      });
      await dispatch.institutions.topUp(admin, {
        institutionId: id,
        account: 'deposit',
        amountFen: 1_000_000_000_000,
        key: `seed:${id}`,
      });
    }

    retries = 0;
    const transactionsBefore = persistence.count;
    const busyBefore = persistence.busyMs;
    const summedBefore = persistence.ms;
    const serverCpuBefore = postgresServerCpuMs();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const ids: string[] = [];
    let lap = { at: performance.now(), done: 0, cpu: process.cpuUsage() };
    for (let first = 0; first < count; first += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - first) }, (_, k) => first + k);
      ids.push(...(await runBatch(dispatch, clock, drain, batch)));
      const done = first + batch.length;
      if (done % MAINTENANCE_EVERY === 0) await maintenance?.();
      if (done % PROGRESS_EVERY === 0 || done === count) {
        const now = { at: performance.now(), done, cpu: process.cpuUsage() };
        const rate = ((now.done - lap.done) / (now.at - lap.at)) * 1000;
        const cpu = process.cpuUsage(lap.cpu);
        const cpuMs = (cpu.user + cpu.system) / 1000 / (now.done - lap.done);
        console.error(
          `[bench] dispatch ${label}: ${done}/${count} applications; lately ${rate.toFixed(1)}/s, ${cpuMs.toFixed(0)} ms CPU each`,
        );
        lap = now;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpuAfter = postgresServerCpuMs();
    const wallMs = seconds * 1000;
    const rates: WorkflowRates = {
      applicationsPerSecond: count / seconds,
      transactionsPerApplication: (persistence.count - transactionsBefore) / count,
      busyShare: (persistence.busyMs - busyBefore) / wallMs,
      summedShare: (persistence.ms - summedBefore) / wallMs,
      cpuMsPerApplication: (cpu.user + cpu.system) / 1000 / count,
      retriesPerApplication: retries / count,
      serverCpuMsPerApplication:
        serverCpuBefore === null || serverCpuAfter === null ? null : (serverCpuAfter - serverCpuBefore) / count,
    };
    await verifyRun(dispatch, ids);
    return rates;
  } finally {
    await sealflow.close();
  }
}

type DispatchFacade = NonNullable<Awaited<ReturnType<typeof createSealflow>>['dispatch']>;

/** A customer for application `i`: distinct ID numbers and mobiles, so no two applications share a person. */
function customer(i: number) {
  const seq = String(i % 1000).padStart(3, '0');
  const day = String(1 + (Math.floor(i / 1000) % 28)).padStart(2, '0');
  const month = String(1 + (Math.floor(i / 28_000) % 12)).padStart(2, '0');
  return {
    name: '欧阳娜娜',
    idNumber: withIdNumberCheckChar(`3101011990${month}${day}${seq}`),
    mobile: `138${String(i).padStart(8, '0')}`,
  };
}

/** Commands retried after a retryable conflict, as a host retries them (counted: a figure of its own). */
let retries = 0;

/**
 * Run a command, again when it fails with a retryable error: on PostgreSQL two institutions' staff answering at
 * once can meet on one ledger row, and the loser is told to reload and try again.
 */
async function retrying<T>(command: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await command();
    } catch (error) {
      if (!(error as { retryable?: boolean }).retryable || attempt === 10) throw error;
      retries++;
    }
  }
}

/** One batch of applications from intake to payment, every step taken for the whole batch at once. */
async function runBatch(
  dispatch: DispatchFacade,
  clock: ManualClock,
  drain: () => Promise<void>,
  batch: number[],
): Promise<string[]> {
  const each = <T>(work: (i: number, k: number) => Promise<T>) => Promise.all(batch.map((i, k) => work(i, k)));
  const ids = await each(async (i) => {
    const person = customer(i);
    const { applicationId } = await dispatch.applications.open(cm, {
      applicationNumber: `SQ-BENCH-${String(i).padStart(6, '0')}`,
      customer: person,
      productCode: 'HOUSE',
      amountFen: AMOUNT_FEN,
      region: WORKFLOW_REGIONS[i % WORKFLOW_REGIONS.length]!,
      businessCategory: 'mortgage',
    });
    await dispatch.applications.registerCustomer(cm, applicationId, person);
    await dispatch.applications.submitMaterials(cm, applicationId, MATERIALS);
    await dispatch.applications.confirmProduct(cm, applicationId);
    await dispatch.applications.submitForReview(cm, applicationId);
    await dispatch.applications.pass(reviewer, applicationId);
    return applicationId;
  });
  await drain(); // requestDispatch: each dispatch starts and makes its first three offers
  const dispatchOf = (id: string) => `dispatch:${id}:1`;
  const offered = async (id: string, seq: number) => {
    const offer = (await dispatch.offers.get(dispatchOf(id), followUp)).offers.find((o) => o.seq === seq);
    if (!offer) throw new Error(`${dispatchOf(id)} has no offer ${seq}`);
    return offer;
  };
  const answer = async (id: string, seq: number, how: 'accept' | 'decline') => {
    const offer = await offered(id, seq);
    const staff = staffOf(offer.institutionId);
    await retrying(() =>
      how === 'accept'
        ? dispatch.offers.accept(offer.offerId, staff)
        : dispatch.offers.decline(offer.offerId, '额度已满', staff),
    );
  };
  await each(async (i, k) => {
    await answer(ids[k]!, 1, 'decline');
    await answer(ids[k]!, 2, 'accept');
    if (i % 3 === 0) await answer(ids[k]!, 3, 'accept');
  });
  await drain();
  // Past every offer's 24 h window: the open offers expire; no new ones, as the dispatch window has closed too.
  clock.advance(25 * HOUR);
  await drain();
  await each(async (i, k) => {
    const chosen = await offered(ids[k]!, i % 3 === 0 && i % 2 === 0 ? 3 : 2);
    await retrying(() => dispatch.offers.choose(dispatchOf(ids[k]!), chosen.institutionId, cm));
  });
  await drain(); // the dispatch's outcome moves each application to the chosen institution
  await each(async (_, k) => {
    const id = ids[k]!;
    const application = await dispatch.applications.get(cm, id);
    if (!application?.institutionId) throw new Error(`${id} reached no institution: ${application?.stage}`);
    const bank = staffOf(application.institutionId);
    await retrying(() => dispatch.applications.recordFaceSigning(bank, id));
    await retrying(() => dispatch.applications.recordDisbursement(bank, id, FIGURES.disbursedFen));
    await retrying(() => dispatch.applications.confirmSettlement(followUp, id, FIGURES));
    await retrying(() => dispatch.applications.confirmWithCustomer(cm, id));
    await retrying(() => dispatch.applications.confirmPayment(settler, id));
  });
  await drain();
  return ids;
}

/** Fail loudly unless every application settled, every ledger verifies with no hold left, and successes add up. */
async function verifyRun(dispatch: DispatchFacade, ids: string[]): Promise<void> {
  const offers: Record<string, number> = {};
  for (const id of ids) {
    const status = (await dispatch.applications.get(cm, id))?.status;
    if (status !== 'settled') throw new Error(`${id} ended ${status}, not settled`);
    for (const offer of (await dispatch.offers.get(`dispatch:${id}:1`, followUp)).offers) {
      offers[offer.status] = (offers[offer.status] ?? 0) + 1;
    }
  }
  // Every dispatch: one declined, one chosen; the second acceptance of every third released; the rest expired.
  const second = ids.filter((_, k) => k % 3 === 0).length;
  const expected = { declined: ids.length, chosen: ids.length, released: second, expired: 2 * ids.length - second };
  if (JSON.stringify(offers, Object.keys(expected).sort()) !== JSON.stringify(expected, Object.keys(expected).sort())) {
    throw new Error(`the offers ended ${JSON.stringify(offers)}, expected ${JSON.stringify(expected)}`);
  }
  let successes = 0;
  for (let i = 0; i < INSTITUTIONS; i++) {
    const id = institutionId(i);
    const verification = await dispatch.institutions.verify(admin, id);
    if (!verification.ok) throw new Error(`${id}'s ledger does not verify: ${verification.problems.join(' ')}`);
    const holds = (await dispatch.institutions.balances(admin, id)).holds;
    if (Object.keys(holds).length > 0) throw new Error(`${id} still holds ${JSON.stringify(holds)}`);
    const { stats } = await dispatch.institutions.get(admin, id);
    successes += stats.successes;
  }
  if (successes !== ids.length) throw new Error(`institution successes add up to ${successes}, not ${ids.length}`);
}

function workflowRowsOf(database: string, rates: WorkflowRates, floorRate: number, count: number): BenchRow[] {
  const floorName = `${database}: floor, single-row transactions`;
  const out: BenchRow[] = [
    { name: floorName, unit: 'tx/s', value: floorRate },
    {
      name: `${database}: applications intake → dispatch → settlement (${count}, ${BATCH} in flight)`,
      unit: 'applications/s',
      value: rates.applicationsPerSecond,
      baseline: floorName,
      baselineValue: floorRate,
      ratio: rates.applicationsPerSecond / floorRate,
    },
    {
      name: `${database}: an application costs the time of`,
      unit: 'floor tx',
      value: floorRate / rates.applicationsPerSecond,
    },
    {
      name: `${database}: persistence transactions per application`,
      unit: 'tx/application',
      value: rates.transactionsPerApplication,
    },
    {
      name: `${database}: share of wall time with a persistence transaction open`,
      unit: '%',
      value: rates.busyShare * 100,
    },
    {
      name: `${database}: transaction durations summed over wall time (overlap counted twice)`,
      unit: '%',
      value: rates.summedShare * 100,
    },
    {
      name: `${database}: CPU time of this process per application`,
      unit: 'ms/application',
      value: rates.cpuMsPerApplication,
    },
    {
      name: `${database}: commands retried after a conflict (concurrent answers on one ledger)`,
      unit: 'retries/application',
      value: rates.retriesPerApplication,
    },
  ];
  if (database === 'PostgreSQL' && rates.serverCpuMsPerApplication !== null) {
    out.push({
      name: `${database}: server CPU time per application`,
      unit: 'ms/application',
      value: rates.serverCpuMsPerApplication,
    });
  }
  return out;
}

/**
 * A production server's autovacuum removes dead row versions and refreshes planner statistics as the run goes; a
 * server with autovacuum off (as some test machines are) would show a slowdown no host sees. There the run vacuums
 * the schema itself every `MAINTENANCE_EVERY` applications, inside the timed wall time, which only makes the figure
 * more conservative.
 */
async function standInForAutovacuum(pool: pg.Pool, schema: string): Promise<(() => Promise<void>) | undefined> {
  const { rows } = await pool.query<{ autovacuum: string }>('SHOW autovacuum');
  if (rows[0]?.autovacuum === 'on') return undefined;
  console.error('[bench] dispatch PostgreSQL: the server has autovacuum off; the run vacuums its schema itself');
  return async () => {
    const tables = await pool.query<{ name: string }>(
      "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = $1",
      [schema],
    );
    await pool.query(`VACUUM (ANALYZE) ${tables.rows.map((row) => row.name).join(', ')}`);
  };
}

/** Workflow throughput: whole applications per second on PGlite and on PostgreSQL, beside each one's floor. */
async function workflowRows(): Promise<BenchRow[]> {
  if (!Number.isInteger(APPLICATIONS) || APPLICATIONS < 1) {
    throw new Error('DISPATCH_BENCH_APPLICATIONS must be a positive whole number of applications');
  }
  const out: BenchRow[] = [];
  {
    const base = await pglitePersistence();
    let rates: WorkflowRates;
    try {
      rates = await driveApplications(base, APPLICATIONS, 'PGlite');
    } finally {
      await base.close();
    }
    const db = await PGlite.create();
    const floorRate = await floor(await pgliteFloor(db, 300), 1_500, 1);
    await db.close();
    out.push(...workflowRowsOf('PGlite', rates, floorRate, APPLICATIONS));
  }
  const pool = await openBenchPool();
  if (!pool) return out;
  const schema = `bench_dispatch_${process.pid}`;
  try {
    const rates = await driveApplications(
      await postgresPersistence({ pool, schema }),
      APPLICATIONS,
      'PostgreSQL',
      await standInForAutovacuum(pool, schema),
    );
    const floorRate = await floor(await postgresFloor(pool, schema, 1_000), 5_000, 8);
    out.push(...workflowRowsOf('PostgreSQL', rates, floorRate, APPLICATIONS));
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
  return out;
}

const suite: BenchSuite = {
  name: 'dispatch',
  description:
    'rank 10,000 institutions for one application: rankInstitutions vs a naive filter+map+sort; then whole applications intake → dispatch → settlement per second on PGlite and PostgreSQL vs the single-row transaction floor',
  async run(): Promise<BenchRow[]> {
    const applications = makeApplications(7);
    return [
      ...rankingRows('realistic mix', makePool(1, false), applications),
      ...rankingRows('all eligible', makePool(2, true), applications),
      ...(await workflowRows()),
    ];
  },
};

export default suite;
