/**
 * Reading applications, scoped to who asks: platform staff see every application; an institution's staff see only
 * the applications dispatched to their institution, plus those the dispatch integration says were offered to it.
 * Anything else is, to them, not there — `get` answers null, `find` leaves it out — so an institution never learns
 * that another's application exists.
 */
import { ValidationError } from '../errors.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { APPLICATION_STATUSES, type ApplicationStatus, type LoanApplication } from './application.js';
import { type ApplicationEventType, actingRole, APPLICATION_EVENT_RULES } from './application-rules.js';
import { applicationRepository } from './application-workflow.js';
import { DISPATCH_ROLES, type DispatchActor, requireDispatchRole } from './roles.js';

/** How institutions' view of applications is widened beyond the application dispatched to them. */
export interface ApplicationVisibility {
  /**
   * The ids of applications offered to `institutionId` (during dispatch, before one is chosen). Its staff may see
   * them too. Without it, an institution sees only applications dispatched to it.
   */
  offeredTo?: ((tx: PersistenceTransaction, institutionId: string) => Promise<readonly string[]>) | undefined;
}

/** Which applications to list. Every field narrows the list; an institution's list is always its own. */
export interface ApplicationListFilter {
  status?: ApplicationStatus;
  customerManagerId?: string;
  institutionId?: string;
  productCode?: string;
  /** Default 100, at most 500. */
  limit?: number;
  /** Keyset pagination: the last `applicationId` of the previous page. */
  afterId?: string;
}

/** One transition in an application's history, as its tamper-evident audit chain records it. */
export interface ApplicationHistoryEntry {
  seq: number;
  at: number;
  actorId: string;
  /** The event (`PASS`, `DISBURSED`, …), or `OPENED` for the start. */
  event: string;
  /** The role the actor acted in, when the event carries one. */
  role: string | null;
  from: string | null;
  to: string;
  reason: string | null;
}

const READ_ACTION = 'read loan applications';

/** The institution an actor is confined to, `null` for one confined to none, `undefined` for platform staff. */
function institutionScope(actor: DispatchActor): string | null | undefined {
  if (actor.institutionId) return actor.institutionId;
  const platformRoles = DISPATCH_ROLES.filter((role) => role !== 'institution');
  if (platformRoles.some((role) => actor.roles.includes(role))) return undefined;
  return null;
}

async function offered(tx: PersistenceTransaction, visibility: ApplicationVisibility, institutionId: string) {
  return new Set(visibility.offeredTo ? await visibility.offeredTo(tx, institutionId) : []);
}

async function visibleTo(
  tx: PersistenceTransaction,
  visibility: ApplicationVisibility,
  actor: DispatchActor,
  application: LoanApplication,
): Promise<boolean> {
  const scope = institutionScope(actor);
  if (scope === undefined) return true;
  if (scope === null) return false;
  if (application.institutionId === scope) return true;
  return (await offered(tx, visibility, scope)).has(application.applicationId);
}

/** The application if `actor` may see it, else null. */
export async function readApplication(
  tx: PersistenceTransaction,
  visibility: ApplicationVisibility,
  actor: DispatchActor,
  id: string,
): Promise<LoanApplication | null> {
  requireDispatchRole(actor, DISPATCH_ROLES, READ_ACTION);
  if (typeof id !== 'string' || id === '') return null;
  const stored = await applicationRepository.get(tx, id);
  if (!stored) return null;
  return (await visibleTo(tx, visibility, actor, stored.record)) ? stored.record : null;
}

