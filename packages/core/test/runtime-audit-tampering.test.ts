/**
 * The workflow audit chain against someone with write access to the database: the last entries deleted, the row put
 * back to match, entries re-hashed with the public hash. Edits are applied to what the database hands back, exactly
 * as a changed row would be.
 */
import { describe, expect, it } from 'vitest';
import { type AuditEntry, type ChainKeys, type Persistence, type WorkflowRow, createRuntime } from '../src/index.js';
import { hashAuditEntry } from '../src/runtime/audit-chain.js';
import { createManualClock, createMemoryPersistence } from '../src/memory/index.js';
import { paymentWorkflow, scriptedCharge } from './fixtures/payment-workflow.js';
import { expectError } from './template-fixtures.js';

function databaseEditor(inner: Persistence) {
  const edits: {
    audit: ((entries: AuditEntry[]) => AuditEntry[]) | null;
    row: ((row: WorkflowRow) => WorkflowRow | null) | null;
  } = { audit: null, row: null };
  const persistence: Persistence = {
    name: inner.name,
    close: () => inner.close(),
    transaction: (work) =>
      inner.transaction((tx) =>
        work({
          ...tx,
          audit: {
            ...tx.audit,
            async list(streamId, options) {
              const entries = await tx.audit.list(streamId, options);
              return edits.audit ? edits.audit(entries) : entries;
            },
          },
          workflows: {
            ...tx.workflows,
            async get(id, options) {
              const row = await tx.workflows.get(id, options);
              return row && edits.row ? edits.row(row) : row;
            },
          },
        }),
      ),
  };
  return { persistence, edits };
}

async function confirmedPayment(auditKeys?: ChainKeys) {
  const base = createMemoryPersistence();
  const editor = databaseEditor(base);
  const clock = createManualClock();
  const runtime = createRuntime({
    persistence: editor.persistence,
    clock,
    scheduler: clock,
    workflows: [paymentWorkflow(scriptedCharge().effect)],
    ...(auditKeys ? { auditKeys } : {}),
  });
  await runtime.start('payment', { id: 'pay-1', input: { amount: 100 } });
  await runtime.runOnce();
  await runtime.send('pay-1', { type: 'TOP_UP', amount: 20 });
  await runtime.send('pay-1', { type: 'CONFIRM' });
  const verification = await runtime.verifyAudit('pay-1');
  expect(verification).toMatchObject({ ok: true, entries: 4, problems: [], workflow: [] });
  const entries = await base.transaction((tx) => tx.audit.list('pay-1'));
  const row = (await base.transaction((tx) => tx.workflows.get('pay-1')))!;
  return { runtime, editor, entries, row, base, clock };
}

const AUDIT_KEYS: ChainKeys = { current: 'audit-2026', keys: { 'audit-2026': 'runtime-audit-key-0123456789abcdef' } };

