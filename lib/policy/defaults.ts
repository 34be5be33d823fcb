/**
 * A service's default rules as OpenStack ships them since the secure-RBAC
 * work: each rule has a new, scope-aware default and may keep a deprecated
 * one. With oslo.policy's enforce_new_defaults off (the Zed default) the two
 * are OR'd; with it on, only the new one counts.
 */

/** A rule: its new default, and the deprecated rule still OR'd with it. */
export type RuleEntry = readonly [current: string, deprecated?: string];

/** As oslo.policy combines them when enforce_new_defaults is off: `(new) or (deprecated)`. */
const withDeprecated = ([current, deprecated]: RuleEntry): string =>
  deprecated === undefined || deprecated === current ? current : `(${current}) or (${deprecated})`;

/** The rules a stock deployment evaluates (new OR deprecated). */
export const combinedDefaults = (entries: Record<string, RuleEntry>): Record<string, string> =>
  Object.freeze(Object.fromEntries(Object.entries(entries).map(([name, entry]) => [name, withDeprecated(entry)])));

/** The new rules alone (enforce_new_defaults = True). */
export const newDefaults = (entries: Record<string, RuleEntry>): Record<string, string> =>
  Object.freeze(Object.fromEntries(Object.entries(entries).map(([name, [current]]) => [name, current])));
