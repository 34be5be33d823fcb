import type { Db } from '../../../lib/db/index.ts';

/** The kinds of grant, as Keystone's assignment table names them. */
export type AssignmentType = 'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain' | 'UserSystem' | 'GroupSystem';

/** One grant: `actor_id` holds `role_id` on `target_id` ('system' for the system). */
export interface AssignmentRow {
  type: AssignmentType;
  actor_id: string;
  target_id: string;
  role_id: string;
  inherited: boolean;
}

export const SYSTEM_TARGET = 'system';

export interface AssignmentFilter {
  types?: readonly AssignmentType[];
  actorIds?: readonly string[];
  targetIds?: readonly string[];
  roleId?: string;
  inherited?: boolean;
}

const columns = ['type', 'actor_id', 'target_id', 'role_id', 'inherited'];

/** Grants matching every given filter, in a stable order. */
export async function listAssignments(db: Db, filter: AssignmentFilter = {}): Promise<AssignmentRow[]> {
  const q = db('assignments').select(columns).orderBy(['type', 'target_id', 'actor_id', 'role_id', 'inherited']);
  if (filter.types) q.whereIn('type', [...filter.types]);
  if (filter.actorIds) q.whereIn('actor_id', [...new Set(filter.actorIds)]);
  if (filter.targetIds) q.whereIn('target_id', [...new Set(filter.targetIds)]);
  if (filter.roleId !== undefined) q.where({ role_id: filter.roleId });
  if (filter.inherited !== undefined) q.where({ inherited: filter.inherited });
  return q;
}

/** Adds a grant (a second identical grant is a no-op). */
export async function insertAssignment(db: Db, row: AssignmentRow): Promise<void> {
  await db('assignments').insert(row).onConflict(['type', 'actor_id', 'target_id', 'role_id', 'inherited']).ignore();
}

export async function assignmentExists(db: Db, row: AssignmentRow): Promise<boolean> {
  return (await db('assignments').where(row).first('role_id')) !== undefined;
}

/** Removes a grant; returns whether it existed. */
export async function deleteAssignment(db: Db, row: AssignmentRow): Promise<boolean> {
  // With returning(): knex-pglite answers a bare delete() with its raw result, not a count.
  const rows = await db('assignments').where(row).delete().returning('role_id');
  return rows.length > 0;
}
