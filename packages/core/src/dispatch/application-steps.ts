/**
 * How a command becomes a transition: every check the machine will make is made first, in the order a person should
 * hear it, then the event is sent with the writes that must commit with it; a refusal the machine makes anyway
 * (someone moved the application first) is explained by re-reading the application.
 */
import { IllegalTransitionError, NotFoundError, ValidationError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Persistence, PersistenceTransaction } from '../ports/persistence.js';
import type { IdentityVerifier } from '../ports/signing-vendor.js';
import type { Runtime, WorkflowEvent, WorkflowState } from '../runtime/runtime.js';
import type { customerKeys } from '../signing/customer-data.js';
import type { ApplicationContext, LoanApplication, LoanProduct } from './application.js';
import type { ApplicationVisibility } from './application-queries.js';
import {
  APPLICATION_EVENT_RULES,
  type ApplicationEvent,
  type ApplicationEventType,
  actorRefusal,
  contentRefusal,
  eventRefusal,
  stageRefusal,
} from './application-rules.js';
import { applicationOf, applicationRepository } from './application-workflow.js';
import { type DispatchActor, type DispatchRole, requireDispatchRole } from './roles.js';

/** Domain writes that commit with a dispatch step (the dispatch integration moves positions here). */
export type ApplicationAlongside = (tx: PersistenceTransaction, application: LoanApplication) => Promise<void>;

/** The service's configuration, checked, and what every command shares. */
export interface ServiceContext {
  runtime: Runtime;
  persistence: Persistence;
  clock: Clock;
  identityVerifier: IdentityVerifier;
  products: ReadonlyMap<string, LoanProduct>;
  keys: ReturnType<typeof customerKeys>;
  onSettled: ApplicationAlongside | undefined;
  visibility: ApplicationVisibility;
}

/** The event fields a command adds to who and when. */
export type EventFields<T extends ApplicationEventType> = Omit<
  Extract<ApplicationEvent, { type: T }>,
  'type' | 'actorId' | 'roles' | 'actorInstitutionId' | 'at'
>;

// ---------------------------------------------------------------------------------------------------------------
// Sending a step

function eventOf<T extends ApplicationEventType>(
  type: T,
  actor: DispatchActor,
  fields: EventFields<T>,
  at: number,
): ApplicationEvent {
  return {
    ...fields,
    type,
    actorId: actor.id,
    roles: [...actor.roles],
    actorInstitutionId: actor.institutionId ?? null,
    at,
  } as ApplicationEvent;
}

/**
 * Every check a step makes before it is sent: the actor's roles (no application read yet), the application exists,
 * the actor may act on it, it is at a stage that takes the step, and — with `fields` — what the step carries.
 */
export async function precheck<T extends ApplicationEventType>(
  ctx: ServiceContext,
  type: T,
  actor: DispatchActor,
  id: string,
  fields: EventFields<T> | null,
): Promise<LoanApplication> {
  const rule = APPLICATION_EVENT_RULES[type];
  const roles: readonly DispatchRole[] =
    type === 'RATE' && fields ? ratingRoles((fields as unknown as EventFields<'RATE'>).side) : rule.roles;
  requireDispatchRole(actor, roles, rule.action);
  if (typeof id !== 'string' || id === '') {
    throw new ValidationError('applicationId must be the id of an application.', {
      details: { field: 'applicationId' },
    });
  }
  const stored = await ctx.persistence.transaction((tx) => applicationRepository.get(tx, id));
  if (!stored) throw new NotFoundError(`There is no application ${id}.`, { details: { applicationId: id } });
  const application = stored.record;
  const event = eventOf(type, actor, (fields ?? {}) as EventFields<T>, ctx.clock.now());
  const refusal =
    actorRefusal(application, event) ??
    stageRefusal(application, application.stage, type) ??
    (fields ? contentRefusal(application, event) : null);
  if (refusal) throw refusal;
  return application;
}

function ratingRoles(side: unknown): readonly DispatchRole[] {
  if (side === 'institution') return ['institution'];
  if (side === 'platform') return ['follow-up-manager', 'customer-manager'];
  return APPLICATION_EVENT_RULES.RATE.roles;
}

export async function sendStep<T extends ApplicationEventType>(
  ctx: ServiceContext,
  type: T,
  actor: DispatchActor,
  id: string,
  fields: EventFields<T>,
  alongside?: ApplicationAlongside,
): Promise<LoanApplication> {
  await precheck(ctx, type, actor, id, fields);
  const event = eventOf(type, actor, fields, ctx.clock.now());
  let state: WorkflowState;
  try {
    state = await ctx.runtime.send(id, event as unknown as WorkflowEvent, {
      actor: actor.id,
      ...(alongside ? { alongside: (tx, next) => runAlongside(tx, next, type, alongside) } : {}),
    });
  } catch (error) {
    if (error instanceof IllegalTransitionError) throw await explain(ctx, id, event, error);
    throw error;
  }
  return applicationOf(state);
}

/** `onSettled` runs only on the transition into `settled`; the dispatch options on their own step. */
async function runAlongside(
  tx: PersistenceTransaction,
  next: WorkflowState,
  type: ApplicationEventType,
  alongside: ApplicationAlongside,
): Promise<void> {
  if (type === 'PAYMENT_CONFIRMED' && next.stateValue !== 'settled') return;
  await alongside(tx, applicationOf(next));
}

/** The machine refused a step the checks allowed: someone moved the application first. Say which rule refuses it now. */
async function explain(
  ctx: ServiceContext,
  id: string,
  event: ApplicationEvent,
  error: IllegalTransitionError,
): Promise<Error> {
  const after = await ctx.runtime.get(id);
  if (!after) return error;
  const context = after.context as ApplicationContext;
  return stageRefusal(context, after.stateValue, event.type) ?? eventRefusal(context, event) ?? error;
}
