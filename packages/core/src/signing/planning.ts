/**
 * Planning an attempt: from a sign request to the workflow's input, validating everything that can be known before a
 * vendor is called. The checks run from the cheapest to the costliest, and the first that fails refuses the plan:
 *
 * 1. every document's template is EFFECTIVE (生效), of the document type the scene expects, places a seal for every
 *    party of the scene, and reads `funder.*` in a required variable only when the signing has a funder;
 * 2. the values each variable reads, and the borrower's identity fields themselves;
 * 3. the templates' business checks (业务校验);
 * 4. the customer's consent covers exactly the versions being signed;
 * 5. the routed vendor can sign the scene as configured (and every fallback of its route can too, or the plan is
 *    thrown as a configuration error);
 * 6. real-name verification (实名认证), last because it may cost a call to the host's verifier.
 *
 * A refusal is part of the plan, not thrown: the attempt still starts (and at once fails) so the record is kept.
 * Configuration gaps (no vendor routed, an organisation missing) are thrown: they are the host's to fix, not the
 * request's.
 */
import { SealflowError } from '../errors.js';
import { dateInChina, idNumberProblem, mobileProblem } from '../model/values.js';
import { ownValue } from '../own-property.js';
import { maskIdNumber, maskName } from '../privacy.js';
import {
  type CheckFailure,
  evaluateChecks,
  resolveValues,
  TemplateCheckError,
  TemplateValueError,
  type ValueProblem,
  valueProblems,
} from '../templates/checks.js';
import type { TemplateVersionView } from '../templates/model.js';
import { readsFunder } from '../templates/request-sources.js';
import type { SigningGateway } from './gateway.js';
import { type Funding, partiesFor, type SceneParty, type SigningScene } from './scenes.js';
import { SealNotOwnedError, sealAtVendor } from './seals.js';
import { type OrganizationParty, resolutionRoot, type SealedRequest } from './signing-effects.js';
import {
  type Consent,
  failureOf,
  type FunderRef,
  type PlannedDocument,
  type PlannedOrganization,
  type PlannedParty,
  type RouteLeg,
  type SigningInput,
} from './signing-machine.js';
import { sceneRoutes, sceneTemplateCodes, vendorCanSignTemplate } from './routes.js';
import { configError, type SigningServiceContext } from './service-context.js';
import type { SigningRouting } from './signing-options.js';

export interface Plan {
  input: SigningInput;
  /** The original error, kept to throw with its class and details. */
  error: SealflowError | null;
}

/** One attempt to plan: the request as sealed, and where the attempt stands in its chain of re-signs. */
export interface PlanRequest {
  recordId: string;
  scene: SigningScene;
  funding: Funding;
  funder: FunderRef | null;
  request: SealedRequest;
  consent: Consent;
  businessNo: string;
  attempt: number;
  previousAttemptId: string | null;
  actorId: string;
}

/** Validate the request and plan the attempt; a refusal is part of the plan, not thrown. */
export async function plan(ctx: SigningServiceContext, args: PlanRequest): Promise<Plan> {
  const { scene, funding, request, consent } = args;
  const now = ctx.clock.now();
  const signingDate = dateInChina(new Date(now));
  const sceneParties = partiesFor(scene, funding);
  const codes = templateCodesFor(ctx, scene);
  const route = vendorFor(ctx, scene, codes);
  const gateways = route.map((id) => ownValue<SigningGateway>(ctx.options.vendors, id)!);
  const gateway = gateways[0]!;
  const parties = sceneParties.map((party) => plannedParty(ctx, scene, party, route));
  const input = attemptInput(ctx, args, { gateways, parties, now, signingDate });
  const refuse = (error: SealflowError, documents: PlannedDocument[] = []): Plan => ({
    input: { ...input, documents, refusal: failureOf('validating', error.code, error.message) },
    error,
  });

  const versions = await effectiveVersions(ctx, codes);
  if (versions instanceof SealflowError) return refuse(versions);
  const mistyped = documentTypeRefusal(scene, versions);
  if (mistyped) return refuse(mistyped);
  const documents = plannedDocuments(scene, versions, sceneParties);
  // A fallback that could not take the signing over is the host's routing to fix, whatever the request.
  const needsTimestamps = timestampsRequired(ctx.options.routing, scene, versions);
  const unbound = fallbackProblem(scene, gateways.slice(1), versions, sceneParties, needsTimestamps);
  if (unbound) throw unbound;
  const refusal = unplacedRefusal(scene, sceneParties, documents) ?? funderRefusal(versions, funding, args.funder);
  if (refusal) return refuse(refusal, documents);

  const root = resolutionRoot(request, {
    businessNo: args.businessNo,
    signingDate,
    funder: args.funder,
    organizations: ctx.organizations,
  });
  const valuesByDocument = versions.map((v) => resolveValues(v.definition, root));
  const problem =
    valueRefusal(versions, valuesByDocument, request) ??
    checksRefusal(versions, valuesByDocument, now) ??
    consentRefusal(versions, consent) ??
    capabilityRefusal(gateway, sceneParties, needsTimestamps);
  if (problem) return refuse(problem, documents);

  const identity = await ctx.options.identityVerifier.check({
    name: request.borrower.name,
    idNumber: request.borrower.idNumber,
    mobile: request.borrower.mobile,
  });
  if (!identity.verified) {
    return refuse(
      new SealflowError(
        'CUSTOMER_NOT_VERIFIED',
        `Customer ${input.customer.maskedName} (${input.customer.maskedIdNumber}) has not passed real-name verification (实名认证); verify the customer first.`,
      ),
      documents,
    );
  }
  const identityCheck = { method: identity.method ?? null, verifiedAt: identity.verifiedAt ?? null };
  return { input: { ...input, documents, identityCheck }, error: null };
}

