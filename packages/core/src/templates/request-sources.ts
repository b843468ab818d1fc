/**
 * The value sources sealflow fills from the signing request itself, beside the host's `values`: a variable whose
 * `source` is `funder.name` prints the name of the funder the loan was assigned to, without the host repeating it in
 * `values`. Their fields are fixed by the request's shape, so a template naming one that does not exist is refused
 * when it is saved, not when the first contract is signed.
 *
 * - `borrower.*`: the request's borrower (`name`, `idNumber`, `mobile`);
 * - `funder.*`: the assigned funder of a funder-funded loan (`id`, `name`, `creditCode`) — absent in a signing
 *   without a funder, where a required variable reading it refuses the signing at planning (`TEMPLATE_NEEDS_FUNDER`);
 * - `signing.*`: `businessNo`, and `date`, the signing day in China (`YYYY-MM-DD`).
 *
 * These roots shadow host values of the same name. Each configured organisation is a source by its role too
 * (`platform.name`, `platform.creditCode`); those depend on the host's configuration and are checked at signing.
 */

/** The fields of a signing request a template variable can take its value from, by root (`borrower.name`, …). */
export const REQUEST_SOURCES = {
  borrower: ['name', 'idNumber', 'mobile'],
  funder: ['id', 'name', 'creditCode'],
  signing: ['businessNo', 'date'],
} as const satisfies Record<string, readonly string[]>;

/** A root of {@link REQUEST_SOURCES}: `borrower`, `funder` or `signing`. */
export type RequestSourceRoot = keyof typeof REQUEST_SOURCES;

function rootOf(source: string): RequestSourceRoot | undefined {
  const root = source.split('.')[0]!;
  return Object.hasOwn(REQUEST_SOURCES, root) ? (root as RequestSourceRoot) : undefined;
}

/** Why `source` cannot be read from a signing request, or undefined when it can (or is a host value). */
export function requestSourceProblem(source: string): string | undefined {
  const root = rootOf(source);
  if (root === undefined) return undefined;
  const fields: readonly string[] = REQUEST_SOURCES[root];
  const [, field, ...rest] = source.split('.');
  if (field !== undefined && rest.length === 0 && fields.includes(field)) return undefined;
  return `${root} is the ${root === 'signing' ? 'signing itself' : `request's ${root}`}; read one of its fields: ${fields.map((f) => `${root}.${f}`).join(', ')}.`;
}

/** Whether `source` reads the request's funder (`funder.name`, …). */
export function readsFunder(source: string | undefined): boolean {
  return source !== undefined && rootOf(source) === 'funder';
}

/** The funder as variables see it: only the fields `funder.*` sources may read. */
export function funderSource(
  funder: { id: string; name: string; creditCode: string } | null,
): Record<string, string> | undefined {
  if (!funder) return undefined;
  return Object.fromEntries(REQUEST_SOURCES.funder.map((field) => [field, funder[field]]));
}
