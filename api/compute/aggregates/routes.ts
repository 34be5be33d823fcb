import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { badRequest } from '../../../lib/errors.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import * as aggregates from './service.ts';
import { aggregateView } from './view.ts';

type IdParams = { id: string };
type CreateBody = components['schemas']['AggregateCreateRequest'];
type UpdateBody = components['schemas']['AggregateUpdateRequest'];
type AddHostBody = components['schemas']['AggregateAddHostRequest'];
type RemoveHostBody = components['schemas']['AggregateRemoveHostRequest'];
type SetMetadataBody = components['schemas']['AggregateSetMetadataRequest'];

/** The action a body names, with the schema that body must meet. */
const ACTIONS = {
  add_host: 'AggregateAddHostRequest',
  remove_host: 'AggregateRemoveHostRequest',
  set_metadata: 'AggregateSetMetadataRequest',
} as const;

/** os-aggregates: host aggregates and their availability zones (admins). */
export function registerAggregateRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-aggregates', async (request) => {
    const rows = await aggregates.listAggregates(ctx, callerOf(request, ctx));
    return { aggregates: rows.map((a) => aggregateView(request, a)) };
  });

  app.post('/os-aggregates', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('AggregateCreateRequest', request.body);
    const { aggregate: a } = request.body as CreateBody;
    const created = await aggregates.createAggregate(ctx, caller, { name: a.name, availabilityZone: a.availability_zone });
    return { aggregate: aggregateView(request, created, true) };
  });

  app.get<{ Params: IdParams }>('/os-aggregates/:id', async (request) => {
    const aggregate = await aggregates.showAggregate(ctx, callerOf(request, ctx), request.params.id);
    return { aggregate: aggregateView(request, aggregate) };
  });

  app.put<{ Params: IdParams }>('/os-aggregates/:id', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('AggregateUpdateRequest', request.body);
    const { aggregate: a } = request.body as UpdateBody;
    const updated = await aggregates.updateAggregate(ctx, caller, request.params.id, { name: a.name, availabilityZone: a.availability_zone });
    return { aggregate: aggregateView(request, updated) };
  });

  app.delete<{ Params: IdParams }>('/os-aggregates/:id', async (request, reply) => {
    await aggregates.deleteAggregate(ctx, callerOf(request, ctx), request.params.id);
    return reply.code(200).send();
  });

  app.post<{ Params: IdParams }>('/os-aggregates/:id/action', async (request) => {
    const caller = callerOf(request, ctx);
    const body = request.body;
    const action = body && typeof body === 'object' ? Object.keys(body).find((k): k is keyof typeof ACTIONS => k in ACTIONS) : undefined;
    if (!action) throw badRequest('There is no such action: ' + (body && typeof body === 'object' ? Object.keys(body).join(', ') : ''));
    ctx.validate(ACTIONS[action], body);
    const { id } = request.params;
    let result;
    if (action === 'add_host') result = await aggregates.addHost(ctx, caller, id, (body as AddHostBody).add_host.host);
    else if (action === 'remove_host') result = await aggregates.removeHost(ctx, caller, id, (body as RemoveHostBody).remove_host.host);
    else result = await aggregates.setMetadata(ctx, caller, id, (body as SetMetadataBody).set_metadata.metadata as Record<string, string | null>);
    return { aggregate: aggregateView(request, result) };
  });
}
