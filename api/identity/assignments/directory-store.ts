import type { Db } from '../../../lib/db/index.ts';

/**
 * Read-only lookups of the users, groups, projects and domains that grants,
 * tokens and application credentials name. (Their CRUD lives with their own
 * APIs; this is what authorization needs to know about them.)
 */
export interface UserRef {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id: string | null;
  password_expires_at: Date | null;
}

export interface GroupRef {
  id: string;
  name: string;
  domain_id: string;
}

export interface ProjectRef {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  enabled: boolean;
  description: string;
}

export interface DomainRef {
  id: string;
  name: string;
  enabled: boolean;
  description: string;
}

const userColumns = ['id', 'name', 'domain_id', 'enabled', 'default_project_id', 'password_expires_at'];
const groupColumns = ['id', 'name', 'domain_id'];
const projectColumns = ['id', 'name', 'domain_id', 'parent_id', 'enabled', 'description'];
const domainColumns = ['id', 'name', 'enabled', 'description'];

export async function findUser(db: Db, id: string): Promise<UserRef | undefined> {
  return db('users').where({ id }).first(userColumns);
}

export async function findUserByName(db: Db, name: string, domainId: string): Promise<UserRef | undefined> {
  return db('users').where({ name, domain_id: domainId }).first(userColumns);
}

export async function findGroup(db: Db, id: string): Promise<GroupRef | undefined> {
  return db('groups').where({ id }).first(groupColumns);
}

export async function findProject(db: Db, id: string): Promise<ProjectRef | undefined> {
  return db('projects').where({ id }).first(projectColumns);
}

export async function findProjectByName(db: Db, name: string, domainId: string): Promise<ProjectRef | undefined> {
  return db('projects').where({ name, domain_id: domainId }).first(projectColumns);
}

export async function findDomain(db: Db, id: string): Promise<DomainRef | undefined> {
  return db('domains').where({ id }).first(domainColumns);
}

export async function findDomainByName(db: Db, name: string): Promise<DomainRef | undefined> {
  return db('domains').where({ name }).first(domainColumns);
}

export async function usersByIds(db: Db, ids: readonly string[]): Promise<UserRef[]> {
  return ids.length ? db('users').whereIn('id', [...new Set(ids)]).select(userColumns) : [];
}

export async function groupsByIds(db: Db, ids: readonly string[]): Promise<GroupRef[]> {
  return ids.length ? db('groups').whereIn('id', [...new Set(ids)]).select(groupColumns) : [];
}

export async function projectsByIds(db: Db, ids: readonly string[]): Promise<ProjectRef[]> {
  return ids.length ? db('projects').whereIn('id', [...new Set(ids)]).select(projectColumns).orderBy('name') : [];
}

export async function domainsByIds(db: Db, ids: readonly string[]): Promise<DomainRef[]> {
  return ids.length ? db('domains').whereIn('id', [...new Set(ids)]).select(domainColumns).orderBy('name') : [];
}

/** The ids of the groups `userId` belongs to. */
export async function groupIdsOfUser(db: Db, userId: string): Promise<string[]> {
  const rows: { group_id: string }[] = await db('user_group_membership').where({ user_id: userId }).select('group_id');
  return rows.map((r) => r.group_id);
}

/** Members of each of `groupIds`. */
export async function membersOfGroups(db: Db, groupIds: readonly string[]): Promise<{ user_id: string; group_id: string }[]> {
  if (groupIds.length === 0) return [];
  return db('user_group_membership').whereIn('group_id', [...new Set(groupIds)]).select('user_id', 'group_id').orderBy(['group_id', 'user_id']);
}

/** The ids of the project's ancestors, nearest first. */
export async function projectAncestorIds(db: Db, projectId: string): Promise<string[]> {
  const { rows } = await db.raw(
    `with recursive up(id, parent_id, depth) as (
       select id, parent_id, 0 from projects where id = ?
       union all
       select p.id, p.parent_id, up.depth + 1 from projects p join up on p.id = up.parent_id where up.depth < 100
     )
     select id from up where depth > 0 order by depth`,
    [projectId],
  );
  return (rows as { id: string }[]).map((r) => r.id);
}

/** The ids of every project below `projectId` (not itself). */
export async function projectDescendantIds(db: Db, projectId: string): Promise<string[]> {
  const { rows } = await db.raw(
    `with recursive down(id, depth) as (
       select id, 0 from projects where id = ?
       union all
       select p.id, down.depth + 1 from projects p join down on p.parent_id = down.id where down.depth < 100
     )
     select id from down where depth > 0 order by depth, id`,
    [projectId],
  );
  return (rows as { id: string }[]).map((r) => r.id);
}

/** The ids of every project in a domain. */
export async function projectIdsInDomain(db: Db, domainId: string): Promise<string[]> {
  const rows: { id: string }[] = await db('projects').where({ domain_id: domainId }).select('id').orderBy('id');
  return rows.map((r) => r.id);
}