/** The template code of each of the scene's documents: the host's mapping (`templateCodes`) or the scene's own. */
function templateCodesFor(ctx: SigningServiceContext, scene: SigningScene): string[] {
  return sceneTemplateCodes(scene, ctx.options.templateCodes);
}

/** The workflow input before the documents are known: who, what, with which vendor, the customer kept masked. */
function attemptInput(
  ctx: SigningServiceContext,
  args: PlanRequest,
  at: { gateways: SigningGateway[]; parties: PlannedParty[]; now: number; signingDate: string },
): SigningInput {
  const { scene, funding, request } = args;
  const { now } = at;
  const route = at.gateways.map((gateway) => routeLeg(ctx, gateway));
  const first = route[0]!;
  return {
    recordId: args.recordId,
    businessNo: args.businessNo,
    scene: scene.code,
    sceneName: scene.name,
    attempt: args.attempt,
    previousAttemptId: args.previousAttemptId,
    funding,
    funder: args.funder,
    vendorId: first.vendorId,
    verifySignatures: first.verifySignatures,
    route,
    deadlineMs: scene.deadlineMs ?? ctx.deadlineMs,
    polling: first.polling,
    signingDate: at.signingDate,
    requestedBy: args.actorId,
    requestedAt: now,
    customer: {
      maskedName: maskName(request.borrower.name),
      maskedIdNumber: maskIdNumber(request.borrower.idNumber),
      idNumberHash: ctx.keys.idNumberHash(request.borrower.idNumber),
    },
    requestFingerprint: requestFingerprint(ctx, {
      businessNo: args.businessNo,
      scene: scene.code,
      funding,
      funder: args.funder,
      request,
    }),
    consent: args.consent,
    identityCheck: null,
    sealed: ctx.keys.seal(request),
    documents: [],
    parties: at.parties,
    refusal: null,
  };
}

/** The keyed fingerprint of what was asked: the same request again matches it, different content does not. */
export function requestFingerprint(
  ctx: SigningServiceContext,
  args: { businessNo: string; scene: string; funding: Funding; funder: FunderRef | null; request: SealedRequest },
): string {
  return ctx.keys.fingerprint({
    businessNo: args.businessNo,
    scene: args.scene,
    funding: args.funding,
    funder: args.funder,
    borrower: args.request.borrower,
    values: args.request.values,
  });
}

/** How the workflow works with one vendor of the route: whether its output is checked locally, how it is polled. */
function routeLeg(ctx: SigningServiceContext, gateway: SigningGateway): RouteLeg {
  const { polling } = ctx;
  return {
    vendorId: gateway.id,
    verifySignatures: gateway.capabilities.padesOutput,
    polling: gateway.capabilities.callbacks
      ? { baseMs: polling.safetyNetMs, maxMs: Math.max(polling.safetyNetMs, polling.maxMs) }
      : { baseMs: polling.baseMs, maxMs: polling.maxMs },
  };
}

/**
 * Which vendors sign the scene, in order of preference: routed by scene, else by its templates (all to one route),
 * else the default.
 */
