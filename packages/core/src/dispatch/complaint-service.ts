/**
 * The complaint service: the commands people use on complaints, with the checks that explain a refusal, and the
 * record's free text written in the same transaction as the workflow's transition.
 *
 * Institution staff see and act on a complaint only once it is routed to their own institution. Views mask the
 * contact; `contact()` gives it in clear only to the people who call the customer back.
 */
import { ConflictError, IllegalTransitionError, NotFoundError, PermissionError, ValidationError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { maskMobile, maskName } from '../privacy.js';
import type { Runtime, WorkflowState } from '../runtime/runtime.js';
import {
  type ComplaintContact,
  type ComplaintIntake,
  type ComplaintRecord,
  type ComplaintRoute,
  type ComplaintStage,
  complaintIntakeSchema,
  complaintRecords,
  complaintRouteSchema,
  type Penalty,
  parseComplaintInput,
  penaltySchema,
} from './complaint.js';
import {
  COMPLAINT_TEAM_ROLES,
  type ComplaintContext,
  type ComplaintEvent,
  type ComplaintInput,
  complaintRefusal,
  complaintStageOf,
  stageRefusal,
} from './complaint-rules.js';
import { COMPLAINT_WORKFLOW, DEFAULT_REPORT_WITHIN_MS, reportDueAt } from './complaint-workflow.js';
import { checkDispatchActor, DISPATCH_ROLES, type DispatchActor, requireInstitutionStaff } from './roles.js';

/** Options of {@link createComplaintService}. */
export interface ComplaintServiceOptions {
  /** A runtime with `complaintWorkflow({ notifier })` registered. */
  runtime: Runtime;
  /** How long a routed institution has to report back (default three days). */
  reportWithinMs?: number;
}

/** A complaint as people see it: the record with the contact masked, and where the workflow stands. */
export interface ComplaintView extends Omit<ComplaintRecord, 'contact'> {
  /** Masked (王*, 138****5678); read it in clear with `contact()`. */
  contact: ComplaintContact;
  route: ComplaintRoute | null;
  reportDueAt: number | null;
  founded: boolean | null;
  penalty: Penalty | null;
  responsibleId: string | null;
  superiorId: string | null;
  confirmations: ComplaintContext['confirmations'];
  decidedAt: number | null;
  closedAt: number | null;
}

/** What an institution reports back: its talk with the customer and its internal outcome. */
export interface InstitutionReport {
  talk: string;
  outcome: string;
}

/** A founded complaint's decision: the penalty proposed, who confirms it, and a summary for the record. */
export interface ComplaintDecision {
  penalty: Penalty;
  /** The person responsible for the penalty decision (host user id); confirms it. */
  responsibleId: string;
  /** Their direct superior; confirms it too, and must be someone else. */
  superiorId: string;
  summary: string;
}

/** Which complaints to list. Institution staff always get their own institution's. */
export interface ComplaintFilter {
  stage?: ComplaintStage;
  institutionId?: string;
  afterId?: string;
  limit?: number;
}

/** The complaint commands and queries (see the module documentation for the flow). */
export interface ComplaintService {
  /** Customer service takes a complaint in (受理登记). The complaint number is its id; a repeat is a DUPLICATE. */
  receive(actor: DispatchActor, intake: ComplaintIntake): Promise<ComplaintView>;
  accept(actor: DispatchActor, complaintNo: string): Promise<ComplaintView>;
  /** Not accepted: the reply to the customer is kept and they are notified. */
  refuse(actor: DispatchActor, complaintNo: string, reply: string): Promise<ComplaintView>;
  /** A suggestion, not a complaint: recorded, and the customer thanked with `thanks`. */
  recordSuggestion(actor: DispatchActor, complaintNo: string, thanks: string): Promise<ComplaintView>;
  route(actor: DispatchActor, complaintNo: string, route: ComplaintRoute): Promise<ComplaintView>;
  /** The routed institution reports back (its own staff only). */
  report(actor: DispatchActor, complaintNo: string, report: InstitutionReport): Promise<ComplaintView>;
  confirmReport(actor: DispatchActor, complaintNo: string): Promise<ComplaintView>;
  investigate(
    actor: DispatchActor,
    complaintNo: string,
    finding: { founded: boolean; findings: string },
  ): Promise<ComplaintView>;
  decide(actor: DispatchActor, complaintNo: string, decision: ComplaintDecision): Promise<ComplaintView>;
  /** The person responsible, then their superior (or the other way round): two confirmations by two people. */
  confirmPenalty(actor: DispatchActor, complaintNo: string): Promise<ComplaintView>;
  /** The outcome is given to the customer; the complaint closes. */
  giveFeedback(actor: DispatchActor, complaintNo: string, reply: string): Promise<ComplaintView>;
  get(actor: DispatchActor, complaintNo: string): Promise<ComplaintView>;
  list(actor: DispatchActor, filter?: ComplaintFilter): Promise<ComplaintView[]>;
  /** The contact in clear, for customer service, follow-up, the review supervisor and the routed institution. */
  contact(actor: DispatchActor, complaintNo: string): Promise<ComplaintContact>;
}

const PLATFORM_VIEW_ROLES: readonly string[] = [
  ...DISPATCH_ROLES.filter((role) => role !== 'institution'),
  ...Object.values(COMPLAINT_TEAM_ROLES),
];
const CONTACT_ROLES: readonly string[] = ['customer-service', 'follow-up-manager', 'review-supervisor'];

const isInstitutionStaff = (actor: DispatchActor) =>
  actor.institutionId !== undefined || (actor.roles.includes('institution') && !hasAny(actor, PLATFORM_VIEW_ROLES));
const hasAny = (actor: DispatchActor, roles: readonly string[]) => roles.some((role) => actor.roles.includes(role));

/** Who may read a complaint: platform staff, or staff of the institution it was routed to. */
function requireVisible(actor: DispatchActor, record: ComplaintRecord, action: string): void {
  checkDispatchActor(actor);
  if (isInstitutionStaff(actor)) {
    requireInstitutionStaff(actor, record.routedInstitutionId ?? '', action);
    return;
  }
  if (!hasAny(actor, PLATFORM_VIEW_ROLES)) {
    throw new PermissionError(`Only dispatch staff may ${action}; actor ${actor.id} has no dispatch role.`);
  }
}

function note(field: string, value: unknown, max = 5_000): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max || value.includes('\u0000')) {
    throw new ValidationError(`${field} must be text of 1–${max} characters.`, { details: { field } });
  }
  return value.trim();
}

