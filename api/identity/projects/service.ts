import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import { listEffectiveAssignments } from '../assignments/effective.ts';
import type { IdentityContext } from '../context.ts';
import { isImmutable, mergeOptions, onlyClearsImmutable } from '../domains/immutable.ts';
import * as domainStore from '../domains/store.ts';
import * as store from './store.ts';
import type { ProjectFilter, ProjectRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

/** What a client may set on a project: its own fields plus any extra attribute. */
export interface ProjectInput {
  name?: string;
  description?: string | null;
  domain_id?: string | null;
  parent_id?: string | null;
  enabled?: boolean;
  is_domain?: boolean;
  tags?: string[];
  options?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** Keystone's max_project_tree_depth: a top-level project is at depth 1. */
export const MAX_PROJECT_DEPTH = 5;
const MAX_TAGS = 80;

export const projectNotFound = (id: string) => notFound(`Could not find project: ${id}.`);
const duplicateName = (name: string, id: string) =>
  conflict(
    `Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is ${name}, project id ${id}.`,
  );
const immutableUpdate = (id: string) =>
  forbidden(`Unable to update immutable project resource: \`${id}. Set resource option "immutable" to false first.`);

function extraOf(input: ProjectInput): Record<string, unknown> {
  const { name: _n, description: _d, domain_id: _di, parent_id: _p, enabled: _e, is_domain: _i, tags: _t, options: _o, id: _id, ...extra } =
    input;
  return extra;
}

/** Tags as stored and shown: trimmed, once each, in order. */
const tagSet = (tags: readonly string[]) => [...new Set(tags.map((t) => t.trim()))].sort();

/** The parent as the API shows it: the domain for a top-level project. */
export const apiParentId = (p: ProjectRow) => p.parent_id ?? p.domain_id;

export async function findProject(deps: Pick<Deps, 'db'>, id: string): Promise<ProjectRow | undefined> {
  return store.getProject(deps.db, id);
}

export async function getProject(deps: Pick<Deps, 'db'>, id: string): Promise<ProjectRow> {
  const row = await store.getProject(deps.db, id);
  if (!row) throw projectNotFound(id);
  return row;
}

/** Projects, filtered. Projects acting as domains do not exist here: `is_domain=true` lists none. */
export async function listProjects(deps: Pick<Deps, 'db'>, filter: ProjectFilter & { isDomain?: boolean }): Promise<ProjectRow[]> {
  if (filter.isDomain === true) return [];
  return store.listProjects(deps.db, filter);
}

/**
 * A new project in `domainId` (Keystone: the body's domain_id, else the
 * token's domain, else the default domain), under `parent_id` when given.
 * The parent must be in the same domain, enabled all the way up, and not at
 * the maximum depth; unknown domains and parents are 400s, as in Keystone.
 */
export async function createProject(deps: Deps, input: ProjectInput & { name: string }, domainId: string): Promise<ProjectRow> {
  if (input.is_domain === true) {
    throw badRequest('Projects acting as domains are not supported; create a domain with POST /v3/domains.');
  }
  if (!(await domainStore.getDomain(deps.db, domainId))) throw badRequest(`Could not find domain: ${domainId}.`);
  let parentId: string | null = null;
  if (input.parent_id && input.parent_id !== domainId) {
    const parent = await store.getProject(deps.db, input.parent_id);
    if (!parent) {
      if (await domainStore.getDomain(deps.db, input.parent_id)) {
        throw badRequest(
          `Cannot create project, the parent (${input.parent_id}) is acting as a domain, but this project's domain id (${domainId}) does not match the parent's id.`,
        );
      }
      throw badRequest(`Could not find project: ${input.parent_id}.`);
    }
    if (parent.domain_id !== domainId) {
      throw badRequest(
        `Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent in a different domain (${parent.domain_id}).`,
      );
    }
    const ancestors = await store.listAncestors(deps.db, parent.id);
    const disabled = [...ancestors.reverse(), parent].find((p) => !p.enabled);
    if (disabled) throw badRequest(`cannot create a project in a branch containing a disabled project: ${disabled.id}`);
    if (ancestors.length + 2 > MAX_PROJECT_DEPTH) throw forbidden(`Max hierarchy depth reached for ${parent.id} branch.`);
    parentId = parent.id;
  }
  const name = input.name.trim();
  const id = newId();
  if (await store.projectNameTaken(deps.db, name, domainId)) throw duplicateName(name, id);
  const row: ProjectRow = {
    id,
    name,
    domain_id: domainId,
    parent_id: parentId,
    description: input.description ?? '',
    enabled: input.enabled ?? true,
    tags: tagSet(input.tags ?? []),
    options: mergeOptions({}, input.options),
    extra: extraOf(input),
  };
  try {
    await store.insertProject(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(name, id);
    throw e;
  }
  return row;
}

/**
 * Changes a project as Keystone allows: domain, parent and is_domain are
 * fixed; it is enabled only under enabled parents and disabled only when
 * everything below it is; an immutable project only accepts clearing
 * `immutable`. Disabling it revokes the tokens scoped to it.
 */
export async function updateProject(deps: Deps, project: ProjectRow, input: ProjectInput): Promise<ProjectRow> {
  if (input.id !== undefined && input.id !== null && input.id !== project.id) throw badRequest('Cannot change ID');
  if ('domain_id' in input && input.domain_id !== project.domain_id) throw badRequest('Cannot change Domain ID');
  if ('parent_id' in input && input.parent_id !== apiParentId(project)) throw forbidden('Update of `parent_id` is not allowed.');
  if (input.is_domain !== undefined && input.is_domain !== false) throw badRequest('Update of `is_domain` is not allowed.');
  if (isImmutable(project.options) && !onlyClearsImmutable(input)) throw immutableUpdate(project.id);

  const next: ProjectRow = { ...project, extra: { ...project.extra, ...extraOf(input) } };
  if (input.name !== undefined) next.name = input.name.trim();
  if ('description' in input) next.description = input.description ?? '';
  if (input.tags !== undefined) next.tags = tagSet(input.tags);
  if (input.options !== undefined) next.options = mergeOptions(project.options, input.options);
  if (input.enabled !== undefined) next.enabled = input.enabled;

  if (!project.enabled && next.enabled) {
    const ancestors = await store.listAncestors(deps.db, project.id);
    if (ancestors.some((p) => !p.enabled)) throw forbidden(`Cannot enable project ${project.id} since it has disabled parents`);
  }
  if (project.enabled && !next.enabled) {
    const below = await store.listDescendants(deps.db, project.id);
    if (below.some((p) => p.enabled)) {
      throw forbidden(`Cannot disable project ${project.id} since its subtree contains enabled projects.`);
    }
  }
  if (next.name !== project.name && (await store.projectNameTaken(deps.db, next.name, project.domain_id, project.id))) {
    throw duplicateName(next.name, project.id);
  }
  try {
    await store.updateProject(deps.db, next, input.tags !== undefined);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(next.name, project.id);
    throw e;
  }
  if (project.enabled && !next.enabled) await deps.tokens.revoke({ project_id: project.id, issued_before: new Date() });
  return next;
}

/**
 * Deletes a project that has no children (403 otherwise, as Keystone's
 * "not a leaf"), with its tags and the grants on it; revokes the tokens
 * scoped to it.
 */
export async function deleteProject(deps: Deps, project: ProjectRow): Promise<void> {
  if (isImmutable(project.options)) {
    throw forbidden(`Unable to delete immutable project resource: \`${project.id}. Set resource option "immutable" to false first.`);
  }
  if (await store.hasChildren(deps.db, project.id)) {
    throw forbidden(
      `Cannot delete the project ${project.id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`,
    );
  }
  if (!(await store.deleteProject(deps.db, project.id))) throw projectNotFound(project.id);
  await deps.tokens.revoke({ project_id: project.id, issued_before: new Date() });
}

/** Keystone's parents_as_ids: {parent: {grandparent: … {domain: null}}}. */
export async function parentsAsIds(deps: Pick<Deps, 'db'>, project: ProjectRow): Promise<Record<string, unknown>> {
  const ancestors = await store.listAncestors(deps.db, project.id);
  let nested: Record<string, unknown> = { [project.domain_id]: null };
  for (const a of ancestors.reverse()) nested = { [a.id]: nested };
  return nested;
}

/** The ids of the projects `userId` has an effective role on. */
async function accessibleProjectIds(deps: Pick<Deps, 'db'>, userId: string): Promise<Set<string>> {
  const refs = await listEffectiveAssignments(deps.db, { userId });
  return new Set(refs.flatMap((r) => (r.project_id ? [r.project_id] : [])));
}

/** Keystone's parents_as_list: the project's ancestors (nearest first) that `callerId` has a role on. */
export async function parentsVisibleTo(deps: Pick<Deps, 'db'>, project: ProjectRow, callerId: string): Promise<ProjectRow[]> {
  const [ancestors, visible] = await Promise.all([store.listAncestors(deps.db, project.id), accessibleProjectIds(deps, callerId)]);
  return ancestors.filter((p) => visible.has(p.id));
}

/** Keystone's subtree_as_list: the projects below (parents first) that `callerId` has a role on. */
export async function subtreeVisibleTo(deps: Pick<Deps, 'db'>, project: ProjectRow, callerId: string): Promise<ProjectRow[]> {
  const [below, visible] = await Promise.all([store.listDescendants(deps.db, project.id), accessibleProjectIds(deps, callerId)]);
  return below.filter((p) => visible.has(p.id));
}

/** Keystone's subtree_as_ids: {child: {grandchild: null, …}, …}, or null for a leaf. */
export async function subtreeAsIds(deps: Pick<Deps, 'db'>, project: ProjectRow): Promise<Record<string, unknown> | null> {
  const below = await store.listDescendants(deps.db, project.id);
  const children = new Map<string, ProjectRow[]>();
  for (const p of below) {
    const list = children.get(p.parent_id!) ?? [];
    list.push(p);
    children.set(p.parent_id!, list);
  }
  const build = (id: string): Record<string, unknown> | null => {
    const kids = children.get(id);
    if (!kids?.length) return null;
    return Object.fromEntries(kids.map((k) => [k.id, build(k.id)]));
  };
  return build(project.id);
}

/** GET /v3/projects/{id}/tags/{tag}: 404 unless the project has it. */
export function assertHasTag(project: ProjectRow, tag: string): void {
  if (!project.tags.includes(tag)) throw notFound(`Could not find project tag: ${tag}.`);
}

/** Replaces every tag of an updatable project. */
export async function replaceTags(deps: Pick<Deps, 'db'>, project: ProjectRow, tags: string[]): Promise<string[]> {
  if (isImmutable(project.options)) throw immutableUpdate(project.id);
  const unique = tagSet(tags);
  await store.replaceTags(deps.db, project.id, unique);
  return unique;
}

/** Adds one tag (a tag already there is no error); at most 80 tags. */
export async function addTag(deps: Pick<Deps, 'db'>, project: ProjectRow, tag: string): Promise<void> {
  if (isImmutable(project.options)) throw immutableUpdate(project.id);
  const name = tag.trim();
  if (!project.tags.includes(name) && project.tags.length >= MAX_TAGS) {
    throw badRequest(`Invalid input for field 'tags': must NOT have more than ${MAX_TAGS} items`);
  }
  await store.addTag(deps.db, project.id, name);
}

export async function removeTag(deps: Pick<Deps, 'db'>, project: ProjectRow, tag: string): Promise<void> {
  if (isImmutable(project.options)) throw immutableUpdate(project.id);
  if (!(await store.removeTag(deps.db, project.id, tag))) throw notFound(`Could not find project tag: ${tag}.`);
}
