import type { FastifyInstance } from 'fastify';
import { authorizeCompute, callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { findServer } from '../servers/access.ts';
import * as store from '../servers/store.ts';

type ServerParams = { server_id: string };

/** Where Nova keeps a server's encrypted password: system_metadata password_0 … password_3 (255 characters each). */
const PASSWORD_KEYS = ['password_0', 'password_1', 'password_2', 'password_3'];

/**
 * /servers/{id}/os-server-password: the password a guest posted (encrypted
 * with its key pair) through the metadata service, '' when none; DELETE
 * clears it (Nova's ServerPasswordController).
 */
export function registerServerPasswordRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get<{ Params: ServerParams }>('/servers/:server_id/os-server-password', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:os-server-password:show', { project_id: row.project_id });
    return { password: PASSWORD_KEYS.map((k) => String(row.system_metadata?.[k] ?? '')).join('') };
  });

  app.delete<{ Params: ServerParams }>('/servers/:server_id/os-server-password', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:os-server-password:clear', { project_id: row.project_id });
    const system = Object.fromEntries(Object.entries(row.system_metadata ?? {}).filter(([k]) => !PASSWORD_KEYS.includes(k)));
    await store.updateInstance(ctx.db, row.uuid, { system_metadata: system });
    return reply.code(204).send();
  });
}
