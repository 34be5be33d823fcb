import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './store.ts';
import type { RoleRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

export interface RoleInput {
  name?: string;
  description?: string | null;
  domain_id?: string | null;
  options?: Record<string, unknown>;
}

const roleNotFound = (id: string) => notFound(`Could not find role: ${id}.`);
const duplicateName = (name: string) =>
  conflict(`Conflict occurred attempting to store role - Duplicate entry found with name ${name}.`);

export const isImmutable = (role: RoleRow) => role.options?.immutable === true;

/** The role, or 404 as Keystone words it. */
export async function getRole(deps: Deps, id: string): Promise<RoleRow> {
  const role = await store.getRole(deps.db, id);
  if (!role) throw roleNotFound(id);
  return role;
}

/** The role or undefined (for policy targets, where a missing role is not yet an error). */
export async function findRole(deps: Pick<Deps, 'db'>, id: string): Promise<RoleRow | undefined> {
  return store.getRole(deps.db, id);
}

/** Global roles, or the roles of one domain when domainId is given. */
export async function listRoles(deps: Deps, filter: { name?: string; domainId?: string }): Promise<RoleRow[]> {
  return store.listRoles(deps.db, { domainId: filter.domainId ?? '', name: filter.name });
}

/** A new role: the name is unique within its domain (or among global roles). */
export async function createRole(deps: Deps, input: RoleInput & { name: string }): Promise<RoleRow> {
  const domainId = input.domain_id ?? '';
  if (domainId && !(await store.domainExists(deps.db, domainId))) throw notFound(`Could not find domain: ${domainId}.`);
  if (await store.roleNameTaken(deps.db, input.name, domainId)) throw duplicateName(input.name);
  const row: RoleRow = {
    id: newId(),
    name: input.name,
    domain_id: domainId,
    description: input.description ?? null,
    options: input.options ?? {},
  };
  try {
    await store.insertRole(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(input.name);
    throw e;
  }
  return row;
}

/**
 * Renames or re-describes a role. Its domain cannot change; an immutable
 * role only accepts the change that makes it mutable again.
 */
export async function updateRole(deps: Deps, id: string, input: RoleInput): Promise<RoleRow> {
  const role = await getRole(deps, id);
  if ('domain_id' in input && (input.domain_id ?? '') !== role.domain_id) {
    throw badRequest('Update of `domain_id` is not allowed.');
  }
  if (isImmutable(role)) {
    const onlyUnlocks = Object.keys(input).every((k) => k === 'options' || k === 'domain_id') && input.options?.immutable === false;
    if (!onlyUnlocks) throw forbidden(`Unable to update immutable role ${id}.`);
  }
  const changes: Partial<Omit<RoleRow, 'id'>> = {};
  if (input.name !== undefined && input.name !== role.name) {
    if (await store.roleNameTaken(deps.db, input.name, role.domain_id, id)) throw duplicateName(input.name);
    changes.name = input.name;
  }
  if (input.description !== undefined) changes.description = input.description;
  if (input.options !== undefined) {
    const options = { ...role.options };
    for (const [k, v] of Object.entries(input.options)) {
      if (v === null) delete options[k];
      else options[k] = v;
    }
    changes.options = options;
  }
  if (Object.keys(changes).length > 0) {
    try {
      await store.updateRole(deps.db, id, changes);
    } catch (e) {
      if (isPostgresUniqueViolation(e)) throw duplicateName(input.name ?? role.name);
      throw e;
    }
  }
  return { ...role, ...changes };
}

/** Deletes a role and its grants; every token carrying it stops working. */
export async function deleteRole(deps: Deps, id: string): Promise<void> {
  const role = await getRole(deps, id);
  if (isImmutable(role)) throw forbidden(`Unable to delete immutable role ${id}.`);
  await store.deleteRole(deps.db, id);
  await deps.tokens.revoke({ role_id: id, issued_before: new Date() });
}
