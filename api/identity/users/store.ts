import type { Db } from '../../../lib/db/index.ts';

/** A user as the API deals with it (never its password hash, which only setPassword writes). */
export interface UserRow {
  id: string;
  name: string;
  domain_id: string;
  enabled: boolean;
  default_project_id: string | null;
  description: string | null;
  password_expires_at: Date | null;
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export type TimeComparison = 'lt' | 'lte' | 'gt' | 'gte' | 'eq' | 'neq';

export interface UserFilter {
  ids?: readonly string[];
  name?: string;
  domainId?: string;
  enabled?: boolean;
  /** Members of this group only. */
  groupId?: string;
  passwordExpiresAt?: { op: TimeComparison; at: Date };
}

const columns = ['id', 'name', 'domain_id', 'enabled', 'default_project_id', 'description', 'password_expires_at', 'options', 'extra'];
const sqlOperator: Record<TimeComparison, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=', eq: '=', neq: '<>' };

const normalize = (row: UserRow): UserRow => ({ ...row, options: row.options ?? {}, extra: row.extra ?? {} });

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  const row = await db('users').where({ id }).first(columns);
  return row ? normalize(row) : undefined;
}

export async function listUsers(db: Db, f: UserFilter): Promise<UserRow[]> {
  const q = db('users').select(columns.map((c) => `users.${c}`)).orderBy(['users.name', 'users.id']);
  if (f.ids !== undefined) q.whereIn('users.id', [...new Set(f.ids)]);
  if (f.name !== undefined) q.where('users.name', f.name);
  if (f.domainId !== undefined) q.where('users.domain_id', f.domainId);
  if (f.enabled !== undefined) q.where('users.enabled', f.enabled);
  if (f.groupId !== undefined) {
    q.join('user_group_membership as m', 'm.user_id', 'users.id').where('m.group_id', f.groupId);
  }
  if (f.passwordExpiresAt) q.where('users.password_expires_at', sqlOperator[f.passwordExpiresAt.op], f.passwordExpiresAt.at);
  return (await q).map(normalize);
}

export async function userNameTaken(db: Db, name: string, domainId: string, exceptId?: string): Promise<boolean> {
  const q = db('users').where({ name, domain_id: domainId }).first('id');
  if (exceptId) q.whereNot({ id: exceptId });
  return (await q) !== undefined;
}

export async function insertUser(db: Db, u: UserRow, passwordHash: string | null): Promise<void> {
  await db('users').insert({
    ...u,
    options: JSON.stringify(u.options),
    extra: JSON.stringify(u.extra),
    password_hash: passwordHash,
    password_created_at: passwordHash === null ? null : db.fn.now(),
  });
}

/** Writes every field of the user but its id and password. */
export async function updateUser(db: Db, u: UserRow): Promise<void> {
  const { id, ...fields } = u;
  await db('users')
    .where({ id })
    .update({ ...fields, options: JSON.stringify(u.options), extra: JSON.stringify(u.extra), updated_at: db.fn.now() });
}

/** A new password (or none); failed logins are forgotten. */
export async function setPassword(db: Db, id: string, passwordHash: string | null): Promise<void> {
  await db('users').where({ id }).update({
    password_hash: passwordHash,
    password_created_at: passwordHash === null ? null : db.fn.now(),
    failed_auth_count: 0,
    failed_auth_at: null,
    updated_at: db.fn.now(),
  });
}

/**
 * Deletes a user with its memberships and application credentials (by
 * foreign key) and its grants. Returns whether it existed.
 */
export async function deleteUser(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx('assignments').where({ actor_id: id }).whereIn('type', ['UserProject', 'UserDomain', 'UserSystem']).delete();
    const rows = await trx('users').where({ id }).delete().returning('id');
    return rows.length > 0;
  });
}

