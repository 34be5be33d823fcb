import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorizeCompute, callerOf, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { collectionLinks } from '../query.ts';
import { findServer, viewOptionsOf, type ViewFlags } from './access.ts';
import { createServers, type ServerCreateBody } from './create.ts';
import { listServers } from './list.ts';
import { deleteServer, updateServer, type ServerUpdateInput } from './service.ts';
import type { InstanceRow } from './store.ts';
import { createdServerView, serverBriefView, serverView } from './view.ts';

type IdParams = { server_id: string };

/** The schema of a body that changes at microversions: the last of `versions` (first microversion, schema) the request is at. */
export function schemaFor(request: FastifyRequest, versions: readonly (readonly [string, string])[]): string {
  let name = versions[0][1];
  for (const [from, schema] of versions) if (request.microversion.atLeast(from)) name = schema;
  return name;
}

/** nova/api/openstack/compute/schemas/servers.py create, create_v219 … create_v290. */
const CREATE_SCHEMAS = [
  ['2.1', 'ServerCreateRequest'],
  ['2.19', 'ServerCreateRequestV219'],
  ['2.32', 'ServerCreateRequestV232'],
  ['2.33', 'ServerCreateRequestV233'],
  ['2.37', 'ServerCreateRequestV237'],
  ['2.42', 'ServerCreateRequestV242'],
  ['2.52', 'ServerCreateRequestV252'],
  ['2.57', 'ServerCreateRequestV257'],
  ['2.63', 'ServerCreateRequestV263'],
  ['2.67', 'ServerCreateRequestV267'],
  ['2.74', 'ServerCreateRequestV274'],
  ['2.90', 'ServerCreateRequestV290'],
] as const;
const UPDATE_SCHEMAS = [
  ['2.1', 'ServerUpdateRequest'],
  ['2.19', 'ServerUpdateRequestV219'],
  ['2.90', 'ServerUpdateRequestV290'],
] as const;

/** Server bodies of `rows` for the caller (Nova's view builder show). */
export async function serverViews(ctx: ComputeContext, caller: ComputeCaller, request: FastifyRequest, rows: InstanceRow[], flags: ViewFlags = {}) {
  const options = await viewOptionsOf(ctx, caller, request, rows, flags);
  return rows.map((row, i) => serverView(request, row, options[i]));
}

/** PUT and rebuild answer the basic attributes before 2.75, all of them from then on. */
export const changeAnswerFlags = (request: FastifyRequest): ViewFlags => ({ basicOnly: !request.microversion.atLeast('2.75'), withGroups: true });

/** POST/GET /servers, /servers/detail, GET/PUT/DELETE /servers/{id}. */
export function registerServerRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const max = () => ctx.config['compute.max_limit'];

  app.get('/servers', async (request) => {
    const caller = callerOf(request, ctx);
    const { rows } = await listServers(ctx, caller, request, false);
    const body: Record<string, unknown> = { servers: rows.map((r) => serverBriefView(request, r)) };
    const links = collectionLinks(request, 'servers', rows.length, rows.at(-1)?.uuid, max());
    if (links.length) body.servers_links = links;
    return body;
  });

  app.get('/servers/detail', async (request) => {
    const caller = callerOf(request, ctx);
    const { rows } = await listServers(ctx, caller, request, true);
    const body: Record<string, unknown> = { servers: await serverViews(ctx, caller, request, rows) };
    const links = collectionLinks(request, 'servers/detail', rows.length, rows.at(-1)?.uuid, max());
    if (links.length) body.servers_links = links;
    return body;
  });

  app.post('/servers', async (request, reply) => {
    const caller = callerOf(request, ctx);
    ctx.validate(schemaFor(request, CREATE_SCHEMAS), request.body);
    const created = await createServers(ctx, caller, request.microversion, request.id, request.body as ServerCreateBody);
    if (created.returnReservationId) return reply.code(202).send({ reservation_id: created.reservationId });
    const body = createdServerView(request, created.rows[0], created.securityGroups, created.adminPass);
    reply.header('location', body.server.links[0].href);
    return reply.code(202).send(body);
  });

  app.get<{ Params: IdParams }>('/servers/:server_id', async (request) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:servers:show', { project_id: row.project_id });
    const [server] = await serverViews(ctx, caller, request, [row], { withGroups: true });
    return { server };
  });

  app.put<{ Params: IdParams }>('/servers/:server_id', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate(schemaFor(request, UPDATE_SCHEMAS), request.body);
    const row = await findServer(ctx, caller, request.params.server_id);
    const updated = await updateServer(ctx, caller, row, (request.body as { server: ServerUpdateInput }).server);
    const [server] = await serverViews(ctx, caller, request, [updated], changeAnswerFlags(request));
    return { server };
  });

  app.delete<{ Params: IdParams }>('/servers/:server_id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    await deleteServer(ctx, caller, row, 'os_compute_api:servers:delete', request.id);
    return reply.code(204).send();
  });
}
