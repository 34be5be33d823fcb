import type { Db } from '../../../lib/db/index.ts';

/** A row of `roles`; domain_id is '' for a global role. */
export interface RoleRow {
  id: string;
  name: string;
  domain_id: string;
  description: string | null;
  options: Record<string, unknown>;
}

const columns = ['id', 'name', 'domain_id', 'description', 'options'];

export async function getRole(db: Db, id: string): Promise<RoleRow | undefined> {
  return db('roles').where({ id }).first(columns);
}

export async function getRoles(db: Db, ids: readonly string[]): Promise<RoleRow[]> {
  if (ids.length === 0) return [];
  return db('roles').whereIn('id', [...new Set(ids)]).select(columns);
}

/** Roles of one domain ('' = the global roles), optionally of one name. */
export async function listRoles(db: Db, filter: { domainId: string; name?: string }): Promise<RoleRow[]> {
  const q = db('roles').where({ domain_id: filter.domainId }).select(columns).orderBy('name');
  if (filter.name !== undefined) q.andWhere({ name: filter.name });
  return q;
}

/** Every role called `name`, in any domain. */
export async function findRolesByName(db: Db, name: string): Promise<RoleRow[]> {
  return db('roles').where({ name }).select(columns);
}

export async function insertRole(db: Db, row: RoleRow): Promise<void> {
  await db('roles').insert({ ...row, options: JSON.stringify(row.options) });
}

export async function updateRole(db: Db, id: string, changes: Partial<Omit<RoleRow, 'id'>>): Promise<void> {
  const values: Record<string, unknown> = { ...changes, updated_at: db.fn.now() };
  if (changes.options !== undefined) values.options = JSON.stringify(changes.options);
  await db('roles').where({ id }).update(values);
}

/**
 * Deletes a role with everything that names it: its grants and inference
 * rules (by foreign key) and its place in application credentials.
 */
export async function deleteRole(db: Db, id: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('application_credential_roles').where({ role_id: id }).delete();
    await trx('assignments').where({ role_id: id }).delete();
    await trx('implied_roles').where({ prior_role_id: id }).orWhere({ implied_role_id: id }).delete();
    await trx('roles').where({ id }).delete();
  });
}

/** Does any role in `domainId` (or globally, '') already use `name`? */
export async function roleNameTaken(db: Db, name: string, domainId: string, exceptId?: string): Promise<boolean> {
  const q = db('roles').where({ name, domain_id: domainId }).first('id');
  if (exceptId) q.whereNot({ id: exceptId });
  return (await q) !== undefined;
}

export async function domainExists(db: Db, id: string): Promise<boolean> {
  return (await db('domains').where({ id }).first('id')) !== undefined;
}
