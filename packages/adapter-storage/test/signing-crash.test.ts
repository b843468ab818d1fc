/**
 * Signing through SIGKILLs: a host process on PostgreSQL is killed at random moments — some of them exactly between
 * the vendor's commit and the answer reaching the host — and a fresh one takes over each time. The vendor lives in
 * this (parent) process behind the child's IPC channel, so it outlives every child and can be counted. Every signing
 * must end COMPLETED with exactly one vendor flow: none lost, none FAILED over a flow the vendor signed, none signed
 * twice.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createRuntime,
  createSigningGateway,
  createSigningService,
  createTemplateService,
  type SigningRecord,
  signingWorkflows,
  templateWorkflows,
  withIdNumberCheckChar,
} from '@sealflow/core';
import { createMemorySigningVendor } from '@sealflow/core/memory';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_TEMPLATE_PDF } from '../../../fixtures/paths.js';
import { sealedContractDefinition } from '../../../fixtures/signing-templates.js';
import { fsDocumentStore } from '../src/fs.js';
import { postgresPersistence } from '../src/postgres.js';
import { probePostgres } from './support/postgres.js';
import { crashEnvironment, type VendorCallMessage, type VendorReplyMessage } from './support/signing-crash-host.js';

const SIGNINGS = 200;
const KILLS = 10;
const PER_ROUND = SIGNINGS / KILLS;
const { url, skip } = await probePostgres();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skip !== undefined)('signing on PostgreSQL while the host process is SIGKILLed', () => {
  const schema = `crash_${randomBytes(4).toString('hex')}`;
  const documentsDir = mkdtempSync(join(tmpdir(), 'sealflow-crash-'));
  let pool: pg.Pool;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    rmSync(documentsDir, { recursive: true, force: true });
  });

  it(`${SIGNINGS} signings, ${KILLS} random SIGKILLs: all COMPLETED, one vendor flow each`, async () => {
    const vendor = createMemorySigningVendor({ capabilities: { callbacks: false, vendorTemplates: false } });
    const flowsByBusinessNo = new Map<string, Set<string>>();
    const persistence = await postgresPersistence({ pool, schema });
    const documents = fsDocumentStore({ root: documentsDir });
    const environment = crashEnvironment(createSigningGateway(vendor), documents);
    // This process starts signings and reads records; only the children run effects.
    const runtime = createRuntime({
      persistence,
      workflows: [...templateWorkflows(), ...signingWorkflows(environment)],
    });
    const templates = createTemplateService({
      runtime,
      documents,
      approvalLevels: [
        { name: 'legal', roles: ['legal'] },
        { name: 'risk', roles: ['risk'] },
      ],
    });
    const signing = createSigningService({
      ...environment,
      runtime,
      templates,
      identityVerifier: { check: async () => ({ verified: true, method: 'three-element' }) },
      templateCodes: { LOAN_CONTRACT: { 'loan-contract': 'LOAN_CONTRACT_V' } },
    });
    const draft = await templates.importTemplate(
      { id: 'alice', roles: ['template-editor'] },
      {
        code: 'LOAN_CONTRACT_V',
        name: 'LOAN_CONTRACT_V',
        documentType: 'LOAN_CONTRACT',
        pdf: new Uint8Array(readFileSync(CONTRACT_TEMPLATE_PDF)),
        definition: sealedContractDefinition(['platform']),
      },
    );
    await templates.submit({ id: 'alice', roles: ['template-editor'] }, draft.id);
    await templates.approve({ id: 'lee', roles: ['legal'] }, draft.id);
    await templates.approve({ id: 'ray', roles: ['risk'] }, draft.id);

    // --- the vendor, answering the current child; a kill can land between its commit and its answer ----------------
    let current: ChildProcess | undefined;
    /** When set, the next finished vendor call of a matching method kills the child instead of answering. */
    let armed: { matches: (method: string) => boolean; fired: () => void } | null = null;
    const lost: string[] = [];

    const answer = async (child: ChildProcess, call: VendorCallMessage) => {
      let reply: VendorReplyMessage;
      try {
        const method = vendor[call.method as 'getFlow'] as (...args: unknown[]) => Promise<unknown>;
        const value = await method.apply(vendor, call.args);
        if (call.method === 'createFlow') {
          const businessNo = (call.args[0] as { businessNo: string }).businessNo;
          const flows = flowsByBusinessNo.get(businessNo) ?? new Set<string>();
          flows.add((value as { flowId: string }).flowId);
          flowsByBusinessNo.set(businessNo, flows);
        }
        reply = { kind: 'vendor-reply', id: call.id, value };
      } catch (error) {
        const e = error as { code?: string; message?: string; retryable?: boolean; details?: Record<string, unknown> };
        reply = {
          kind: 'vendor-reply',
          id: call.id,
          error: {
            code: e.code ?? 'VENDOR_FAILURE',
            message: e.message ?? String(error),
            retryable: e.retryable ?? true,
            details: e.details,
          },
        };
      }
      if (armed && child === current && armed.matches(call.method)) {
        const { fired } = armed;
        armed = null;
        child.kill('SIGKILL');
        lost.push(call.method);
        fired();
        return;
      }
      await sleep(Math.random() * 5);
      if (!child.connected) return void lost.push(call.method);
      child.send(reply, (error) => {
        if (error) lost.push(call.method);
      });
    };

    const script = fileURLToPath(new URL('./support/signing-instance.ts', import.meta.url));
    const startChild = () =>
      new Promise<ChildProcess>((resolve, reject) => {
        const child = fork(script, [url, schema, documentsDir, JSON.stringify(vendor.capabilities)], {
          execArgv: ['--import', 'tsx', '--conditions=@sealflow/source'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          serialization: 'advanced',
        });
        children.push(child);
        child.on('error', () => {}); // sends to a child that was just killed
        child.on('message', (message: VendorCallMessage | 'ready') => {
          if (message === 'ready') resolve(child);
          else if (message?.kind === 'vendor-call') void answer(child, message);
        });
        child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before it was ready`)));
      });
    const kill = async (child: ChildProcess) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    };

    // --- signings arrive while the host is killed and replaced, again and again ----------------------------------
    const idNumber = withIdNumberCheckChar('31010119900307002');
    const ids: string[] = [];
    const sign = async (n: number) => {
      const record = await signing.sign({
        businessNo: `CRASH-${n}`,
        scene: 'LOAN_CONTRACT',
        borrower: { name: '欧阳娜娜', idNumber, mobile: '13912345678' },
        values: { loan: { amount: '88000.00' }, credit: { limit: '100000.00' } },
        consent: {
          at: Date.now(),
          channel: 'app',
          ip: '203.0.113.9',
          device: 'Android 15',
          documentVersionsShown: [draft.id],
        },
        actor: { id: 'lending-system' },
      });
      ids.push(record.id);
    };

    const started = Date.now();
    // The replacement is started ahead, so a kill never waits for a process to boot: two hosts share the database,
    // and the one killed is the one the vendor answers are armed against.
    let spare = startChild();
    current = await startChild();
    let kills = 0;
    for (let round = 0; round < KILLS; round++) {
      await Promise.all(Array.from({ length: PER_ROUND }, (_, i) => sign(round * PER_ROUND + i)));
      await sleep(100 + Math.random() * 500);
      const child = current;
      if (round % 2 === 0) {
        // Between the vendor's commit and its answer: every other time a createFlow, otherwise any call.
        const matches = round % 4 === 0 ? (m: string) => m === 'createFlow' : () => true;
        await new Promise<void>((resolve) => {
          armed = { matches, fired: resolve };
          setTimeout(resolve, 8_000);
        });
        armed = null;
      }
      const next = await spare;
      await kill(child);
      kills++;
      current = next;
      spare = startChild();
    }

    // --- the last child finishes the work ---------------------------------------------------------------------
    const records = new Map<string, SigningRecord>();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(300)) {
      for (const id of ids) {
        const known = records.get(id);
        if (known && (known.status === 'COMPLETED' || known.status === 'FAILED')) continue;
        records.set(id, (await signing.get(id))!);
      }
      if ([...records.values()].every((r) => r.status === 'COMPLETED' || r.status === 'FAILED')) break;
    }
    await kill(current);
    await kill(await spare);
    console.info(
      `[sealflow] signing crash test: ${SIGNINGS} signings, ${kills} kills, ${lost.length} vendor answers lost ` +
        `(${[...new Set(lost)].join(', ')}), ${Math.round((Date.now() - started) / 1000)} s`,
    );

    expect(kills).toBeGreaterThanOrEqual(10);
    expect(ids).toHaveLength(SIGNINGS);
    expect(lost).toContain('createFlow');
    const all = [...records.values()];
    const unfinished = all.filter((r) => r.status !== 'COMPLETED' && r.status !== 'FAILED');
    expect(
      unfinished.map((r) => `${r.businessNo}: ${r.stage}`),
      'lost signings',
    ).toEqual([]);
    const failed = all.filter((r) => r.status === 'FAILED');
    const failedButSigned: string[] = [];
    for (const r of failed) {
      for (const flowId of flowsByBusinessNo.get(r.businessNo) ?? []) {
        const flow = await vendor.getFlow(flowId, { idempotencyKey: 'check' });
        if (flow.status === 'completed') failedButSigned.push(`${r.businessNo}: ${r.failure?.code}`);
      }
    }
    expect(failedButSigned, 'FAILED although the vendor signed').toEqual([]);
    expect(failed.map((r) => `${r.businessNo}: ${r.failure?.code} ${r.failure?.message}`)).toEqual([]);
    // Exactly one vendor flow per signing, and it is the one the record names.
    for (const r of records.values()) {
      expect([...(flowsByBusinessNo.get(r.businessNo) ?? [])], r.businessNo).toEqual([r.vendor.flowId]);
    }
    expect(vendor.flowCount()).toBe(SIGNINGS);
    const dead = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".sealflow_outbox WHERE status = 'dead'`);
    expect(dead.rows[0].n).toBe(0);
    const [file] = await signing.download(ids[0]!);
    expect(Buffer.from(file!.bytes).toString('latin1')).toContain('signed by: borrower,platform');
    await persistence.close();
  }, 300_000);
});
