/**
 * Vendor routes with failover: which vendors a route names, which of them can sign a template, and the one rule
 * that decides whether a signing may move from one vendor to the next.
 */
import { SealflowError } from '../errors.js';
import type { SigningCapabilities } from '../ports/signing-vendor.js';
import { ownValue } from '../own-property.js';
import type { TemplateDefinition } from '../templates/model.js';
import type { SigningScene } from './scenes.js';
import type { SigningRoute, SigningRouting, SigningServiceOptions } from './signing-options.js';

/** The vendor ids of a route, in order of preference. */
export function routeVendors(route: SigningRoute): string[] {
  return typeof route === 'string' ? [route] : [...route];
}

/** Every problem of the routing configuration, each naming the route to fix. */
export function routingProblems(routing: SigningRouting | undefined, vendorIds: readonly string[]): string[] {
  const routes: [string, SigningRoute | undefined][] = [
    ['routing.default', routing?.default],
    ...Object.entries(routing?.scenes ?? {}).map(([code, route]): [string, SigningRoute] => [
      `routing.scenes.${code}`,
      route,
    ]),
    ...Object.entries(routing?.templates ?? {}).map(([code, route]): [string, SigningRoute] => [
      `routing.templates.${code}`,
      route,
    ]),
  ];
  const problems: string[] = [];
  for (const [path, route] of routes) {
    if (route === undefined) continue;
    const ids = routeVendors(route);
    if (ids.length === 0) problems.push(`${path} is an empty list: name at least one vendor`);
    for (const id of ids) {
      if (!vendorIds.includes(id)) problems.push(`routing names unknown vendor "${id}" (${path})`);
    }
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (repeated.length > 0) {
      problems.push(`${path} names ${[...new Set(repeated)].join(', ')} twice: a vendor cannot be its own fallback`);
    }
  }
  return problems;
}

/** The template code of each of the scene's documents: the host's mapping (`templateCodes`) or the scene's own. */
export function sceneTemplateCodes(
  scene: Pick<SigningScene, 'code' | 'documents'>,
  templateCodes: SigningServiceOptions['templateCodes'],
): string[] {
  return scene.documents.map((d) => ownValue<string>(ownValue(templateCodes, scene.code), d.key) ?? d.templateCode);
}

/**
 * The routes a scene's signings are sent on: the scene's own route, else the distinct routes of its templates, else
 * the default, else the only vendor. More than one (templates routed apart) is refused when a signing is planned;
 * none means no vendor is routed for the scene.
 */
export function sceneRoutes(
  sceneCode: string,
  codes: readonly string[],
  routing: SigningRouting | undefined,
  vendorIds: readonly string[],
): string[][] {
  const byScene = ownValue<SigningRoute>(routing?.scenes, sceneCode);
  if (byScene !== undefined) return [routeVendors(byScene)];
  const byTemplate: string[][] = [];
  for (const code of codes) {
    const route = ownValue<SigningRoute>(routing?.templates, code);
    if (route === undefined) continue;
    const ids = routeVendors(route);
    if (!byTemplate.some((known) => sameRoute(known, ids))) byTemplate.push(ids);
  }
  if (byTemplate.length > 0) return byTemplate;
  const byDefault = routing?.default === undefined ? [] : routeVendors(routing.default);
  if (byDefault.length > 0) return [byDefault];
  return vendorIds.length === 1 ? [[vendorIds[0]!]] : [];
}

/** The two routes send a signing to the same vendors in the same order. */
export function sameRoute(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/**
 * Whether a vendor can sign a template ("the template is bound at that vendor").
 *
 * sealflow renders every template from its imported PDF and uploads the result, which every vendor accepts. A
 * template with vendor bindings (`vendorBindings.esign`, `vendorBindings.cfca`) is in addition kept at those vendors
 * as a vendor-side template: its contract is set up there, with the vendor's own template id and parameter names. A
 * vendor that keeps templates of its own (`capabilities.vendorTemplates`, such as e签宝 or CFCA) can then sign it only
 * when the template is bound at it, under its vendor id: it has not been given this contract otherwise. A vendor
 * without templates of its own (the local signer) signs the PDF sealflow renders, so it can sign every template.
 */
export function vendorCanSignTemplate(
  vendor: { id: string; capabilities: Pick<SigningCapabilities, 'vendorTemplates'> },
  definition: Pick<TemplateDefinition, 'vendorBindings'>,
): boolean {
  const bindings = Object.entries(definition.vendorBindings ?? {}).filter(([, binding]) => binding !== undefined);
  if (bindings.length === 0 || !vendor.capabilities.vendorTemplates) return true;
  return bindings.some(([bound]) => bound === vendor.id);
}

/**
 * Failures after which a vendor is not holding a flow for the signing *if* it also says so when asked: it was down,
 * answered too late, throttled, or refused the request at its gate (credentials, IP whitelist). A vendor that looked
 * at the request and refused its content (`VENDOR_REJECTED`: a seal, a signer, a document it will not take) is not in
 * it: that is the host's to fix, and another vendor would only hide it. Neither is a garbled answer
 * (`VENDOR_BAD_RESPONSE`: the vendor may have created the flow it failed to describe), nor a call abandoned by its
 * caller (`VENDOR_ABORTED`: the effect is retried as it is).
 */
export const UNAVAILABLE_VENDOR_CODES: readonly string[] = [
  'VENDOR_UNAVAILABLE',
  'VENDOR_TIMEOUT',
  'VENDOR_FAILURE',
  'VENDOR_RATE_LIMITED',
  'VENDOR_AUTH_FAILED',
  'VENDOR_FORBIDDEN',
];

/** What a vendor answered when asked, after a failed start, for a flow made for the signing: none, found, or it could not tell. */
export type FlowLookupAnswer = 'none' | 'found' | 'cannot-tell';

/**
 * The failover rule: whether a signing may move on to the next vendor of its route after `failure` at the current
 * one. Signing twice is the worst outcome, so the answer is yes only when the current vendor is known NOT to hold a
 * flow for this signing:
 *
 * - the failure is of the "unavailable or refused before creation" class ({@link UNAVAILABLE_VENDOR_CODES}); and
 * - the vendor, asked after the gateway's tries were exhausted, confirmed it holds no flow made under this signing's
 *   idempotency key (`findFlow`). That covers the tries that timed out: a timed-out `createFlow` may have created
 *   the flow and only its answer was lost, and the lookup finds it (the signing then carries on with it). A vendor
 *   that cannot be asked (no `findFlow`) or whose lookup failed cannot tell, so the signing stays with it: the
 *   runtime retries the step under the same key, and an operator decides once retries run out.
 *
 * The decision is made once, by the effect that started the flow, and saved in the workflow (with the next vendor)
 * before anything is sent to that vendor: a crash or a retry replays the saved decision rather than deciding again.
 */
export function mayFailOver(failure: unknown, lookup: FlowLookupAnswer): boolean {
  return isVendorUnavailable(failure) && lookup === 'none';
}

/** The failure is of the "unavailable or refused before creation" class ({@link UNAVAILABLE_VENDOR_CODES}). */
export function isVendorUnavailable(failure: unknown): failure is SealflowError {
  return failure instanceof SealflowError && UNAVAILABLE_VENDOR_CODES.includes(failure.code);
}