function maskContact(contact: ComplaintContact): ComplaintContact {
  return { name: maskName(contact.name), mobile: maskMobile(contact.mobile) };
}

function viewOf(record: ComplaintRecord, state: WorkflowState): ComplaintView {
  const context = state.context as ComplaintContext;
  return {
    ...record,
    contact: maskContact(record.contact),
    route: context.route,
    reportDueAt: reportDueAt(context),
    founded: context.founded,
    penalty: context.penalty,
    responsibleId: context.responsibleId,
    superiorId: context.superiorId,
    confirmations: context.confirmations,
    decidedAt: context.decidedAt,
    closedAt: context.closedAt,
  };
}

type RecordWrite = (record: ComplaintRecord, at: number, actorId: string) => Partial<ComplaintRecord>;

/** What the service's functions share: the runtime, its clock, and the report window new complaints get. */
interface ServiceContext {
  runtime: Runtime;
  reportWithinMs: number;
}

const inTransaction = <T>(ctx: ServiceContext, work: (tx: PersistenceTransaction) => Promise<T>) =>
  ctx.runtime.persistence.transaction(work);

async function load(
  ctx: ServiceContext,
  complaintNo: string,
): Promise<{ record: ComplaintRecord; state: WorkflowState }> {
  // Refused before the lookup: the number goes into the message, and an object there throws while being printed.
  if (typeof complaintNo !== 'string') {
    throw new ValidationError('complaintNo must be a complaint number (a string), as given when it was received.', {
      details: { path: 'complaintNo' },
    });
  }
  const stored = await inTransaction(ctx, (tx) => complaintRecords.get(tx, complaintNo));
  const state = stored ? await ctx.runtime.get(complaintNo) : null;
  if (!stored || !state || state.type !== COMPLAINT_WORKFLOW) {
    throw new NotFoundError(`There is no complaint ${String(complaintNo)}. Check the complaint number.`);
  }
  return { record: stored.record, state };
}

/**
 * Send one command: check it against the rules first (so the refusal names the rule), send it with the record's
 * text written in the same transaction, and if someone moved the complaint first, explain the refusal as it now is.
 */
