import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { badRequest } from '../../../lib/errors.ts';
import { authenticate, authorize } from '../../http/auth.ts';
import { queryFlag } from '../assignments/query.ts';
import type { IdentityContext } from '../context.ts';
import { defaultDomainOf, listDomainOf } from '../domains/default-domain.ts';
import { booleanFilter } from '../domains/enabled-filter.ts';
import { collectionLinks, v3Url } from '../roles/view.ts';
import * as projects from './service.ts';
import type { ProjectRow } from './store.ts';
import { projectView, tagsView } from './view.ts';

type ProjectCreateRequest = components['schemas']['ProjectCreateRequest'];
type ProjectUpdateRequest = components['schemas']['ProjectUpdateRequest'];
type ProjectTagsUpdateRequest = components['schemas']['ProjectTagsUpdateRequest'];
type ProjectParams = { project_id: string };
type TagParams = { project_id: string; tag: string };
type ProjectQuery = {
  name?: string;
  domain_id?: string;
  enabled?: string | string[];
  parent_id?: string;
  is_domain?: string | string[];
  tags?: string | string[];
  'tags-any'?: string | string[];
  'not-tags'?: string | string[];
  'not-tags-any'?: string | string[];
};

/** A comma-separated tag filter (repeated: all of them) as a list. */
const tagList = (value: string | string[] | undefined) =>
  value === undefined ? undefined : [value].flat().join(',').split(',').filter((t) => t !== '');

/**
 * Loads the project named in the URL and enforces `action` with it as
 * `target.project` (as Keystone: a missing project leaves the target empty,
 * so only callers allowed anyway learn it is missing, with a 404).
 */
async function authorizedProject(request: FastifyRequest<{ Params: ProjectParams }>, ctx: IdentityContext, action: string): Promise<ProjectRow> {
  const { project_id } = request.params;
  const row = await projects.findProject(ctx, project_id);
  authorize(request, ctx, action, { project_id, target: row ? { project: projectView(request, row) } : {} });
  if (!row) throw projects.projectNotFound(project_id);
  return row;
}

