import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import { isImmutable, mergeOptions, onlyClearsImmutable } from './immutable.ts';
import * as store from './store.ts';
import type { DomainRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

/** What a client may set on a domain: its own fields plus any extra attribute. */
export interface DomainInput {
  name?: string;
  description?: string | null;
  enabled?: boolean;
  explicit_domain_id?: string;
  options?: Record<string, unknown>;
  tags?: string[];
  [extra: string]: unknown;
}

export const domainNotFound = (id: string) => notFound(`Could not find domain: ${id}.`);
const duplicateName = (name: string) =>
  conflict(
    `Conflict occurred attempting to store project - it is not permitted to have two projects acting as domains with the same name: ${name}.`,
  );
const duplicateId = (id: string) => conflict(`Conflict occurred attempting to store domain - Duplicate ID, ${id}.`);

/** Ids as Keystone makes them (a UUID4 without dashes), which an explicit_domain_id must look like. */
const KEYSTONE_ID = /^[0-9a-f]{32}$/i;

function extraOf(input: DomainInput): Record<string, unknown> {
  const { name: _n, description: _d, enabled: _e, explicit_domain_id: _x, options: _o, tags: _t, id: _i, ...extra } = input;
  return extra;
}

export async function findDomain(deps: Pick<Deps, 'db'>, id: string): Promise<DomainRow | undefined> {
  return store.getDomain(deps.db, id);
}

export async function getDomain(deps: Pick<Deps, 'db'>, id: string): Promise<DomainRow> {
  const row = await store.getDomain(deps.db, id);
  if (!row) throw domainNotFound(id);
  return row;
}

/** Domains, filtered; `onlyId` confines the list to one domain (a domain-scoped token's). */
export async function listDomains(
  deps: Pick<Deps, 'db'>,
  filter: { name?: string; enabled?: boolean; onlyId?: string },
): Promise<DomainRow[]> {
  return store.listDomains(deps.db, { name: filter.name, enabled: filter.enabled, id: filter.onlyId });
}

/** A new domain: its name is unique; its id is new unless a valid explicit_domain_id is given. */
export async function createDomain(deps: Deps, input: DomainInput & { name: string }): Promise<DomainRow> {
  const id = input.explicit_domain_id ?? newId();
  if (input.explicit_domain_id !== undefined && !KEYSTONE_ID.test(id)) {
    throw badRequest('Domain ID does not conform to required UUID format.');
  }
  const name = input.name.trim();
  if (await store.domainNameTaken(deps.db, name)) throw duplicateName(name);
  if (await store.getDomain(deps.db, id)) throw duplicateId(id);
  const row: DomainRow = {
    id,
    name,
    description: input.description ?? '',
    enabled: input.enabled ?? true,
    tags: (input.tags ?? []).map((t) => t.trim()),
    options: mergeOptions({}, input.options),
    extra: extraOf(input),
  };
  try {
    await store.insertDomain(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(name);
    throw e;
  }
  return row;
}

/**
 * Changes a domain. An immutable domain only accepts clearing `immutable`.
 * Disabling it revokes every token of its users and every token scoped to it
 * or to its projects.
 */
export async function updateDomain(deps: Deps, domain: DomainRow, input: DomainInput): Promise<DomainRow> {
  if (input.id !== undefined && input.id !== null && input.id !== domain.id) throw badRequest('Cannot change ID');
  if (isImmutable(domain.options) && !onlyClearsImmutable(input)) {
    throw forbidden(`Unable to update immutable domain resource: \`${domain.id}. Set resource option "immutable" to false first.`);
  }
  const next: DomainRow = { ...domain, extra: { ...domain.extra, ...extraOf(input) } };
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name !== domain.name && (await store.domainNameTaken(deps.db, name, domain.id))) throw duplicateName(name);
    next.name = name;
  }
  if ('description' in input) next.description = input.description ?? '';
  if (input.enabled !== undefined) next.enabled = input.enabled;
  if (input.tags !== undefined) next.tags = input.tags.map((t) => t.trim());
  if (input.options !== undefined) next.options = mergeOptions(domain.options, input.options);
  try {
    await store.updateDomain(deps.db, next);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(next.name);
    throw e;
  }
  if (domain.enabled && !next.enabled) await deps.tokens.revoke({ domain_id: domain.id, issued_before: new Date() });
  return next;
}

/**
 * Deletes a disabled domain and everything in it (an enabled or immutable
 * domain is a 403, as in Keystone); tokens of its users and scopes are revoked.
 */
export async function deleteDomain(deps: Deps, domain: DomainRow): Promise<void> {
  if (isImmutable(domain.options)) {
    throw forbidden(`Unable to delete immutable domain resource: \`${domain.id}. Set resource option "immutable" to false first.`);
  }
  if (domain.enabled) throw forbidden('Cannot delete a domain that is enabled, please disable it first.');
  if (!(await store.deleteDomainWithContents(deps.db, domain.id))) throw domainNotFound(domain.id);
  await deps.tokens.revoke({ domain_id: domain.id, issued_before: new Date() });
}
