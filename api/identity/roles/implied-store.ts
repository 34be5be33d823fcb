import type { Db } from '../../../lib/db/index.ts';

/** One inference rule: holding prior_role_id implies implied_role_id. */
export interface ImpliedRoleRow {
  prior_role_id: string;
  implied_role_id: string;
}

/** Every inference rule (a small table: read whole to expand roles). */
export async function listAllImpliedRoles(db: Db): Promise<ImpliedRoleRow[]> {
  return db('implied_roles').select('prior_role_id', 'implied_role_id').orderBy(['prior_role_id', 'implied_role_id']);
}

export async function listImpliedRoles(db: Db, priorRoleId: string): Promise<ImpliedRoleRow[]> {
  return db('implied_roles').where({ prior_role_id: priorRoleId }).select('prior_role_id', 'implied_role_id').orderBy('implied_role_id');
}

export async function impliedRoleExists(db: Db, priorRoleId: string, impliedRoleId: string): Promise<boolean> {
  return (await db('implied_roles').where({ prior_role_id: priorRoleId, implied_role_id: impliedRoleId }).first('prior_role_id')) !== undefined;
}

export async function insertImpliedRole(db: Db, priorRoleId: string, impliedRoleId: string): Promise<void> {
  await db('implied_roles').insert({ prior_role_id: priorRoleId, implied_role_id: impliedRoleId }).onConflict().ignore();
}

/** Removes a rule; returns whether it existed. */
export async function deleteImpliedRole(db: Db, priorRoleId: string, impliedRoleId: string): Promise<boolean> {
  // With returning(): knex-pglite answers a bare delete() with its raw result, not a count.
  const rows = await db('implied_roles').where({ prior_role_id: priorRoleId, implied_role_id: impliedRoleId }).delete().returning('prior_role_id');
  return rows.length > 0;
}
