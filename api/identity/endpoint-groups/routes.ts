import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import { endpointView } from '../catalog/view.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import { registerProjectAssociationRoutes } from './association-routes.ts';
import * as groups from './service.ts';
import { endpointGroupView } from './view.ts';

type EndpointGroupCreateRequest = components['schemas']['EndpointGroupCreateRequest'];
type EndpointGroupUpdateRequest = components['schemas']['EndpointGroupUpdateRequest'];
type GroupParams = { endpoint_group_id: string };

const base = '/v3/OS-EP-FILTER/endpoint_groups';

/**
 * OS-EP-FILTER: endpoint groups (/v3/OS-EP-FILTER/endpoint_groups) and the
 * associations of projects with endpoints and endpoint groups. Keystone
 * checks each rule before reading the body.
 */
export function registerEndpointGroupRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: { name?: string } }>(base, async (request) => {
    authorize(request, ctx, 'identity:list_endpoint_groups');
    const rows = await groups.listEndpointGroups(ctx, { name: request.query.name });
    return { endpoint_groups: rows.map((g) => endpointGroupView(request, g)), links: collectionLinks(request) };
  });

  app.post<{ Body: EndpointGroupCreateRequest }>(base, async (request, reply) => {
    authorize(request, ctx, 'identity:create_endpoint_group');
    ctx.validate('EndpointGroupCreateRequest', request.body);
    const row = await groups.createEndpointGroup(ctx, request.body.endpoint_group);
    return reply.code(201).send({ endpoint_group: endpointGroupView(request, row) });
  });

  app.get<{ Params: GroupParams }>(`${base}/:endpoint_group_id`, async (request) => {
    authorize(request, ctx, 'identity:get_endpoint_group', { ...request.params });
    return { endpoint_group: endpointGroupView(request, await groups.getEndpointGroup(ctx, request.params.endpoint_group_id)) };
  });

  app.patch<{ Params: GroupParams; Body: EndpointGroupUpdateRequest }>(`${base}/:endpoint_group_id`, async (request) => {
    authorize(request, ctx, 'identity:update_endpoint_group', { ...request.params });
    ctx.validate('EndpointGroupUpdateRequest', request.body);
    const row = await groups.updateEndpointGroup(ctx, request.params.endpoint_group_id, request.body.endpoint_group);
    return { endpoint_group: endpointGroupView(request, row) };
  });

  app.delete<{ Params: GroupParams }>(`${base}/:endpoint_group_id`, async (request, reply) => {
    authorize(request, ctx, 'identity:delete_endpoint_group', { ...request.params });
    await groups.deleteEndpointGroup(ctx, request.params.endpoint_group_id);
    return reply.code(204).send();
  });

  app.get<{ Params: GroupParams }>(`${base}/:endpoint_group_id/endpoints`, async (request) => {
    authorize(request, ctx, 'identity:list_endpoints_associated_with_endpoint_group', { ...request.params });
    const rows = await groups.listEndpointsOfGroup(ctx, request.params.endpoint_group_id);
    return { endpoints: rows.map((e) => endpointView(request, e)), links: collectionLinks(request) };
  });

  registerProjectAssociationRoutes(app, ctx);
}