describe('workflow audit chain against a database editor', () => {
  it('(d) finds the last entry, or the last two, deleted — also without audit keys', async () => {
    const { runtime, editor, row } = await confirmedPayment();
    expect(row.rowVersion).toBe(4);

    editor.edits.audit = (entries) => entries.slice(0, -1);
    let verification = await runtime.verifyAudit('pay-1');
    expect(verification.problems).toEqual([]);
    expect(verification.ok).toBe(false);
    expect(verification.workflow).toEqual([{ kind: 'truncated', rowVersion: 4, auditedRowVersion: 3 }]);

    editor.edits.audit = (entries) => entries.slice(0, -2);
    verification = await runtime.verifyAudit('pay-1');
    expect(verification.workflow).toEqual([{ kind: 'truncated', rowVersion: 4, auditedRowVersion: 2 }]);

    editor.edits.audit = null;
    expect((await runtime.verifyAudit('pay-1')).ok).toBe(true);
  });

  it('finds a row edited or put back without its transition', async () => {
    const { runtime, editor, entries, row } = await confirmedPayment(AUDIT_KEYS);
    const snapshot = row.snapshot as { context: { amount: number } };

    // The amount edited in the row only.
    editor.edits.row = (r) => ({ ...r, snapshot: { ...snapshot, context: { ...snapshot.context, amount: 9_999 } } });
    expect((await runtime.verifyAudit('pay-1')).workflow).toEqual([{ kind: 'row-mismatch', rowVersion: 4 }]);

    // The last entry deleted and the row's version and state put back to match it: the snapshot gives it away.
    const previous = entries.at(-2)!.data as { to: string };
    editor.edits.audit = (list) => list.slice(0, -1);
    editor.edits.row = (r) => ({ ...r, rowVersion: 3, stateValue: previous.to, status: 'active' });
    expect((await runtime.verifyAudit('pay-1')).workflow).toEqual([{ kind: 'row-mismatch', rowVersion: 3 }]);

    // The row put back alone: the audit is ahead of it.
    editor.edits.audit = null;
    expect((await runtime.verifyAudit('pay-1')).workflow).toEqual([
      { kind: 'row-rolled-back', rowVersion: 3, auditedRowVersion: 4 },
    ]);

    // The row deleted.
    editor.edits.row = () => null;
    expect((await runtime.verifyAudit('pay-1')).workflow).toEqual([{ kind: 'workflow-missing' }]);
  });

  it('keys the chain with auditKeys, so entries re-hashed with the public hash no longer verify', async () => {
    const { runtime, editor, entries } = await confirmedPayment(AUDIT_KEYS);
    expect(entries.every((e) => e.hash.startsWith('hmac-sha256:audit-2026:'))).toBe(true);

    // The last transition rewritten to claim a different event, the chain re-hashed from there.
    editor.edits.audit = (list) =>
      list.map((e) => {
        if (e.seq !== list.length) return e;
        const partial = { ...e, data: { ...(e.data as object), event: { type: 'CANCEL' } } };
        return { ...partial, hash: hashAuditEntry(partial) };
      });
    const verification = await runtime.verifyAudit('pay-1');
    expect(verification.ok).toBe(false);
    expect(verification.problems).toEqual([{ seq: 4, kind: 'unkeyed' }]);

    // A runtime without the key cannot vouch for keyed entries, and says which key it needs.
    editor.edits.audit = null;
    const keyless = createRuntime({
      persistence: editor.persistence,
      workflows: [paymentWorkflow(scriptedCharge().effect)],
    });
    const error = await expectError(keyless.verifyAudit('pay-1'), 'CHAIN_KEY_MISSING');
    expect(error.message).toContain('"audit-2026"');
  });

  it('accepts a chain begun before audit keys were configured, pinned by the keyed entries after it', async () => {
    const persistence = createMemoryPersistence();
    const clock = createManualClock();
    const workflows = [paymentWorkflow(scriptedCharge().effect)];
    const before = createRuntime({ persistence, clock, scheduler: clock, workflows });
    await before.start('payment', { id: 'pay-3', input: { amount: 5 } });
    await before.runOnce();
    const keyed = createRuntime({ persistence, clock, scheduler: clock, workflows, auditKeys: AUDIT_KEYS });
    await keyed.send('pay-3', { type: 'CONFIRM' });
    const entries = await persistence.transaction((tx) => tx.audit.list('pay-3'));
    expect(entries.map((e) => e.hash.startsWith('hmac-sha256:'))).toEqual([false, false, true]);
    expect(await keyed.verifyAudit('pay-3')).toMatchObject({ ok: true, problems: [], workflow: [] });
    // A chain that stays wholly plain has only the plain hash's protection, and a keyed runtime says so.
    await before.start('payment', { id: 'pay-4', input: { amount: 5 } });
    expect((await keyed.verifyAudit('pay-4')).problems).toEqual([{ seq: 1, kind: 'unkeyed' }]);
  });

  it('keeps the chain and the row in step under concurrent events', async () => {
    const { runtime } = await confirmedPayment(AUDIT_KEYS);
    await runtime.start('payment', { id: 'pay-2', input: { amount: 1 } });
    await runtime.runOnce();
    await Promise.all(Array.from({ length: 25 }, () => runtime.send('pay-2', { type: 'TOP_UP', amount: 1 })));
    const verification = await runtime.verifyAudit('pay-2');
    expect(verification).toMatchObject({ ok: true, entries: 27, problems: [], workflow: [] });
    expect((await runtime.get('pay-2'))!.rowVersion).toBe(27);
  });

  it('refuses unusable audit keys when the runtime is created', () => {
    const create = (auditKeys: ChainKeys) => () =>
      createRuntime({ persistence: createMemoryPersistence(), workflows: [], auditKeys });
    expect(create({ current: 'k1', keys: { k1: 'too-short' } })).toThrow(
      'auditKeys is invalid: keys.k1 must be a secret of at least 16 bytes.',
    );
    expect(create({ current: 'k2', keys: {} })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
