/**
 * Which seals belong to which organisation (印章归属). A party signs only with its own seals: the platform's and the
 * payment company's auto-seals are the ones configured for them in `organizations`, and a funder's own signing call
 * (`signAsFunder`) must name a seal registered to that funder. The vendor then reports the seal each organisation
 * actually used, which the workflow compares with the one it asked for and keeps in the record and the evidence.
 *
 * A seal id is the vendor's own identifier (e签宝's sealId, 安心签's sealCode, the local signer's seal name), so an
 * organisation signing at several vendors has one seal id per vendor: `sealId` is then a record by vendor id, and
 * a registered seal may name the one vendor it is at.
 */
import { z } from 'zod';
import { SealflowError } from '../errors.js';
import { ownValue } from '../own-property.js';
import type { OrganizationParty } from './signing-effects.js';

/**
 * An organisation by its party role (`platform`, `paymentCompany`, …), or a funder by the id hosts pass as `funder.id`.
 */
export type SealOwner = string | { funderId: string };

/**
 * A seal's registration: which organisation or funder owns it, and optionally the one vendor the seal id is at.
 *
 * @example
 * ```ts
 * seals: {
 *   'bank-1-esign-seal': { owner: { funderId: 'bank-1' }, vendor: 'esign' },
 *   BANK1CFCA0001: { owner: { funderId: 'bank-1' }, vendor: 'cfca' },
 * }
 * ```
 */
export interface SealRegistration {
  owner: SealOwner;
  /**
   * The vendor id (as in `vendors` and routing) whose seal id this is. A seal with a vendor is accepted only for a
   * signing at that vendor; without one, at every vendor (one seal id the vendors share, such as a local seal name).
   */
  vendor?: string;
}

/**
 * The seal id an organisation signs with: one for every vendor, or one per vendor id (`{ esign: '…', cfca: '…' }`),
 * since each vendor names seals its own way.
 */
export type OrganizationSealId = string | Readonly<Record<string, string>>;

const sealIdShape = z.string().min(1).max(128);
/** An {@link OrganizationSealId} as input: a seal id, or seal ids by vendor id. */
export const organizationSealIdSchema = z.union([sealIdShape, z.record(z.string().min(1).max(64), sealIdShape)]);

const SealRegistrationShape = z
  .object({
    owner: z.union([z.string().min(1), z.object({ funderId: z.string().min(1) }).strict()]),
    vendor: z.string().min(1).optional(),
  })
  .strict();

/** The seals registered to owners, checked against the vendor a signing is with. */
export interface SealRegistry {
  /** The owner of a seal at a vendor (at any vendor when none is given); undefined when it is not registered. */
  ownerOf(sealId: string, vendorId?: string): SealOwner | undefined;
  /** Whether the seal is registered to exactly this owner, for use at `vendorId` when given. */
  belongsTo(sealId: string, owner: SealOwner, vendorId?: string): boolean;
}

export function describeOwner(owner: SealOwner): string {
  return typeof owner === 'string' ? `the ${owner} organisation` : `funder ${owner.funderId}`;
}

const sameOwner = (a: SealOwner, b: SealOwner) =>
  typeof a === 'string' || typeof b === 'string' ? a === b : a.funderId === b.funderId;

/**
 * The seal id an organisation signs with at a vendor: its one `sealId`, or its entry for that vendor; undefined when
 * it has none there.
 */
export function sealAtVendor(sealId: OrganizationSealId, vendorId: string): string | undefined {
  return typeof sealId === 'string' ? sealId : ownValue<string>(sealId, vendorId);
}

/** Every seal id an organisation is configured with, each with the vendor it is at (null: every vendor). */
function organizationSeals(sealId: OrganizationSealId): { sealId: string; vendor: string | null }[] {
  if (typeof sealId === 'string') return [{ sealId, vendor: null }];
  return Object.entries(sealId).map(([vendor, id]) => ({ sealId: id, vendor }));
}

function describeVendor(vendor: string | null): string {
  return vendor === null ? 'every vendor' : `vendor ${vendor}`;
}

/** Two registrations of one seal id can be used for the same signing: at the same vendor, or one at every vendor. */
const overlap = (a: string | null, b: string | null) => a === null || b === null || a === b;

interface Entry {
  sealId: string;
  owner: SealOwner;
  vendor: string | null;
}

/**
 * The registry from the configuration, and what is wrong with it. Each organisation's seal ids (one, or one per
 * vendor) are registered to it without being listed; `seals` registers the others (funders' seals). A seal id that
 * two owners could both use at one vendor, a seal registered to an organisation that is not configured, or an
 * organisation's seal id that is not a non-empty string is a configuration problem.
 */
