import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { badRequest } from '../../../lib/errors.ts';
import { authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as endpoints from './endpoints.ts';
import { endpointView } from './view.ts';

type EndpointCreateRequest = components['schemas']['EndpointCreateRequest'];
type EndpointUpdateRequest = components['schemas']['EndpointUpdateRequest'];
type EndpointParams = { endpoint_id: string };
type EndpointQuery = { service_id?: string; interface?: string; region_id?: string };

const interfaces = new Set(['public', 'internal', 'admin']);

/** /v3/endpoints: Keystone checks these rules before looking the endpoint up. */
export function registerEndpointRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: EndpointQuery }>('/v3/endpoints', async (request) => {
    const { service_id, interface: iface, region_id } = request.query;
    if (iface !== undefined && !interfaces.has(iface)) {
      throw badRequest(`Invalid input for field 'interface': '${iface}' is not one of ['admin', 'internal', 'public']`);
    }
    authorize(request, ctx, 'identity:list_endpoints');
    const rows = await endpoints.listEndpoints(ctx, { serviceId: service_id, interface: iface, regionId: region_id });
    return { endpoints: rows.map((e) => endpointView(request, e)), links: collectionLinks(request) };
  });

  app.post<{ Body: EndpointCreateRequest }>('/v3/endpoints', async (request, reply) => {
    ctx.validate('EndpointCreateRequest', request.body);
    authorize(request, ctx, 'identity:create_endpoint');
    const row = await endpoints.createEndpoint(ctx, request.body.endpoint);
    return reply.code(201).send({ endpoint: endpointView(request, row) });
  });

  app.get<{ Params: EndpointParams }>('/v3/endpoints/:endpoint_id', async (request) => {
    authorize(request, ctx, 'identity:get_endpoint', { ...request.params });
    return { endpoint: endpointView(request, await endpoints.getEndpoint(ctx, request.params.endpoint_id)) };
  });

  app.patch<{ Params: EndpointParams; Body: EndpointUpdateRequest }>('/v3/endpoints/:endpoint_id', async (request) => {
    ctx.validate('EndpointUpdateRequest', request.body);
    authorize(request, ctx, 'identity:update_endpoint', { ...request.params });
    const endpoint = await endpoints.getEndpoint(ctx, request.params.endpoint_id);
    const row = await endpoints.updateEndpoint(ctx, endpoint, request.body.endpoint);
    return { endpoint: endpointView(request, row) };
  });

  app.delete<{ Params: EndpointParams }>('/v3/endpoints/:endpoint_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_endpoint', { ...request.params });
    await endpoints.deleteEndpoint(ctx, request.params.endpoint_id);
    return reply.code(204).send();
  });
}
