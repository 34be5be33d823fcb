import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

/**
 * A project. `parent_id` is null for a top-level project (whose parent, as
 * the API shows it, is its domain). Tags live in `project_tags`; options in
 * the `extra` column beside the client's extra attributes.
 */
export interface ProjectRow {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  description: string;
  enabled: boolean;
  tags: string[];
  options: Record<string, unknown>;
  extra: Record<string, unknown>;
}

interface StoredProject {
  id: string;
  name: string;
  domain_id: string;
  parent_id: string | null;
  description: string;
  enabled: boolean;
  extra: Record<string, unknown> | null;
}

/** List filters; each tag filter names tags of which all / any must (not) be present. */
export interface ProjectFilter {
  ids?: readonly string[];
  name?: string;
  domainId?: string;
  enabled?: boolean;
  /** A project id, or a domain id for the domain's top-level projects. */
  parentId?: string;
  tagsAll?: string[];
  tagsAny?: string[];
  notTagsAll?: string[];
  notTagsAny?: string[];
}

const columns = ['id', 'name', 'domain_id', 'parent_id', 'description', 'enabled', 'extra'];

function fromStored(row: StoredProject, tags: string[]): ProjectRow {
  const { options, ...extra } = row.extra ?? {};
  return {
    id: row.id,
    name: row.name,
    domain_id: row.domain_id,
    parent_id: row.parent_id,
    description: row.description,
    enabled: row.enabled,
    tags,
    options: options && typeof options === 'object' ? (options as Record<string, unknown>) : {},
    extra,
  };
}

const storedExtra = (p: Pick<ProjectRow, 'options' | 'extra'>) => JSON.stringify({ ...p.extra, options: p.options });

async function withTags(db: Db | Knex.Transaction, rows: StoredProject[]): Promise<ProjectRow[]> {
  if (rows.length === 0) return [];
  const tagRows: { project_id: string; name: string }[] = await db('project_tags')
    .whereIn('project_id', rows.map((r) => r.id))
    .select('project_id', 'name')
    .orderByRaw('name collate "C"');
  const byProject = new Map<string, string[]>();
  for (const t of tagRows) {
    const list = byProject.get(t.project_id) ?? [];
    list.push(t.name);
    byProject.set(t.project_id, list);
  }
  return rows.map((r) => fromStored(r, byProject.get(r.id) ?? []));
}

export async function getProject(db: Db, id: string): Promise<ProjectRow | undefined> {
  const row = await db('projects').where({ id }).first(columns);
  return row ? (await withTags(db, [row]))[0] : undefined;
}

/** Projects having all of `tags` (count of distinct matches = number of tags). */
const havingAllTags = (db: Db, tags: string[]) =>
  db('project_tags').whereIn('name', tags).groupBy('project_id').havingRaw('count(distinct name) = ?', [new Set(tags).size]).select('project_id');
const havingAnyTag = (db: Db, tags: string[]) => db('project_tags').whereIn('name', tags).select('project_id');

export async function listProjects(db: Db, f: ProjectFilter): Promise<ProjectRow[]> {
  const q = db('projects').select(columns).orderBy(['name', 'id']);
  if (f.ids !== undefined) q.whereIn('id', [...new Set(f.ids)]);
  if (f.name !== undefined) q.where({ name: f.name });
  if (f.domainId !== undefined) q.where({ domain_id: f.domainId });
  if (f.enabled !== undefined) q.where({ enabled: f.enabled });
  if (f.parentId !== undefined) {
    const parentId = f.parentId;
    q.where((w) => w.where({ parent_id: parentId }).orWhere((top) => top.whereNull('parent_id').andWhere({ domain_id: parentId })));
  }
  if (f.tagsAll?.length) q.whereIn('id', havingAllTags(db, f.tagsAll));
  if (f.tagsAny?.length) q.whereIn('id', havingAnyTag(db, f.tagsAny));
  if (f.notTagsAll?.length) q.whereNotIn('id', havingAllTags(db, f.notTagsAll));
  if (f.notTagsAny?.length) q.whereNotIn('id', havingAnyTag(db, f.notTagsAny));
  return withTags(db, await q);
}