function vendorFor(ctx: SigningServiceContext, scene: SigningScene, codes: readonly string[]): string[] {
  const routes = sceneRoutes(scene.code, codes, ctx.options.routing, ctx.vendorIds);
  if (routes.length > 1) {
    throw configError(
      `Scene ${scene.code} signs its documents as one bundle, but routing sends its templates to ${routes.map((r) => r.join(' → ')).join(' and ')}. Route the scene instead.`,
      { scene: scene.code },
    );
  }
  if (routes[0]) return routes[0];
  throw configError(`No vendor is routed for scene ${scene.code}; set routing.default.`, { scene: scene.code });
}

/**
 * A fallback of the route that could not take the signing over: it lacks a capability the scene needs, or a template
 * is not bound at it (see `vendorCanSignTemplate`). Found before any vendor is called, so a failover can never turn
 * into a second failure at the worst moment.
 */
function fallbackProblem(
  scene: SigningScene,
  fallbacks: readonly SigningGateway[],
  versions: readonly TemplateVersionView[],
  parties: readonly SceneParty[],
  needsTimestamps: boolean,
): SealflowError | null {
  const problems: { vendorId: string; problem: string }[] = [];
  for (const fallback of fallbacks) {
    const unbound = versions.filter((v) => !vendorCanSignTemplate(fallback, v.definition));
    if (unbound.length > 0) {
      const boundAt = unbound.map((v) => `${v.id} (bound at ${Object.keys(v.definition.vendorBindings).join(', ')})`);
      problems.push({ vendorId: fallback.id, problem: `template ${boundAt.join(', ')} is not bound at it` });
    }
    const incapable = capabilityRefusal(fallback, parties, needsTimestamps);
    if (incapable) {
      const missing = (incapable.details?.missing as string[] | undefined) ?? [];
      problems.push({ vendorId: fallback.id, problem: `it lacks ${missing.join(', ')}` });
    }
  }
  if (problems.length === 0) return null;
  return new SealflowError(
    'SIGNING_ROUTE_UNBOUND',
    `Scene ${scene.code} is routed with fallback ${problems.map((p) => `${p.vendorId}, but ${p.problem}`).join('; ')}. ` +
      'A fallback must be able to sign every document of the scene: bind the template at that vendor ' +
      '(vendorBindings) or route a vendor that signs the PDFs sealflow renders, such as the local signer; or take ' +
      'the fallback out of the route.',
    { details: { scene: scene.code, fallbacks: problems } },
  );
}

function plannedParty(
  ctx: SigningServiceContext,
  scene: SigningScene,
  party: SceneParty,
  route: readonly string[],
): PlannedParty {
  return {
    role: party.role,
    kind: party.kind,
    signing: party.signing,
    order: party.order,
    organization: organizationFor(ctx, scene, party, route),
  };
}

/**
 * The configured organisation behind an auto-sealing organisation party, with its own seal at every vendor of the
 * route: kept in the plan, so the seal a fallback is sent comes from the saved workflow, never from a lookup later.
 */
function organizationFor(
  ctx: SigningServiceContext,
  scene: SigningScene,
  party: SceneParty,
  route: readonly string[],
): PlannedOrganization | null {
  if (party.kind !== 'organization' || party.signing !== 'auto') return null;
  const organization = ownValue<OrganizationParty>(ctx.organizations, party.role);
  if (!organization) {
    throw configError(
      `Scene ${scene.code} needs the ${party.role} organisation's name, credit code and seal: add organizations.${party.role}.`,
      { scene: scene.code, role: party.role },
    );
  }
  const sealIds: Record<string, string> = {};
  for (const vendorId of route) {
    const sealId = sealAtVendor(organization.sealId, vendorId);
    // Start-up refuses a route that reaches a vendor where the organisation has no seal; this is the last guard.
    if (sealId === undefined) {
      throw configError(
        `Scene ${scene.code} is routed to vendor ${vendorId}, but the ${party.role} organisation has no seal there: add organizations.${party.role}.sealId.${vendorId} (its seal id at ${vendorId}).`,
        { scene: scene.code, role: party.role, vendorId },
      );
    }
    // The auto-seal is the organisation's own: start-up refuses a seal registered to anyone else.
    if (!ctx.seals.belongsTo(sealId, party.role, vendorId)) {
      throw new SealNotOwnedError(sealId, party.role, { scene: scene.code, vendorId });
    }
    sealIds[vendorId] = sealId;
  }
  const first = sealIds[route[0]!]!;
  return {
    name: organization.name,
    creditCode: organization.creditCode,
    sealId: first,
    // A single seal id for every vendor plans as before; only seals that differ by vendor are kept per vendor.
    ...(typeof organization.sealId === 'string' ? {} : { sealIds }),
  };
}

