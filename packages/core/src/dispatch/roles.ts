/**
 * Who acts in funder dispatch, and the one check every dispatch command makes before it changes anything.
 *
 * A dispatch actor is a person of the platform (a customer manager, a loan reviewer, …) or of a funding institution.
 * An institution's people carry `institutionId`: every query and command they call is scoped to that institution, so
 * one institution can never see or act on another's applications, offers, ledger, ratings or complaints.
 */
import { PermissionError, ValidationError } from '../errors.js';

/**
 * The roles of funder dispatch:
 * - `customer-manager` (客户经理): registers the customer, collects materials, confirms the product;
 * - `loan-reviewer` (贷审): passes, rejects or asks for more materials;
 * - `customer-service` (客服): may reject an application; takes complaints in;
 * - `follow-up-manager` (跟单经理): intervenes in dispatch, confirms the disbursed amount and commission;
 * - `settler` (结算员): confirms payment of a settlement;
 * - `review-supervisor` (审核主管): checks the reasonableness of rejections and decides complaints;
 * - `institution` (机构): a funder's staff, always scoped to its own `institutionId`;
 * - `platform-admin`: onboards institutions and sets dispatch parameters.
 */
export const DISPATCH_ROLES = [
  'customer-manager',
  'loan-reviewer',
  'customer-service',
  'follow-up-manager',
  'settler',
  'review-supervisor',
  'institution',
  'platform-admin',
] as const;

/** One of {@link DISPATCH_ROLES}. */
export type DispatchRole = (typeof DISPATCH_ROLES)[number];

/** The person calling a dispatch command or query. */
export interface DispatchActor {
  /** A stable id of the person in the host's user directory; recorded with every transition. */
  id: string;
  roles: readonly string[];
  /** Set for an institution's staff: the only institution whose data they may see or act on. */
  institutionId?: string;
}

/** Throw a `ValidationError` unless `actor` is a well-formed {@link DispatchActor}. */
export function checkDispatchActor(actor: DispatchActor): void {
  const wellFormed =
    actor !== null &&
    typeof actor === 'object' &&
    typeof actor.id === 'string' &&
    actor.id.trim() !== '' &&
    Array.isArray(actor.roles) &&
    actor.roles.every((role) => typeof role === 'string') &&
    (actor.institutionId === undefined || (typeof actor.institutionId === 'string' && actor.institutionId !== ''));
  if (!wellFormed) {
    throw new ValidationError(
      'actor must be { id: non-empty string, roles: string[], institutionId?: string }. Pass the signed-in person.',
      { details: { field: 'actor' } },
    );
  }
}

/**
 * Throw a `PermissionError` (code `FORBIDDEN`) unless the actor holds one of `roles`; `action` names what was refused
 * ("pass a loan review"), so the message says who may do it.
 */
export function requireDispatchRole(actor: DispatchActor, roles: readonly DispatchRole[], action: string): void {
  checkDispatchActor(actor);
  if (roles.some((role) => actor.roles.includes(role))) return;
  throw new PermissionError(
    `Only ${roles.join(' or ')} may ${action}; actor ${actor.id} has ${actor.roles.length ? actor.roles.join(', ') : 'no roles'}.`,
  );
}

/**
 * Throw a `PermissionError` (code `FORBIDDEN`) unless the actor is staff of `institutionId` (role `institution` and the same
 * `institutionId`). The message never names the other institution's data.
 */
export function requireInstitutionStaff(actor: DispatchActor, institutionId: string, action: string): void {
  requireDispatchRole(actor, ['institution'], action);
  if (actor.institutionId !== institutionId) {
    throw new PermissionError(`Institution staff may ${action} only for their own institution.`);
  }
}
