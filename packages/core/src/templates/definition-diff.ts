/**
 * Readable diffs of template definitions: one entry per changed value with a one-line summary, so the history of a
 * draft says what an edit changed (`variables.amount.rule: text → amountWithSeparators(2)`).
 */
import type { DefinitionChange, TemplateDefinition } from './model.js';

/** Arrays whose items are matched by a key, so reordering or inserting one does not read as changing all. */
const KEYED_ARRAYS: Record<string, string> = { variables: 'key', parties: 'role' };
/** Values shown whole in a diff line (`text → mask(1,0)`), not broken into their fields. */
const LEAF_KEYS = new Set(['rule', 'placement', 'seal', 'than']);

/** What changed between two definitions, one entry per changed value, with a one-line summary each. */
export function diffDefinitions(before: TemplateDefinition, after: TemplateDefinition): DefinitionChange[] {
  const changes: DefinitionChange[] = [];
  walk('', before, after, undefined, changes);
  return changes;
}

function walk(path: string, a: unknown, b: unknown, key: string | undefined, out: DefinitionChange[]): void {
  if (deepEqual(a, b)) return;
  const bothObjects = isPlainObject(a) && isPlainObject(b);
  const bothArrays = Array.isArray(a) && Array.isArray(b);
  if (
    (key !== undefined && LEAF_KEYS.has(key)) ||
    !(bothObjects || (bothArrays && (a as unknown[]).some(isPlainObject)))
  ) {
    out.push(change(path, a, b));
    return;
  }
  const join = (k: string) => (path ? `${path}.${k}` : k);
  if (bothArrays) {
    const idKey = key !== undefined ? KEYED_ARRAYS[key] : undefined;
    const name = (item: unknown, index: number) => {
      const id = idKey && isPlainObject(item) ? item[idKey] : undefined;
      return typeof id === 'string' ? id : String(index);
    };
    const left = new Map((a as unknown[]).map((item, i) => [name(item, i), item]));
    const right = new Map((b as unknown[]).map((item, i) => [name(item, i), item]));
    for (const k of new Set([...left.keys(), ...right.keys()]))
      walk(join(k), left.get(k), right.get(k), undefined, out);
    return;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(left), ...Object.keys(right)])) walk(join(k), left[k], right[k], k, out);
}

function change(path: string, before: unknown, after: unknown): DefinitionChange {
  const summary =
    before === undefined
      ? `${path}: added ${show(after)}`
      : after === undefined
        ? `${path}: removed ${show(before)}`
        : `${path}: ${show(before)} → ${show(after)}`;
  // Absent rather than `undefined`: the entry must read back from JSON exactly as it was written.
  return {
    path,
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    summary,
  };
}

/** A compact, human form of a definition value. */
function show(value: unknown): string {
  if (value === undefined || value === null) return '∅';
  if (typeof value === 'string') return value;
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  const v = value as Record<string, unknown>;
  switch (v.kind) {
    case 'mask':
      return `mask(${v.keepStart},${v.keepEnd})`;
    case 'date':
      return `date(${v.pattern})`;
    case 'amountWithSeparators':
      return `amountWithSeparators(${v.decimals})`;
  }
  if (typeof v.kind === 'string' && typeof v.message === 'string') return `${v.kind} "${v.message}"`;
  if (typeof v.kind === 'string' && Object.keys(v).length <= 2) return v.kind;
  if (typeof v.key === 'string' && typeof v.label === 'string') return `${v.label} (${v.type})`;
  if (typeof v.role === 'string' && typeof v.kind === 'string') return `${v.role} (${v.kind})`;
  if (typeof v.field === 'string') return `field ${v.field}`;
  if (typeof v.keyword === 'string') return `keyword "${v.keyword}"`;
  if (typeof v.page === 'number' && isPlainObject(v.rect)) {
    const r = v.rect as Record<string, number>;
    return `page ${v.page} (${r.x},${r.y} ${r.width}×${r.height})`;
  }
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

export function summarizeChanges(changes: readonly DefinitionChange[]): string {
  const lines = changes.slice(0, 5).map((c) => c.summary);
  return lines.join('; ') + (changes.length > 5 ? `; and ${changes.length - 5} more` : '');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}
