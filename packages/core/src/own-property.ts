/**
 * Lookups by a key that came from outside (a vendor id in a callback URL, a role, a scene code, a variable key):
 * only the object's own properties count, so `__proto__`, `constructor` or `toString` find nothing instead of
 * something inherited from `Object.prototype`.
 */
export function ownValue<T = unknown>(from: unknown, key: string): T | undefined {
  return from !== null && typeof from === 'object' && Object.hasOwn(from, key)
    ? (from as Record<string, T>)[key]
    : undefined;
}
