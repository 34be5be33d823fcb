import type { FastifyInstance } from 'fastify';
import { authorize } from '../../http/auth.ts';
import { endpointView } from '../catalog/view.ts';
import { projectView } from '../projects/view.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as associations from './project-associations.ts';
import { endpointGroupView, projectEndpointGroupView } from './view.ts';

type GroupProjectParams = { endpoint_group_id: string; project_id: string };
type ProjectEndpointParams = { project_id: string; endpoint_id: string };

const prefix = '/v3/OS-EP-FILTER';

/** OS-EP-FILTER's associations of projects with endpoints and with endpoint groups. */
export function registerProjectAssociationRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Params: { endpoint_group_id: string } }>(`${prefix}/endpoint_groups/:endpoint_group_id/projects`, async (request) => {
    authorize(request, ctx, 'identity:list_projects_associated_with_endpoint_group', { ...request.params });
    const rows = await associations.listProjectsOfEndpointGroup(ctx, request.params.endpoint_group_id);
    return { projects: rows.map((p) => projectView(request, p)), links: collectionLinks(request) };
  });

  const groupProject = `${prefix}/endpoint_groups/:endpoint_group_id/projects/:project_id`;
  app.get<{ Params: GroupProjectParams }>(groupProject, async (request) => {
    authorize(request, ctx, 'identity:get_endpoint_group_in_project', { ...request.params });
    const { endpoint_group_id, project_id } = request.params;
    await associations.checkEndpointGroupInProject(ctx, endpoint_group_id, project_id);
    return { project_endpoint_group: projectEndpointGroupView(request, endpoint_group_id, project_id) };
  });

  app.put<{ Params: GroupProjectParams }>(groupProject, async (request, reply) => {
    authorize(request, ctx, 'identity:add_endpoint_group_to_project', { ...request.params });
    await associations.addEndpointGroupToProject(ctx, request.params.endpoint_group_id, request.params.project_id);
    return reply.code(204).send();
  });

  app.delete<{ Params: GroupProjectParams }>(groupProject, async (request, reply) => {
    authorize(request, ctx, 'identity:remove_endpoint_group_from_project', { ...request.params });
    await associations.removeEndpointGroupFromProject(ctx, request.params.endpoint_group_id, request.params.project_id);
    return reply.code(204).send();
  });

  app.get<{ Params: { project_id: string } }>(`${prefix}/projects/:project_id/endpoint_groups`, async (request) => {
    authorize(request, ctx, 'identity:list_endpoint_groups_for_project', { ...request.params });
    const rows = await associations.listEndpointGroupsOfProject(ctx, request.params.project_id);
    return { endpoint_groups: rows.map((g) => endpointGroupView(request, g)), links: collectionLinks(request) };
  });

  app.get<{ Params: { project_id: string } }>(`${prefix}/projects/:project_id/endpoints`, async (request) => {
    authorize(request, ctx, 'identity:list_endpoints_for_project', { ...request.params });
    const rows = await associations.listEndpointsOfProject(ctx, request.params.project_id);
    return { endpoints: rows.map((e) => endpointView(request, e)), links: collectionLinks(request) };
  });

  const projectEndpoint = `${prefix}/projects/:project_id/endpoints/:endpoint_id`;
  app.get<{ Params: ProjectEndpointParams }>(projectEndpoint, async (request, reply) => {
    authorize(request, ctx, 'identity:check_endpoint_in_project', { ...request.params });
    await associations.checkEndpointInProject(ctx, request.params.project_id, request.params.endpoint_id);
    return reply.code(204).send();
  });

  app.put<{ Params: ProjectEndpointParams }>(projectEndpoint, async (request, reply) => {
    authorize(request, ctx, 'identity:add_endpoint_to_project', { ...request.params });
    await associations.addEndpointToProject(ctx, request.params.project_id, request.params.endpoint_id);
    return reply.code(204).send();
  });

  app.delete<{ Params: ProjectEndpointParams }>(projectEndpoint, async (request, reply) => {
    authorize(request, ctx, 'identity:remove_endpoint_from_project', { ...request.params });
    await associations.removeEndpointFromProject(ctx, request.params.project_id, request.params.endpoint_id);
    return reply.code(204).send();
  });

  app.get<{ Params: { endpoint_id: string } }>(`${prefix}/endpoints/:endpoint_id/projects`, async (request) => {
    authorize(request, ctx, 'identity:list_projects_for_endpoint', { ...request.params });
    const rows = await associations.listProjectsOfEndpoint(ctx, request.params.endpoint_id);
    return { projects: rows.map((p) => projectView(request, p)), links: collectionLinks(request) };
  });
}
