import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/**
 * A domain. The `domains` table keeps its tags and options in the `extra`
 * column beside the client's extra attributes (neither name can be an extra
 * attribute: the API defines both).
 */
export interface DomainRow {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

interface StoredDomain {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  extra: Record<string, unknown> | null;
}

const columns = ['id', 'name', 'description', 'enabled', 'extra'];

function fromStored(row: StoredDomain): DomainRow {
  const { tags, options, ...extra } = row.extra ?? {};
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: row.enabled,
    tags: Array.isArray(tags) ? (tags as string[]) : [],
    options: options && typeof options === 'object' ? (options as Record<string, unknown>) : {},
    extra,
  };
}

const storedExtra = (d: Pick<DomainRow, 'tags' | 'options' | 'extra'>) => JSON.stringify({ ...d.extra, tags: d.tags, options: d.options });

export async function getDomain(db: Db, id: string): Promise<DomainRow | undefined> {
  const row = await db('domains').where({ id }).first(columns);
  return row ? fromStored(row) : undefined;
}

export async function listDomains(db: Db, filter: { name?: string; enabled?: boolean; id?: string }): Promise<DomainRow[]> {
  const q = db('domains').select(columns).orderBy('name');
  if (filter.name !== undefined) q.where({ name: filter.name });
  if (filter.enabled !== undefined) q.where({ enabled: filter.enabled });
  if (filter.id !== undefined) q.where({ id: filter.id });
  return (await q).map(fromStored);
}

export async function domainNameTaken(db: Db, name: string, exceptId?: string): Promise<boolean> {
  const q = db('domains').where({ name }).first('id');
  if (exceptId) q.whereNot({ id: exceptId });
  return (await q) !== undefined;
}

export async function insertDomain(db: Db, d: DomainRow): Promise<void> {
  await db('domains').insert({ id: d.id, name: d.name, description: d.description, enabled: d.enabled, extra: storedExtra(d) });
}

export async function updateDomain(db: Db, d: DomainRow): Promise<void> {
  await db('domains')
    .where({ id: d.id })
    .update({ name: d.name, description: d.description, enabled: d.enabled, extra: storedExtra(d), updated_at: db.fn.now() });
}

/** Deletes every grant naming any of these actors or targets. */
async function deleteAssignmentsOf(trx: Knex.Transaction, actorIds: string[], targetIds: string[]): Promise<void> {
  if (actorIds.length > 0) await trx('assignments').whereIn('actor_id', actorIds).delete();
  if (targetIds.length > 0) await trx('assignments').whereIn('target_id', targetIds).delete();
}

/**
 * Deletes a domain with everything in it, as Keystone does: its projects
 * (with their tags and grants), groups (with memberships and grants), users
 * (with memberships, grants and application credentials), the grants on the
 * domain, and its domain-specific roles. Users elsewhere whose default
 * project was in the domain lose it. Returns whether the domain existed.
 */
export async function deleteDomainWithContents(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    const projectIds: string[] = (await trx('projects').where({ domain_id: id }).select('id')).map((r: { id: string }) => r.id);
    const userIds: string[] = (await trx('users').where({ domain_id: id }).select('id')).map((r: { id: string }) => r.id);
    const groupIds: string[] = (await trx('groups').where({ domain_id: id }).select('id')).map((r: { id: string }) => r.id);
    const roleIds: string[] = (await trx('roles').where({ domain_id: id }).select('id')).map((r: { id: string }) => r.id);

    await deleteAssignmentsOf(trx, [...userIds, ...groupIds], [...projectIds, id]);
    if (roleIds.length > 0) {
      await trx('application_credential_roles').whereIn('role_id', roleIds).delete();
      await trx('assignments').whereIn('role_id', roleIds).delete();
      await trx('implied_roles').whereIn('prior_role_id', roleIds).orWhereIn('implied_role_id', roleIds).delete();
      await trx('roles').whereIn('id', roleIds).delete();
    }
    if (projectIds.length > 0) {
      await trx('users').whereIn('default_project_id', projectIds).update({ default_project_id: null });
      await trx('application_credentials').whereIn('project_id', projectIds).delete();
      // One statement: the parent links between them are checked at its end.
      await trx('projects').whereIn('id', projectIds).delete();
    }
    if (groupIds.length > 0) await trx('groups').whereIn('id', groupIds).delete();
    if (userIds.length > 0) await trx('users').whereIn('id', userIds).delete();
    const deleted = await trx('domains').where({ id }).delete().returning('id');
    return deleted.length > 0;
  });
}
