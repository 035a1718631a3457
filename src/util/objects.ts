/**
 * `o` without its `undefined` fields, so `{ ...DEFAULTS, ...stripUndefined(user) }` keeps a
 * default wherever the user passed `undefined` (an unset CLI flag, a spread of optional fields).
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