/** 1. The EFFECTIVE (生效) version of each template, or the refusal of the first that has none. */
async function effectiveVersions(
  ctx: SigningServiceContext,
  codes: readonly string[],
): Promise<TemplateVersionView[] | SealflowError> {
  const versions: TemplateVersionView[] = [];
  for (const code of codes) {
    try {
      versions.push(await ctx.options.templates.requireEffective(code));
    } catch (error) {
      if (error instanceof SealflowError && !error.retryable) return error;
      throw error;
    }
  }
  return versions;
}

/** A template mapped to a document of another kind (a loan contract where the scene expects a 授信合同). */
function documentTypeRefusal(scene: SigningScene, versions: readonly TemplateVersionView[]): SealflowError | null {
  const mismatches = scene.documents.flatMap((document, i) => {
    const version = versions[i]!;
    const found = version.definition.documentType;
    return found === document.documentType
      ? []
      : [{ document: document.key, expected: document.documentType, version, found }];
  });
  if (mismatches.length === 0) return null;
  const lines = mismatches.map(
    (m) => `document ${m.document} expects a ${m.expected}, but template ${m.version.id} is a ${m.found}`,
  );
  return new SealflowError(
    'TEMPLATE_DOCUMENT_TYPE_MISMATCH',
    `Scene ${scene.code}: ${lines.join('; ')}. Map the document to a template of that type (templateCodes), or import the template with that documentType.`,
    {
      details: {
        scene: scene.code,
        mismatches: mismatches.map((m) => ({
          documentKey: m.document,
          expected: m.expected,
          versionId: m.version.id,
          found: m.found,
        })),
      },
    },
  );
}

/** Each document as the workflow renders and seals it: its template version, filled fields and seal placements. */
function plannedDocuments(
  scene: SigningScene,
  versions: readonly TemplateVersionView[],
  sceneParties: readonly SceneParty[],
): PlannedDocument[] {
  return scene.documents.map((document, i) => {
    const version = versions[i]!;
    const definition = version.definition;
    const seals = definition.parties
      .filter((p) => sceneParties.some((s) => s.role === p.role))
      .map((p) => ({ role: p.role, placement: p.seal }));
    return {
      key: document.key,
      fileName: document.fileName,
      templateCode: version.code,
      versionId: version.id,
      version: version.version,
      templateFileId: version.pdf.fileId,
      templateSha256: version.pdf.sha256,
      fields: definition.variables.flatMap((v) =>
        v.placement
          ? [{ variable: v.key, source: v.source ?? null, placement: v.placement, rule: v.rule ?? null }]
          : [],
      ),
      seals,
      expectedSignatures: seals.length,
    };
  });
}

/** A party of the scene that no template places a seal for could never sign. */
function unplacedRefusal(
  scene: SigningScene,
  sceneParties: readonly SceneParty[],
  documents: readonly PlannedDocument[],
): SealflowError | null {
  const unplaced = sceneParties.filter((p) => !documents.some((d) => d.seals.some((s) => s.role === p.role)));
  if (unplaced.length === 0) return null;
  return new SealflowError(
    'SCENE_TEMPLATE_MISMATCH',
    `Scene ${scene.code} has party ${unplaced.map((p) => p.role).join(', ')}, which no template of the scene places a seal for. Add the party to the template.`,
    { details: { roles: unplaced.map((p) => p.role) } },
  );
}

/**
 * 1. A template filling a required blank from the funder (`funder.name`, …) cannot sign without one: said at once,
 * rather than as a missing value.
 */
function funderRefusal(
  versions: readonly TemplateVersionView[],
  funding: Funding,
  funder: FunderRef | null,
): SealflowError | null {
  if (funder) return null;
  const reading = versions.flatMap((version) =>
    version.definition.variables
      .filter((v) => v.required && readsFunder(v.source))
      .map((v) => ({ versionId: version.id, variable: v.key, source: v.source! })),
  );
  if (reading.length === 0) return null;
  const named = reading.map((r) => `${r.variable} (${r.source}) in ${r.versionId}`).join(', ');
  return new SealflowError(
    'TEMPLATE_NEEDS_FUNDER',
    `This ${funding}-funded signing has no funder, but the template fills ${named} from the request's funder. ` +
      "Sign it as funding 'funder' with the assigned funder, or map the scene to a template that does not read funder.*.",
    { details: { funding, variables: reading } },
  );
}

