/**
 * The load suite: thousands of signings in flight against e签宝 with a vendor's latency and QPS limit. The e签宝
 * emulator runs in a process of its own over real HTTP with a limit of 50 requests per second for the app (a token
 * bucket, HTTP 429 beyond it) and 150 ms before every answer; one host (`createSealflow` with its background worker,
 * on PostgreSQL in a schema of its own, or PGlite on disk without a server) submits every signing at once and signs
 * them through `esignVendor` configured with `qps: 50`. Measured: the vendor's request rate per 10 s window against
 * the limit, the emulator's rate-limit refusals, signings completed per second, and the host's RSS and heap over time.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { esignVendor, persistentEsignCreateLog } from '../../packages/adapter-esign/src/index.js';
import { ESIGN_CODES } from '../../packages/adapter-esign/src/testing/index.js';
import { verifyPdfSignatures } from '../../packages/adapter-local/src/index.js';
import { fsDocumentStore } from '../../packages/adapter-storage/src/fs.js';
import { pglitePersistence } from '../../packages/adapter-storage/src/pglite.js';
import { postgresPersistence } from '../../packages/adapter-storage/src/postgres.js';
import { probePostgres } from '../../packages/adapter-storage/test/support/postgres.js';
import {
  createSealflow,
  type Persistence,
  type Sealflow,
  type SigningSceneInput,
  silentLogger,
} from '../../packages/core/src/index.js';
import {
  type EsignServerCensus,
  type EsignServerConfig,
  type FromEsignServer,
  LOAD_BORROWERS,
  LOAD_PLATFORM,
} from '../load/shared.js';
import { setUpTemplate } from '../crash/shared.js';
import type { ReliabilityFigure, ReliabilityResult, ReliabilityScale, ReliabilitySuite } from '../suite.js';

/**
 * Signings per run: 10,000 at full scale, about 140,000 vendor calls (under an hour at 50 QPS); CI runs 120, about
 * 40 s at the limit.
 */
const SIGNINGS: Record<ReliabilityScale, number> = { full: 10_000, ci: 120 };
/**
 * Above this many `sign-flow-list` calls per created flow, the lookup before create is a finding: the vendor calls per
 * signing would grow with the day's volume.
 */
const LIST_CALLS_PER_CREATE = 2;
/** The vendor's limit (the emulator refuses beyond it) and the client's pace: the same 50 requests per second. */
const VENDOR_QPS = 50;
const CLIENT_QPS = 50;
/** What every vendor request waits before it is answered. */
const LATENCY_MS = 150;
/**
 * Effects the worker holds at once. At 50 QPS and 150 ms a call, about 8 vendor calls are in flight when the limit
 * is reached; 32 leaves room for effects that are between calls (writing to the database, verifying a PDF).
 */
const WORKER_CONCURRENCY = 32;
/** The host's RSS at the end may exceed its RSS at 20 % of the run by this much before it is a finding. */
const RSS_MARGIN = 0.25;
/**
 * How long a signing may take (`deadlineMs`). All 10,000 are submitted at once and the vendor's 50 QPS drains them in
 * about 50 minutes, so the default 30 minutes would fail the last third at their deadline (their flows expire at
 * e签宝), which is the deadline doing its job, not what this suite measures. A host that queues more work than its
 * vendor limit clears within the deadline sets it the same way.
 */
const DEADLINE_MS = 4 * 60 * 60_000;
/** The run gives up when no signing finished for this long. */
const STALL_MS = 5 * 60_000;
/** How often RSS and heap are sampled. */
const SAMPLE_MS = 2_000;
const HASH_KEY = 'reliability-load-hash-key-0123456789';
const EXEC_ARGV = ['--import', 'tsx', '--conditions=@sealflow/source'];

