/**
 * Keystone's resource option `immutable` (domains and projects): while set,
 * the only accepted update is the one that clears it.
 */
export const isImmutable = (options: Record<string, unknown>) => options.immutable === true;

/** Whether an update body only clears `immutable` ({options: {immutable: false|null}}). */
export function onlyClearsImmutable(input: Record<string, unknown>): boolean {
  const keys = Object.keys(input);
  if (keys.length !== 1 || keys[0] !== 'options') return false;
  const options = input.options as Record<string, unknown> | undefined;
  return !!options && 'immutable' in options && (options.immutable === false || options.immutable === null);
}

/** Options after an update: a null value removes the option, as in Keystone. */
export function mergeOptions(current: Record<string, unknown>, changes: Record<string, unknown> | undefined): Record<string, unknown> {
  const merged = { ...current };
  for (const [k, v] of Object.entries(changes ?? {})) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}
