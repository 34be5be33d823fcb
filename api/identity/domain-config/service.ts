import type { IdentityContext } from '../context.ts';
import * as domains from '../domains/service.ts';
import { domainConfigNotFound, invalidDomainConfig } from './errors.ts';
import { CONFIG_GROUPS, defaultsOf, isConfigGroup, isSensitive, isWhitelisted, type ConfigGroup } from './options.ts';
import * as store from './store.ts';
import type { ConfigOptionRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** A domain's configuration as the API shows it: {group: {option: value}}. */
export type DomainConfig = Record<string, Record<string, unknown>>;

/** Where a request points: the whole configuration, one group, or one option of a group. */
export interface ConfigPath {
  group?: string;
  option?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keystone's check of a group and option named in a URL or a body (403 when not supported). */
function assertSupported(group: string | undefined, option?: string): asserts group is ConfigGroup | undefined {
  if (group === undefined) return;
  if (!isConfigGroup(group)) throw invalidDomainConfig(`Group ${group} is not supported for domain specific configurations`);
  if (option !== undefined && !isWhitelisted(group, option) && !isSensitive(group, option)) {
    throw invalidDomainConfig(`Option ${option} in group ${group} is not supported for domain specific configurations`);
  }
}

/** A body's configuration, checked: groups of options, each supported. */
function optionsOf(config: Record<string, unknown>): ConfigOptionRow[] {
  if (Object.keys(config).length === 0) throw invalidDomainConfig('No options specified');
  const rows: ConfigOptionRow[] = [];
  for (const [group, options] of Object.entries(config)) {
    if (!isObject(options) || Object.keys(options).length === 0) {
      throw invalidDomainConfig(`The value of group ${group} specified in the config should be a dictionary of options`);
    }
    for (const [option, value] of Object.entries(options)) {
      assertSupported(group, option);
      rows.push({ group, option, value: value ?? null, sensitive: isSensitive(group as ConfigGroup, option) });
    }
  }
  return rows;
}

/** Rows as {group: {option: value}}. */
function configOf(rows: readonly ConfigOptionRow[]): DomainConfig {
  const config: DomainConfig = {};
  for (const r of rows) (config[r.group] ??= {})[r.option] = r.value;
  return config;
}

/** What the API shows of the domain's configuration: every whitelisted option. */
async function shownConfig(deps: Deps, domainId: string): Promise<DomainConfig> {
  return configOf(await store.listOptions(deps.db, domainId, { sensitive: false }));
}

/**
 * Replaces the domain's configuration (no conflict on an existing one, as in
 * Keystone); returns what is shown of it and whether it replaced one.
 */
export async function createConfig(
  deps: Deps,
  domainId: string,
  config: Record<string, unknown>,
): Promise<{ config: DomainConfig; replaced: boolean }> {
  await domains.getDomain(deps, domainId);
  const rows = optionsOf(config);
  const replaced = await store.replaceOptions(deps.db, domainId, rows);
  return { config: await shownConfig(deps, domainId), replaced };
}

/**
 * The whole configuration, a group ({group: {...}}) or one option
 * ({option: value}); sensitive options are never shown (404).
 */
export async function getConfig(deps: Deps, domainId: string, path: ConfigPath): Promise<Record<string, unknown>> {
  const { group, option } = path;
  assertSupported(group, option);
  await domains.getDomain(deps, domainId);
  const rows = await store.listOptions(deps.db, domainId, { group, option, sensitive: false });
  if (rows.length === 0) throw domainConfigNotFound(domainId, group, option);
  return option !== undefined ? { [option]: rows[0].value } : configOf(rows);
}

/**
 * Keystone's rules for a partial update: the body must hold the addressed
 * group (or option) and nothing else, and that group (or option) must exist.
 */
async function assertValidUpdate(deps: Deps, domainId: string, config: Record<string, unknown>, path: ConfigPath): Promise<void> {
  const { group, option } = path;
  assertSupported(group, option);
  if (group === undefined) return;
  const groups = Object.keys(config);
  const options = isObject(config[groups[0]]) ? Object.keys(config[groups[0]] as object) : [];
  if (groups.length !== 1 || (option !== undefined && options.length !== 1)) {
    throw invalidDomainConfig(
      option !== undefined
        ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified in the config`
        : `Trying to update group ${group}, so that, and only that, group must be specified in the config`,
    );
  }
  if (groups[0] !== group) {
    throw invalidDomainConfig(`request to update group ${group}, but config provided contains group ${groups[0]} instead`);
  }
  if (option !== undefined && options[0] !== option) {
    throw invalidDomainConfig(`Trying to update option ${option} in group ${group}, but config provided contains option ${options[0]} instead`);
  }
  if ((await store.listOptions(deps.db, domainId, { group, option })).length === 0) throw domainConfigNotFound(domainId, group, option);
}

/**
 * Merges options into the domain's configuration. For one option the body is
 * {option: value}; for a group, {group: {...}}; otherwise groups of options.
 * Returns the whole configuration as shown.
 */
export async function updateConfig(deps: Deps, domainId: string, body: Record<string, unknown>, path: ConfigPath): Promise<DomainConfig> {
  await domains.getDomain(deps, domainId);
  const config = path.group !== undefined && path.option !== undefined ? { [path.group]: body } : body;
  const rows = optionsOf(config);
  await assertValidUpdate(deps, domainId, config, path);
  await store.upsertOptions(deps.db, domainId, rows);
  return shownConfig(deps, domainId);
}

/** Deletes the whole configuration, a group or one option; a group or option not set is a 404. */
export async function deleteConfig(deps: Deps, domainId: string, path: ConfigPath): Promise<void> {
  const { group, option } = path;
  await domains.getDomain(deps, domainId);
  assertSupported(group, option);
  if (group !== undefined) {
    const current = await store.listOptions(deps.db, domainId, { group });
    if (current.length === 0) throw domainConfigNotFound(domainId, group);
    if (option !== undefined && !current.some((r) => r.option === option)) throw domainConfigNotFound(domainId, group, option);
  }
  await store.deleteOptions(deps.db, domainId, { group, option });
}

/** The defaults a domain starts from: every whitelisted option, of a group, or one ({option: value}). */
export function getConfigDefault(path: ConfigPath): Record<string, unknown> {
  const { group, option } = path;
  assertSupported(group, option);
  if (group === undefined) return Object.fromEntries(CONFIG_GROUPS.map((g) => [g, defaultsOf(g)]));
  if (option === undefined) return { [group]: defaultsOf(group) };
  if (!isWhitelisted(group, option)) {
    throw invalidDomainConfig(`Reading the default for option ${option} in group ${group} is not supported`);
  }
  return { [option]: defaultsOf(group)[option] };
}
