/**
 * What every part of the signing service shares: the options with their defaults filled in, the keys, scenes and
 * seal registry built once at start-up, and the reads of signing records the commands and queries all need.
 * `createServiceContext` also refuses a misconfigured service before it serves anything.
 */
import { NotFoundError, SealflowError, ValidationError } from '../errors.js';
import { type Clock, type Scheduler, systemScheduler } from '../ports/clock.js';
import type { PersistenceTransaction } from '../ports/persistence.js';
import { type CustomerKeys, customerKeys } from './customer-data.js';
import { type EvidenceDependencies, evidenceKeyring } from './evidence.js';
import { type SigningRecord, signingRecordRepository } from './records.js';
import { ownValue } from '../own-property.js';
import { routingProblems, sceneRoutes, sceneTemplateCodes } from './routes.js';
import { checkRecordId } from './request-shape.js';
import { resolveScenes, type SigningScene } from './scenes.js';
import { type SealRegistry, sealAtVendor, sealRegistry } from './seals.js';
import type { OrganizationParty } from './signing-effects.js';
import type { SigningContext } from './signing-machine.js';
import type { SigningServiceOptions } from './signing-options.js';

export interface SigningServiceContext {
  options: SigningServiceOptions;
  clock: Clock;
  /** Paces callers waiting for a request being validated in another process. */
  scheduler: Scheduler;
  keys: CustomerKeys;
  scenes: ReadonlyMap<string, SigningScene>;
  organizations: Readonly<Record<string, OrganizationParty>>;
  seals: SealRegistry;
  vendorIds: readonly string[];
  /** How long a vendor flow may take unless its scene says otherwise. */
  deadlineMs: number;
  polling: { baseMs: number; maxMs: number; safetyNetMs: number };
  evidenceDeps: EvidenceDependencies;
  /** Attempts being validated by this process, so concurrent callers for the same key share the outcome. */
  validating: Map<string, Promise<SigningRecord>>;
  transaction<T>(work: (tx: PersistenceTransaction) => Promise<T>): Promise<T>;
}

export function createServiceContext(options: SigningServiceOptions): SigningServiceContext {
  const { runtime } = options;
  const clock = options.clock ?? runtime.clock;
  const keys = customerKeys(options.hashKey);
  const scenes = resolveScenes(options.scenes);
  const organizations = options.organizations ?? {};
  const { registry: seals, problems: sealProblems } = sealRegistry(organizations, options.seals);
  const missing = sealProblems.length === 0 ? missingSeals(options, scenes, organizations) : [];
  checkConfiguration(options, sealProblems, missing);
  return {
    options,
    clock,
    scheduler: options.scheduler ?? systemScheduler,
    keys,
    scenes,
    organizations,
    seals,
    vendorIds: Object.keys(options.vendors),
    deadlineMs: options.deadlineMs ?? 30 * 60_000,
    polling: {
      baseMs: options.polling?.baseMs ?? 2_000,
      maxMs: options.polling?.maxMs ?? 60_000,
      safetyNetMs: options.polling?.safetyNetMs ?? 5 * 60_000,
    },
    evidenceDeps: {
      persistence: runtime.persistence,
      documents: options.documents,
      now: () => clock.now(),
      keyring: evidenceKeyring(options),
      notary: options.evidenceNotary,
      timestampAuthority: options.evidenceTimestampAuthority,
    },
    validating: new Map(),
    transaction: (work) => runtime.persistence.transaction(work),
  };
}

/** An organisation with no seal at a vendor that a route can send one of its scenes to. */
export interface MissingSeal {
  /** The organisation's party role, as in `organizations`. */
  role: string;
  vendorId: string;
  /** The scenes whose route reaches the vendor with this organisation among their auto-sealing parties. */
  scenes: string[];
}

/**
 * Organisations configured with seal ids per vendor that lack one at a vendor some route reaches for a scene they
 * seal. Found at start-up, so a failover never sends a vendor a seal id it did not issue, or none at all.
 * Organisations that are not configured are reported when a scene needs them, as before.
 */