async function command(
  ctx: ServiceContext,
  actor: DispatchActor,
  complaintNo: string,
  event: (base: { actorId: string; roles: string[]; institutionId?: string; at: number }) => ComplaintEvent,
  write?: RecordWrite,
): Promise<ComplaintView> {
  checkDispatchActor(actor);
  const before = await load(ctx, complaintNo);
  const sent = event({
    actorId: actor.id,
    roles: [...actor.roles],
    ...(actor.institutionId !== undefined ? { institutionId: actor.institutionId } : {}),
    at: ctx.runtime.clock.now(),
  });
  // Scoping first: another institution's staff learn nothing about the complaint, not even its stage.
  if (isInstitutionStaff(actor)) requireVisible(actor, before.record, 'act on this complaint');
  const refusalIn = (state: WorkflowState) =>
    stageRefusal(complaintNo, complaintStageOf(state.stateValue), sent.type) ??
    complaintRefusal(state.context as ComplaintContext, sent);
  const refusal = refusalIn(before.state);
  if (refusal) throw refusal;
  const alongside = write
    ? async (tx: PersistenceTransaction) => {
        const stored = await complaintRecords.get(tx, complaintNo);
        if (!stored) throw new NotFoundError(`There is no complaint ${complaintNo}.`);
        const change = write(stored.record, sent.at, actor.id);
        await complaintRecords.update(tx, stored, { ...stored.record, ...change }, sent.at);
      }
    : undefined;
  try {
    await ctx.runtime.send(complaintNo, sent, { actor: actor.id, alongside });
  } catch (error) {
    if (!(error instanceof IllegalTransitionError)) throw error;
    throw refusalIn((await load(ctx, complaintNo)).state) ?? error;
  }
  const after = await load(ctx, complaintNo);
  return viewOf(after.record, after.state);
}

function newRecord(actor: DispatchActor, intake: ComplaintIntake, at: number): ComplaintRecord {
  const parsed = parseComplaintInput(complaintIntakeSchema, intake, 'complaint');
  return {
    complaintNo: parsed.complaintNo,
    subject: parsed.subject,
    content: parsed.content,
    contact: parsed.contact,
    receivedAt: parsed.receivedAt ?? at,
    receivedBy: actor.id,
    customerId: parsed.customerId ?? null,
    applicationId: parsed.applicationId ?? null,
    institutionId: parsed.institutionId ?? null,
    routedInstitutionId: null,
    stage: 'received',
    reportOverdue: false,
    reply: null,
    report: null,
    findings: null,
    decision: null,
    feedback: null,
  };
}

async function receive(ctx: ServiceContext, actor: DispatchActor, intake: ComplaintIntake): Promise<ComplaintView> {
  checkDispatchActor(actor);
  if (isInstitutionStaff(actor) || !actor.roles.includes('customer-service')) {
    throw new PermissionError(`Only platform customer-service may take a complaint in; actor ${actor.id} cannot.`);
  }
  const at = ctx.runtime.clock.now();
  const record = newRecord(actor, intake, at);
  const input: ComplaintInput = {
    complaintNo: record.complaintNo,
    applicationId: record.applicationId,
    institutionId: record.institutionId,
    customerId: record.customerId,
    receivedBy: actor.id,
    reportWithinMs: ctx.reportWithinMs,
  };
  try {
    await ctx.runtime.start(COMPLAINT_WORKFLOW, {
      id: record.complaintNo,
      actor: actor.id,
      input,
      alongside: async (tx) => void (await complaintRecords.insert(tx, record, at)),
    });
  } catch (error) {
    if (error instanceof ConflictError && error.code === 'DUPLICATE') {
      throw new ConflictError('DUPLICATE', `Complaint ${record.complaintNo} was already taken in; open it instead.`, {
        details: { complaintNo: record.complaintNo },
      });
    }
    throw error;
  }
  const loaded = await load(ctx, record.complaintNo);
  return viewOf(loaded.record, loaded.state);
}

async function list(ctx: ServiceContext, actor: DispatchActor, filter: ComplaintFilter): Promise<ComplaintView[]> {
  checkDispatchActor(actor);
  let institution = filter.institutionId;
  if (isInstitutionStaff(actor)) {
    requireInstitutionStaff(actor, filter.institutionId ?? actor.institutionId ?? '', 'list complaints');
    institution = actor.institutionId;
  } else if (!hasAny(actor, PLATFORM_VIEW_ROLES)) {
    throw new PermissionError(`Only dispatch staff may list complaints; actor ${actor.id} has no dispatch role.`);
  }
  const tags: Record<string, string> = {};
  if (institution !== undefined) tags.institution = institution;
  if (filter.stage !== undefined) tags.stage = filter.stage;
  const stored = await inTransaction(ctx, (tx) =>
    complaintRecords.find(tx, { tags, afterId: filter.afterId, limit: filter.limit }),
  );
  const views: ComplaintView[] = [];
  for (const { record } of stored) {
    const state = await ctx.runtime.get(record.complaintNo);
    if (state) views.push(viewOf(record, state));
  }
  return views;
}