function checkFilter(filter: ApplicationListFilter): number {
  if (filter.status !== undefined && !APPLICATION_STATUSES.includes(filter.status)) {
    throw new ValidationError(`status must be one of ${APPLICATION_STATUSES.join(', ')}.`, {
      details: { field: 'status' },
    });
  }
  const limit = filter.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 500) {
    throw new ValidationError('limit must be a whole number from 1 to 500.', { details: { field: 'limit' } });
  }
  for (const field of ['customerManagerId', 'institutionId', 'productCode', 'afterId'] as const) {
    const value = filter[field];
    if (value !== undefined && (typeof value !== 'string' || value === '' || value.includes('\u0000'))) {
      throw new ValidationError(`${field} must be a non-empty string.`, { details: { field } });
    }
  }
  return limit;
}

function matches(application: LoanApplication, filter: ApplicationListFilter): boolean {
  return (
    (filter.status === undefined || application.status === filter.status) &&
    (filter.customerManagerId === undefined || application.customerManagerId === filter.customerManagerId) &&
    (filter.productCode === undefined || application.productCode === filter.productCode) &&
    (filter.afterId === undefined || application.applicationId > filter.afterId)
  );
}

/** Applications matching `filter` that `actor` may see, ordered by id. */
export async function findApplications(
  tx: PersistenceTransaction,
  visibility: ApplicationVisibility,
  actor: DispatchActor,
  filter: ApplicationListFilter = {},
): Promise<LoanApplication[]> {
  requireDispatchRole(actor, DISPATCH_ROLES, READ_ACTION);
  const limit = checkFilter(filter);
  const scope = institutionScope(actor);
  if (scope === null || (scope !== undefined && filter.institutionId !== undefined && filter.institutionId !== scope)) {
    return [];
  }
  const institutionId = scope ?? filter.institutionId;
  const tags: Record<string, string> = {};
  if (filter.status) tags.status = filter.status;
  if (filter.customerManagerId) tags.customerManagerId = filter.customerManagerId;
  if (filter.productCode) tags.productCode = filter.productCode;
  if (institutionId) tags.institutionId = institutionId;
  const page = (
    await applicationRepository.find(tx, { tags, limit, ...(filter.afterId ? { afterId: filter.afterId } : {}) })
  ).map((s) => s.record);
  if (scope === undefined) return page;
  const seen = new Set(page.map((a) => a.applicationId));
  for (const id of await offered(tx, visibility, scope)) {
    if (seen.has(id)) continue;
    const stored = await applicationRepository.get(tx, id);
    if (stored && matches(stored.record, filter)) page.push(stored.record);
  }
  return page.sort((a, b) => (a.applicationId < b.applicationId ? -1 : 1)).slice(0, limit);
}

/** The transitions of an application the actor may see, oldest first; refused as not found otherwise. */
export async function readHistory(
  tx: PersistenceTransaction,
  visibility: ApplicationVisibility,
  actor: DispatchActor,
  id: string,
): Promise<ApplicationHistoryEntry[]> {
  const application = await readApplication(tx, visibility, actor, id);
  if (!application) return [];
  const entries = await tx.audit.list(application.applicationId);
  const history: ApplicationHistoryEntry[] = [];
  for (const entry of entries) {
    const data = (entry.data ?? {}) as Record<string, unknown>;
    if (entry.type === 'workflow.started') {
      const to = String(data.state ?? '');
      history.push({
        seq: entry.seq,
        at: entry.at,
        actorId: entry.actor,
        event: 'OPENED',
        role: null,
        from: null,
        to,
        reason: null,
      });
    } else if (entry.type === 'workflow.transition') {
      const event = (data.event ?? {}) as { type?: string; roles?: string[]; reason?: unknown };
      const type = String(event.type ?? '');
      const known = type in APPLICATION_EVENT_RULES;
      history.push({
        seq: entry.seq,
        at: entry.at,
        actorId: entry.actor,
        event: type,
        role: known && Array.isArray(event.roles) ? actingRole(event.roles, type as ApplicationEventType) : null,
        from: typeof data.from === 'string' ? data.from : null,
        to: String(data.to ?? ''),
        reason: typeof event.reason === 'string' ? event.reason : null,
      });
    }
  }
  return history;
}
