const falseWords = new Set(['0', 'f', 'false', 'n', 'no', 'off']);

/**
 * The value of a boolean list filter such as `?enabled=`, as Keystone reads
 * one (attr_as_boolean): 0, f, false, n, no and off (any case) are false,
 * anything else is true. undefined when the filter is absent; the last
 * one counts when it is repeated.
 */
export function booleanFilter(value: string | string[] | undefined): boolean | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return !falseWords.has(String(last).trim().toLowerCase());
}