function missingSeals(
  options: SigningServiceOptions,
  scenes: ReadonlyMap<string, SigningScene>,
  organizations: Readonly<Record<string, OrganizationParty>>,
): MissingSeal[] {
  const vendorIds = Object.keys(options.vendors);
  const missing = new Map<string, MissingSeal>();
  for (const scene of scenes.values()) {
    const codes = sceneTemplateCodes(scene, options.templateCodes);
    const vendors = new Set(sceneRoutes(scene.code, codes, options.routing, vendorIds).flat());
    const roles = new Set(
      scene.parties.filter((p) => p.kind === 'organization' && p.signing === 'auto').map((p) => p.role),
    );
    for (const role of roles) {
      const organization = ownValue<OrganizationParty>(organizations, role);
      if (!organization) continue;
      for (const vendorId of vendors) {
        if (sealAtVendor(organization.sealId, vendorId) !== undefined) continue;
        const key = `${role}\u0000${vendorId}`;
        const entry = missing.get(key) ?? { role, vendorId, scenes: [] };
        entry.scenes.push(scene.code);
        missing.set(key, entry);
      }
    }
  }
  return [...missing.values()];
}

/** Every configuration problem at once, so a host fixes its set-up in one go. */
function checkConfiguration(
  options: SigningServiceOptions,
  sealProblems: readonly string[],
  missing: readonly MissingSeal[],
): void {
  const problems: string[] = [...sealProblems];
  for (const m of missing) {
    problems.push(
      `organizations.${m.role}.sealId has no seal id for vendor ${m.vendorId}, which routing reaches for ${m.scenes.join(', ')}: ` +
        `add organizations.${m.role}.sealId.${m.vendorId} (the ${m.role} organisation's seal id at ${m.vendorId}), or take ${m.vendorId} out of those routes`,
    );
  }
  if (Object.keys(options.vendors).length === 0) problems.push('vendors: configure at least one signing gateway');
  for (const [id, gateway] of Object.entries(options.vendors)) {
    if (gateway.id !== id) problems.push(`vendors.${id}: the gateway's vendor id is "${gateway.id}"`);
    if (gateway.capabilities.padesOutput && !options.verifyPdf) {
      problems.push(`vendors.${id} signs PAdES: pass verifyPdf (e.g. verifyPdfSignatures) so signatures are checked`);
    }
  }
  problems.push(...routingProblems(options.routing, Object.keys(options.vendors)));
  if (problems.length) {
    throw new ValidationError(`The signing service is misconfigured: ${problems.join('; ')}.`, {
      details: {
        problems,
        ...(missing.length > 0 ? { missingSeals: missing.map((m) => ({ ...m, scenes: [...m.scenes] })) } : {}),
      },
    });
  }
}

/** Configuration the request needs but the host has not given (a vendor route, an organisation). */
export function configError(message: string, details: Record<string, unknown>): SealflowError {
  return new SealflowError('SIGNING_NOT_CONFIGURED', message, { details });
}

export async function getRecord(ctx: SigningServiceContext, recordId: string): Promise<SigningRecord | null> {
  checkRecordId(recordId);
  return (await ctx.transaction((tx) => signingRecordRepository.get(tx, recordId)))?.record ?? null;
}

export async function requireRecord(ctx: SigningServiceContext, recordId: string): Promise<SigningRecord> {
  const record = await getRecord(ctx, recordId);
  if (!record) throw new NotFoundError(`There is no signing record ${recordId}.`, { details: { recordId } });
  return record;
}

/** The newest attempt of a chain of re-signs. */
export async function latestAttempt(ctx: SigningServiceContext, record: SigningRecord): Promise<SigningRecord> {
  let current = record;
  while (current.nextAttemptId) current = await requireRecord(ctx, current.nextAttemptId);
  return current;
}

/** The workflow's context of a record: what was requested, sealed, as the attempt started. */
export async function contextOf(ctx: SigningServiceContext, recordId: string): Promise<SigningContext> {
  const state = await ctx.options.runtime.get(recordId);
  if (!state) throw new NotFoundError(`There is no signing workflow ${recordId}.`, { details: { recordId } });
  return state.context as SigningContext;
}
