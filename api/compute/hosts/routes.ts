import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, queryOf } from '../query.ts';
import { versionNotFound } from '../services/state.ts';
import * as hosts from './service.ts';

type HostParams = { host_name: string };

/** os-hosts was removed in 2.43 (os-services and os-hypervisors replace it). */
const REMOVED_MICROVERSION = '2.43';

/** os-hosts (deprecated, admins): the hosts of the services, a compute host's resources, and the host actions no driver has. */
export function registerHostRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const guard = (request: FastifyRequest) => {
    if (request.microversion.atLeast(REMOVED_MICROVERSION)) throw versionNotFound();
    return callerOf(request, ctx);
  };

  app.get('/os-hosts', async (request) => {
    const caller = guard(request);
    return { hosts: await hosts.listHosts(ctx, caller, lastValue(queryOf(request), 'zone') || undefined) };
  });

  app.get<{ Params: HostParams }>('/os-hosts/:host_name', async (request) => {
    const caller = guard(request);
    const resources = await hosts.showHost(ctx, caller, request.params.host_name);
    return { host: resources.map((resource) => ({ resource })) };
  });

  app.put<{ Params: HostParams }>('/os-hosts/:host_name', async (request) => {
    const caller = guard(request);
    ctx.validate('HostUpdateRequest', request.body);
    return hosts.updateHost(ctx, caller, request.params.host_name, request.body as { status?: string; maintenance_mode?: string });
  });

  for (const action of ['startup', 'shutdown', 'reboot'] as const) {
    app.get<{ Params: HostParams }>(`/os-hosts/:host_name/${action}`, async (request) => hosts.hostPowerAction(ctx, guard(request), request.params.host_name, action));
  }
}
