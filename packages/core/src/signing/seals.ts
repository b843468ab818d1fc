/**
 * Which seals belong to which organisation (印章归属). A party signs only with its own seals: the platform's and the
 * payment company's auto-seals are the ones configured for them in `organizations`, and a funder's own signing call
 * (`signAsFunder`) must name a seal registered to that funder. The vendor then reports the seal each organisation
 * actually used, which the workflow compares with the one it asked for and keeps in the record and the evidence.
 */
import { z } from 'zod';
import { SealflowError } from '../errors.js';
import type { OrganizationParty } from './signing-effects.js';

/**
 * An organisation by its party role (`platform`, `paymentCompany`, …), or a funder by the id hosts pass as `funder.id`.
 */
export type SealOwner = string | { funderId: string };

/** A seal's registration: which organisation or funder owns it. */
export interface SealRegistration {
  owner: SealOwner;
}

const SealRegistrationShape = z.object({
  owner: z.union([z.string().min(1), z.object({ funderId: z.string().min(1) }).strict()]),
});

export interface SealRegistry {
  /** The owner of a seal; undefined when the seal is not registered. */
  ownerOf(sealId: string): SealOwner | undefined;
  /** Whether the seal is registered to exactly this owner. */
  belongsTo(sealId: string, owner: SealOwner): boolean;
}

export function describeOwner(owner: SealOwner): string {
  return typeof owner === 'string' ? `the ${owner} organisation` : `funder ${owner.funderId}`;
}

const sameOwner = (a: SealOwner, b: SealOwner) =>
  typeof a === 'string' || typeof b === 'string' ? a === b : a.funderId === b.funderId;

/**
 * The registry from the configuration, and what is wrong with it. Each organisation's `sealId` is registered to it
 * without being listed; `seals` registers the others (funders' seals). A seal registered to two owners, or to an
 * organisation that is not configured, is a configuration problem.
 */
export function sealRegistry(
  organizations: Readonly<Record<string, OrganizationParty>>,
  seals: Readonly<Record<string, SealRegistration>> = {},
): { registry: SealRegistry; problems: string[] } {
  const problems: string[] = [];
  const owners = new Map<string, SealOwner>();
  for (const [role, organization] of Object.entries(organizations)) {
    const earlier = owners.get(organization.sealId);
    if (earlier !== undefined) {
      problems.push(
        `organizations.${role}.sealId "${organization.sealId}" is also the seal of ${describeOwner(earlier)}; each organisation seals with its own seal`,
      );
      continue;
    }
    owners.set(organization.sealId, role);
  }
  for (const [sealId, registration] of Object.entries(seals)) {
    const parsed = SealRegistrationShape.safeParse(registration);
    if (!parsed.success) {
      problems.push(`seals.${sealId}: owner must be an organisation role or { funderId }`);
      continue;
    }
    const { owner } = parsed.data;
    if (typeof owner === 'string' && !Object.hasOwn(organizations, owner)) {
      problems.push(`seals.${sealId} is registered to "${owner}", which is not an organisation in organizations`);
      continue;
    }
    const earlier = owners.get(sealId);
    if (earlier !== undefined && !sameOwner(earlier, owner)) {
      problems.push(
        `seals.${sealId} is registered to ${describeOwner(owner)}, but it is the seal of ${describeOwner(earlier)}`,
      );
      continue;
    }
    owners.set(sealId, owner);
  }
  const ownerOf = (sealId: string) => owners.get(sealId);
  return {
    registry: {
      ownerOf,
      belongsTo: (sealId, owner) => {
        const registered = ownerOf(sealId);
        return registered !== undefined && sameOwner(registered, owner);
      },
    },
    problems,
  };
}

/** A party asked to sign with a seal that is not registered to it; nothing was written. */
export class SealNotOwnedError extends SealflowError {
  constructor(sealId: string, owner: SealOwner, details: Record<string, unknown> = {}) {
    super(
      'SEAL_NOT_OWNED',
      `Seal "${sealId}" is not registered to ${describeOwner(owner)}; a party signs only with its own seals. ` +
        `Sign with one of its registered seals, or have the platform register this seal to it (signing configuration \`seals\`).`,
      { details: { ...details, sealId, owner } },
    );
  }
}
