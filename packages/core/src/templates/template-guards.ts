/**
 * What a template command checks before it touches storage: who acts and with which role, the references it is
 * given, and the status the version must be in. Each refusal says what to do instead.
 */
import {
  ConflictError,
  PermissionError,
  SealflowError,
  type SealflowErrorOptions,
  ValidationError,
} from '../errors.js';
import { type ApprovalLevel, normaliseActorId } from './approval-workflow.js';
import type { TemplateHead, TemplateVersion } from './model.js';
import type { TemplateActor } from './template-service.js';

/** A command that the version's status does not allow. `details.status` is the status found. */
export class TemplateStatusError extends SealflowError {
  constructor(
    code: 'TEMPLATE_VERSION_IMMUTABLE' | 'TEMPLATE_NOT_PENDING' | 'TEMPLATE_NOT_EFFECTIVE',
    message: string,
    options: SealflowErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

export function requireRole(actor: TemplateActor, role: string, action: string): void {
  checkActor(actor);
  if (!actor.roles.includes(role)) {
    throw new PermissionError(`${actor.id} cannot ${action}: it needs the role ${role}.`, {
      details: { missingRole: role, actorId: actor.id },
    });
  }
}

export function requireDraft(version: TemplateVersion, action: string): void {
  if (version.status !== 'DRAFT') {
    throw new TemplateStatusError(
      'TEMPLATE_VERSION_IMMUTABLE',
      `Template ${version.id} is ${version.status}, not DRAFT, so it cannot be ${action}: a submitted version never ` +
        `changes. ${version.status === 'EFFECTIVE' ? 'Use reviseEffective to start a new draft.' : 'Start a new draft of the code.'}`,
      { details: { versionId: version.id, status: version.status } },
    );
  }
}

export function requirePending(
  version: TemplateVersion,
): asserts version is TemplateVersion & { approvalWorkflowId: string } {
  if (version.status !== 'PENDING_APPROVAL' || version.approvalWorkflowId === null) {
    throw new TemplateStatusError(
      'TEMPLATE_NOT_PENDING',
      `Template ${version.id} is ${version.status}, not PENDING_APPROVAL: there is no approval to decide` +
        (version.decision ? ` (it was ${version.decision.outcome} by ${version.decision.by}).` : '.'),
      { details: { versionId: version.id, status: version.status } },
    );
  }
}

export function openConflict(head: TemplateHead): ConflictError {
  return new ConflictError(
    'DUPLICATE',
    `Template ${head.code} already has an open version ${head.openVersionId} (draft or in approval): ` +
      'edit, submit or withdraw that one instead of starting another.',
    { details: { code: head.code, openVersionId: head.openVersionId } },
  );
}

/** Codes and version ids come from hosts' requests: anything but a short string is refused before storage sees it. */
export function checkRef(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new ValidationError(`${what} must be a template code or version id such as LOAN_CONTRACT_V.v0001.`, {
      details: { path: what },
    });
  }
}

export function checkActor(actor: TemplateActor): void {
  if (
    typeof actor !== 'object' ||
    actor === null ||
    typeof actor.id !== 'string' ||
    actor.id.length === 0 ||
    !Array.isArray(actor.roles) ||
    !actor.roles.every((r) => typeof r === 'string')
  ) {
    throw new ValidationError('actor must be { id: non-empty string, roles: string[] }.', {
      details: { path: 'actor' },
    });
  }
  // Maker-checker compares normalised ids; an id with nothing left after normalising would match nobody.
  if (normaliseActorId(actor.id) === '') {
    throw new ValidationError(
      'actor.id is blank: pass the id of the person acting, as your identity system knows it.',
      {
        details: { path: 'actor.id' },
      },
    );
  }
}

export function checkLevels(input: readonly ApprovalLevel[]): ApprovalLevel[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ValidationError('approvalLevels needs at least one level, e.g. [{ name: "legal", roles: ["legal"] }].');
  }
  return input.map((level, index) => {
    if (
      typeof level?.name !== 'string' ||
      level.name === '' ||
      !Array.isArray(level.roles) ||
      level.roles.length === 0
    ) {
      throw new ValidationError(`approvalLevels[${index}] needs a name and at least one role.`, {
        details: { path: `approvalLevels.${index}` },
      });
    }
    return { name: level.name, roles: [...level.roles] };
  });
}
