import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, parseBool, queryOf, rejectUnknownQuery } from '../query.ts';
import * as services from './service.ts';
import { isUuidLike } from './state.ts';
import { SERVICE_UUID_MICROVERSION, serviceView } from './view.ts';

type IdParams = { id: string };
type ActionBody = components['schemas']['ServiceActionRequestV211'];
type UpdateBody = components['schemas']['ServiceUpdateRequest'];

/** Before 2.53, PUT /os-services/{action} with the service named by host and binary in the body. */
async function serviceAction(ctx: ComputeContext, caller: ComputeCaller, request: FastifyRequest, action: string) {
  const v = request.microversion;
  ctx.validate(v.atLeast('2.11') ? 'ServiceActionRequestV211' : 'ServiceActionRequest', request.body);
  const body = request.body as ActionBody;
  const { host, binary } = body;
  switch (action) {
    case 'enable':
      await services.updateByHost(ctx, caller, host, binary, { disabled: false, disabled_reason: null });
      return { service: { host, binary, status: 'enabled' } };
    case 'disable':
      await services.updateByHost(ctx, caller, host, binary, { disabled: true, disabled_reason: null });
      return { service: { host, binary, status: 'disabled' } };
    case 'disable-log-reason': {
      if (body.disabled_reason === undefined) throw badRequest('Missing disabled reason field');
      const reason = body.disabled_reason;
      await services.updateByHost(ctx, caller, host, binary, { disabled: true, disabled_reason: reason });
      return { service: { host, binary, status: 'disabled', disabled_reason: reason } };
    }
    case 'force-down': {
      if (!v.atLeast('2.11')) break;
      if (body.forced_down === undefined) throw badRequest('Missing forced_down field');
      const forcedDown = parseBool(body.forced_down) === true;
      await services.updateByHost(ctx, caller, host, binary, { forced_down: forcedDown });
      return { service: { host, binary, forced_down: forcedDown } };
    }
  }
  throw notFound('Unknown action');
}

/** os-services: the compute (and other) services, enabling, disabling and forcing them down, and deleting them (admin). */
export function registerServiceRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-services', async (request) => {
    const caller = callerOf(request, ctx);
    rejectUnknownQuery(request, ['host', 'binary']);
    const q = queryOf(request);
    const rows = await services.listServices(ctx, caller, { host: lastValue(q, 'host'), binary: lastValue(q, 'binary') });
    return { services: rows.map((row) => serviceView(request, row, ctx.config)) };
  });

  app.put<{ Params: IdParams }>('/os-services/:id', async (request) => {
    const caller = callerOf(request, ctx);
    const { id } = request.params;
    if (!request.microversion.atLeast(SERVICE_UUID_MICROVERSION)) return serviceAction(ctx, caller, request, id);
    if (!isUuidLike(id)) throw badRequest(`Invalid uuid ${id}`);
    ctx.validate('ServiceUpdateRequest', request.body);
    const body = request.body as UpdateBody;
    const row = await services.updateService(ctx, caller, id, {
      status: body.status,
      disabled_reason: body.disabled_reason,
      forced_down: body.forced_down === undefined ? undefined : parseBool(body.forced_down),
    });
    return { service: serviceView(request, row, ctx.config, true) };
  });

  app.delete<{ Params: IdParams }>('/os-services/:id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await services.deleteService(ctx, caller, request.params.id, request.microversion.atLeast(SERVICE_UUID_MICROVERSION));
    return reply.code(204).send();
  });
}
