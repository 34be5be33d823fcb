import type { FastifyInstance } from 'fastify';
import { notFound } from '../../../lib/errors.ts';
import { authorizeCompute, callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { findServer } from '../servers/access.ts';
import { addressesOf } from '../servers/addresses.ts';

type ServerParams = { server_id: string };

/** /servers/{id}/ips[/{network_label}]: a server's addresses, all or on one network (Nova's IPsController). */
export function registerServerIpRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get<{ Params: ServerParams }>('/servers/:server_id/ips', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:ips:index', { project_id: row.project_id });
    return { addresses: addressesOf(row) };
  });

  app.get<{ Params: ServerParams & { network_label: string } }>('/servers/:server_id/ips/:network_label', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:ips:show', { project_id: row.project_id });
    const label = request.params.network_label;
    const addresses = addressesOf(row);
    if (!Object.hasOwn(addresses, label)) throw notFound('Instance is not a member of specified network');
    return { [label]: addresses[label] };
  });
}
