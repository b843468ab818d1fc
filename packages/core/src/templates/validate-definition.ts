/**
 * Consistency of a template definition with itself and with its PDF.
 *
 * Every problem is collected (operations fix a template in one pass, not one error per save) and reported with a
 * readable path: list items are named by their key (`variables.borrowerName.placement.field`), not by index, because
 * that is how the people fixing them think of them.
 */
import { ValidationError } from '../errors.js';
import { type PlacementRect, type TemplatePdfField, TemplateDefinition, type TemplateVariable } from './model.js';
import { requestSourceProblem } from './request-sources.js';

/** The kind of a problem found in a template definition. */
export type DefinitionProblemKind =
  | 'schema'
  | 'invalidRule'
  | 'unknownField'
  | 'keywordNotFound'
  | 'pageOutOfRange'
  | 'outsidePage'
  | 'duplicateVariableKey'
  | 'duplicatePartyRole'
  | 'duplicatePartyOrder'
  | 'partyCount'
  | 'unknownVariable'
  | 'unknownSource'
  | 'checkVariableType';

/** One problem found in a template definition: its kind, path and message. */
export interface DefinitionProblem {
  /** Readable dotted path, list items by key: `variables.borrowerName.rule.kind`. */
  path: string;
  kind: DefinitionProblemKind;
  message: string;
}

/** What the definition is checked against: the inspected template PDF. */
export interface TemplatePdfFacts {
  pageCount: number;
  fields: readonly Pick<TemplatePdfField, 'name' | 'type'>[];
  /** Keywords found in the PDF's text. When given, every seal placed by keyword must be among them. */
  keywordsFound?: readonly string[];
  /**
   * Each page's MediaBox in PDF points (its lower-left corner, usually 0, 0). When given, every rectangle placed on a
   * page must lie on it.
   */
  pageBoxes?: readonly { x: number; y: number; width: number; height: number }[];
}

/** Options of {@link validateDefinition}. */
export interface ValidateDefinitionOptions {
  /** `draft` (default) accepts an incomplete configuration; `submit` also demands two or three parties. */
  stage?: 'draft' | 'submit';
}

/** A definition that does not fit its PDF or contradicts itself. `details.problems` lists every problem. */
export class TemplateDefinitionError extends ValidationError {
  override readonly code = 'TEMPLATE_DEFINITION_INVALID' as const;
  readonly problems: readonly DefinitionProblem[];

  constructor(problems: readonly DefinitionProblem[]) {
    const shown = problems.slice(0, 10).map((p) => `${p.path}: ${p.message}`);
    super(
      `The template definition has ${problems.length} problem${problems.length === 1 ? '' : 's'} — ${shown.join('; ')}` +
        (problems.length > 10 ? `; and ${problems.length - 10} more` : ''),
      { details: { path: problems[0]?.path, kind: problems[0]?.kind, problems } },
    );
    this.problems = problems;
  }
}

/** Parse `input` and check it against the PDF; throws {@link TemplateDefinitionError} listing every problem. */
export function validateDefinition(
  input: unknown,
  pdf: TemplatePdfFacts,
  options: ValidateDefinitionOptions = {},
): TemplateDefinition {
  const { definition, problems } = definitionProblems(input, pdf, options);
  if (problems.length > 0 || !definition) throw new TemplateDefinitionError(problems);
  return definition;
}

/** Every problem of `input`, and the parsed definition when its shape is valid. */
export function definitionProblems(
  input: unknown,
  pdf: TemplatePdfFacts,
  options: ValidateDefinitionOptions = {},
): { definition: TemplateDefinition | undefined; problems: DefinitionProblem[] } {
  const parsed = TemplateDefinition.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): DefinitionProblem => {
      const path = readablePath(input, issue.path);
      const isRule = issue.path.includes('rule');
      return { path, kind: isRule ? 'invalidRule' : 'schema', message: schemaMessage(issue) };
    });
    return { definition: undefined, problems };
  }
  return { definition: parsed.data, problems: consistencyProblems(parsed.data, pdf, options) };
}

