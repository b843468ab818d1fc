/**
 * Template definitions and the template service under generated bad input: any part of a definition replaced by
 * anything, on import and on edit, and any id or filter given to the commands and queries. Every failure is a
 * `SealflowError` with a stable code and leaves nothing written (versions, heads, history, workflows, documents).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SealflowError,
  type TemplateDefinitionInput,
  type TemplateVersionView,
  definitionProblems,
  validateDefinition,
} from '../src/index.js';
import { PROPERTY_RUNS, PROTOTYPE_KEYS, anyValue, compactContractPdf } from './bad-input-fixtures.js';
import { CONTRACT_FIELDS, editor, legalLee, loanDefinition, setupTemplates } from './template-fixtures.js';

/** The whole definition replaced by null, undefined or a number: rare for the generator, so always tried. */
const ROOT_REPLACED: [[(string | number)[], unknown][]][] = [[[[[], null]]], [[[[], undefined]]], [[[[], 7]]]];

const anyInput = anyValue();
const replacement = fc.oneof(
  fc.constantFrom(
    '^([a-z]+)+$',
    '(a)\\1',
    'a(?=b)',
    '[',
    -1,
    0,
    1e9,
    Number.NaN,
    '',
    'constructor',
    '__proto__',
    { field: 'toString' },
    { page: 99, rect: { x: 0, y: 0, width: 1, height: 1 } },
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  anyInput,
);

/** Every path into the sample definition (array items by index), so a mutation can reach any part of it. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
}

function replaced(definition: object, path: readonly (string | number)[], value: unknown): Record<string, unknown> {
  if (path.length === 0) return value as Record<string, unknown>;
  if (definition === null || typeof definition !== 'object') return definition;
  const copy = structuredClone(definition) as Record<string | number, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object') return copy; // an earlier change removed this branch
    node = next as Record<string | number, unknown>;
  }
  Object.defineProperty(node, path.at(-1)!, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

const base = { ...loanDefinition(), code: 'LOAN_CONTRACT_V', name: '个人借款合同', documentType: 'LOAN_CONTRACT' };
const mutation = fc.array(fc.tuple(fc.constantFrom(...pathsOf(base)), replacement), { minLength: 1, maxLength: 3 });
const mutate = (changes: [(string | number)[], unknown][]) =>
  changes.reduce<Record<string, unknown>>((d, [path, value]) => replaced(d, path, value), base);

const isObject = (value: unknown): value is object => value !== null && typeof value === 'object';

function expectTyped(error: unknown, codes: readonly string[]): void {
  expect(error, String(error)).toBeInstanceOf(SealflowError);
  expect(codes).toContain((error as SealflowError).code);
}

describe('template definitions: any part replaced by anything', () => {
  const pdf = { pageCount: 8, fields: CONTRACT_FIELDS.map((name) => ({ name, type: 'text' })) };

  it('validateDefinition and definitionProblems (property)', () => {
    fc.assert(
      fc.property(mutation, fc.constantFrom('draft', 'submit'), (changes, stage) => {
        const input = mutate(changes);
        try {
          validateDefinition(input, pdf, { stage: stage as 'draft' });
        } catch (error) {
          expectTyped(error, ['TEMPLATE_DEFINITION_INVALID']);
          expect((error as SealflowError).details?.problems).not.toEqual([]);
        }
        const { problems } = definitionProblems(input, pdf);
        for (const problem of problems) expect(typeof problem.path).toBe('string');
      }),
      PROPERTY_RUNS,
    );
  });
});

describe('template service: nothing written on bad input', () => {
  let s: ReturnType<typeof setupTemplates>;
  let template: Uint8Array;
  let draft: TemplateVersionView;
  beforeAll(async () => {
    s = setupTemplates();
    template = await compactContractPdf();
    draft = await s.service.importTemplate(editor, {
      code: 'KEPT_DRAFT',
      name: '草稿',
      documentType: 'LOAN_CONTRACT',
      pdf: template,
      definition: loanDefinition(),
    });
  });

  it('importTemplate with a damaged definition (property)', async () => {
    const before = await s.footprint();
    // What the store must still look like after a refusal: the state after the last accepted import.
    let expected = before;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (changes) => {
        const mutated = mutate(changes);
        // The whole definition may have been replaced by null or a primitive: import that as the definition.
        const { code, name, documentType, ...rest } = (isObject(mutated) ? mutated : base) as Record<string, unknown>;
        const definition = isObject(mutated) ? rest : mutated;
        // Keep the mutated definition invalid or unique: a valid one under a fresh code is a legitimate import.
        const fresh = typeof code === 'string' && code === base.code ? `P${++run}` : code;
        try {
          await s.service.importTemplate(editor, {
            code: fresh as string,
            name: name as string,
            documentType: documentType as string,
            pdf: template,
            definition: definition as TemplateDefinitionInput,
          });
          expected = await s.footprint();
        } catch (error) {
          expectTyped(error, ['TEMPLATE_DEFINITION_INVALID', 'INVALID_INPUT', 'VERSION_CONFLICT', 'DUPLICATE']);
          expect(await s.footprint()).toEqual(expected);
        }
      }),
      { ...PROPERTY_RUNS, examples: ROOT_REPLACED },
    );
    expect((await s.footprint()).documents).toBeGreaterThanOrEqual(before.documents);
  });

  it('updateDraft with damaged changes (property)', async () => {
    let expected = { footprint: await s.footprint(), version: await s.service.getVersion(draft.id) };
    await fc.assert(
      fc.asyncProperty(mutation, async (changes) => {
        const mutated = mutate(changes);
        const { code: _code, ...rest } = (isObject(mutated) ? mutated : {}) as Record<string, unknown>;
        const edit = isObject(mutated) ? rest : mutated;
        try {
          await s.service.updateDraft(editor, draft.id, edit as never);
          expected = { footprint: await s.footprint(), version: await s.service.getVersion(draft.id) };
        } catch (error) {
          expectTyped(error, ['TEMPLATE_DEFINITION_INVALID', 'INVALID_INPUT']);
          expect(await s.footprint()).toEqual(expected.footprint);
          expect(await s.service.getVersion(draft.id)).toEqual(expected.version);
        }
      }),
      { ...PROPERTY_RUNS, examples: ROOT_REPLACED },
    );
  });

  it('commands and queries with any id, filter or actor (property)', async () => {
    const before = await s.footprint();
    // Ids that reach the store are the slow case; most generated ids are refused before it.
    const id = fc.oneof(
      { arbitrary: fc.constantFrom(draft.id, 'KEPT_DRAFT', ...PROTOTYPE_KEYS, ''), weight: 1 },
      { arbitrary: fc.string({ maxLength: 20 }), weight: 1 },
      { arbitrary: anyInput, weight: 4 },
    );
    const actor = fc.oneof({ arbitrary: fc.constant(legalLee), weight: 1 }, { arbitrary: anyInput, weight: 2 });
    await fc.assert(
      fc.asyncProperty(id, actor, anyInput, async (someId, someActor, filter) => {
        const calls: (() => Promise<unknown>)[] = [
          () => s.service.getVersion(someId as string),
          () => s.service.getEffective(someId as string),
          () => s.service.history(someId as string),
          () => s.service.requireEffective(someId as string),
          () => s.service.list(filter as never),
          () => s.service.reviseEffective(someActor as never, someId as string),
          () => s.service.approve(someActor as never, someId as string),
          () => s.service.reject(someActor as never, someId as string, filter as string),
          () => s.service.withdraw(someActor as never, someId as string),
          () => s.service.importTemplate(someActor as never, filter as never),
        ];
        for (const call of calls) {
          await call().catch((error: unknown) => {
            expect(error, String(error)).toBeInstanceOf(SealflowError);
            expect((error as SealflowError).code).toMatch(/^[A-Z][A-Z_]+$/);
          });
        }
      }),
      PROPERTY_RUNS,
    );
    expect(await s.footprint()).toEqual(before);
  });
});