export async function projectNameTaken(db: Db, name: string, domainId: string, exceptId?: string): Promise<boolean> {
  const q = db('projects').where({ name, domain_id: domainId }).first('id');
  if (exceptId) q.whereNot({ id: exceptId });
  return (await q) !== undefined;
}

/** The project's ancestors (projects only), nearest first. */
export async function listAncestors(db: Db, id: string): Promise<ProjectRow[]> {
  const { rows } = await db.raw<{ rows: (StoredProject & { depth: number })[] }>(
    `with recursive up as (
       select p.*, 0 as depth from projects p where p.id = ?
       union all
       select p.*, u.depth + 1 from projects p join up u on p.id = u.parent_id where u.depth < 100
     ) select ${columns.join(', ')}, depth from up where depth > 0 order by depth`,
    [id],
  );
  return withTags(db, rows);
}

/** Every project below the project, parents before their children. */
export async function listDescendants(db: Db, id: string): Promise<ProjectRow[]> {
  const { rows } = await db.raw<{ rows: (StoredProject & { depth: number })[] }>(
    `with recursive down as (
       select p.*, 0 as depth from projects p where p.id = ?
       union all
       select p.*, d.depth + 1 from projects p join down d on p.parent_id = d.id where d.depth < 100
     ) select ${columns.join(', ')}, depth from down where depth > 0 order by depth, name`,
    [id],
  );
  return withTags(db, rows);
}

export async function hasChildren(db: Db, id: string): Promise<boolean> {
  return (await db('projects').where({ parent_id: id }).first('id')) !== undefined;
}

async function writeTags(trx: Knex.Transaction, projectId: string, tags: readonly string[]): Promise<void> {
  await trx('project_tags').where({ project_id: projectId }).delete();
  const unique = [...new Set(tags)];
  if (unique.length > 0) await trx('project_tags').insert(unique.map((name) => ({ project_id: projectId, name })));
}

export async function insertProject(db: Db, p: ProjectRow): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('projects').insert({
      id: p.id,
      name: p.name,
      domain_id: p.domain_id,
      parent_id: p.parent_id,
      description: p.description,
      enabled: p.enabled,
      extra: storedExtra(p),
    });
    await writeTags(trx, p.id, p.tags);
  });
}

/** Writes every field of the project; its tags too when `tagsChanged`. */
export async function updateProject(db: Db, p: ProjectRow, tagsChanged: boolean): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('projects')
      .where({ id: p.id })
      .update({ name: p.name, description: p.description, enabled: p.enabled, extra: storedExtra(p), updated_at: trx.fn.now() });
    if (tagsChanged) await writeTags(trx, p.id, p.tags);
  });
}

export async function replaceTags(db: Db, projectId: string, tags: readonly string[]): Promise<void> {
  await db.transaction((trx) => writeTags(trx, projectId, tags));
}

export async function addTag(db: Db, projectId: string, tag: string): Promise<void> {
  await db('project_tags').insert({ project_id: projectId, name: tag }).onConflict(['project_id', 'name']).ignore();
}

/** Returns whether the project had the tag. */
export async function removeTag(db: Db, projectId: string, tag: string): Promise<boolean> {
  const rows = await db('project_tags').where({ project_id: projectId, name: tag }).delete().returning('name');
  return rows.length > 0;
}

/**
 * Deletes a project with its tags, the grants on it and the application
 * credentials scoped to it; users whose default project it was lose it.
 * Returns whether it existed.
 */
export async function deleteProject(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx('assignments').where({ target_id: id }).whereIn('type', ['UserProject', 'GroupProject']).delete();
    await trx('users').where({ default_project_id: id }).update({ default_project_id: null });
    await trx('application_credentials').where({ project_id: id }).delete();
    const rows = await trx('projects').where({ id }).delete().returning('id');
    return rows.length > 0;
  });
}