/** /v3/projects and /v3/projects/{id}/tags. */
export function registerProjectRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: ProjectQuery }>('/v3/projects', async (request) => {
    const q = request.query;
    const scopedTo = listDomainOf(authenticate(request, ctx.tokens).claims);
    const filters = Object.fromEntries(
      (['domain_id', 'enabled', 'name', 'parent_id', 'is_domain'] as const).flatMap((k) => (q[k] !== undefined ? [[k, q[k]]] : [])),
    );
    authorize(request, ctx, 'identity:list_projects', { ...filters, ...(scopedTo ? { target: { domain_id: scopedTo } } : {}) });
    if (scopedTo && q.domain_id !== undefined && q.domain_id !== scopedTo) {
      return { projects: [], links: collectionLinks(request) };
    }
    const rows = await projects.listProjects(ctx, {
      name: q.name,
      domainId: scopedTo ?? q.domain_id,
      enabled: booleanFilter(q.enabled),
      parentId: q.parent_id,
      isDomain: booleanFilter(q.is_domain),
      tagsAll: tagList(q.tags),
      tagsAny: tagList(q['tags-any']),
      notTagsAll: tagList(q['not-tags']),
      notTagsAny: tagList(q['not-tags-any']),
    });
    return { projects: rows.map((p) => projectView(request, p)), links: collectionLinks(request) };
  });

  app.post<{ Body: ProjectCreateRequest }>('/v3/projects', async (request, reply) => {
    ctx.validate('ProjectCreateRequest', request.body);
    const input = request.body.project;
    const { claims } = authorize(request, ctx, 'identity:create_project', { target: { project: input } });
    const row = await projects.createProject(ctx, input, input.domain_id || defaultDomainOf(claims));
    return reply.code(201).send({ project: projectView(request, row) });
  });

  app.get<{ Params: ProjectParams; Querystring: Record<string, string> }>('/v3/projects/:project_id', async (request) => {
    const row = await authorizedProject(request, ctx, 'identity:get_project');
    const flag = (name: string) => queryFlag(request.query, name);
    if (flag('parents_as_list') && flag('parents_as_ids')) {
      throw badRequest('Cannot use parents_as_list and parents_as_ids query params at the same time.');
    }
    if (flag('subtree_as_list') && flag('subtree_as_ids')) {
      throw badRequest('Cannot use subtree_as_list and subtree_as_ids query params at the same time.');
    }
    const callerId = authenticate(request, ctx.tokens).claims.user_id;
    const view: Record<string, unknown> = projectView(request, row);
    if (flag('parents_as_ids')) view.parents = await projects.parentsAsIds(ctx, row);
    if (flag('parents_as_list')) {
      view.parents = (await projects.parentsVisibleTo(ctx, row, callerId)).map((p) => ({ project: projectView(request, p) }));
    }
    if (flag('subtree_as_ids')) view.subtree = await projects.subtreeAsIds(ctx, row);
    if (flag('subtree_as_list')) {
      view.subtree = (await projects.subtreeVisibleTo(ctx, row, callerId)).map((p) => ({ project: projectView(request, p) }));
    }
    return { project: view };
  });

  app.patch<{ Params: ProjectParams; Body: ProjectUpdateRequest }>('/v3/projects/:project_id', async (request) => {
    ctx.validate('ProjectUpdateRequest', request.body);
    const row = await authorizedProject(request, ctx, 'identity:update_project');
    const updated = await projects.updateProject(ctx, row, request.body.project);
    return { project: projectView(request, updated) };
  });

  app.delete<{ Params: ProjectParams }>('/v3/projects/:project_id', async (request, reply) => {
    const row = await authorizedProject(request, ctx, 'identity:delete_project');
    await projects.deleteProject(ctx, row);
    return reply.code(204).send();
  });

  app.get<{ Params: ProjectParams }>('/v3/projects/:project_id/tags', async (request) => {
    const row = await authorizedProject(request, ctx, 'identity:list_project_tags');
    return tagsView(request, row.tags);
  });

  app.put<{ Params: ProjectParams; Body: ProjectTagsUpdateRequest }>('/v3/projects/:project_id/tags', async (request) => {
    ctx.validate('ProjectTagsUpdateRequest', request.body);
    const row = await authorizedProject(request, ctx, 'identity:update_project_tags');
    return tagsView(request, await projects.replaceTags(ctx, row, request.body.tags));
  });

  app.delete<{ Params: ProjectParams }>('/v3/projects/:project_id/tags', async (request, reply) => {
    const row = await authorizedProject(request, ctx, 'identity:delete_project_tags');
    await projects.replaceTags(ctx, row, []);
    return reply.code(204).send();
  });

  app.get<{ Params: TagParams }>('/v3/projects/:project_id/tags/:tag', async (request, reply) => {
    const row = await authorizedProject(request, ctx, 'identity:get_project_tag');
    projects.assertHasTag(row, request.params.tag);
    return reply.code(204).send();
  });

  app.put<{ Params: TagParams }>('/v3/projects/:project_id/tags/:tag', async (request, reply) => {
    const row = await authorizedProject(request, ctx, 'identity:create_project_tag');
    const { tag } = request.params;
    ctx.validate('ProjectTagsUpdateRequest', { tags: [tag] });
    await projects.addTag(ctx, row, tag);
    return reply.code(201).header('location', v3Url(request, `/projects/${row.id}/tags/${encodeURIComponent(tag)}`)).send();
  });

  app.delete<{ Params: TagParams }>('/v3/projects/:project_id/tags/:tag', async (request, reply) => {
    const row = await authorizedProject(request, ctx, 'identity:delete_project_tag');
    await projects.removeTag(ctx, row, request.params.tag);
    return reply.code(204).send();
  });
}
