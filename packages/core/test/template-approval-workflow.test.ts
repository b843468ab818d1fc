import { describe, expect, it } from 'vitest';
import { createRuntime, templateWorkflows } from '../src/index.js';
import { type ApprovalContext, type ApprovalInput, approvalRefusal } from '../src/templates/approval-workflow.js';
import { createManualClock, createMemoryPersistence } from '../src/memory/index.js';
import { expectError } from './template-fixtures.js';

/** The machine on its own, driven through the runtime: its guards hold even for a caller that skips the service. */
function setupMachine() {
  const clock = createManualClock();
  const persistence = createMemoryPersistence();
  const runtime = createRuntime({ persistence, clock, scheduler: clock, workflows: templateWorkflows() });
  const input = (overrides: Partial<ApprovalInput> = {}): ApprovalInput => ({
    versionId: 'T.v0001',
    code: 'T',
    version: 1,
    submittedBy: 'alice',
    levels: [
      { name: 'legal', roles: ['legal'] },
      { name: 'risk', roles: ['risk', 'cro'] },
    ],
    ...overrides,
  });
  return { clock, persistence, runtime, input };
}

describe('template approval machine', () => {
  it('needs every level, in order, and finishes approved', async () => {
    const { runtime, input } = setupMachine();
    await runtime.start('template-approval', { id: 'a1', input: input() });
    await runtime.send('a1', { type: 'APPROVE', actorId: 'lee', roles: ['legal'], level: 1 });
    const done = await runtime.send('a1', { type: 'APPROVE', actorId: 'cora', roles: ['cro'], level: 2 });
    expect(done).toMatchObject({ status: 'done', stateValue: 'approved' });
    expect((done.context as ApprovalContext).approvals).toEqual([
      { level: 1, actorId: 'lee' },
      { level: 2, actorId: 'cora' },
    ]);
  });

  it('refuses, in the machine itself, a wrong role, the submitter, a second level by one person and a stale level', async () => {
    const { runtime, input } = setupMachine();
    await runtime.start('template-approval', { id: 'a2', input: input() });
    await expectError(
      runtime.send('a2', { type: 'APPROVE', actorId: 'ray', roles: ['risk'], level: 1 }),
      'EVENT_NOT_ACCEPTED',
    );
    await expectError(
      runtime.send('a2', { type: 'APPROVE', actorId: 'alice', roles: ['legal'], level: 1 }),
      'EVENT_NOT_ACCEPTED',
    );
    await runtime.send('a2', { type: 'APPROVE', actorId: 'bo', roles: ['legal', 'risk'], level: 1 });
    await expectError(
      runtime.send('a2', { type: 'APPROVE', actorId: 'bo', roles: ['legal', 'risk'], level: 2 }),
      'EVENT_NOT_ACCEPTED',
    );
    await expectError(
      runtime.send('a2', { type: 'APPROVE', actorId: 'ray', roles: ['risk'], level: 1 }),
      'EVENT_NOT_ACCEPTED',
    );
    await expectError(runtime.send('a2', { type: 'WITHDRAW', actorId: 'ray' }), 'EVENT_NOT_ACCEPTED');
    const state = await runtime.get('a2');
    expect(state?.stateValue).toBe('pending.untimed');
    expect((state!.context as ApprovalContext).approvals).toHaveLength(1);
  });

  it('two events for the same level at once: the runtime serialises them and the second is refused', async () => {
    const { runtime, input } = setupMachine();
    await runtime.start('template-approval', { id: 'a3', input: input() });
    const results = await Promise.allSettled([
      runtime.send('a3', { type: 'APPROVE', actorId: 'lee', roles: ['legal'], level: 1 }),
      runtime.send('a3', { type: 'APPROVE', actorId: 'lin', roles: ['legal'], level: 1 }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const context = (await runtime.get('a3'))!.context as ApprovalContext;
    expect(context.level).toBe(2);
    // The rule that refused it, as the service reports it.
    const loser = context.approvals[0]!.actorId === 'lee' ? 'lin' : 'lee';
    expect(approvalRefusal(context, { actorId: loser, roles: ['legal'], level: 1 })?.code).toBe(
      'APPROVAL_LEVEL_MISMATCH',
    );
  });

  it('refuses every maker at every level, compared by normalised id, even for a caller that skips the service', async () => {
    const { runtime, input } = setupMachine();
    await runtime.start('template-approval', { id: 'm1', input: input({ makers: ['Eve', 'ＡＮＮ'] }) });
    const approve = (actorId: string, level: number) =>
      runtime.send('m1', { type: 'APPROVE', actorId, roles: ['legal', 'risk'], level });
    expect(((await runtime.get('m1'))!.context as ApprovalContext).makers).toEqual(['eve', 'ann', 'alice']);
    for (const maker of ['eve', 'EVE', ' Eve ', 'ann', 'Ann', 'ALICE', 'ａｌｉｃｅ']) {
      await expectError(approve(maker, 1), 'EVENT_NOT_ACCEPTED');
    }
    await approve('lee', 1);
    for (const maker of ['eve', 'ann', 'Alice']) await expectError(approve(maker, 2), 'EVENT_NOT_ACCEPTED');
    const context = (await runtime.get('m1'))!.context as ApprovalContext;
    expect(approvalRefusal(context, { actorId: 'EVE', roles: ['risk'], level: 2 })?.details).toMatchObject({
      rule: 'makerCannotApprove',
    });
    expect(approvalRefusal(context, { actorId: 'Alice ', roles: ['risk'], level: 2 })?.details).toMatchObject({
      rule: 'submitterCannotApprove',
    });
    // Only the submitter withdraws, whatever the capitals.
    await runtime.send('m1', { type: 'WITHDRAW', actorId: 'ALICE' });
    expect((await runtime.get('m1'))?.stateValue).toBe('withdrawn');
  });

  it('many events at once, makers among them: only a checker moves the request', async () => {
    const { runtime, input } = setupMachine();
    await runtime.start('template-approval', { id: 'm2', input: input({ makers: ['eve'] }) });
    const makers = ['eve', 'Eve', 'EVE', 'alice', 'Alice', 'ALICE'];
    const results = await Promise.allSettled([
      ...makers.map((actorId) => runtime.send('m2', { type: 'APPROVE', actorId, roles: ['legal'], level: 1 })),
      runtime.send('m2', { type: 'APPROVE', actorId: 'lee', roles: ['legal'], level: 1 }),
    ]);
    expect(results.map((r) => r.status)).toEqual([...makers.map(() => 'rejected'), 'fulfilled']);
    expect(((await runtime.get('m2'))!.context as ApprovalContext).approvals).toEqual([{ level: 1, actorId: 'lee' }]);
  });

  it('migrates a version 1 snapshot, which had no makers, to one whose makers are its submitter', async () => {
    const { runtime, persistence, input } = setupMachine();
    await runtime.start('template-approval', { id: 'old', input: input({ makers: ['eve'] }) });
    await persistence.transaction(async (tx) => {
      const row = (await tx.workflows.get('old'))!;
      const snapshot = structuredClone(row.snapshot) as { context: Partial<ApprovalContext> };
      delete snapshot.context.makers;
      await tx.workflows.update('old', row.rowVersion, { ...row, machineVersion: 1, snapshot });
    });
    await expectError(
      runtime.send('old', { type: 'APPROVE', actorId: 'Alice', roles: ['legal'], level: 1 }),
      'EVENT_NOT_ACCEPTED',
    );
    const state = await runtime.send('old', { type: 'APPROVE', actorId: 'lee', roles: ['legal'], level: 1 });
    expect(state.machineVersion).toBe(2);
    expect((state.context as ApprovalContext).makers).toEqual(['alice']);
  });

  it('schedules a durable deadline only when one is given, and escalation keeps it pending', async () => {
    const { runtime, persistence, clock, input } = setupMachine();
    await runtime.start('template-approval', { id: 'no-deadline', input: input() });
    await runtime.start('template-approval', { id: 'deadline', input: input({ deadlineMs: 3_600_000 }) });
    const timers = await persistence.transaction((tx) => tx.timers.list());
    expect(timers.map((t) => [t.workflowId, t.dueAt - clock.now()])).toEqual([['deadline', 3_600_000]]);
    clock.advance(3_600_000);
    await runtime.runOnce();
    const state = await runtime.get('deadline');
    expect(state).toMatchObject({ status: 'active', stateValue: 'pending.overdue' });
    expect((state!.context as ApprovalContext).escalated).toBe(true);
    const events = await persistence.transaction((tx) => tx.outbox.list({ kind: 'event' }));
    const escalations = events.filter((e) => e.type === 'template.approval.escalated');
    expect(escalations.map((e) => e.payload)).toEqual([
      {
        type: 'template.approval.escalated',
        versionId: 'T.v0001',
        code: 'T',
        version: 1,
        level: 1,
        levelName: 'legal',
      },
    ]);
    // A decision after escalation still ends the request, and cancels nothing twice.
    await runtime.send('deadline', { type: 'REJECT', actorId: 'lee', roles: ['legal'], level: 1, reason: '条款过期' });
    expect((await runtime.get('deadline'))?.stateValue).toBe('rejected');
  });
});
