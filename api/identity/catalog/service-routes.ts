import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import { collectionLinks } from '../roles/view.ts';
import type { IdentityContext } from '../context.ts';
import * as services from './services.ts';
import { serviceView } from './view.ts';

type ServiceCreateRequest = components['schemas']['ServiceCreateRequest'];
type ServiceUpdateRequest = components['schemas']['ServiceUpdateRequest'];
type ServiceParams = { service_id: string };

/** /v3/services: Keystone checks these rules before looking the service up. */
export function registerServiceRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  app.get<{ Querystring: { type?: string; name?: string } }>('/v3/services', async (request) => {
    const { type, name } = request.query;
    authorize(request, ctx, 'identity:list_services');
    const rows = await services.listServices(ctx, { type, name });
    return { services: rows.map((s) => serviceView(request, s)), links: collectionLinks(request) };
  });

  app.post<{ Body: ServiceCreateRequest }>('/v3/services', async (request, reply) => {
    ctx.validate('ServiceCreateRequest', request.body);
    authorize(request, ctx, 'identity:create_service');
    const row = await services.createService(ctx, request.body.service);
    return reply.code(201).send({ service: serviceView(request, row) });
  });

  app.get<{ Params: ServiceParams }>('/v3/services/:service_id', async (request) => {
    authorize(request, ctx, 'identity:get_service', { ...request.params });
    return { service: serviceView(request, await services.getService(ctx, request.params.service_id)) };
  });

  app.patch<{ Params: ServiceParams; Body: ServiceUpdateRequest }>('/v3/services/:service_id', async (request) => {
    ctx.validate('ServiceUpdateRequest', request.body);
    authorize(request, ctx, 'identity:update_service', { ...request.params });
    const service = await services.getService(ctx, request.params.service_id);
    const row = await services.updateService(ctx, service, request.body.service);
    return { service: serviceView(request, row) };
  });

  app.delete<{ Params: ServiceParams }>('/v3/services/:service_id', async (request, reply) => {
    authorize(request, ctx, 'identity:delete_service', { ...request.params });
    await services.deleteService(ctx, request.params.service_id);
    return reply.code(204).send();
  });
}