/** One loan contract, sealed by the platform and signed for the borrower under her silent-sign authorisation. */
const SCENES: SigningSceneInput[] = [
  {
    code: 'LOAN_CONTRACT',
    name: '借款合同签章',
    documents: [
      { key: 'loan-contract', documentType: 'LOAN_CONTRACT', templateCode: 'LOAN_CONTRACT', fileName: '借款合同.pdf' },
    ],
    parties: [
      { role: 'borrower', kind: 'person', signing: 'auto', order: 1 },
      { role: 'platform', kind: 'organization', signing: 'auto', order: 2 },
    ],
  },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

// ---------------------------------------------------------------------------------------------------------------
// The vendor process

interface VendorProcess {
  config: EsignServerConfig;
  census(): Promise<EsignServerCensus>;
  stop(): void;
}

async function startVendor(): Promise<VendorProcess> {
  const script = fileURLToPath(new URL('../load/esign-server.ts', import.meta.url));
  const task = { qps: VENDOR_QPS, latencyMs: LATENCY_MS, borrowers: LOAD_BORROWERS };
  const child: ChildProcess = fork(script, [JSON.stringify(task)], {
    // The emulator keeps every flow and PDF it was given: 10,000 signings need more than the default heap.
    execArgv: [...EXEC_ARGV, '--max-old-space-size=8192'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <K extends FromEsignServer['kind']>(kind: K, timeoutMs: number) =>
    new Promise<Extract<FromEsignServer, { kind: K }>>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', listener);
        reject(new Error(`the e签宝 emulator process did not answer '${kind}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const listener = (message: FromEsignServer) => {
        if (message.kind !== kind) return;
        clearTimeout(timer);
        child.off('message', listener);
        resolve(message as Extract<FromEsignServer, { kind: K }>);
      };
      child.on('message', listener);
    });
  const { config } = await next('ready', 60_000);
  return {
    config,
    async census() {
      const answer = next('census', 60_000);
      child.send({ kind: 'census' });
      return (await answer).census;
    },
    stop: () => child.kill('SIGTERM'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The host

interface Database {
  name: string;
  persistence: Persistence;
  drop(): Promise<void>;
}

/**
 * PostgreSQL in a schema of its own (dropped afterwards); PGlite on disk without a server, or when
 * `RELIABILITY_LOAD_DATABASE=pglite` asks for it (a machine whose PostgreSQL is busy with something else).
 */
async function openDatabase(): Promise<Database> {
  const chosen = process.env.RELIABILITY_LOAD_DATABASE === 'pglite';
  const { url, skip } = chosen
    ? { url: '', skip: 'chosen with RELIABILITY_LOAD_DATABASE=pglite' }
    : await probePostgres();
  if (skip === undefined) {
    const schema = `reliability_load_${randomBytes(4).toString('hex')}`;
    const persistence = await postgresPersistence({ connectionString: url, schema, max: 10 });
    return {
      name: 'PostgreSQL',
      persistence,
      async drop() {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'sealflow-load-pglite-'));
  return {
    name: `PGlite on disk (${skip})`,
    persistence: await pglitePersistence({ dataDir }),
    drop: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** Where e签宝's callbacks go: a real HTTP endpoint handing each to `handleVendorCallback`. */
async function callbackServer(host: () => Sealflow | undefined): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const sealflow = host();
      if (!sealflow) {
        res.writeHead(503).end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      sealflow.signing
        .handleVendorCallback('esign', {
          headers: Object.fromEntries(
            Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
          ),
          query: Object.fromEntries(url.searchParams),
          rawBody: new Uint8Array(Buffer.concat(chunks)),
        })
        .then(
          () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":"200","msg":"success"}'),
          () => res.writeHead(500).end(),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/esign/notify`, server };
}

async function openHost(persistence: Persistence, vendor: EsignServerConfig, callbackUrl: string, root: string) {
  return createSealflow({
    persistence,
    documents: fsDocumentStore({ root }),
    vendors: {
      esign: esignVendor({
        appId: vendor.appId,
        appSecret: vendor.appSecret,
        host: vendor.baseUrl,
        qps: CLIENT_QPS,
        unknownFlowCodes: [ESIGN_CODES.FLOW_NOT_FOUND],
        personSilentSign: { enabled: true },
        // A create is noted before it is sent, so only a retry reads e签宝's flow list.
        createLog: persistentEsignCreateLog({ persistence }),
      }),
    },
    callbackUrl: () => callbackUrl,
    hashKey: HASH_KEY,
    deadlineMs: DEADLINE_MS,
    verifyPdf: verifyPdfSignatures,
    organizations: {
      platform: { name: LOAD_PLATFORM.name, creditCode: LOAD_PLATFORM.creditCode, sealId: vendor.sealId },
    },
    scenes: SCENES,
    approvalLevels: [{ name: 'legal', roles: ['legal'] }],
    identityVerifier: { check: async () => ({ verified: true, method: 'telecom-three-element' }) },
    templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    logger: silentLogger,
    worker: { concurrency: WORKER_CONCURRENCY, pollMs: 50 },
    start: true,
  });
}

function signRequest(n: number, version: string, consentAt: number) {
  return {
    businessNo: `LOAD-${String(n).padStart(5, '0')}`,
    scene: 'LOAN_CONTRACT',
    borrower: LOAD_BORROWERS[n % LOAD_BORROWERS.length]!,
    values: { loan: { amount: `${80_000 + (n % 1_000)}.00` }, credit: { limit: '100000.00' } },
    consent: {
      at: consentAt,
      channel: 'app',
      ip: '203.0.113.9',
      device: 'Android 15',
      documentVersionsShown: [version],
    },
    actor: { id: 'lending-system' },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

interface Sample {
  at: number;
  rss: number;
  heapUsed: number;
  completed: number;
}

async function run(scale: ReliabilityScale): Promise<ReliabilityResult> {
  const total = SIGNINGS[scale];
  const findings: string[] = [];
  const figures: ReliabilityFigure[] = [];
  const documentsDir = mkdtempSync(join(tmpdir(), 'sealflow-load-documents-'));
  const vendor = await startVendor();
  const database = await openDatabase();
  let host: Sealflow | undefined;
  const callbacks = await callbackServer(() => host);
  const intervals: ReturnType<typeof setInterval>[] = [];
  try {
    host = await openHost(database.persistence, vendor.config, callbacks.url, documentsDir);
    const sealflow = host;
    const version = await setUpTemplate(sealflow);
    const completed = new Set<string>();
    const failed = new Map<string, string>();
    sealflow.events.on('signing.completed', (e) => {
      completed.add(e.payload.recordId);
    });
    sealflow.events.on('signing.failed', (e) => {
      failed.set(e.payload.recordId, JSON.stringify(e.payload).slice(0, 300));
    });

    const samples: Sample[] = [];
    const sample = () => {
      const memory = process.memoryUsage();
      samples.push({ at: Date.now(), rss: memory.rss, heapUsed: memory.heapUsed, completed: completed.size });
    };
    const start = Date.now();
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    intervals.push(sampler);
    // A long run says how far it is, so a person watching knows it is moving.
    const progress = setInterval(() => {
      const elapsed = Math.round((Date.now() - start) / 1000);
      console.error(`  load: ${completed.size} of ${total} completion events, ${failed.size} failed, ${elapsed} s`);
    }, 30_000);
    intervals.push(progress);

    // Every signing at once, as a lending system's requests arrive in a busy hour: eight lanes calling `sign`.
    const ids: string[] = new Array(total);
    const queue = Array.from({ length: total }, (_, n) => n);
    const refused: string[] = [];
    const lane = async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        try {
          ids[n] = (await sealflow.signing.sign(signRequest(n, version, start))).id;
        } catch (error) {
          refused.push(`signing ${n}: ${(error as { code?: string }).code ?? String(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
    const submittedAt = Date.now();

    // However long the vendor's pace makes it, but not stuck: give up after 5 minutes in which no signing finished
    // and the vendor saw no call. (Completions come late: the worker takes effects in the order they became due, so
    // under a backlog every signing's last step waits behind every other signing's earlier ones.)
    const expected = total - refused.length;
    let lastProgress = Date.now();
    let lastCount = 0;
    let lastCalls = 0;
    let lastCensus = Date.now();
    while (completed.size + failed.size < expected && Date.now() - lastProgress < STALL_MS) {
      await sleep(500);
      if (completed.size + failed.size !== lastCount) {
        lastCount = completed.size + failed.size;
        lastProgress = Date.now();
      }
      if (Date.now() - lastCensus > 15_000) {
        lastCensus = Date.now();
        const { requests } = await vendor.census();
        if (requests !== lastCalls) {
          lastCalls = requests;
          lastProgress = Date.now();
        }
      }
    }
    const end = Date.now();
    sample();
    clearInterval(sampler);
    clearInterval(progress);
    const census = await vendor.census();

    // Every signing read back: COMPLETED, whatever the events said.
    const statuses = new Map<string, number>();
    const notCompleted: string[] = [];
    for (const [n, id] of ids.entries()) {
      if (id === undefined) continue;
      const record = await sealflow.signing.get(id);
      const status = record?.status ?? 'missing';
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status !== 'COMPLETED' && notCompleted.length < 5) {
        notCompleted.push(`LOAD-${n}: ${status}${record?.failure ? ` (${record.failure.code})` : ''}`);
      }
    }
    const completedCount = statuses.get('COMPLETED') ?? 0;

    // The vendor's rate per 10 s window over the run (by the second each call reached the gateway).
    const windows: number[] = [];
    const firstSecond = Math.floor(start / 1000);
    const lastSecond = Math.floor(end / 1000);
    const calls = new Map(census.perSecond);
    for (let s = firstSecond; s + 10 <= lastSecond + 1; s += 10) {
      let sum = 0;
      for (let i = 0; i < 10; i++) sum += calls.get(s + i) ?? 0;
      windows.push(sum / 10);
    }
    const busiestSecond = Math.max(0, ...census.perSecond.map(([, c]) => c));
    // The steady part: after the first window with vendor calls (the ramp; before it the worker renders the
    // contracts, which needs no vendor) and before the last (the tail), when the backlog could keep the vendor busy.
    const firstBusy = windows.findIndex((w) => w > 0);
    const steady = firstBusy < 0 ? [] : windows.slice(firstBusy + 1, -1);
    const steadyMean = steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : Number.NaN;
    const seconds = (end - start) / 1000;
    const perSigning = census.requests / Math.max(1, completedCount);

    const rssAt = (fraction: number) => {
      const t = start + (end - start) * fraction;
      return samples.reduce((best, s) => (Math.abs(s.at - t) < Math.abs(best.at - t) ? s : best));
    };
    const series = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map((f) => {
      const s = rssAt(f);
      return `${Math.round(f * 100)} %: ${mb(s.rss)} / ${mb(s.heapUsed)}`;
    });
    const rss20 = rssAt(0.2).rss;
    const rssEnd = samples[samples.length - 1]!.rss;
    const rssMax = Math.max(...samples.map((s) => s.rss));

    figures.push(
      { label: 'Database', value: database.name },
      {
        label: 'Signings submitted (all at once, 8 lanes)',
        value: `${total} in ${((submittedAt - start) / 1000).toFixed(1)} s`,
      },
      {
        label: 'Vendor: limit, latency, client pace',
        value: `${VENDOR_QPS} requests/s per app (token bucket of ${VENDOR_QPS}), ${LATENCY_MS} ms, esignVendor qps ${CLIENT_QPS}`,
      },
      { label: 'Worker concurrency', value: WORKER_CONCURRENCY },
      { label: 'Signings COMPLETED', value: `${completedCount} of ${total}` },
      { label: 'Whole run', value: `${seconds.toFixed(0)} s (${(seconds / 60).toFixed(1)} min)` },
      { label: 'Signings completed per second', value: (completedCount / seconds).toFixed(2) },
      {
        label: 'Vendor API calls (per signing)',
        value: `${census.requests} (${perSigning.toFixed(1)}, plus 1 upload to storage each)`,
      },
      {
        label: 'Vendor API calls by route',
        value: census.perRoute.map(([route, count]) => `${route} ${count}`).join('; '),
      },
      { label: 'Rate-limit refusals (HTTP 429) from the emulator', value: census.rateLimited },
      {
        label: 'Vendor calls/s per 10 s window: steady mean, min, max',
        value: steady.length
          ? `${steadyMean.toFixed(1)}, ${Math.min(...steady).toFixed(1)}, ${Math.max(...steady).toFixed(1)}`
          : 'run shorter than three windows',
      },
      { label: 'Vendor calls in the busiest single second', value: busiestSecond },
      {
        label: 'Vendor calls/s per 10 s window (series)',
        value: windows.map((w) => w.toFixed(0)).join(' '),
      },
      { label: 'Host RSS: start, max, end', value: `${mb(samples[0]!.rss)}, ${mb(rssMax)}, ${mb(rssEnd)}` },
      { label: 'Host RSS / heap used at each 10 % of the run', value: series.join('; ') },
      { label: 'Emulator process RSS at the end (holds every flow and PDF)', value: mb(census.rssBytes) },
    );

    if (refused.length)
      findings.push(`${refused.length} signings refused by sign(), e.g. ${refused.slice(0, 3).join('; ')}`);
    if (completedCount !== total) {
      findings.push(
        `${total - completedCount} of ${total} signings not COMPLETED after ${seconds.toFixed(0)} s: ` +
          `${JSON.stringify(Object.fromEntries(statuses))}, e.g. ${notCompleted.join('; ')}` +
          (failed.size ? `; failed events: ${[...failed.values()].slice(0, 2).join('; ')}` : ''),
      );
    }
    if (census.rateLimited > 0) {
      findings.push(`the emulator refused ${census.rateLimited} requests for the ${VENDOR_QPS} QPS limit (HTTP 429)`);
    }
    // At CI scale the run is about a minute of ramp-up and tail: there is no steady part to judge.
    if (scale === 'full' && steady.length && steadyMean < VENDOR_QPS * 0.85) {
      findings.push(
        `the vendor was not kept at its limit: ${steadyMean.toFixed(1)} calls/s on average in the steady windows, ` +
          `below 85 % of ${VENDOR_QPS}`,
      );
    }
    const routeCount = (route: string) => census.perRoute.find(([r]) => r === route)?.[1] ?? 0;
    const creates = routeCount('POST /v3/sign-flow/create-by-file');
    const lists = routeCount('POST /v3/sign-flow/sign-flow-list');
    figures.push({
      label: 'sign-flow-list calls per created flow (the lookup before each create)',
      value: creates ? (lists / creates).toFixed(1) : 'no flow created',
    });
    if (creates && lists / creates > LIST_CALLS_PER_CREATE) {
      findings.push(
        `esignVendor.createFlow read ${(lists / creates).toFixed(1)} sign-flow-list pages per created flow ` +
          `(${lists} for ${creates}): the lookup for an earlier try reads every flow of the last day, one page per 100, ` +
          'so the vendor calls per signing grow with the day’s volume and the throughput at a fixed QPS falls',
      );
    }
    if (rssEnd > rss20 * (1 + RSS_MARGIN)) {
      findings.push(
        `host RSS grew from ${mb(rss20)} at 20 % of the run to ${mb(rssEnd)} at the end, more than ${RSS_MARGIN * 100} %`,
      );
    }
    return { passed: findings.length === 0, figures, findings };
  } finally {
    for (const interval of intervals) clearInterval(interval);
    await host?.close().catch(() => {});
    callbacks.server.close();
    vendor.stop();
    await database.drop().catch(() => {});
    rmSync(documentsDir, { recursive: true, force: true });
  }
}

const suite: ReliabilitySuite = {
  name: 'load',
  title: 'Load: thousands of signings at a vendor’s QPS limit',
  description: `
A lender's busy hour meets a vendor's contractual limit. The e签宝 emulator runs in a process of its own, served over
real HTTP, as e签宝's gateway behaves for an app with an agreed limit: **${VENDOR_QPS} requests per second** per app (a
token bucket holding one second's worth, refilled continuously; a request beyond it is refused with HTTP 429 and does
nothing) and **${LATENCY_MS} ms** before every answer. One host (\`createSealflow\` with its background worker,
${WORKER_CONCURRENCY} effects at once, on PostgreSQL in a schema of its own, dropped afterwards; PGlite on disk when no
server is reachable or \`RELIABILITY_LOAD_DATABASE=pglite\` asks for it) submits every signing at once (${SIGNINGS.full.toLocaleString('en')} at full scale,
${SIGNINGS.ci} in CI) with a deadline of ${DEADLINE_MS / 3_600_000} hours (the default 30 minutes is shorter than the
backlog takes to clear at the vendor's limit, and would fail the last signings at their deadline), each a loan contract sealed by the platform and signed for the borrower under her silent-sign
authorisation, through \`esignVendor\` configured with \`qps: ${CLIENT_QPS}\`. e签宝's callbacks reach the host's
\`handleVendorCallback\` over HTTP; archived PDFs go to the file-system document store and are verified as usual.

What is measured, and why:

- **Vendor calls per second, per 10 s window**, counted by the emulator's process as the calls arrive. The client's
  own pacing has to keep the vendor at its limit (otherwise throughput is left unused) without ever going over it.
  The steady part is every window after the first one with calls (before it the worker renders the contracts, which
  needs no vendor) and before the last; a steady mean below 85 % of the limit is a finding.
- **Rate-limit refusals** the emulator answered. Any refusal is a finding: a client that goes over its limit gets
  429s, and retries with backoff on top of a full queue turn into a storm of them.
- **Signings completed per second, and every signing COMPLETED**: read back one by one at the end, whatever the events
  said. With N vendor calls per signing, the ceiling is ${VENDOR_QPS} / N signings per second.
- **The host's RSS and V8 heap**, sampled every ${SAMPLE_MS / 1000} s (start, maximum, end, and at every tenth of the
  run). Thousands of workflows waiting must live in the database, not in memory: RSS at the end more than
  ${RSS_MARGIN * 100} % above RSS at 20 % of the run (once the start-up and the submissions are behind) is a finding.
  The emulator's process holds every flow and PDF it was given, so its memory grows by design and is not the host's.
- **Vendor calls by route, and \`sign-flow-list\` calls per created flow.** e签宝 takes no idempotency key, so a
  retried create must look for the flow an earlier, unanswered try made, in the app's flow list (one page of 100
  flows per call). The host's \`esignVendor\` has a create log in its database (\`persistentEsignCreateLog\`): a
  create is noted before it is sent, so one never sent before goes out without a lookup and only a retry reads the
  list, back to its first try. More than ${LIST_CALLS_PER_CREATE} pages per create on average is a finding: the calls
  per signing would grow with the day's volume. That is what this suite found before the create log existed, when
  every create read the whole day's list: 5.5 pages per create at 1,000 signings, about 50 at 5,000, so 10,000
  signings would have needed about 525,000 calls (three hours at ${VENDOR_QPS} QPS) instead of about 140,000.
`,
  run,
};

export default suite;