/** zod's message, with the field to use instead when a definition names the document type `scene`. */
function schemaMessage(issue: { code: string; path: PropertyKey[]; message: string; keys?: string[] }): string {
  if (issue.code === 'unrecognized_keys' && issue.path.length === 0 && issue.keys?.includes('scene')) {
    return `${issue.message}: the kind of document is documentType, e.g. LOAN_CONTRACT.`;
  }
  return issue.message;
}

function consistencyProblems(
  definition: TemplateDefinition,
  pdf: TemplatePdfFacts,
  options: ValidateDefinitionOptions,
): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const add = (path: string, kind: DefinitionProblemKind, message: string) => problems.push({ path, kind, message });
  const fieldNames = pdf.fields.map((f) => f.name);
  const fieldSet = new Set(fieldNames);
  const listFields = () =>
    fieldNames.length === 0
      ? 'the PDF has no form fields; place it by { page, rect } instead'
      : `fields in the PDF: ${fieldNames.slice(0, 40).join(', ')}${fieldNames.length > 40 ? ', …' : ''}`;
  const checkPage = (path: string, page: number) => {
    if (page >= pdf.pageCount) {
      add(path, 'pageOutOfRange', `page ${page} does not exist; the PDF has pages 0–${pdf.pageCount - 1} (0-based).`);
    }
  };
  // A value or seal drawn off the page is invisible in the signed contract. Half a point of slack for rounding.
  const checkRect = (path: string, { page, rect }: { page: number; rect: PlacementRect }) => {
    const box = pdf.pageBoxes?.[page];
    if (!box) return;
    const [left, bottom, right, top] = [box.x, box.y, box.x + box.width, box.y + box.height];
    if (
      rect.x < left - 0.5 ||
      rect.y < bottom - 0.5 ||
      rect.x + rect.width > right + 0.5 ||
      rect.y + rect.height > top + 0.5
    ) {
      add(
        `${path}.rect`,
        'outsidePage',
        `the rectangle from (${rect.x}, ${rect.y}) to (${rect.x + rect.width}, ${rect.y + rect.height}) is not on ` +
          `page ${page}, which spans (${left}, ${bottom}) to (${right}, ${top}) in PDF points (origin at the lower ` +
          'left); move or shrink it onto the page.',
      );
    }
  };

  // Variables: unique keys, placements that exist.
  const variables = new Map<string, TemplateVariable>();
  for (const variable of definition.variables) {
    const base = `variables.${variable.key}`;
    if (variables.has(variable.key)) {
      add(
        base,
        'duplicateVariableKey',
        `the key "${variable.key}" is used by more than one variable; keys must be unique.`,
      );
      continue;
    }
    variables.set(variable.key, variable);
    const placement = variable.placement;
    if (placement && 'field' in placement && !fieldSet.has(placement.field)) {
      add(
        `${base}.placement.field`,
        'unknownField',
        `there is no field "${placement.field}" in the PDF; ${listFields()}.`,
      );
    }
    if (placement && 'page' in placement) {
      checkPage(`${base}.placement.page`, placement.page);
      checkRect(`${base}.placement`, placement);
    }
    const sourceProblem = variable.source === undefined ? undefined : requestSourceProblem(variable.source);
    if (sourceProblem) add(`${base}.source`, 'unknownSource', `there is no ${variable.source}: ${sourceProblem}`);
  }

  // Parties: unique roles and orders, seal placements that exist, two or three of them when submitted.
  const roles = new Set<string>();
  const orders = new Set<number>();
  for (const party of definition.parties) {
    const base = `parties.${party.role}`;
    if (roles.has(party.role)) add(base, 'duplicatePartyRole', `the role "${party.role}" appears more than once.`);
    roles.add(party.role);
    if (orders.has(party.order)) {
      add(`${base}.order`, 'duplicatePartyOrder', `order ${party.order} is given to more than one party.`);
    }
    orders.add(party.order);
    if ('field' in party.seal && !fieldSet.has(party.seal.field)) {
      add(`${base}.seal.field`, 'unknownField', `there is no field "${party.seal.field}" in the PDF; ${listFields()}.`);
    }
    if ('page' in party.seal) {
      checkPage(`${base}.seal.page`, party.seal.page);
      checkRect(`${base}.seal`, party.seal);
    }
    if ('keyword' in party.seal && pdf.keywordsFound && !pdf.keywordsFound.includes(party.seal.keyword)) {
      add(`${base}.seal.keyword`, 'keywordNotFound', `the text "${party.seal.keyword}" does not occur in the PDF.`);
    }
  }
  if ((options.stage ?? 'draft') === 'submit' && (definition.parties.length < 2 || definition.parties.length > 3)) {
    add(
      'parties',
      'partyCount',
      `a template is signed by two or three parties (e.g. borrower + platform); it has ${definition.parties.length}.`,
    );
  }

  // Checks: every variable they name exists and has a type the check can read.
  const requireVariable = (path: string, key: string): TemplateVariable | undefined => {
    const variable = variables.get(key);
    if (!variable)
      add(
        path,
        'unknownVariable',
        `there is no variable "${key}"; variables: ${[...variables.keys()].join(', ') || 'none'}.`,
      );
    return variable;
  };
  const requireType = (
    path: string,
    variable: TemplateVariable | undefined,
    types: readonly string[],
    what: string,
  ) => {
    if (variable && !types.includes(variable.type)) {
      add(
        path,
        'checkVariableType',
        `${what} needs a variable of type ${types.join(' or ')}; "${variable.key}" is ${variable.type}.`,
      );
    }
  };
  definition.checks.forEach((check, index) => {
    const base = `checks.${index}`;
    const subject = requireVariable(`${base}.variable`, check.variable);
    switch (check.kind) {
      case 'ageBetween':
        requireType(`${base}.variable`, subject, ['idNumber'], 'ageBetween');
        if (check.min > check.max) add(`${base}.min`, 'schema', `min ${check.min} is greater than max ${check.max}.`);
        break;
      case 'amountWithin':
        requireType(`${base}.variable`, subject, ['amount'], 'amountWithin');
        if (check.maxVariable !== undefined) {
          const ceiling = requireVariable(`${base}.maxVariable`, check.maxVariable);
          requireType(`${base}.maxVariable`, ceiling, ['amount'], 'amountWithin.maxVariable');
        }
        break;
      case 'dateNotBefore':
      case 'dateNotAfter':
        requireType(`${base}.variable`, subject, ['date'], check.kind);
        if (typeof check.than === 'object' && 'variable' in check.than) {
          const other = requireVariable(`${base}.than.variable`, check.than.variable);
          requireType(`${base}.than.variable`, other, ['date'], check.kind);
        }
        break;
      case 'equals':
        if (check.otherVariable !== undefined) requireVariable(`${base}.otherVariable`, check.otherVariable);
        break;
      case 'required':
      case 'pattern':
        break;
    }
  });

  // Vendor bindings may only name variables that exist.
  const bindings: [string, Record<string, string> | undefined][] = [
    ['vendorBindings.esign.componentKeys', definition.vendorBindings.esign?.componentKeys],
    ['vendorBindings.cfca.fieldNames', definition.vendorBindings.cfca?.fieldNames],
  ];
  for (const [path, map] of bindings) {
    for (const key of Object.keys(map ?? {})) requireVariable(`${path}.${key}`, key);
  }
  return problems;
}

/** Turn a zod issue path into the readable form, naming variables by key and parties by role where possible. */
function readablePath(input: unknown, path: readonly PropertyKey[]): string {
  const parts: string[] = [];
  let node: unknown = input;
  for (const segment of path) {
    const child =
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
    if (typeof segment === 'number' && Array.isArray(node)) {
      const item = child as { key?: unknown; role?: unknown } | undefined;
      const name = typeof item?.key === 'string' ? item.key : typeof item?.role === 'string' ? item.role : undefined;
      parts.push(name !== undefined && /^[A-Za-z][A-Za-z0-9_]*$/.test(name) ? name : String(segment));
    } else {
      parts.push(String(segment));
    }
    node = child;
  }
  return parts.join('.') || '(definition)';
}
