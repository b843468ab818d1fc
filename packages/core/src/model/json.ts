/**
 * Values that travel into a workflow are stored as JSON and fingerprinted as canonical JSON, so they must be JSON:
 * text, finite numbers, booleans, null, arrays and plain objects — no BigInt, Date, Map, class instance or function,
 * which JSON would drop, change or refuse later, half-way through a signing. Size is bounded too, so one request
 * cannot make every later step slow.
 */

export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most array items plus object entries in all. */
  maxEntries: number;
  /** Longest string, in UTF-16 units. */
  maxStringLength: number;
}

export const REQUEST_VALUE_LIMITS: JsonLimits = { maxDepth: 16, maxEntries: 5_000, maxStringLength: 8_000 };

/** Why `value` is not bounded JSON, naming the path (`loan.amount`), or `undefined`. Never shows the value itself. */
export function jsonProblem(value: unknown, limits: JsonLimits = REQUEST_VALUE_LIMITS): string | undefined {
  // Iterative, so a deeply nested value cannot exhaust the stack before the depth limit is noticed.
  const stack: { node: unknown; path: string; depth: number }[] = [{ node: value, path: '', depth: 0 }];
  let entries = 0;
  const where = (path: string) => (path === '' ? 'the value' : path);
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    switch (typeof node) {
      case 'string':
        if (node.length > limits.maxStringLength) {
          return `${where(path)} is ${node.length} characters long; at most ${limits.maxStringLength} are accepted.`;
        }
        continue;
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(node)) return `${where(path)} is ${node}; only finite numbers are accepted.`;
        continue;
      case 'object':
        break;
      default:
        return `${where(path)} is a ${typeof node}; pass text, numbers, booleans, null, arrays or plain objects (amounts as text such as "188000.00").`;
    }
    if (node === null) continue;
    const proto = Object.getPrototypeOf(node);
    if (!Array.isArray(node) && proto !== Object.prototype && proto !== null) {
      const kind = node instanceof Date ? 'a Date (pass dates as text YYYY-MM-DD)' : 'not a plain object';
      return `${where(path)} is ${kind}; pass text, numbers, booleans, null, arrays or plain objects.`;
    }
    if (depth >= limits.maxDepth) return `${where(path)} nests deeper than ${limits.maxDepth} levels.`;
    const keys = Object.keys(node);
    entries += keys.length;
    if (entries > limits.maxEntries) return `the values have more than ${limits.maxEntries} entries in all.`;
    for (const key of keys) {
      const child = (node as Record<string, unknown>)[key];
      const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
      stack.push({ node: child, path: path === '' ? shown : `${path}.${shown}`, depth: depth + 1 });
    }
  }
  return undefined;
}