export function sealRegistry(
  organizations: Readonly<Record<string, OrganizationParty>>,
  seals: Readonly<Record<string, SealRegistration>> = {},
): { registry: SealRegistry; problems: string[] } {
  const problems: string[] = [];
  const entries: Entry[] = [];
  const clash = (sealId: string, owner: SealOwner, vendor: string | null) =>
    entries.find((e) => e.sealId === sealId && overlap(e.vendor, vendor) && !sameOwner(e.owner, owner));
  for (const [role, organization] of Object.entries(organizations)) {
    const shapeProblem = organizationSealProblem(organization?.sealId);
    if (shapeProblem) {
      problems.push(`organizations.${role}.sealId ${shapeProblem}`);
      continue;
    }
    for (const { sealId, vendor } of organizationSeals(organization.sealId)) {
      const path = `organizations.${role}.sealId${vendor === null ? '' : `.${vendor}`}`;
      const earlier = clash(sealId, role, vendor);
      if (earlier !== undefined) {
        problems.push(
          `${path} "${sealId}" is also the seal of ${describeOwner(earlier.owner)} (at ${describeVendor(earlier.vendor)}); each organisation seals with its own seal`,
        );
        continue;
      }
      entries.push({ sealId, owner: role, vendor });
    }
  }
  for (const [sealId, registration] of Object.entries(seals)) {
    const parsed = SealRegistrationShape.safeParse(registration);
    if (!parsed.success) {
      problems.push(`seals.${sealId}: owner must be an organisation role or { funderId }, and vendor a vendor id`);
      continue;
    }
    const { owner } = parsed.data;
    const vendor = parsed.data.vendor ?? null;
    if (typeof owner === 'string' && !Object.hasOwn(organizations, owner)) {
      problems.push(`seals.${sealId} is registered to "${owner}", which is not an organisation in organizations`);
      continue;
    }
    const earlier = clash(sealId, owner, vendor);
    if (earlier !== undefined) {
      problems.push(
        `seals.${sealId} is registered to ${describeOwner(owner)}, but it is the seal of ${describeOwner(earlier.owner)} (at ${describeVendor(earlier.vendor)})`,
      );
      continue;
    }
    entries.push({ sealId, owner, vendor });
  }
  const ownerOf = (sealId: string, vendorId?: string) =>
    entries.find((e) => e.sealId === sealId && (vendorId === undefined || overlap(e.vendor, vendorId)))?.owner;
  return {
    registry: {
      ownerOf,
      belongsTo: (sealId, owner, vendorId) =>
        entries.some(
          (e) =>
            e.sealId === sealId && sameOwner(e.owner, owner) && (vendorId === undefined || overlap(e.vendor, vendorId)),
        ),
    },
    problems,
  };
}

/** What is wrong with an organisation's `sealId` as configured, if anything. */
function organizationSealProblem(sealId: unknown): string | null {
  if (typeof sealId === 'string') return sealId === '' ? 'is empty: give the seal id the vendor issued' : null;
  if (sealId === null || typeof sealId !== 'object' || Array.isArray(sealId)) {
    return 'must be the seal id (a string), or seal ids by vendor id such as { esign: "…", cfca: "…" }';
  }
  const entries = Object.entries(sealId);
  if (entries.length === 0) return 'names no vendor: give the seal id at each vendor, { esign: "…", cfca: "…" }';
  const bad = entries.filter(([, id]) => typeof id !== 'string' || id === '').map(([vendor]) => vendor);
  return bad.length > 0 ? `has no seal id for ${bad.join(', ')}: each entry is the seal id at that vendor` : null;
}

/** A party asked to sign with a seal that is not registered to it (at the vendor it signs with); nothing was written. */
export class SealNotOwnedError extends SealflowError {
  constructor(sealId: string, owner: SealOwner, details: Record<string, unknown> = {}) {
    const vendorId = typeof details.vendorId === 'string' ? details.vendorId : undefined;
    super(
      'SEAL_NOT_OWNED',
      `Seal "${sealId}" is not registered to ${describeOwner(owner)}${vendorId ? ` at vendor ${vendorId}` : ''}; a party signs only with its own seals. ` +
        `Sign with one of its registered seals${vendorId ? ` at ${vendorId}` : ''}, or have the platform register this seal to it (signing configuration \`seals\`${vendorId ? `, with vendor: '${vendorId}'` : ''}).`,
      { details: { ...details, sealId, owner } },
    );
  }
}