/** 2. Values: each variable's type, and the borrower's identity fields themselves; every problem once. */
function valueRefusal(
  versions: readonly TemplateVersionView[],
  valuesByDocument: readonly Record<string, unknown>[],
  request: SealedRequest,
): SealflowError | null {
  const problems: ValueProblem[] = [];
  const seen = new Set<string>();
  const addProblem = (p: ValueProblem) => {
    if (seen.has(p.message)) return;
    seen.add(p.message);
    problems.push(p);
  };
  for (const [i, v] of versions.entries()) valueProblems(v.definition, valuesByDocument[i]!).forEach(addProblem);
  const idProblem = idNumberProblem(request.borrower.idNumber);
  if (idProblem && !problems.some((p) => /idNumber|IdNo/i.test(p.variable))) {
    addProblem({ variable: 'borrower.idNumber', message: `borrower ID number: ${idProblem}` });
  }
  const mobile = mobileProblem(request.borrower.mobile);
  if (mobile && !problems.some((p) => /mobile|phone/i.test(p.variable))) {
    addProblem({ variable: 'borrower.mobile', message: `borrower mobile: ${mobile}` });
  }
  if (request.borrower.name.trim() === '')
    addProblem({ variable: 'borrower.name', message: 'borrower name is required.' });
  return problems.length > 0 ? new TemplateValueError(problems) : null;
}

/**
 * 3. Business checks (业务校验), every failing rule with its own message. Documents of a bundle often share a check
 * (授信合同 and 授权书 both check the age): each rule is reported once.
 */
function checksRefusal(
  versions: readonly TemplateVersionView[],
  valuesByDocument: readonly Record<string, unknown>[],
  now: number,
): SealflowError | null {
  const failures: CheckFailure[] = [];
  for (const [i, v] of versions.entries()) {
    for (const f of evaluateChecks(v.definition, valuesByDocument[i]!, { now })) {
      if (!failures.some((g) => g.kind === f.kind && g.variable === f.variable && g.message === f.message)) {
        failures.push(f);
      }
    }
  }
  return failures.length > 0 ? new TemplateCheckError(failures) : null;
}

/** 4. The consent must cover exactly the versions being signed. */
function consentRefusal(versions: readonly TemplateVersionView[], consent: Consent): SealflowError | null {
  const unseen = versions.filter((v) => !consent.documentVersionsShown.includes(v.id));
  if (unseen.length === 0) return null;
  return new SealflowError(
    'CONSENT_NOT_COVERING',
    `The customer's consent lists ${consent.documentVersionsShown.join(', ')}, but ${unseen.map((v) => v.id).join(', ')} would be signed. Show the customer the current version and ask again.`,
    { details: { shown: consent.documentVersionsShown, required: versions.map((v) => v.id) } },
  );
}

/** Whether routing requires trusted timestamps for this scene or any of its templates. */
function timestampsRequired(
  routing: SigningRouting | undefined,
  scene: SigningScene,
  versions: readonly TemplateVersionView[],
): boolean {
  const required = routing?.requireTimestamps;
  if (required === undefined || typeof required === 'boolean') return required === true;
  return (
    (required.scenes ?? []).includes(scene.code) ||
    versions.some((v) => (required.templates ?? []).includes(v.definition.code))
  );
}

/** 5. The vendor must be able to sign this scene as configured. */
function capabilityRefusal(
  gateway: SigningGateway,
  parties: readonly SceneParty[],
  needsTimestamps: boolean,
): SealflowError | null {
  const { capabilities } = gateway;
  const missing: string[] = [];
  if (needsTimestamps && capabilities.timestamps !== true) {
    missing.push('timestamps (routing.requireTimestamps asks for RFC 3161 signature timestamps)');
  }
  if (parties.some((p) => p.kind === 'person' && p.signing === 'auto') && !capabilities.personAutoSign) {
    missing.push('personAutoSign (the customer signs by consent)');
  }
  if (parties.some((p) => p.kind === 'organization' && p.signing === 'auto') && !capabilities.organizationAutoSeal) {
    missing.push('organizationAutoSeal');
  }
  if (parties.some((p) => p.signing === 'ownCall') && !capabilities.appendSigners) {
    missing.push('appendSigners (the funder signs with its own call)');
  }
  if (parties.length > capabilities.maxSignersPerFlow) missing.push(`maxSignersPerFlow ≥ ${parties.length}`);
  if (missing.length === 0) return null;
  return new SealflowError(
    'VENDOR_UNSUPPORTED',
    `Vendor "${gateway.id}" cannot sign this scene: it lacks ${missing.join(', ')}. Route the scene to another vendor.`,
    { details: { vendor: gateway.id, missing } },
  );
}