async function contact(ctx: ServiceContext, actor: DispatchActor, complaintNo: string): Promise<ComplaintContact> {
  checkDispatchActor(actor);
  const loaded = await load(ctx, complaintNo);
  requireVisible(actor, loaded.record, "read a complainant's contact");
  if (!isInstitutionStaff(actor) && !hasAny(actor, CONTACT_ROLES)) {
    throw new PermissionError(
      `Only ${CONTACT_ROLES.join(', ')} or the routed institution may read a complainant's contact.`,
    );
  }
  return { ...loaded.record.contact };
}

/** Create the complaint service over a runtime that has the complaint workflow registered. */
export function createComplaintService(options: ComplaintServiceOptions): ComplaintService {
  const reportWithinMs = options.reportWithinMs ?? DEFAULT_REPORT_WITHIN_MS;
  if (!Number.isSafeInteger(reportWithinMs) || reportWithinMs <= 0) {
    throw new ValidationError('reportWithinMs must be a positive whole number of milliseconds.', {
      details: { field: 'reportWithinMs' },
    });
  }
  const ctx: ServiceContext = { runtime: options.runtime, reportWithinMs };
  const noted = (field: keyof ComplaintRecord, text: string) => (_: ComplaintRecord, at: number, by: string) => ({
    [field]: { text, by, at },
  });
  return {
    receive: (actor, intake) => receive(ctx, actor, intake),
    accept: (actor, no) => command(ctx, actor, no, (base) => ({ ...base, type: 'ACCEPT' })),
    async refuse(actor, no, reply) {
      const write = noted('reply', note('reply', reply));
      return command(ctx, actor, no, (base) => ({ ...base, type: 'REFUSE' }), write);
    },
    async recordSuggestion(actor, no, thanks) {
      const write = noted('reply', note('thanks', thanks));
      return command(ctx, actor, no, (base) => ({ ...base, type: 'SUGGESTION' }), write);
    },
    async route(actor, no, route) {
      const parsed = parseComplaintInput(complaintRouteSchema, route, 'route');
      return command(ctx, actor, no, (base) => ({ ...base, type: 'ROUTE', route: parsed }));
    },
    async report(actor, no, report) {
      const talk = note('report.talk', report?.talk);
      const outcome = note('report.outcome', report?.outcome);
      const write: RecordWrite = (_, at, by) => ({ report: { talk, outcome, by, at } });
      return command(ctx, actor, no, (base) => ({ ...base, type: 'REPORT' }), write);
    },
    confirmReport: (actor, no) => command(ctx, actor, no, (base) => ({ ...base, type: 'CONFIRM_REPORT' })),
    async investigate(actor, no, finding) {
      if (typeof finding?.founded !== 'boolean') {
        throw new ValidationError('founded must be true or false.', { details: { field: 'founded' } });
      }
      const write = noted('findings', note('findings', finding.findings));
      return command(ctx, actor, no, (base) => ({ ...base, type: 'INVESTIGATE', founded: finding.founded }), write);
    },
    async decide(actor, no, decision) {
      const penalty = parseComplaintInput(penaltySchema, decision?.penalty, 'penalty');
      const write = noted('decision', note('summary', decision?.summary));
      const { responsibleId, superiorId } = decision;
      return command(
        ctx,
        actor,
        no,
        (base) => ({ ...base, type: 'DECIDE', penalty, responsibleId, superiorId }),
        write,
      );
    },
    confirmPenalty: (actor, no) => command(ctx, actor, no, (base) => ({ ...base, type: 'CONFIRM_PENALTY' })),
    async giveFeedback(actor, no, reply) {
      const write = noted('feedback', note('reply', reply));
      return command(ctx, actor, no, (base) => ({ ...base, type: 'FEEDBACK' }), write);
    },
    async get(actor, no) {
      checkDispatchActor(actor);
      const loaded = await load(ctx, no);
      requireVisible(actor, loaded.record, 'see this complaint');
      return viewOf(loaded.record, loaded.state);
    },
    list: (actor, filter = {}) => list(ctx, actor, filter),
    contact: (actor, no) => contact(ctx, actor, no),
  };
}
