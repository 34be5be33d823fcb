import type { Db } from '../../../lib/db/index.ts';

/** A group of users in one domain. */
export interface GroupRow {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  extra: Record<string, unknown>;
}

export interface GroupFilter {
  name?: string;
  domainId?: string;
  /** Only the groups this user is a member of. */
  memberId?: string;
}

const columns = ['id', 'name', 'domain_id', 'description', 'extra'];
const normalize = (row: GroupRow): GroupRow => ({ ...row, extra: row.extra ?? {} });

export async function getGroup(db: Db, id: string): Promise<GroupRow | undefined> {
  const row = await db('groups').where({ id }).first(columns);
  return row ? normalize(row) : undefined;
}

export async function listGroups(db: Db, f: GroupFilter): Promise<GroupRow[]> {
  const q = db('groups').select(columns.map((c) => `groups.${c}`)).orderBy(['groups.name', 'groups.id']);
  if (f.name !== undefined) q.where('groups.name', f.name);
  if (f.domainId !== undefined) q.where('groups.domain_id', f.domainId);
  if (f.memberId !== undefined) q.join('user_group_membership as m', 'm.group_id', 'groups.id').where('m.user_id', f.memberId);
  return (await q).map(normalize);
}

export async function groupNameTaken(db: Db, name: string, domainId: string, exceptId?: string): Promise<boolean> {
  const q = db('groups').where({ name, domain_id: domainId }).first('id');
  if (exceptId) q.whereNot({ id: exceptId });
  return (await q) !== undefined;
}

export async function insertGroup(db: Db, g: GroupRow): Promise<void> {
  await db('groups').insert({ ...g, extra: JSON.stringify(g.extra) });
}

/** Writes every field of the group but its id. */
export async function updateGroup(db: Db, g: GroupRow): Promise<void> {
  const { id, ...fields } = g;
  await db('groups')
    .where({ id })
    .update({ ...fields, extra: JSON.stringify(g.extra), updated_at: db.fn.now() });
}

export async function hasGrants(db: Db, groupId: string): Promise<boolean> {
  return (await db('assignments').where({ actor_id: groupId }).whereIn('type', ['GroupProject', 'GroupDomain', 'GroupSystem']).first('role_id')) !== undefined;
}

export async function memberIds(db: Db, groupId: string): Promise<string[]> {
  return (await db('user_group_membership').where({ group_id: groupId }).select('user_id')).map((r: { user_id: string }) => r.user_id);
}

/** Deletes a group with its memberships (by foreign key) and grants. Returns whether it existed. */
export async function deleteGroup(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx('assignments').where({ actor_id: id }).whereIn('type', ['GroupProject', 'GroupDomain', 'GroupSystem']).delete();
    const rows = await trx('groups').where({ id }).delete().returning('id');
    return rows.length > 0;
  });
}

/** Adds the membership (already a member: no change). */
export async function addMember(db: Db, groupId: string, userId: string): Promise<void> {
  await db('user_group_membership').insert({ group_id: groupId, user_id: userId }).onConflict(['user_id', 'group_id']).ignore();
}

export async function isMember(db: Db, groupId: string, userId: string): Promise<boolean> {
  return (await db('user_group_membership').where({ group_id: groupId, user_id: userId }).first('user_id')) !== undefined;
}

/** Returns whether the user was a member. */
export async function removeMember(db: Db, groupId: string, userId: string): Promise<boolean> {
  const rows = await db('user_group_membership').where({ group_id: groupId, user_id: userId }).delete().returning('user_id');
  return rows.length > 0;
}
